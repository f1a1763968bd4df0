"""Connections of crm-admin, and the one-line errors it reports instead of tracebacks."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import asyncpg
from aio_pika.abc import AbstractConnection

from services.common.broker import BROKER_ERRORS, open_connection
from services.common.db import create_pool

from .config import AdminConfig, shown

EXIT_OK = 0
EXIT_PROBLEM = 1  # the command ran and found or met a problem (broken chain, unknown user...)
EXIT_UNREACHABLE = 2  # it could not run: bad usage, a database or the broker unreachable
CONNECT_SECONDS = 10.0
DB_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)


class CommandError(Exception):
    """A failure told to the operator in one line, ending the command with ``code``."""

    def __init__(self, message: str, code: int = EXIT_PROBLEM) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


@contextlib.asynccontextmanager
async def database(config: AdminConfig, service: str) -> AsyncIterator[asyncpg.Pool]:
    """A small pool on ``service``'s database (JSON codecs as the services have them)."""
    url = config.database_urls[service]
    try:
        pool = await asyncio.wait_for(create_pool(url, 1, 2), CONNECT_SECONDS)
    except DB_ERRORS as exc:
        raise CommandError(
            f"Base de données de « {service} » injoignable ({shown(url)}) : {describe(exc)}",
            EXIT_UNREACHABLE,
        ) from exc
    try:
        yield pool
    finally:
        with contextlib.suppress(*DB_ERRORS):
            await asyncio.wait_for(pool.close(), CONNECT_SECONDS)


@contextlib.asynccontextmanager
async def broker(url: str) -> AsyncIterator[AbstractConnection]:
    try:
        connection = await open_connection(url, CONNECT_SECONDS)
    except BROKER_ERRORS as exc:
        raise CommandError(
            f"Courtier RabbitMQ injoignable ({shown(url)}) : {describe(exc)}", EXIT_UNREACHABLE
        ) from exc
    try:
        yield connection
    finally:
        with contextlib.suppress(Exception):
            await connection.close()

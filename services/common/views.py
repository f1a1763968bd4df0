"""The services' part of the gateway's 360° view: sections read on one connection, with the
number of SQL statements it took reported in ``X-SQL-Statements`` (it must not grow with the
data)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
from aiohttp import web

from .errors import FieldError, ValidationFailed
from .records import parse_record_id
from .runtime import POOL_KEY
from .web import json_response

STATEMENTS_HEADER = "X-SQL-Statements"
DEFAULT_PER_TAB, MAX_PER_TAB = 20, 100
Sections = Callable[[asyncpg.Connection, Any, int], Awaitable[dict[str, Any]]]


def per_tab(request: web.Request) -> int:
    raw = request.query.get("per_tab", str(DEFAULT_PER_TAB))
    try:
        value = int(raw)
        if not 1 <= value <= MAX_PER_TAB:
            raise ValueError
    except ValueError as exc:
        raise ValidationFailed(
            [FieldError("per_tab", f"Doit être un entier entre 1 et {MAX_PER_TAB}.")]
        ) from exc
    return value


@contextlib.asynccontextmanager
async def counted(pool: asyncpg.Pool) -> AsyncIterator[tuple[asyncpg.Connection, list[int]]]:
    """A connection whose statements are counted while it is held."""
    count = [0]

    def tally(_query: Any) -> None:
        count[0] += 1

    async with pool.acquire() as conn:
        conn.add_query_logger(tally)
        try:
            yield conn, count
        finally:
            conn.remove_query_logger(tally)


def account_view_handler(sections: Sections) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        account_id = parse_record_id(request.match_info["id"], "fiche compte")
        async with counted(request.app[POOL_KEY]) as (conn, count):
            body = await sections(conn, account_id, per_tab(request))
        for name, section in body.items():
            if name != "account":
                section["href"] = f"/api/v1/{name}?account_id={account_id}"
        return json_response(body, headers={STATEMENTS_HEADER: str(count[0])})

    return handler

"""Process-wide logging and the entry point shared by every ``python -m services.<name>``."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable

import uvloop
from aiohttp import web

from .settings import ServiceSettings


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # aio-pika and aiormq are chatty about reconnects that our own loops already report.
    logging.getLogger("aiormq").setLevel(logging.WARNING)
    logging.getLogger("aio_pika").setLevel(logging.WARNING)


def serve(
    settings: ServiceSettings, create_app: Callable[[ServiceSettings], web.Application]
) -> None:
    configure_logging(settings.log_level)
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    web.run_app(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        access_log=None,
        print=lambda text: logging.getLogger(settings.service).info(text.strip()),
    )

"""Process-wide logging and the entry point shared by every ``python -m services.<name>``."""

from __future__ import annotations

import asyncio
import logging
import signal
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
    loop = asyncio.new_event_loop()
    stop_on_signals(loop, logging.getLogger(settings.service))
    web.run_app(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        access_log=None,
        print=lambda text: logging.getLogger(settings.service).info(text.strip()),
        loop=loop,
        handle_signals=False,
    )


def stop_on_signals(loop: asyncio.AbstractEventLoop, log: logging.Logger) -> None:
    """SIGINT and SIGTERM stop the service cleanly; one more while it stops is ignored, and the
    one after that has its default effect (to force the stop).

    aiohttp's own handlers raise GracefulExit on every signal, and one raised during the cleanup
    makes run_app cancel every task at once, the broker connections' own included: the cleanup
    is cut short, and aio-pika's tasks end with tracebacks. Ctrl-C in `make run` reaches every
    service, which deploy/run.py then sends SIGTERM: two signals each."""
    signals = (signal.SIGINT, signal.SIGTERM)
    received: list[str] = []

    def on_signal(name: str) -> None:
        received.append(name)
        if len(received) == 1:
            raise web.GracefulExit()
        log.info("%s while stopping: ignored (another signal forces the stop)", name)
        for sig in signals:
            loop.remove_signal_handler(sig)

    for sig in signals:
        loop.add_signal_handler(sig, on_signal, sig.name)

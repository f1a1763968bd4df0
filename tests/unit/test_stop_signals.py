"""How a service process takes SIGINT and SIGTERM (services/common/logs.py): the first stops it
cleanly; one more while it stops (Ctrl-C reaches every process of `make run`, which then sends
SIGTERM) does not cut the cleanup short; the one after that has its default effect."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Iterator

import pytest
from aiohttp import web

from services.common.logs import stop_on_signals
from tests.support import eventually


@pytest.fixture
def own_loop() -> Iterator[asyncio.AbstractEventLoop]:
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    loop = asyncio.new_event_loop()
    try:
        yield loop
    finally:
        loop.close()
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def test_a_second_signal_while_stopping_is_ignored_and_a_third_one_forces(
    own_loop: asyncio.AbstractEventLoop, caplog: pytest.LogCaptureFixture
) -> None:
    stop_on_signals(own_loop, logging.getLogger("svc"))

    async def until_cancelled() -> None:
        await asyncio.Event().wait()

    main = own_loop.create_task(until_cancelled())
    os.kill(os.getpid(), signal.SIGINT)
    with pytest.raises(web.GracefulExit):  # the first: run_app starts its cleanup
        own_loop.run_until_complete(main)

    async def cleanup() -> str:
        os.kill(os.getpid(), signal.SIGTERM)  # arrives while the cleanup runs...
        await eventually(lambda: _value("ignored" in caplog.text), within=5, every=0.01)
        return "cleaned up"  # ...which goes on to its end

    with caplog.at_level(logging.INFO, logger="svc"):
        assert own_loop.run_until_complete(cleanup()) == "cleaned up"
    assert "SIGTERM while stopping: ignored" in caplog.text
    main.cancel()
    own_loop.run_until_complete(asyncio.gather(main, return_exceptions=True))
    # The next one has its default effect: Python's own handlers are back.
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


async def _value(value: object) -> object:
    return value

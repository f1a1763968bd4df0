"""How a service process takes SIGINT and SIGTERM (services/common/logs.py): the first stops it
cleanly; one more while it stops (Ctrl-C reaches every process of `make run`, which then sends
SIGTERM) does not cut the cleanup short; the one after that has its default effect.

The scenario runs in a fresh interpreter: signals are process-wide, and inside the test session
(other event loops, their wakeup fds and worker threads) a signal sent to oneself was once never
seen and the test hung the whole run."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCENARIO = textwrap.dedent(
    """
    import asyncio, logging, os, signal, sys
    from aiohttp import web
    from services.common.logs import stop_on_signals

    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")
    loop = asyncio.SelectorEventLoop() if sys.argv[1] == "asyncio" else __import__("uvloop").new_event_loop()
    stop_on_signals(loop, logging.getLogger("svc"))

    async def until_cancelled():
        await asyncio.Event().wait()

    main = loop.create_task(until_cancelled())
    loop.call_later(0.05, os.kill, os.getpid(), signal.SIGINT)  # while the loop runs
    try:
        loop.run_until_complete(main)
    except web.GracefulExit:  # the first: run_app starts its cleanup
        print("stopping")

    async def cleanup():
        os.kill(os.getpid(), signal.SIGTERM)  # arrives while the cleanup runs...
        for _ in range(100):
            await asyncio.sleep(0.01)
        return "cleaned up"  # ...which goes on to its end

    print(loop.run_until_complete(cleanup()))
    main.cancel()
    loop.run_until_complete(asyncio.gather(main, return_exceptions=True))
    print("int default:", signal.getsignal(signal.SIGINT) is signal.default_int_handler)
    print("term default:", signal.getsignal(signal.SIGTERM) == signal.SIG_DFL)
    """
)


def _run(loop_kind: str) -> str:
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", SCENARIO, loop_kind],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_a_second_signal_while_stopping_is_ignored_and_a_third_one_forces() -> None:
    for loop_kind in ("asyncio", "uvloop"):  # the services run on uvloop
        out = _run(loop_kind)
        assert out.index("stopping") < out.index("SIGTERM while stopping: ignored")
        assert out.index("SIGTERM while stopping: ignored") < out.index("cleaned up")
        # The next one has its default effect: Python's own handlers are back.
        assert "int default: True" in out
        assert "term default: True" in out

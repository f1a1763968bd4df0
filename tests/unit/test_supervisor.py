"""The supervisor of background tasks: restarts, backoff (its delays, not wall time), readiness,
metrics, cancellation."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import asyncpg
import pytest
from prometheus_client import CollectorRegistry

from services.common.dberrors import is_transient
from services.common.supervisor import Backoff, SupervisedTask, Supervisor
from tests.support import eventually


async def _value(value: bool) -> bool:
    return value


class Script:
    """A target that plays one step per run: "fail" (raise), "up" (report healthy, then fail),
    "return" (return), "wait" (report healthy and wait until cancelled)."""

    def __init__(self, steps: list[str]) -> None:
        self.steps = steps
        self.runs = 0

    async def __call__(self, task: SupervisedTask) -> None:
        step = self.steps[min(self.runs, len(self.steps) - 1)]
        self.runs += 1
        if step == "up":
            task.mark_up()
            raise RuntimeError("broke after working")
        if step == "return":
            return
        if step == "wait":
            task.mark_up()
            await asyncio.Future()
        raise ConnectionError("refused")


def supervised(
    script: Script,
    delays: list[float],
    clock: Callable[[], float] = lambda: 0.0,
    backoff: Backoff | None = None,
    draw: float = 1.0,
    settle: float = 0.0,
) -> SupervisedTask:
    async def sleep(delay: float) -> None:
        delays.append(delay)
        await asyncio.sleep(0)

    return SupervisedTask(
        "test-task",
        "tâche de test",
        script,
        backoff=backoff or Backoff(initial=1.0, maximum=8.0, factor=2.0, jitter=0.5),
        sleep=sleep,
        clock=clock,
        draw=lambda: draw,
        settle=settle,
    )


async def run_until(task: SupervisedTask, done: Callable[[], bool]) -> None:
    running = task.start()
    for _ in range(10_000):
        if done():
            break
        await asyncio.sleep(0)
    await task.stop()
    assert running.done()


async def test_the_backoff_doubles_up_to_its_cap_and_resets_after_a_success() -> None:
    delays: list[float] = []
    script = Script(["fail"] * 5 + ["up"] + ["fail"] * 2 + ["wait"])
    task = supervised(script, delays)
    await run_until(task, lambda: task.up and script.runs == 9)
    # 1, 2, 4, 8, 8 (capped); the run that reported itself up failed: the next delay is 1 again.
    assert delays == [1.0, 2.0, 4.0, 8.0, 8.0, 1.0, 2.0, 4.0]
    assert task.restarts == 8
    assert task.stopped
    assert not task.up


async def test_a_task_up_for_less_than_its_settle_time_keeps_backing_off() -> None:
    """Connected, then failing at once (the broker answers, the database does not): no
    reconnection loop, the delays keep growing."""
    delays: list[float] = []
    script = Script(["up"] * 5 + ["wait"])
    task = supervised(script, delays, settle=1.0)  # the fake clock stands still: up for 0 s
    await run_until(task, lambda: task.up and script.runs == 6)
    assert delays == [1.0, 2.0, 4.0, 8.0, 8.0]


async def test_a_run_that_lasted_resets_the_backoff_even_without_reporting_itself_up() -> None:
    now = [0.0]

    def clock() -> float:
        now[0] += 20.0  # each run "lasts" 20 s (the clock is read at its start and its end)
        return now[0]

    delays: list[float] = []
    script = Script(["fail"] * 3 + ["wait"])
    task = supervised(script, delays, clock=clock)
    task._healthy_after = 15.0
    await run_until(task, lambda: task.up)
    assert delays == [1.0, 1.0, 1.0]


async def test_jitter_draws_each_delay_between_half_and_all_of_it() -> None:
    low: list[float] = []
    script = Script(["fail"] * 3 + ["wait"])
    task = supervised(script, low, draw=0.0)
    await run_until(task, lambda: task.up)
    assert low == [0.5, 1.0, 2.0]
    assert Backoff(initial=0.2, maximum=5.0).delay(100, 0.999) <= 5.0


async def test_a_task_that_returns_is_restarted_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    delays: list[float] = []
    script = Script(["return", "wait"])
    task = supervised(script, delays)
    with caplog.at_level(logging.WARNING, logger="services.common.supervisor"):
        await run_until(task, lambda: task.up)
    assert script.runs == 2
    assert task.restarts == 1
    assert any("returned unexpectedly" in r.getMessage() for r in caplog.records)


async def test_an_unexpected_exception_is_logged_with_its_traceback_and_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Surprise(RuntimeError):
        pass

    async def target(task: SupervisedTask) -> None:
        if not seen:
            seen.append(1)
            raise Surprise("channel is closed")
        task.mark_up()
        await asyncio.Future()

    seen: list[int] = []
    task = supervised(Script(["wait"]), [])
    task._target = target
    with caplog.at_level(logging.ERROR, logger="services.common.supervisor"):
        await run_until(task, lambda: task.up)
    (record,) = [r for r in caplog.records if r.exc_info]
    assert record.exc_info is not None
    assert record.exc_info[0] is Surprise
    assert "test-task failed (Surprise: channel is closed)" in record.getMessage()


async def test_readiness_and_metrics_follow_the_task() -> None:
    registry = CollectorRegistry()
    supervisor = Supervisor(registry, backoff=Backoff(initial=0.001, maximum=0.001))
    broken = asyncio.Event()
    broken.set()
    attempts: list[int] = []

    async def target(task: SupervisedTask) -> None:
        attempts.append(1)
        if broken.is_set():
            raise RuntimeError("injected")
        task.mark_up()
        await asyncio.Future()

    assert await supervisor.readiness() is None  # nothing supervised yet
    supervisor.start("relay", "relais d'événements", target)
    supervisor.start("feed", "flux", target, critical=False)
    await eventually(lambda: _value(len(attempts) >= 4))
    assert await supervisor.readiness() == "relais d'événements : en reprise après RuntimeError"
    assert supervisor.problems(critical=False) == ["flux : en reprise après RuntimeError"]
    assert registry.get_sample_value("crm_task_up", {"task": "relay"}) == 0
    restarts = registry.get_sample_value("crm_task_restarts_total", {"task": "relay"})
    assert restarts is not None
    assert restarts >= 1
    broken.clear()
    await eventually(lambda: _value(all(task.up for task in supervisor.tasks)))
    assert await supervisor.readiness() is None
    assert registry.get_sample_value("crm_task_up", {"task": "relay"}) == 1
    await supervisor.stop()
    assert await supervisor.readiness() == "relais d'événements : arrêté"
    assert registry.get_sample_value("crm_task_up", {"task": "relay"}) == 0


async def test_stopping_cancels_cleanly_and_runs_the_tasks_cleanup() -> None:
    cleaned: list[str] = []

    async def target(task: SupervisedTask) -> None:
        task.mark_up()
        try:
            await asyncio.Future()
        finally:
            cleaned.append(task.name)

    supervisor = Supervisor()
    for name in ("a", "b", "c"):
        supervisor.start(name, name, target)
    await asyncio.sleep(0)
    stopping = asyncio.create_task(supervisor.stop())
    await stopping
    assert cleaned == ["c", "b", "a"]  # the last started first
    assert all(task.stopped for task in supervisor.tasks)


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (asyncpg.InternalClientError("cannot switch state"), True),
        (asyncpg.ConnectionDoesNotExistError("connection was closed"), True),
        (asyncpg.InterfaceError("pool is closing"), True),
        (asyncpg.CannotConnectNowError("starting up"), True),
        (asyncpg.AdminShutdownError("terminating connection"), True),
        (asyncpg.TooManyConnectionsError("too many"), True),
        (asyncpg.SerializationError("could not serialize"), True),
        (asyncpg.DeadlockDetectedError("deadlock"), True),
        (ConnectionRefusedError(), True),
        (TimeoutError(), True),
        (asyncpg.UniqueViolationError("duplicate"), False),
        (asyncpg.PostgresSyntaxError("syntax"), False),
        (asyncpg.exceptions.ClientConfigurationError("bad dsn"), False),
        (asyncpg.exceptions.ProtocolViolationError("protocol"), False),
        (RuntimeError("a bug"), False),
    ],
)
def test_which_database_errors_are_transient(exc: BaseException, transient: bool) -> None:
    assert is_transient(exc) is transient

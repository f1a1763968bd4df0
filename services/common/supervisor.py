"""Supervision of the background tasks that live as long as a service (outbox relays and their
listener, event consumers, the gateway's view feed).

A supervised task never dies quietly: whatever it raises (not only the errors one expects, such
as a lost broker connection) is logged with its traceback, and the task is started again after
an exponential backoff with jitter. A task reports itself healthy (``mark_up``, e.g. once it is
connected and has done some work); the backoff starts afresh when it fails after staying up
``settle`` seconds (one that fails at once keeps backing off: no reconnection loop), or after a
run of ``healthy_after`` seconds. A task
that returns is restarted too: these tasks are meant to run until cancelled. Cancellation stops
a task cleanly. Each task's state is exported as metrics (up or down, restarts) and, for those
the service cannot work without, in ``/readyz`` (in French, naming the task and its last error).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


class Closable(Protocol):
    def close(self) -> Awaitable[Any]: ...


async def close_quietly(*resources: Closable | None) -> None:
    """Close ``resources`` in order (a consumer's channel before its connection), expecting a
    broken one to fail as it closes: shutting down or retrying is no time for a traceback."""
    for resource in resources:
        if resource is None:
            continue
        try:
            await resource.close()
        except Exception as exc:  # closing what may already be broken
            log.debug("closing %r: %s: %s", resource, type(exc).__name__, exc)


@dataclass(frozen=True)
class Backoff:
    """Delays of ``initial * factor**n`` capped at ``maximum``, each drawn in its upper half
    (``jitter`` 0.5: between half and all of it), so copies that failed together spread out."""

    initial: float = 0.2
    maximum: float = 5.0
    factor: float = 2.0
    jitter: float = 0.5

    def delay(self, attempt: int, draw: float) -> float:
        """The delay before retry number ``attempt`` (0 for the first); ``draw`` in [0, 1)."""
        base = min(self.maximum, self.initial * self.factor ** min(attempt, 64))
        return base * (1 - self.jitter + self.jitter * draw)


class SupervisedTask:
    """One background task, restarted whenever it fails or returns, until cancelled."""

    def __init__(
        self,
        name: str,
        label: str,
        target: Callable[[SupervisedTask], Awaitable[None]],
        *,
        critical: bool = True,
        backoff: Backoff | None = None,
        healthy_after: float = 30.0,
        settle: float = 1.0,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        draw: Callable[[], float] = random.random,
        on_change: Callable[[SupervisedTask, bool], None] | None = None,
    ) -> None:
        self.name = name  # for logs and metrics: "outbox-relay"
        self.label = label  # for people, in French: "relais d'événements"
        self.critical = critical  # the service is not ready while this task is down
        self._target = target
        self._backoff = backoff or Backoff()
        self._healthy_after = healthy_after
        self._settle = settle
        self._up_since: float | None = None
        self._sleep = sleep
        self._clock = clock
        self._draw = draw
        self._on_change = on_change
        self.up = False
        self.stopped = False
        self.last_error: str | None = None  # the exception type's name, or why it stopped
        self.restarts = 0
        self.attempt = 0  # failures since the last success: the backoff's exponent
        self._logged: type[BaseException] | None = None  # the failure last logged in full
        self._task: asyncio.Task[None] | None = None

    def mark_up(self) -> None:
        """Called by the task once it works (connected, listening); the backoff starts afresh
        if it then stays up ``settle`` seconds."""
        if self._up_since is None:
            self._up_since = self._clock()
        self.last_error = None
        self._set_up(True)

    def mark_down(self) -> None:
        """Called by the task when it no longer works but will notice and fail by itself."""
        self._set_up(False)

    def _set_up(self, up: bool) -> None:
        if up != self.up:
            self.up = up
            if self._on_change is not None:
                self._on_change(self, False)

    def problem(self) -> str | None:
        """What readiness says of this task, in French; None while it is up."""
        if self.up:
            return None
        if self.stopped:
            return f"{self.label} : arrêté"
        if self.last_error is not None:
            return f"{self.label} : en reprise après {self.last_error}"
        return f"{self.label} : démarrage en cours"

    def start(self) -> asyncio.Task[None]:
        self._task = asyncio.create_task(self.run(), name=self.name)
        return self._task

    async def stop(self) -> None:
        """Cancel the task and wait until it has cleaned up."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        # wait() rather than await: the task's own CancelledError is no reason to stop the
        # caller (which may be stopping several tasks, itself being cancelled).
        await asyncio.wait([task])
        if not task.cancelled() and (failure := task.exception()) is not None:
            log.error("%s failed as it stopped", self.name, exc_info=failure)

    async def run(self) -> None:
        """Run the target again and again until cancelled."""
        try:
            while True:
                started = self._clock()
                try:
                    await self._target(self)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    self.last_error = type(exc).__name__
                    outcome = f"failed ({type(exc).__name__}: {exc})"
                    failure: Exception | None = exc
                else:
                    self.last_error = "un arrêt inattendu"
                    outcome = "returned unexpectedly"
                    failure = None
                self._set_up(False)
                now, up_since, self._up_since = self._clock(), self._up_since, None
                if (up_since is not None and now - up_since >= self._settle) or (
                    now - started >= self._healthy_after
                ):
                    self.attempt = 0  # it worked for a while: a new failure starts afresh
                    self._logged = None
                delay = self._backoff.delay(self.attempt, self._draw())
                self.attempt += 1
                self.restarts += 1
                if self._on_change is not None:
                    self._on_change(self, True)
                self._log(outcome, failure, delay)
                await self._sleep(delay)
        finally:
            self.stopped = True
            self._set_up(False)

    def _log(self, outcome: str, failure: Exception | None, delay: float) -> None:
        """Each kind of failure with its traceback; the same one again, while it lasts (a broker
        down for a minute), in one line."""
        kind = type(failure) if failure is not None else None
        if kind is None or kind is not self._logged:
            self._logged = kind
            log.error(
                "%s %s; restarting in %.2fs (restart %d)",
                self.name,
                outcome,
                delay,
                self.restarts,
                exc_info=failure,
            )
        else:
            log.warning(
                "%s %s again; restarting in %.2fs (restart %d)",
                self.name,
                outcome,
                delay,
                self.restarts,
            )


class Supervisor:
    """The supervised tasks of one service: their metrics and their readiness check."""

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        backoff: Backoff | None = None,
        healthy_after: float = 30.0,
        settle: float = 1.0,
    ) -> None:
        self.tasks: list[SupervisedTask] = []
        self._backoff = backoff
        self._healthy_after = healthy_after
        self._settle = settle
        self._up: Gauge | None = None
        self._restarts: Counter | None = None
        if registry is not None:
            self._up = Gauge(
                "crm_task_up",
                "1 while a background task works (connected, listening), else 0",
                ["task"],
                registry=registry,
            )
            self._restarts = Counter(
                "crm_task_restarts",
                "Times a background task was restarted after failing or returning",
                ["task"],
                registry=registry,
            )

    def add(
        self,
        name: str,
        label: str,
        target: Callable[[SupervisedTask], Awaitable[None]],
        *,
        critical: bool = True,
    ) -> SupervisedTask:
        """A task supervised here, not started yet (``start()`` it, ``await stop()`` it)."""
        task = SupervisedTask(
            name,
            label,
            target,
            critical=critical,
            backoff=self._backoff,
            healthy_after=self._healthy_after,
            settle=self._settle,
            on_change=self._export,
        )
        self.tasks.append(task)
        self._export(task)
        return task

    def start(
        self,
        name: str,
        label: str,
        target: Callable[[SupervisedTask], Awaitable[None]],
        *,
        critical: bool = True,
    ) -> SupervisedTask:
        task = self.add(name, label, target, critical=critical)
        task.start()
        return task

    def _export(self, task: SupervisedTask, restarted: bool = False) -> None:
        if self._up is not None:
            self._up.labels(task.name).set(1 if task.up else 0)
        if self._restarts is not None:
            counter = self._restarts.labels(task.name)  # present (at 0) from the start
            if restarted:
                counter.inc()

    def problems(self, *, critical: bool = True) -> list[str]:
        """What is wrong with the (critical, or the other) tasks, in French."""
        return [
            problem
            for task in self.tasks
            if task.critical == critical and (problem := task.problem()) is not None
        ]

    async def readiness(self) -> str | None:
        """A readiness check: None while every critical task is up."""
        return "; ".join(self.problems()) or None

    async def stop(self) -> None:
        """Stop every task, the last started first."""
        for task in reversed(self.tasks):
            await task.stop()

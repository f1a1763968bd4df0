"""Pools of kept-alive worker processes, for work that must not run inside the service.

A worker is a child process spoken to on its stdin and stdout: each request is a list of
frames (4-byte big-endian length, then the bytes), each answer one status byte and one frame.
A worker writes ``!`` once it is ready. The pool bounds how many requests run at once (one per
worker), how long a request waits for a free worker (then 503 with Retry-After) and how long it
may run (then the worker is killed). A worker that dies, hangs or is killed is replaced in the
background, with a backoff, and the replacement is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from services.common.errors import ServiceUnavailable

log = logging.getLogger(__name__)
LENGTH = struct.Struct(">I")
READY = b"!"


class WorkerLost(Exception):
    """The worker died (or was killed) during a request; ``returncode`` says how."""

    def __init__(self, returncode: int | None) -> None:
        super().__init__(f"worker exited with {returncode}")
        self.returncode = returncode


class WorkerTimedOut(Exception):
    """The request took longer than its limit; the worker was killed."""


@dataclass(eq=False)
class Worker:
    process: asyncio.subprocess.Process
    served: int = 0

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    def kill(self) -> None:
        """Kill the worker and everything it started (it leads its own process group)."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)


@dataclass
class PoolStats:
    served: int = 0
    failed: int = 0
    replaced: int = 0
    rejected: int = 0
    last_failure: str = ""
    outcomes: dict[str, int] = field(default_factory=dict)


class WorkerPool:
    """``size`` workers started by ``command()``; see the module's docstring."""

    def __init__(
        self,
        name: str,
        command: Callable[[int], Sequence[str]],
        *,
        size: int,
        queue_seconds: float,
        busy_message: str,
        env: dict[str, str] | None = None,
        start_seconds: float = 60.0,
    ) -> None:
        self.name = name
        self.size = size
        self.stats = PoolStats()
        self._command = command
        self._env = env
        self._queue_seconds = queue_seconds
        self._busy_message = busy_message
        self._start_seconds = start_seconds
        self._idle: asyncio.Queue[Worker] = asyncio.Queue()
        self._workers: set[Worker] = set()
        self._replacing: set[asyncio.Task[None]] = set()
        self._started = 0
        self._in_use = 0
        self._closed = False
        self._supervisor: asyncio.Task[None] | None = None

    @property
    def alive(self) -> int:
        return sum(1 for worker in self._workers if worker.alive)

    @property
    def busy(self) -> int:
        return self._in_use

    async def start(self) -> None:
        """Start every worker; one that cannot start is retried in the background (with a
        backoff) while ``alive`` says how many run (readiness shows it)."""
        results = await asyncio.gather(
            *(self._spawn() for _ in range(self.size)), return_exceptions=True
        )
        for result in results:
            if isinstance(result, Worker):
                self._idle.put_nowait(result)
            else:
                log.error("%s: a worker did not start: %r", self.name, result)
                self._replace_later()
        self._supervisor = asyncio.create_task(self._supervise(), name=f"{self.name}-supervisor")

    async def close(self) -> None:
        self._closed = True
        tasks = [*self._replacing, *([self._supervisor] if self._supervisor else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for worker in list(self._workers):
            await self._stop(worker)

    async def call(
        self, frames: Sequence[bytes], limit_seconds: float
    ) -> tuple[bytes, bytes, Worker]:
        """(status, payload, worker) of one request; raises WorkerTimedOut or WorkerLost (the
        worker is then replaced), or ServiceUnavailable when no worker frees up in time."""
        try:
            worker = await asyncio.wait_for(self._idle_worker(), self._queue_seconds)
        except TimeoutError:
            self.stats.rejected += 1
            raise ServiceUnavailable(self._busy_message, retry_after=5) from None
        keep = False
        self._in_use += 1
        try:
            status, payload = await asyncio.wait_for(self._exchange(worker, frames), limit_seconds)
            worker.served += 1
            self.stats.served += 1
            keep = True
            return status, payload, worker
        except TimeoutError:
            self._failed(f"délai de {limit_seconds:g} s dépassé")
            raise WorkerTimedOut from None
        except (asyncio.IncompleteReadError, ConnectionError, BrokenPipeError) as exc:
            with contextlib.suppress(TimeoutError):  # its own exit status says why, if it exits
                await asyncio.wait_for(worker.process.wait(), 2.0)
            worker.kill()
            returncode = await worker.process.wait()
            self._failed(f"processus arrêté ({returncode})")
            raise WorkerLost(returncode) from exc
        finally:
            self._in_use -= 1
            if keep and worker.alive:
                self._idle.put_nowait(worker)
            else:  # also when cancelled mid-request: the worker's state is unknown
                await self.retire(worker)

    async def retire(self, worker: Worker) -> None:
        """Kill ``worker`` (it hit a limit or its state is unknown) and start a replacement."""
        if worker in self._workers:
            await self._stop(worker)
            self._replace_later()

    async def _supervise(self) -> None:
        """Replace, and log, a worker that exits between requests (one that exits during a
        request is replaced by ``call``)."""
        while True:
            await asyncio.sleep(1.0)
            try:
                await self._replace_exited()
            except Exception:  # never die quietly: log, and look again a second later
                log.exception("%s: checking the workers failed; checking again", self.name)

    async def _replace_exited(self) -> None:
        for worker in list(self._workers):
            if not worker.alive:
                log.warning(
                    "%s: worker (pid %s) exited with %s; starting another",
                    self.name,
                    worker.process.pid,
                    worker.process.returncode,
                )
                await self.retire(worker)

    async def _idle_worker(self) -> Worker:
        while True:
            worker = await self._idle.get()
            if worker.alive:
                return worker
            await self.retire(worker)  # died while idle

    async def _exchange(self, worker: Worker, frames: Sequence[bytes]) -> tuple[bytes, bytes]:
        stdin, stdout = worker.process.stdin, worker.process.stdout
        assert stdin is not None
        assert stdout is not None
        for frame in frames:
            stdin.write(LENGTH.pack(len(frame)))
            stdin.write(frame)
        await stdin.drain()
        status = await stdout.readexactly(1)
        (length,) = LENGTH.unpack(await stdout.readexactly(LENGTH.size))
        return status, await stdout.readexactly(length)

    async def _spawn(self) -> Worker:
        self._started += 1
        process = await asyncio.create_subprocess_exec(
            *self._command(self._started),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=self._env,
            start_new_session=True,  # its own process group: killed with what it starts
        )
        worker = Worker(process)
        self._workers.add(worker)
        try:
            assert process.stdout is not None
            ready = await asyncio.wait_for(process.stdout.readexactly(1), self._start_seconds)
            if ready != READY:
                raise RuntimeError(f"unexpected greeting {ready!r}")
        except BaseException:
            await self._stop(worker)
            raise
        return worker

    def _replace_later(self) -> None:
        if not self._closed:
            task = asyncio.create_task(self._replace(), name=f"{self.name}-replace")
            self._replacing.add(task)
            task.add_done_callback(self._replacing.discard)

    async def _replace(self) -> None:
        delay = 0.5
        while not self._closed:
            try:
                worker = await self._spawn()
            except Exception as exc:
                log.exception("%s: a replacement worker did not start (%r)", self.name, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            self.stats.replaced += 1
            log.warning("%s: worker replaced (pid %s)", self.name, worker.process.pid)
            self._idle.put_nowait(worker)
            return

    async def _stop(self, worker: Worker) -> None:
        self._workers.discard(worker)
        worker.kill()
        await worker.process.wait()

    def _failed(self, reason: str) -> None:
        self.stats.failed += 1
        self.stats.last_failure = reason
        log.warning("%s: %s; the worker is replaced", self.name, reason)


def environment(**extra: str) -> dict[str, str]:
    """A worker's environment: the service's without its configuration (``CRM_*``: database
    URLs, secrets), which a worker never needs."""
    return {k: v for k, v in os.environ.items() if not k.startswith("CRM_")} | extra


def write_frame(out: BinaryIO, status: bytes, payload: bytes) -> None:
    """Used by workers: one answer on their binary stdout."""
    out.write(status + LENGTH.pack(len(payload)) + payload)
    out.flush()


def read_frame(source: BinaryIO) -> bytes | None:
    """Used by workers: one request frame from their binary stdin (None at its end)."""
    header = source.read(LENGTH.size)
    if len(header) < LENGTH.size:
        return None
    (length,) = LENGTH.unpack(header)
    data = source.read(length)
    return data if len(data) == length else None

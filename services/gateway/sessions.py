"""Whether a token's session is still open, as every gateway copy agrees within a second.

PostgreSQL is the truth (sessions.ended_at, users.active). Each copy keeps the answer for a
session at most ``ttl`` seconds, so a busy client costs one small indexed query a second; an
ended session never reopens, so that answer is kept until the cache is full. Concurrent requests
of one session whose answer is stale share one query. The sessions a copy ends itself (logout,
deactivation, change of role or password, an admin ending them) it is told of once they are
ended in PostgreSQL (``ended``), and refuses from its next request on; other copies within
``ttl``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable

Lookup = Callable[[uuid.UUID], Awaitable[bool]]


class SessionCheck:
    def __init__(self, lookup: Lookup, ttl: float = 1.0, max_size: int = 100_000) -> None:
        self._lookup = lookup
        self._ttl = ttl
        self._max_size = max_size
        self._known: dict[uuid.UUID, tuple[bool, float]] = {}  # open?, when it was read
        self._pending: dict[uuid.UUID, asyncio.Task[bool]] = {}

    async def is_open(self, session_id: uuid.UUID) -> bool:
        known = self._known.get(session_id)
        if known is not None and (not known[0] or time.monotonic() - known[1] < self._ttl):
            return known[0]
        task = self._pending.get(session_id)
        if task is None:
            task = asyncio.create_task(self._read(session_id))
            self._pending[session_id] = task
            task.add_done_callback(lambda done: self._done(session_id, done))
        # A cancelled request (client gone) leaves the query to the others waiting for it.
        return await asyncio.shield(task)

    def ended(self, *session_ids: uuid.UUID) -> None:
        """This copy ended these sessions (committed): refuse them here at once."""
        now = time.monotonic()
        for session_id in session_ids:
            self._remember(session_id, False, now)

    async def _read(self, session_id: uuid.UUID) -> bool:
        read_at = time.monotonic()
        is_open = await self._lookup(session_id)
        self._remember(session_id, is_open, read_at)
        return is_open

    def _remember(self, session_id: uuid.UUID, is_open: bool, read_at: float) -> None:
        known = self._known.get(session_id)
        if known is not None and not known[0]:
            return  # ended stays ended, whatever an older read says
        if len(self._known) >= self._max_size:
            self._known.clear()  # bounded: forget everything rather than grow
        self._known[session_id] = (is_open, read_at)

    def _done(self, session_id: uuid.UUID, task: asyncio.Task[bool]) -> None:
        self._pending.pop(session_id, None)
        if not task.cancelled():
            task.exception()  # retrieved here: the waiters (if any) get it too

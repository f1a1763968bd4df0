"""What is waiting: each service's outbox backlog and each queue's depth."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from services.common.broker import dead_letter_queue, queue_name

from .config import SERVICES

OUTBOX_BACKLOG = """
SELECT count(*) AS unpublished, now() - min(created_at) AS oldest
FROM outbox WHERE published_at IS NULL
"""


@dataclass(frozen=True)
class Backlog:
    unpublished: int
    oldest: timedelta | None


async def outbox_backlog(pool: asyncpg.Pool) -> Backlog:
    row = await pool.fetchrow(OUTBOX_BACKLOG)
    assert row is not None
    return Backlog(row["unpublished"], row["oldest"])


def queues(exchange: str) -> list[str]:
    """Each service's queue and its dead-letter queue."""
    return [
        name
        for service in SERVICES
        for name in (queue_name(exchange, service), dead_letter_queue(exchange, service))
    ]


def age(delta: timedelta | None) -> str:
    if delta is None:
        return "-"
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    return f"{seconds // 86400} j {seconds % 86400 // 3600} h"

"""Idempotency keys in the database: a repeat gets the stored answer, another request under the
key is refused naming the header, a key older than its lifetime is free again, and pruning
removes only expired keys."""

from __future__ import annotations

import secrets
from typing import Any

import asyncpg
import pytest

from services.common import idempotency
from services.common.errors import ValidationFailed
from services.common.idempotency import Answer, Keyed, Replay


def keyed(actor: str, key: str, body: bytes = b"{}") -> Keyed:
    def answer(record: dict[str, Any]) -> Answer:
        return Answer(201, repr(record).encode(), {"Location": f"/x/{record['id']}"})

    return Keyed(actor, key, "POST", "/api/v1/things", body, answer)


async def create(pool: asyncpg.Pool, request: Keyed, record_id: str) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await request.claim(conn)
        await request.keep(conn, {"id": record_id})


async def test_a_repeat_gets_the_stored_answer_and_another_body_is_refused(
    pool: asyncpg.Pool,
) -> None:
    actor, key = secrets.token_hex(8), secrets.token_hex(8)
    await create(pool, keyed(actor, key), "first")
    with pytest.raises(Replay) as replay:
        await create(pool, keyed(actor, key), "second")
    assert replay.value.answer == Answer(201, b"{'id': 'first'}", {"Location": "/x/first"})
    with pytest.raises(ValidationFailed) as refused:
        await create(pool, keyed(actor, key, b'{"other": 1}'), "third")
    assert [e.field for e in refused.value.errors] == ["Idempotency-Key"]
    await create(pool, keyed(secrets.token_hex(8), key), "another user's")  # not a repeat


async def test_an_expired_key_is_free_again_and_pruned(pool: asyncpg.Pool) -> None:
    actor, old, fresh = secrets.token_hex(8), secrets.token_hex(8), secrets.token_hex(8)
    await create(pool, keyed(actor, old), "old")
    await create(pool, keyed(actor, fresh), "fresh")
    await pool.execute(
        "UPDATE idempotency_keys SET created_at = now() - interval '25 hours'"
        " WHERE actor = $1 AND key = $2",
        actor,
        old,
    )
    await create(pool, keyed(actor, old, b'{"new": 1}'), "new")  # carried out, not refused
    with pytest.raises(Replay) as replay:
        await create(pool, keyed(actor, old, b'{"new": 1}'), "again")
    assert replay.value.answer.headers == {"Location": "/x/new"}

    await pool.execute(
        "UPDATE idempotency_keys SET created_at = now() - interval '25 hours'"
        " WHERE actor = $1 AND key = $2",
        actor,
        old,
    )
    assert await idempotency.prune(pool) >= 1
    left = await pool.fetch("SELECT key FROM idempotency_keys WHERE actor = $1", actor)
    assert [r["key"] for r in left] == [fresh]


@pytest.mark.parametrize("value", ["", "x" * 256, "clé", "tab\there", "\x7f"])
def test_a_malformed_key_is_refused_naming_the_header(value: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        idempotency.parse_key(value)
    assert [e.field for e in refused.value.errors] == ["Idempotency-Key"]


@pytest.mark.parametrize("value", ["a", " x ~", "x" * 255, '"sf-string"'])
def test_printable_ascii_keys_are_taken_as_sent(value: str) -> None:
    assert idempotency.parse_key(value) == value

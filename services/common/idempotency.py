"""``Idempotency-Key`` (IETF draft "The Idempotency-Key HTTP Header Field") on record creations.

A creation that carries the header claims its key (per caller) in the transaction of its change,
before the change, and stores its answer (status, body, ``Location``, ``ETag``) in that same
transaction, after it: the key is kept if and only if the record and its event are. A repeat with
the same key and the same request gets the stored answer (``Idempotency-Replayed: true``) and
changes nothing; with another body, method or path, 422 naming the header. A repeat made while
the first is still running waits on the key's row (the primary key) until the first commits, then
gets its answer (or, had the first failed, is carried out itself). Keys are kept 24 hours: an
older row counts as absent, and expired rows are pruned every few hundred keyed creations.
Only successful creations are kept: a refused request (422, 409, ...) leaves no key behind.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiohttp import web

from .errors import FieldError, ValidationFailed
from .web import dumps, identity_of

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotency-Replayed"
MAX_LENGTH = 255
LIFETIME_SECONDS = 24 * 3600
PRUNE_EVERY = 256  # keyed creations between two prunes, in each process
PRUNE_BATCH = 1000

CLAIM = """
INSERT INTO idempotency_keys (actor, key, method, path, fingerprint) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (actor, key) DO UPDATE
    SET method = EXCLUDED.method, path = EXCLUDED.path, fingerprint = EXCLUDED.fingerprint,
        status = NULL, body = NULL, headers = NULL, created_at = now()
    WHERE idempotency_keys.created_at < now() - make_interval(secs => $6)
RETURNING 1
"""
STORED = (
    "SELECT method, path, fingerprint, status, body, headers FROM idempotency_keys"
    " WHERE actor = $1 AND key = $2"
)
KEEP = (
    "UPDATE idempotency_keys SET status = $3, body = $4, headers = $5 WHERE actor = $1 AND key = $2"
)
PRUNE = (
    "DELETE FROM idempotency_keys WHERE ctid = ANY(ARRAY(SELECT ctid FROM idempotency_keys"
    " WHERE created_at < now() - make_interval(secs => $1) LIMIT $2))"
)


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]

    def response(self, *, replayed: bool = False) -> web.Response:
        headers = {**self.headers, REPLAYED_HEADER: "true"} if replayed else self.headers
        return web.Response(
            body=self.body, status=self.status, content_type="application/json", headers=headers
        )


def json_answer(record: Any, status: int, headers: dict[str, str]) -> Answer:
    """The answer a handler would give with ``json_response``, as bytes that can be kept."""
    return Answer(status, dumps(record), headers)


class Replay(Exception):  # not an error: the answer to give instead
    """Raised inside the change's transaction (rolling it back): the key was used already."""

    def __init__(self, answer: Answer) -> None:
        super().__init__("idempotent replay")
        self.answer = answer


def _refused(message: str) -> ValidationFailed:
    return ValidationFailed([FieldError(HEADER, message)])


def parse_key(value: str) -> str:
    """The key as sent: 1 to 255 printable ASCII characters (422 naming the header otherwise)."""
    if not 1 <= len(value) <= MAX_LENGTH or not all(" " <= c <= "~" for c in value):
        raise _refused(
            f"L'en-tête {HEADER} doit compter de 1 à {MAX_LENGTH} caractères ASCII imprimables."
        )
    return value


@dataclass(frozen=True)
class Keyed:
    """A creation made under a key, and how to turn its record into its answer."""

    actor: str
    key: str
    method: str
    path: str
    fingerprint: bytes
    answer: Callable[[dict[str, Any]], Answer]

    async def claim(self, conn: asyncpg.Connection) -> None:
        """First statement of the change's transaction: take the key, or raise ``Replay`` with
        the stored answer (422 when the key served another request)."""
        taken = await conn.fetchval(
            CLAIM, self.actor, self.key, self.method, self.path, self.fingerprint, LIFETIME_SECONDS
        )
        if taken:
            return
        row = await conn.fetchrow(STORED, self.actor, self.key)
        if row is None or row["status"] is None:  # cannot be committed so: never answer it
            raise RuntimeError("idempotency key row without its answer")
        if (row["method"], row["path"], row["fingerprint"]) != (
            self.method,
            self.path,
            self.fingerprint,
        ):
            raise _refused(
                f"Cette valeur de l'en-tête {HEADER} a déjà servi à une autre requête "
                "(autre corps ou autre adresse) : utilisez une nouvelle clé."
            )
        raise Replay(Answer(row["status"], bytes(row["body"]), dict(row["headers"])))

    async def keep(self, conn: asyncpg.Connection, record: dict[str, Any]) -> None:
        """Last statement of the change's transaction: store the answer with the change."""
        answer = self.answer(record)
        await conn.execute(KEEP, self.actor, self.key, answer.status, answer.body, answer.headers)


async def keyed(request: web.Request, answer: Callable[[dict[str, Any]], Answer]) -> Keyed | None:
    """The request's key, if it carries one (its body read and hashed), else None."""
    value = request.headers.get(HEADER)
    if value is None:
        return None
    key = parse_key(value)
    body = await request.read()  # kept by aiohttp once read (can_read_body is then False)
    return Keyed(
        identity_of(request).user_id,
        key,
        request.method,
        request.rel_url.path,
        hashlib.sha256(body).digest(),
        answer,
    )


_since_prune = 0


async def respond(
    request: web.Request,
    pool: asyncpg.Pool,
    create: Callable[[Keyed | None], Awaitable[dict[str, Any]]],
    answer: Callable[[dict[str, Any]], Answer],
) -> web.Response:
    """Run a creation under the request's key, if any: its answer, or the stored one."""
    global _since_prune
    key = await keyed(request, answer)
    try:
        record = await create(key)
    except Replay as replay:
        return replay.answer.response(replayed=True)
    if key is not None:
        _since_prune += 1
        if _since_prune >= PRUNE_EVERY:
            _since_prune = 0
            await prune(pool)
    return answer(record).response()


async def prune(pool: asyncpg.Pool) -> int:
    """Delete up to a batch of expired keys (index on created_at); how many went."""
    status = await pool.execute(PRUNE, LIFETIME_SECONDS, PRUNE_BATCH)
    return int(status.split()[-1])

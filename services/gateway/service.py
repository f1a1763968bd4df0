"""Use cases of the gateway's own data: users, their login, the admin bootstrap."""

from __future__ import annotations

import asyncio
import sys
import uuid
from typing import Any

import asyncpg

from services.common.errors import NotFound, Unauthorized
from services.common.events import diff, make_event
from services.common.identity import Identity
from services.common.outbox import enqueue

from . import domain
from . import repository as sql

SYSTEM_ACTOR = "system"


async def create_user(
    pool: asyncpg.Pool,
    source: str,
    actor: str,
    username: str,
    password: str,
    role: str,
    display_name: str = "",
) -> dict[str, Any] | None:
    """Create a user (and its event); None when the login name is taken."""
    password_hash = await asyncio.to_thread(domain.hash_password, password)
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            sql.INSERT_USER, uuid.uuid4(), username, display_name, role, password_hash, actor
        )
        if row is None:
            return None
        record = dict(row)
        event = make_event(
            source=source,
            entity="user",
            change="created",
            record=record,
            actor=actor,
            changes=diff(None, record),
            at=record["created_at"],
        )
        await enqueue(conn, event)
    return record


async def bootstrap_admin(pool: asyncpg.Pool, source: str, password: str | None) -> None:
    """Create ``admin`` on first start; a generated password is printed once, never logged."""
    generated = password is None
    chosen = password if password is not None else domain.generate_password()
    created = await create_user(
        pool, source, SYSTEM_ACTOR, "admin", chosen, "admin", display_name="Administrateur"
    )
    if created is not None and generated:
        # Shown once to the operator, on purpose not through logging.
        print(
            "\n*** Utilisateur admin créé. Mot de passe généré (affiché une seule fois) : "
            f"{chosen}\n",
            file=sys.stderr,
            flush=True,
        )


async def login(pool: asyncpg.Pool, username: str, password: str) -> Identity:
    row = await pool.fetchrow(sql.SELECT_LOGIN, username)
    stored = row["password_hash"] if row is not None and row["active"] else None
    if not await asyncio.to_thread(domain.verify_password, stored, password) or row is None:
        raise Unauthorized("Identifiant ou mot de passe incorrect.")
    return Identity(str(row["id"]), row["username"], row["role"])


async def get_user(pool: asyncpg.Pool, user_id: str) -> dict[str, Any]:
    row = await pool.fetchrow(sql.SELECT_USER, uuid.UUID(user_id))
    if row is None:
        raise NotFound("Utilisateur introuvable.")
    return dict(row)

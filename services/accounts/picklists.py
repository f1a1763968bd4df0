"""Use cases of picklists: the values offered by list fields, managed by admins."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.common.errors import Conflict, Forbidden, NotFound
from services.common.identity import Identity
from services.common.outbox import record_change

from . import repository as sql
from .schemas import PicklistValueCreate, PicklistValueUpdate

ENTITY = "picklist_value"


def _record(row: asyncpg.Record) -> dict[str, Any]:
    record = dict(row)
    record["id"] = f"{row['list']}:{row['code']}"
    return record


def admin_only(identity: Identity) -> None:
    if identity.role != "admin":
        raise Forbidden("Seuls les administrateurs gèrent les listes de valeurs.")


async def get_picklist(pool: asyncpg.Pool, name: str) -> dict[str, Any]:
    rows = await pool.fetch(sql.SELECT_PICKLIST, name)
    if not rows:
        raise NotFound("Cette liste de valeurs n'existe pas.")
    return {"name": name, "values": [_public(row) for row in rows]}


def _public(row: asyncpg.Record) -> dict[str, Any]:
    return {k: row[k] for k in ("code", "label", "active", "position")}


async def add_value(
    pool: asyncpg.Pool, source: str, identity: Identity, name: str, body: PicklistValueCreate
) -> dict[str, Any]:
    admin_only(identity)
    async with pool.acquire() as conn, conn.transaction():
        if not await conn.fetchval(sql.PICKLIST_EXISTS, name):
            raise NotFound("Cette liste de valeurs n'existe pas.")
        row = await conn.fetchrow(
            sql.INSERT_PICKLIST_VALUE, name, body.code, body.label, body.position, identity.username
        )
        if row is None:
            raise Conflict(f"La valeur « {body.code} » existe déjà dans cette liste.")
        await record_change(
            conn,
            source=source,
            entity=ENTITY,
            change="created",
            record=_record(row),
            actor=identity.username,
        )
    return _public(row)


async def change_value(
    pool: asyncpg.Pool,
    source: str,
    identity: Identity,
    name: str,
    code: str,
    body: PicklistValueUpdate,
) -> dict[str, Any]:
    """Rename, reorder, deactivate or reactivate a value; records keep the codes they hold."""
    admin_only(identity)
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(sql.LOCK_PICKLIST_VALUE, name, code)
        if row is None:
            raise NotFound("Cette valeur n'existe pas dans cette liste.")
        label = body.label if body.label is not None else row["label"]
        active = body.active if body.active is not None else row["active"]
        position = body.position if body.position is not None else row["position"]
        if (label, active, position) == (row["label"], row["active"], row["position"]):
            return _public(row)
        new_row = await conn.fetchrow(
            sql.UPDATE_PICKLIST_VALUE, name, code, label, active, position, identity.username
        )
        await record_change(
            conn, source=source, entity=ENTITY, change="updated", record=_record(new_row),
            old=_record(row), actor=identity.username,
        )  # fmt: skip
    return _public(new_row)

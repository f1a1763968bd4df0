"""Use cases of the accounts service: each takes the pool and the caller's identity."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import asyncpg

from services.common.errors import NotFound
from services.common.events import diff, make_event
from services.common.identity import Identity
from services.common.outbox import enqueue
from services.common.pagination import keyset_sql, page_result, parse_page

from . import repository as sql
from .domain import ENTITY
from .schemas import AccountCreate


def parse_id(text: str) -> uuid.UUID:
    """A record id from a URL; anything that is not a UUID is simply not found."""
    try:
        return uuid.UUID(text)
    except ValueError as exc:
        raise NotFound("Aucun compte ne porte cet identifiant.") from exc


async def create_account(
    pool: asyncpg.Pool, source: str, identity: Identity, body: AccountCreate
) -> dict[str, Any]:
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(sql.INSERT_ACCOUNT, uuid.uuid4(), body.name, identity.username)
        record = dict(row)
        changes = diff(None, record)
        await enqueue(
            conn,
            make_event(
                source=source,
                entity=ENTITY,
                change="created",
                record=record,
                actor=identity.username,
                changes=changes,
                at=record["created_at"],
            ),
        )
    return record


async def get_account(pool: asyncpg.Pool, account_id: str) -> dict[str, Any]:
    row = await pool.fetchrow(sql.SELECT_LIVE_ACCOUNT, parse_id(account_id))
    if row is None:
        raise NotFound("Aucun compte ne porte cet identifiant.")
    return dict(row)


async def list_accounts(pool: asyncpg.Pool, query: Mapping[str, str]) -> dict[str, Any]:
    page = parse_page(query, sql.SORTABLE, default_sort="name")
    condition, order_by, params = keyset_sql(page, next_param=1)
    statement = sql.list_accounts_sql(condition, order_by, limit_param=len(params) + 1)
    rows = await pool.fetch(statement, *params, page.limit + 1)
    return page_result(page, [dict(r) for r in rows], page.column)

"""Use cases of contacts: the people of an account."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import asyncpg

from services.common.errors import Conflict, FieldError, NotFound, ValidationFailed
from services.common.identity import Identity
from services.common.outbox import record_change
from services.common.pagination import keyset_sql, page_result, parse_page
from services.common.records import check_if_match, merge_patch, parse_record_id
from services.common.validation import try_validate

from . import domain
from . import repository as sql
from .schemas import ContactFields

NOT_FOUND = "Aucun contact ne porte cet identifiant."
READ_ONLY = ("id", "created_at", "created_by", "updated_at", "updated_by", "version")


def contact_record(row: Mapping[str, Any]) -> dict[str, Any]:
    columns = (
        "id",
        *sql.CONTACT_EDITABLE,
        "created_at",
        "created_by",
        "updated_at",
        "updated_by",
        "version",
    )
    return {column: row[column] for column in columns}


async def _checked(
    conn: asyncpg.Connection, data: Any, old: Mapping[str, Any] | None
) -> ContactFields:
    fields, errors = try_validate(ContactFields, data)
    bad = {e.field for e in errors}
    values = fields.model_dump() if fields is not None else (data if isinstance(data, dict) else {})
    civility = values.get("civility")
    if (
        "civility" not in bad
        and isinstance(civility, str)
        and civility
        and (old is None or civility != old.get("civility"))
        and not await conn.fetchval(sql.ACTIVE_CODE, "civility", civility)
    ):
        errors.append(FieldError("civility", "Valeur inconnue ou désactivée de la liste civility."))
    account_id = values.get("account_id")
    if (
        "account_id" not in bad
        and account_id is not None
        and (old is None or account_id != old.get("account_id"))
    ):
        try:
            exists = await conn.fetchval(sql.LIVE_ACCOUNT_EXISTS, uuid.UUID(str(account_id)))
        except ValueError:
            exists = True  # reported by the field's validation
        if not exists:
            errors.append(FieldError("account_id", "Aucun compte ne porte cet identifiant."))
    if errors or fields is None:
        raise ValidationFailed(errors)
    return fields


async def create_contact(
    pool: asyncpg.Pool, source: str, identity: Identity, data: Any
) -> dict[str, Any]:
    async with pool.acquire() as conn, conn.transaction():
        fields = await _checked(conn, data, None)
        values = fields.model_dump()
        row = await conn.fetchrow(
            sql.INSERT_CONTACT,
            uuid.uuid4(),
            *(values[c] for c in sql.CONTACT_EDITABLE),
            identity.username,
        )
        record = contact_record(row)
        await record_change(
            conn, source=source, entity=domain.CONTACT_ENTITY, change="created", record=record,
            actor=identity.username,
        )  # fmt: skip
    return record


async def get_contact(pool: asyncpg.Pool, contact_id: str) -> dict[str, Any]:
    row = await pool.fetchrow(sql.SELECT_LIVE_CONTACT, parse_record_id(contact_id, "fiche contact"))
    if row is None:
        raise NotFound(NOT_FOUND)
    return contact_record(row)


async def _lock(conn: asyncpg.Connection, contact_id: str) -> asyncpg.Record:
    row = await conn.fetchrow(sql.LOCK_CONTACT, parse_record_id(contact_id, "fiche contact"))
    if row is None:
        raise NotFound(NOT_FOUND)
    return row


def _as_json(record: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in record.items()}


async def update_contact(
    pool: asyncpg.Pool,
    source: str,
    identity: Identity,
    contact_id: str,
    patch: Any,
    if_match: str | None,
) -> dict[str, Any]:
    if not isinstance(patch, dict):
        raise ValidationFailed([FieldError("body", "Doit être un objet JSON (merge patch).")])
    async with pool.acquire() as conn, conn.transaction():
        row = await _lock(conn, contact_id)
        if row["deleted_at"] is not None:
            raise NotFound(NOT_FOUND)
        check_if_match(if_match, row["version"])
        old = contact_record(row)
        current = _as_json(old)
        errors = [
            FieldError(f, "Champ en lecture seule.")
            for f in READ_ONLY
            if f in patch and patch[f] != _as_json({f: current[f]}).get(f) and f != "created_at"
        ]
        if errors:
            raise ValidationFailed(errors)
        doc = {
            k: v for k, v in current.items() if k in ContactFields.model_fields and v is not None
        }
        merged = merge_patch(doc, {k: v for k, v in patch.items() if k not in READ_ONLY})
        fields = await _checked(conn, merged, old)
        values = fields.model_dump()
        if [values[c] for c in sql.CONTACT_EDITABLE] == [row[c] for c in sql.CONTACT_EDITABLE]:
            return old
        new_row = await conn.fetchrow(
            sql.UPDATE_CONTACT,
            row["id"],
            *(values[c] for c in sql.CONTACT_EDITABLE),
            identity.username,
        )
        record = contact_record(new_row)
        await record_change(
            conn, source=source, entity=domain.CONTACT_ENTITY, change="updated", record=record,
            actor=identity.username, old=old,
        )  # fmt: skip
    return record


async def trash_contact(
    pool: asyncpg.Pool, source: str, identity: Identity, contact_id: str, if_match: str | None
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        row = await _lock(conn, contact_id)
        if row["deleted_at"] is not None:
            raise NotFound(NOT_FOUND)
        check_if_match(if_match, row["version"])
        new_row = await conn.fetchrow(sql.TRASH_CONTACT, row["id"], identity.username)
        await record_change(
            conn, source=source, entity=domain.CONTACT_ENTITY, change="deleted",
            record={**contact_record(new_row), "deleted_at": new_row["deleted_at"]},
            old={**contact_record(row), "deleted_at": None}, actor=identity.username,
        )  # fmt: skip


async def restore_contact(
    pool: asyncpg.Pool, source: str, identity: Identity, contact_id: str
) -> dict[str, Any]:
    async with pool.acquire() as conn, conn.transaction():
        row = await _lock(conn, contact_id)
        if row["deleted_at"] is None:
            raise Conflict("Ce contact n'est pas dans la corbeille.")
        new_row = await conn.fetchrow(sql.RESTORE_CONTACT, row["id"], identity.username)
        record = contact_record(new_row)
        await record_change(
            conn, source=source, entity=domain.CONTACT_ENTITY, change="restored",
            record={**record, "deleted_at": None},
            old={**contact_record(row), "deleted_at": row["deleted_at"]}, actor=identity.username,
        )  # fmt: skip
    return record


async def list_contacts(pool: asyncpg.Pool, query: Mapping[str, str]) -> dict[str, Any]:
    page = parse_page(query, sql.CONTACT_SORTABLE, default_sort="name")
    conditions: list[str] = []
    params: list[Any] = []
    if "account_id" in query:
        try:
            params.append(uuid.UUID(query["account_id"]))
        except ValueError as exc:
            raise ValidationFailed(
                [FieldError("account_id", "Identifiant (UUID) attendu.")]
            ) from exc
        conditions.append(f"c.account_id = ${len(params)}")
    if "phone" in query:  # a phone or mobile number, as the telephony server gives it
        try:
            params.append(domain.clean_phone(query["phone"]))
        except ValueError as exc:
            raise ValidationFailed([FieldError("phone", str(exc))]) from exc
        conditions.append(f"(c.phone = ${len(params)} OR c.mobile = ${len(params)})")
    q = domain.fold(query.get("q", ""))
    if q:
        params.append(domain.like_escape(q[:200]) + "%")
        conditions.append(f"c.sort_name LIKE ${len(params)}")
    condition, order_by, after = keyset_sql(page, len(params) + 1, id_column="c.id")
    conditions.append(condition)
    params += after
    rows = await pool.fetch(
        sql.list_contacts_sql(conditions, page.column, order_by, len(params) + 1),
        *params,
        page.limit + 1,
    )
    return page_result(page, rows, contact_record)

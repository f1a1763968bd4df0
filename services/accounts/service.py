"""Use cases of accounts: each takes the pool, the event source and the caller's identity."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import asyncpg

from services.common import crud
from services.common.errors import Conflict, FieldError, NotFound, ValidationFailed
from services.common.idempotency import Keyed
from services.common.identity import Identity
from services.common.outbox import record_change
from services.common.pagination import keyset_sql, page_result, parse_page
from services.common.records import (
    check_if_match,
    merge_patch,
    parse_record_id,
    refuse_unknown_fields,
)
from services.common.validation import try_validate

from . import domain, geocoding
from . import repository as sql
from .contacts import CONTACTS
from .schemas import AccountFields

ADDRESS_FIELDS = ("street", "postal_code", "city", "country")
READ_ONLY = ("id", "location", "created_at", "created_by", "updated_at", "updated_by", "version")
NOT_FOUND = "Aucun compte ne porte cet identifiant."


def account_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """The API shape of an account row."""
    record = {
        column: row[column] for column in sql.ACCOUNT_EDITABLE if column not in ADDRESS_FIELDS
    }
    record["address"] = {field: row[field] for field in ADDRESS_FIELDS}
    record["location"] = (
        {
            "lat": row["lat"],
            "lon": row["lon"],
            "precision": row["location_precision"],
            "source": row["location_source"],
        }
        if row["location_status"] == "found"
        else None
    )
    record = {"id": row["id"], **record}
    for column in ("created_at", "created_by", "updated_at", "updated_by", "version"):
        record[column] = row[column]
    return record


def editable(record: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of ``record`` a client may write, as JSON values (for merge patches)."""
    doc = {field: record[field] for field in AccountFields.model_fields}
    doc["address"] = dict(record["address"])
    for field in ("parent_account_id", "annual_revenue"):
        if doc[field] is not None:
            doc[field] = str(doc[field])
    return {k: v for k, v in doc.items() if v is not None}


def _columns(fields: AccountFields) -> list[Any]:
    values = fields.model_dump()
    address = values.pop("address")
    values.update(address)
    return [values[column] for column in sql.ACCOUNT_EDITABLE]


async def _reference_errors(
    conn: asyncpg.Connection,
    values: Mapping[str, Any],
    old: Mapping[str, Any] | None,
    identity: Identity,
    self_id: uuid.UUID | None,
) -> list[FieldError]:
    """Picklists, parent and owner checked against the data, for the values that changed."""
    errors: list[FieldError] = []

    def changed(field: str) -> bool:
        return old is None or values.get(field) != old.get(field)

    for field in ("account_type", "industry"):
        code = values.get(field)
        if isinstance(code, str) and code and changed(field):
            active = await conn.fetchval(sql.ACTIVE_CODE, field, code)
            if not active:
                errors.append(
                    FieldError(field, f"Valeur inconnue ou désactivée de la liste {field}.")
                )
    parent = values.get("parent_account_id")
    if parent is not None and changed("parent_account_id"):
        errors += await _parent_errors(conn, parent, self_id)
    owner = values.get("owner")
    if (
        isinstance(owner, str)
        and owner
        and changed("owner")
        and owner.lower() != identity.username.lower()
        and not await conn.fetchval(sql.USER_EXISTS, owner)
    ):
        errors.append(FieldError("owner", "Aucun utilisateur ne porte cet identifiant."))
    return errors


async def _parent_errors(
    conn: asyncpg.Connection, parent: Any, self_id: uuid.UUID | None
) -> list[FieldError]:
    try:
        parent_id = uuid.UUID(str(parent))
    except ValueError:
        return []  # already reported by the validation of the field
    if parent_id == self_id:
        return [FieldError("parent_account_id", "Un compte ne peut pas être son propre parent.")]
    if not await conn.fetchval(sql.LIVE_ACCOUNT_EXISTS, parent_id):
        return [FieldError("parent_account_id", "Aucun compte ne porte cet identifiant.")]
    if self_id is not None:
        ancestors = {row["id"] for row in await conn.fetch(sql.ANCESTORS, parent_id)}
        if self_id in ancestors:
            return [
                FieldError(
                    "parent_account_id", "Ce rattachement créerait une boucle de comptes parents."
                )
            ]
    return []


async def _checked(
    conn: asyncpg.Connection,
    data: dict[str, Any],
    old: Mapping[str, Any] | None,
    identity: Identity,
    self_id: uuid.UUID | None,
) -> AccountFields:
    """Validate every rule at once: field formats, rules between fields, references."""
    fields, errors = try_validate(AccountFields, data)
    bad = {error.field for error in errors}
    if fields is not None:
        address = fields.address
        for field, message in domain.account_consistency(
            fields.siren, fields.siret, fields.vat_number, address.country, address.postal_code
        ):
            errors.append(FieldError(field, message))
        values: Mapping[str, Any] = fields.model_dump()
    else:
        values = {k: v for k, v in data.items() if k not in bad} if isinstance(data, dict) else {}
        raw_address = values.get("address")
        if isinstance(raw_address, dict) and not {"address.postal_code", "address.country"} & bad:
            country = str(raw_address.get("country") or domain.DEFAULT_COUNTRY).upper()
            postal_code = raw_address.get("postal_code")
            if isinstance(postal_code, str) and postal_code.strip():
                for field, message in domain.account_consistency(
                    None, None, None, country, postal_code
                ):
                    errors.append(FieldError(field, message))
    old_values = None if old is None else {**old, "parent_account_id": old["parent_account_id"]}
    errors += [
        e
        for e in await _reference_errors(conn, values, old_values, identity, self_id)
        if e.field not in bad
    ]
    if errors or fields is None:
        raise ValidationFailed(errors)
    return fields


def _location_status(fields: AccountFields) -> str:
    return "none" if fields.address.is_empty else "pending"


async def create_account(
    pool: asyncpg.Pool,
    source: str,
    identity: Identity,
    data: dict[str, Any],
    context: dict[str, Any] | None = None,
    keyed: Keyed | None = None,
) -> dict[str, Any]:
    """``keyed``: made under an Idempotency-Key, claimed first and answered with the change."""
    if not isinstance(data, dict):
        raise ValidationFailed([FieldError("body", "Doit être un objet JSON.")])
    data = {"owner": identity.username, **data} if "owner" not in data else data
    async with pool.acquire() as conn, conn.transaction():
        if keyed is not None:
            await keyed.claim(conn)  # raises Replay when the key was used
        fields = await _checked(conn, data, None, identity, None)
        row = await conn.fetchrow(
            sql.INSERT_ACCOUNT,
            uuid.uuid4(),
            *_columns(fields),
            identity.username,
            _location_status(fields),
        )
        record = account_record(row)
        await record_change(
            conn, source=source, entity=domain.ENTITY, change="created", record=record,
            actor=identity.username, context=context,
        )  # fmt: skip
        if keyed is not None:
            await keyed.keep(conn, record)
    return record


async def get_account(pool: asyncpg.Pool, account_id: str) -> dict[str, Any]:
    row = await pool.fetchrow(sql.SELECT_LIVE_ACCOUNT, parse_record_id(account_id, "fiche compte"))
    if row is None:
        raise NotFound(NOT_FOUND)
    return account_record(row)


async def account_map(pool: asyncpg.Pool, account_id: str) -> dict[str, Any]:
    row = await pool.fetchrow(sql.SELECT_LIVE_ACCOUNT, parse_record_id(account_id, "fiche compte"))
    if row is None:
        raise NotFound(NOT_FOUND)
    return geocoding.map_of(account_record(row), row["location_status"])


async def _lock_live(conn: asyncpg.Connection, account_id: str) -> asyncpg.Record:
    row = await conn.fetchrow(sql.LOCK_ACCOUNT, parse_record_id(account_id, "fiche compte"))
    if row is None or row["deleted_at"] is not None:
        raise NotFound(NOT_FOUND)
    return row


def _apply_patch(current: dict[str, Any], patch: Any) -> dict[str, Any]:
    """The document after ``patch``; read-only fields may be echoed back unchanged, not changed."""
    if not isinstance(patch, dict):
        raise ValidationFailed([FieldError("body", "Doit être un objet JSON (merge patch).")])
    refuse_unknown_fields(patch, (*AccountFields.model_fields, *READ_ONLY))
    errors = [
        FieldError(field, "Champ en lecture seule.")
        for field in READ_ONLY
        if field in patch and patch[field] != current.get(field)
    ]
    if errors:
        raise ValidationFailed(errors)
    writable = {k: v for k, v in patch.items() if k not in READ_ONLY}
    return merge_patch(editable(current), writable)  # type: ignore[no-any-return]


async def update_account(
    pool: asyncpg.Pool,
    source: str,
    identity: Identity,
    account_id: str,
    patch: Any,
    if_match: str | None,
) -> dict[str, Any]:
    if not isinstance(patch, dict):
        raise ValidationFailed([FieldError("body", "Doit être un objet JSON (merge patch).")])
    async with pool.acquire() as conn, conn.transaction():
        row = await _lock_live(conn, account_id)
        old = account_record(row)
        echoed = {k: _jsonish(v) for k, v in old.items()}
        fields = await _checked(conn, _apply_patch(echoed, patch), _flat(old), identity, row["id"])
        check_if_match(if_match, row["version"])  # a bad request is a 422 whatever the version
        columns = _columns(fields)
        if columns == [row[c] for c in sql.ACCOUNT_EDITABLE]:
            return old  # nothing changed: no new version, no event
        address_changed = [fields.address.model_dump()[f] for f in ADDRESS_FIELDS] != [
            row[f] for f in ADDRESS_FIELDS
        ]
        status = _location_status(fields) if address_changed else row["location_status"]
        new_row = await conn.fetchrow(
            sql.UPDATE_ACCOUNT, row["id"], *columns, identity.username, status, address_changed
        )
        record = account_record(new_row)
        await record_change(
            conn, source=source, entity=domain.ENTITY, change="updated", record=record,
            actor=identity.username, old=old,
        )  # fmt: skip
    return record


def _flat(record: Mapping[str, Any]) -> dict[str, Any]:
    flat = {k: v for k, v in record.items() if k != "address"}
    flat.update(record["address"])
    return flat


def _jsonish(value: Any) -> Any:
    """A record value as a client would send it back (ids and money as strings, times RFC 3339)."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {k: _jsonish(v) for k, v in value.items()}
    if value is not None and not isinstance(value, str | int | float | bool):
        return str(value)
    return value


async def trash_account(
    pool: asyncpg.Pool, source: str, identity: Identity, account_id: str, if_match: str | None
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        row = await _lock_live(conn, account_id)
        check_if_match(if_match, row["version"])
        new_row = await conn.fetchrow(sql.TRASH_ACCOUNT, row["id"], identity.username)
        await record_change(
            conn, source=source, entity=domain.ENTITY, change="deleted",
            record={**account_record(new_row), "deleted_at": new_row["deleted_at"]},
            old={**account_record(row), "deleted_at": None}, actor=identity.username,
        )  # fmt: skip


async def restore_account(
    pool: asyncpg.Pool, source: str, identity: Identity, account_id: str
) -> dict[str, Any]:
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(sql.LOCK_ACCOUNT, parse_record_id(account_id, "fiche compte"))
        if row is None:
            raise NotFound(NOT_FOUND)
        if row["deleted_at"] is None:
            raise Conflict("Ce compte n'est pas dans la corbeille.")
        new_row = await conn.fetchrow(sql.RESTORE_ACCOUNT, row["id"], identity.username)
        record = account_record(new_row)
        await record_change(
            conn, source=source, entity=domain.ENTITY, change="restored",
            record={**record, "deleted_at": None},
            old={**account_record(row), "deleted_at": row["deleted_at"]}, actor=identity.username,
        )  # fmt: skip
    return record


async def duplicate_account(
    pool: asyncpg.Pool,
    source: str,
    identity: Identity,
    account_id: str,
    keyed: Keyed | None = None,
) -> dict[str, Any]:
    original = await get_account(pool, account_id)
    copy = {k: _jsonish(v) for k, v in editable(original).items() if k not in ("siren", "siret")}
    copy["name"] = domain.copy_name(original["name"])
    context = {"duplicated_from": str(original["id"])}
    return await create_account(pool, source, identity, copy, context=context, keyed=keyed)


async def list_accounts(pool: asyncpg.Pool, query: Mapping[str, str]) -> dict[str, Any]:
    # Asking for what changed since a moment reads best (and fastest) in the order it changed.
    default_sort = "updated_at" if "updated_since" in query else "name"
    page = parse_page(query, sql.SORTABLE, default_sort=default_sort)
    conditions, params, errors = _filters(query)
    if errors:
        raise ValidationFailed(errors)
    condition, order_by, after = keyset_sql(page, next_param=len(params) + 1)
    conditions.append(condition)
    params += after
    statement = sql.list_accounts_sql(conditions, page.column, order_by, len(params) + 1)
    rows = await pool.fetch(statement, *params, page.limit + 1)
    return page_result(page, rows, account_record)


def _filters(query: Mapping[str, str]) -> tuple[list[str], list[Any], list[FieldError]]:
    """Search text and filters of the list view, each one an indexed condition."""
    trashed = query.get("trashed", "false").lower()
    conditions = ["deleted_at IS NOT NULL" if trashed in ("true", "1") else "deleted_at IS NULL"]
    params: list[Any] = []
    errors: list[FieldError] = []
    if trashed not in ("true", "false", "1", "0"):
        errors.append(FieldError("trashed", "Doit valoir true ou false."))

    def param(value: Any) -> str:
        params.append(value)
        return f"${len(params)}"

    q = domain.fold(query.get("q", ""))
    words = q.split()
    if len(q) > 200:
        errors.append(FieldError("q", "Recherche trop longue (200 caractères au plus)."))
    elif len(words) == 1 and len(q) < 3:  # too short for trigrams: names that start with it
        conditions.append(f"sort_name LIKE {param(domain.like_escape(q) + '%')}")
    else:  # every word, anywhere in the name, city, SIREN or SIRET (trigram index)
        for word in words:
            conditions.append(f"search_text LIKE {param('%' + domain.like_escape(word) + '%')}")
    for name, column in sql.EQUALITY_FILTERS.items():
        if name in query:
            value = query[name].strip()
            value = domain.fold(value) if name in ("city", "owner") else value
            conditions.append(f"{column} = {param(value)}")
    if "postal_code" in query:
        prefix = query["postal_code"].strip()
        if not prefix.isdigit() or len(prefix) > 5:
            errors.append(FieldError("postal_code", "Début de code postal attendu (chiffres)."))
        else:
            conditions.append(f"sort_postal LIKE {param(prefix + '%')}")
    if "updated_since" in query:
        try:
            since = datetime.fromisoformat(query["updated_since"].replace("Z", "+00:00"))
            if since.tzinfo is None:
                raise ValueError
            since.astimezone(UTC)  # OverflowError at the ends of the calendar
            conditions.append(f"updated_at >= {param(since)}")
        except (ValueError, OverflowError):
            errors.append(
                FieldError(
                    "updated_since", "Date et heure RFC 3339 attendues (ex. 2026-11-28T09:30:00Z)."
                )
            )
    if "phone" in query:
        try:
            conditions.append(f"phone = {param(domain.clean_phone(query['phone']))}")
        except ValueError as exc:
            errors.append(FieldError("phone", str(exc)))
    if "parent_account_id" in query:
        try:
            conditions.append(f"parent_account_id = {param(uuid.UUID(query['parent_account_id']))}")
        except ValueError:
            errors.append(FieldError("parent_account_id", "Identifiant (UUID) attendu."))
    return conditions, params, errors


async def account_view(
    conn: asyncpg.Connection, account_id: uuid.UUID, per_tab: int
) -> dict[str, Any]:
    """The accounts service's part of the 360° view: the account and its contacts."""
    row = await conn.fetchrow(sql.SELECT_LIVE_ACCOUNT, account_id)
    if row is None:
        raise NotFound(NOT_FOUND)
    return {
        "account": account_record(row),
        "contacts": await crud.section(
            conn, CONTACTS, "account_id", account_id, per_tab, sort="-created_at"
        ),
    }

"""The conventions every record follows, once: create, read, merge-patch with If-Match, trash
and restore, keyset lists; each change committed with its event.

A service describes an entity with a ``RecordSpec`` (table, columns, Pydantic model, sorts,
filters, and a hook checking rules that need the database); SQL is built from the spec's
constant names only, values always travel as parameters.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cached_property
from typing import Any

import asyncpg
from aiohttp import web
from pydantic import BaseModel

from .errors import Conflict, FieldError, NotFound, ValidationFailed
from .idempotency import Answer, Keyed, json_answer, respond
from .identity import Identity
from .outbox import record_change
from .pagination import ColumnKind, keyset_sql, page_result, parse_page
from .records import check_if_match, etag, merge_patch, parse_record_id, refuse_unknown_fields
from .runtime import POOL_KEY, SOURCE_KEY
from .validation import try_validate
from .web import identity_of, json_response, read_json

SYSTEM_COLUMNS = ("created_at", "created_by", "updated_at", "updated_by", "version")
READ_ONLY = ("id", *SYSTEM_COLUMNS)
# check(conn, values, old, identity) -> errors; values are the validated fields plus derived ones.
Check = Callable[
    [asyncpg.Connection, dict[str, Any], Mapping[str, Any] | None, Identity],
    Awaitable[list[FieldError]],
]
Derive = Callable[[dict[str, Any], Mapping[str, Any] | None], dict[str, Any]]
FilterParser = Callable[[str], Any]
# guard(old row): raise (e.g. Conflict) when the record may no longer change or go to the trash.
Guard = Callable[[Mapping[str, Any]], None]
Shape = Callable[[dict[str, Any]], dict[str, Any]]
# Values set when a record is created, inside its transaction (e.g. a number from a sequence).
Prepare = Callable[[asyncpg.Connection, dict[str, Any]], Awaitable[dict[str, Any]]]


async def _no_check(*_args: Any) -> list[FieldError]:
    return []


def _no_derive(_values: dict[str, Any], _old: Mapping[str, Any] | None) -> dict[str, Any]:
    return {}


def _no_guard(_row: Mapping[str, Any]) -> None:
    return None


def _as_is(record: dict[str, Any]) -> dict[str, Any]:
    return record


@dataclass(frozen=True)
class RecordSpec:
    entity: str  # event entity: "action"
    table: str  # SQL table: "actions"
    label: str  # French, for messages: "action"
    model: type[BaseModel]  # every field a client writes
    derived: tuple[str, ...] = ()  # columns computed by ``derive`` (read-only to clients)
    read_only_extra: tuple[str, ...] = ()  # other read-only columns shown in the record
    sortable: Mapping[str, tuple[str, ColumnKind]] = field(default_factory=dict)
    default_sort: str = "-created_at"
    filters: Mapping[str, tuple[str, FilterParser]] = field(default_factory=dict)
    check: Check = _no_check
    check_raw: bool = False  # the check also copes with unvalidated values (of good fields)
    derive: Derive = _no_derive
    guard: Guard = _no_guard
    shape: Shape = _as_is  # what a reader sees, e.g. a status that depends on today
    list_conditions: tuple[str, ...] = ()  # always part of a list's WHERE
    prepare: Prepare | None = None  # values set at creation (e.g. a number from a sequence)

    # Computed once per spec (the record of every row read uses them).
    @cached_property
    def editable(self) -> tuple[str, ...]:
        return tuple(self.model.model_fields)

    @cached_property
    def written(self) -> tuple[str, ...]:
        return (*self.editable, *self.derived)

    @cached_property
    def shown(self) -> tuple[str, ...]:
        return ("id", *self.written, *self.read_only_extra, *SYSTEM_COLUMNS)

    @cached_property
    def columns(self) -> str:
        return ", ".join((*self.shown, "deleted_at"))

    def record(self, row: Mapping[str, Any]) -> dict[str, Any]:
        return self.shape({name: row[name] for name in self.shown})

    def not_found(self) -> NotFound:
        return NotFound(f"Aucune fiche {self.label} ne porte cet identifiant.")


def as_json(value: Any) -> Any:
    """A value as a client writes it back: ids, money and dates as strings."""
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return value


async def _validated(
    conn: asyncpg.Connection,
    spec: RecordSpec,
    data: Any,
    old: Mapping[str, Any] | None,
    identity: Identity,
) -> dict[str, Any]:
    fields, errors = try_validate(spec.model, data)
    if fields is None:
        if spec.check_raw and isinstance(data, dict):  # report the data's errors too, at once
            bad = {error.field.split(".")[0] for error in errors}
            raw = {k: v for k, v in data.items() if k not in bad}
            errors += [e for e in await spec.check(conn, raw, old, identity) if e.field not in bad]
        raise ValidationFailed(errors)
    values = fields.model_dump()
    values.update(spec.derive(values, old))
    errors = await spec.check(conn, values, old, identity)
    if errors:
        raise ValidationFailed(errors)
    return values


async def create(
    pool: asyncpg.Pool,
    spec: RecordSpec,
    source: str,
    identity: Identity,
    data: Any,
    *,
    extra: Mapping[str, Any] | None = None,
    prepare: Prepare | None = None,
    context: dict[str, Any] | None = None,
    keyed: Keyed | None = None,
) -> dict[str, Any]:
    """Insert a record; ``extra`` and ``prepare`` set read-only columns (a call id, a number).
    ``keyed``: made under an Idempotency-Key, claimed first and answered with the change."""
    extra = dict(extra or {})
    async with pool.acquire() as conn, conn.transaction():
        if keyed is not None:
            await keyed.claim(conn)  # raises Replay when the key was used
        values = await _validated(conn, spec, data, None, identity)
        for step in (spec.prepare, prepare):
            if step is not None:
                extra.update(await step(conn, values))
        names = (*spec.written, *extra)
        placeholders = ", ".join(f"${i}" for i in range(2, len(names) + 2))
        statement = (
            f"INSERT INTO {spec.table} (id, {', '.join(names)}, created_by, updated_by) "
            f"VALUES ($1, {placeholders}, ${len(names) + 2}, ${len(names) + 2}) "
            f"RETURNING {spec.columns}"
        )
        args = [values[n] for n in spec.written] + list(extra.values())
        row = await conn.fetchrow(statement, uuid.uuid4(), *args, identity.username)
        record = spec.record(row)
        await record_change(
            conn,
            source=source,
            entity=spec.entity,
            change="created",
            record=record,
            actor=identity.username,
            context=context,
        )
        if keyed is not None:
            await keyed.keep(conn, record)
    return record


async def get(pool: asyncpg.Pool, spec: RecordSpec, record_id: str) -> dict[str, Any]:
    row = await pool.fetchrow(
        f"SELECT {spec.columns} FROM {spec.table} WHERE id = $1 AND deleted_at IS NULL",
        parse_record_id(record_id, f"fiche {spec.label}"),
    )
    if row is None:
        raise spec.not_found()
    return spec.record(row)


async def lock(
    conn: asyncpg.Connection, spec: RecordSpec, record_id: str, *, live: bool = True
) -> asyncpg.Record:
    """The record's row, locked until the transaction ends (404 when absent, or trashed if
    ``live``)."""
    row = await conn.fetchrow(
        f"SELECT {spec.columns} FROM {spec.table} WHERE id = $1 FOR UPDATE",
        parse_record_id(record_id, f"fiche {spec.label}"),
    )
    if row is None or (live and row["deleted_at"] is not None):
        raise spec.not_found()
    return row


async def apply_change(
    conn: asyncpg.Connection,
    spec: RecordSpec,
    source: str,
    identity: Identity,
    row: asyncpg.Record,
    change: str,
    sets: Mapping[str, Any],
    *,
    context: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Set ``sets`` on a locked row as its next version, with the event ``<entity>.<change>``.

    The event shows ``deleted_at`` when the change is about the trash."""
    assignments = ", ".join(f"{column} = ${i}" for i, column in enumerate(sets, start=3))
    new_row = await conn.fetchrow(
        f"UPDATE {spec.table} SET {assignments}, updated_at = now(), updated_by = $2, "
        f"version = version + 1 WHERE id = $1 RETURNING {spec.columns}",
        row["id"],
        identity.username,
        *sets.values(),
    )
    record, old = spec.record(new_row), spec.record(row)
    shown = record
    if "deleted_at" in sets:
        shown = {**record, "deleted_at": new_row["deleted_at"]}
        old = {**old, "deleted_at": row["deleted_at"]}
    await record_change(
        conn,
        source=source,
        entity=spec.entity,
        change=change,
        record=shown,
        old=old,
        actor=identity.username,
        context=context,
    )
    return record


def _patched(spec: RecordSpec, current: dict[str, Any], patch: Any) -> dict[str, Any]:
    if not isinstance(patch, dict):
        raise ValidationFailed([FieldError("body", "Doit être un objet JSON (merge patch).")])
    read_only = (*READ_ONLY, *spec.derived, *spec.read_only_extra)
    refuse_unknown_fields(patch, (*spec.editable, *read_only))
    errors = [
        FieldError(name, "Champ en lecture seule.")
        for name in read_only
        if name in patch and patch[name] != as_json(current.get(name))
    ]
    if errors:
        raise ValidationFailed(errors)
    doc = {k: as_json(current[k]) for k in spec.editable if current.get(k) is not None}
    return merge_patch(doc, {k: v for k, v in patch.items() if k not in read_only})  # type: ignore[no-any-return]


async def update(
    pool: asyncpg.Pool,
    spec: RecordSpec,
    source: str,
    identity: Identity,
    record_id: str,
    patch: Any,
    if_match: str | None,
) -> dict[str, Any]:
    if not isinstance(patch, dict):
        raise ValidationFailed([FieldError("body", "Doit être un objet JSON (merge patch).")])
    async with pool.acquire() as conn, conn.transaction():
        row = await lock(conn, spec, record_id)
        spec.guard(row)
        old = spec.record(row)
        values = await _validated(conn, spec, _patched(spec, old, patch), old, identity)
        check_if_match(if_match, row["version"])  # a bad request is a 422 whatever the version
        if all(values[n] == row[n] for n in spec.written):
            return old  # nothing changed: no new version, no event
        sets = {n: values[n] for n in spec.written}
        return await apply_change(conn, spec, source, identity, row, "updated", sets)


async def _set_trashed(
    pool: asyncpg.Pool,
    spec: RecordSpec,
    source: str,
    identity: Identity,
    record_id: str,
    trashed: bool,
    if_match: str | None = None,
) -> dict[str, Any]:
    async with pool.acquire() as conn, conn.transaction():
        row = await lock(conn, spec, record_id, live=False)
        if trashed and row["deleted_at"] is not None:
            raise spec.not_found()
        if not trashed and row["deleted_at"] is None:
            raise Conflict(f"Cette fiche {spec.label} n'est pas dans la corbeille.")
        check_if_match(if_match, row["version"])
        if trashed:
            spec.guard(row)
        sets = {"deleted_at": datetime.now(UTC) if trashed else None}
        change = "deleted" if trashed else "restored"
        return await apply_change(conn, spec, source, identity, row, change, sets)


async def trash(
    pool: asyncpg.Pool,
    spec: RecordSpec,
    source: str,
    identity: Identity,
    record_id: str,
    if_match: str | None,
) -> None:
    await _set_trashed(pool, spec, source, identity, record_id, True, if_match)


async def restore(
    pool: asyncpg.Pool, spec: RecordSpec, source: str, identity: Identity, record_id: str
) -> dict[str, Any]:
    return await _set_trashed(pool, spec, source, identity, record_id, False)


async def list_records(
    pool: asyncpg.Pool,
    spec: RecordSpec,
    query: Mapping[str, str],
    *,
    extra_conditions: Sequence[str] = (),
) -> dict[str, Any]:
    """A keyset page of live records, with the spec's equality filters (422 names a bad one)."""
    page = parse_page(query, spec.sortable, default_sort=spec.default_sort)
    conditions = ["deleted_at IS NULL", *spec.list_conditions, *extra_conditions]
    params: list[Any] = []
    errors: list[FieldError] = []
    for name, (column, parse) in spec.filters.items():
        if name not in query:
            continue
        try:
            params.append(parse(query[name]))
        except ValueError as exc:
            errors.append(FieldError(name, str(exc) or "Valeur invalide."))
            continue
        placeholder = f"${len(params)}"
        # A filter is "column op" (the value follows) or a template using {p} for the value.
        conditions.append(
            column.format(p=placeholder) if "{p}" in column else f"{column} {placeholder}"
        )
    if errors:
        raise ValidationFailed(errors)
    condition, order_by, after = keyset_sql(page, len(params) + 1)
    conditions.append(condition)
    params += after
    rows = await pool.fetch(
        f"SELECT {spec.columns}, {page.column} AS sort_key FROM {spec.table} "
        f"WHERE {' AND '.join(conditions)} ORDER BY {order_by} LIMIT ${len(params) + 1}",
        *params,
        page.limit + 1,
    )
    return page_result(page, rows, spec.record)


COUNT_CAP = 10_000


async def section(
    conn: asyncpg.Connection,
    spec: RecordSpec,
    column: str,
    value: Any,
    per_tab: int,
    sort: str | None = None,
) -> dict[str, Any]:
    """A tab of a 360° view: the ``per_tab`` first records by ``sort`` (the spec's default sort
    unless told) and the total, capped so the cost stays bounded however many records there
    are. One statement, whatever the data: the capped count is computed once beside the page
    (no rows means a total of 0)."""
    sort = sort or spec.default_sort
    sort_column = spec.sortable[sort.lstrip("-")][0]
    direction = "DESC" if sort.startswith("-") else "ASC"
    where = f"{column} = $1 AND deleted_at IS NULL"
    rows = await conn.fetch(
        f"SELECT {spec.columns}, (SELECT count(*) FROM (SELECT 1 FROM {spec.table} "
        f"WHERE {where} LIMIT $3) AS capped) AS section_total "
        f"FROM {spec.table} WHERE {where} "
        f"ORDER BY {sort_column} {direction}, id {direction} LIMIT $2",
        value,
        per_tab,
        COUNT_CAP + 1,
    )
    total = rows[0]["section_total"] if rows else 0
    return {
        "total": min(total, COUNT_CAP),
        "total_is_capped": total > COUNT_CAP,
        "items": [spec.record(row) for row in rows],
    }


def record_routes(specs: Mapping[str, RecordSpec]) -> list[web.RouteDef]:
    """The conventional routes of each collection: create, list, read, merge-patch, trash,
    restore (``/api/v1/<collection>[/{id}[/restore]]``)."""
    collection = "/api/v1/{collection:" + "|".join(specs) + "}"

    def spec_of(request: web.Request) -> RecordSpec:
        return specs[request.match_info["collection"]]

    def one(request: web.Request, record: dict[str, Any], status: int = 200) -> web.Response:
        return answer(request, record, status).response()

    def answer(request: web.Request, record: dict[str, Any], status: int = 200) -> Answer:
        headers = {"ETag": etag(record["version"])}
        if status == 201:
            headers["Location"] = f"/api/v1/{request.match_info['collection']}/{record['id']}"
        return json_answer(record, status, headers)

    async def create_one(request: web.Request) -> web.Response:
        data = await read_json(request)
        source, identity, pool = (
            request.app[SOURCE_KEY],
            identity_of(request),
            request.app[POOL_KEY],
        )

        async def run(keyed: Keyed | None) -> dict[str, Any]:
            return await create(pool, spec_of(request), source, identity, data, keyed=keyed)

        return await respond(request, pool, run, lambda record: answer(request, record, 201))

    async def list_all(request: web.Request) -> web.Response:
        return json_response(
            await list_records(request.app[POOL_KEY], spec_of(request), request.query)
        )

    async def read_one(request: web.Request) -> web.Response:
        return one(
            request, await get(request.app[POOL_KEY], spec_of(request), request.match_info["id"])
        )

    async def patch_one(request: web.Request) -> web.Response:
        record = await update(
            request.app[POOL_KEY],
            spec_of(request),
            request.app[SOURCE_KEY],
            identity_of(request),
            request.match_info["id"],
            await read_json(request),
            request.headers.get("If-Match"),
        )
        return one(request, record)

    async def trash_one(request: web.Request) -> web.Response:
        await trash(
            request.app[POOL_KEY],
            spec_of(request),
            request.app[SOURCE_KEY],
            identity_of(request),
            request.match_info["id"],
            request.headers.get("If-Match"),
        )
        return web.Response(status=204)

    async def restore_one(request: web.Request) -> web.Response:
        record = await restore(
            request.app[POOL_KEY],
            spec_of(request),
            request.app[SOURCE_KEY],
            identity_of(request),
            request.match_info["id"],
        )
        return one(request, record)

    return [
        web.post(collection, create_one),
        web.get(collection, list_all),
        web.get(collection + "/{id}", read_one),
        web.patch(collection + "/{id}", patch_one),
        web.delete(collection + "/{id}", trash_one),
        web.post(collection + "/{id}/restore", restore_one),
    ]

"""The conventions every record follows, once: create, read, merge-patch with If-Match, trash
and restore, duplicate, keyset lists; each change committed with its event.

A service describes an entity with a ``RecordSpec``, best built from its declaration with
``spec_for(entity, table, **hooks)``: the model, the label, the written and read-only columns
come from the declaration (an address field is kept as its four columns and read back as one
object), the hooks give what only the service knows (rules that need the database, values it
computes, its list's search and filters). SQL is built from the spec's constant names only,
values always travel as parameters.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import asyncpg
from aiohttp import web
from pydantic import BaseModel

from .entities import Entity, Lock
from .errors import Conflict, FieldError, NotFound, ValidationFailed
from .events import jsonable
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
# rules(values, bad) -> errors between fields, without I/O: ``values`` are the validated fields
# (``bad`` is empty), or the raw data of a body that failed validation with the names of its bad
# fields (dotted: "address.postal_code"), to report at once what can still be judged.
Rules = Callable[[Mapping[str, Any], frozenset[str]], list[FieldError]]
# derive(values, old record) -> columns the system computes from them (written with the fields).
Derive = Callable[[dict[str, Any], Mapping[str, Any] | None], dict[str, Any]]
FilterParser = Callable[[str], Any]
# guard(old row): raise (e.g. Conflict) when the record may no longer change or go to the trash.
Guard = Callable[[Mapping[str, Any]], None]
Shape = Callable[[dict[str, Any]], dict[str, Any]]
# Values set when a record is created, inside its transaction (e.g. a number from a sequence).
Prepare = Callable[[asyncpg.Connection, dict[str, Any]], Awaitable[dict[str, Any]]]
# A read-only field computed from the row (its columns are the spec's ``hidden`` ones).
Compute = Callable[[Mapping[str, Any]], Any]
# defaults(identity) -> values a creation takes for the fields its body leaves out.
Defaults = Callable[[Identity], dict[str, Any]]
# param(value) -> its placeholder ("$3"): how a list hook passes a value to its SQL.
Param = Callable[[Any], str]
# search(text of ?q=, param) -> SQL conditions; ValueError names what is wrong with the text.
Search = Callable[[str, Param], list[str]]
# sort_of(query) -> the list's default sort for this query (the spec's default_sort otherwise).
SortOf = Callable[[Mapping[str, str]], str]
# copy(fields of the original, as a client writes them) -> the body that creates the duplicate.
Copy = Callable[[dict[str, Any]], dict[str, Any]]


async def _no_check(*_args: Any) -> list[FieldError]:
    return []


def _no_rules(_values: Mapping[str, Any], _bad: frozenset[str]) -> list[FieldError]:
    return []


def _no_derive(_values: dict[str, Any], _old: Mapping[str, Any] | None) -> dict[str, Any]:
    return {}


def _no_guard(_row: Mapping[str, Any]) -> None:
    return None


def _no_defaults(_identity: Identity) -> dict[str, Any]:
    return {}


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
    declaration: Entity | None = None  # the entity it was built from (``spec_for``)
    # A written field kept as several columns and read back as one object: address -> columns.
    nested: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    computed: Mapping[str, Compute] = field(default_factory=dict)  # read-only, from the row
    # Columns read for the computed fields and written by ``derive`` only, never shown as such
    # (a derive result names them when it sets them; absent, they keep their value).
    hidden: tuple[str, ...] = ()
    rules: Rules = _no_rules
    defaults: Defaults = _no_defaults
    search: Search | None = None  # what ``?q=`` searches
    sort_of: SortOf | None = None
    trash_listed: bool = False  # ``?trashed=true`` lists the trash instead of the live records
    not_found_text: str = ""  # the 404's message, when "Aucune fiche <label>..." reads badly
    not_in_trash_text: str = ""  # the 409's message of a restore of a live record
    copy: Copy | None = None  # the record can be duplicated: how its copy differs

    # Computed once per spec (the record of every row read uses them).
    @cached_property
    def editable(self) -> tuple[str, ...]:
        return tuple(self.model.model_fields)

    @cached_property
    def written(self) -> tuple[str, ...]:
        """The columns a write sets from the client's fields and ``derive``."""
        columns: list[str] = []
        for name in self.editable:
            columns.extend(self.nested.get(name, (name,)))
        return (*columns, *self.derived)

    @cached_property
    def shown(self) -> tuple[str, ...]:
        """The record's keys, in the declaration's order when there is one."""
        if self.declaration is not None:
            return ("id", *(f.name for f in self.declaration.fields), *SYSTEM_COLUMNS)
        fields = (*self.editable, *self.derived, *self.read_only_extra, *self.computed)
        return ("id", *fields, *SYSTEM_COLUMNS)

    @cached_property
    def read_only(self) -> tuple[str, ...]:
        """What a client reads but may not write (echoing it back unchanged is allowed)."""
        return (*READ_ONLY, *self.derived, *self.read_only_extra, *self.computed)

    @cached_property
    def columns(self) -> str:
        """The SELECT list of a record's row."""
        selected = ("id", *self.written, *self.read_only_extra, *self.hidden, *SYSTEM_COLUMNS)
        return ", ".join((*selected, "deleted_at"))

    @cached_property
    def _layout(self) -> tuple[tuple[str, Any], ...]:
        """How each key of the record is read: None (its column), columns (a nested object) or
        a function of the row."""
        return tuple((key, self.nested.get(key) or self.computed.get(key)) for key in self.shown)

    @cached_property
    def _flat(self) -> bool:
        return not (self.nested or self.computed)

    def record(self, row: Mapping[str, Any]) -> dict[str, Any]:
        if self._flat:
            return self.shape({name: row[name] for name in self.shown})
        record: dict[str, Any] = {}
        for key, how in self._layout:
            if how is None:
                record[key] = row[key]
            elif isinstance(how, tuple):
                record[key] = {column: row[column] for column in how}
            else:
                record[key] = how(row)
        return self.shape(record)

    def row_values(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The columns a write sets, from validated (and derived) values."""
        columns: dict[str, Any] = {}
        for name in self.editable:
            parts = self.nested.get(name)
            if parts is None:
                columns[name] = values[name]
            else:
                columns.update({part: values[name][part] for part in parts})
        columns.update({name: values[name] for name in self.derived})
        columns.update({name: values[name] for name in self.hidden if name in values})
        return columns

    def not_found(self) -> NotFound:
        return NotFound(
            self.not_found_text or f"Aucune fiche {self.label} ne porte cet identifiant."
        )

    def not_in_trash(self) -> Conflict:
        return Conflict(
            self.not_in_trash_text or f"Cette fiche {self.label} n'est pas dans la corbeille."
        )


# The kinds a declared sort can use as its own column, and how pagination compares them.
_SORT_KINDS: dict[str, ColumnKind] = {
    **dict.fromkeys(("text", "list", "email", "url", "phone", "identifier"), "text"),
    **dict.fromkeys(("number", "percent"), "int"),
    **dict.fromkeys(("decimal", "money"), "numeric"),
    "datetime": "timestamptz",
}


def sortable_of(entity: Entity) -> dict[str, tuple[str, ColumnKind]]:
    """The sorts of a declaration whose column is the field itself (or a system time); any
    other sort (a folded key, a date) is given by the service (``spec_for(sortable=...)``)."""
    sortable: dict[str, tuple[str, ColumnKind]] = {}
    for name in entity.sorts:
        if name in ("created_at", "updated_at"):
            sortable[name] = (name, "timestamptz")
            continue
        kind = next((f.kind for f in entity.fields if f.name == name), "")
        if kind not in _SORT_KINDS:
            raise ValueError(f"{entity.name}: sort {name!r} ({kind}) needs its sortable column")
        sortable[name] = (name, _SORT_KINDS[kind])
    return sortable


def spec_for(entity: Entity, table: str, **hooks: Any) -> RecordSpec:
    """The kernel's spec of a declared entity.

    From the declaration: the event entity, the label of messages (the entity's, lower case),
    the model, the default sort, the list of the trash (a filter named "trashed"), the nested
    columns of address fields, and the read-only fields: computed ones (``computed``: name ->
    function of the row, reading the ``hidden`` columns), ``derived`` ones (columns ``derive``
    writes) and the rest as read-only columns. ``hooks`` are the other RecordSpec fields
    (check, rules, derive, defaults, search, sortable, sort_of, filters, copy...); ``sortable``
    defaults to the declared sorts on columns of the same name."""
    computed: Mapping[str, Compute] = hooks.pop("computed", {})
    derived: tuple[str, ...] = tuple(hooks.pop("derived", ()))
    declared = {f.name for f in entity.fields}
    unknown = [name for name in (*computed, *derived) if name not in declared]
    if unknown:
        raise ValueError(f"{entity.name}: {unknown} are not declared fields")
    if any(f.kind == "address" and f.read_only for f in entity.fields):
        raise ValueError(f"{entity.name}: an address is written by clients")
    read_only = tuple(f.name for f in entity.read_only if f.name not in (*computed, *derived))
    if "sortable" not in hooks:
        hooks["sortable"] = sortable_of(entity)
    hooks.setdefault("default_sort", entity.default_sort)
    hooks.setdefault("label", entity.label.lower())
    if entity.lock is not None:
        hooks.setdefault("guard", locked_guard(entity.lock))
    return RecordSpec(
        entity=entity.name,
        table=table,
        model=entity.model,
        derived=derived,
        read_only_extra=read_only,
        declaration=entity,
        nested={f.name: f.columns for f in entity.writable if f.kind == "address"},
        computed=computed,
        trash_listed=any(f.name == "trashed" for f in entity.filters),
        **hooks,
    )


def locked_guard(lock: Lock) -> Guard:
    """The guard of a declared lock: 409 with its reason once the record is locked."""

    def guard(row: Mapping[str, Any]) -> None:
        if row[lock.field] not in lock.editable:
            raise Conflict(lock.reason)

    return guard


# A value as a client writes it back (and as the API and the events show it): ids, money and
# dates as strings, nested objects and lists value by value. The one conversion, shared with the
# events (services/common/events.py, where it lives since the outbox imports it).
as_json = jsonable


def writable_doc(spec: RecordSpec, record: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of ``record`` a client may write, as JSON values, the empty ones left out."""
    return {k: as_json(record[k]) for k in spec.editable if record.get(k) is not None}


async def _validated(
    conn: asyncpg.Connection,
    spec: RecordSpec,
    data: Any,
    old: Mapping[str, Any] | None,
    identity: Identity,
) -> dict[str, Any]:
    fields, errors = try_validate(spec.model, data)
    if fields is None:
        if isinstance(data, dict):  # report what can still be judged, at once
            bad = frozenset(error.field for error in errors)
            errors += spec.rules(data, bad)
            if spec.check_raw:
                tops = {name.split(".")[0] for name in bad}
                raw = {k: v for k, v in data.items() if k not in tops}
                checked = await spec.check(conn, raw, old, identity)
                errors += [e for e in checked if e.field not in tops]
        raise ValidationFailed(errors)
    values = fields.model_dump()
    errors = spec.rules(values, frozenset())
    values.update(spec.derive(values, old))
    errors += await spec.check(conn, values, old, identity)
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
    if isinstance(data, dict):
        data = {**spec.defaults(identity), **data}
    async with pool.acquire() as conn, conn.transaction():
        if keyed is not None:
            await keyed.claim(conn)  # raises Replay when the key was used
        values = await _validated(conn, spec, data, None, identity)
        for step in (spec.prepare, prepare):
            if step is not None:
                extra.update(await step(conn, values))
        columns = {**spec.row_values(values), **extra}
        placeholders = ", ".join(f"${i}" for i in range(2, len(columns) + 2))
        actor = f"${len(columns) + 2}"
        statement = (
            f"INSERT INTO {spec.table} (id, {', '.join(columns)}, created_by, updated_by) "
            f"VALUES ($1, {placeholders}, {actor}, {actor}) RETURNING {spec.columns}"
        )
        row = await conn.fetchrow(statement, uuid.uuid4(), *columns.values(), identity.username)
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


def _record_id(spec: RecordSpec, record_id: str | uuid.UUID) -> uuid.UUID:
    if isinstance(record_id, uuid.UUID):
        return record_id
    return parse_record_id(record_id, f"fiche {spec.label}")


async def fetch_live(
    conn: asyncpg.Pool | asyncpg.Connection, spec: RecordSpec, record_id: str | uuid.UUID
) -> asyncpg.Record:
    """The row of a record out of the trash (404 otherwise)."""
    row = await conn.fetchrow(
        f"SELECT {spec.columns} FROM {spec.table} WHERE id = $1 AND deleted_at IS NULL",
        _record_id(spec, record_id),
    )
    if row is None:
        raise spec.not_found()
    return row


async def get(pool: asyncpg.Pool, spec: RecordSpec, record_id: str) -> dict[str, Any]:
    return spec.record(await fetch_live(pool, spec, record_id))


async def lock(
    conn: asyncpg.Connection, spec: RecordSpec, record_id: str, *, live: bool = True
) -> asyncpg.Record:
    """The record's row, locked until the transaction ends (404 when absent, or trashed if
    ``live``)."""
    row = await conn.fetchrow(
        f"SELECT {spec.columns} FROM {spec.table} WHERE id = $1 FOR UPDATE",
        _record_id(spec, record_id),
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


def _echoed_as_read(
    spec: RecordSpec, current: Mapping[str, Any], name: str, echoed: Any, conditional: bool
) -> bool:
    """Whether a read-only field sent back is what the client may have read: its value now; for
    derived data (a location), also null, read before the system computed it under the same
    ETag; for the system columns of a conditional write, anything (If-Match decides)."""
    if echoed == as_json(current.get(name)):
        return True
    if name in spec.computed and echoed is None:
        return True
    return conditional and name in SYSTEM_COLUMNS


def _patched(
    spec: RecordSpec, current: dict[str, Any], patch: Any, *, conditional: bool = False
) -> dict[str, Any]:
    """The document after ``patch``; read-only fields may be echoed back as read, not changed."""
    if not isinstance(patch, dict):
        raise ValidationFailed([FieldError("body", "Doit être un objet JSON (merge patch).")])
    refuse_unknown_fields(patch, (*spec.editable, *spec.read_only))
    errors = [
        FieldError(name, "Champ en lecture seule.")
        for name in spec.read_only
        if name in patch and not _echoed_as_read(spec, current, name, patch[name], conditional)
    ]
    if errors:
        raise ValidationFailed(errors)
    writable = {k: v for k, v in patch.items() if k not in spec.read_only}
    return merge_patch(writable_doc(spec, current), writable)  # type: ignore[no-any-return]


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
        document = _patched(spec, old, patch, conditional=if_match is not None)
        values = await _validated(conn, spec, document, old, identity)
        check_if_match(if_match, row["version"])  # a bad request is a 422 whatever the version
        sets = spec.row_values(values)
        if all(sets[n] == row[n] for n in spec.written):
            return old  # nothing changed: no new version, no event
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
            raise spec.not_in_trash()
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


async def duplicate(
    pool: asyncpg.Pool,
    spec: RecordSpec,
    source: str,
    identity: Identity,
    record_id: str,
    *,
    keyed: Keyed | None = None,
) -> dict[str, Any]:
    """A new record made of the fields of a live one, as ``spec.copy`` adjusts them; its
    creation's event names the original (context ``duplicated_from``)."""
    original = await get(pool, spec, record_id)
    body = writable_doc(spec, original)
    if spec.copy is not None:
        body = spec.copy(body)
    context = {"duplicated_from": str(original["id"])}
    return await create(pool, spec, source, identity, body, context=context, keyed=keyed)


def _trash_condition(spec: RecordSpec, query: Mapping[str, str]) -> tuple[str, list[FieldError]]:
    if not spec.trash_listed:
        return "deleted_at IS NULL", []
    trashed = query.get("trashed", "false").lower()
    errors = []
    if trashed not in ("true", "false", "1", "0"):
        errors.append(FieldError("trashed", "Doit valoir true ou false."))
    return ("deleted_at IS NOT NULL" if trashed in ("true", "1") else "deleted_at IS NULL"), errors


async def list_records(
    pool: asyncpg.Pool,
    spec: RecordSpec,
    query: Mapping[str, str],
    *,
    extra_conditions: Sequence[str] = (),
) -> dict[str, Any]:
    """A keyset page of live records (or of the trash, ``?trashed=true``, when the spec lists
    it), searched with ``?q=`` by the spec's search and filtered by its filters (422 names each
    bad one).

    With ``?total=true`` the answer also carries ``total``, the number of records the search,
    filters and trash condition match on every page (the cursor aside), capped at ``COUNT_CAP``
    like a 360° tab's, and ``total_is_capped``: counted in the page's own statement (a second
    one only for a page that came back empty). Without it, the statement is unchanged."""
    default_sort = spec.sort_of(query) if spec.sort_of is not None else spec.default_sort
    page = parse_page(query, spec.sortable, default_sort=default_sort)
    trash_condition, errors = _trash_condition(spec, query)
    counted = _wants_total(query, errors)
    conditions = [trash_condition, *spec.list_conditions, *extra_conditions]
    params: list[Any] = []

    def param(value: Any) -> str:
        params.append(value)
        return f"${len(params)}"

    if spec.search is not None and "q" in query:
        try:
            conditions += spec.search(query["q"], param)
        except ValueError as exc:
            errors.append(FieldError("q", str(exc) or "Valeur invalide."))
    for name, (column, parse) in spec.filters.items():
        if name not in query:
            continue
        try:
            placeholder = param(parse(query[name]))
        except ValueError as exc:
            errors.append(FieldError(name, str(exc) or "Valeur invalide."))
            continue
        # A filter is "column op" (the value follows) or a template using {p} for the value.
        conditions.append(
            column.format(p=placeholder) if "{p}" in column else f"{column} {placeholder}"
        )
    if errors:
        raise ValidationFailed(errors)
    matched = " AND ".join(conditions)  # what the total counts: every page's records
    count, total_column = "", ""
    if counted:
        count = _capped_count(spec.table, matched, param(COUNT_CAP + 1))
        total_column = f", ({count}) AS list_total"
    before_cursor = len(params)
    condition, order_by, after = keyset_sql(page, len(params) + 1)
    conditions.append(condition)
    params += after
    rows = await pool.fetch(
        f"SELECT {spec.columns}, {page.column} AS sort_key{total_column} FROM {spec.table} "
        f"WHERE {' AND '.join(conditions)} ORDER BY {order_by} LIMIT ${len(params) + 1}",
        *params,
        page.limit + 1,
    )
    result = page_result(page, rows, spec.record)
    if counted:
        if rows:
            total = rows[0]["list_total"]
        elif page.after is None:
            total = 0  # nothing matches at all
        else:  # past the last record (it went meanwhile): counted apart, without the cursor
            total = await pool.fetchval(count, *params[:before_cursor])
        result["total"] = min(total, COUNT_CAP)
        result["total_is_capped"] = total > COUNT_CAP
    return result


def _wants_total(query: Mapping[str, str], errors: list[FieldError]) -> bool:
    wanted = query.get("total", "false").lower()
    if wanted not in ("true", "false", "1", "0"):
        errors.append(FieldError("total", "Doit valoir true ou false."))
        return False
    return wanted in ("true", "1")


def _capped_count(table: str, where: str, cap: str) -> str:
    """How many rows of ``table`` match ``where``, counting no further than ``cap`` rows."""
    return f"SELECT count(*) FROM (SELECT 1 FROM {table} WHERE {where} LIMIT {cap}) AS capped"


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


def record_routes(
    specs: Mapping[str, RecordSpec], *, list_pool: web.AppKey[asyncpg.Pool] | None = None
) -> list[web.RouteDef]:
    """The conventional routes of each collection: create, list, read, merge-patch, trash,
    restore (``/api/v1/<collection>[/{id}[/restore]]``), and duplicate (``/{id}/duplicate``)
    for the specs that say how a copy differs. ``list_pool``: the app's pool the lists read
    from, when not its main one."""
    collection = "/api/v1/{collection:" + "|".join(specs) + "}"
    copied = [name for name, spec in specs.items() if spec.copy is not None]

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
        pool = request.app[list_pool if list_pool is not None else POOL_KEY]
        return json_response(await list_records(pool, spec_of(request), request.query))

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

    async def duplicate_one(request: web.Request) -> web.Response:
        source, identity, pool = (
            request.app[SOURCE_KEY],
            identity_of(request),
            request.app[POOL_KEY],
        )

        async def run(keyed: Keyed | None) -> dict[str, Any]:
            spec, record_id = spec_of(request), request.match_info["id"]
            return await duplicate(pool, spec, source, identity, record_id, keyed=keyed)

        return await respond(request, pool, run, lambda record: answer(request, record, 201))

    duplicates = "/api/v1/{collection:" + "|".join(copied) + "}/{id}/duplicate"
    return [
        web.post(collection, create_one),
        web.get(collection, list_all),
        web.get(collection + "/{id}", read_one),
        web.patch(collection + "/{id}", patch_one),
        web.delete(collection + "/{id}", trash_one),
        web.post(collection + "/{id}/restore", restore_one),
        *([web.post(duplicates, duplicate_one)] if copied else []),
    ]

"""Use cases of activities: the specs of actions, opportunities and projects for the common
record conventions, and the rules that need the data (references, same account)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import asyncpg

from services.common import crud
from services.common.entities import Entity
from services.common.errors import FieldError
from services.common.identity import Identity
from services.common.replica import changed, check_account_and_contact, uuid_filter

from . import domain
from .entities import ACTION, ENTITIES, OPPORTUNITY, PROJECT
from .schemas import CallRecord


def _one_of(*allowed: str) -> crud.FilterParser:
    def parse(text: str) -> str:
        if text not in allowed:
            raise ValueError(f"Valeurs possibles : {', '.join(allowed)}.")
        return text

    return parse


async def _same_account(
    conn: asyncpg.Connection,
    values: dict[str, Any],
    old: Mapping[str, Any] | None,
    field: str,
    table: str,
) -> list[FieldError]:
    if not changed(values, old, field) and not (
        values.get(field) and changed(values, old, "account_id")
    ):
        return []
    owner = await conn.fetchrow(
        f"SELECT account_id FROM {table} WHERE id = $1 AND deleted_at IS NULL", values[field]
    )
    if owner is None:
        return [FieldError(field, "Aucune fiche ne porte cet identifiant.")]
    if owner["account_id"] != values.get("account_id"):
        return [FieldError(field, "Doit appartenir au même compte.")]
    return []


def _errors(problems: list[tuple[str, str]]) -> list[FieldError]:
    return [FieldError(field, message) for field, message in problems]


async def check_action(
    conn: asyncpg.Connection,
    values: dict[str, Any],
    old: Mapping[str, Any] | None,
    _identity: Identity,
) -> list[FieldError]:
    errors = _errors(domain.action_problems(values))
    if errors:
        return errors
    errors += await check_account_and_contact(conn, values, old)
    errors += await _same_account(conn, values, old, "opportunity_id", "opportunities")
    errors += await _same_account(conn, values, old, "project_id", "projects")
    return errors


def derive_action(values: dict[str, Any], _old: Mapping[str, Any] | None) -> dict[str, Any]:
    if values.get("status") is None:
        happened = values.get("occurred_at") is not None and values.get("due_at") is None
        return {"status": "done" if happened else "planned"}
    return {}


async def check_opportunity(
    conn: asyncpg.Connection,
    values: dict[str, Any],
    old: Mapping[str, Any] | None,
    _identity: Identity,
) -> list[FieldError]:
    return await check_account_and_contact(conn, values, old)


def derive_opportunity(values: dict[str, Any], old: Mapping[str, Any] | None) -> dict[str, Any]:
    return domain.opportunity_derived(values, dict(old) if old is not None else None)


async def check_project(
    conn: asyncpg.Connection,
    values: dict[str, Any],
    old: Mapping[str, Any] | None,
    _identity: Identity,
) -> list[FieldError]:
    errors = _errors(domain.project_problems(values))
    errors += await check_account_and_contact(conn, values, old)
    errors += await _same_account(conn, values, old, "opportunity_id", "opportunities")
    return errors


def declared_filters(entity: Entity) -> dict[str, tuple[str, crud.FilterParser]]:
    """The list filters of ``entity``, from its declaration: a connection takes an id, a list
    one of its field's codes."""
    filters: dict[str, tuple[str, crud.FilterParser]] = {}
    for item in entity.filters:
        if item.kind == "connection":
            filters[item.name] = (f"{item.name} =", uuid_filter)
        else:
            codes = [code for code, _ in entity.field(item.name).choices]
            filters[item.name] = (f"{item.name} =", _one_of(*codes))
    return filters


ACTIONS = crud.spec_for(
    ACTION,
    "actions",
    # When it happened or is due (its creation when it has neither date): a stored column.
    sortable={**crud.sortable_of(ACTION), "occurred_at": ("sort_at", "timestamptz")},
    filters=declared_filters(ACTION),
    check=check_action,
    derive=derive_action,
)
OPPORTUNITIES = crud.spec_for(
    OPPORTUNITY,
    "opportunities",
    derived=("closed_at",),
    filters=declared_filters(OPPORTUNITY),
    check=check_opportunity,
    derive=derive_opportunity,
)
PROJECTS = crud.spec_for(
    PROJECT, "projects", filters=declared_filters(PROJECT), check=check_project
)
SPECS = {
    ACTION.collection: ACTIONS,
    OPPORTUNITY.collection: OPPORTUNITIES,
    PROJECT.collection: PROJECTS,
}

SELECT_CALL_ACTION = f"SELECT {ACTIONS.columns} FROM actions WHERE call_id = $1"


async def record_call(
    pool: asyncpg.Pool, source: str, identity: Identity, call_id: str, call: CallRecord
) -> tuple[dict[str, Any], bool]:
    """The `call` action of a finished call, once per call id: (action, created now)."""
    existing = await pool.fetchrow(SELECT_CALL_ACTION, call_id)
    if existing is not None:
        return ACTIONS.record(existing), False
    outbound = call.direction == "out"
    minutes, seconds = divmod(call.duration_seconds, 60)
    data = {
        "type": "call",
        "subject": f"Appel {'sortant vers' if outbound else 'entrant de'} {call.number}",
        "account_id": str(call.account_id) if call.account_id else None,
        "contact_id": str(call.contact_id) if call.contact_id else None,
        "status": "done",
        "occurred_at": call.occurred_at.isoformat(),
        "direction": call.direction,
        "duration_seconds": call.duration_seconds,
        "description": f"Durée : {minutes} min {seconds:02d} s.",
    }
    try:
        record = await crud.create(
            pool, ACTIONS, source, identity, data, extra={"call_id": call_id}
        )
    except asyncpg.UniqueViolationError:  # the same call recorded meanwhile by another copy
        row = await pool.fetchrow(SELECT_CALL_ACTION, call_id)
        return ACTIONS.record(row), False
    return record, True


async def account_view(
    conn: asyncpg.Connection, account_id: uuid.UUID, per_tab: int
) -> dict[str, Any]:
    """The activities service's part of the 360° view: three tabs, three statements, each
    as its declaration's tab says (the field naming the account, the order)."""
    sections: dict[str, Any] = {}
    for entity in ENTITIES:
        if entity.tab is not None:
            spec = SPECS[entity.collection]
            sections[entity.collection] = await crud.section(
                conn, spec, entity.tab.link, account_id, per_tab, entity.tab.sort
            )
    return sections

"""Use cases of activities: the specs of actions, opportunities and projects for the common
record conventions, and the rules that need the data (references, same account)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import asyncpg

from services.common import crud
from services.common.errors import FieldError
from services.common.identity import Identity
from services.common.replica import changed, check_account_and_contact, uuid_filter

from . import domain
from .schemas import ActionFields, CallRecord, OpportunityFields, ProjectFields


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


ACTIONS = crud.RecordSpec(
    entity="action",
    table="actions",
    label="action",
    model=ActionFields,
    read_only_extra=("call_id",),
    sortable={
        "occurred_at": ("sort_at", "timestamptz"),
        "created_at": ("created_at", "timestamptz"),
        "updated_at": ("updated_at", "timestamptz"),
    },
    default_sort="-occurred_at",
    filters={
        "account_id": ("account_id =", uuid_filter),
        "contact_id": ("contact_id =", uuid_filter),
        "opportunity_id": ("opportunity_id =", uuid_filter),
        "project_id": ("project_id =", uuid_filter),
        "type": ("type =", _one_of(*domain.codes(domain.ACTION_TYPES))),
        "status": ("status =", _one_of(*domain.codes(domain.ACTION_STATUSES))),
        "direction": ("direction =", _one_of("in", "out")),
    },
    check=check_action,
    derive=derive_action,
)
OPPORTUNITIES = crud.RecordSpec(
    entity="opportunity",
    table="opportunities",
    label="affaire",
    model=OpportunityFields,
    derived=("closed_at",),
    sortable={
        "created_at": ("created_at", "timestamptz"),
        "updated_at": ("updated_at", "timestamptz"),
        "name": ("name", "text"),
    },
    filters={
        "account_id": ("account_id =", uuid_filter),
        "contact_id": ("contact_id =", uuid_filter),
        "stage": ("stage =", _one_of(*domain.STAGES)),
    },
    check=check_opportunity,
    derive=derive_opportunity,
)
PROJECTS = crud.RecordSpec(
    entity="project",
    table="projects",
    label="projet",
    model=ProjectFields,
    sortable={
        "created_at": ("created_at", "timestamptz"),
        "updated_at": ("updated_at", "timestamptz"),
        "name": ("name", "text"),
    },
    filters={
        "account_id": ("account_id =", uuid_filter),
        "opportunity_id": ("opportunity_id =", uuid_filter),
        "status": ("status =", _one_of(*domain.codes(domain.PROJECT_STATUSES))),
    },
    check=check_project,
)
SPECS = {"actions": ACTIONS, "opportunities": OPPORTUNITIES, "projects": PROJECTS}

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
    """The activities service's part of the 360° view: three tabs, three statements."""
    return {
        name: await crud.section(conn, spec, "account_id", account_id, per_tab)
        for name, spec in SPECS.items()
    }

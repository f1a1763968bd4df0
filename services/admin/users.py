"""User commands, through the gateway's own use cases: each change is an event of the gateway's
outbox (so an audit entry) with the actor ``crm-admin``."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.common.errors import NotFound, ValidationFailed
from services.common.validation import validate
from services.gateway import domain, service
from services.gateway import repository as sql
from services.gateway.schemas import UserCreate

from .config import ACTOR
from .connect import CommandError

GATEWAY_SOURCE = "/services/gateway"


def invalid(exc: ValidationFailed) -> CommandError:
    details = "; ".join(f"{error.field} : {error.message}" for error in exc.errors)
    return CommandError(f"Refusé : {details}")


async def find_user(pool: asyncpg.Pool, username: str) -> asyncpg.Record:
    row = await pool.fetchrow(sql.SELECT_LOGIN, username)
    if row is None:
        raise CommandError(f"Aucun utilisateur « {username} ».")
    return row


async def create(
    pool: asyncpg.Pool,
    username: str,
    role: str,
    password: str | None,
    display_name: str = "",
    email: str | None = None,
) -> tuple[dict[str, Any], str | None]:
    """The created user, and the generated password when none was given."""
    generated = domain.generate_password() if password is None else None
    fields: dict[str, Any] = {
        "username": username,
        "password": password if password is not None else generated,
        "role": role,
        "display_name": display_name,
        "email": email,
    }
    try:
        body = validate(UserCreate, fields)
    except ValidationFailed as exc:
        raise invalid(exc) from exc
    created = await service.create_user(pool, GATEWAY_SOURCE, ACTOR, body)
    if created is None:
        raise CommandError(f"L'identifiant « {username} » est déjà pris.")
    return created, generated


async def reset_password(pool: asyncpg.Pool, username: str, password: str | None) -> str | None:
    """Set a new password, ending every session of the user (the generated password is
    returned when none was given)."""
    row = await find_user(pool, username)
    generated = domain.generate_password() if password is None else None
    new_password = password if password is not None else generated
    assert new_password is not None
    try:
        await service.admin_reset_password(
            pool, GATEWAY_SOURCE, ACTOR, str(row["id"]), new_password
        )
    except ValidationFailed as exc:
        raise invalid(exc) from exc
    except NotFound as exc:
        raise CommandError(f"Aucun utilisateur « {username} ».") from exc
    return generated


async def deactivate(pool: asyncpg.Pool, username: str) -> bool:
    """Deactivate a user and end their sessions; False when they already were inactive (their
    sessions are ended all the same)."""
    row = await find_user(pool, username)
    try:
        await service.deactivate_user(pool, GATEWAY_SOURCE, ACTOR, str(row["id"]))
    except NotFound as exc:
        raise CommandError(f"Aucun utilisateur « {username} ».") from exc
    return bool(row["active"])

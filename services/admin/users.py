"""User commands, through the gateway's own use cases: each change is an event of the gateway's
outbox (so an audit entry) with the actor ``crm-admin``."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from services.common.errors import Conflict, NotFound, ValidationFailed
from services.common.identity import Identity
from services.common.validation import validate
from services.gateway import domain, service
from services.gateway import repository as sql
from services.gateway.schemas import PasswordChange, UserCreate

from .config import ACTOR
from .connect import CommandError

GATEWAY_SOURCE = "/services/gateway"
# Who the gateway's use cases see: an administrator that is no stored user.
ADMIN_IDENTITY = Identity(str(uuid.UUID(int=0)), ACTOR, "admin")


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
    """Set a new password (the generated one is returned when none was given)."""
    row = await find_user(pool, username)
    generated = domain.generate_password() if password is None else None
    new_password = password if password is not None else generated
    try:
        body = validate(PasswordChange, {"new_password": new_password})
        await service.change_password(pool, GATEWAY_SOURCE, ADMIN_IDENTITY, str(row["id"]), body)
    except ValidationFailed as exc:
        raise invalid(exc) from exc
    except NotFound as exc:
        raise CommandError(f"Aucun utilisateur « {username} ».") from exc
    return generated


async def deactivate(pool: asyncpg.Pool, username: str) -> bool:
    """Deactivate a user (which ends their sessions); False when they already were."""
    row = await find_user(pool, username)
    if not row["active"]:
        return False
    try:
        await service.update_user(
            pool, GATEWAY_SOURCE, ADMIN_IDENTITY, str(row["id"]), {"active": False}, None,
            own_profile=False,
        )  # fmt: skip
    except (NotFound, Conflict) as exc:
        raise CommandError(exc.detail) from exc
    return True

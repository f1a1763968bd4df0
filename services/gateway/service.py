"""Use cases of the gateway's own data: users, their login, the admin bootstrap."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Mapping
from typing import Any

import asyncpg

from services.common.errors import (
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    Unauthorized,
    ValidationFailed,
)
from services.common.identity import Identity
from services.common.outbox import record_change
from services.common.pagination import keyset_sql, page_result, parse_page
from services.common.records import check_if_match, merge_patch, parse_record_id
from services.common.validation import validate

from . import domain
from . import repository as sql
from .schemas import PasswordChange, ProfileFields, UserCreate, UserFields

SYSTEM_ACTOR = "system"
ENTITY = "user"


def user_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """A user as the API and the events show it: never the password hash."""
    return {k: row[k] for k in sql.USER_COLUMNS.replace(" ", "").split(",")}


async def create_user(
    pool: asyncpg.Pool, source: str, actor: str, body: UserCreate
) -> dict[str, Any] | None:
    """Create a user (and its event); None when the login name is taken."""
    password_hash = await asyncio.to_thread(domain.hash_password, body.password)
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            sql.INSERT_USER,
            uuid.uuid4(),
            body.username,
            body.display_name,
            body.role,
            password_hash,
            actor,
            body.email,
            body.phone_extension,
        )
        if row is None:
            return None
        record = user_record(row)
        await record_change(
            conn, source=source, entity=ENTITY, change="created", record=record, actor=actor
        )
    return record


async def add_user(
    pool: asyncpg.Pool, source: str, identity: Identity, body: UserCreate
) -> dict[str, Any]:
    _admin_only(identity)
    created = await create_user(pool, source, identity.username, body)
    if created is None:
        raise Conflict(f"L'identifiant « {body.username} » est déjà pris.")
    return created


async def bootstrap_admin(pool: asyncpg.Pool, source: str, password: str | None) -> None:
    """Create ``admin`` on first start; a generated password is printed once, never logged."""
    generated = password is None
    chosen = password if password is not None else domain.generate_password()
    body = UserCreate.model_construct(
        username="admin", password=chosen, role="admin", display_name="Administrateur",
        email=None, phone_extension=None,
    )  # fmt: skip
    created = await create_user(pool, source, SYSTEM_ACTOR, body)
    if created is not None and generated:
        # Shown once to the operator, on purpose not through logging.
        print(
            "\n*** Utilisateur admin créé. Mot de passe généré (affiché une seule fois) : "
            f"{chosen}\n",
            file=sys.stderr,
            flush=True,
        )


async def login(pool: asyncpg.Pool, username: str, password: str) -> Identity:
    row = await pool.fetchrow(sql.SELECT_LOGIN, username)
    stored = row["password_hash"] if row is not None and row["active"] else None
    if not await asyncio.to_thread(domain.verify_password, stored, password) or row is None:
        raise Unauthorized("Identifiant ou mot de passe incorrect.")
    return Identity(str(row["id"]), row["username"], row["role"])


def _admin_only(identity: Identity) -> None:
    if identity.role != "admin":
        raise Forbidden("Seuls les administrateurs gèrent les utilisateurs.")


async def get_user(pool: asyncpg.Pool, identity: Identity, user_id: str) -> dict[str, Any]:
    if user_id != identity.user_id:
        _admin_only(identity)
    row = await pool.fetchrow(sql.SELECT_USER, parse_record_id(user_id, "fiche utilisateur"))
    if row is None:
        raise NotFound("Utilisateur introuvable.")
    return user_record(row)


async def list_users(
    pool: asyncpg.Pool, identity: Identity, query: Mapping[str, str]
) -> dict[str, Any]:
    _admin_only(identity)
    page = parse_page(query, sql.USER_SORTABLE, default_sort="username")
    condition, order_by, params = keyset_sql(page, 1)
    rows = await pool.fetch(
        sql.list_users_sql(condition, order_by, len(params) + 1), *params, page.limit + 1
    )
    return page_result(page, rows, user_record)


async def update_user(
    pool: asyncpg.Pool,
    source: str,
    identity: Identity,
    user_id: str,
    patch: Any,
    if_match: str | None,
    *,
    own_profile: bool,
) -> dict[str, Any]:
    """Merge-patch a user: admins change any field, users their own profile's."""
    if not own_profile:
        _admin_only(identity)
    if not isinstance(patch, dict):
        raise ValidationFailed([FieldError("body", "Doit être un objet JSON (merge patch).")])
    model = ProfileFields if own_profile else UserFields
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(sql.LOCK_USER, parse_record_id(user_id, "fiche utilisateur"))
        if row is None:
            raise NotFound("Utilisateur introuvable.")
        old = user_record(row)
        current = {k: old[k] for k in model.model_fields if old[k] is not None}
        fields = validate(model, merge_patch(current, patch))
        check_if_match(if_match, row["version"])  # a bad request is a 422 whatever the version
        values = {**old, **fields.model_dump()}
        if values == old:
            return old
        if (
            row["id"] == uuid.UUID(identity.user_id)
            and (values["role"] != "admin" or not values["active"])
            and old["role"] == "admin"
        ):
            raise Conflict(
                "Un administrateur ne peut pas retirer ses propres droits ni se désactiver."
            )
        new_row = await conn.fetchrow(
            sql.UPDATE_USER, row["id"], values["display_name"], values["email"],
            values["phone_extension"], values["role"], values["active"], identity.username,
        )  # fmt: skip
        record = user_record(new_row)
        await record_change(
            conn, source=source, entity=ENTITY, change="updated", record=record, old=old,
            actor=identity.username,
        )  # fmt: skip
    return record


async def change_password(
    pool: asyncpg.Pool, source: str, identity: Identity, user_id: str, body: PasswordChange
) -> None:
    """Users change their own password (giving the current one); admins reset anyone's."""
    own = user_id == identity.user_id
    if not own:
        _admin_only(identity)
    new_hash = await asyncio.to_thread(domain.hash_password, body.new_password)
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(sql.LOCK_USER, parse_record_id(user_id, "fiche utilisateur"))
        if row is None:
            raise NotFound("Utilisateur introuvable.")
        if own and not await asyncio.to_thread(
            domain.verify_password, row["password_hash"], body.current_password or ""
        ):
            raise ValidationFailed(
                [FieldError("current_password", "Mot de passe actuel incorrect.")]
            )
        new_row = await conn.fetchrow(sql.SET_PASSWORD, row["id"], new_hash, identity.username)
        await record_change(
            conn, source=source, entity=ENTITY, change="updated", record=user_record(new_row),
            old=user_record(row), actor=identity.username, context={"password_changed": True},
        )  # fmt: skip

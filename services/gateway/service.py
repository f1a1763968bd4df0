"""Use cases of the gateway's own data: users, their login, the admin bootstrap."""

from __future__ import annotations

import asyncio
import logging
import math
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import asyncpg
from pydantic import SecretStr

from services.common.errors import (
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    TooManyRequests,
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

log = logging.getLogger(__name__)

SYSTEM_ACTOR = "system"
ENTITY = "user"
UserId = str | uuid.UUID

# Why a session ended (sessions.ended_reason).
ENDED_LOGOUT = "logout"
ENDED_DEACTIVATED = "deactivated"
ENDED_ROLE_CHANGED = "role_changed"
ENDED_PASSWORD_CHANGED = "password_changed"  # noqa: S105 - a reason
ENDED_BY_ADMIN = "ended_by_admin"


class EndedHook(Protocol):
    """Told of the sessions a use case ended, once that is committed: the gateway copy that
    ended them refuses them from its next request on (sessions.SessionCheck.ended)."""

    def __call__(self, *session_ids: uuid.UUID) -> None: ...


def _tell(on_ended: EndedHook | None, session_ids: list[uuid.UUID]) -> None:
    if on_ended is not None and session_ids:
        on_ended(*session_ids)


def _user_uuid(user_id: UserId) -> uuid.UUID:
    """A user id from a URL or a token, compared as a UUID (any case, any UUID spelling)."""
    if isinstance(user_id, uuid.UUID):
        return user_id
    return parse_record_id(user_id, "fiche utilisateur")


def _is_self(identity: Identity, user_id: uuid.UUID) -> bool:
    try:
        return uuid.UUID(identity.user_id) == user_id
    except ValueError:
        return False


def check_new_password(password: str, field: str) -> None:
    """The password policy (domain.password_problem) as a 422 naming ``field``."""
    problem = domain.password_problem(password)
    if problem is not None:
        raise ValidationFailed([FieldError(field, problem)])


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


class BootstrapPasswordRefused(RuntimeError):
    """CRM_ADMIN_PASSWORD breaks the password policy: the gateway does not start."""


def check_bootstrap_password(password: SecretStr | str | None) -> None:
    """CRM_ADMIN_PASSWORD obeys the password policy (unset: one is generated that does)."""
    if isinstance(password, SecretStr):
        password = password.get_secret_value()
    problem = domain.password_problem(password) if password is not None else None
    if problem is not None:
        raise BootstrapPasswordRefused(
            f"CRM_ADMIN_PASSWORD est refusé : {problem} La passerelle ne démarre pas ; "
            "changez-le, ou retirez-le pour qu'un mot de passe soit généré."
        )


async def bootstrap_admin(pool: asyncpg.Pool, source: str, password: str | None) -> None:
    """Create ``admin`` on first start; a generated password is printed once, never logged."""
    generated = password is None
    chosen = password if password is not None else domain.generate_password()
    check_bootstrap_password(chosen)
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


@dataclass(frozen=True)
class LoginAttempt:
    """Who tries to sign in, from where: what the throttle and the session keep."""

    username: str
    password: str
    address: str
    user_agent: str | None = None


class LoginThrottled(TooManyRequests):
    """Too many failed sign-ins for this user name or address: answer 429, verify nothing."""

    title, type_suffix = "Trop de tentatives de connexion", "too-many-login-attempts"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            "Trop de tentatives de connexion infructueuses pour cet identifiant ou depuis cette "
            f"adresse : réessayez dans {_wait_in_words(retry_after)}.",
            retry_after,
        )


class PasswordChangeThrottled(TooManyRequests):
    """Too many wrong current passwords (counted with failed sign-ins, same keys): 429."""

    title, type_suffix = "Trop de tentatives", "too-many-password-attempts"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            "Trop de mots de passe incorrects pour cet identifiant ou depuis cette adresse : "
            f"réessayez dans {_wait_in_words(retry_after)}.",
            retry_after,
        )


def _wait_in_words(seconds: int) -> str:
    """The wait of a Retry-After, exactly, in French: "15 secondes", "1 minute et 1 seconde"."""

    def counted(n: int, unit: str) -> str:
        return f"{n} {unit}{'s' if n > 1 else ''}"

    minutes, rest = divmod(max(1, seconds), 60)
    if not minutes:
        return counted(rest, "seconde")
    if not rest:
        return counted(minutes, "minute")
    return f"{counted(minutes, 'minute')} et {counted(rest, 'seconde')}"


async def login(
    pool: asyncpg.Pool,
    attempt: LoginAttempt,
    ttl_seconds: int,
    policy: domain.ThrottlePolicy | None = None,
) -> tuple[Identity, uuid.UUID]:
    """Check a sign-in (throttled, see domain.ThrottlePolicy) and open its session."""
    reserved = await reserve_attempt(pool, attempt.username, attempt.address, policy)
    row = await pool.fetchrow(sql.SELECT_LOGIN, attempt.username)
    stored = row["password_hash"] if row is not None and row["active"] else None
    if not await asyncio.to_thread(domain.verify_password, stored, attempt.password) or row is None:
        reserved.failed()
        raise Unauthorized("Identifiant ou mot de passe incorrect.")
    identity = Identity(str(row["id"]), row["username"], row["role"])
    session_id = uuid.uuid4()
    async with pool.acquire() as conn, conn.transaction():
        await reserved.succeeded(conn)
        await conn.execute(
            sql.INSERT_SESSION, session_id, row["id"], float(ttl_seconds), attempt.address,
            (attempt.user_agent or "")[:500] or None,
        )  # fmt: skip
    await pool.execute(sql.PURGE_OLD_SESSIONS)
    return identity, session_id


def _now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class ReservedAttempt:
    """A sign-in attempt already counted as a failure (see reserve_attempt)."""

    name_key: str
    address: str
    locked: dict[str, tuple[int, float]]  # the lockouts it started: scope → (failures, seconds)

    def failed(self) -> None:
        """The password was wrong: the failure stands; log it, and any lockout it started."""
        at = _now_text()
        log.warning("sign-in failed: username=%r address=%s at=%s", self.name_key, self.address, at)
        for scope, (failures, seconds) in self.locked.items():
            log.warning(
                "sign-in locked: %s locked for %ss after %d failures: username=%r address=%s at=%s",
                scope, int(seconds), failures, self.name_key, self.address, at,
            )  # fmt: skip

    async def succeeded(self, conn: asyncpg.Connection) -> None:
        """The password was right: the user name starts afresh, the address's count is taken
        back (in the caller's transaction)."""
        await conn.execute(sql.THROTTLE_RESET_USERNAME, self.name_key)
        await conn.execute(sql.THROTTLE_TAKE_BACK_ADDRESS, self.address, "address" in self.locked)


async def reserve_attempt(
    pool: asyncpg.Pool, username: str, address: str, policy: domain.ThrottlePolicy | None = None
) -> ReservedAttempt:
    """Count a sign-in attempt as a failure of its user name (any case) and of its address
    before its password is checked, or raise LoginThrottled (429) while either is locked.
    The attempt that reaches a key's threshold locks it for the next ones.

    The user name's key is PostgreSQL's lower() of it, the very one the user is looked up by
    (SELECT_LOGIN): every spelling that could find a user counts against that user's key
    (Python's lower() differs for a few letters, "İ" among them)."""
    policy = policy or domain.ThrottlePolicy()
    locked: dict[str, tuple[int, float]] = {}
    # Always the user name's row, then the address's: two attempts never wait on each other
    # in opposite orders.
    async with pool.acquire() as conn, conn.transaction():
        name_key: str = await conn.fetchval(sql.LOGIN_NAME_KEY, username)
        for scope, key, threshold in (
            ("username", name_key, policy.username_failures),
            ("address", address, policy.address_failures),
        ):
            row = await conn.fetchrow(sql.THROTTLE_ATTEMPT, scope, key, policy.forget_seconds)
            remaining = row["remaining"].total_seconds()
            if remaining > 0:
                retry_after = max(1, math.ceil(remaining))
                log.info(
                    "sign-in refused: %s locked for %ss more: username=%r address=%s at=%s",
                    scope, retry_after, name_key, address, _now_text(),
                )  # fmt: skip
                raise LoginThrottled(retry_after)  # rolls back what this attempt counted
            seconds = domain.lockout_seconds(row["failures"], threshold, policy)
            if seconds is not None:
                await conn.execute(sql.THROTTLE_LOCK, scope, key, seconds)
                locked[scope] = (row["failures"], seconds)
    if locked:  # lockouts are rare: the moment to drop keys whose failures are forgotten
        await pool.execute(sql.THROTTLE_PURGE, policy.forget_seconds)
    return ReservedAttempt(name_key, address, locked)


async def session_valid(pool: asyncpg.Pool, session_id: uuid.UUID) -> bool:
    """True while the session is open and its user active (one indexed query)."""
    return bool(await pool.fetchval(sql.SESSION_VALID, session_id))


async def end_sessions(
    conn: asyncpg.Connection, user_id: UserId, reason: str, *, keep: uuid.UUID | None = None
) -> list[uuid.UUID]:
    """End every open session of a user (but ``keep``), in the caller's transaction; their ids."""
    rows = await conn.fetch(sql.END_USER_SESSIONS, _user_uuid(user_id), reason, keep)
    return [row["id"] for row in rows]


async def logout(pool: asyncpg.Pool, session_id: uuid.UUID) -> None:
    await pool.execute(sql.END_SESSION, session_id, ENDED_LOGOUT)


async def list_sessions(
    pool: asyncpg.Pool, identity: Identity, user_id: str
) -> list[dict[str, Any]]:
    """A user's open sessions, newest first: for admins and for the user themself."""
    uid = _user_uuid(user_id)
    if not _is_self(identity, uid):
        _admin_only(identity)
    async with pool.acquire() as conn:
        if await conn.fetchval(sql.USER_EXISTS, uid) is None:
            raise NotFound("Utilisateur introuvable.")
        rows = await conn.fetch(sql.LIST_OPEN_SESSIONS, uid)
    return [dict(row) for row in rows]


async def end_user_sessions(
    pool: asyncpg.Pool, identity: Identity, user_id: str, on_ended: EndedHook | None = None
) -> int:
    """An admin ends every session of a user (their own included, if they ask)."""
    _admin_only(identity)
    uid = _user_uuid(user_id)
    async with pool.acquire() as conn, conn.transaction():
        if await conn.fetchval(sql.USER_EXISTS, uid) is None:
            raise NotFound("Utilisateur introuvable.")
        ended = await end_sessions(conn, uid, ENDED_BY_ADMIN)
    _tell(on_ended, ended)
    return len(ended)


async def end_one_session(
    pool: asyncpg.Pool,
    identity: Identity,
    user_id: str,
    session_id: str,
    on_ended: EndedHook | None = None,
) -> None:
    """End one session of a user: an admin any, a user their own."""
    uid = _user_uuid(user_id)
    own = _is_self(identity, uid)
    if not own:
        _admin_only(identity)
    sid = parse_record_id(session_id, "session")
    async with pool.acquire() as conn, conn.transaction():
        owner = await conn.fetchval(sql.SELECT_SESSION_OWNER, sid)
        if owner != uid:
            raise NotFound("Aucune session de cet utilisateur ne porte cet identifiant.")
        await conn.execute(sql.END_SESSION, sid, ENDED_LOGOUT if own else ENDED_BY_ADMIN)
    _tell(on_ended, [sid])


def _admin_only(identity: Identity) -> None:
    if identity.role != "admin":
        raise Forbidden("Seuls les administrateurs gèrent les utilisateurs.")


async def get_user(pool: asyncpg.Pool, identity: Identity, user_id: str) -> dict[str, Any]:
    uid = _user_uuid(user_id)
    if not _is_self(identity, uid):
        _admin_only(identity)
    row = await pool.fetchrow(sql.SELECT_USER, uid)
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


async def user_directory(pool: asyncpg.Pool) -> dict[str, Any]:
    """Every user's username, display name and whether they are active, for any signed-in
    user (the pages show a name where the records hold a username); nothing else about them."""
    rows = await pool.fetch(sql.USER_DIRECTORY)
    return {
        "items": [
            {"username": r["username"], "display_name": r["display_name"], "active": r["active"]}
            for r in rows
        ]
    }


async def update_user(
    pool: asyncpg.Pool,
    source: str,
    identity: Identity,
    user_id: str,
    patch: Any,
    if_match: str | None,
    *,
    own_profile: bool,
    on_ended: EndedHook | None = None,
) -> dict[str, Any]:
    """Merge-patch a user: admins change any field, users their own profile's. A deactivation
    or a change of role ends the user's sessions."""
    if not own_profile:
        _admin_only(identity)
    if not isinstance(patch, dict):
        raise ValidationFailed([FieldError("body", "Doit être un objet JSON (merge patch).")])
    model = ProfileFields if own_profile else UserFields
    uid = _user_uuid(user_id)
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(sql.LOCK_USER, uid)
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
            _is_self(identity, row["id"])
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
        ended: list[uuid.UUID] = []
        if old["active"] and not values["active"]:
            ended = await end_sessions(conn, row["id"], ENDED_DEACTIVATED)
        elif values["role"] != old["role"]:
            ended = await end_sessions(conn, row["id"], ENDED_ROLE_CHANGED)
    _tell(on_ended, ended)
    return record


async def deactivate_user(
    pool: asyncpg.Pool, source: str, actor: str, user_id: str
) -> dict[str, Any]:
    """Deactivate a user and end their sessions (the operator's command); the user event goes
    to the outbox in the same transaction. An inactive user is left as is (sessions ended)."""
    uid = _user_uuid(user_id)
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(sql.LOCK_USER, uid)
        if row is None:
            raise NotFound("Utilisateur introuvable.")
        old = user_record(row)
        record = old
        if old["active"]:
            new_row = await conn.fetchrow(
                sql.UPDATE_USER, uid, old["display_name"], old["email"], old["phone_extension"],
                old["role"], False, actor,
            )  # fmt: skip
            record = user_record(new_row)
            await record_change(
                conn, source=source, entity=ENTITY, change="updated", record=record, old=old,
                actor=actor,
            )  # fmt: skip
        await end_sessions(conn, uid, ENDED_DEACTIVATED)
    return record


async def change_password(
    pool: asyncpg.Pool,
    source: str,
    identity: Identity,
    user_id: str,
    body: PasswordChange,
    session_id: uuid.UUID | None = None,
    on_ended: EndedHook | None = None,
    *,
    address: str = "inconnue",
    policy: domain.ThrottlePolicy | None = None,
) -> None:
    """Users change their own password (giving the current one; their other sessions end);
    admins reset anyone's (every session of that user ends).

    The current password is checked like a sign-in's (reserve_attempt): a wrong one counts as
    a failed sign-in of the user name and of the client ``address``, a right one resets them,
    and while either is locked the change is refused (429) without checking anything, so a
    stolen session cannot guess the password here either."""
    uid = _user_uuid(user_id)
    own = _is_self(identity, uid)
    if not own:
        _admin_only(identity)
    reserved = None
    if own:
        try:
            reserved = await reserve_attempt(pool, identity.username, address, policy)
        except LoginThrottled as locked:
            raise PasswordChangeThrottled(locked.retry_after) from None
    await _set_password(
        pool, source, identity.username, uid, body.new_password,
        current_password=(body.current_password or "") if own else None,
        keep_session=session_id if own else None, on_ended=on_ended, reserved=reserved,
    )  # fmt: skip


async def admin_reset_password(
    pool: asyncpg.Pool, source: str, actor: str, user_id: str, new_password: str
) -> None:
    """Set a user's password without the current one (the operator's command): the policy
    applies (422 on ``new_password``), and every session of the user ends."""
    check_new_password(new_password, "new_password")
    await _set_password(pool, source, actor, _user_uuid(user_id), new_password)


async def _set_password(
    pool: asyncpg.Pool,
    source: str,
    actor: str,
    user_id: uuid.UUID,
    new_password: str,
    *,
    current_password: str | None = None,
    keep_session: uuid.UUID | None = None,
    on_ended: EndedHook | None = None,
    reserved: ReservedAttempt | None = None,
) -> None:
    """Replace a password, checking ``current_password`` unless None (as the ``reserved``
    attempt: failed when wrong, succeeded with the change); sessions end with it."""
    new_hash = await asyncio.to_thread(domain.hash_password, new_password)
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(sql.LOCK_USER, user_id)
        if row is None:
            raise NotFound("Utilisateur introuvable.")
        if current_password is not None and not await asyncio.to_thread(
            domain.verify_password, row["password_hash"], current_password
        ):
            if reserved is not None:
                reserved.failed()
            raise ValidationFailed(
                [FieldError("current_password", "Mot de passe actuel incorrect.")]
            )
        if reserved is not None:
            await reserved.succeeded(conn)
        new_row = await conn.fetchrow(sql.SET_PASSWORD, row["id"], new_hash, actor)
        await record_change(
            conn, source=source, entity=ENTITY, change="updated", record=user_record(new_row),
            old=user_record(row), actor=actor, context={"password_changed": True},
        )  # fmt: skip
        ended = await end_sessions(conn, row["id"], ENDED_PASSWORD_CHANGED, keep=keep_session)
    _tell(on_ended, ended)

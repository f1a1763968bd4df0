"""PostgreSQL: the database of a service, its connection pool and its migrations."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import orjson

log = logging.getLogger(__name__)

COMMON_MIGRATIONS = Path(__file__).parent / "migrations"
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
# One advisory lock key for "migrating this database"; any constant works, it is per database.
_MIGRATION_LOCK_KEY = 0x6372_6D5F_6D69_67  # "crm_mig"
_CREATE_DB_LOCK_KEY = 0x6372_6D5F_6462  # "crm_db"

CREATE_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    component  text        NOT NULL,
    version    integer     NOT NULL,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (component, version)
)
"""
SELECT_APPLIED = "SELECT version, name, checksum FROM schema_migrations WHERE component = $1"
INSERT_APPLIED = (
    "INSERT INTO schema_migrations (component, version, name, checksum) VALUES ($1, $2, $3, $4)"
)


class MigrationError(RuntimeError):
    """The migrations on disk disagree with what the database has applied."""


@dataclass(frozen=True)
class Migration:
    component: str
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(component: str, directory: Path) -> list[Migration]:
    """Numbered plain-SQL files, in order; a gap or a duplicate number is refused."""
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _MIGRATION_NAME.match(path.name)
        if not match:
            raise MigrationError(f"badly named migration {path.name}: want NNNN_name.sql")
        found.append(Migration(component, int(match.group(1)), path.name, path.read_text()))
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise MigrationError(
                f"{component}: migration {expected:04d} missing before {migration.name}"
            )
    return found


def split_dsn(dsn: str) -> tuple[str, str]:
    """Split a DSN into (server DSN pointing at the ``postgres`` database, database name)."""
    head, _, tail = dsn.rpartition("/")
    name, _, query = tail.partition("?")
    if not head or not name:
        raise ValueError("the database URL must end with /<database>")
    server = f"{head}/postgres" + (f"?{query}" if query else "")
    return server, name


async def ensure_database(dsn: str) -> None:
    """Create the database named by ``dsn`` when it is missing (safe when run concurrently)."""
    server, name = split_dsn(dsn)
    conn = await asyncpg.connect(server)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _CREATE_DB_LOCK_KEY)
        try:
            exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
            if not exists:
                # Identifiers cannot be parameters; quote_ident makes the name safe.
                quoted = await conn.fetchval("SELECT quote_ident($1)", name)
                await conn.execute(f"CREATE DATABASE {quoted}")
                log.info("created database %s", name)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _CREATE_DB_LOCK_KEY)
    finally:
        await conn.close()


async def migrate(dsn: str, migrations: list[Migration], *, role: str | None = None) -> list[str]:
    """Apply what is not applied yet, each file in its own transaction, under an advisory lock.

    ``role``: run them as this role (``SET ROLE``, by provisioning as the superuser), so the
    objects they create belong to it. A service connecting as its own role finds everything
    applied and needs no privilege beyond reading ``schema_migrations``."""
    conn = await asyncpg.connect(dsn)
    applied_now: list[str] = []
    try:
        if role is not None:
            quoted_role = await conn.fetchval("SELECT quote_ident($1)", role)
            await conn.execute(f"SET ROLE {quoted_role}")
        await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK_KEY)
        try:
            # CREATE ... IF NOT EXISTS still asks for CREATE on the schema: only when missing.
            if await conn.fetchval("SELECT to_regclass('schema_migrations')") is None:
                await conn.execute(CREATE_MIGRATIONS_TABLE)
            by_component: dict[str, dict[int, Any]] = {}
            for migration in migrations:
                if migration.component not in by_component:
                    rows = await conn.fetch(SELECT_APPLIED, migration.component)
                    by_component[migration.component] = {r["version"]: r for r in rows}
                done = by_component[migration.component].get(migration.version)
                if done is not None:
                    if done["checksum"] != migration.checksum:
                        raise MigrationError(
                            f"{migration.component}/{migration.name} changed after it was applied"
                        )
                    continue
                async with conn.transaction():
                    await conn.execute(migration.sql)
                    await conn.execute(
                        INSERT_APPLIED,
                        migration.component,
                        migration.version,
                        migration.name,
                        migration.checksum,
                    )
                applied_now.append(f"{migration.component}/{migration.name}")
                log.info("applied migration %s/%s", migration.component, migration.name)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK_KEY)
    finally:
        await conn.close()
    return applied_now


async def _init_connection(conn: asyncpg.Connection) -> None:
    for typename in ("json", "jsonb"):
        await conn.set_type_codec(
            typename,
            encoder=lambda value: orjson.dumps(value).decode(),
            decoder=orjson.loads,
            schema="pg_catalog",
        )


async def _keep_session(_conn: asyncpg.Connection) -> None:
    """Released connections skip asyncpg's default reset (``RESET ALL``, ``UNLISTEN *``, ...: one
    more round trip per request). asyncpg still rolls back a transaction left open; beyond that
    our code leaves no session state on a pooled connection: no ``SET``, no session advisory lock
    or cursor, and the outbox's listener removes its ``LISTEN`` before giving its connection
    back."""


async def create_pool(
    dsn: str,
    min_size: int,
    max_size: int,
    on_statement: Callable[[], None] | None = None,
    *,
    custom_plans: bool = False,
) -> asyncpg.Pool:
    """A pool whose connections speak JSON through orjson; ``on_statement`` counts statements.

    asyncpg prepares every statement, and after five runs PostgreSQL may keep a generic plan,
    chosen without the values. Where selectivity swings with the values (a list searched by a
    word and filtered by a city) that plan can be a hundred times slower (seen: 39 ms instead of
    0.3 ms). ``custom_plans`` plans with the values every time: for such queries only, since
    planning every primary-key read would cost a quarter of the read path."""

    async def init(conn: asyncpg.Connection) -> None:
        await _init_connection(conn)
        if on_statement is not None:
            conn.add_query_logger(lambda _query: on_statement())

    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=init,
        reset=_keep_session,
        command_timeout=30,
        server_settings={"plan_cache_mode": "force_custom_plan"} if custom_plans else None,
    )
    assert pool is not None
    return pool


def all_migrations(components: Sequence[tuple[str, Path]]) -> list[Migration]:
    """The common migrations, then each component's, in the order a service applies them."""
    migrations = load_migrations("common", COMMON_MIGRATIONS)
    for component, directory in components:
        migrations += load_migrations(component, directory)
    return migrations


async def prepare_database(dsn: str, components: Sequence[tuple[str, Path]]) -> list[str]:
    """Create the database if needed, then apply the common migrations and ``components``'.

    Where ``deploy/provision.py`` prepared the database, a service connecting as its own role
    finds it there and everything applied: nothing is done."""
    await ensure_database(dsn)
    return await migrate(dsn, all_migrations(components))

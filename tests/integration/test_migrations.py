"""Databases are created when missing and migrated once, even by copies starting together."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from services.common.db import MigrationError, prepare_database
from tests.support import isolated_database_url


async def test_two_copies_starting_together_create_and_migrate_once(
    infrastructure: None, tmp_path: Path
) -> None:
    (tmp_path / "0001_first.sql").write_text("CREATE TABLE things (id int PRIMARY KEY);")
    (tmp_path / "0002_second.sql").write_text("ALTER TABLE things ADD COLUMN name text;")
    dsn = isolated_database_url("migrations_race")
    first, second = await asyncio.gather(
        prepare_database(dsn, [("things", tmp_path)]), prepare_database(dsn, [("things", tmp_path)])
    )
    applied = sorted(first + second)
    assert [a for a in applied if a.startswith("things/")] == [
        "things/0001_first.sql",
        "things/0002_second.sql",
    ]
    assert await prepare_database(dsn, [("things", tmp_path)]) == []  # nothing left to do
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("INSERT INTO things (id, name) VALUES (1, 'ok')")
        versions = await conn.fetch(
            "SELECT version FROM schema_migrations WHERE component = 'things'"
        )
        assert sorted(r["version"] for r in versions) == [1, 2]
    finally:
        await conn.close()


async def test_a_migration_changed_after_it_was_applied_is_refused(
    infrastructure: None, tmp_path: Path
) -> None:
    (tmp_path / "0001_first.sql").write_text("CREATE TABLE t (id int);")
    dsn = isolated_database_url("migrations_changed")
    await prepare_database(dsn, [("t", tmp_path)])
    (tmp_path / "0001_first.sql").write_text("CREATE TABLE t (id bigint);")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        await prepare_database(dsn, [("t", tmp_path)])


async def test_a_failing_migration_leaves_nothing_half_applied(
    infrastructure: None, tmp_path: Path
) -> None:
    (tmp_path / "0001_bad.sql").write_text("CREATE TABLE half (id int); SELECT no_such_function();")
    dsn = isolated_database_url("migrations_failing")
    with pytest.raises(asyncpg.PostgresError):
        await prepare_database(dsn, [("half", tmp_path)])
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("SELECT to_regclass('half')") is None
        assert (
            await conn.fetchval("SELECT count(*) FROM schema_migrations WHERE component = 'half'")
            == 0
        )
    finally:
        await conn.close()

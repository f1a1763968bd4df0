from pathlib import Path

import pytest

from services.common.db import MigrationError, load_migrations, split_dsn

SERVICES = Path(__file__).resolve().parents[2] / "services"


@pytest.mark.parametrize(
    "component", ["common", "accounts", "activities", "documents", "audit", "gateway"]
)
def test_every_service_has_numbered_migrations_without_gaps(component: str) -> None:
    migrations = load_migrations(component, SERVICES / component / "migrations")
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert migrations


def test_a_gap_or_a_bad_name_is_refused(tmp_path: Path) -> None:
    (tmp_path / "0001_first.sql").write_text("SELECT 1;")
    (tmp_path / "0003_third.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="0002"):
        load_migrations("x", tmp_path)
    (tmp_path / "0003_third.sql").unlink()
    (tmp_path / "2_second.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="badly named"):
        load_migrations("x", tmp_path)


def test_split_dsn_points_at_the_maintenance_database() -> None:
    assert split_dsn("postgresql://u@h:5432/crm_accounts?sslmode=disable") == (
        "postgresql://u@h:5432/postgres?sslmode=disable",
        "crm_accounts",
    )

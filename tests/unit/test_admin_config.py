"""crm-admin's configuration: the services' variables over the secrets `make run` saved, and
URLs printed without their passwords."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from services.admin.config import AdminConfig, environment, read_env_file, shown
from services.admin.status import age


def test_the_environment_wins_over_the_saved_secrets(tmp_path: Path) -> None:
    saved = tmp_path / "secrets.env"
    saved.write_text(
        "CRM_AUDIT_DB_PASSWORD=from-file\nCRM_BROKER_ADMIN_PASSWORD=b@d/pw\n"
        "# a comment\nnot a line\nCRM_EXCHANGE=from-file\n"
    )
    env = environment({"CRM_EXCHANGE": "crm.autre"}, [saved, tmp_path / "missing.env"])
    config = AdminConfig.from_env(env)
    assert config.exchange == "crm.autre"
    assert config.database_urls["audit"] == (
        "postgresql://crm_audit:from-file@127.0.0.1:5432/crm_audit"
    )
    assert config.database_urls["gateway"] == "postgresql://postgres@127.0.0.1:5432/crm_gateway"
    assert config.amqp_admin_url == "amqp://crm-admin:b%40d%2Fpw@127.0.0.1:5672/"
    assert config.amqp_url == "amqp://guest:guest@127.0.0.1:5672/"
    assert read_env_file(tmp_path / "missing.env") == {}
    # The services' broker users, whose dead-lettered copies crm-admin believes.
    assert config.broker_user("audit") == "crm_audit"
    prefixed = AdminConfig.from_env({"CRM_BROKER_USER_PREFIX": "crm_test_1_"})
    assert prefixed.broker_user("audit") == "crm_test_1_audit"


def test_explicit_urls_win_over_passwords() -> None:
    config = AdminConfig.from_env(
        {
            "CRM_GATEWAY_DATABASE_URL": "postgresql://ops@db.example:5433/crm",
            "CRM_GATEWAY_DB_PASSWORD": "unused",
            "CRM_AMQP_URL": "amqp://svc:pw@mq.example:5672/crm",
            "CRM_AMQP_ADMIN_URL": "amqp://ops:pw@mq.example:5672/crm",
            "CRM_BROKER_ADMIN_PASSWORD": "unused",
        }
    )
    assert config.database_urls["gateway"] == "postgresql://ops@db.example:5433/crm"
    assert config.amqp_admin_url == "amqp://ops:pw@mq.example:5672/crm"
    # Without an admin URL or password, the services' broker URL.
    assert AdminConfig.from_env({"CRM_AMQP_URL": "amqp://a:b@h/"}).amqp_admin_url == "amqp://a:b@h/"


def test_printed_urls_hide_their_password() -> None:
    assert shown("postgresql://crm_audit:s3cret@127.0.0.1:5432/crm_audit") == (
        "postgresql://crm_audit:***@127.0.0.1:5432/crm_audit"
    )
    assert "s3cret" not in shown("amqp://crm-admin:s3cret@127.0.0.1:5672/")
    assert shown("postgresql://postgres@127.0.0.1/crm") == "postgresql://postgres@127.0.0.1/crm"


def test_ages_read_as_an_operator_would() -> None:
    assert age(None) == "-"
    assert age(timedelta(seconds=42)) == "42 s"
    assert age(timedelta(minutes=3, seconds=5)) == "3 min 05 s"
    assert age(timedelta(hours=2, minutes=7)) == "2 h 07 min"
    assert age(timedelta(days=3, hours=4)) == "3 j 4 h"

import pytest
from pydantic import ValidationError

from services.accounts.settings import AccountsSettings
from services.gateway.settings import GatewaySettings


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_INTERNAL_SECRET", "s3cr3t-value-of-thirty-two-chars")
    monkeypatch.setenv("CRM_ACCOUNTS_PORT", "9181")
    monkeypatch.setenv("CRM_ACCOUNTS_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/other")
    monkeypatch.setenv("CRM_EXCHANGE", "crm.elsewhere")
    settings = AccountsSettings()
    assert settings.port == 9181
    assert settings.database_url.endswith("/other")
    assert settings.exchange == "crm.elsewhere"
    assert settings.internal_secret.get_secret_value() == "s3cr3t-value-of-thirty-two-chars"
    assert "s3cr3t-value-of-thirty-two-chars" not in repr(settings)  # secrets never printed


def test_defaults_fit_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CRM_ACCOUNTS_PORT", "CRM_ACCOUNTS_DATABASE_URL", "CRM_EXCHANGE", "CRM_AMQP_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CRM_INTERNAL_SECRET", "s3cr3t-value-of-thirty-two-chars")
    settings = AccountsSettings()
    assert settings.port == 8081
    assert settings.database_url == "postgresql://postgres@127.0.0.1:5432/crm_accounts"
    assert settings.exchange == "crm.events"
    assert settings.amqp_url.get_secret_value() == "amqp://guest:guest@127.0.0.1:5672/"


def test_a_missing_secret_stops_the_service_with_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRM_INTERNAL_SECRET", raising=False)
    monkeypatch.delenv("CRM_TOKEN_SECRET", raising=False)
    with pytest.raises(ValidationError) as caught:
        GatewaySettings()
    assert "CRM_INTERNAL_SECRET" in str(caught.value)
    assert "CRM_TOKEN_SECRET" in str(caught.value)


def test_each_service_connects_as_its_own_role_and_broker_user(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What `make run` sets: the passwords deploy/provision.py gave crm_<service>."""
    for name in ("CRM_ACCOUNTS_DATABASE_URL", "CRM_ACCOUNTS_AMQP_URL", "CRM_BROKER_USER_PREFIX"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CRM_INTERNAL_SECRET", "s3cr3t-value-of-thirty-two-chars")
    monkeypatch.setenv("CRM_ACCOUNTS_DB_PASSWORD", "pg-Pass_1")
    monkeypatch.setenv("CRM_ACCOUNTS_AMQP_PASSWORD", "mq-Pass_2")
    monkeypatch.setenv("CRM_AMQP_URL", "amqp://guest:guest@broker.example:5673/")
    settings = AccountsSettings()
    assert settings.database_url == (
        "postgresql://crm_accounts:pg-Pass_1@127.0.0.1:5432/crm_accounts"
    )
    assert settings.amqp_url.get_secret_value() == (
        "amqp://crm_accounts:mq-Pass_2@broker.example:5673/"
    )
    assert settings.broker_user("gateway") == "crm_gateway"
    assert "pg-Pass_1" not in repr(settings)
    assert "mq-Pass_2" not in repr(settings)


def test_a_service_url_set_in_full_wins_over_the_shared_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CRM_INTERNAL_SECRET", "s3cr3t-value-of-thirty-two-chars")
    monkeypatch.setenv("CRM_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    monkeypatch.setenv("CRM_ACCOUNTS_AMQP_URL", "amqp://someone:pw@127.0.0.1:5672/")
    monkeypatch.setenv("CRM_BROKER_USER_PREFIX", "crm_test_x_")
    settings = AccountsSettings()
    assert settings.amqp_url.get_secret_value() == "amqp://someone:pw@127.0.0.1:5672/"
    assert settings.broker_user("accounts") == "crm_test_x_accounts"


def test_a_short_signing_key_stops_the_service_with_its_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """HMAC-SHA256 keys of fewer than 32 characters are refused at start (RFC 7518 3.2)."""
    monkeypatch.setenv("CRM_INTERNAL_SECRET", "s3cr3t-value-of-thirty-two-chars")
    monkeypatch.setenv("CRM_TOKEN_SECRET", "twenty-chars-secret!")
    with pytest.raises(ValidationError) as caught:
        GatewaySettings()
    assert "CRM_TOKEN_SECRET" in str(caught.value)
    monkeypatch.setenv("CRM_INTERNAL_SECRET", "short")
    with pytest.raises(ValidationError) as caught:
        AccountsSettings()
    assert "CRM_INTERNAL_SECRET" in str(caught.value)

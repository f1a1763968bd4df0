"""Configuration, read from the environment only, into one settings object per service.

Every variable is prefixed ``CRM_``. Values shared by all services (broker, exchange, secrets)
have one name; per-service values (port, database, broker) carry the service name, e.g.
``CRM_ACCOUNTS_PORT`` or ``CRM_AUDIT_DATABASE_URL``.

Each service connects to PostgreSQL and RabbitMQ as its own role and user (``crm_<service>``,
created by ``deploy/provision.py``): ``CRM_<SERVICE>_DATABASE_URL`` and ``CRM_<SERVICE>_AMQP_URL``
name them in full; otherwise they are built from ``CRM_<SERVICE>_DB_PASSWORD`` and
``CRM_<SERVICE>_AMQP_PASSWORD`` (what `make run` generates); without either, a service falls back
to the development defaults (``postgres``, ``CRM_AMQP_URL``).
"""

from __future__ import annotations

import os
from typing import Annotated, Any, ClassVar

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from yarl import URL

from .broker import EntityOwners, parse_entity_owners

DEFAULT_PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
MIN_SECRET_LENGTH = 32
SERVICE_PORTS = {
    "gateway": 8080,
    "accounts": 8081,
    "activities": 8082,
    "documents": 8083,
    "audit": 8084,
}
SERVICES = tuple(SERVICE_PORTS)
# Roles, databases and broker users of `make run`: crm_<service>; the tests use crm_test_<run>_.
DEFAULT_PREFIX = "crm_"


def database_url_for(service: str, password: str, prefix: str = DEFAULT_PREFIX) -> str:
    """The URL of ``service``'s own database, reached as its own role."""
    server = URL(DEFAULT_PG_SERVER)
    name = f"{prefix}{service}"
    return str(server.with_user(name).with_password(password).with_path(f"/{name}"))


def amqp_url_for(
    service: str, password: str, prefix: str = DEFAULT_PREFIX, base: str = DEFAULT_AMQP_URL
) -> str:
    """The broker URL of ``service``'s own user (same host, port and vhost as ``base``)."""
    return str(URL(base).with_user(f"{prefix}{service}").with_password(password))


class ConfigError(RuntimeError):
    """A service cannot start with this configuration; the message names the variable."""


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


class ServiceSettings(BaseSettings):
    """What every service needs. Subclasses name the service and their own variables."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    service: ClassVar[str] = "service"

    host: str = Field("127.0.0.1", validation_alias=_env("CRM_HOST"))
    port: int = Field(0, ge=0, le=65535)
    database_url: str = Field("", min_length=1, repr=False)  # it may hold a password
    amqp_url: SecretStr = Field(SecretStr(DEFAULT_AMQP_URL))
    # Broker users are <prefix><service>: consumers check an event's publisher against it.
    broker_user_prefix: str = Field(
        DEFAULT_PREFIX, min_length=1, validation_alias=_env("CRM_BROKER_USER_PREFIX")
    )
    exchange: str = Field("crm.events", min_length=1, validation_alias=_env("CRM_EXCHANGE"))
    # Entity -> the service that owns it (broker.py): whose events consumers accept. Written by
    # deploy/provision.py from the services' declarations (service_environment), e.g.
    # ``account=accounts,contact=accounts,...``; a service that consumes cannot start without it.
    entity_owners: Annotated[dict[str, str] | None, NoDecode] = Field(
        None, validation_alias=_env("CRM_ENTITY_OWNERS")
    )
    # HMAC-SHA256 keys: at least 32 characters (RFC 7518 3.2 asks for 256 bits).
    internal_secret: SecretStr = Field(
        min_length=MIN_SECRET_LENGTH, validation_alias=_env("CRM_INTERNAL_SECRET")
    )
    db_pool_min: int = Field(2, ge=1, validation_alias=_env("CRM_DB_POOL_MIN"))
    db_pool_max: int = Field(10, ge=1, validation_alias=_env("CRM_DB_POOL_MAX"))
    consumer_prefetch: int = Field(
        32, ge=1, le=1000, validation_alias=_env("CRM_CONSUMER_PREFETCH")
    )
    consumer_max_deliveries: int = Field(
        5, ge=1, validation_alias=_env("CRM_CONSUMER_MAX_DELIVERIES")
    )
    consumer_concurrency: int = Field(
        4, ge=1, le=64, validation_alias=_env("CRM_CONSUMER_CONCURRENCY")
    )
    relay_poll_seconds: float = Field(1.0, gt=0, validation_alias=_env("CRM_RELAY_POLL_SECONDS"))
    log_level: str = Field("INFO", validation_alias=_env("CRM_LOG_LEVEL"))

    @field_validator("entity_owners", mode="before")
    @classmethod
    def _owners_from_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            return parse_entity_owners(value) if value.strip() else None
        return value

    def owners(self) -> EntityOwners:
        """The entity owners consumers check publishers against; ConfigError when
        ``CRM_ENTITY_OWNERS`` was not given (no event would be refused otherwise)."""
        if not self.entity_owners:
            raise ConfigError(
                f"{self.service} : CRM_ENTITY_OWNERS manque (entité=service, séparés par des "
                "virgules, écrit par deploy/provision.py) ; sans lui, le service ne peut pas "
                "savoir qui a le droit de publier les événements qu'il consomme"
            )
        return self.entity_owners

    @model_validator(mode="before")
    @classmethod
    def _per_service_values(cls, data: Any) -> Any:
        """Fill ``port``, ``database_url`` and ``amqp_url`` from the service's variables."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        env = os.environ
        upper = cls.service.upper()
        default_port = SERVICE_PORTS.get(cls.service, 0)
        data.setdefault("port", env.get(f"CRM_{upper}_PORT", default_port))
        if "database_url" not in data:
            db_password = env.get(f"CRM_{upper}_DB_PASSWORD")
            data["database_url"] = env.get(f"CRM_{upper}_DATABASE_URL") or (
                database_url_for(cls.service, db_password)
                if db_password
                else f"{DEFAULT_PG_SERVER}/crm_{cls.service}"
            )
        if "amqp_url" not in data:
            shared = env.get("CRM_AMQP_URL") or DEFAULT_AMQP_URL
            amqp_password = env.get(f"CRM_{upper}_AMQP_PASSWORD")
            prefix = env.get("CRM_BROKER_USER_PREFIX") or DEFAULT_PREFIX
            data["amqp_url"] = env.get(f"CRM_{upper}_AMQP_URL") or (
                amqp_url_for(cls.service, amqp_password, prefix, shared)
                if amqp_password
                else shared
            )
        return data

    def broker_user(self, service: str) -> str:
        """The broker user ``service`` publishes as (the ``user_id`` of its messages)."""
        return f"{self.broker_user_prefix}{service}"

    @property
    def source(self) -> str:
        """The CloudEvents ``source`` of this service's events."""
        return f"/services/{self.service}"

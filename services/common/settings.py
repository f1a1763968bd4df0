"""Configuration, read from the environment only, into one settings object per service.

Every variable is prefixed ``CRM_``. Values shared by all services (broker, exchange, secrets)
have one name; per-service values (port, database) carry the service name, e.g.
``CRM_ACCOUNTS_PORT`` or ``CRM_AUDIT_DATABASE_URL``.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
SERVICE_PORTS = {
    "gateway": 8080,
    "accounts": 8081,
    "activities": 8082,
    "documents": 8083,
    "audit": 8084,
}


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


class ServiceSettings(BaseSettings):
    """What every service needs. Subclasses name the service and their own variables."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    service: ClassVar[str] = "service"

    host: str = Field("127.0.0.1", validation_alias=_env("CRM_HOST"))
    port: int = Field(0, ge=0, le=65535)
    database_url: str = Field("", min_length=1)
    amqp_url: SecretStr = Field(SecretStr(DEFAULT_AMQP_URL), validation_alias=_env("CRM_AMQP_URL"))
    exchange: str = Field("crm.events", min_length=1, validation_alias=_env("CRM_EXCHANGE"))
    internal_secret: SecretStr = Field(validation_alias=_env("CRM_INTERNAL_SECRET"))
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

    @model_validator(mode="before")
    @classmethod
    def _per_service_values(cls, data: Any) -> Any:
        """Fill ``port`` and ``database_url`` from ``CRM_<SERVICE>_PORT`` and ``_DATABASE_URL``."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        upper = cls.service.upper()
        default_port = SERVICE_PORTS.get(cls.service, 0)
        data.setdefault("port", os.environ.get(f"CRM_{upper}_PORT", default_port))
        data.setdefault(
            "database_url",
            os.environ.get(f"CRM_{upper}_DATABASE_URL", f"{DEFAULT_PG_SERVER}/crm_{cls.service}"),
        )
        return data

    @property
    def source(self) -> str:
        """The CloudEvents ``source`` of this service's events."""
        return f"/services/{self.service}"

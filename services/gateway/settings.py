from __future__ import annotations

from typing import ClassVar

from pydantic import AliasChoices, Field, SecretStr

from services.common.settings import ServiceSettings


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


class GatewaySettings(ServiceSettings):
    service: ClassVar[str] = "gateway"

    token_secret: SecretStr = Field(validation_alias=_env("CRM_TOKEN_SECRET"))
    token_ttl_seconds: int = Field(
        3600, ge=60, le=86400 * 7, validation_alias=_env("CRM_TOKEN_TTL_SECONDS")
    )
    admin_password: SecretStr | None = Field(None, validation_alias=_env("CRM_ADMIN_PASSWORD"))
    accounts_url: str = Field("http://127.0.0.1:8081", validation_alias=_env("CRM_ACCOUNTS_URL"))
    activities_url: str = Field(
        "http://127.0.0.1:8082", validation_alias=_env("CRM_ACTIVITIES_URL")
    )
    documents_url: str = Field("http://127.0.0.1:8083", validation_alias=_env("CRM_DOCUMENTS_URL"))
    audit_url: str = Field("http://127.0.0.1:8084", validation_alias=_env("CRM_AUDIT_URL"))
    upstream_timeout_seconds: float = Field(
        10.0, gt=0, validation_alias=_env("CRM_UPSTREAM_TIMEOUT_SECONDS")
    )

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
    view_timeout_seconds: float = Field(
        2.0, gt=0, validation_alias=_env("CRM_VIEW_TIMEOUT_SECONDS")
    )
    # Composed views kept while the event feed is connected (0: none); see view_cache.py.
    view_cache_mb: float = Field(32, ge=0, le=4096, validation_alias=_env("CRM_VIEW_CACHE_MB"))
    view_cache_ttl_seconds: float = Field(
        5.0, gt=0, le=300, validation_alias=_env("CRM_VIEW_CACHE_TTL_SECONDS")
    )
    telephony_adapter: str | None = Field(
        None, pattern=r"^(http|asterisk)$", validation_alias=_env("CRM_TELEPHONY_ADAPTER")
    )
    telephony_url: str | None = Field(None, validation_alias=_env("CRM_TELEPHONY_URL"))
    telephony_secret: SecretStr | None = Field(None, validation_alias=_env("CRM_TELEPHONY_SECRET"))
    telephony_timeout_seconds: float = Field(
        5.0, gt=0, validation_alias=_env("CRM_TELEPHONY_TIMEOUT_SECONDS")
    )
    asterisk_host: str = Field("127.0.0.1", validation_alias=_env("CRM_ASTERISK_HOST"))
    asterisk_port: int = Field(5038, ge=1, le=65535, validation_alias=_env("CRM_ASTERISK_PORT"))
    asterisk_username: str = Field("crm", validation_alias=_env("CRM_ASTERISK_USERNAME"))
    asterisk_secret: SecretStr = Field(SecretStr(""), validation_alias=_env("CRM_ASTERISK_SECRET"))
    asterisk_channel: str = Field(
        "PJSIP/{extension}", validation_alias=_env("CRM_ASTERISK_CHANNEL")
    )
    asterisk_context: str = Field("from-internal", validation_alias=_env("CRM_ASTERISK_CONTEXT"))

    @property
    def telephony(self) -> str | None:
        """The adapter in use: as configured, else ``http`` when a telephony URL is set."""
        if self.telephony_adapter:
            return self.telephony_adapter
        return "http" if self.telephony_url else None

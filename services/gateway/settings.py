from __future__ import annotations

import re
from typing import ClassVar

from pydantic import AliasChoices, Field, SecretStr, field_validator

from services.common.settings import MIN_SECRET_LENGTH, ServiceSettings


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


# Numbers ClickToCall dials by default, in E.164: French geographic (01-05), mobile (06, 07) and
# non-geographic (09) numbers, and free ones (080x). Premium rates (081x-089x) and short numbers
# never match.
FRENCH_NON_PREMIUM = r"^\+33(?:[1-79][0-9]{8}|80[0-9]{7})$"


class GatewaySettings(ServiceSettings):
    service: ClassVar[str] = "gateway"

    token_secret: SecretStr = Field(
        min_length=MIN_SECRET_LENGTH, validation_alias=_env("CRM_TOKEN_SECRET")
    )
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
    # ClickToCall: the numbers it may dial (a regular expression over E.164, matched in full),
    # and how many calls a user may place in a minute (counted in PostgreSQL: every copy).
    call_allowed_numbers: str = Field(
        FRENCH_NON_PREMIUM, min_length=1, validation_alias=_env("CRM_CALL_ALLOWED_NUMBERS")
    )
    call_max_per_minute: int = Field(
        10, ge=1, le=1000, validation_alias=_env("CRM_CALL_MAX_PER_MINUTE")
    )
    # The gateway's /metrics: 404 without a token; with one, for "Authorization: Bearer <token>".
    metrics_token: SecretStr | None = Field(
        None, min_length=16, validation_alias=_env("CRM_METRICS_TOKEN")
    )
    # Browser origins allowed to call the API from another site (CORS), separated by commas or
    # spaces, e.g. "https://crm.example.fr"; empty: no CORS headers at all.
    cors_origins: str = Field("", validation_alias=_env("CRM_CORS_ORIGINS"))

    # The web interface: a session ends after this long without a request (idle), and at the
    # latest this long after signing in.
    web_idle_minutes: int = Field(
        30, ge=1, le=24 * 60, validation_alias=_env("CRM_WEB_IDLE_MINUTES")
    )
    web_session_hours: int = Field(
        12, ge=1, le=24 * 30, validation_alias=_env("CRM_WEB_SESSION_HOURS")
    )
    # The live streams of record pages this gateway copy holds open at most (each is a
    # connection and a few kilobytes); beyond, a page's stream is refused (503, Retry-After) and
    # tried again later. One web session holds at most 10 (several tabs).
    web_max_streams: int = Field(
        2000, ge=1, le=100_000, validation_alias=_env("CRM_WEB_MAX_STREAMS")
    )
    # The map's tile server (Carte), "{z}/{x}/{y}" in its URL, e.g.
    # "https://tile.openstreetmap.org/{z}/{x}/{y}.png"; empty: the marker and coordinates only.
    map_tiles_url: str = Field("", validation_alias=_env("CRM_MAP_TILES_URL"))
    map_attribution: str = Field(
        "© les contributeurs d'OpenStreetMap", validation_alias=_env("CRM_MAP_ATTRIBUTION")
    )

    @field_validator("call_allowed_numbers")
    @classmethod
    def _a_regular_expression(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from exc
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: str) -> str:
        for origin in value.replace(",", " ").split():
            if not re.fullmatch(r"https?://[^/\s]+", origin):
                raise ValueError(f"an origin is scheme://host[:port], without a path: {origin}")
        return value

    @field_validator("map_tiles_url")
    @classmethod
    def _tiles(cls, value: str) -> str:
        if value and not re.fullmatch(r"https?://[^/\s]+/\S*\{z\}\S*", value):
            raise ValueError("a tile URL is http(s)://host/...{z}/{x}/{y}...")
        return value

    @property
    def map_tiles_origin(self) -> str | None:
        """The tile server's origin (for the pages' Content-Security-Policy), if any."""
        match = re.match(r"https?://[^/]+", self.map_tiles_url)
        return match.group(0) if match else None

    @property
    def allowed_origins(self) -> frozenset[str]:
        return frozenset(self.cors_origins.replace(",", " ").split())

    @property
    def telephony(self) -> str | None:
        """The adapter in use: as configured, else ``http`` when a telephony URL is set."""
        if self.telephony_adapter:
            return self.telephony_adapter
        return "http" if self.telephony_url else None

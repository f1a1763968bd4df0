from __future__ import annotations

from typing import ClassVar

from pydantic import AliasChoices, Field

from services.common.settings import ServiceSettings


class AccountsSettings(ServiceSettings):
    service: ClassVar[str] = "accounts"

    # Providers tried in order: offline (no network), ban, nominatim.
    geocoder: str = Field(
        "offline",
        pattern=r"^(offline|ban|nominatim)(,(offline|ban|nominatim))*$",
        validation_alias=AliasChoices("CRM_GEOCODER"),
    )
    geocoder_ban_url: str = Field(
        "https://api-adresse.data.gouv.fr", validation_alias=AliasChoices("CRM_GEOCODER_BAN_URL")
    )
    geocoder_nominatim_url: str = Field(
        "https://nominatim.openstreetmap.org",
        validation_alias=AliasChoices("CRM_GEOCODER_NOMINATIM_URL"),
    )
    geocoder_timeout_seconds: float = Field(
        5.0, gt=0, validation_alias=AliasChoices("CRM_GEOCODER_TIMEOUT_SECONDS")
    )

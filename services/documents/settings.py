from __future__ import annotations

from typing import ClassVar

from pydantic import AliasChoices, Field

from services.common.settings import ServiceSettings


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


class DocumentsSettings(ServiceSettings):
    service: ClassVar[str] = "documents"

    # The seller's identity, printed on every quote and invoice (French legal mentions).
    seller_name: str = Field("Ma Société SAS", validation_alias=_env("CRM_SELLER_NAME"))
    seller_address: str = Field(
        "1 rue de l'Exemple, 75001 Paris", validation_alias=_env("CRM_SELLER_ADDRESS")
    )
    seller_siren: str = Field("", validation_alias=_env("CRM_SELLER_SIREN"))
    seller_vat_number: str = Field("", validation_alias=_env("CRM_SELLER_VAT_NUMBER"))
    seller_iban: str = Field("", validation_alias=_env("CRM_SELLER_IBAN"))
    seller_payment_terms: str = Field(
        "Paiement à 30 jours date de facture, par virement.",
        validation_alias=_env("CRM_SELLER_PAYMENT_TERMS"),
    )
    seller_late_payment: str = Field(
        "En cas de retard de paiement, des pénalités au taux de trois fois le taux d'intérêt "
        "légal sont exigibles, ainsi qu'une indemnité forfaitaire pour frais de recouvrement de "
        "40 € (article L441-10 du Code de commerce). Pas d'escompte pour paiement anticipé.",
        validation_alias=_env("CRM_SELLER_LATE_PAYMENT"),
    )
    template_max_bytes: int = Field(
        5 * 1024 * 1024, ge=1024, validation_alias=_env("CRM_TEMPLATE_MAX_BYTES")
    )

    def seller(self) -> dict[str, str]:
        return {
            "name": self.seller_name,
            "address": self.seller_address,
            "siren": self.seller_siren,
            "vat_number": self.seller_vat_number,
            "iban": self.seller_iban,
            "payment_terms": self.seller_payment_terms,
            "late_payment": self.seller_late_payment,
        }

from __future__ import annotations

from typing import ClassVar, Literal

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

    # Mail merge: templates render in worker processes under these limits (docs/mail-merge.md).
    merge_workers: int = Field(2, ge=1, le=32, validation_alias=_env("CRM_MERGE_WORKERS"))
    merge_cpu_seconds: int = Field(10, ge=1, validation_alias=_env("CRM_MERGE_CPU_SECONDS"))
    merge_memory_bytes: int = Field(
        512 * 1024 * 1024, ge=128 * 1024 * 1024, validation_alias=_env("CRM_MERGE_MEMORY_BYTES")
    )
    merge_output_bytes: int = Field(
        20 * 1024 * 1024, ge=64 * 1024, validation_alias=_env("CRM_MERGE_OUTPUT_BYTES")
    )
    merge_wall_seconds: float = Field(30.0, gt=0, validation_alias=_env("CRM_MERGE_WALL_SECONDS"))
    merge_queue_seconds: float = Field(10.0, gt=0, validation_alias=_env("CRM_MERGE_QUEUE_SECONDS"))
    # PDF conversion: kept-alive LibreOffice converters (uno_worker.py), one conversion each.
    pdf_converters: int = Field(2, ge=1, le=16, validation_alias=_env("CRM_PDF_CONVERTERS"))
    pdf_timeout_seconds: float = Field(60.0, gt=0, validation_alias=_env("CRM_PDF_TIMEOUT_SECONDS"))
    pdf_queue_seconds: float = Field(15.0, gt=0, validation_alias=_env("CRM_PDF_QUEUE_SECONDS"))
    # "auto": no network for LibreOffice (a network namespace) when the system allows it;
    # "netns": required (the service does not start without it); "none": not isolated.
    pdf_isolation: Literal["auto", "netns", "none"] = Field(
        "auto", validation_alias=_env("CRM_PDF_ISOLATION")
    )
    uno_python: str = Field("/usr/bin/python3", validation_alias=_env("CRM_UNO_PYTHON"))

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

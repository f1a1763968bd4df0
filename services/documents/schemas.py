"""Pydantic models at the edges of the documents service."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from services.common.validation import IsoDate, IsoDatetime

from .domain import VAT_RATES


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _vat_rate(value: Decimal) -> Decimal:
    if value not in VAT_RATES:
        allowed = ", ".join(f"{rate:f}".replace(".", ",") for rate in VAT_RATES)
        raise ValueError(f"Taux de TVA français attendu : {allowed}.")
    return value


def _text(value: str) -> str:
    cleaned = value.strip()
    if not cleaned:
        raise ValueError("Ce champ est obligatoire.")
    return cleaned


Blank = BeforeValidator(_blank_to_none)
Amount = Annotated[
    Decimal, Field(ge=Decimal("-999999999.99"), le=Decimal("999999999.99"), decimal_places=4)
]


class LineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: Annotated[str, Field(max_length=2000), AfterValidator(_text)]
    quantity: Annotated[Decimal, Field(gt=0, le=Decimal("1000000"), decimal_places=3)]
    unit_price: Amount
    vat_rate: Annotated[Decimal, AfterValidator(_vat_rate)]
    discount_percent: Annotated[Decimal, Field(ge=0, le=100, decimal_places=2)] = Decimal("0")


Lines = Annotated[list[LineIn], Field(max_length=500)]
Notes = Annotated[Annotated[str, Field(max_length=10_000)] | None, Blank]


class QuoteFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_id: uuid.UUID
    contact_id: Annotated[uuid.UUID | None, Blank] = None
    opportunity_id: Annotated[uuid.UUID | None, Blank] = None
    valid_until: IsoDate | None = None
    lines: Lines = Field(default_factory=list)
    notes: Notes = None


class InvoiceFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_id: uuid.UUID
    contact_id: Annotated[uuid.UUID | None, Blank] = None
    due_date: IsoDate | None = None
    lines: Lines = Field(default_factory=list)
    notes: Notes = None


class Payment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    paid_at: IsoDatetime | None = None


TemplateKind = Literal["account", "contact", "opportunity", "project", "quote", "invoice"]


class PrintRequest(BaseModel):
    """What the gateway composed for a printed record (internal)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["account", "contact", "opportunity", "project"]
    record: dict[str, Any]
    sections: dict[str, dict[str, Any]] = Field(default_factory=dict)
    unavailable: list[str] = Field(default_factory=list)

"""Pydantic models at the edges of the documents service.

The models of quotes and invoices are derived from their declarations (entities.py); the names
``QuoteFields``, ``InvoiceFields`` and ``LineIn`` stay importable from here."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.common.validation import IsoDatetime

from .entities import INVOICE, QUOTE, LineIn, Lines

__all__ = ["InvoiceFields", "LineIn", "Lines", "Payment", "PrintRequest", "QuoteFields"]

QuoteFields = QUOTE.model
InvoiceFields = INVOICE.model


class Payment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    paid_at: IsoDatetime | None = None


class PrintRequest(BaseModel):
    """What the gateway composed for a printed record (internal)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["account", "contact", "opportunity", "project"]
    record: dict[str, Any]
    sections: dict[str, dict[str, Any]] = Field(default_factory=dict)
    unavailable: list[str] = Field(default_factory=list)

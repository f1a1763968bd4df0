"""Pydantic models at the edges of the documents service.

The models of quotes and invoices are derived from their declarations (entities.py); the names
``QuoteFields``, ``InvoiceFields`` and ``LineIn`` stay importable from here."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from services.common.validation import IsoDatetime

from .entities import INVOICE, QUOTE, LineIn, Lines

__all__ = ["InvoiceFields", "LineIn", "Lines", "Payment", "PrintRequest", "QuoteFields"]

QuoteFields = QUOTE.model
InvoiceFields = INVOICE.model


class Payment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    paid_at: IsoDatetime | None = None


class PrintedField(BaseModel):
    """A field on paper, as its entity's declaration prints it."""

    model_config = ConfigDict(extra="forbid")

    name: str
    label: str
    kind: str = "text"
    labels: dict[str, str] = Field(default_factory=dict)  # a list's codes -> French labels


class PrintRequest(BaseModel):
    """What the gateway composed for a printed record (internal), with the layout its entity
    declares: heading, fields and their labels, section titles."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(pattern=r"^[a-z][a-z_]{0,49}$")  # the entity: "account"
    heading: str  # "Compte"
    label: str = ""  # the entity's French label, "Compte": the file is "compte-<title>.pdf"
    title_field: str = "name"
    fields: list[PrintedField]
    titles: dict[str, str] = Field(default_factory=dict)  # section (collection) -> title
    row_titles: dict[str, str] = Field(default_factory=dict)  # section -> the field naming a row
    # section -> its entity's fields (kind, labels): how each column of a row is written
    columns: dict[str, list[PrintedField]] = Field(default_factory=dict)
    record: dict[str, Any]
    sections: dict[str, dict[str, Any]] = Field(default_factory=dict)
    unavailable: list[str] = Field(default_factory=list)

"""The public operations of the documents service, for its OpenAPI fragment (/internal/meta):
quotes and invoices with their actions and PDFs, Word templates and mail merge."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.common.entities import CRUD_EVENTS
from services.common.event_schemas import record_schemas
from services.common.openapi import (
    DOCX,
    PDF,
    ZIP,
    Op,
    Open,
    SystemFields,
    crud_ops,
    page_model,
    record_model,
)

from .mailmerge import MergeMany, MergeOne
from .schemas import InvoiceFields, Payment, QuoteFields

Money = str  # decimal strings: "1234.50"
LIST_PARAMS = ("limit", "cursor", "sort")


class LineOut(Open):
    description: str
    quantity: Money
    unit_price: Money
    vat_rate: Money
    discount_percent: Money
    net: Money


class VatRate(Open):
    rate: Money
    base: Money
    vat: Money


_totals: dict[str, Any] = {
    "lines": (list[LineOut], ...),
    "total_net": (Money, ...),
    "total_vat": (Money, ...),
    "total_gross": (Money, ...),
    "vat_breakdown": (list[VatRate], ...),
}
Quote = record_model(
    "Quote",
    QuoteFields,
    number=(str, ...),
    status=(Literal["draft", "sent", "accepted", "refused", "expired"], ...),
    sent_at=(datetime | None, None),
    decided_at=(datetime | None, None),
    **_totals,
)
Invoice = record_model(
    "Invoice",
    InvoiceFields,
    kind=(Literal["invoice", "credit_note"], ...),
    number=(str | None, None),
    status=(Literal["draft", "issued", "paid", "cancelled"], ...),
    issue_date=(date | None, None),
    paid_at=(datetime | None, None),
    quote_id=(uuid.UUID | None, None),
    credited_invoice_id=(uuid.UUID | None, None),
    seller=(dict[str, str] | None, None),
    **_totals,
)


class Template(SystemFields):
    name: str
    kind: str
    filename: str
    size: int
    variables: list[str]


class TemplateUpload(BaseModel):
    """multipart/form-data: the Word file, its name, and the kind of record it serves."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    kind: Literal["account", "contact", "opportunity", "project", "quote", "invoice"]
    file: bytes


RECORDS: dict[str, type[BaseModel]] = {"quote": Quote, "invoice": Invoice, "template": Template}


def events() -> dict[str, dict[str, Any]]:
    """Event type -> schema, of the events the documents service publishes."""
    return {
        **record_schemas("quote", Quote, (*CRUD_EVENTS, "sent", "accepted", "refused")),
        **record_schemas("invoice", Invoice, (*CRUD_EVENTS, "issued", "paid", "cancelled")),
        **record_schemas("template", Template, ("created", "deleted")),
    }


def operations() -> list[Op]:
    return [
        *crud_ops("quotes", "Devis", QuoteFields, Quote, ("account_id",)),
        *(
            Op("post", f"/api/v1/quotes/{{id}}/{verb}", label, "Devis", answer=Quote)
            for verb, label in (
                ("send", "Envoyer un devis"),
                ("accept", "Accepter un devis"),
                ("refuse", "Refuser un devis"),
            )
        ),
        Op(
            "post",
            "/api/v1/quotes/{id}/invoice",
            "Facturer un devis accepté",
            "Devis",
            status=201,
            answer=Invoice,
        ),
        Op("get", "/api/v1/quotes/{id}/pdf", "Devis en PDF", "Devis", answer=PDF),
        *crud_ops("invoices", "Factures", InvoiceFields, Invoice, ("account_id",)),
        Op(
            "post",
            "/api/v1/invoices/{id}/issue",
            "Émettre une facture (numéro, PDF figé)",
            "Factures",
            answer=Invoice,
        ),
        Op(
            "post",
            "/api/v1/invoices/{id}/pay",
            "Enregistrer le paiement",
            "Factures",
            Payment,
            answer=Invoice,
        ),
        Op(
            "post",
            "/api/v1/invoices/{id}/credit-note",
            "Annuler par un avoir",
            "Factures",
            status=201,
            answer=Invoice,
        ),
        Op("get", "/api/v1/invoices/{id}/pdf", "Facture en PDF", "Factures", answer=PDF),
        Op(
            "get",
            "/api/v1/templates",
            "Lister les modèles Word",
            "Fusion",
            answer=page_model(Template),
            query=LIST_PARAMS,
        ),
        Op(
            "post",
            "/api/v1/templates",
            "Déposer un modèle Word (.docx)",
            "Fusion",
            TemplateUpload,
            201,
            Template,
            body_type="multipart/form-data",
        ),
        Op("get", "/api/v1/templates/{id}", "Lire un modèle Word", "Fusion", answer=Template),
        Op("delete", "/api/v1/templates/{id}", "Supprimer un modèle Word", "Fusion", status=204),
        Op(
            "post",
            "/api/v1/accounts/{id}/mail-merge",
            "Fusionner le compte dans un modèle Word",
            "Fusion",
            MergeOne,
            answer=DOCX,
            also=(PDF,),
        ),
        Op("post", "/api/v1/mail-merge", "Fusion en nombre (zip)", "Fusion", MergeMany, answer=ZIP),
    ]

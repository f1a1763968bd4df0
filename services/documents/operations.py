"""The public operations of the documents service, for its OpenAPI fragment (/internal/meta):
quotes and invoices with their actions and PDFs, Word templates and mail merge."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, create_model

from services.common.entities import choice_type
from services.common.event_schemas import entity_schemas
from services.common.openapi import DOCX, PDF, ZIP, Op, crud_operations, entity_record, page_model

from .entities import INVOICE, QUOTE, TEMPLATE, LineOut, VatRate
from .mailmerge import MergeMany, MergeOne, TemplateVariables
from .schemas import Payment

Money = str  # decimal strings: "1234.50"
LIST_PARAMS = ("limit", "cursor", "sort")

# Records as read, from their declarations; what the declaration does not say (how lines and
# totals read back, which read-only fields are always there) is given here.
_totals: dict[str, Any] = {
    "lines": (list[LineOut], ...),
    "total_net": (Money, ...),
    "total_vat": (Money, ...),
    "total_gross": (Money, ...),
    "vat_breakdown": (list[VatRate], ...),
}
Quote = entity_record(
    QUOTE, number=(str, ...), status=(choice_type(QUOTE.field("status").choices), ...), **_totals
)
Invoice = entity_record(
    INVOICE,
    kind=(choice_type(INVOICE.field("kind").choices), ...),
    status=(choice_type(INVOICE.field("status").choices), ...),
    **_totals,
)
Template = entity_record(
    TEMPLATE,
    name=(str, ...),
    kind=(str, ...),
    filename=(str, ...),
    size=(int, ...),
    variables=(list[str], ...),
)
TemplateUpload = create_model(
    "TemplateUpload",
    __base__=TEMPLATE.model,
    __doc__="multipart/form-data: the Word file, its name, and the kind of record it serves.",
    file=(bytes, ...),
)

RECORDS: dict[str, type[BaseModel]] = {"quote": Quote, "invoice": Invoice, "template": Template}


def events() -> dict[str, dict[str, Any]]:
    """Event type -> schema, of the events the documents service publishes."""
    return {
        **entity_schemas(QUOTE, Quote),
        **entity_schemas(INVOICE, Invoice),
        **entity_schemas(TEMPLATE, Template),
    }


def operations() -> list[Op]:
    return [
        *crud_operations(QUOTE, Quote),
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
        *crud_operations(INVOICE, Invoice),
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
        Op(
            "get",
            "/api/v1/templates/variables",
            "Les variables d'un modèle Word",
            "Fusion",
            answer=TemplateVariables,
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

"""The entities of the documents service, declared once: quotes (Devis) and invoices (Factures),
the last two tabs of an account's 360° view, and the Word templates of mail merge (Fusionner).

Their writable models, the kernel's record specs (service.py, templates.py), the OpenAPI
fragment, the event schemas and the public declarations all come from here. A quote's or an
invoice's lines are validated by ``LineIn``; their totals are computed (service.derive_totals).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict
from pydantic import Field as PydanticField

from services.common.entities import Entity, Field, Filter, Lock, Tab
from services.common.openapi import Open

from .domain import INVOICE_KINDS, INVOICE_STATUSES, QUOTE_STATUSES, VAT_RATES

# -- A line of a quote or an invoice, as a client writes it ------------------------------------


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


Amount = Annotated[
    Decimal,
    PydanticField(ge=Decimal("-999999999.99"), le=Decimal("999999999.99"), decimal_places=4),
]


class LineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: Annotated[str, PydanticField(max_length=2000), AfterValidator(_text)]
    quantity: Annotated[Decimal, PydanticField(gt=0, le=Decimal("1000000"), decimal_places=3)]
    unit_price: Amount
    vat_rate: Annotated[Decimal, AfterValidator(_vat_rate)]
    discount_percent: Annotated[Decimal, PydanticField(ge=0, le=100, decimal_places=2)] = Decimal(
        "0"
    )


Lines = Annotated[list[LineIn], PydanticField(max_length=500)]


# -- As read: a stored line (with its net amount) and the VAT of each rate ---------------------


class LineOut(Open):
    description: str
    quantity: str
    unit_price: str
    vat_rate: str
    discount_percent: str
    net: str


class VatRate(Open):
    rate: str
    base: str
    vat: str


# -- Fields quotes and invoices share ------------------------------------------------------------


def _connection(name: str, label: str, target: str, **options: Any) -> Field:
    return Field(name, label, "connection", target=target, printed=False, **options)


ACCOUNT = _connection("account_id", "Compte", "account", required=True, listed=True)
CONTACT = _connection("contact_id", "Contact", "contact", help="Un contact du compte (facultatif).")
LINES = Field(
    "lines",
    "Lignes",
    "lines",
    annotation=Lines,
    default=PydanticField(default_factory=list),
    help="Désignation, quantité, prix unitaire HT, taux de TVA (20, 10, 5,5, 2,1 ou 0) et "
    "remise en %. 500 lignes au plus.",
)
NOTES = Field("notes", "Notes", "long_text")
TOTALS = (
    Field("total_net", "Total HT", "money", read_only=True),
    Field("total_vat", "TVA", "money", read_only=True),
    Field("total_gross", "Total TTC", "money", read_only=True, listed=True),
    Field(
        "vat_breakdown",
        "Détail de la TVA",
        "object",
        read_only=True,
        annotation=list[VatRate],
        printed=False,
    ),
)
NUMBER = Field("number", "Numéro", "text", read_only=True, listed=True)
ACCOUNT_FILTER = Filter("account_id", "Compte", "connection", target="account")


QUOTE = Entity(
    name="quote",
    collection="quotes",
    label="Devis",
    plural="Devis",
    title_field="number",
    fields=(
        ACCOUNT,
        CONTACT,
        _connection("opportunity_id", "Affaire", "opportunity", help="Une affaire du même compte."),
        Field(
            "valid_until",
            "Valable jusqu'au",
            "date",
            help="Un devis envoyé expire le lendemain de cette date.",
        ),
        LINES,
        NOTES,
        *TOTALS,
        NUMBER,
        Field(
            "status",
            "Statut",
            "list",
            read_only=True,
            listed=True,
            choices=QUOTE_STATUSES,
        ),
        Field("sent_at", "Envoyé le", "datetime", read_only=True),
        Field("decided_at", "Accepté ou refusé le", "datetime", read_only=True),
    ),
    filters=(ACCOUNT_FILTER,),
    tab=Tab("Devis", "account_id", order=5),
    lock=Lock(
        "status",
        ("draft",),
        "Ce devis n'est plus un brouillon : il ne se modifie plus (dupliquez-le pour en faire "
        "un autre).",
    ),
    events=("created", "updated", "deleted", "restored", "sent", "accepted", "refused"),
)

INVOICE = Entity(
    name="invoice",
    collection="invoices",
    label="Facture",
    feminine=True,
    plural="Factures",
    title_field="number",
    fields=(
        ACCOUNT,
        CONTACT,
        Field(
            "due_date",
            "Échéance",
            "date",
            help="À défaut, 30 jours après l'émission.",
        ),
        LINES,
        NOTES,
        *TOTALS,
        Field(
            "kind",
            "Type",
            "list",
            read_only=True,
            choices=INVOICE_KINDS,
        ),
        Field(
            "number",
            "Numéro",
            "text",
            read_only=True,
            listed=True,
            help="Donné à l'émission, sans trou dans la suite de l'année.",
        ),
        Field(
            "status",
            "Statut",
            "list",
            read_only=True,
            listed=True,
            choices=INVOICE_STATUSES,
        ),
        Field("issue_date", "Date d'émission", "date", read_only=True),
        Field("paid_at", "Payée le", "datetime", read_only=True),
        Field(
            "quote_id",
            "Devis",
            "connection",
            target="quote",
            read_only=True,
            printed=False,
        ),
        Field(
            "credited_invoice_id",
            "Facture annulée",
            "connection",
            target="invoice",
            read_only=True,
            printed=False,
            help="La facture que cet avoir annule.",
        ),
        Field(
            "seller",
            "Vendeur",
            "object",
            read_only=True,
            printed=False,
            annotation=dict[str, str],
        ),
    ),
    filters=(ACCOUNT_FILTER,),
    tab=Tab("Factures", "account_id", order=6),
    lock=Lock(
        "status",
        ("draft",),
        "Cette facture n'est plus un brouillon : elle ne se modifie plus (un avoir l'annule).",
    ),
    events=("created", "updated", "deleted", "restored", "issued", "paid", "cancelled"),
)

TEMPLATE_KINDS = (
    ("account", "Compte"),
    ("contact", "Contact"),
    ("opportunity", "Affaire"),
    ("project", "Projet"),
    ("quote", "Devis"),
    ("invoice", "Facture"),
)
TEMPLATE = Entity(
    name="template",
    collection="templates",
    label="Modèle",
    plural="Modèles",
    fields=(
        Field(
            "name",
            "Nom",
            "text",
            required=True,
            max_length=200,
            listed=True,
            annotation=Annotated[str, PydanticField(min_length=1, max_length=200)],
        ),
        Field(
            "kind",
            "Fiches servies",
            "list",
            required=True,
            listed=True,
            choices=TEMPLATE_KINDS,
            help="Le type de fiche que ce modèle fusionne.",
        ),
        Field("filename", "Fichier", "text", read_only=True),
        Field("size", "Taille (octets)", "number", read_only=True),
        Field(
            "variables",
            "Variables",
            "object",
            read_only=True,
            annotation=list[str],
            help="Les variables que le modèle emploie.",
        ),
    ),
    sorts=("created_at", "name"),
    default_sort="name",
    events=("created", "deleted"),
)

ENTITIES = (QUOTE, INVOICE, TEMPLATE)

"""Fusionner: accounts merged into a Word template, one at a time or in bulk (a zip)."""

from __future__ import annotations

import asyncio
import io
import re
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

import asyncpg
from pydantic import BaseModel, ConfigDict, Field

from services.common.errors import FieldError, NotFound, ValidationFailed
from services.common.identity import Identity
from services.common.replica import find_reference, find_references

from . import templates
from .converter import Converters
from .domain import french_date, money
from .renderer import Renderer

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
MAX_BULK = 500
Format = Literal["docx", "pdf"]

SELECT_CONTACTS = """
SELECT record FROM record_refs
WHERE entity = 'contact' AND NOT deleted AND record->>'account_id' = $1 ORDER BY label
"""


class MergeOne(BaseModel):
    model_config = ConfigDict(extra="forbid")

    template_id: uuid.UUID
    format: Format = "docx"


class MergeMany(MergeOne):
    account_ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_BULK)


class DocumentedVariable(BaseModel):
    name: str = Field(description="As written in a template: compte.name, vendeur.iban...")
    description: str = Field(description="What it gives, in French")


class RecordFields(BaseModel):
    entity: str = Field(description="The entity whose declared fields the group also has")
    prefix: str = Field(description="Written before each field: compte.name, c.first_name")


class VariableGroup(BaseModel):
    title: str
    hint: str
    record: RecordFields | None = None
    variables: list[DocumentedVariable]


class TemplateVariables(BaseModel):
    """The variables a Word template may use (docs/mail-merge.md)."""

    groups: list[VariableGroup]
    names: list[str] = Field(
        description="The names a template may use at its top level: any other is empty when "
        "merged (compare a template's variables with them)"
    )


def safe_name(name: str) -> str:
    return re.sub(r"[^\w.-]+", "-", name).strip("-")[:80] or "document"


# -- What a template receives: the vocabulary, and the context built from it -------------------
#
# Each name a template may use is declared once below, with its French description; the merge
# context is built from the same tuples (a value the vocabulary does not name is not given to a
# template), and GET /api/v1/templates/variables serves them. The account's and the contacts'
# own fields are those of their records, as their service declares them: the vocabulary names
# whose declaration they come from (``record``), and adds what the merge writes beside them.


@dataclass(frozen=True)
class Variable:
    name: str
    description: str


def _one_line_address(record: dict[str, Any]) -> str:
    address = record.get("address") or {}
    town = f"{address.get('postal_code') or ''} {address.get('city') or ''}".strip()
    return ", ".join(p for p in (address.get("street"), town) if p)


def _revenue(record: dict[str, Any]) -> str:
    value = record.get("annual_revenue")
    return "" if value is None else money(value)


# Written beside a record's own fields: (variable, how it is computed from the record).
Addition = tuple[Variable, Callable[[dict[str, Any]], str]]
ADDRESS_LINE: Addition = (
    Variable("adresse", "L'adresse sur une ligne (« 3 quai de Rive, 74200 Thonon-les-Bains »)"),
    _one_line_address,
)
ACCOUNT_ADDITIONS: tuple[Addition, ...] = (
    ADDRESS_LINE,
    (
        Variable(
            "chiffre_affaires",
            "Le chiffre d'affaires en euros, à la française (« 1 234 567,80 € »), vide s'il "
            "n'est pas renseigné",
        ),
        _revenue,
    ),
)
CONTACT_ADDITIONS: tuple[Addition, ...] = ()  # a contact has no address of its own
# Every record carries these beside its declared fields (the record kernel writes them).
RECORD_DATES = (
    Variable("created_at", "Création de la fiche (date et heure UTC, format ISO)"),
    Variable("updated_at", "Dernière modification (date et heure UTC, format ISO)"),
)
# The seller's identity (DocumentsSettings.seller(), the same as on quotes and invoices).
SELLER = (
    Variable("name", "raison sociale"),
    Variable("address", "adresse"),
    Variable("siren", "SIREN"),
    Variable("vat_number", "numéro de TVA"),
    Variable("iban", "IBAN"),
    Variable("payment_terms", "conditions de paiement"),
    Variable("late_payment", "pénalités de retard"),
)
ACCOUNT_PREFIX = "compte"
CONTACT_ROW = "c"  # the row variable of {%tr for c in contacts %}
# The names a template may use at its top level, in the order the context lists them.
TOP_LEVEL = (
    Variable(ACCOUNT_PREFIX, "Le compte fusionné"),
    Variable("account", "Le compte, sous son nom anglais (comme « compte »)"),
    Variable("contacts", "Les contacts du compte, par nom"),
    Variable("responsable", "Le responsable du compte (identifiant)"),
    Variable("vendeur", "Votre société"),
    Variable("date", "La date du jour (« 28/11/2026 »)"),
    Variable("utilisateur", "Qui fusionne (identifiant)"),
)
TOP_LEVEL_NAMES = tuple(variable.name for variable in TOP_LEVEL)


def _filled(value: Any) -> Any:
    """A value as a letter writes it: a missing one (None) is empty, never "None", inside an
    address too."""
    if value is None:
        return ""
    if isinstance(value, dict):
        return {key: _filled(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_filled(inner) for inner in value]
    return value


def _view(record: dict[str, Any], additions: tuple[Addition, ...]) -> dict[str, Any]:
    """A record as a letter shows it: French formats beside the raw values, a missing value
    empty."""
    view = {key: _filled(value) for key, value in record.items()}
    for variable, compute in additions:
        view[variable.name] = compute(record)
    return view


def build_context(
    account: dict[str, Any],
    contacts: list[dict[str, Any]],
    username: str,
    seller: dict[str, str],
    today: date,
) -> dict[str, Any]:
    """What a template receives for ``account``: exactly the names of TOP_LEVEL."""
    record = _view(account, ACCOUNT_ADDITIONS)
    values = {
        "compte": record,
        "account": record,
        "contacts": [_view(contact, CONTACT_ADDITIONS) for contact in contacts],
        "responsable": record.get("owner") or "",
        "vendeur": {variable.name: seller.get(variable.name, "") for variable in SELLER},
        "date": french_date(today),
        "utilisateur": username,
    }
    return {name: values[name] for name in TOP_LEVEL_NAMES}


async def _context(
    conn: asyncpg.Connection, account_id: uuid.UUID, identity: Identity, seller: dict[str, str]
) -> dict[str, Any] | None:
    account = await find_reference(conn, "account", account_id)
    if account is None or account.deleted:
        return None
    contacts = await conn.fetch(SELECT_CONTACTS, str(account_id))
    return build_context(
        account.record,
        [row["record"] for row in contacts],
        identity.username,
        seller,
        datetime.now(UTC).date(),
    )


def _described(prefix: str, variables: list[Variable], what: str = "") -> list[dict[str, str]]:
    """``variables`` as served, named ``<prefix>.<name>`` (no prefix: as they are)."""
    return [
        {"name": f"{prefix}.{v.name}" if prefix else v.name, "description": what + v.description}
        for v in variables
    ]


def vocabulary() -> dict[str, Any]:
    """The variables a template may use, in groups (GET /api/v1/templates/variables, its
    schema TemplateVariables).

    A group with a ``record`` also has that record's own fields (``{"entity", "prefix"}``: each
    field its entity declares, as ``<prefix>.<field>``, an address by its parts), which their own
    service declares: clients read them from GET /api/v1/meta/entities."""
    top = {v.name: v for v in TOP_LEVEL}
    groups: list[dict[str, Any]] = [
        {
            "title": "Le compte",
            "hint": "Aussi sous le nom « account ».",
            "record": {"entity": "account", "prefix": ACCOUNT_PREFIX},
            "variables": _described(
                ACCOUNT_PREFIX, [v for v, _ in ACCOUNT_ADDITIONS] + list(RECORD_DATES)
            ),
        },
        {
            "title": "Ses contacts",
            "hint": "Une ligne de tableau par contact : {%tr for c in contacts %} … "
            "{%tr endfor %} ; dans la ligne, chaque contact est « c ».",
            "record": {"entity": "contact", "prefix": CONTACT_ROW},
            "variables": _described(
                CONTACT_ROW, [v for v, _ in CONTACT_ADDITIONS] + list(RECORD_DATES)
            ),
        },
        {
            "title": "Autres valeurs",
            "hint": "",
            "variables": [
                *_described("", [top["responsable"]]),
                *_described("vendeur", list(SELLER), "Votre société : "),
                *_described("", [top["date"], top["utilisateur"]]),
            ],
        },
    ]
    return {"groups": groups, "names": list(TOP_LEVEL_NAMES)}


@dataclass
class Stats:
    abandoned: int = 0  # bulk merges stopped because their client went away


@dataclass
class Workers:
    """Where templates are rendered and documents converted (app.py starts both pools)."""

    renderer: Renderer
    converters: Converters
    stats: Stats = field(default_factory=Stats)


class ClientGone(Exception):
    """The bulk merge's client closed its connection: nothing more is rendered or converted."""


async def merge_one(
    pool: asyncpg.Pool,
    identity: Identity,
    seller: dict[str, str],
    account_id: uuid.UUID,
    request: MergeOne,
    workers: Workers,
) -> tuple[str, str, bytes]:
    """(filename, content type, content) of one account merged."""
    name, content = await templates.content_for(pool, request.template_id, "account")
    async with pool.acquire() as conn:
        context = await _context(conn, account_id, identity, seller)
    if context is None:
        raise NotFound("Aucun compte ne porte cet identifiant.")
    document = await workers.renderer.render(content, context)
    filename = safe_name(f"{name}-{context['compte'].get('name', '')}")
    if request.format == "pdf":
        return f"{filename}.pdf", "application/pdf", await workers.converters.to_pdf(document)
    return f"{filename}.docx", DOCX, document


async def merge_many(
    pool: asyncpg.Pool,
    identity: Identity,
    seller: dict[str, str],
    request: MergeMany,
    workers: Workers,
    client_gone: Callable[[], bool],
) -> bytes:
    """A zip with one document per account (every unknown account is named first: 422).
    Between two documents, stops (ClientGone) when ``client_gone()``: a client that went away
    costs no more rendering or conversion."""
    name, content = await templates.content_for(pool, request.template_id, "account")
    if request.format == "pdf" and workers.converters.pool is None:
        await workers.converters.to_pdf(b"")  # 422 saying why PDF is unavailable
    async with pool.acquire() as conn:
        found = await find_references(conn, "account", request.account_ids)
        contexts = []
        for index, account_id in enumerate(request.account_ids):
            reference = found.get(account_id)
            live = reference is not None and not reference.deleted
            contexts.append(
                (index, await _context(conn, account_id, identity, seller) if live else None)
            )
    missing = [
        FieldError(f"account_ids.{i}", "Aucun compte ne porte cet identifiant.")
        for i, c in contexts
        if c is None
    ]
    if missing:
        raise ValidationFailed(missing)
    try:
        return await _zip(name, content, contexts, request.format, workers, client_gone)
    except (ClientGone, asyncio.CancelledError):  # cancelled: the server saw the client go
        workers.stats.abandoned += 1
        raise


async def _zip(
    name: str,
    content: bytes,
    contexts: list[tuple[int, dict[str, Any] | None]],
    output: Format,
    workers: Workers,
    client_gone: Callable[[], bool],
) -> bytes:
    out = io.BytesIO()
    used: set[str] = set()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for _, context in contexts:
            assert context is not None
            if client_gone():
                raise ClientGone
            document = await workers.renderer.render(content, context)
            stem = safe_name(f"{name}-{context['compte'].get('name', '')}")
            while stem in used:
                stem += "-bis"
            used.add(stem)
            if output == "pdf":
                archive.writestr(f"{stem}.pdf", await workers.converters.to_pdf(document))
            else:
                archive.writestr(f"{stem}.docx", document)
    return out.getvalue()

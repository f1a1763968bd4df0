"""What goes on paper: quotes and invoices, and any record printed from its form (Imprimer)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg

from services.common.french import (
    PARIS,
    date_fr,
    datetime_fr,
    money_fr,
    number_fr,
    percent_fr,
    phone_fr,
)
from services.common.replica import find_reference

from .domain import INVOICE_STATUSES, QUOTE_STATUSES, french_date
from .pdf import render_pdf
from .schemas import PrintedField, PrintRequest

# The statuses of quotes and invoices, as declared (both say "Brouillon" for a draft).
STATUS_LABELS = dict((*QUOTE_STATUSES, *INVOICE_STATUSES))


async def account_of(conn: asyncpg.Connection, account_id: Any) -> dict[str, Any]:
    found = await find_reference(conn, "account", account_id, wait_seconds=0)
    return found.record if found else {"name": "(compte inconnu)", "address": None}


async def commercial_pdf(
    conn: asyncpg.Connection, doc: dict[str, Any], seller: dict[str, str], *, invoice: bool
) -> bytes:
    if invoice:
        heading = "Avoir" if doc.get("kind") == "credit_note" else "Facture"
        facts = [
            ("Date", french_date(doc.get("issue_date")) or "—"),
            ("Échéance", french_date(doc.get("due_date")) or "à l'émission + 30 jours"),
            ("Statut", STATUS_LABELS.get(doc["status"], doc["status"])),
        ]
        if doc.get("paid_at"):
            facts.append(("Payée le", french_date(doc["paid_at"])))
    else:
        heading = "Devis"
        facts = [
            ("Date", french_date(doc["created_at"])),
            ("Valable jusqu'au", french_date(doc.get("valid_until")) or "—"),
            ("Statut", STATUS_LABELS.get(doc["status"], doc["status"])),
        ]
    context = {
        "heading": heading,
        "doc": doc,
        "seller": seller,
        "account": await account_of(conn, doc["account_id"]),
        "facts": facts,
        "is_invoice": invoice,
    }
    return await render_pdf("commercial.html", context)


BLANK = "—"


def _value(field: PrintedField, value: Any, blank: str = BLANK) -> str:
    """A field's value on paper, written as the web interface shows it: by its kind, in French
    (money, dates, times in Paris, phone numbers), a list's code by its label."""
    if value is None or value == "":
        return blank
    kind = field.kind
    if kind == "address" and isinstance(value, dict):
        parts = [
            value.get("street"),
            " ".join(str(p) for p in (value.get("postal_code"), value.get("city")) if p),
        ]
        return ", ".join(str(p) for p in [*parts, value.get("country")] if p) or blank
    if kind == "list":
        return field.labels.get(str(value), str(value))
    if kind == "boolean" and isinstance(value, bool):
        return "Oui" if value else "Non"
    formats = {
        "money": money_fr,
        "number": number_fr,
        "decimal": number_fr,
        "percent": percent_fr,
        "date": date_fr,
        "datetime": datetime_fr,
        "phone": phone_fr,
    }
    write = formats.get(kind)
    return write(value) if write else str(value)


def _column(columns: dict[str, PrintedField], name: str, kind: str = "text") -> PrintedField:
    """How a section's column is written: as its entity declares it (sent by the gateway)."""
    return columns.get(name) or PrintedField(name=name, label=name, kind=kind)


def _row(
    section: str,
    item: dict[str, Any],
    title_field: str = "name",
    columns: dict[str, PrintedField] | None = None,
) -> list[str]:
    declared = columns or {}

    def cell(name: str, kind: str = "text") -> str:
        return _value(_column(declared, name, kind), item.get(name), "")

    if section == "contacts":
        return [
            " ".join(p for p in (item.get("first_name"), item.get("last_name")) if p),
            cell("job_title"),
        ]
    if section == "actions":
        when = item.get("occurred_at") or item.get("due_at") or item.get("created_at")
        return [date_fr(when), cell("type", "list"), cell("subject")]
    if section in ("quotes", "invoices"):
        status = _column(declared, "status", "list")
        if not status.labels:
            status = PrintedField(name="status", label="Statut", kind="list", labels=STATUS_LABELS)
        return [
            item.get("number") or "(brouillon)",
            _value(status, item.get("status"), ""),
            money_fr(item.get("total_gross")),
        ]
    title = item.get(title_field) or item.get("name") or ""
    state = "stage" if item.get("stage") else "status"
    return [str(title), cell(state, "list")]


async def record_pdf(request: PrintRequest) -> bytes:
    """The record as its service declares it printed: the gateway sends the heading, the fields
    with their labels, kinds and list labels, and the sections' titles and columns with the
    record and its tabs."""
    record = request.record
    fields = [(f.label, _value(f, record.get(f.name))) for f in request.fields]
    system = [
        ("Créée le", date_fr(record.get("created_at")) or BLANK),
        ("Créée par", record.get("created_by") or BLANK),
        ("Modifiée le", date_fr(record.get("updated_at")) or BLANK),
        ("Modifiée par", record.get("updated_by") or BLANK),
        ("Version", str(record.get("version", ""))),
    ]
    sections = []
    for name, page in request.sections.items():
        items = page.get("items", [])
        more = " et plus" if page.get("next_cursor") else ""
        columns = {f.name: f for f in request.columns.get(name, [])}
        title_field = request.row_titles.get(name, "name")
        sections.append(
            {
                "title": request.titles.get(name, name),
                "count_label": f"{len(items)}{more}",
                "rows": [_row(name, item, title_field, columns) for item in items],
            }
        )
    printed_at = datetime.now(UTC).astimezone(PARIS)
    context = {
        "heading": f"{request.heading} : {record.get(request.title_field) or ''}",
        "fields": fields,
        "system": system,
        "sections": sections,
        "unavailable": [request.titles.get(s, s) for s in request.unavailable],
        "printed_at": printed_at.strftime("%d/%m/%Y à %H:%M"),
    }
    return await render_pdf("record.html", context)


def record_filename(request: PrintRequest) -> str:
    """The download's name without its extension, in French: "compte-Boulangerie Dupont" (the
    web route makes it ASCII-safe)."""
    record = request.record
    title = (
        record.get(request.title_field)
        or record.get("name")
        or record.get("last_name")
        or record.get("id")
        or ""
    )
    return f"{(request.label or request.heading).lower()}-{title}"

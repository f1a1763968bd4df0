"""What goes on paper: quotes and invoices, and any record printed from its form (Imprimer)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg

from services.common.replica import find_reference

from .domain import INVOICE_STATUSES, QUOTE_STATUSES, french_date, money
from .pdf import render_pdf
from .schemas import PrintRequest

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


def _value(kind: str, value: Any) -> str:
    """A field's value on paper, written as its kind asks."""
    if value is None or value == "":
        return "—"
    if kind == "address" and isinstance(value, dict):
        parts = [
            value.get("street"),
            " ".join(p for p in (value.get("postal_code"), value.get("city")) if p),
        ]
        return ", ".join(p for p in [*parts, value.get("country")] if p) or "—"
    if kind == "money":
        return money(value)
    if kind in ("date", "datetime"):
        return french_date(value)
    if kind == "boolean" and isinstance(value, bool):
        return "Oui" if value else "Non"
    return str(value)


def _row(section: str, item: dict[str, Any], title_field: str = "name") -> list[str]:
    if section == "contacts":
        return [
            " ".join(p for p in (item.get("first_name"), item.get("last_name")) if p),
            item.get("job_title") or "",
        ]
    if section == "actions":
        return [
            french_date(item.get("occurred_at") or item.get("due_at") or item["created_at"]),
            item["type"],
            item["subject"],
        ]
    if section in ("quotes", "invoices"):
        return [
            item.get("number") or "(brouillon)",
            STATUS_LABELS.get(item["status"], item["status"]),
            money(item.get("total_gross")),
        ]
    title = item.get(title_field) or item.get("name") or ""
    return [str(title), str(item.get("stage") or item.get("status") or "")]


async def record_pdf(request: PrintRequest) -> bytes:
    """The record as its service declares it printed: the gateway sends the heading, the fields
    with their labels and kinds, and the sections' titles with the record and its tabs."""
    record = request.record
    fields = [(f.label, _value(f.kind, record.get(f.name))) for f in request.fields]
    system = [
        ("Créée le", french_date(record.get("created_at"))),
        ("Créée par", record.get("created_by") or "—"),
        ("Modifiée le", french_date(record.get("updated_at"))),
        ("Modifiée par", record.get("updated_by") or "—"),
        ("Version", str(record.get("version", ""))),
    ]
    sections = []
    for name, page in request.sections.items():
        items = page.get("items", [])
        more = " et plus" if page.get("next_cursor") else ""
        sections.append(
            {
                "title": request.titles.get(name, name),
                "count_label": f"{len(items)}{more}",
                "rows": [_row(name, item, request.row_titles.get(name, "name")) for item in items],
            }
        )
    context = {
        "heading": f"{request.heading} : {record.get(request.title_field) or ''}",
        "fields": fields,
        "system": system,
        "sections": sections,
        "unavailable": [request.titles.get(s, s) for s in request.unavailable],
        "printed_at": datetime.now(UTC).strftime("%d/%m/%Y %H:%M UTC"),
    }
    return await render_pdf("record.html", context)

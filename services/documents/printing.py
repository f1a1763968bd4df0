"""What goes on paper: quotes and invoices, and any record printed from its form (Imprimer)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg

from services.common.replica import find_reference

from .domain import french_date, money
from .pdf import render_pdf
from .schemas import PrintRequest

STATUS_LABELS = {
    "draft": "Brouillon",
    "sent": "Envoyé",
    "accepted": "Accepté",
    "refused": "Refusé",
    "expired": "Expiré",
    "issued": "Émise",
    "paid": "Payée",
    "cancelled": "Annulée",
}


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


FIELD_LABELS: dict[str, list[tuple[str, str]]] = {
    "account": [
        ("name", "Raison sociale"),
        ("account_type", "Type de compte"),
        ("industry", "Secteur d'activité"),
        ("phone", "Téléphone"),
        ("email", "E-mail"),
        ("website", "Site web"),
        ("address", "Adresse"),
        ("siren", "SIREN"),
        ("siret", "SIRET"),
        ("vat_number", "TVA intracommunautaire"),
        ("owner", "Responsable"),
        ("employees", "Effectif"),
        ("annual_revenue", "Chiffre d'affaires"),
        ("description", "Description"),
    ],
    "contact": [
        ("civility", "Civilité"),
        ("first_name", "Prénom"),
        ("last_name", "Nom"),
        ("job_title", "Fonction"),
        ("email", "E-mail"),
        ("phone", "Téléphone"),
        ("mobile", "Mobile"),
        ("description", "Description"),
    ],
    "opportunity": [
        ("name", "Affaire"),
        ("stage", "Étape"),
        ("amount", "Montant"),
        ("probability", "Probabilité (%)"),
        ("expected_close_date", "Clôture prévue"),
        ("source", "Origine"),
        ("closed_at", "Clôturée le"),
        ("description", "Description"),
    ],
    "project": [
        ("name", "Projet"),
        ("status", "Statut"),
        ("start_date", "Début"),
        ("end_date", "Fin"),
        ("budget", "Budget"),
        ("description", "Description"),
    ],
}
HEADINGS = {
    "account": "Compte",
    "contact": "Contact",
    "opportunity": "Affaire",
    "project": "Projet",
}
SECTION_TITLES = {
    "contacts": "Contacts",
    "actions": "Actions",
    "opportunities": "Affaires",
    "projects": "Projets",
    "quotes": "Devis",
    "invoices": "Factures",
}
MONEY_FIELDS = {"annual_revenue", "amount", "budget", "total_gross"}
DATE_FIELDS = {
    "expected_close_date",
    "closed_at",
    "start_date",
    "end_date",
    "occurred_at",
    "due_at",
}


def _value(field: str, value: Any) -> str:
    if value is None or value == "":
        return "—"
    if field == "address" and isinstance(value, dict):
        parts = [
            value.get("street"),
            " ".join(p for p in (value.get("postal_code"), value.get("city")) if p),
        ]
        return ", ".join(p for p in [*parts, value.get("country")] if p) or "—"
    if field in MONEY_FIELDS:
        return money(value)
    if field in DATE_FIELDS:
        return french_date(value)
    return str(value)


def _row(section: str, item: dict[str, Any]) -> list[str]:
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
    return [item.get("name", ""), str(item.get("stage") or item.get("status") or "")]


async def record_pdf(request: PrintRequest) -> bytes:
    record = request.record
    fields = [
        (label, _value(field, record.get(field))) for field, label in FIELD_LABELS[request.kind]
    ]
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
                "title": SECTION_TITLES.get(name, name),
                "count_label": f"{len(items)}{more}",
                "rows": [_row(name, item) for item in items],
            }
        )
    heading = f"{HEADINGS[request.kind]} : {record.get('name') or record.get('last_name') or ''}"
    context = {
        "heading": heading,
        "fields": fields,
        "system": system,
        "sections": sections,
        "unavailable": [SECTION_TITLES.get(s, s) for s in request.unavailable],
        "printed_at": datetime.now(UTC).strftime("%d/%m/%Y %H:%M UTC"),
    }
    return await render_pdf("record.html", context)

"""Imprimer's page: the documents service lays out what the gateway sends, built from the
declarations (heading, labels, kinds, section titles); it keeps no labels of other services."""

from __future__ import annotations

import subprocess
from typing import Any

from services.documents.printing import record_pdf
from services.documents.schemas import PrintRequest
from services.gateway.printing import PrintPlan, printable
from tests.unit.test_gateway_composition import DECLARED, registry_of

STAMPS = {
    "created_at": "2026-11-29T10:00:00Z",
    "created_by": "admin",
    "updated_at": "2026-11-30T10:00:00Z",
    "updated_by": "anne",
    "version": 3,
}


def request(plan: PrintPlan, record: dict[str, Any], **parts: Any) -> PrintRequest:
    """What the gateway sends for ``record`` (as printing.print_record composes it)."""
    return PrintRequest.model_validate(
        {
            "kind": plan.kind,
            "heading": plan.heading,
            "title_field": plan.title_field,
            "fields": list(plan.fields),
            "titles": {section.collection: section.title for section in plan.sections},
            "record": {**STAMPS, **record},
            **parts,
        }
    )


async def printed(body: PrintRequest) -> str:
    return pdf_text(await record_pdf(body))


def pdf_text(content: bytes) -> str:
    command = ["pdftotext", "-layout", "-", "-"]
    result = subprocess.run(command, input=content, capture_output=True, check=True)  # noqa: S603
    return " ".join(result.stdout.decode().replace("\u202f", " ").replace("\u00a0", " ").split())


async def test_an_account_prints_with_its_declared_labels_and_values_by_kind() -> None:
    plan = printable(registry_of(DECLARED).entities())["accounts"]
    account = {
        "name": "Éditions du Léman",
        "address": {"street": "3 quai de Rive", "postal_code": "74200", "city": "Thonon"},
        "annual_revenue": "1234567.8",
        "employees": 12,
    }
    actions = {"items": [{"occurred_at": "2026-11-02T10:00:00Z", "type": "note",
                          "subject": "Réunion", "created_at": "2026-11-02T10:00:00Z"}]}  # fmt: skip
    text = await printed(
        request(plan, account, sections={"actions": actions}, unavailable=["quotes", "invoices"])
    )
    for expected in (
        "Compte : Éditions du Léman",
        "Raison sociale Éditions du Léman",
        "Adresse 3 quai de Rive, 74200 Thonon",
        "Chiffre d'affaires 1 234 567,80 €",
        "Effectif 12",
        "SIRET —",
        "Modifiée le 30/11/2026 Modifiée par anne Version 3",
        "Actions (1) 02/11/2026 note Réunion",
        "Indisponible au moment de l'impression : Devis, Factures.",
    ):
        assert expected in text, expected
    assert "Localisation" not in text  # not printed, as declared


async def test_the_page_says_what_the_request_says_not_a_table_of_its_own() -> None:
    plan = printable(registry_of(DECLARED).entities())["projects"]
    body = request(plan, {"name": "Chantier", "budget": "1500", "start_date": "2026-12-01"})
    body.heading = "Chantier client"
    body.fields[0].label = "Intitulé du chantier"
    body.titles["actions"] = "Journal"
    body.sections = {"actions": {"items": [], "next_cursor": None}}
    text = await printed(body)
    for expected in ("Chantier client : Chantier", "Intitulé du chantier Chantier",
                     "Budget 1 500,00 €", "Début 01/12/2026", "Journal (0) Aucun élément."):  # fmt: skip
        assert expected in text, expected
    assert "Projet :" not in text


def test_a_row_of_a_section_is_named_by_its_entity_title_field() -> None:
    from services.documents.printing import _row

    assert _row("notes", {"title": "Relance", "status": "ouverte"}, "title") == [
        "Relance",
        "ouverte",
    ]

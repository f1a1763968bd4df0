"""Imprimer's page: the documents service lays out what the gateway sends, built from the
declarations (heading, labels, kinds, section titles); it keeps no labels of other services."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from services.common.french import PARIS
from services.documents.printing import record_filename, record_pdf
from services.documents.schemas import PrintRequest
from services.documents.web import _safe
from services.gateway.printing import PrintPlan, labelled, printable
from tests.unit.test_gateway_composition import DECLARED, registry_of

STAMPS = {
    "created_at": "2026-11-29T10:00:00Z",
    "created_by": "admin",
    "updated_at": "2026-11-30T10:00:00Z",
    "updated_by": "anne",
    "version": 3,
}


def request(
    plan: PrintPlan,
    record: dict[str, Any],
    picklists: Mapping[str, Mapping[str, str]] | None = None,
    **parts: Any,
) -> PrintRequest:
    """What the gateway sends for ``record`` (as printing.print_record composes it), with the
    labels of ``picklists`` as their owners would serve them."""
    lists = picklists or {}
    return PrintRequest.model_validate(
        {
            "kind": plan.kind,
            "label": plan.label,
            "heading": plan.heading,
            "title_field": plan.title_field,
            "fields": [labelled(f, lists) for f in plan.fields],
            "columns": {
                s.collection: [labelled(f, lists) for f in s.columns] for s in plan.sections
            },
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
        "Actions (1) 02/11/2026 Note Réunion",
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


async def test_values_print_as_the_screen_shows_them_labels_phone_paris_time() -> None:
    plan = printable(registry_of(DECLARED).entities())["accounts"]
    assert {"account_type", "industry"} <= plan.picklists()
    account = {
        "name": "Boulangerie Dupont & Fils",
        "account_type": "client",
        "industry": "C",
        "phone": "+33142685300",
    }
    sections = {
        "actions": {"items": [{"occurred_at": "2026-11-29T22:55:00Z", "type": "call",
                               "subject": "Relance", "created_at": "2026-11-29T22:55:00Z"}]},
        "opportunities": {"items": [{"name": "Fournil", "stage": "gagnee"}]},
    }  # fmt: skip
    picklists = {
        "account_type": {"client": "Client", "prospect": "Prospect"},
        "industry": {"C": "Industrie manufacturière"},
    }
    before = datetime.now(UTC).astimezone(PARIS)
    text = await printed(request(plan, account, picklists, sections=sections))
    for expected in (
        "Type de compte Client",
        "Secteur d'activité Industrie manufacturière",
        "01 42 68 53 00",
        "29/11/2026 Appel Relance",  # 23:55 in Paris: still the 29th
        "Fournil Gagnée",
    ):
        assert expected in text, expected
    for code in ("Type de compte client", "Secteur d'activité C ", "+33142685300", " call ",
                 "gagnee", "UTC"):  # fmt: skip
        assert code not in text, code
    after = datetime.now(UTC).astimezone(PARIS)
    stamp = re.search(r"Imprimé le (\d\d/\d\d/\d{4}) à (\d\d:\d\d)\.", text)
    assert stamp is not None, text
    shown = datetime.strptime(" ".join(stamp.groups()), "%d/%m/%Y %H:%M").replace(tzinfo=PARIS)
    assert before.replace(second=0, microsecond=0) <= shown <= after  # Paris time, not UTC


async def test_a_picklist_that_could_not_be_read_prints_its_codes() -> None:
    plan = printable(registry_of(DECLARED).entities())["accounts"]
    text = await printed(request(plan, {"name": "Sans liste", "account_type": "client"}))
    assert "Type de compte client" in text


def test_the_download_is_named_in_french_and_ascii() -> None:
    plan = printable(registry_of(DECLARED).entities())["accounts"]
    body = request(plan, {"name": "Boulangerie Dupont et Fils"})
    assert _safe(record_filename(body)) == "compte-Boulangerie-Dupont-et-Fils"
    body = request(plan, {"name": "Éditions du Léman"})
    assert _safe(record_filename(body)) == "compte-Editions-du-Leman"

"""The declarations of quotes, invoices and templates: the models derived from them accept and
refuse what the hand-written models did, with the same French messages, and the kernel shows
exactly the declared fields."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from services.common.entities import SYSTEM_COLUMNS
from services.common.validation import try_validate
from services.documents import service, templates
from services.documents.entities import ENTITIES, INVOICE, QUOTE, TEMPLATE
from services.documents.schemas import InvoiceFields, QuoteFields

ACCOUNT = "8a6f0f7e-3d2b-4a55-9d21-2f0d2b0f6c11"
LINE = {"description": " Audit ", "quantity": "2", "unit_price": "100.00", "vat_rate": "20"}


def errors(model: Any, data: dict[str, Any]) -> dict[str, str]:
    fields, problems = try_validate(model, data)
    assert (fields is None) == bool(problems)
    return {problem.field: problem.message for problem in problems}


def test_the_names_stay_importable_and_are_the_derived_models() -> None:
    assert QuoteFields is QUOTE.model
    assert QuoteFields.__name__ == "QuoteFields"
    assert InvoiceFields is INVOICE.model
    assert InvoiceFields.__name__ == "InvoiceFields"
    assert templates.TemplateFields is TEMPLATE.model


def test_a_quote_with_only_its_account_gets_the_defaults() -> None:
    fields, problems = try_validate(QuoteFields, {"account_id": ACCOUNT})
    assert problems == []
    assert fields is not None
    assert fields.model_dump(mode="json") == {
        "account_id": ACCOUNT,
        "contact_id": None,
        "opportunity_id": None,
        "valid_until": None,
        "lines": [],
        "notes": None,
    }


def test_each_record_gets_its_own_empty_lines() -> None:
    first, _ = try_validate(QuoteFields, {"account_id": ACCOUNT})
    second, _ = try_validate(QuoteFields, {"account_id": ACCOUNT})
    assert first is not None
    assert second is not None
    first.lines.append("x")  # type: ignore[attr-defined]
    assert second.lines == []  # type: ignore[attr-defined]


def test_blanks_clear_optional_fields_and_lines_are_cleaned() -> None:
    data = {"account_id": ACCOUNT, "contact_id": " ", "notes": "  ", "lines": [LINE]}
    fields, problems = try_validate(QuoteFields, data)
    assert problems == []
    assert fields is not None
    values = fields.model_dump()
    assert values["contact_id"] is None
    assert values["notes"] is None
    line = values["lines"][0]
    assert line["description"] == "Audit"
    assert line["discount_percent"] == Decimal("0")
    assert line["vat_rate"] == Decimal("20")


@pytest.mark.parametrize("model", [QuoteFields, InvoiceFields])
@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({}, {"account_id": "Ce champ est obligatoire."}),
        ({"account_id": "nope"}, {"account_id": "Doit être un identifiant (UUID)."}),
        (
            {"account_id": ACCOUNT, "lines": [{**LINE, "vat_rate": "7"}]},
            {"lines.0.vat_rate": "Taux de TVA français attendu : 20, 10, 5,5, 2,1, 0."},
        ),
        (
            {"account_id": ACCOUNT, "lines": [{**LINE, "description": "  "}]},
            {"lines.0.description": "Ce champ est obligatoire."},
        ),
        ({"account_id": ACCOUNT, "lines": "x"}, {"lines": "Doit être une liste."}),
        (
            {"account_id": ACCOUNT, "notes": "x" * 10_001},
            {"notes": "Ne doit pas dépasser 10000 caractères."},
        ),
        ({"account_id": ACCOUNT, "number": "DEV-2026-00001"}, {"number": "Champ inconnu."}),
        ({"account_id": ACCOUNT, "total_gross": "1"}, {"total_gross": "Champ inconnu."}),
    ],
)
def test_quotes_and_invoices_refuse_as_before(
    model: Any, data: dict[str, Any], expected: dict[str, str]
) -> None:
    assert errors(model, data) == expected


def test_each_keeps_its_own_fields() -> None:
    assert errors(QuoteFields, {"account_id": ACCOUNT, "due_date": "2026-12-01"}) == {
        "due_date": "Champ inconnu."
    }
    assert errors(InvoiceFields, {"account_id": ACCOUNT, "opportunity_id": ACCOUNT}) == {
        "opportunity_id": "Champ inconnu."
    }
    assert errors(QuoteFields, {"account_id": ACCOUNT, "valid_until": 20260101}) == {
        "valid_until": "Date attendue sous forme de texte (AAAA-MM-JJ, ou RFC 3339 avec l'heure)."
    }
    assert errors(InvoiceFields, {"account_id": ACCOUNT, "due_date": "2026-02-30"}) == {
        "due_date": "Date attendue au format AAAA-MM-JJ."
    }


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"name": "Lettre", "kind": "contact"}, {}),
        ({}, {"name": "Ce champ est obligatoire.", "kind": "Ce champ est obligatoire."}),
        ({"name": "", "kind": "account"}, {"name": "Ne doit pas être vide."}),
        ({"name": "x" * 201, "kind": "quote"}, {"name": "Ne doit pas dépasser 200 caractères."}),
        (
            {"name": "Lettre", "kind": "lead"},
            {
                "kind": "Valeur non autorisée ; valeurs possibles : 'account', 'contact', "
                "'opportunity', 'project', 'quote' or 'invoice'."
            },
        ),
    ],
)
def test_templates_accept_and_refuse_as_before(
    data: dict[str, Any], expected: dict[str, str]
) -> None:
    assert errors(TEMPLATE.model, data) == expected


TOTALS = ("total_net", "total_vat", "total_gross", "vat_breakdown")
TIMES = {"created_at": ("created_at", "timestamptz"), "updated_at": ("updated_at", "timestamptz")}


@pytest.mark.parametrize(
    ("spec", "entity", "label", "written", "read_only"),
    [
        (
            service.QUOTES,
            QUOTE,
            "devis",
            (
                "account_id",
                "contact_id",
                "opportunity_id",
                "valid_until",
                "lines",
                "notes",
                *TOTALS,
            ),
            ("number", "status", "sent_at", "decided_at"),
        ),
        (
            service.INVOICES,
            INVOICE,
            "facture",
            ("account_id", "contact_id", "due_date", "lines", "notes", *TOTALS),
            (
                "kind",
                "number",
                "status",
                "issue_date",
                "paid_at",
                "quote_id",
                "credited_invoice_id",
                "seller",
            ),
        ),
        (
            templates.TEMPLATES,
            TEMPLATE,
            "modèle",
            ("name", "kind"),
            ("filename", "size", "variables"),
        ),
    ],
)
def test_the_kernel_reads_and_writes_the_same_columns_as_before(
    spec: Any, entity: Any, label: str, written: tuple[str, ...], read_only: tuple[str, ...]
) -> None:
    assert (spec.entity, spec.label) == (entity.name, label)
    assert spec.written == written
    assert spec.read_only_extra == read_only
    shown = [name for name in spec.shown if name not in ("id", *SYSTEM_COLUMNS)]
    assert shown == [field.name for field in entity.fields]
    assert sorted(shown) == sorted((*written, *read_only))


def test_lists_sort_and_filter_as_before() -> None:
    for spec in (service.QUOTES, service.INVOICES):
        assert dict(spec.sortable) == TIMES
        assert spec.default_sort == "-created_at"
        assert list(spec.filters) == ["account_id"]
        assert spec.filters["account_id"][0] == "account_id ="
    assert dict(templates.TEMPLATES.sortable) == {
        "created_at": ("created_at", "timestamptz"),
        "name": ("name", "text"),
    }
    assert templates.TEMPLATES.default_sort == "name"
    assert not templates.TEMPLATES.filters


def test_the_tabs_follow_the_guide() -> None:
    assert QUOTE.tab is not None
    assert INVOICE.tab is not None
    assert (QUOTE.tab.label, QUOTE.tab.order, QUOTE.tab.link) == ("Devis", 5, "account_id")
    assert (INVOICE.tab.label, INVOICE.tab.order, INVOICE.tab.link) == (
        "Factures",
        6,
        "account_id",
    )
    assert TEMPLATE.tab is None


def test_the_declarations_are_public_json() -> None:
    for entity in ENTITIES:
        document = json.loads(json.dumps(entity.public("documents")))
        assert document["service"] == "documents"
        assert document["collection"] == entity.collection
    quote = QUOTE.public("documents")
    status = next(field for field in quote["fields"] if field["name"] == "status")
    assert status["read_only"]
    assert {"code": "expired", "label": "Expiré"} in status["choices"]
    connections = {f["name"]: f["target"] for f in quote["fields"] if f["kind"] == "connection"}
    assert connections == {
        "account_id": "account",
        "contact_id": "contact",
        "opportunity_id": "opportunity",
    }

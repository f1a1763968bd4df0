"""The declarations of accounts and contacts drive the rest: a field added to ACCOUNT appears in
the derived model, the kernel's columns, the record read back and the public JSON, with no
other code; the kernel's spec keeps the account's shape (an address as one object, the location
computed from its columns)."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from services.accounts import geocoding, service
from services.accounts.contacts import CONTACTS
from services.accounts.entities import ACCOUNT, CONTACT, ENTITIES
from services.accounts.schemas import AccountFields, ContactFields
from services.common import crud
from services.common.entities import SYSTEM_COLUMNS, Field
from services.common.validation import try_validate

NOW = datetime(2026, 11, 29, 9, 30, tzinfo=UTC)


def account_row(**columns: Any) -> dict[str, Any]:
    """A row of the accounts table as the kernel selects it."""
    row: dict[str, Any] = {name: None for name in service.ACCOUNTS.columns.split(", ")}
    row.update(
        id=uuid.uuid4(),
        name="Boulangerie Martin",
        country="FR",
        location_status="none",
        created_at=NOW,
        created_by="alice",
        updated_at=NOW,
        updated_by="alice",
        version=1,
    )
    row.update(columns)
    return row


def test_the_names_stay_importable_and_are_the_derived_models() -> None:
    assert AccountFields is ACCOUNT.model
    assert AccountFields.__name__ == "AccountFields"
    assert ContactFields is CONTACT.model
    assert ContactFields.__name__ == "ContactFields"
    assert "location" not in AccountFields.model_fields  # read-only: the geocoder's


def test_a_field_added_to_the_declaration_appears_everywhere() -> None:
    rating = Field("rating", "Note", kind="number", help="De 0 à 5.")
    entity = dataclasses.replace(ACCOUNT, fields=(*ACCOUNT.fields, rating))
    spec = service.account_spec(entity)

    assert "rating" in entity.model.model_fields
    fields, problems = try_validate(entity.model, {"name": "Garage Roux", "rating": 4})
    assert problems == []
    assert fields is not None
    assert fields.rating == 4  # type: ignore[attr-defined]
    _, problems = try_validate(entity.model, {"name": "Garage Roux", "rating": "quatre"})
    assert [problem.field for problem in problems] == ["rating"]

    assert "rating" in spec.written
    assert "rating" in spec.columns.split(", ")
    assert spec.record(account_row(rating=4))["rating"] == 4
    assert spec.row_values({**fields.model_dump(), "rating": 4})["rating"] == 4

    public = entity.public("accounts")
    assert {"name": "rating", "label": "Note", "kind": "number"}.items() <= next(
        f for f in public["fields"] if f["name"] == "rating"
    ).items()
    assert {"name": "rating", "label": "Note"} in public["printing"]["fields"]
    # The declaration in force is untouched.
    assert "rating" not in service.ACCOUNTS.columns.split(", ")


def test_an_account_reads_back_with_its_address_nested_and_its_location_computed() -> None:
    row = account_row(
        street="2 rue Mercière",
        postal_code="69002",
        city="Lyon",
        annual_revenue=Decimal("1200.50"),
        lat=45.76,
        lon=4.83,
        location_precision="city",
        location_source="offline",
        location_status="found",
    )
    record = service.ACCOUNTS.record(row)
    assert list(record) == list(service.ACCOUNTS.shown)
    assert [k for k in record if k not in ("id", *SYSTEM_COLUMNS)] == [
        f.name for f in ACCOUNT.fields
    ]
    assert record["address"] == {
        "street": "2 rue Mercière",
        "postal_code": "69002",
        "city": "Lyon",
        "country": "FR",
    }
    assert record["location"] == geocoding.location_of(row)
    assert record["location"] == {
        "lat": 45.76,
        "lon": 4.83,
        "precision": "city",
        "source": "offline",
    }
    for column in ("street", "lat", "location_status", "located_address", "sort_name"):
        assert column not in record
    # Nothing the geocoder keeps is the client's to write.
    assert set(geocoding.LOCATION_COLUMNS) <= set(service.ACCOUNTS.hidden)
    assert not set(geocoding.LOCATION_COLUMNS) & set(service.ACCOUNTS.written)
    assert "location" in service.ACCOUNTS.read_only


def test_the_address_is_written_as_its_four_columns() -> None:
    fields, problems = try_validate(
        AccountFields, {"name": "Bouchon", "address": {"city": " Lyon ", "postal_code": "69002"}}
    )
    assert problems == []
    assert fields is not None
    values = fields.model_dump()
    columns = service.ACCOUNTS.row_values(values)
    assert {k: columns[k] for k in ("street", "postal_code", "city", "country")} == {
        "street": None,
        "postal_code": "69002",
        "city": "Lyon",
        "country": "FR",
    }
    assert "address" not in columns
    derived = geocoding.after_address_change(values, None)
    assert service.ACCOUNTS.row_values({**values, **derived})["location_status"] == "pending"


def test_as_json_is_what_a_client_writes_back() -> None:
    record = service.ACCOUNTS.record(
        account_row(parent_account_id=uuid.UUID(int=7), annual_revenue=Decimal("10.50"))
    )
    doc = crud.as_json(record)
    assert json.loads(json.dumps(doc)) == doc
    assert doc["parent_account_id"] == str(uuid.UUID(int=7))
    assert doc["annual_revenue"] == "10.50"
    assert doc["created_at"] == "2026-11-29T09:30:00Z"
    assert doc["address"]["country"] == "FR"
    assert crud.writable_doc(service.ACCOUNTS, record) == {
        "name": "Boulangerie Martin",
        "address": {"street": None, "postal_code": None, "city": None, "country": "FR"},
        "parent_account_id": str(uuid.UUID(int=7)),
        "annual_revenue": "10.50",
    }


def test_a_duplicate_is_named_as_a_copy_without_its_legal_identifiers() -> None:
    copy = service.copy_of({"name": "Garage Roux", "siren": "732829320", "siret": "x", "city": 1})
    assert copy == {"name": "Garage Roux (copie)", "city": 1}


def test_the_list_search_keeps_its_indexed_conditions() -> None:
    params: list[Any] = []

    def param(value: Any) -> str:
        params.append(value)
        return f"${len(params)}"

    assert service.search_names("Ph", param) == ["sort_name LIKE $1"]
    assert service.search_names("Électricité 50%", param) == [
        "search_text LIKE $2",
        "search_text LIKE $3",
    ]
    assert params == ["ph%", "%electricite%", "%50\\%%"]
    assert service.sort_of({"updated_since": "x"}) == "updated_at"
    assert service.sort_of({}) == "name"


def test_contacts_are_their_declaration_on_the_kernel() -> None:
    assert CONTACTS.model is CONTACT.model
    assert CONTACTS.label == "contact"
    assert [k for k in CONTACTS.shown if k not in ("id", *SYSTEM_COLUMNS)] == [
        f.name for f in CONTACT.fields
    ]
    assert CONTACT.tab is not None
    assert (CONTACT.tab.label, CONTACT.tab.link, CONTACT.tab.order) == ("Contacts", "account_id", 1)


def test_the_declarations_are_public_json_with_their_print_layouts() -> None:
    for entity in ENTITIES:
        document = json.loads(json.dumps(entity.public("accounts")))
        assert document["service"] == "accounts"
    account = ACCOUNT.public("accounts")
    assert [s["collection"] for s in account["printing"]["sections"]] == [
        "contacts",
        "actions",
        "opportunities",
        "projects",
        "quotes",
        "invoices",
    ]
    assert [(f["name"], f["label"]) for f in account["printing"]["fields"]] == [
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
    ]
    parent = next(f for f in account["fields"] if f["name"] == "parent_account_id")
    assert (parent["kind"], parent["target"]) == ("connection", "account")
    contact = CONTACT.public("accounts")
    assert contact["printing"]["sections"] == [{"collection": "actions", "link": "contact_id"}]
    assert [f["name"] for f in contact["printing"]["fields"]] == [
        "civility",
        "first_name",
        "last_name",
        "job_title",
        "email",
        "phone",
        "mobile",
        "description",
    ]

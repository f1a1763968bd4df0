"""The record kernel's spec built from a declaration (crud.spec_for): what it derives, what it
refuses, and the routes it serves."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import web

from services.common import crud
from services.common.entities import Entity, Field, Filter

SHOP = Entity(
    name="shop",
    collection="shops",
    label="Boutique",
    plural="Boutiques",
    fields=(
        Field("name", "Nom", required=True),
        Field("address", "Adresse", kind="address", annotation=dict[str, Any] | None),
        Field("rating", "Note", kind="number"),
        Field("opened_on", "Ouverture", kind="date"),
        Field("number", "Numéro", read_only=True),
        Field("score", "Score", kind="number", read_only=True),
        Field("summary", "Résumé", read_only=True),
    ),
    sorts=("name", "rating", "created_at"),
    default_sort="name",
    filters=(Filter("trashed", "Corbeille", kind="boolean"),),
)


def shop_spec(**hooks: Any) -> crud.RecordSpec:
    return crud.spec_for(
        SHOP,
        "shops",
        derived=("score",),
        computed={"summary": lambda row: f"{row['name']} ({row['city']})"},
        hidden=("summary_cache",),
        **hooks,
    )


def test_the_spec_derives_its_columns_from_the_declaration() -> None:
    spec = shop_spec()
    assert (spec.entity, spec.table, spec.label, spec.default_sort) == (
        "shop",
        "shops",
        "boutique",
        "name",
    )
    assert spec.model is SHOP.model
    assert spec.editable == ("name", "address", "rating", "opened_on")
    assert spec.written == (
        "name", "street", "postal_code", "city", "country", "rating", "opened_on", "score",
    )  # fmt: skip
    assert spec.read_only_extra == ("number",)
    assert spec.columns.split(", ") == [
        "id", *spec.written, "number", "summary_cache",
        "created_at", "created_by", "updated_at", "updated_by", "version", "deleted_at",
    ]  # fmt: skip
    assert spec.read_only == (
        "id", "created_at", "created_by", "updated_at", "updated_by", "version",
        "score", "number", "summary",
    )  # fmt: skip
    assert spec.sortable == {
        "name": ("name", "text"),
        "rating": ("rating", "int"),
        "created_at": ("created_at", "timestamptz"),
    }
    assert spec.trash_listed


def test_a_row_reads_back_in_the_declarations_order_with_nested_and_computed_values() -> None:
    spec = shop_spec()
    row: dict[str, Any] = {column: None for column in spec.columns.split(", ")}
    row.update(id=uuid.uuid4(), name="Épicerie", city="Lyon", country="FR", score=3, version=1)
    record = spec.record(row)
    assert list(record) == list(spec.shown)
    assert record["address"] == {
        "street": None,
        "postal_code": None,
        "city": "Lyon",
        "country": "FR",
    }
    assert record["summary"] == "Épicerie (Lyon)"
    assert "summary_cache" not in record
    values = {
        "name": "Épicerie",
        "address": {
            "street": "1 rue Neuve",
            "postal_code": "69001",
            "city": "Lyon",
            "country": "FR",
        },
        "rating": 4,
        "opened_on": None,
        "score": 3,
    }
    assert spec.row_values(values) == {
        "name": "Épicerie", "street": "1 rue Neuve", "postal_code": "69001", "city": "Lyon",
        "country": "FR", "rating": 4, "opened_on": None, "score": 3,
    }  # fmt: skip
    # A hidden column is written only when ``derive`` names it.
    assert spec.row_values({**values, "summary_cache": "x"})["summary_cache"] == "x"


def test_what_the_kernel_cannot_derive_is_refused() -> None:
    with pytest.raises(ValueError, match="not declared"):
        crud.spec_for(SHOP, "shops", computed={"nope": lambda row: None})
    dated = Entity(
        name="event",
        collection="events",
        label="Évènement",
        plural="Évènements",
        fields=(Field("name", "Nom"), Field("day", "Jour", kind="date")),
        sorts=("day", "created_at"),
        default_sort="day",
    )
    with pytest.raises(ValueError, match="needs its sortable column"):
        crud.spec_for(dated, "events")
    spec = crud.spec_for(dated, "events", sortable={"day": ("sort_day", "timestamptz")})
    assert spec.sortable == {"day": ("sort_day", "timestamptz")}


def test_messages_read_well_when_the_service_says_so() -> None:
    plain, worded = shop_spec(), shop_spec(not_found_text="Aucune boutique.")
    assert plain.not_found().detail == "Aucune fiche boutique ne porte cet identifiant."
    assert worded.not_found().detail == "Aucune boutique."
    assert plain.not_in_trash().detail == "Cette fiche boutique n'est pas dans la corbeille."


def test_as_json_is_how_a_client_writes_a_record_back() -> None:
    value = {
        "id": uuid.UUID(int=1),
        "amount": Decimal("1.50"),
        "at": datetime(2026, 1, 2, 3, 4, tzinfo=UTC),
        "day": date(2026, 1, 2),
        "nested": {"lines": [{"quantity": Decimal("2")}], "none": None},
        "flag": True,
    }
    assert crud.as_json(value) == {
        "id": "00000000-0000-0000-0000-000000000001",
        "amount": "1.50",
        "at": "2026-01-02T03:04:00Z",
        "day": "2026-01-02",
        "nested": {"lines": [{"quantity": "2"}], "none": None},
        "flag": True,
    }


def test_duplicate_is_served_only_for_specs_that_say_how_a_copy_differs() -> None:
    copied = shop_spec(copy=lambda fields: {**fields, "name": fields["name"] + " (copie)"})

    def paths(specs: dict[str, crud.RecordSpec]) -> set[str]:
        return {
            f"{route.method} {route.path}"
            for route in crud.record_routes(specs)
            if isinstance(route, web.RouteDef)
        }

    assert "POST /api/v1/{collection:shops}/{id}/duplicate" in paths({"shops": copied})
    assert not any(path.endswith("/duplicate") for path in paths({"shops": shop_spec()}))

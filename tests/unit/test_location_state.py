"""The location's columns a write sets, and when a row or an event asks for locating."""

from __future__ import annotations

import uuid
from typing import Any

from services.accounts.geocoding import (
    LOCATION_COLUMNS,
    after_address_change,
    location_of,
    needs_location,
    wants_location,
)
from services.common.events import make_event

PARIS = {"street": "8 rue de la Paix", "postal_code": "75002", "city": "Paris", "country": "FR"}
EMPTY = {"street": None, "postal_code": None, "city": None, "country": "FR"}
FOUND = {
    "lat": 48.87,
    "lon": 2.33,
    "location_precision": "city",
    "location_source": "offline",
    "location_status": "found",
    "located_address": PARIS,
    "location_requested_at": None,
}


def test_a_creation_with_an_address_waits_for_its_location() -> None:
    values = after_address_change({"name": "A", **PARIS}, None)
    assert set(values) == set(LOCATION_COLUMNS)
    assert values["location_status"] == "pending"
    assert values["location_requested_at"] is not None
    assert after_address_change({"name": "A", **EMPTY}, None)["location_status"] == "none"


def test_a_write_that_keeps_the_address_keeps_the_location() -> None:
    old = {"name": "A", **PARIS, **FOUND}
    assert after_address_change({"name": "B", **PARIS}, old) == {}
    assert after_address_change({"name": "B"}, old) == {}  # no address field written
    assert after_address_change({"address": dict(PARIS)}, old) == {}  # nested, as in a record


def test_a_moved_or_emptied_address_clears_the_location() -> None:
    old = {"name": "A", **PARIS, **FOUND}
    moved = after_address_change({**PARIS, "city": "Lyon", "postal_code": "69002"}, old)
    assert (moved["location_status"], moved["lat"], moved["located_address"]) == (
        "pending",
        None,
        None,
    )
    emptied = after_address_change(EMPTY, old)
    assert (emptied["location_status"], emptied["location_requested_at"]) == ("none", None)


def test_a_row_needs_locating_when_its_location_is_not_for_its_address() -> None:
    assert not needs_location({**PARIS, **FOUND})
    assert needs_location({**PARIS, **FOUND, "city": "Lyon"})  # moved by any write
    assert needs_location({**PARIS, **FOUND, "location_status": "pending"})
    assert not needs_location({**PARIS, **FOUND, "location_status": "not_found", "lat": None})
    assert needs_location({**EMPTY, **FOUND})  # a location left behind
    assert not needs_location(
        {**EMPTY, **FOUND, "location_status": "none", "located_address": None}
    )


def _event(record: dict[str, Any]) -> Any:
    return make_event(
        source="/services/accounts", entity="account", change="restored",
        record={"id": str(uuid.uuid4()), "version": 2, **record}, actor="marie", changes={},
    )  # fmt: skip


def test_an_event_asks_for_the_row_only_when_its_record_may_need_locating() -> None:
    located = location_of({**PARIS, **FOUND})
    assert not wants_location(_event({"address": PARIS, "location": located}))
    assert wants_location(_event({"address": PARIS, "location": None}))
    assert wants_location(_event({"address": EMPTY, "location": located}))
    assert not wants_location(_event({"address": EMPTY, "location": None}))


async def test_a_postal_code_written_with_a_space_is_located() -> None:
    """Validation accepts "20 090" (kept as written): the offline geocoder finds Ajaccio, in
    Corse-du-Sud, instead of failing on it and leaving the account pending for good."""
    from services.accounts.domain import french_department
    from services.accounts.geocoding import OfflineGeocoder

    assert (french_department("20 090"), french_department("20 600")) == ("2A", "2B")
    found = await OfflineGeocoder().locate(
        {"postal_code": "20 090", "city": "Ajaccio", "country": "FR"}
    )
    assert found is not None
    assert found.precision == "city"

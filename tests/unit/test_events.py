import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from services.common.events import FieldChange, decode, diff, encode, make_event

NOW = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)


def record(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": uuid.UUID("3f2b1c8e-0000-4000-8000-000000000001"),
        "version": 1,
        "created_at": NOW,
        "created_by": "marie",
        "updated_at": NOW,
        "updated_by": "marie",
    }
    return {**base, **fields}


def test_creation_lists_every_set_field_from_null_and_leaves_system_fields_out() -> None:
    changes = diff(None, record(name="Dupont SA", city=None))
    assert changes == {"name": FieldChange(old=None, new="Dupont SA")}


def test_update_lists_only_changed_fields_with_old_and_new_values() -> None:
    before = record(name="Dupont", revenue=Decimal("10.50"), city="Lyon")
    after = record(name="Dupont SA", revenue=Decimal("10.50"), city=None, version=2)
    assert diff(before, after) == {
        "city": FieldChange(old="Lyon", new=None),
        "name": FieldChange(old="Dupont", new="Dupont SA"),
    }


def test_envelope_is_cloudevents_with_the_contract_data() -> None:
    rec = record(name="Dupont SA", revenue=Decimal("1234.50"))
    event = make_event(
        source="/services/accounts",
        entity="account",
        change="created",
        record=rec,
        actor="marie",
        changes=diff(None, rec),
        at=NOW,
    )
    body = decode(encode(event)).model_dump(mode="json")
    assert body["specversion"] == "1.0"
    assert body["type"] == "crm.account.created.v1"
    assert body["subject"] == str(rec["id"])
    assert body["time"].startswith("2026-11-28T09:30:00")
    assert body["data"]["entity"] == "account"
    assert body["data"]["version"] == 1
    assert body["data"]["actor"] == "marie"
    assert body["data"]["record"]["revenue"] == "1234.50"  # money stays a decimal string
    assert body["data"]["changes"]["name"] == {"old": None, "new": "Dupont SA"}
    assert event.routing_key == "account.created"


def test_each_event_has_its_own_id() -> None:
    rec = record(name="X")
    first = make_event(
        source="s", entity="account", change="created", record=rec, actor="a", changes={}
    )
    second = make_event(
        source="s", entity="account", change="created", record=rec, actor="a", changes={}
    )
    assert first.id != second.id


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"{}", b'{"specversion": "1.0", "id": "x"}', b"[1, 2]"],
)
def test_a_body_that_is_not_an_event_is_refused(body: bytes) -> None:
    with pytest.raises((ValidationError, ValueError)):
        decode(body)

"""The audit trail's version rule: a record's versions follow one another."""

import dataclasses

import orjson
import pytest

from services.audit.domain import GENESIS_HASH, verify_chain, version_refusal
from services.common.events import decode, encode
from tests.unit.test_audit_chain import chain


@pytest.mark.parametrize(
    ("last", "version", "refused"),
    [
        (None, 1, False),  # a record's first event
        (None, 7, False),  # the first event seen of a record starts its chain, whatever version
        (1, 2, False),
        (41, 42, False),
        (1, 99, True),  # a gap: a forged or lost event
        (3, 3, True),  # the same version again
        (3, 2, True),  # an older version
    ],
)
def test_a_version_is_chained_only_right_after_the_last(
    last: int | None, version: int, refused: bool
) -> None:
    assert (version_refusal(last, version) is not None) is refused


def test_the_refusal_says_which_version_was_expected() -> None:
    assert version_refusal(1, 99) == "version 99 après la version 1 : 2 attendue"


def test_a_version_gap_found_in_a_stored_chain_is_reported() -> None:
    """An entry whose version skips, even with every hash recomputed (written around the
    consumer), makes the chain invalid at that entry."""
    entries = chain(3)
    rebuilt, prev_hash = [], GENESIS_HASH
    for entry, _stored in entries:
        version = entry.version if entry.seq < 3 else 99
        moved = dataclasses.replace(entry, version=version, prev_hash=prev_hash)
        rebuilt.append((moved, moved.hash))
        prev_hash = moved.hash
    result = verify_chain(rebuilt)
    assert not result.valid
    assert result.first_broken_seq == 3
    assert result.reason == "saut de version : 99 après 2"


def _event_json(**data_changes: object) -> bytes:
    entry_event = chain(1)[0][0]
    data: dict[str, object] = {
        "entity": "account",
        "id": entry_event.record_id,
        "version": 2,
        "actor": "marie",
        "changes": {},
        "record": {},
        **data_changes,
    }
    body: dict[str, object] = {
        "specversion": "1.0",
        "id": entry_event.event_id,
        "source": "/services/accounts",
        "type": "crm.account.updated.v1",
        "time": "2026-11-28T10:00:00Z",
        "subject": data["id"],
        "data": data,
    }
    return orjson.dumps(body)


@pytest.mark.parametrize(
    "record_id",
    ["not-a-uuid", "42", "3F2B1C8E-0000-4000-8000-000000000001", "industry:J"],
)
def test_a_record_id_that_is_not_a_canonical_uuid_is_refused_at_decode(record_id: str) -> None:
    with pytest.raises(ValueError, match=r"data\.id"):
        decode(_event_json(id=record_id))


def test_a_picklist_value_keeps_its_list_and_code_as_id() -> None:
    body = _event_json(id="industry:J", entity="picklist_value")
    body = body.replace(b"crm.account.updated.v1", b"crm.picklist_value.updated.v1")
    assert decode(body).data.id == "industry:J"
    assert decode(encode(decode(body))).data.id == "industry:J"


def test_an_event_whose_type_names_another_entity_is_refused() -> None:
    with pytest.raises(ValueError, match="type"):
        decode(_event_json(entity="quote"))

import dataclasses
import uuid
from datetime import UTC, datetime

from services.audit.domain import GENESIS_HASH, Entry, entry_from_event, verify_chain
from services.common.events import diff, make_event


def chain(length: int) -> list[tuple[Entry, str]]:
    rid = uuid.uuid4()
    entries: list[tuple[Entry, str]] = []
    previous, prev_hash = None, GENESIS_HASH
    for version in range(1, length + 1):
        record = {"id": rid, "version": version, "name": f"Nom {version}"}
        event = make_event(
            source="/services/accounts",
            entity="account",
            change="created" if version == 1 else "updated",
            record=record,
            actor="marie",
            changes=diff(previous, record),
            at=datetime(2026, 11, 28, 10, version, tzinfo=UTC),
        )
        entry = entry_from_event(event, version, prev_hash)
        entries.append((entry, entry.hash))
        previous, prev_hash = record, entry.hash
    return entries


def test_an_untouched_chain_verifies() -> None:
    result = verify_chain(chain(4))
    assert result.valid
    assert result.entries == 4


def test_a_changed_value_is_detected_at_its_entry() -> None:
    entries = chain(4)
    entry, stored = entries[2]
    forged = dataclasses.replace(entry, changes=[{"field": "name", "old": "Nom 2", "new": "Autre"}])
    entries[2] = (forged, stored)
    result = verify_chain(entries)
    assert not result.valid
    assert result.first_broken_seq == 3


def test_a_recomputed_forgery_breaks_the_next_link() -> None:
    entries = chain(4)
    forged = dataclasses.replace(entries[1][0], actor="mallory")
    entries[1] = (forged, forged.hash)  # the forger recomputes this entry's hash...
    result = verify_chain(entries)
    assert not result.valid
    assert result.first_broken_seq == 3


def test_a_removed_or_reordered_entry_is_detected() -> None:
    entries = chain(4)
    assert not verify_chain(entries[:1] + entries[2:]).valid
    assert not verify_chain([entries[1], entries[0], *entries[2:]]).valid


def test_the_entry_records_action_actor_and_field_changes() -> None:
    entry = chain(1)[0][0]
    assert (entry.action, entry.actor, entry.seq, entry.prev_hash) == (
        "created",
        "marie",
        1,
        GENESIS_HASH,
    )
    assert entry.changes == [{"field": "name", "old": None, "new": "Nom 1"}]

"""Derived data in the audit trail: the system's computation about a record's version (the
geocoder's location) keeps that version and follows its entry."""

import dataclasses

import pytest

from services.audit.domain import GENESIS_HASH, Entry, is_derived, verify_chain, version_refusal
from tests.unit.test_audit_chain import chain

DERIVED = {"derived": "location"}


@pytest.mark.parametrize(
    ("last", "version", "refused"),
    [
        (3, 3, False),  # computed about the last version: follows its entry
        (None, 1, True),  # before the creation's entry: held until it comes
        (2, 3, True),  # before its version's entry: held
        (3, 2, True),  # about a version already replaced
    ],
)
def test_derived_data_follows_the_entry_of_its_own_version(
    last: int | None, version: int, refused: bool
) -> None:
    assert (version_refusal(last, version, derived=True) is not None) is refused


def test_only_a_derived_context_keeps_the_version() -> None:
    assert version_refusal(3, 3) is not None
    assert is_derived(DERIVED)
    assert not is_derived(None)
    assert not is_derived({"duplicated_from": "x"})


def _append(entries: list[tuple[Entry, str]], entry: Entry) -> list[tuple[Entry, str]]:
    seq, prev_hash = len(entries) + 1, entries[-1][1] if entries else GENESIS_HASH
    moved = dataclasses.replace(entry, seq=seq, prev_hash=prev_hash)
    return [*entries, (moved, moved.hash)]


def test_a_chain_with_a_derived_entry_at_the_same_version_verifies() -> None:
    entries = chain(2)
    located = dataclasses.replace(
        entries[1][0], event_id="located", action="located", actor="geocodeur", context=DERIVED
    )
    entries = _append(entries, located)
    after = dataclasses.replace(entries[1][0], event_id="v3", version=3)
    entries = _append(entries, after)
    assert verify_chain(entries).valid


def test_the_same_version_again_without_the_derived_mark_breaks_the_chain() -> None:
    entries = chain(2)
    again = dataclasses.replace(entries[1][0], event_id="again", action="located")
    result = verify_chain(_append(entries, again))
    assert (result.valid, result.first_broken_seq) == (False, 3)
    assert result.reason == "saut de version : 2 après 2"

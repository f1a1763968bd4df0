"""The hash chain of a record's audit trail. Pure code: no I/O."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from services.common.events import CloudEvent, jsonable

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class Entry:
    event_id: str
    entity: str
    record_id: str
    seq: int
    version: int
    action: str
    actor: str
    at: datetime
    changes: list[dict[str, Any]]
    prev_hash: str
    context: dict[str, Any] | None = None

    def content(self) -> dict[str, Any]:
        content = {
            "event_id": self.event_id,
            "entity": self.entity,
            "record_id": self.record_id,
            "seq": self.seq,
            "version": self.version,
            "action": self.action,
            "actor": self.actor,
            "at": jsonable(self.at),
            "changes": self.changes,
            "prev_hash": self.prev_hash,
        }
        if self.context:
            content["context"] = self.context
        return content

    @property
    def hash(self) -> str:
        canonical = orjson.dumps(self.content(), option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(canonical).hexdigest()


def entry_from_event(event: CloudEvent, seq: int, prev_hash: str) -> Entry:
    """The audit entry of ``event``, placed after the record's entry ``seq - 1``."""
    data = event.data
    changes = [
        {"field": field, "old": change.old, "new": change.new}
        for field, change in sorted(data.changes.items())
    ]
    return Entry(
        event_id=str(event.id),
        entity=data.entity,
        record_id=data.id,
        seq=seq,
        version=data.version,
        action=event.change,
        actor=data.actor,
        at=event.time,
        changes=changes,
        prev_hash=prev_hash,
        context=data.context,
    )


def is_derived(context: dict[str, Any] | None) -> bool:
    """Whether an event (or entry) with ``context`` is the system's own computation about the
    record's current version (``{"derived": "location"}``: the geocoder's), which does not
    change the version: it follows the entry of the version it was computed for."""
    return bool(context and context.get("derived"))


def version_refusal(last_version: int | None, version: int, derived: bool = False) -> str | None:
    """Why an event of ``version`` cannot follow the record's chain whose last entry has
    ``last_version`` (None: no entry yet, any version starts the chain); None when it can.

    Every change of a record raises its version by exactly one and publishes one event (edits,
    trash and restore, issuing an invoice...), delivered in order. Derived data (``derived``:
    the geocoder's location) keeps the version: it follows an entry of the same version, and
    waits for it when it comes first."""
    if derived:
        if version == last_version:
            return None
        if last_version is None or version > last_version:
            return f"calcul sur la version {version} arrivé avant cette version"
        return f"calcul sur la version {version} déjà dépassée : la dernière est {last_version}"
    if last_version is None or version == last_version + 1:
        return None
    if version <= last_version:
        return f"version {version} déjà dépassée : la dernière version est {last_version}"
    return f"version {version} après la version {last_version} : {last_version + 1} attendue"


@dataclass(frozen=True)
class ChainCheck:
    valid: bool
    entries: int
    first_broken_seq: int | None = None
    reason: str | None = None
    # Events refused for this record (not chained): [{"event_id", "version", "actor", ...}].
    rejected: list[dict[str, Any]] = field(default_factory=list)


def verify_chain(entries: list[tuple[Entry, str]]) -> ChainCheck:
    """Check (entry, stored hash) pairs in ``seq`` order: links, numbering, contents, and
    versions following one another."""
    previous = GENESIS_HASH
    previous_version: int | None = None
    for expected_seq, (entry, stored_hash) in enumerate(entries, start=1):
        if entry.seq != expected_seq:
            return ChainCheck(False, len(entries), entry.seq, "entrée manquante ou déplacée")
        if entry.prev_hash != previous:
            return ChainCheck(False, len(entries), entry.seq, "chaînage rompu")
        if entry.hash != stored_hash:
            return ChainCheck(False, len(entries), entry.seq, "contenu modifié")
        follows = previous_version is None or entry.version == previous_version + 1
        if not follows and not (is_derived(entry.context) and entry.version == previous_version):
            reason = f"saut de version : {entry.version} après {previous_version}"
            return ChainCheck(False, len(entries), entry.seq, reason)
        previous, previous_version = stored_hash, entry.version
    return ChainCheck(True, len(entries))

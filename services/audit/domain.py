"""The hash chain of a record's audit trail. Pure code: no I/O."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
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


@dataclass(frozen=True)
class ChainCheck:
    valid: bool
    entries: int
    first_broken_seq: int | None = None
    reason: str | None = None


def verify_chain(entries: list[tuple[Entry, str]]) -> ChainCheck:
    """Check (entry, stored hash) pairs in ``seq`` order: links, numbering and contents."""
    previous = GENESIS_HASH
    for expected_seq, (entry, stored_hash) in enumerate(entries, start=1):
        if entry.seq != expected_seq:
            return ChainCheck(False, len(entries), entry.seq, "entrée manquante ou déplacée")
        if entry.prev_hash != previous:
            return ChainCheck(False, len(entries), entry.seq, "chaînage rompu")
        if entry.hash != stored_hash:
            return ChainCheck(False, len(entries), entry.seq, "contenu modifié")
        previous = stored_hash
    return ChainCheck(True, len(entries))

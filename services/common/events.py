"""The CloudEvents 1.0 envelope of the public contract, and field-level change sets.

Pure code: no I/O. ``data`` is ``{"entity", "id", "version", "actor", "changes", "record"}``
where ``changes`` maps each changed field to ``{"old", "new"}``.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Record ids are UUIDs, but for picklist values, keyed by their list and code ("industry:J").
PICKLIST_VALUE_ID = re.compile(r"^[a-z_]{1,50}:[A-Za-z0-9_.-]{1,50}$")
# Fields that change on every write; they are in `record`, never in `changes`.
SYSTEM_FIELDS = frozenset({"id", "version", "created_at", "created_by", "updated_at", "updated_by"})


class FieldChange(BaseModel):
    model_config = ConfigDict(frozen=True)

    old: Any = None
    new: Any = None


class EventData(BaseModel):
    model_config = ConfigDict(frozen=True)

    entity: str = Field(min_length=1)
    id: str = Field(min_length=1)
    version: int = Field(ge=1)
    actor: str = Field(min_length=1)
    changes: dict[str, FieldChange]
    record: dict[str, Any]
    # Why the change happened, when not a plain edit: {"duplicated_from": "<id>"}, ...
    context: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _record_id(self) -> EventData:
        """A record id is a UUID (written in its canonical form: one record, one chain), or a
        picklist value's ``list:code``; anything else is refused at decode."""
        if self.entity == "picklist_value":
            if not PICKLIST_VALUE_ID.match(self.id):
                raise ValueError("data.id: attendu « liste:code » pour une valeur de liste")
            return self
        try:
            canonical = str(uuid.UUID(self.id))
        except ValueError:
            raise ValueError("data.id: l'identifiant d'une fiche doit être un UUID") from None
        if canonical != self.id:
            raise ValueError("data.id: UUID attendu sous sa forme canonique (minuscules)")
        return self


class CloudEvent(BaseModel):
    """One event on ``crm.events``; ``id`` is the idempotency key."""

    model_config = ConfigDict(frozen=True)

    specversion: Literal["1.0"] = "1.0"
    id: uuid.UUID
    source: str = Field(min_length=1)
    type: str = Field(pattern=r"^crm\.[a-z_]+\.[a-z_]+\.v[0-9]+$")
    time: datetime
    subject: str = Field(min_length=1)
    datacontenttype: Literal["application/json"] = "application/json"
    data: EventData

    @model_validator(mode="after")
    def _consistent(self) -> CloudEvent:
        """The type, the subject and the data name one entity and one record."""
        if self.type.split(".")[1] != self.data.entity:
            raise ValueError("type: l'entité du type diffère de data.entity")
        if self.subject != self.data.id:
            raise ValueError("subject: diffère de data.id")
        return self

    @property
    def routing_key(self) -> str:
        return f"{self.data.entity}.{self.change}"

    @property
    def change(self) -> str:
        """``created``, ``updated``, ``deleted``, ... read from the type."""
        return self.type.split(".")[2]


def jsonable(value: Any) -> Any:
    """A value as it appears in JSON (what orjson would write), for comparing and hashing; the
    record kernel's ``crud.as_json`` (what a client writes back) is this same function."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if hasattr(value, "as_tuple"):  # Decimal: money is a decimal string
        return str(value)
    return value


def _flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested objects as dotted fields: ``{"address": {"city": x}}`` -> ``{"address.city": x}``."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def diff(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, FieldChange]:
    """Field-level changes from ``old`` (None for a creation) to ``new``, system fields aside.

    Nested objects are compared field by field, named with dotted paths (``address.city``).
    """
    before = _flatten(jsonable({k: v for k, v in (old or {}).items() if k not in SYSTEM_FIELDS}))
    after = _flatten(jsonable({k: v for k, v in new.items() if k not in SYSTEM_FIELDS}))
    changes: dict[str, FieldChange] = {}
    for field in sorted(set(before) | set(after)):
        was, now = before.get(field), after.get(field)
        if was != now:
            changes[field] = FieldChange(old=was, new=now)
    return changes


def make_event(
    *,
    source: str,
    entity: str,
    change: str,
    record: dict[str, Any],
    actor: str,
    changes: dict[str, FieldChange],
    at: datetime | None = None,
    event_id: uuid.UUID | None = None,
    context: dict[str, Any] | None = None,
) -> CloudEvent:
    """Build the envelope for one committed change of one record (``record`` as it is now)."""
    record_json = jsonable(record)
    return CloudEvent(
        id=event_id or uuid.uuid4(),
        source=source,
        type=f"crm.{entity}.{change}.v1",
        time=at or datetime.now(UTC),
        subject=str(record_json["id"]),
        data=EventData(
            entity=entity,
            id=str(record_json["id"]),
            version=int(record_json["version"]),
            actor=actor,
            changes=changes,
            record=record_json,
            context=jsonable(context) if context else None,
        ),
    )


def encode(event: CloudEvent) -> bytes:
    return event.model_dump_json().encode()


def decode(body: bytes) -> CloudEvent:
    return CloudEvent.model_validate_json(body)

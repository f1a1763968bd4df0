"""JSON Schemas of the events on ``crm.events`` (services.common.events), one per event type,
derived from an entity's record model and its declared events.

Each service publishes its schemas at ``/internal/meta`` (services.common.meta); the gateway
merges them into its event catalogue, and ``python -m deploy.docs`` writes them to docs/events/.
tests/contract checks the files are current and that real published events match them."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field, create_model

from .entities import Entity
from .openapi import Open


def event_type(entity: str, change: str) -> str:
    return f"crm.{entity}.{change}.v1"


def schema_for(entity: str, change: str, record: type[BaseModel]) -> dict[str, Any]:
    """The schema of the ``change`` events of ``entity`` whose record is ``record``."""
    # A trashed record carries its deletion time; any record may carry it as null.
    event_record = create_model(
        f"{record.__name__}EventRecord", __base__=record, deleted_at=(str | None, None)
    )
    data = create_model(
        f"{record.__name__}{change.title()}Data",
        __base__=Open,
        entity=(str, Field(pattern=f"^{entity}$")),
        id=(str, ...),
        version=(int, Field(ge=1)),
        actor=(str, Field(min_length=1)),
        changes=(dict[str, Open], ...),
        record=(event_record, ...),
        context=(dict[str, Any] | None, None),
    )
    envelope = create_model(
        f"{record.__name__}{change.title()}Event",
        __base__=Open,
        specversion=(str, Field(pattern=r"^1\.0$")),
        id=(str, Field(pattern=r"^[0-9a-f-]{36}$")),
        source=(str, Field(pattern=r"^/services/")),
        type=(str, Field(pattern=f"^{event_type(entity, change).replace('.', chr(92) + '.')}$")),
        time=(str, ...),
        subject=(str, ...),
        datacontenttype=(str, Field(pattern="^application/json$")),
        data=(data, ...),
    )
    schema = envelope.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = event_type(entity, change)
    schema["description"] = (
        f"Routing key {entity}.{change} on the topic exchange crm.events (CloudEvents 1.0)."
    )
    return schema


def record_schemas(
    entity: str, record: type[BaseModel], changes: tuple[str, ...]
) -> dict[str, dict[str, Any]]:
    """Event type -> schema, for each of ``changes``."""
    return {event_type(entity, change): schema_for(entity, change, record) for change in changes}


def entity_schemas(entity: Entity, record: type[BaseModel]) -> dict[str, dict[str, Any]]:
    """Event type -> schema of every event a declared entity sends: its events, then the
    events of its derived data ("located")."""
    return record_schemas(entity.name, record, (*entity.events, *entity.derived_events))


def file_name(event: str) -> str:
    """docs/events/<type>.schema.json"""
    return f"{event}.schema.json"


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"

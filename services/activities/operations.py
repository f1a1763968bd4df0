"""The public operations of the activities service, for its OpenAPI fragment (/internal/meta):
the conventional ones of actions, opportunities and projects, and its picklists."""

from __future__ import annotations

from typing import Any

from services.common.event_schemas import entity_schemas
from services.common.openapi import Op, crud_operations, entity_record, picklist_read

from .entities import ENTITIES

# Each entity's record as read, derived from its declaration (Action, Opportunity, Project).
RECORDS = {entity.name: entity_record(entity) for entity in ENTITIES}


def events() -> dict[str, dict[str, Any]]:
    """Event type -> schema, of the events the activities service publishes."""
    schemas: dict[str, dict[str, Any]] = {}
    for entity in ENTITIES:
        schemas.update(entity_schemas(entity, RECORDS[entity.name]))
    return schemas


def operations() -> list[Op]:
    return [
        *(op for entity in ENTITIES for op in crud_operations(entity, RECORDS[entity.name])),
        picklist_read(),
    ]

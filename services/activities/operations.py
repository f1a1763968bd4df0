"""The public operations of the activities service, for its OpenAPI fragment (/internal/meta):
the conventional ones of actions, opportunities and projects, and its picklists."""

from __future__ import annotations

from typing import Any

from services.common.event_schemas import entity_schemas
from services.common.openapi import Op, crud_operations, entity_record, picklist_read

from .entities import ACTION, OPPORTUNITY, PROJECT

Action = entity_record(ACTION)
Opportunity = entity_record(OPPORTUNITY)
Project = entity_record(PROJECT)
RECORDS = {"action": Action, "opportunity": Opportunity, "project": Project}


def events() -> dict[str, dict[str, Any]]:
    """Event type -> schema, of the events the activities service publishes."""
    schemas: dict[str, dict[str, Any]] = {}
    for entity in (ACTION, OPPORTUNITY, PROJECT):
        schemas.update(entity_schemas(entity, RECORDS[entity.name]))
    return schemas


def operations() -> list[Op]:
    return [
        *crud_operations(ACTION, Action),
        *crud_operations(OPPORTUNITY, Opportunity),
        *crud_operations(PROJECT, Project),
        picklist_read(),
    ]

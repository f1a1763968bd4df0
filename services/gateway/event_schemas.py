"""JSON Schemas of the gateway's own events (users'), as services.common.event_schemas derives
them. The catalogue of every event is the registry's (each service publishes its schemas at
/internal/meta); ``python -m deploy.docs`` writes it to docs/events/."""

from __future__ import annotations

from typing import Any

from services.common.event_schemas import entity_schemas

from .api_models import User
from .entities import USER


def events() -> dict[str, dict[str, Any]]:
    """Event type -> schema, of the events the gateway publishes."""
    return entity_schemas(USER, User)

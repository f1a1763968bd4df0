"""Documentation derived from the services' declarations, written by ``python -m deploy.docs``:
the JSON Schemas of the events on ``crm.events`` in docs/events/ (one file per event type), and
the OpenAPI document of the public API in docs/api/openapi.json.

Both are what the services publish at /internal/meta and the gateway merges (its event catalogue
at ``GET /api/v1/meta/events``, its ``GET /api/v1/openapi.json``), built here from the same code
without running anything; tests/contract checks the files are current, that the gateway serves
the same, and that real published events match their schemas."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from services.accounts import operations as accounts
from services.accounts.entities import ENTITIES as ACCOUNTS_ENTITIES
from services.activities import operations as activities
from services.activities.entities import ENTITIES as ACTIVITIES_ENTITIES
from services.common.entities import Entity
from services.common.event_schemas import file_name, render
from services.common.openapi import Op, fragment
from services.documents import operations as documents
from services.documents.entities import ENTITIES as DOCUMENTS_ENTITIES
from services.gateway.entities import public_entities
from services.gateway.event_schemas import events as gateway_events
from services.gateway.openapi import build

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "events"
OPENAPI = ROOT / "docs" / "api" / "openapi.json"
# What each service publishes at /internal/meta, in the order the gateway reads them.
SERVICES: tuple[tuple[str, Sequence[Entity], Callable[[], list[Op]]], ...] = (
    ("accounts", ACCOUNTS_ENTITIES, accounts.operations),
    ("activities", ACTIVITIES_ENTITIES, activities.operations),
    ("documents", DOCUMENTS_ENTITIES, documents.operations),
)


def catalogue() -> dict[str, dict[str, Any]]:
    """Event type -> JSON Schema, of every service."""
    schemas: dict[str, dict[str, Any]] = {}
    for events in (gateway_events, accounts.events, activities.events, documents.events):
        schemas.update(events())
    return schemas


def openapi_document() -> dict[str, Any]:
    """The document the gateway serves once it has read every service."""
    entities = public_entities() + [
        entity.public(service) for service, declared, _ in SERVICES for entity in declared
    ]
    return build(entities, [fragment(operations()) for _, _, operations in SERVICES])


def openapi_text() -> str:
    return json.dumps(openapi_document(), indent=1, ensure_ascii=False) + "\n"


def files() -> dict[str, str]:
    """docs/events/ as it should be: file name -> content."""
    return {file_name(event): render(schema) for event, schema in catalogue().items()}


def main() -> int:
    DOCS.mkdir(parents=True, exist_ok=True)
    wanted = files()
    for stale in DOCS.glob("*.schema.json"):
        if stale.name not in wanted:
            stale.unlink()
    for name, content in wanted.items():
        (DOCS / name).write_text(content)
    OPENAPI.parent.mkdir(parents=True, exist_ok=True)
    OPENAPI.write_text(openapi_text())
    print(f"{len(wanted)} event schemas written to {DOCS}, the OpenAPI document to {OPENAPI}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

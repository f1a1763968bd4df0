"""Documentation derived from the services' declarations: the JSON Schemas of the events on
``crm.events``, written to docs/events/ (one file per event type):
``python -m deploy.docs``.

The same schemas are what each service publishes at /internal/meta and what the gateway's
event catalogue (``GET /api/v1/meta/events``) merges; tests/contract checks the files are
current and that real published events match them."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from services.accounts.operations import events as accounts_events
from services.activities.operations import events as activities_events
from services.common.event_schemas import file_name, render
from services.documents.operations import events as documents_events
from services.gateway.event_schemas import events as gateway_events

DOCS = Path(__file__).resolve().parents[1] / "docs" / "events"


def catalogue() -> dict[str, dict[str, Any]]:
    """Event type -> JSON Schema, of every service."""
    schemas: dict[str, dict[str, Any]] = {}
    for events in (gateway_events, accounts_events, activities_events, documents_events):
        schemas.update(events())
    return schemas


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
    print(f"{len(wanted)} event schemas written to {DOCS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

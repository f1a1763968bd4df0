"""JSON Schemas of the events on ``crm.events`` (services.common.events), one per event type,
written to docs/events/ from the same models as the API's records:
``python -m services.gateway.event_schemas``.
tests/contract checks the files are current and that real published events match them."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, create_model

from . import api_models as out

DOCS = Path(__file__).resolve().parents[2] / "docs" / "events"
CRUD = ("created", "updated", "deleted", "restored")


class PicklistValueRecord(out.Open):
    id: str
    list: str
    code: str
    label: str
    active: bool
    position: int
    version: int


RECORDS: dict[str, tuple[type[BaseModel], tuple[str, ...]]] = {
    "account": (out.Account, CRUD),
    "contact": (out.Contact, CRUD),
    "action": (out.Action, CRUD),
    "opportunity": (out.Opportunity, CRUD),
    "project": (out.Project, CRUD),
    "quote": (out.Quote, (*CRUD, "sent", "accepted", "refused")),
    "invoice": (out.Invoice, (*CRUD, "issued", "paid", "cancelled")),
    "template": (out.Template, ("created", "deleted")),
    "user": (out.User, ("created", "updated")),
    "picklist_value": (PicklistValueRecord, ("created", "updated")),
}


def event_type(entity: str, change: str) -> str:
    return f"crm.{entity}.{change}.v1"


def schema_for(entity: str, change: str) -> dict[str, Any]:
    record, _ = RECORDS[entity]
    # A trashed record carries its deletion time; any record may carry it as null.
    event_record = create_model(
        f"{record.__name__}EventRecord", __base__=record, deleted_at=(str | None, None)
    )
    data = create_model(
        f"{record.__name__}{change.title()}Data",
        __base__=out.Open,
        entity=(str, Field(pattern=f"^{entity}$")),
        id=(str, ...),
        version=(int, Field(ge=1)),
        actor=(str, Field(min_length=1)),
        changes=(dict[str, out.Open], ...),
        record=(event_record, ...),
        context=(dict[str, Any] | None, None),
    )
    envelope = create_model(
        f"{record.__name__}{change.title()}Event",
        __base__=out.Open,
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


def all_schemas() -> dict[str, dict[str, Any]]:
    return {
        f"{event_type(entity, change)}.schema.json": schema_for(entity, change)
        for entity, (_, changes) in RECORDS.items()
        for change in changes
    }


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def main() -> int:
    DOCS.mkdir(parents=True, exist_ok=True)
    for name, schema in all_schemas().items():
        (DOCS / name).write_text(render(schema))
    print(f"{len(all_schemas())} event schemas written to {DOCS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

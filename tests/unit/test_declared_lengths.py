"""What a declaration publishes about a text field's length is what its validation enforces:
the web interface and integrators size their inputs from it."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from services.accounts.entities import ENTITIES as ACCOUNTS
from services.activities.entities import ENTITIES as ACTIVITIES
from services.common.entities import Entity, Field
from services.documents.entities import ENTITIES as DOCUMENTS
from services.gateway.entities import ENTITIES as GATEWAY

ALL: tuple[Entity, ...] = (*ACCOUNTS, *ACTIVITIES, *DOCUMENTS, *GATEWAY)
TEXT_FIELDS = [
    pytest.param(entity, field, id=f"{entity.name}.{field.name}")
    for entity in ALL
    for field in entity.writable
    if field.kind in ("text", "long_text") and not field.choices
]


def _accepts(field: Field, value: str) -> bool:
    adapter: TypeAdapter[Any] = TypeAdapter(field.validator())
    try:
        adapter.validate_python(value)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize(("entity", "field"), TEXT_FIELDS)
def test_a_text_field_publishes_the_length_it_enforces(entity: Entity, field: Field) -> None:
    published = next(f for f in entity.public("x")["fields"] if f["name"] == field.name)
    length = published["max_length"]
    assert length is not None, "a text field says how long it may be"
    assert _accepts(field, "1" * length)
    assert not _accepts(field, "1" * (length + 1))


def test_every_connection_names_a_declared_entity_or_the_users() -> None:
    names = {entity.name for entity in ALL}
    targets = {f.target for entity in ALL for f in entity.fields if f.kind == "connection"}
    assert targets <= names

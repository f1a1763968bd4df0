"""What documents consumes: its handlers' patterns are its queue's bindings, and a record that
lacks what documents relies on is refused before anything is written (the copies themselves
are exercised with the real broker and database in tests/e2e/test_documents.py)."""

import uuid
from typing import Any, cast

import asyncpg
import pytest

from services.common.events import CloudEvent, make_event
from services.common.handlers import EventRefused
from services.documents.consumers import handlers

# A refused event never reaches a handler: the connection is never touched.
CONN = cast(asyncpg.Connection, object())


def event(entity: str, change: str, **record: Any) -> CloudEvent:
    return make_event(
        source="/tests",
        entity=entity,
        change=change,
        record={"id": uuid.uuid4(), "version": 1, **record},
        actor="marie",
        changes={},
    )


def test_the_bindings_are_the_handlers_patterns() -> None:
    assert handlers.bindings == ("account.*", "contact.*", "opportunity.*")


def test_it_wants_the_records_it_references_and_nothing_else() -> None:
    assert handlers.wants(event("account", "restored", name="Acme"))
    assert handlers.wants(event("contact", "deleted", last_name="Martin"))
    assert handlers.wants(event("opportunity", "updated", name="Refonte"))
    assert not handlers.wants(event("quote", "accepted", number="DEV-2026-00001"))
    assert not handlers.wants(event("action", "created", subject="Appel"))


@pytest.mark.parametrize(
    ("refused", "field"),
    [
        (event("account", "created"), "name"),
        (event("contact", "updated", last_name="Martin", account_id="nope"), "account_id"),
        (event("opportunity", "created", name="Refonte"), "account_id"),
    ],
)
async def test_a_record_without_what_documents_relies_on_is_refused(
    refused: CloudEvent, field: str
) -> None:
    with pytest.raises(EventRefused, match=field):
        await handlers.handle(CONN, refused)

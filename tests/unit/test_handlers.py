"""Typed event handlers (services/common/handlers.py): topic patterns, derived bindings, typed
payloads read at the edge, refusal of a record that does not fit."""

import uuid
from decimal import Decimal
from typing import Any, cast

import asyncpg
import pytest
from pydantic import BaseModel, ConfigDict

from services.common.consumer import EventRefused as ConsumerEventRefused
from services.common.events import CloudEvent, make_event
from services.common.handlers import EventRefused, Handlers, topic_matches

# Handlers here never touch the connection: they record what they are given.
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


class Quote(BaseModel):
    opportunity_id: uuid.UUID | None = None
    number: str
    total: Decimal


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str


@pytest.mark.parametrize(
    ("pattern", "key", "expected"),
    [
        ("quote.accepted", "quote.accepted", True),
        ("quote.accepted", "quote.created", False),
        ("quote.*", "quote.accepted", True),
        ("*.created", "account.created", True),
        ("*.created", "account.updated", False),
        ("account.*", "account", False),
        ("account.*", "account.created.v1", False),
        ("#", "account.created", True),
        ("#", "account", True),
        ("account.#", "account", True),
        ("account.#", "account.created.v1", True),
        ("#.created", "account.created", True),
        ("#.created", "account.updated", False),
        ("a.#.z", "a.z", True),
        ("a.#.z", "a.b.c.z", True),
        ("a.#.z", "a.b.c", False),
        ("*", "account.created", False),
    ],
)
def test_topic_patterns_match_as_the_exchange_does(pattern: str, key: str, expected: bool) -> None:
    assert topic_matches(pattern, key) is expected


def test_bindings_are_the_patterns_once_in_registration_order() -> None:
    handlers = Handlers()

    @handlers.on("user.*", "account.created")
    async def first(conn: asyncpg.Connection, event: CloudEvent) -> None: ...

    @handlers.on("account.created", "quote.accepted")
    async def second(conn: asyncpg.Connection, event: CloudEvent) -> None: ...

    assert handlers.bindings == ("user.*", "account.created", "quote.accepted")


def test_wants_only_what_a_registration_matches_and_its_condition_allows() -> None:
    handlers = Handlers()

    @handlers.on("account.updated", when=lambda e: "street" in e.data.record)
    async def locate(conn: asyncpg.Connection, event: CloudEvent) -> None: ...

    @handlers.on("user.*")
    async def keep(conn: asyncpg.Connection, event: CloudEvent) -> None: ...

    assert handlers.wants(event("user", "created"))
    assert handlers.wants(event("account", "updated", street="1 rue de la Paix"))
    assert not handlers.wants(event("account", "updated", name="Dupont"))
    assert not handlers.wants(event("account", "created", street="1 rue de la Paix"))
    assert not handlers.wants(event("contact", "created"))


async def test_handle_calls_each_matching_handler_once_in_order_with_its_typed_payload() -> None:
    handlers = Handlers()
    calls: list[tuple[str, Any]] = []

    @handlers.on("quote.*", "#")  # two patterns match: called once
    async def every(conn: asyncpg.Connection, event: CloudEvent) -> None:
        assert conn is CONN
        calls.append(("every", event.type))

    @handlers.on("quote.accepted")
    async def win(conn: asyncpg.Connection, event: CloudEvent, quote: Quote) -> None:
        calls.append(("win", quote))

    @handlers.on("quote.created")
    async def never(conn: asyncpg.Connection, event: CloudEvent) -> None:
        calls.append(("never", event.type))

    opportunity = uuid.uuid4()
    accepted = event(
        "quote", "accepted", opportunity_id=opportunity, number="D-2026-0001", total="12.50"
    )
    await handlers.handle(CONN, accepted)
    assert calls == [
        ("every", "crm.quote.accepted.v1"),
        ("win", Quote(opportunity_id=opportunity, number="D-2026-0001", total=Decimal("12.50"))),
    ]


async def test_a_record_that_does_not_fit_the_payload_is_refused_before_any_handler_runs() -> None:
    handlers = Handlers()
    calls: list[str] = []

    @handlers.on("quote.accepted")
    async def first(conn: asyncpg.Connection, event: CloudEvent) -> None:
        calls.append("first")

    @handlers.on("quote.accepted")
    async def win(conn: asyncpg.Connection, event: CloudEvent, quote: Quote) -> None:
        calls.append("win")

    with pytest.raises(EventRefused) as refused:
        await handlers.handle(CONN, event("quote", "accepted", number="D-1", total="beaucoup"))
    assert calls == []
    assert "total" in refused.value.reason
    assert "Quote" in refused.value.reason
    assert ConsumerEventRefused is EventRefused  # what the consumer dead-letters


async def test_fields_the_payload_does_not_declare_are_ignored_even_by_a_strict_model() -> None:
    handlers = Handlers()
    seen: list[Strict] = []

    @handlers.on("account.created")
    async def named(conn: asyncpg.Connection, event: CloudEvent, account: Strict) -> None:
        seen.append(account)

    await handlers.handle(CONN, event("account", "created", name="Dupont SA", city="Lyon"))
    assert seen == [Strict(name="Dupont SA")]


def test_the_payload_must_be_a_pydantic_model() -> None:
    handlers = Handlers()
    with pytest.raises(TypeError, match="Pydantic model"):

        @handlers.on("quote.accepted")
        async def untyped(
            conn: asyncpg.Connection, event: CloudEvent, quote: dict[str, Any]
        ) -> None:
            """Not a model."""


def test_a_pattern_with_an_empty_word_is_refused() -> None:
    with pytest.raises(ValueError, match="empty word"):
        Handlers().on("quote..accepted")
    with pytest.raises(ValueError, match="at least one"):
        Handlers().on()

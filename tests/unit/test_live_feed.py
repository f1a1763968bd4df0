"""The live feed's reading of events and its fan-out, without a broker."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest

from services.gateway.ui.live import (
    Change,
    LiveFeed,
    Resync,
    Subscription,
    TooManyStreams,
    changed_fields,
    linked_accounts,
    parse_change,
)

DECLARED: list[dict[str, Any]] = [
    {"name": "account", "collection": "accounts"},
    {
        "name": "contact",
        "collection": "contacts",
        "tab": {"label": "Contacts", "link": "account_id"},
    },
    {"name": "user", "collection": "users"},
]


def body(entity: str, record: dict[str, Any], change: str = "updated", **data: Any) -> bytes:
    return orjson.dumps(
        {
            "type": f"crm.{entity}.{change}.v1",
            "time": "2026-11-29T21:41:00Z",
            "subject": record["id"],
            "data": {
                "entity": entity,
                "id": record["id"],
                "version": record.get("version", 2),
                "actor": "jdupont",
                "changes": data.get("changes", {}),
                "record": record,
            },
        }
    )


def test_an_event_tells_its_change_with_top_level_fields() -> None:
    rid = str(uuid.uuid4())
    changes = {"address.city": {"old": "Paris", "new": "Lyon"}, "name": {"old": "A", "new": "B"}}
    change = parse_change(body("account", {"id": rid, "version": 4}, changes=changes))
    assert change is not None
    assert (change.entity, change.record_id, change.change, change.version) == (
        "account",
        rid,
        "updated",
        4,
    )
    assert change.actor == "jdupont"
    assert change.at.isoformat() == "2026-11-29T21:41:00+00:00"
    assert change.fields == ("address", "name")
    assert not change.derived
    assert parse_change(body("account", {"id": rid}, change="located")).derived  # type: ignore[union-attr]


def test_what_is_not_an_event_tells_nothing() -> None:
    for bad in (b"", b"{", b"[]", b'{"data": {}}', b'{"data": {"entity": "a", "id": "x"}}'):
        assert parse_change(bad) is None
    assert changed_fields({"version": 1, "updated_at": 2, "phone": 3}) == ("phone",)


def test_a_tab_record_names_its_account_and_those_it_moved_between() -> None:
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    moved = parse_change(
        body(
            "contact",
            {"id": str(uuid.uuid4()), "account_id": b},
            changes={"account_id": {"old": a, "new": b}},
        )
    )
    assert moved is not None
    assert linked_accounts(moved, {"contact": "account_id"}) == {a, b}
    assert linked_accounts(moved, {}) == set()


async def test_the_feed_fans_out_to_the_record_and_its_account_only() -> None:
    feed = LiveFeed(lambda: DECLARED)
    account, other = str(uuid.uuid4()), str(uuid.uuid4())
    contact = {"id": str(uuid.uuid4()), "account_id": account}
    with feed.subscribe(account) as mine, feed.subscribe(other) as theirs:
        feed.deliver(body("contact", contact, change="created"), "contact.created")
        feed.deliver(body("account", {"id": account, "version": 3}), "account.updated")
        feed.deliver(b"not json", "account.updated")  # passed over, logged
        feed.deliver(b"{}", "meta.accounts.announced")  # an announcement: not an event
        got = await mine.next(0)
        assert [(c.entity, c.record_id) for c in got if isinstance(c, Change)] == [
            ("contact", contact["id"]),
            ("account", account),
        ]
        assert await theirs.next(0) == []
        assert feed.subscriptions() == 2
    assert feed.subscriptions() == 0


async def test_a_subscription_is_bounded_and_the_feed_learns_names() -> None:
    subscription = Subscription("x", capacity=2)
    for _ in range(5):
        subscription.push(Resync())
    assert len(await subscription.next(0)) == 2
    assert subscription.dropped == 3
    feed = LiveFeed(lambda: DECLARED)
    assert feed.name_of("jdupont") == "jdupont"
    user = {"id": str(uuid.uuid4()), "username": "jdupont", "display_name": "Jean Dupont"}
    feed.deliver(body("user", user), "user.updated")  # learnt with nobody watching
    assert feed.name_of("jdupont") == "Jean Dupont"
    feed.know("mmartin", "")
    assert feed.name_of("mmartin") == "mmartin"


def test_streams_are_capped_per_session_and_per_copy_and_released_however_they_end() -> None:
    feed = LiveFeed(lambda: DECLARED, max_streams=3, per_session=2)
    one, two = uuid.uuid4(), uuid.uuid4()
    first, second = feed.admit(one), feed.admit(one)
    with first, second:
        with pytest.raises(TooManyStreams) as refused:
            feed.admit(one)  # the session holds its two
        assert refused.value.per_session
        assert (feed.streams, feed.streams_of(one)) == (2, 2)
        with feed.admit(two):
            with pytest.raises(TooManyStreams) as refused:
                feed.admit(two)  # this copy holds its three
            assert not refused.value.per_session
            assert feed.streams == 3
        with pytest.raises(RuntimeError), feed.admit(two):  # a stream ending in an error
            raise RuntimeError("the browser left")
        assert (feed.streams, feed.streams_of(two)) == (2, 0)
    assert (feed.streams, feed.streams_of(one)) == (0, 0)
    admitted = feed.admit(one)
    with admitted:
        pass
    with admitted:  # released once only
        pass
    assert feed.streams == 0
    with feed.admit(one), feed.admit(one):  # the session's share is whole again
        assert feed.streams == 2

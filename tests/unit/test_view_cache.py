"""The gateway's cache of composed 360° views: what it keeps, and what makes it forget."""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson
import pytest

from services.common.events import diff, encode, make_event
from services.gateway.view_cache import ViewCache, accounts_named

A, B, X = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())  # X: a record id
LINKS = {"contact": "account_id", "action": "account_id"}  # entity -> the field naming its account


def active(capacity_bytes: int = 1000, ttl: float = 60.0) -> ViewCache:
    cache = ViewCache(capacity_bytes, ttl)
    cache.activate(True)
    return cache


def test_a_stored_view_is_served_per_account_and_page_size() -> None:
    cache = active()
    cache.store(A, 20, b"{a20}", cache.generation)
    assert cache.get(A, 20) == b"{a20}"
    assert cache.get(A, 5) is None
    assert cache.get(B, 20) is None


def test_a_view_composed_before_a_change_to_its_account_is_not_stored_after_it() -> None:
    cache = active()
    started = cache.generation  # a composition of A starts
    cache.drop({B})  # another account changes meanwhile: A's view is still true
    cache.store(A, 20, b"{a}", started)
    assert cache.get(A, 20) == b"{a}"
    started = cache.generation
    cache.drop({A})  # A changes while its view is composed
    cache.store(A, 20, b"{stale}", started)
    assert cache.get(A, 20) is None
    started = cache.generation
    cache.drop()  # everything changes (a write forwarded by the gateway)
    cache.store(B, 20, b"{stale}", started)
    assert cache.get(B, 20) is None


def test_nothing_is_kept_while_the_event_feed_is_not_connected() -> None:
    cache = ViewCache(1000, 60.0)
    cache.store(A, 20, b"{a}", cache.generation)
    assert cache.get(A, 20) is None
    cache.activate(True)
    cache.store(A, 20, b"{a}", cache.generation)
    cache.activate(False)  # the feed is lost: events may be missed from now on
    assert cache.get(A, 20) is None
    cache.activate(True)
    assert cache.get(A, 20) is None  # and it starts empty again


def test_dropping_an_account_forgets_all_its_views_only() -> None:
    cache = active()
    for account in (A, B):
        for size in (5, 20):
            cache.store(account, size, b"{}", cache.generation)
    cache.drop({A})
    assert (cache.get(A, 5), cache.get(A, 20)) == (None, None)
    assert cache.get(B, 20) == b"{}"
    assert cache.size_bytes == 4
    cache.drop()
    assert (len(cache), cache.size_bytes) == (0, 0)


def test_views_expire_and_the_least_recently_read_go_first_beyond_the_room() -> None:
    cache = active(capacity_bytes=10, ttl=0.05)
    cache.store(A, 20, b"{a}", cache.generation)
    cache.store(B, 20, b"{b}", cache.generation)
    cache.store(B, 5, b"{b5}", cache.generation)
    assert cache.get(A, 20) == b"{a}"  # A read last: B is the oldest
    cache.store(str(uuid.uuid4()), 20, b"{cc}", cache.generation)  # 14 bytes: B goes
    assert (cache.get(B, 20), cache.get(B, 5), cache.size_bytes) == (None, None, 7)
    cache.store(B, 20, b"{" + b"x" * 10 + b"}", cache.generation)  # larger than the room
    assert cache.get(B, 20) is None
    time.sleep(0.06)
    assert cache.get(A, 20) is None


def event(entity: str, record: dict[str, Any], old: dict[str, Any] | None = None) -> bytes:
    """An event as the services publish it."""
    record = {"version": 2 if old else 1, **record}
    return encode(
        make_event(
            source="/tests", entity=entity, change="updated" if old else "created",
            record=record, actor="t", changes=diff(old, record),
        )
    )  # fmt: skip


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (event("account", {"id": A}), {A}),
        (event("action", {"id": X, "account_id": A}), {A}),
        (event("contact", {"id": X, "account_id": None}), set()),
        (event("contact", {"id": X, "account_id": A}, {"id": X, "account_id": B}), {A, B}),
        (b"{not json", None),
        (orjson.dumps({"data": {"entity": "action"}}), None),
    ],
)
def test_an_event_names_the_accounts_whose_views_it_may_change(
    body: bytes, named: set[str] | None
) -> None:
    assert accounts_named(body, LINKS) == named

"""Registry.awaited: what is known answers at once; only what is not known waits, and only while
some service has not described itself yet, for a bounded time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from services.gateway.registry import Registry


async def _never(service: str) -> Mapping[str, Any]:
    raise AssertionError(f"{service}: the test registry reads nothing over HTTP")


def meta(service: str, collection: str) -> dict[str, Any]:
    entity = {"name": collection[:-1], "collection": collection, "fields": []}
    return {
        "service": service,
        "version": "1",
        "entities": [entity],
        "routes": [f"/api/v1/{collection}", f"/api/v1/{collection}/{{id}}"],
    }


def registry() -> Registry:
    """Two services: activities described, accounts not (down as the gateway started)."""
    known = Registry(_never, services=("accounts", "activities"))
    assert known.learn(meta("activities", "actions"))
    return known


async def test_a_path_of_a_known_service_is_found_at_once() -> None:
    known = registry()
    started = time.monotonic()
    found = await known.awaited(lambda: known.service_of_path("/api/v1/actions/1"), 5)
    assert found == "activities"
    assert time.monotonic() - started < 0.1
    assert known.missing() == ["accounts"]


async def test_what_no_known_service_serves_waits_for_the_missing_one() -> None:
    known = registry()

    async def late() -> None:
        await asyncio.sleep(0.2)
        known.learn(meta("accounts", "accounts"))

    arrival = asyncio.create_task(late())
    started = time.monotonic()
    found = await known.awaited(lambda: known.service_of_path("/api/v1/accounts/1"), 5)
    await arrival
    assert found == "accounts"
    assert 0.15 < time.monotonic() - started < 1


async def test_the_wait_is_bounded_and_says_nothing_was_found() -> None:
    known = registry()
    started = time.monotonic()
    assert await known.awaited(lambda: known.service_of_path("/api/v1/accounts/1"), 0.3) is None
    assert 0.25 < time.monotonic() - started < 1
    assert known.missing() == ["accounts"]  # the caller's 503 names it


async def test_once_every_service_is_known_nothing_waits() -> None:
    known = registry()
    known.learn(meta("accounts", "accounts"))

    async def another_path_learnt() -> None:
        await asyncio.sleep(0.2)  # a change that is no service coming: must not be waited for
        known.learn({**meta("accounts", "accounts"), "version": "2"})

    change = asyncio.create_task(another_path_learnt())
    started = time.monotonic()
    assert await known.awaited(lambda: known.service_of_path("/api/v1/nowhere"), 5) is None
    assert time.monotonic() - started < 0.1  # the caller's 404
    await change


async def test_a_change_that_does_not_bring_it_keeps_waiting() -> None:
    known = Registry(_never, services=("accounts", "activities", "documents"))

    async def others() -> None:
        await asyncio.sleep(0.1)
        known.learn(meta("activities", "actions"))
        await asyncio.sleep(0.1)
        known.learn(meta("accounts", "accounts"))

    arrivals = asyncio.create_task(others())
    found = await known.awaited(lambda: known.service_of_path("/api/v1/accounts"), 5)
    await arrivals
    assert found == "accounts"
    assert known.missing() == ["documents"]


def test_a_path_is_matched_against_its_collection_s_routes_and_the_parameterised_ones() -> None:
    known = Registry(_never, services=("accounts", "activities"))
    known.learn(meta("activities", "actions"))
    accounts = meta("accounts", "accounts")
    accounts["routes"] = [*accounts["routes"], "/api/v1/{name:picklists}/{code}"]
    known.learn(accounts)
    assert known.service_of_path("/api/v1/actions/1") == "activities"
    assert known.service_of_path("/api/v1/accounts") == "accounts"
    assert known.service_of_path("/api/v1/picklists/civility") == "accounts"  # not indexed
    assert known.service_of_path("/api/v1/actions/1/extra") is None
    assert known.service_of_path("/api/v1") is None

"""Faults injected into a running stack while clients write accounts through the gateway: after
each, with nothing restarted by hand, every write answered 2xx has exactly one audit entry
within 30 seconds, no refused write has one, every chain verifies, every service is ready
again, and clients saw only 2xx or 503 with Retry-After. Figures: .run/faults/*.json and
docs/faults.md."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from tests.faults.load import (
    Load,
    Outcome,
    assert_nothing_lost,
    audited_markers,
    settle,
)
from tests.faults.stack import (
    Stack,
    broker_started,
    broker_stopped,
    terminate_connections,
)
from tests.support import RUN_ID, eventually

OUTAGES = 3


async def under_load(
    stack: Stack,
    http: aiohttp.ClientSession,
    headers: dict[str, str],
    scenario: str,
    inject: Callable[[], Awaitable[dict[str, Any]]],
) -> Outcome:
    load = Load(http, stack.gateway, headers, scenario)
    writing = asyncio.create_task(load.run())
    try:
        await asyncio.sleep(2)  # writes flowing before the first fault
        faults = await inject()
        await asyncio.sleep(3)  # and after the last
    finally:
        load.stop.set()
        await writing
    if "not_restarted" in faults:  # the stack is down: nothing more to measure
        answers = Counter(w.answer for w in load.writes)
        raise AssertionError(
            f"{faults['not_restarted']} was killed and not restarted within 60 s; "
            f"{len(load.writes)} writes, answers {dict(answers)}\n{stack.tail()}"
        )
    return await settle(stack, http, headers, scenario, load.writes, faults)


async def test_writes_survive_three_broker_restarts(
    stack: Stack, http: aiohttp.ClientSession, admin_headers: dict[str, str]
) -> None:
    async def restart_broker() -> dict[str, Any]:
        outages = []
        try:
            for _ in range(OUTAGES):
                began = time.monotonic()
                await broker_stopped()
                await asyncio.sleep(3)
                await broker_started()
                outages.append(round(time.monotonic() - began, 1))
                await asyncio.sleep(4)
        finally:
            await broker_started()  # whatever happened, the broker every run shares comes back
        return {"broker_outages_seconds": outages}

    outcome = await under_load(stack, http, admin_headers, "broker-restarts", restart_broker)
    assert_nothing_lost(stack, outcome)


async def test_writes_survive_database_connections_terminated(
    stack: Stack, http: aiohttp.ClientSession, admin_headers: dict[str, str]
) -> None:
    async def terminate() -> dict[str, Any]:
        ended: dict[str, list[int]] = {"accounts": [], "audit": []}
        for _ in range(OUTAGES):
            for service in ended:
                ended[service].append(await terminate_connections(service))
            await asyncio.sleep(3)
        return {"connections_terminated": ended}

    outcome = await under_load(stack, http, admin_headers, "database-terminations", terminate)
    assert_nothing_lost(stack, outcome)


async def test_writes_survive_a_killed_service(
    stack: Stack, http: aiohttp.ClientSession, admin_headers: dict[str, str]
) -> None:
    async def kill() -> dict[str, Any]:
        back_after: dict[str, float] = {}
        for service in ("accounts", "audit"):
            killed = stack.kill(service)
            began = time.monotonic()

            async def restarted(service: str = service, killed: int = killed) -> bool:
                pid = stack.pid_of(service)
                return pid not in (None, killed) and await stack.ready(http, service)

            try:
                await eventually(restarted, within=60, every=0.3)
            except AssertionError:
                return {"sigkill_then_ready_after_seconds": back_after, "not_restarted": service}
            back_after[service] = round(time.monotonic() - began, 1)
            await asyncio.sleep(3)
        return {"sigkill_then_ready_after_seconds": back_after}

    outcome = await under_load(stack, http, admin_headers, "sigkill", kill)
    assert_nothing_lost(stack, outcome)


async def test_twenty_concurrent_patches_with_one_if_match_give_one_success(
    stack: Stack, http: aiohttp.ClientSession, admin_headers: dict[str, str]
) -> None:
    name = f"faute if-match {RUN_ID}"
    async with http.post(
        f"{stack.gateway}/api/v1/accounts", json={"name": name}, headers=admin_headers
    ) as response:
        assert response.status == 201, await response.text()
        account = await response.json()
    url = f"{stack.gateway}/api/v1/accounts/{account['id']}"
    headers = {**admin_headers, "If-Match": f'"{account["version"]}"'}

    async def patch(n: int) -> int:
        marker = f"faute if-match {RUN_ID} c{n} n0"
        async with http.patch(url, json={"description": marker}, headers=headers) as response:
            return response.status

    statuses = Counter(await asyncio.gather(*(patch(n) for n in range(20))))
    assert statuses == {200: 1, 412: 19}

    # One patch reached the trail: the one that won.
    async def audited_patches() -> int:
        found = await audited_markers()
        return sum(
            n for marker, n in found.items() if marker.startswith(f"faute if-match {RUN_ID}")
        )

    assert await eventually(audited_patches, within=30) == 1

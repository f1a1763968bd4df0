"""The gateway learns a service at run time: it waits for a service that starts late (not ready
meanwhile, naming it), and learns its new version when the service announces it on the broker.
A real service app (the common app, the signed identity, GET /internal/meta) and a real broker."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, cast

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from services.common.entities import Entity, Field
from services.common.meta import meta_routes, publish_announcement
from services.common.openapi import Op, crud_operations, entity_record
from services.common.settings import DEFAULT_AMQP_URL
from services.common.supervisor import Supervisor
from services.common.web import make_app
from services.gateway.app import meta_reader
from services.gateway.proxy import Upstreams
from services.gateway.registry import Fetch, Registry
from services.gateway.settings import GatewaySettings
from services.gateway.web import UPSTREAMS_KEY
from tests.support import INTEGRATION_EXCHANGE, eventually

SECRET = "r" * 32
BOAT = Entity(
    name="boat",
    collection="boats",
    label="Bateau",
    plural="Bateaux",
    fields=(Field("name", "Nom", required=True),),
)


def boat_service(*, with_sail: bool) -> web.Application:
    """A service of boats: its list and records, and (in its second version) a sail route."""
    app = make_app("accounts", SECRET)

    async def answer(_request: web.Request) -> web.Response:
        return web.json_response({})

    app.router.add_route("*", "/api/v1/boats", answer)
    app.router.add_route("*", "/api/v1/boats/{id}", answer)
    ops = crud_operations(BOAT, entity_record(BOAT))
    if with_sail:
        app.router.add_post("/api/v1/boats/{id}/sail", answer)
        ops.append(Op("post", "/api/v1/boats/{id}/sail", "Hisser les voiles", "Bateaux"))
    app.router.add_routes(meta_routes("accounts", [BOAT], lambda: ops))
    return app


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class GatewaySide:
    registry: Registry
    port: int  # the service's
    fetch: Fetch  # what the gateway's reader gets from the service


@pytest.fixture
async def gateway_side() -> AsyncIterator[GatewaySide]:
    """A registry reading one service through the gateway's own reader, and following the
    announcements on the integration exchange; the service's port, nothing listening yet."""
    port = free_port()
    settings = SimpleNamespace(accounts_url=f"http://127.0.0.1:{port}")
    async with aiohttp.ClientSession() as session:
        app = web.Application()
        app[UPSTREAMS_KEY] = Upstreams(session, SECRET, 2.0)
        fetch = meta_reader(app, cast(GatewaySettings, settings))
        registry = Registry(fetch, services=("accounts",), retry_pauses=(0.05, 0.1))
        supervisor = Supervisor()
        for task in registry.supervise(supervisor, DEFAULT_AMQP_URL, INTEGRATION_EXCHANGE):
            task.start()
        try:
            yield GatewaySide(registry, port, fetch)
        finally:
            await supervisor.stop()


async def serve(app: web.Application, port: int) -> TestServer:
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    return server


async def test_the_gateway_waits_for_a_late_service_then_learns_its_new_version(
    gateway_side: GatewaySide, infrastructure: None
) -> None:
    registry, port = gateway_side.registry, gateway_side.port
    await asyncio.sleep(0.5)  # the service is not up: the registry keeps trying
    assert await registry.readiness() == "métadonnées pas encore reçues de : accounts"
    assert registry.service_of_path("/api/v1/boats") is None
    assert not registry.loaded.is_set()

    server = await serve(boat_service(with_sail=False), port)
    try:
        await asyncio.wait_for(registry.loaded.wait(), 10)
        assert await registry.readiness() is None
        assert registry.service_of_path("/api/v1/boats/42") == "accounts"
        assert registry.service_of_path("/api/v1/boats/42/sail") is None
        boat: dict[str, Any] | None = registry.entity("boats")
        assert boat is not None
        assert boat["service"] == "accounts"
        assert registry.entity_named("boat") == boat
        first = registry.meta("accounts")
        assert first is not None
        learnt = registry.version
    finally:
        await server.close()

    # A new version of the service starts and announces itself: the gateway reads it again.
    server = await serve(boat_service(with_sail=True), port)
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}/internal/meta") as response,
        ):
            assert response.status == 401  # the gateway's signed identity is required
        fetched = await gateway_side.fetch("accounts")
        assert fetched["version"] != first["version"]
        await publish_announcement(
            DEFAULT_AMQP_URL, INTEGRATION_EXCHANGE, "accounts", fetched["version"]
        )

        async def sails() -> bool:
            return registry.service_of_path("/api/v1/boats/42/sail") == "accounts"

        await eventually(sails, within=10)
        assert registry.version > learnt
        meta = registry.meta("accounts")
        assert meta is not None
        assert meta["version"] == fetched["version"]
        assert "/api/v1/boats/{id}/sail" in meta["openapi"]["paths"]
    finally:
        await server.close()

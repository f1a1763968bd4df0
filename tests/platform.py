"""The five services, built by their own app factories and served on loopback ports, with the
real PostgreSQL and RabbitMQ. The accounts service reaches the broker through a TCP proxy so a
test can make the broker unreachable for it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from multidict import CIMultiDictProxy

from services.accounts.app import create_app as accounts_app
from services.accounts.settings import AccountsSettings
from services.activities.app import create_app as activities_app
from services.activities.settings import ActivitiesSettings
from services.audit.app import create_app as audit_app
from services.audit.settings import AuditSettings
from services.common.settings import ServiceSettings
from services.documents.app import create_app as documents_app
from services.documents.settings import DocumentsSettings
from services.gateway.app import create_app as gateway_app
from services.gateway.settings import GatewaySettings
from tests.fakes import FakeTelephonyServer
from tests.support import (
    ADMIN_PASSWORD,
    TELEPHONY_SECRET,
    TOKEN_SECRET,
    TcpProxy,
    isolated_database_url,
    role_amqp_url,
    service_settings,
)


@dataclass
class Platform:
    gateway: str
    urls: dict[str, str]
    accounts_broker: TcpProxy
    gateway_broker: TcpProxy
    http: aiohttp.ClientSession
    telephony: FakeTelephonyServer
    settings: dict[str, ServiceSettings]

    async def login(
        self, username: str = "admin", password: str = ADMIN_PASSWORD
    ) -> dict[str, str]:
        async with self.http.post(
            f"{self.gateway}/api/v1/auth/login", json={"username": username, "password": password}
        ) as response:
            assert response.status == 200, await response.text()
            token = (await response.json())["access_token"]
        return {"Authorization": f"Bearer {token}"}

    async def call(
        self, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> tuple[int, Any, CIMultiDictProxy[str]]:
        async with self.http.request(
            method, f"{self.gateway}{path}", headers=headers, **kwargs
        ) as r:
            body = await r.json(content_type=None) if r.content_length != 0 else None
            return r.status, body, r.headers


async def serve(
    factory: Callable[[ServiceSettings], web.Application], settings: ServiceSettings
) -> TestServer:
    server = TestServer(factory(settings), host="127.0.0.1")
    await server.start_server()
    return server


@pytest.fixture(scope="session")
async def platform(infrastructure: None) -> AsyncIterator[Platform]:
    proxy = TcpProxy("127.0.0.1", 5672)
    await proxy.start()
    gateway_proxy = TcpProxy("127.0.0.1", 5672)
    await gateway_proxy.start()
    telephony = FakeTelephonyServer(TELEPHONY_SECRET)
    await telephony.start()
    servers: list[TestServer] = []
    urls: dict[str, str] = {}
    services: list[tuple[str, Callable[[ServiceSettings], web.Application], ServiceSettings]] = [
        ("audit", audit_app, service_settings(AuditSettings, "audit")),
        (
            "accounts",
            accounts_app,
            service_settings(
                AccountsSettings, "accounts", amqp_url=role_amqp_url("accounts", proxy.port)
            ),
        ),
        ("activities", activities_app, service_settings(ActivitiesSettings, "activities")),
        ("documents", documents_app, service_settings(DocumentsSettings, "documents")),
    ]
    try:
        for name, factory, settings in services:
            server = await serve(factory, settings)
            servers.append(server)
            urls[name] = str(server.make_url("")).rstrip("/")
        gateway_settings = service_settings(
            GatewaySettings,
            "gateway",
            token_secret=TOKEN_SECRET,
            admin_password=ADMIN_PASSWORD,
            telephony_url=telephony.url,
            telephony_secret=TELEPHONY_SECRET,
            telephony_timeout_seconds=1.0,
            # Cached views must be dropped by writes and events, not by age: the tests see it.
            view_cache_ttl_seconds=300,
            amqp_url=role_amqp_url("gateway", gateway_proxy.port),
            **{f"{name}_url": url for name, url in urls.items()},
        )
        gateway = await serve(gateway_app, gateway_settings)
        servers.append(gateway)
        urls["gateway"] = str(gateway.make_url("")).rstrip("/")
        async with aiohttp.ClientSession() as http:
            all_settings = {name: s for name, _, s in services} | {"gateway": gateway_settings}
            yield Platform(
                urls["gateway"], urls, proxy, gateway_proxy, http, telephony, all_settings
            )
    finally:
        for server in reversed(servers):
            await server.close()
        await proxy.cut()
        await gateway_proxy.cut()
        await telephony.close()


@pytest.fixture(scope="session")
async def admin(platform: Platform) -> dict[str, str]:
    return await platform.login()


@pytest.fixture(scope="session")
async def accounts_db(platform: Platform) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(isolated_database_url("accounts"))
    yield conn
    await conn.close()


@pytest.fixture(scope="session")
async def gateway_db(platform: Platform) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(isolated_database_url("gateway"))
    yield conn
    await conn.close()


@pytest.fixture(scope="session")
async def user(platform: Platform, admin: dict[str, str]) -> dict[str, str]:
    """A sales user (role user), created by the admin through the API."""
    body = {"username": "claire", "password": "Claire-mot-de-passe-1", "role": "user"}
    status, created, _ = await platform.call("POST", "/api/v1/users", admin, json=body)
    assert status == 201, created
    return await platform.login("claire", "Claire-mot-de-passe-1")

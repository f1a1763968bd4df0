"""A service down as the gateway starts takes down only what it serves: a gateway copy started
while the accounts service accepts connections but never answers (a process stopped with
SIGSTOP) serves the activities and the documents at once, lists the declarations and events it
knows, and answers the accounts' paths 503 with Retry-After once it has waited for them; when
the accounts service comes back, everything answers. The other services, PostgreSQL and
RabbitMQ are the platform's own."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from multidict import CIMultiDictProxy

from services.gateway.app import create_app as gateway_app
from services.gateway.web import LEARNING_SECONDS
from tests.platform import Platform, serve
from tests.support import TcpProxy, eventually

Headers = dict[str, str]
Answer = tuple[int, Any, CIMultiDictProxy[str]]
AT_ONCE = 2.0  # seconds: well under LEARNING_SECONDS


@dataclass
class Silent:
    """Accepts connections and never answers, until closed (then drops them all)."""

    server: asyncio.Server | None = None
    links: list[asyncio.StreamWriter] = field(default_factory=list)
    port: int = 0

    async def start(self) -> None:
        async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.links.append(writer)

        self.server = await asyncio.start_server(hold, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        for writer in self.links:
            writer.transport.abort()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None


@dataclass
class PartialGateway:
    url: str
    http: aiohttp.ClientSession
    silent: Silent
    accounts_port: int  # the platform's accounts service

    async def call(
        self, method: str, path: str, headers: Headers | None = None, **kwargs: Any
    ) -> Answer:
        async with self.http.request(method, self.url + path, headers=headers, **kwargs) as r:
            body = await r.json(content_type=None) if r.content_length != 0 else None
            return r.status, body, r.headers

    async def timed(
        self, method: str, path: str, headers: Headers | None = None, **kwargs: Any
    ) -> tuple[float, Answer]:
        started = time.monotonic()
        answer = await self.call(method, path, headers, **kwargs)
        return time.monotonic() - started, answer


@pytest.fixture
async def partial(platform: Platform) -> AsyncIterator[PartialGateway]:
    """A second gateway copy whose accounts service does not answer (the platform's others)."""
    silent = Silent()
    await silent.start()
    settings = platform.settings["gateway"].model_copy(
        update={"accounts_url": f"http://127.0.0.1:{silent.port}", "upstream_timeout_seconds": 2.0}
    )
    gateway: TestServer = await serve(gateway_app, settings)
    accounts_port = urlsplit(platform.urls["accounts"]).port
    assert accounts_port is not None
    try:
        url = str(gateway.make_url("")).rstrip("/")
        yield PartialGateway(url, platform.http, silent, accounts_port)
    finally:
        await gateway.close()
        await silent.close()


async def test_a_service_down_at_start_takes_down_only_what_it_serves(
    partial: PartialGateway, platform: Platform, user: Headers
) -> None:
    # What the known services serve answers at once, reads and writes.
    elapsed, (status, page, _) = await partial.timed("GET", "/api/v1/actions?limit=1", user)
    assert status == 200, page
    assert elapsed < AT_ONCE
    elapsed, (status, _, _) = await partial.timed("GET", "/api/v1/quotes?limit=1", user)
    assert (status, elapsed < AT_ONCE) == (200, True)
    status, account, _ = await platform.call(  # through the platform's own gateway
        "POST", "/api/v1/accounts", user, json={"name": f"Panne {uuid.uuid4().hex[:6]}"}
    )
    assert status == 201, account
    action = {"type": "note", "subject": "Pendant la panne", "account_id": account["id"]}
    elapsed, (status, created, _) = await partial.timed(
        "POST", "/api/v1/actions", user, json=action
    )
    assert status == 201, created
    assert elapsed < AT_ONCE

    # The declarations, events and document of the known services, at once.
    elapsed, (status, listed, _) = await partial.timed("GET", "/api/v1/meta/entities", user)
    assert (status, elapsed < AT_ONCE) == (200, True)
    collections = {entity["collection"] for entity in listed["items"]}
    assert {"users", "actions", "opportunities", "quotes", "invoices"} <= collections
    assert not {"accounts", "contacts"} & collections
    status, declared, _ = await partial.call("GET", "/api/v1/meta/entities/actions", user)
    assert (status, declared["service"]) == (200, "activities")
    elapsed, (status, events, _) = await partial.timed("GET", "/api/v1/meta/events", user)
    assert (status, elapsed < AT_ONCE) == (200, True)
    assert "crm.action.created.v1" in events
    assert "crm.account.created.v1" not in events
    elapsed, (status, document, _) = await partial.timed("GET", "/api/v1/openapi.json")
    assert (status, elapsed < AT_ONCE) == (200, True)
    assert "/api/v1/actions" in document["paths"]
    assert "/api/v1/meta/entities/{collection}" in document["paths"]
    assert "/api/v1/accounts" not in document["paths"]

    # What only the missing service may serve waits for it, then 503 naming it.
    some_id = str(uuid.uuid4())
    waited = await asyncio.gather(
        partial.timed("GET", "/api/v1/accounts?limit=1", user),
        partial.timed("GET", "/api/v1/meta/entities/contacts", user),
        partial.timed("GET", f"/api/v1/accounts/{some_id}/view", user),
        partial.timed("GET", f"/api/v1/contacts/{some_id}/print", user),
        partial.timed("GET", f"/api/v1/contacts/{some_id}/audit", user),
        partial.timed("GET", "/api/v1/nulle-part", user),
    )
    for elapsed, (status, problem, headers) in waited:
        assert status == 503, problem
        assert LEARNING_SECONDS - 0.5 <= elapsed < LEARNING_SECONDS + AT_ONCE
        assert int(headers["Retry-After"]) > 0
        assert headers["Content-Type"].startswith("application/problem+json")
        assert "accounts" in problem["detail"]
    async with partial.http.get(partial.url + "/readyz") as response:
        assert response.status == 503
        assert "accounts" in await response.text()
    async with partial.http.get(partial.url + "/healthz") as response:
        assert response.status == 200

    # The accounts service answers again (on the address the gateway knows): everything answers.
    await partial.silent.close()
    proxy = TcpProxy("127.0.0.1", partial.accounts_port)
    proxy.port = partial.silent.port
    await proxy.start()
    try:

        async def accounts_listed() -> bool:
            status, _, _ = await partial.call("GET", "/api/v1/accounts?limit=1", user)
            return status == 200

        await eventually(accounts_listed, within=15)
        status, listed, _ = await partial.call("GET", "/api/v1/meta/entities", user)
        assert {"accounts", "contacts", "actions"} <= {e["collection"] for e in listed["items"]}
        status, _, _ = await partial.call("GET", "/api/v1/meta/entities/contacts", user)
        assert status == 200
        status, events, _ = await partial.call("GET", "/api/v1/meta/events", user)
        assert "crm.account.created.v1" in events
        _, document, _ = await partial.call("GET", "/api/v1/openapi.json")
        assert "/api/v1/accounts" in document["paths"]
        elapsed, (status, _, _) = await partial.timed(
            "GET", f"/api/v1/accounts/{some_id}/view", user
        )
        assert (status, elapsed < AT_ONCE) == (404, True)
        elapsed, (status, _, _) = await partial.timed("GET", "/api/v1/nulle-part", user)
        assert (status, elapsed < AT_ONCE) == (404, True)
        async with partial.http.get(partial.url + "/readyz") as response:
            assert response.status == 200, await response.text()
    finally:
        await proxy.cut()

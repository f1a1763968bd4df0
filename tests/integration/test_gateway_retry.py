"""The gateway sends a request carrying an Idempotency-Key again when the service's connection
fails (refused, or lost after sending for a creation that honours the key), and only such a
request: against a stand-in service that drops the first connections it serves, after reading
the whole request."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from services.common.identity import Identity
from services.common.web import error_middleware
from services.gateway.proxy import Upstreams

IDENTITY = Identity(user_id="00000000-0000-4000-8000-000000000001", username="a", role="user")
SECRET = "s" * 32


@dataclass
class DroppingService:
    """Answers 201 with the request's key, except the first ``drops`` connections: each is
    closed without an answer once the request is read (what a service killed after its commit
    does)."""

    drops: int
    requests: list[tuple[str | None, bytes]] = field(default_factory=list)
    port: int = 0
    server: asyncio.Server | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {
                k.strip().lower(): v.strip()
                for k, _, v in (line.partition(":") for line in lines[1:] if line)
            }
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.requests.append((headers.get("idempotency-key"), body))
            if self.drops > 0:
                self.drops -= 1
                return  # closed in finally, without an answer
            answer = b'{"id": "x"}'
            writer.write(
                b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
                b"Location: /api/v1/accounts/x\r\nConnection: close\r\n"
                + f"Content-Length: {len(answer)}\r\n\r\n".encode()
                + answer
            )
            await writer.drain()
        finally:
            writer.close()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@dataclass
class Gateway:
    url: str
    service: DroppingService
    http: aiohttp.ClientSession


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    service = DroppingService(drops=2)
    await service.start()
    async with aiohttp.ClientSession() as upstream_session, aiohttp.ClientSession() as http:
        upstreams = Upstreams(
            upstream_session,
            SECRET,
            5.0,
            retry_pauses=(0.01, 0.02, 0.05),
            keyed_creation=lambda path: path == "/api/v1/accounts",
        )

        async def forward(request: web.Request) -> web.Response:
            base = f"http://127.0.0.1:{service.port}"
            path = request.rel_url.raw_path
            return await upstreams.forward(request, base, path, IDENTITY, "accounts")

        app = web.Application(middlewares=[error_middleware])
        app.router.add_post("/api/v1/accounts", forward)
        app.router.add_post("/api/v1/accounts/{id}/restore", forward)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        try:
            yield Gateway(str(server.make_url("/api/v1/accounts")), service, http)
        finally:
            await server.close()
            await service.close()


async def test_a_keyed_request_is_sent_again_until_the_service_answers(gateway: Gateway) -> None:
    headers = {"Idempotency-Key": "clé-1".encode().hex()}
    async with gateway.http.post(gateway.url, json={"name": "A"}, headers=headers) as response:
        assert response.status == 201, await response.text()
        assert response.headers["Location"] == "/api/v1/accounts/x"
        assert await response.json() == {"id": "x"}
    # Three times the same request under the same key: two dropped, the third answered.
    assert gateway.service.requests == [(headers["Idempotency-Key"], b'{"name": "A"}')] * 3


async def test_a_request_without_a_key_is_not_sent_again(gateway: Gateway) -> None:
    async with gateway.http.post(gateway.url, json={"name": "B"}) as response:
        assert response.status == 503
        assert response.headers["Retry-After"]
        assert "indisponible" in (await response.json())["detail"]
    assert gateway.service.requests == [(None, b'{"name": "B"}')]


async def test_a_keyed_write_that_is_no_creation_is_not_sent_again_once_sent(
    gateway: Gateway,
) -> None:
    # Its service would not recognise the key: sent again, it could be applied twice.
    url = gateway.url + "/00000000-0000-4000-8000-000000000002/restore"
    async with gateway.http.post(url, headers={"Idempotency-Key": "k3"}) as response:
        assert response.status == 503
    assert gateway.service.requests == [("k3", b"")]


async def test_a_keyed_request_is_sent_again_while_the_service_refuses_connections(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    await gateway.service.close()  # nothing listens: connection refused, never sent
    url = gateway.url + "/00000000-0000-4000-8000-000000000002/restore"
    with caplog.at_level(logging.WARNING, logger="services.gateway.proxy"):
        async with gateway.http.post(url, headers={"Idempotency-Key": "k4"}) as response:
            assert response.status == 503
            assert response.headers["Retry-After"]
    retried = [r for r in caplog.records if "sent again" in r.getMessage()]
    assert len(retried) == 3  # every pause used, then the 503
    assert gateway.service.requests == []


async def test_a_keyed_request_gets_503_once_the_retries_are_spent(gateway: Gateway) -> None:
    gateway.service.drops = 100
    headers = {"Idempotency-Key": "k2"}
    async with gateway.http.post(gateway.url, json={"name": "C"}, headers=headers) as response:
        assert response.status == 503
        assert response.headers["Retry-After"]
    assert len(gateway.service.requests) == 4  # the first and three retries, then the 503

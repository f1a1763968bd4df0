"""What every service answers whatever the request: security headers, problem+json in French even
for a request aiohttp cannot parse, and a 422 for a value the database cannot hold."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from services.common.errors import TooManyRequests, Unauthorized
from services.common.web import json_response, make_app
from tests.support import raw_http


async def _out_of_range(_request: web.Request) -> web.Response:
    raise asyncpg.DataError("invalid input for query argument $1: 9000000000")


async def _throttled(_request: web.Request) -> web.Response:
    raise TooManyRequests("Trop d'appels.", retry_after=17)


async def _unauthorized(_request: web.Request) -> web.Response:
    raise Unauthorized("Jeton invalide.", challenge='Bearer error="invalid_token"')


async def _cached(_request: web.Request) -> web.Response:
    return json_response({"public": True}, headers={"Cache-Control": "max-age=60"})


async def _echo(request: web.Request) -> web.Response:
    return web.Response(body=await request.read())


async def _page(_request: web.Request) -> web.Response:
    return web.Response(text="<p>page</p>", content_type="text/html")


@pytest.fixture(scope="module")
async def server() -> AsyncIterator[TestServer]:
    app = make_app("test", internal_secret=None)
    app.router.add_get("/api/v1/out-of-range", _out_of_range)
    app.router.add_get("/api/v1/throttled", _throttled)
    app.router.add_get("/api/v1/unauthorized", _unauthorized)
    app.router.add_get("/api/v1/cached", _cached)
    app.router.add_get("/page", _page)
    app.router.add_post("/api/v1/echo", _echo)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield server
    await server.close()


async def _raw(server: TestServer, request: bytes) -> tuple[int, dict[str, str], bytes]:
    assert server.host is not None
    assert server.port is not None
    return await raw_http(server.host, server.port, request)


def _assert_hardened(headers: dict[str, str]) -> None:
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /api/v1/accounts?q=" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n", 431),
        (
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
            + b"".join(b"X-H%d: v\r\n" % i for i in range(200))
            + b"\r\n",
            431,
        ),
        (b"G\x01T / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ],
    ids=["request-line-over-8k", "header-over-8k", "too-many-headers", "garbage"],
)
async def test_a_request_that_cannot_be_parsed_gets_problem_json_in_french(
    server: TestServer, request_bytes: bytes, status: int
) -> None:
    got, headers, body = await _raw(server, request_bytes)
    assert got == status
    assert headers["content-type"].startswith("application/problem+json")
    problem = orjson.loads(body)
    assert problem["status"] == status
    assert "Got more than" not in problem["detail"]  # no repr of aiohttp's exception
    assert problem["detail"].endswith(".")
    _assert_hardened(headers)


async def test_a_request_line_of_8k_is_still_served(server: TestServer) -> None:
    target = b"/healthz?pad=" + b"a" * (8192 - len(b"/healthz?pad="))
    got, _, _ = await _raw(
        server, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert got == 200


async def test_every_answer_carries_the_security_headers(server: TestServer) -> None:
    for path in ("/healthz", "/metrics", "/nowhere", "/api/v1/cached"):
        _, headers, _ = await _raw(
            server, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
        )
        _assert_hardened(headers)
        assert "default-src 'none'" in headers["content-security-policy"]


async def test_pages_may_load_their_own_scripts_only(server: TestServer) -> None:
    _, headers, _ = await _raw(
        server, b"GET /page HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    csp = headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "script-src" not in csp
    assert "unsafe-eval" not in csp


async def test_api_answers_are_not_stored_unless_the_handler_says_so(server: TestServer) -> None:
    _, headers, _ = await _raw(
        server, b"GET /api/v1/throttled HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert headers["cache-control"] == "no-store"
    _, headers, _ = await _raw(
        server, b"GET /api/v1/cached HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert headers["cache-control"] == "max-age=60"


async def test_a_value_the_database_cannot_hold_is_a_422_not_a_500(server: TestServer) -> None:
    got, headers, body = await _raw(
        server, b"GET /api/v1/out-of-range HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert got == 422
    assert headers["content-type"].startswith("application/problem+json")
    assert "9000000000" not in body.decode()


async def test_429_says_when_to_retry_and_401_how_to_authenticate(server: TestServer) -> None:
    got, headers, _ = await _raw(
        server, b"GET /api/v1/throttled HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert (got, headers["retry-after"]) == (429, "17")
    got, headers, _ = await _raw(
        server, b"GET /api/v1/unauthorized HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert (got, headers["www-authenticate"]) == (401, 'Bearer error="invalid_token"')


async def test_a_body_over_the_limit_is_a_413_in_french_naming_the_limit(
    server: TestServer,
) -> None:
    body = b"x" * (1024 * 1024 + 1)
    head = f"POST /api/v1/echo HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
    got, headers, answer = await _raw(server, head.encode() + b"Connection: close\r\n\r\n" + body)
    assert got == 413
    assert headers["content-type"].startswith("application/problem+json")
    problem = orjson.loads(answer)
    assert problem["title"] == "Requête trop volumineuse"
    assert problem["detail"] == (
        "Le corps de la requête dépasse la taille maximale acceptée : 1 Mio (1048576 octets)."
    )

"""The gateway's edges, on a bare application: /metrics behind its token, CORS for configured
origins only, and the numbers ClickToCall may dial."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from services.common.web import make_app
from services.gateway.calls import dialable
from services.gateway.settings import FRENCH_NON_PREMIUM
from services.gateway.web import cors_headers, cors_preflight, metrics_guard

TOKEN = "metrics-token-0123456789"
ORIGIN = "https://crm.example.fr"


async def _accounts(_request: web.Request) -> web.Response:
    return web.json_response([])


@pytest.fixture(scope="module")
async def client() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    app = make_app("gateway", internal_secret=None)
    app.middlewares.append(cors_preflight(frozenset({ORIGIN})))
    app.on_response_prepare.append(cors_headers(frozenset({ORIGIN})))
    app.middlewares.append(metrics_guard(TOKEN))
    app.router.add_get("/api/v1/accounts", _accounts)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


async def test_metrics_answer_their_token_only(
    client: TestClient[web.Request, web.Application],
) -> None:
    response = await client.get("/metrics")
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    response = await client.get("/metrics", headers={"Authorization": "Bearer wrong-token"})
    assert response.status == 401
    response = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status == 200
    assert "http_requests_total" in await response.text()


async def test_without_a_token_metrics_are_absent() -> None:
    app = make_app("gateway", internal_secret=None)
    app.middlewares.append(metrics_guard(None))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        assert (await client.get("/metrics")).status == 404
        assert (await client.get("/healthz")).status == 200


async def test_a_configured_origin_gets_its_preflight_and_its_answers(
    client: TestClient[web.Request, web.Application],
) -> None:
    preflight = {"Origin": ORIGIN, "Access-Control-Request-Method": "PATCH"}
    response = await client.options("/api/v1/accounts", headers=preflight)
    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "PATCH" in response.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]
    response = await client.get("/api/v1/accounts", headers={"Origin": ORIGIN})
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "ETag" in response.headers["Access-Control-Expose-Headers"]
    assert "Origin" in response.headers.getall("Vary")


async def test_another_origin_gets_no_cors_header_at_all(
    client: TestClient[web.Request, web.Application],
) -> None:
    other = {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    for response in (
        await client.options("/api/v1/accounts", headers=other),
        await client.get("/api/v1/accounts", headers=other),
    ):
        assert not [h for h in response.headers if h.lower().startswith("access-control-")]


@pytest.mark.parametrize(
    "number",
    [
        "+33142685300",
        "+33472000001",
        "+33556000000",
        "+33612345678",
        "+33712345678",
        "+33970000000",
        "+33800123456",
        "+33805123456",
    ],
)
def test_french_geographic_mobile_and_free_numbers_are_dialled(number: str) -> None:
    assert dialable(number, FRENCH_NON_PREMIUM)


@pytest.mark.parametrize(
    "number",
    [
        "+33892680222",
        "+33899234567",
        "+33825000000",
        "+33810000000",
        "+33836000000",
        "+3336",
        "+333615",
        "+4420794609",
        "+442079460958",
        "+3314268530",
        "+331426853000",
    ],
)
def test_premium_short_and_foreign_numbers_are_not(number: str) -> None:
    assert not dialable(number, FRENCH_NON_PREMIUM)

"""Read your writes: the X-CRM-Seen header, what the gateway asks the owners, and how both ends
carry it (the real stack is in tests/e2e/test_read_your_writes.py)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from services.common import replica
from services.common.errors import ServiceUnavailable, ValidationFailed
from services.common.identity import Identity
from services.common.versions import SEEN_HEADER, _asked, format_seen, parse_seen
from services.common.web import IDENTITY_KEY
from services.gateway import consistency
from services.gateway.consistency import (
    SEEN_KEY,
    VersionsUnavailable,
    answered,
    ask_versions,
    connections,
    foreign_connections,
    read_your_writes,
    record_in_path,
    referenced,
    seen_versions,
    written_declaration,
)

A = "0b7d2f4e-9c1a-4e55-8d7e-1f2a3b4c5d6e"
B = "7c8d9e0f-1a2b-4c3d-9e8f-a0b1c2d3e4f5"
C = "c0ffee00-0000-4000-8000-000000000001"
ADMIN = Identity("1", "admin", "admin")


def conn_field(name: str, target: str, read_only: bool = False) -> dict[str, Any]:
    return {"name": name, "kind": "connection", "target": target, "read_only": read_only}


ACTIONS = {
    "name": "action",
    "collection": "actions",
    "service": "activities",
    "fields": [
        {"name": "subject", "kind": "text", "read_only": False},
        conn_field("account_id", "account"),
        conn_field("contact_id", "contact"),
        conn_field("opportunity_id", "opportunity"),  # activities' own: read from its table
        conn_field("call_id", "call", read_only=True),
    ],
}
ENTITIES: list[dict[str, Any]] = [
    ACTIONS,
    {"name": "account", "collection": "accounts", "service": "accounts", "fields": []},
    {"name": "contact", "collection": "contacts", "service": "accounts", "fields": []},
    {"name": "opportunity", "collection": "opportunities", "service": "activities", "fields": []},
    {"name": "quote", "collection": "quotes", "service": "documents", "fields": []},
]


@pytest.fixture(autouse=True)
def loggers_enabled() -> None:
    """The warnings checked here are logged even when a test before disabled the loggers that
    existed then (import-linter's logging setup in test_architecture.py does)."""
    for name in ("services.common.versions", "services.gateway.consistency"):
        logging.getLogger(name).disabled = False


class StandIn:
    """The registry's two lookups, over fixed declarations (the registry is H4's)."""

    def entity(self, collection: str) -> Mapping[str, Any] | None:
        return next((e for e in ENTITIES if e["collection"] == collection), None)

    def entity_named(self, name: str) -> Mapping[str, Any] | None:
        return next((e for e in ENTITIES if e["name"] == name), None)

    def service_of_path(self, path: str) -> str | None:
        if path.endswith("/mail-merge"):
            return "documents"
        if path.endswith("/call"):
            return None  # the gateway's own route
        collection = path.split("/")[3]
        return next((str(e["service"]) for e in ENTITIES if e["collection"] == collection), None)


# -- the header ------------------------------------------------------------------------------


def test_the_header_round_trips_in_a_stable_order() -> None:
    value = format_seen({"contact": {B: 2}, "account": {B: 7, A: 3}})
    assert value == f"account={A}:3,account={B}:7,contact={B}:2"
    assert parse_seen(value) == {
        ("account", uuid.UUID(A)): 3,
        ("account", uuid.UUID(B)): 7,
        ("contact", uuid.UUID(B)): 2,
    }


def test_no_header_or_an_empty_one_says_nothing() -> None:
    assert parse_seen(None) == {}
    assert parse_seen("") == {}
    assert parse_seen(" , ") == {}
    assert format_seen({}) == ""


def test_a_malformed_item_is_left_out_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        seen = parse_seen(
            f"account={A}:3, contact=pas-un-uuid:2,Account={B}:1,account={B}:-1,account={B},"
            f"opportunity={B.upper()}:12345678901,opportunity={B.upper()}:4"
        )
    assert seen == {("account", uuid.UUID(A)): 3, ("opportunity", uuid.UUID(B)): 4}
    assert len([r for r in caplog.records if SEEN_HEADER in r.getMessage()]) == 5


def test_the_highest_version_of_a_record_named_twice_is_kept() -> None:
    assert parse_seen(f"account={A}:5,account={A}:2") == {("account", uuid.UUID(A)): 5}


# -- the owner's endpoint --------------------------------------------------------------------


def test_the_versions_asked_are_only_the_services_own_and_ids() -> None:
    owned = {"account": "accounts", "contact": "contacts"}
    assert _asked({"account": [A, B], "contact": []}, owned) == {
        "account": [uuid.UUID(A), uuid.UUID(B)],
        "contact": [],
    }
    with pytest.raises(ValidationFailed) as refused:
        _asked({"quote": [A], "account": [A, "x", 3], "contact": A}, owned)
    assert [e.field for e in refused.value.errors] == ["quote", "account", "contact"]
    with pytest.raises(ValidationFailed):
        _asked([A], owned)
    with pytest.raises(ValidationFailed):
        _asked({"account": [A] * 501}, owned)


# -- what the gateway asks -------------------------------------------------------------------


def test_only_creations_and_merge_patches_of_a_collection_are_looked_at() -> None:
    known = StandIn()
    assert written_declaration("POST", "/api/v1/actions", known) is ACTIONS
    assert written_declaration("PATCH", f"/api/v1/actions/{A}", known) is ACTIONS
    assert written_declaration("PATCH", "/api/v1/actions", known) is None
    assert written_declaration("POST", f"/api/v1/actions/{A}", known) is None
    assert written_declaration("POST", f"/api/v1/actions/{A}/restore", known) is None
    assert written_declaration("PUT", f"/api/v1/actions/{A}", known) is None
    assert written_declaration("POST", "/api/v1/nothing", known) is None
    assert written_declaration("POST", "/healthz", known) is None


def test_the_connections_are_the_writable_connection_fields() -> None:
    assert connections(ACTIONS) == {
        "account_id": "account",
        "contact_id": "contact",
        "opportunity_id": "opportunity",
    }


def test_only_connections_to_another_services_entity_are_foreign() -> None:
    assert foreign_connections(ACTIONS, StandIn()) == {
        "account_id": ("account", "accounts"),
        "contact_id": ("contact", "accounts"),
    }
    unknown = {**ACTIONS, "fields": [conn_field("lead_id", "lead")]}  # no service declares it
    assert foreign_connections(unknown, StandIn()) == {}


def test_the_records_of_other_services_the_body_names_are_grouped_by_owner() -> None:
    body = {
        "subject": A,
        "account_id": A.upper(),
        "contact_id": B,
        "opportunity_id": C,  # the writing service's own entity: not asked
        "call_id": C,  # read-only: not a reference a client writes
    }
    assert referenced(ACTIONS, body, StandIn()) == {"accounts": {"account": [A], "contact": [B]}}
    assert referenced(ACTIONS, {"account_id": "pas-un-uuid", "contact_id": None}, StandIn()) == {}
    assert referenced(ACTIONS, {"account_id": 12}, StandIn()) == {}
    assert referenced(ACTIONS, [A], StandIn()) == {}


def test_a_record_in_the_path_is_asked_when_another_service_serves_the_write() -> None:
    known = StandIn()
    assert record_in_path(f"/api/v1/accounts/{A.upper()}/mail-merge", known) == {
        "accounts": {"account": [A]}
    }
    assert record_in_path(f"/api/v1/accounts/{A}/restore", known) == {}  # the owner's route
    assert record_in_path(f"/api/v1/accounts/{A}/call", known) == {}  # the gateway's
    assert record_in_path("/api/v1/accounts/pas-un-uuid/mail-merge", known) == {}
    assert record_in_path(f"/api/v1/calls/{A}/action", known) == {}  # not an entity
    assert record_in_path(f"/api/v1/accounts/{A}", known) == {}


def test_the_answer_keeps_only_what_was_asked() -> None:
    asked = {"account": [A, B], "contact": [C]}
    answer = {"account": {A: 3, B: True, C: 9}, "contact": {C: "2"}, "quote": {A: 1}}
    assert answered(asked, answer) == {"account": {A: 3}, "contact": {}}
    assert answered(asked, {}) == {}
    with pytest.raises(VersionsUnavailable):
        answered(asked, [A])


def test_an_id_the_owner_does_not_hold_is_forwarded_as_version_0() -> None:
    """The owner answered for the entity and left the id out: it does not know it, and says so
    (version 0), so the service answers from its replica at once instead of waiting."""
    asked = {"account": [A, B], "contact": [C]}
    assert answered(asked, {"account": {A: 3}, "contact": {}}) == {
        "account": {A: 3, B: consistency.UNKNOWN_VERSION},
        "contact": {C: 0},
    }
    assert answered(asked, {"account": {A: 3}}) == {"account": {A: 3, B: 0}}  # contact: unsaid
    assert format_seen({"account": {B: 0}}) == f"account={B}:0"
    assert parse_seen(f"account={B}:0,contact={C}:0") == {
        ("account", uuid.UUID(B)): 0,
        ("contact", uuid.UUID(C)): 0,
    }


class FakeUpstream:
    """The gateway's client of the services, answering as told."""

    def __init__(self, status: int = 200, payload: bytes = b"{}", fails: bool = False) -> None:
        self.status, self.payload, self.fails = status, payload, fails
        self.calls: list[tuple[str, str, Any, float | None]] = []

    async def call_raw(
        self,
        method: str,
        base_url: str,
        path: str,
        identity: Identity,
        service: str,
        *,
        params: dict[str, str] | None = None,
        body: object = None,
        limit_seconds: float | None = None,
    ) -> tuple[int, bytes, dict[str, str]]:
        self.calls.append((method, base_url + path, body, limit_seconds))
        if self.fails:
            raise ServiceUnavailable("Le service accounts est momentanément indisponible.")
        return self.status, self.payload, {}


async def test_an_owner_is_asked_once_within_a_limit() -> None:
    upstream = FakeUpstream(payload=orjson.dumps({"account": {A: 4}}))
    versions = await ask_versions(upstream, "http://a", "accounts", ADMIN, {"account": [A]}, 1.5)
    assert versions == {"account": {A: 4}}
    assert upstream.calls == [("POST", "http://a/internal/versions", {"account": [A]}, 1.5)]


@pytest.mark.parametrize(
    "upstream",
    [FakeUpstream(fails=True), FakeUpstream(status=503), FakeUpstream(payload=b"<html>")],
)
async def test_an_owner_that_cannot_answer_is_unavailable(upstream: FakeUpstream) -> None:
    with pytest.raises(VersionsUnavailable):
        await ask_versions(upstream, "http://a", "accounts", ADMIN, {"account": [A]}, 1.0)


async def test_owners_that_do_not_answer_are_left_out_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    asked: list[str] = []

    async def ask(service: str, entities: Mapping[str, list[str]]) -> consistency.Versions:
        asked.append(service)
        if service == "documents":
            raise VersionsUnavailable("answered 503")
        return {entity: dict.fromkeys(ids, 2) for entity, ids in entities.items()}

    wanted = {"accounts": {"account": [A]}, "documents": {"quote": [B]}}
    with caplog.at_level(logging.WARNING):
        assert await seen_versions(wanted, ask) == {"account": {A: 2}}
    assert sorted(asked) == ["accounts", "documents"]
    assert "versions of documents not known" in caplog.text

    async def broken(service: str, entities: Mapping[str, list[str]]) -> consistency.Versions:
        raise RuntimeError("a bug, not an unavailable owner")

    with pytest.raises(RuntimeError):
        await seen_versions(wanted, broken)


# -- the two ends, over HTTP -----------------------------------------------------------------


def no_address(service: str) -> str:
    raise AttributeError(f"no {service}_url")


def gateway_app(
    upstream: FakeUpstream, base_url: Callable[[str], str] = lambda s: f"http://{s}"
) -> web.Application:
    """An identity as the authentication leaves it, the middleware, and a handler that shows
    what the forwarding would send (the seen versions and the body, still readable)."""

    @web.middleware
    async def signed_in(request: web.Request, handler: consistency.Handler) -> web.StreamResponse:
        request[IDENTITY_KEY] = ADMIN
        return await handler(request)

    async def forward(request: web.Request) -> web.Response:
        body = await request.read() if request.body_exists else b""
        return web.json_response({"seen": request.get(SEEN_KEY), "body": body.decode()})

    app = web.Application(
        middlewares=[
            signed_in,
            read_your_writes(StandIn, lambda: upstream, base_url),
        ]
    )
    app.router.add_route("*", "/api/v1/{tail:.*}", forward)
    return app


async def test_the_gateway_adds_the_versions_to_a_write_and_keeps_its_body() -> None:
    upstream = FakeUpstream(payload=orjson.dumps({"account": {A: 3}, "contact": {B: 5}}))
    async with TestClient(TestServer(gateway_app(upstream))) as client:
        body = {"subject": "Rappel", "account_id": A, "contact_id": B}
        response = await client.post("/api/v1/actions", json=body)
        shown = await response.json()
        assert shown["seen"] == f"account={A}:3,contact={B}:5"
        assert orjson.loads(shown["body"]) == body
        assert [call[1] for call in upstream.calls] == ["http://accounts/internal/versions"]

        response = await client.patch(
            f"/api/v1/actions/{C}",
            data=orjson.dumps({"account_id": A}),
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert (await response.json())["seen"] == f"account={A}:3"
        assert len(upstream.calls) == 2

        response = await client.post(f"/api/v1/accounts/{A}/mail-merge", json={"template_id": C})
        assert (await response.json())["seen"] == f"account={A}:3"
        assert upstream.calls[-1][2] == {"account": [A]}


async def test_the_gateway_forwards_version_0_for_an_id_the_owner_does_not_hold() -> None:
    upstream = FakeUpstream(payload=orjson.dumps({"account": {}, "contact": {B: 5}}))
    async with TestClient(TestServer(gateway_app(upstream))) as client:
        response = await client.post("/api/v1/actions", json={"account_id": A, "contact_id": B})
        assert (await response.json())["seen"] == f"account={A}:0,contact={B}:5"


async def test_the_service_keeps_version_0_without_waiting_for_it() -> None:
    """No database here: version 0 is kept as said; the wait is in the e2e tests."""

    async def handler(_request: web.Request) -> web.Response:
        return web.json_response({"account": replica.seen_version("account", uuid.UUID(A))})

    app = web.Application(middlewares=[replica.seen_versions])
    app.router.add_post("/api/v1/actions", handler)
    async with TestClient(TestServer(app)) as client:
        response = await client.post("/api/v1/actions", headers={SEEN_HEADER: f"account={A}:0"})
        assert await response.json() == {"account": 0}


async def test_the_gateway_asks_nothing_for_other_calls() -> None:
    upstream = FakeUpstream(payload=orjson.dumps({"account": {A: 3}}))
    async with TestClient(TestServer(gateway_app(upstream))) as client:
        calls: list[tuple[str, str, dict[str, Any]]] = [
            ("GET", "/api/v1/actions", {}),
            ("POST", f"/api/v1/actions/{C}/restore", {"json": {"account_id": A}}),
            ("POST", "/api/v1/actions", {"data": b"{not json", "headers": {"Content-Type": "application/json"}}),
            ("POST", "/api/v1/actions", {"data": f"account_id={A}".encode(), "headers": {"Content-Type": "application/x-www-form-urlencoded"}}),
            ("POST", "/api/v1/accounts", {"json": {"name": "Sans référence"}}),
        ]  # fmt: skip
        for method, path, kwargs in calls:
            response = await client.request(method, path, **kwargs)
            assert (await response.json())["seen"] is None, (method, path)
        assert upstream.calls == []


@pytest.mark.parametrize(
    "app",
    [gateway_app(FakeUpstream(fails=True)), gateway_app(FakeUpstream(), base_url=no_address)],
)
async def test_the_gateway_forwards_without_versions_when_the_owner_cannot_answer(
    app: web.Application,
) -> None:
    async with TestClient(TestServer(app)) as client:
        response = await client.post("/api/v1/actions", json={"account_id": A})
        assert response.status == 200
        assert (await response.json())["seen"] is None


async def test_the_service_keeps_the_versions_for_the_request_only() -> None:
    async def handler(_request: web.Request) -> web.Response:
        return web.json_response(
            {
                "account": replica.seen_version("account", uuid.UUID(A)),
                "contact": replica.seen_version("contact", uuid.UUID(A)),
            }
        )

    app = web.Application(middlewares=[replica.seen_versions])
    app.router.add_post("/api/v1/actions", handler)
    async with TestClient(TestServer(app)) as client:
        response = await client.post("/api/v1/actions", headers={SEEN_HEADER: f"account={A}:4"})
        assert await response.json() == {"account": 4, "contact": None}
        response = await client.post("/api/v1/actions")
        assert await response.json() == {"account": None, "contact": None}
    assert replica.seen_version("account", uuid.UUID(A)) is None

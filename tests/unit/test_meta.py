"""What a service says about itself (services.common.meta, services.common.openapi) and what the
gateway's registry makes of it, without I/O."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web

from services.common.entities import Entity, Field, Filter
from services.common.meta import ServiceMeta, pattern_regex, public_routes, version_of
from services.common.openapi import (
    FragmentConflict,
    Op,
    crud_operations,
    entity_record,
    fragment,
    merge,
)
from services.gateway.registry import MetaUnavailable, Registry
from services.gateway.web import audited_collections, picklist_owner

BOAT = Entity(
    name="boat",
    collection="boats",
    label="Bateau",
    plural="Bateaux",
    fields=(
        Field("name", "Nom", required=True),
        Field("hull", "Coque", "list", picklist="hull_kind"),
        Field("length", "Longueur", "money"),
        Field("registered_at", "Immatriculé le", "datetime", read_only=True),
    ),
    filters=(Filter("hull", "Coque", "list", picklist="hull_kind"),),
    search="Nom du bateau",
)


async def _answer(_request: web.Request) -> web.Response:
    return web.json_response({})


def test_a_pattern_matches_one_segment_per_parameter_or_its_own_expression() -> None:
    assert pattern_regex("/api/v1/boats/{id}").fullmatch("/api/v1/boats/42")
    assert not pattern_regex("/api/v1/boats/{id}").fullmatch("/api/v1/boats/42/sail")
    send = pattern_regex("/api/v1/quotes/{id}/{action:send|accept}")
    assert send.fullmatch("/api/v1/quotes/7/accept")
    assert not send.fullmatch("/api/v1/quotes/7/refuse")
    assert not pattern_regex("/api/v1/a.b").fullmatch("/api/v1/aXb")  # literals are literal


def test_the_conventional_operations_come_from_the_declaration() -> None:
    ops = crud_operations(BOAT, entity_record(BOAT))
    assert [(op.method, op.path) for op in ops] == [
        ("post", "/api/v1/boats"),
        ("get", "/api/v1/boats"),
        ("get", "/api/v1/boats/{id}"),
        ("patch", "/api/v1/boats/{id}"),
        ("delete", "/api/v1/boats/{id}"),
        ("post", "/api/v1/boats/{id}/restore"),
        ("get", "/api/v1/boats/{id}/audit"),
        ("get", "/api/v1/boats/{id}/audit/verify"),
    ]
    assert ops[1].query == ("limit", "cursor", "sort", "total", "q", "hull")
    assert {op.tag for op in ops} == {"Bateaux"}
    document = fragment(ops)
    record = document["components"]["schemas"]["Boat"]["properties"]
    assert record["length"]["anyOf"][0] == {"type": "string"}  # money is read as a string
    assert "registered_at" in record
    read = document["paths"]["/api/v1/boats/{id}"]["get"]["responses"]["200"]
    assert "ETag" in read["headers"]
    create = document["paths"]["/api/v1/boats"]["post"]
    assert [p["name"] for p in create["parameters"]] == ["Idempotency-Key"]
    body = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body == "#/components/schemas/BoatFields"


def test_fragments_merge_unless_they_describe_something_two_ways() -> None:
    ops = crud_operations(BOAT, entity_record(BOAT))
    one, again = fragment(ops), fragment(ops)
    assert merge([one, again]) == merge([one])  # described alike twice: fine
    other = fragment([Op("get", "/api/v1/boats", "Autre chose", "Bateaux")])
    with pytest.raises(FragmentConflict, match="GET /api/v1/boats"):
        merge([one, other])


def _service_app(with_sail: bool) -> tuple[web.Application, list[Op]]:
    app = web.Application()
    app.router.add_route("*", "/api/v1/{collection:boats|ships}", _answer)
    app.router.add_route("*", "/api/v1/{collection:boats|ships}/{id}", _answer)
    app.router.add_get("/api/v1/views/accounts/{id}", _answer)  # composed by the gateway
    app.router.add_put("/api/v1/calls/{call_id}/action", _answer)  # an internal call
    app.router.add_get("/internal/versions", _answer)
    ops = crud_operations(BOAT, entity_record(BOAT))
    ops.append(Op("get", "/api/v1/views/accounts/{id}", "Vue", "Bateaux"))
    if with_sail:
        app.router.add_post("/api/v1/boats/{id}/sail", _answer)
        ops.append(Op("post", "/api/v1/boats/{id}/sail", "Hisser les voiles", "Bateaux"))
    return app, ops


def test_the_public_routes_are_the_documented_paths_the_router_serves() -> None:
    app, ops = _service_app(with_sail=True)
    assert public_routes(app, ops) == [
        "/api/v1/boats",
        "/api/v1/boats/{id}",
        "/api/v1/boats/{id}/sail",
    ]  # not restore nor audit (not served here), nor the view, nor internal calls


def test_the_version_changes_exactly_when_the_meta_does() -> None:
    app, ops = _service_app(with_sail=False)
    first = ServiceMeta("boats", [BOAT], lambda: ops, lambda: {}).document(app)
    again = ServiceMeta("boats", [BOAT], lambda: ops, lambda: {}).document(app)
    assert first["version"] == again["version"] == version_of(first)
    assert first["entities"] == [BOAT.public("boats")]
    sailing, sail_ops = _service_app(with_sail=True)
    changed = ServiceMeta("boats", [BOAT], lambda: sail_ops, lambda: {}).document(sailing)
    assert changed["version"] != first["version"]


def _meta(service: str, routes: list[str], entities: list[dict[str, Any]]) -> dict[str, Any]:
    document = {
        "service": service,
        "entities": entities,
        "routes": routes,
        "openapi": {"paths": {}, "components": {"schemas": {}}},
        "events": {f"crm.{service}.created.v1": {"title": service}},
    }
    return {**document, "version": version_of(document)}


def test_the_registry_routes_by_path_and_knows_the_owners_of_picklists_and_trails() -> None:
    metas = {
        "accounts": _meta("accounts", ["/api/v1/picklists/{name}"], []),
        "activities": _meta(
            "activities",
            ["/api/v1/boats", "/api/v1/boats/{id}", "/api/v1/picklists/{name}"],
            [BOAT.public("activities")],
        ),
    }

    async def fetch(service: str) -> dict[str, Any]:
        if service not in metas:
            raise MetaUnavailable("not up")
        return metas[service]

    registry = Registry(fetch, services=("accounts", "activities"))
    asyncio.run(registry.load_all())
    assert registry.loaded.is_set()
    assert registry.service_of_path("/api/v1/boats/9") == "activities"
    assert registry.service_of_path("/api/v1/boats/9/sail") is None
    assert registry.entity("boats") == {**BOAT.public("activities"), "service": "activities"}
    assert picklist_owner(registry, "hull_kind") == "activities"  # a list of its entities
    assert picklist_owner(registry, "industry") == "accounts"  # any other
    assert audited_collections(registry) == {"boats": "boat"}
    assert set(registry.events()) == {"crm.accounts.created.v1", "crm.activities.created.v1"}
    version = registry.version
    assert not registry.learn(metas["activities"])  # the same version: nothing new
    assert registry.version == version

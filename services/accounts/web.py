"""HTTP routes of the accounts service: parse, call the use case, answer."""

from __future__ import annotations

from typing import Any

import asyncpg
from aiohttp import web

from services.common.idempotency import Answer, Keyed, json_answer, respond
from services.common.records import etag
from services.common.runtime import POOL_KEY, SOURCE_KEY
from services.common.views import account_view_handler
from services.common.web import identity_of, json_response, read_body, read_json

from . import picklists, service
from .schemas import PicklistValueCreate, PicklistValueUpdate

routes = web.RouteTableDef()
# The list view's pool: its plans are made with each query's values (see app.py).
LIST_POOL_KEY = web.AppKey("list_pool", asyncpg.Pool)


def _answer(record: dict[str, Any], status: int = 200, collection: str = "accounts") -> Answer:
    headers = {"ETag": etag(record["version"])}
    if status == 201:
        headers["Location"] = f"/api/v1/{collection}/{record['id']}"
    return json_answer(record, status, headers)


def _one(record: dict[str, Any], status: int = 200, collection: str = "accounts") -> web.Response:
    return _answer(record, status, collection).response()


def _created(record: dict[str, Any]) -> Answer:
    return _answer(record, 201)


# Accounts


@routes.post("/api/v1/accounts")
async def create_account(request: web.Request) -> web.Response:
    data = await read_json(request)
    pool, source, identity = request.app[POOL_KEY], request.app[SOURCE_KEY], identity_of(request)

    async def run(keyed: Keyed | None) -> dict[str, Any]:
        return await service.create_account(pool, source, identity, data, keyed=keyed)

    return await respond(request, pool, run, _created)


@routes.get("/api/v1/accounts")
async def list_accounts(request: web.Request) -> web.Response:
    return json_response(await service.list_accounts(request.app[LIST_POOL_KEY], request.query))


@routes.get("/api/v1/accounts/{id}")
async def get_account(request: web.Request) -> web.Response:
    return _one(await service.get_account(request.app[POOL_KEY], request.match_info["id"]))


@routes.patch("/api/v1/accounts/{id}")
async def update_account(request: web.Request) -> web.Response:
    patch = await read_json(request)
    record = await service.update_account(
        request.app[POOL_KEY],
        request.app[SOURCE_KEY],
        identity_of(request),
        request.match_info["id"],
        patch,
        request.headers.get("If-Match"),
    )
    return _one(record)


@routes.delete("/api/v1/accounts/{id}")
async def trash_account(request: web.Request) -> web.Response:
    await service.trash_account(
        request.app[POOL_KEY],
        request.app[SOURCE_KEY],
        identity_of(request),
        request.match_info["id"],
        request.headers.get("If-Match"),
    )
    return web.Response(status=204)


@routes.post("/api/v1/accounts/{id}/restore")
async def restore_account(request: web.Request) -> web.Response:
    record = await service.restore_account(
        request.app[POOL_KEY],
        request.app[SOURCE_KEY],
        identity_of(request),
        request.match_info["id"],
    )
    return _one(record)


@routes.post("/api/v1/accounts/{id}/duplicate")
async def duplicate_account(request: web.Request) -> web.Response:
    pool, source, identity = request.app[POOL_KEY], request.app[SOURCE_KEY], identity_of(request)

    async def run(keyed: Keyed | None) -> dict[str, Any]:
        return await service.duplicate_account(
            pool, source, identity, request.match_info["id"], keyed=keyed
        )

    return await respond(request, pool, run, _created)


@routes.get("/api/v1/accounts/{id}/map")
async def account_map(request: web.Request) -> web.Response:
    return json_response(await service.account_map(request.app[POOL_KEY], request.match_info["id"]))


# Contacts


# Picklists


@routes.get("/api/v1/picklists/{name}")
async def get_picklist(request: web.Request) -> web.Response:
    return json_response(
        await picklists.get_picklist(request.app[POOL_KEY], request.match_info["name"])
    )


@routes.post("/api/v1/picklists/{name}")
async def add_picklist_value(request: web.Request) -> web.Response:
    picklists.admin_only(identity_of(request))  # refused before the body is even read
    body = await read_body(request, PicklistValueCreate)
    value = await picklists.add_value(
        request.app[POOL_KEY],
        request.app[SOURCE_KEY],
        identity_of(request),
        request.match_info["name"],
        body,
    )
    return json_response(value, status=201)


@routes.patch("/api/v1/picklists/{name}/{code}")
async def change_picklist_value(request: web.Request) -> web.Response:
    picklists.admin_only(identity_of(request))
    body = await read_body(request, PicklistValueUpdate)
    value = await picklists.change_value(
        request.app[POOL_KEY],
        request.app[SOURCE_KEY],
        identity_of(request),
        request.match_info["name"],
        request.match_info["code"],
        body,
    )
    return json_response(value)


# The accounts service's part of the gateway's 360° view (internal)
routes.get("/api/v1/views/accounts/{id}")(account_view_handler(service.account_view))

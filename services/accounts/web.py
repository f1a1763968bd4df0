"""HTTP routes of the accounts service: parse, call the use case, answer."""

from __future__ import annotations

import asyncpg
from aiohttp import web

from services.common import crud
from services.common.runtime import POOL_KEY, SOURCE_KEY
from services.common.views import account_view_handler
from services.common.web import identity_of, json_response, read_body

from . import picklists, service
from .schemas import PicklistValueCreate, PicklistValueUpdate

routes = web.RouteTableDef()
# The list view's pool: its plans are made with each query's values (see app.py).
LIST_POOL_KEY = web.AppKey("list_pool", asyncpg.Pool)


# Accounts: the record kernel's routes (create, list on the list view's pool, read, merge
# patch, trash, restore, duplicate), then the map.
for _route in crud.record_routes({"accounts": service.ACCOUNTS}, list_pool=LIST_POOL_KEY):
    routes.route(_route.method, _route.path, **_route.kwargs)(_route.handler)


@routes.get("/api/v1/accounts/{id}/map")
async def account_map(request: web.Request) -> web.Response:
    return json_response(await service.account_map(request.app[POOL_KEY], request.match_info["id"]))


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

"""HTTP routes of the activities service: the same routes for each of its three collections."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from services.common import crud
from services.common.errors import NotFound
from services.common.records import etag
from services.common.runtime import POOL_KEY
from services.common.views import account_view_handler
from services.common.web import identity_of, json_response, read_body, read_json

from . import domain, service
from .schemas import CallRecord

SOURCE_KEY = web.AppKey("event_source", str)
routes = web.RouteTableDef()


def _spec(request: web.Request) -> crud.RecordSpec:
    return service.SPECS[request.match_info["collection"]]


def _one(request: web.Request, record: dict[str, Any], status: int = 200) -> web.Response:
    headers = {"ETag": etag(record["version"])}
    if status == 201:
        headers["Location"] = f"/api/v1/{request.match_info['collection']}/{record['id']}"
    return json_response(record, status=status, headers=headers)


COLLECTION = "/api/v1/{collection:actions|opportunities|projects}"


@routes.post(COLLECTION)
async def create(request: web.Request) -> web.Response:
    record = await crud.create(
        request.app[POOL_KEY], _spec(request), request.app[SOURCE_KEY], identity_of(request),
        await read_json(request),
    )  # fmt: skip
    return _one(request, record, 201)


@routes.get(COLLECTION)
async def list_records(request: web.Request) -> web.Response:
    return json_response(
        await crud.list_records(request.app[POOL_KEY], _spec(request), request.query)
    )


@routes.get(COLLECTION + "/{id}")
async def get(request: web.Request) -> web.Response:
    return _one(
        request, await crud.get(request.app[POOL_KEY], _spec(request), request.match_info["id"])
    )


@routes.patch(COLLECTION + "/{id}")
async def update(request: web.Request) -> web.Response:
    record = await crud.update(
        request.app[POOL_KEY], _spec(request), request.app[SOURCE_KEY], identity_of(request),
        request.match_info["id"], await read_json(request), request.headers.get("If-Match"),
    )  # fmt: skip
    return _one(request, record)


@routes.delete(COLLECTION + "/{id}")
async def trash(request: web.Request) -> web.Response:
    await crud.trash(
        request.app[POOL_KEY], _spec(request), request.app[SOURCE_KEY], identity_of(request),
        request.match_info["id"], request.headers.get("If-Match"),
    )  # fmt: skip
    return web.Response(status=204)


@routes.post(COLLECTION + "/{id}/restore")
async def restore(request: web.Request) -> web.Response:
    record = await crud.restore(
        request.app[POOL_KEY], _spec(request), request.app[SOURCE_KEY], identity_of(request),
        request.match_info["id"],
    )  # fmt: skip
    return _one(request, record)


@routes.get("/api/v1/picklists/{name}")
async def picklist(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in domain.PICKLISTS:
        raise NotFound("Cette liste de valeurs n'existe pas.")
    return json_response({"name": name, "values": domain.picklist(name)})


@routes.put("/api/v1/calls/{call_id}/action")
async def record_call(request: web.Request) -> web.Response:
    """Internal (the gateway's telephony callbacks): the action of a finished call, once."""
    call = await read_body(request, CallRecord)
    record, created = await service.record_call(
        request.app[POOL_KEY], request.app[SOURCE_KEY], identity_of(request),
        request.match_info["call_id"], call,
    )  # fmt: skip
    return json_response(
        record, status=201 if created else 200, headers={"ETag": etag(record["version"])}
    )


# The activities service's part of the gateway's 360° view (internal)
routes.get("/api/v1/views/accounts/{id}")(account_view_handler(service.account_view))

"""HTTP routes of the accounts service: parse, call the use case, answer."""

from __future__ import annotations

from aiohttp import web

from services.common.runtime import POOL_KEY
from services.common.web import identity_of, json_response, read_body

from . import service
from .schemas import AccountCreate

SOURCE_KEY = web.AppKey("event_source", str)
routes = web.RouteTableDef()


def _etag(record: dict[str, object]) -> dict[str, str]:
    return {"ETag": f'"{record["version"]}"'}


@routes.post("/api/v1/accounts")
async def create_account(request: web.Request) -> web.Response:
    body = await read_body(request, AccountCreate)
    record = await service.create_account(
        request.app[POOL_KEY], request.app[SOURCE_KEY], identity_of(request), body
    )
    headers = {**_etag(record), "Location": f"/api/v1/accounts/{record['id']}"}
    return json_response(record, status=201, headers=headers)


@routes.get("/api/v1/accounts")
async def list_accounts(request: web.Request) -> web.Response:
    return json_response(await service.list_accounts(request.app[POOL_KEY], request.query))


@routes.get("/api/v1/accounts/{id}")
async def get_account(request: web.Request) -> web.Response:
    record = await service.get_account(request.app[POOL_KEY], request.match_info["id"])
    return json_response(record, headers=_etag(record))

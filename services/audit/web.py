from __future__ import annotations

from dataclasses import asdict

from aiohttp import web

from services.common.runtime import POOL_KEY
from services.common.web import json_response

from . import service

routes = web.RouteTableDef()


@routes.get("/api/v1/audit/{entity}/{record_id}")
async def get_trail(request: web.Request) -> web.Response:
    entity, record_id = request.match_info["entity"], request.match_info["record_id"]
    return json_response(await service.trail(request.app[POOL_KEY], entity, record_id))


@routes.get("/api/v1/audit/{entity}/{record_id}/verify")
async def verify_trail(request: web.Request) -> web.Response:
    entity, record_id = request.match_info["entity"], request.match_info["record_id"]
    check = await service.verify(request.app[POOL_KEY], entity, record_id)
    return json_response(asdict(check))

"""HTTP routes of the activities service: the same routes for each of its three collections."""

from __future__ import annotations

from aiohttp import web

from services.common.errors import NotFound
from services.common.records import etag
from services.common.runtime import POOL_KEY, SOURCE_KEY
from services.common.views import account_view_handler
from services.common.web import identity_of, json_response, read_body

from . import domain, service
from .schemas import CallRecord

routes = web.RouteTableDef()


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

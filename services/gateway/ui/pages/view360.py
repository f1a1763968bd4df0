"""The 360° view of an account: its tabs (Contacts, Actions, Affaires, Projets, Devis,
Factures...) learnt from the declarations of the entities that have one.

The record page of an account includes ``partials/tabs360.html`` with the view's JSON
(``GET /api/v1/accounts/{id}/view``); the view is also served alone at
``/crm/{collection}/{id}/vue360`` (bookmarkable, and what htmx reloads). ``picklist_labels``
gives the labels of the picklist codes the tabs show."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from ..client import api
from ..lookups import picklist
from ..render import crm_entities, page
from .tools import _entity, _record_id, _served, available, title_of

routes = web.RouteTableDef()


async def picklist_labels(request: web.Request) -> dict[str, dict[str, str]]:
    """{picklist: {code: label}} of every picklist a 360° tab's columns show."""
    names = sorted(
        {
            str(field["picklist"])
            for entity in crm_entities(request)
            if entity.get("tab")
            for field in entity["fields"]
            if field.get("listed") and field.get("kind") == "list" and field.get("picklist")
        }
    )
    found = await asyncio.gather(*(picklist(request, name) for name in names))
    return {
        name: {str(v.get("code")): str(v.get("label") or v.get("code")) for v in values}
        for name, values in zip(names, found, strict=True)
    }


@routes.get("/crm/{collection}/{id}/vue360")
async def view360(request: web.Request) -> web.Response:
    entity, record_id = _entity(request), _record_id(request)
    path = f"/api/v1/{entity['collection']}/{record_id}/view"
    if not _served(request, "GET", path):
        raise web.HTTPNotFound(text="Cette fiche n'a pas de vue 360°.")
    view, labels = await asyncio.gather(api(request).get(path), picklist_labels(request))
    account: dict[str, Any] = view["account"]
    template = "partials/tabs360.html" if request.headers.get("HX-Request") else None
    values = {
        "view": view,
        "picklists": labels,
        "tools": available(request, entity, account),
        "entity": entity,
        "record": account,
        "record_title": title_of(entity, account),
        "record_href": f"/crm/{entity['collection']}/{account['id']}",
    }
    return page(request, template or "tools/view360.html", **values)

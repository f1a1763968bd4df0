"""What pages look up beside a record: a picklist's values, the titles of connected records.

Both through the API, as the signed-in user."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from ..registry import REGISTRY_KEY
from .client import api


async def picklist(request: web.Request, name: str) -> list[dict[str, Any]]:
    """Every value of picklist ``name``, deactivated ones included (each has "active"): a form
    shows a deactivated value on the records that hold it, and offers only the active ones."""
    answer = await api(request).call("GET", f"/api/v1/picklists/{name}")
    if not answer.ok:
        return []
    data = answer.json()
    values = data.get("values", []) if isinstance(data, dict) else []
    return [value for value in values if isinstance(value, dict)]


def entity_named(request: web.Request, name: str) -> dict[str, Any] | None:
    registry = request.app.get(REGISTRY_KEY)
    return registry.entity_named(name) if registry is not None else None


async def titles(request: web.Request, target: str, ids: Iterable[str]) -> dict[str, str]:
    """The title of each record of entity ``target`` named by ``ids`` (those it can read):
    one read per id, at once."""
    entity = entity_named(request, target)
    wanted = sorted({i for i in ids if i})
    if entity is None or not wanted:
        return {}
    client = api(request)

    async def one(record_id: str) -> tuple[str, str | None]:
        answer = await client.call("GET", f"/api/v1/{entity['collection']}/{record_id}")
        if not answer.ok:
            return record_id, None
        record = answer.json()
        return record_id, str(record.get(entity["title_field"]) or record_id)

    found = await asyncio.gather(*(one(record_id) for record_id in wanted))
    return {record_id: title for record_id, title in found if title is not None}

"""What pages look up beside a record: a picklist's values, the titles of connected records,
who a username is (the users' directory).

All through the API, as the signed-in user. What is the same for every user (picklists, the
directory) is kept by ``lookups`` until the next write."""

from __future__ import annotations

import asyncio
import time
import uuid
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from aiohttp import web

from ..registry import REGISTRY_KEY
from ..web import VIEW_CACHE_KEY
from .client import api

LOOKUP_SECONDS = 30.0  # at most this stale after a write made through another gateway


class Lookups:
    """Picklists and the users' directory as the pages last read them, kept while nothing was
    written: every successful write through this gateway (and every change the view cache hears
    of) bumps the view cache's generation, which ends them; a change made through another
    gateway is seen within LOOKUP_SECONDS. They are the same for every user who may read them."""

    def __init__(self) -> None:
        self._kept: dict[str, tuple[int, float, Any]] = {}

    async def get(self, request: web.Request, key: str, fetch: Callable[[], Awaitable[Any]]) -> Any:
        cache = request.app.get(VIEW_CACHE_KEY)
        if cache is None:
            return await fetch()
        generation, now = cache.generation, time.monotonic()
        kept = self._kept.get(key)
        if kept is not None and kept[0] == generation and now - kept[1] < LOOKUP_SECONDS:
            return kept[2]
        value = await fetch()
        # Kept if nothing changed while it was read, and only if it was read (None: failed).
        if value is not None and cache.generation == generation:
            self._kept[key] = (generation, now, value)
        return value


_LOOKUPS: weakref.WeakKeyDictionary[web.Application, Lookups] = weakref.WeakKeyDictionary()


def lookups(request: web.Request) -> Lookups:
    kept = _LOOKUPS.get(request.app)
    if kept is None:
        kept = _LOOKUPS[request.app] = Lookups()
    return kept


async def directory(request: web.Request) -> list[dict[str, Any]]:
    """Every user (username, display_name, active), sorted by display name, kept by
    ``lookups``; empty when it cannot be read (the pages then show usernames)."""

    async def fetch() -> list[dict[str, Any]] | None:
        answer = await api(request).call("GET", "/api/v1/users/directory")
        if not answer.ok:
            return None
        items = answer.json().get("items", [])
        return [i for i in items if isinstance(i, dict) and i.get("username")]

    found: list[dict[str, Any]] | None = await lookups(request).get(request, "directory", fetch)
    return found or []


def user_label(entry: Mapping[str, Any]) -> str:
    """A user as pages name them: the display name, else the username."""
    return str(entry.get("display_name") or "").strip() or str(entry["username"])


async def person(request: web.Request, username: object) -> str:
    """The name pages show for the user ``username`` (their display name, else the username)."""
    return (await user_names(request)).get(str(username), str(username or ""))


async def user_names(request: web.Request) -> dict[str, str]:
    """username → the name pages show (the display name, else the username)."""
    return {str(entry["username"]): user_label(entry) for entry in await directory(request)}


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


def _is_id(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


async def titles(request: web.Request, target: str, ids: Iterable[str]) -> dict[str, str]:
    """The title of each record of entity ``target`` named by ``ids`` (those it can read):
    one read per id, at once. Only ids are read: any other text (a filter's value from the
    address) never becomes part of an API path."""
    entity = entity_named(request, target)
    wanted = sorted({i for i in ids if i and _is_id(i)})
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

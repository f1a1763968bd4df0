"""The tools menu of a record (being written)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

routes = web.RouteTableDef()


def available(
    request: web.Request, entity: dict[str, Any], record: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """The tools of this record's menu: each {"name", "label", "href", "method", "enabled",
    "reason"} (being written)."""
    return []

"""Quotes and invoices: the lines editor and their workflow (being written)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

routes = web.RouteTableDef()

# Read-only fields the lines editor shows itself (with totals that follow the input).
SHOWN_BY_LINES: tuple[str, ...] = ()


def lines_from_form(form: MultiDictProxy[Any]) -> list[dict[str, Any]]:
    """The ``lines`` of a quote or an invoice from the posted form (being written)."""
    return []

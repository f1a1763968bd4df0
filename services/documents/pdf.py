"""PDFs from our own Jinja2 layouts, rendered by WeasyPrint, with French formats."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import weasyprint
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from .domain import french_date, money, percent

LAYOUTS = Path(__file__).with_name("layouts")


def _number(value: Any) -> str:
    number = Decimal(str(value)).normalize()
    return f"{number:f}".replace(".", ",")


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(LAYOUTS),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        auto_reload=False,
    )
    env.filters.update({"money": money, "date": french_date, "percent": percent, "number": _number})
    return env


ENVIRONMENT = _environment()


def render_html(layout: str, context: dict[str, Any]) -> str:
    return ENVIRONMENT.get_template(layout).render(**context)


def _pdf(html: str) -> bytes:
    return weasyprint.HTML(string=html, base_url=str(LAYOUTS)).write_pdf()  # type: ignore[no-any-return]


async def render_pdf(layout: str, context: dict[str, Any]) -> bytes:
    """Rendered off the event loop: laying out a page takes a few hundred milliseconds."""
    return await asyncio.to_thread(_pdf, render_html(layout, context))

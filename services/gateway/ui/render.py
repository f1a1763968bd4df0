"""Pages: the Jinja2 environment, French formats, and what every page knows (user, menus).

Templates are autoescaped (HTML in any value is shown as text) and undefined names fail loudly.
Formats are French: ``1 234,50 €``, ``29/11/2026``, ``29/11/2026 22:41`` (Europe/Paris),
``01 42 68 53 00``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from services.common.french import (
    NBSP,
    NNBSP,
    PARIS,
    date_fr,
    datetime_fr,
    datetime_input,
    money_fr,
    number_fr,
    percent_fr,
    phone_fr,
)

from ..registry import REGISTRY_KEY
from .session import CSRF_FIELD, WEB_SESSION_KEY

__all__ = [
    "CSP_KEY",
    "ENV_KEY",
    "NBSP",
    "NNBSP",
    "PARIS",
    "context",
    "crm_entities",
    "date_fr",
    "datetime_fr",
    "datetime_input",
    "environment",
    "money_fr",
    "number_fr",
    "page",
    "page_csp",
    "percent_fr",
    "phone_fr",
    "render",
]

HERE = Path(__file__).parent
ENV_KEY = web.AppKey("ui_templates", jinja2.Environment)
CSP_KEY = web.AppKey("ui_csp", str)


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # templates are read once: no look at the disk on every page
    )
    env.filters.update(
        money=money_fr,
        number=number_fr,
        date_fr=date_fr,
        datetime_fr=datetime_fr,
        datetime_input=datetime_input,
        phone=phone_fr,
        percent=percent_fr,
    )
    return env


def page_csp(tiles_origin: str | None) -> str:
    """A strict policy: scripts and styles from this site only, no inline script or style;
    images from this site and the map's tile server."""
    images = "'self' data:" + (f" {tiles_origin}" if tiles_origin else "")
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src {images}; connect-src 'self'; font-src 'self'; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


def new_label(entity: Mapping[str, Any]) -> str:
    """ "Nouveau compte", "Nouvelle affaire": from the declaration's gender."""
    return f"{'Nouvelle' if entity.get('feminine') else 'Nouveau'} {str(entity['label']).lower()}"


def crm_entities(request: web.Request) -> list[dict[str, Any]]:
    """The CRM menu: the account, then each entity with a 360° tab, in the tabs' order."""
    registry = request.app.get(REGISTRY_KEY)
    if registry is None:
        return []
    known = registry.entities()
    tabs = sorted((e for e in known if e.get("tab")), key=lambda e: e["tab"]["order"])
    accounts = [e for e in known if e["name"] == "account"]
    return accounts + tabs


def context(request: web.Request, values: Mapping[str, Any]) -> dict[str, Any]:
    session = request.get(WEB_SESSION_KEY)
    return {
        "request": request,
        "path": request.path,
        "session": session,
        "user": session.identity if session is not None else None,
        "csrf_field": CSRF_FIELD,
        "csrf_token": session.csrf_token if session is not None else "",
        "crm_menu": crm_entities(request) if session is not None else [],
        **values,
    }


def render(request: web.Request, template: str, **values: Any) -> str:
    env = request.app[ENV_KEY]
    return env.get_template(template).render(context(request, values))


def page(
    request: web.Request,
    template: str,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    **values: Any,
) -> web.Response:
    """An HTML page (or an htmx fragment) from a template, with the pages' CSP, never cached."""
    response = web.Response(
        text=render(request, template, **values),
        status=status,
        content_type="text/html",
        headers=headers,
    )
    response.headers["Content-Security-Policy"] = request.app[CSP_KEY]
    response.headers["Cache-Control"] = "no-store"
    response.headers["Vary"] = "HX-Request"
    return response

"""Pages: the Jinja2 environment, French formats, and what every page knows (user, menus).

Templates are autoescaped (HTML in any value is shown as text) and undefined names fail loudly.
Formats are French: ``1 234,50 €``, ``29/11/2026``, ``29/11/2026 22:41`` (Europe/Paris),
``01 42 68 53 00``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
import phonenumbers
from aiohttp import web

from ..registry import REGISTRY_KEY
from .session import CSRF_FIELD, WEB_SESSION_KEY

HERE = Path(__file__).parent
PARIS = ZoneInfo("Europe/Paris")
NBSP = "\u00a0"
NNBSP = "\u202f"  # the thin space French puts between thousands
ENV_KEY = web.AppKey("ui_templates", jinja2.Environment)
CSP_KEY = web.AppKey("ui_csp", str)


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def number_fr(value: Any, places: int | None = None) -> str:
    """1234567.5 → "1 234 567,5"; with ``places``, exactly that many decimals."""
    number = _decimal(value)
    if number is None:
        return "" if value is None else str(value)
    if places is not None:
        try:
            number = number.quantize(Decimal(1).scaleb(-places))
        except InvalidOperation:  # more digits than a decimal context holds: as typed
            return str(value)
    sign = "-" if number < 0 else ""
    text = f"{abs(number):f}"
    whole, _, decimals = text.partition(".")
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    out = sign + NNBSP.join(groups)
    return f"{out},{decimals}" if decimals else out


def money_fr(value: Any) -> str:
    """ "1234.5" → "1 234,50 €"."""
    if _decimal(value) is None:
        return "" if value is None else str(value)
    return f"{number_fr(value, 2)}{NBSP}€"


def date_fr(value: Any) -> str:
    """ "2026-11-29" (or a datetime) → "29/11/2026"."""
    if not value:
        return ""
    try:
        if isinstance(value, datetime):
            return value.astimezone(PARIS).strftime("%d/%m/%Y")
        if isinstance(value, date):
            return value.strftime("%d/%m/%Y")
        text = str(value)
        if len(text) > 10:
            return datetime.fromisoformat(text).astimezone(PARIS).strftime("%d/%m/%Y")
        return date.fromisoformat(text).strftime("%d/%m/%Y")
    except ValueError:
        return str(value)


def _paris_time(value: Any, layout: str) -> str:
    """An RFC 3339 time (or a datetime) in Paris time, laid out by ``layout``; as it is when it
    is not a time."""
    if not value:
        return ""
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return moment.astimezone(PARIS).strftime(layout)


def datetime_fr(value: Any) -> str:
    """An RFC 3339 time → "29/11/2026 22:41", in Paris time."""
    return _paris_time(value, "%d/%m/%Y %H:%M")


def datetime_input(value: Any) -> str:
    """An RFC 3339 time as a datetime-local input's value, in Paris time."""
    return _paris_time(value, "%Y-%m-%dT%H:%M")


def phone_fr(value: Any) -> str:
    """ "+33142685300" → "01 42 68 53 00" (international numbers in their own format)."""
    if not value:
        return ""
    try:
        number = phonenumbers.parse(str(value), "FR")
    except phonenumbers.NumberParseException:
        return str(value)
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if number.country_code == 33
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(number, style)


def percent_fr(value: Any) -> str:
    if value is None or value == "":
        return ""
    return f"{number_fr(value)}{NBSP}%"


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

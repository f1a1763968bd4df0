"""The tools menu of a record ("Outils") and the tools' pages: Dupliquer, Fusionner, Imprimer,
Audit Trail, Carte and ClickToCall.

Which tools a record has is learnt, not written per entity: from its declaration (``printing``,
``audited``) and from the routes the API serves for its collection (``/duplicate``,
``/mail-merge``, ``/map``, ``/call``). Every tool acts on the saved record, through the API as the
signed-in user: on a new record they are all disabled, with the reason shown.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import orjson
from aiohttp import web

from services.common.meta import pattern_regex

from ...registry import REGISTRY_KEY
from ...web import FORWARDED, SETTINGS_KEY, TELEPHONY_KEY
from ..client import Answer, ApiError, api
from ..lookups import picklist, user_names
from ..render import date_fr, datetime_fr, money_fr, number_fr, page, percent_fr, phone_fr
from ..session import require_writer, web_session

routes = web.RouteTableDef()

SAVE_FIRST = "Enregistrez la fiche avant d'utiliser les outils."
READONLY = "Votre rôle (lecture seule) ne le permet pas."
SAMPLE_ID = "00000000-0000-4000-8000-000000000000"
NO_ADDRESS = "Renseignez l'adresse du compte pour le placer sur la carte."
NO_TELEPHONY = "Aucun serveur de téléphonie n'est configuré."
APPROXIMATE = "Position approximative : centre de la ville (l'adresse exacte n'a pas été trouvée)."
PRECISIONS = {  # where the geocoder placed an address (services/accounts/geocoding.py)
    "address": "adresse",
    "street": "rue",
    "locality": "lieu-dit",
    "city": "ville",
    "region": "région",
}
CALL_STALE_SECONDS = 120  # no news of a call for this long: polling stops, and says so
ACTIONS = {
    "created": "Création",
    "updated": "Modification",
    "deleted": "Mise à la corbeille",
    "restored": "Restauration",
    "located": "Localisation de l'adresse",
}
ADDRESS_PARTS = {"street": "Rue", "postal_code": "Code postal", "city": "Ville", "country": "Pays"}
_own_routes: dict[tuple[int, str, str], bool] = {}


def _served(request: web.Request, method: str, path: str) -> bool:
    """Whether the API serves ``method path``: a service's route (as it described itself to
    the gateway) or one of the gateway's own."""
    registry = request.app.get(REGISTRY_KEY)
    if registry is not None and registry.service_of_path(path) is not None:
        return True
    key = (id(request.app), method, path)
    if key not in _own_routes:
        _own_routes[key] = any(
            route.method == method
            and route.resource is not None
            and route.resource.name != FORWARDED
            and pattern_regex(route.resource.canonical).fullmatch(path) is not None
            for route in request.app.router.routes()
        )
    return _own_routes[key]


def available(
    request: web.Request, entity: dict[str, Any], record: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """The tools of this record's menu, in the menu's order: each {"name", "label", "href",
    "method", "enabled", "reason"} (reason: why it is disabled, else "")."""
    collection = entity["collection"]
    sample = f"/api/v1/{collection}/{SAMPLE_ID}"
    session = web_session(request)
    writer = session.can_write
    base = f"/crm/{collection}/{record['id']}" if record else None
    found: list[tuple[str, str, str, str, bool]] = []  # name, label, path, method, needs write
    if writer and _served(request, "POST", f"{sample}/duplicate"):
        found.append(("duplicate", "Dupliquer", "dupliquer", "post", True))
    if _served(request, "POST", f"{sample}/mail-merge"):
        found.append(("merge", "Fusionner", "fusionner", "get", True))
    if entity.get("printing"):
        found.append(("print", "Imprimer", "imprimer", "get", False))
    if entity.get("audited"):
        found.append(("audit", "Audit Trail", "historique", "get", False))
    if _served(request, "GET", f"{sample}/map"):
        found.append(("map", "Carte", "carte", "get", False))
    if _served(request, "POST", f"{sample}/call"):  # no number of its own: the form offers
        direct = record is None or bool(record.get("phone"))  # its contacts' or one typed
        found.append(("call", "ClickToCall", "appeler", "post" if direct else "get", True))
    tools = []
    for name, label, path, method, needs_write in found:
        reason = "" if base else SAVE_FIRST
        if not reason and needs_write and not writer:
            reason = READONLY
        if not reason and name == "call" and not telephony_configured(request):
            reason = NO_TELEPHONY
        tools.append(
            {
                "name": name,
                "label": label,
                "href": f"{base}/{path}" if base else "",
                "method": method,
                "enabled": not reason,
                "reason": reason,
            }
        )
    return tools


def telephony_configured(request: web.Request) -> bool:
    """Whether the gateway has a telephony server to place calls through (else the API answers
    every call with a 503)."""
    link = request.app.get(TELEPHONY_KEY)
    if link is not None:
        return link.adapter is not None
    return request.app[SETTINGS_KEY].telephony is not None


# -- shared ---------------------------------------------------------------------------------


def _entity(request: web.Request, collection: str | None = None) -> dict[str, Any]:
    registry = request.app.get(REGISTRY_KEY)
    name = collection or request.match_info["collection"]
    entity = registry.entity(name) if registry is not None else None
    if entity is None or entity.get("service") == "gateway":
        raise web.HTTPNotFound(text="Cette adresse ne correspond à aucune page.")
    return entity


def _record_id(request: web.Request) -> str:
    raw = request.match_info["id"]
    try:
        return str(uuid.UUID(raw))
    except ValueError as exc:
        raise web.HTTPNotFound(text="Aucune fiche ne porte cet identifiant.") from exc


async def _record(request: web.Request, entity: dict[str, Any], record_id: str) -> dict[str, Any]:
    record: dict[str, Any] = await api(request).get(f"/api/v1/{entity['collection']}/{record_id}")
    return record


def title_of(entity: dict[str, Any], record: dict[str, Any]) -> str:
    title = record.get(entity.get("title_field") or "name")
    if entity["name"] == "contact":  # a person: first name too, when there is one
        title = " ".join(str(p) for p in (record.get("first_name"), title) if p)
    return str(title) if title else entity["label"]


def _tool(request: web.Request, entity: dict[str, Any], record: dict[str, Any], name: str) -> None:
    """404 for a tool this record does not have (an address typed by hand)."""
    if not any(t["name"] == name for t in available(request, entity, record)):
        raise web.HTTPNotFound(text="Cet outil n'existe pas pour cette fiche.")


def _context(entity: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    return {
        "entity": entity,
        "record": record,
        "record_title": title_of(entity, record),
        "record_href": f"/crm/{entity['collection']}/{record['id']}",
    }


def _download(answer: Answer, fallback: str, disposition: str | None = None) -> web.Response:
    """The API's file as it answered it (its type, its name), ``disposition`` if given."""
    given = answer.headers.get("Content-Disposition", f'attachment; filename="{fallback}"')
    if disposition is not None:
        given = re.sub(r"^\s*(inline|attachment)", disposition, given)
    return web.Response(
        body=answer.body,
        headers={
            "Content-Type": answer.headers.get("Content-Type", "application/octet-stream"),
            "Content-Disposition": given,
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def display(field: dict[str, Any] | None, value: Any, labels: dict[str, str] | None = None) -> str:
    """A value as a French reader reads it, by its field's kind (``labels``: the labels of the
    codes of a list field's picklist, or the names of the users an owner field names)."""
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    kind = field.get("kind") if field else None
    if isinstance(value, bool):
        return "Oui" if value else "Non"
    if kind == "money":
        return money_fr(value)
    if kind in ("number", "decimal"):
        return number_fr(value)
    if kind == "percent":
        return percent_fr(value)
    if kind == "date":
        return date_fr(value)
    if kind == "datetime":
        return datetime_fr(value)
    if kind == "phone":
        return phone_fr(value)
    if kind == "list" and field:
        fixed = {c["code"]: c["label"] for c in field.get("choices") or []}
        return str(fixed.get(value) or (labels or {}).get(str(value)) or value)
    if kind == "connection" and field and field.get("key") == "username":
        return str((labels or {}).get(str(value)) or value)
    if kind == "address" and isinstance(value, dict):
        town = " ".join(str(value[p]) for p in ("postal_code", "city") if value.get(p))
        parts = [value.get("street"), town, value.get("country")]
        return ", ".join(str(p) for p in parts if p) or "—"
    if kind == "location" and isinstance(value, dict) and "lat" in value:
        where = f"{number_fr(value['lat'])} ; {number_fr(value.get('lon'))}"
        precision = PRECISIONS.get(str(value.get("precision")))
        return f"{where} (précision : {precision})" if precision else where
    if kind == "lines" and isinstance(value, list):
        return "\n".join(_line(line) for line in value if isinstance(line, dict))
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return str(value)


def _joined(fields: dict[str, dict[str, Any]], changes: list[Any]) -> list[dict[str, Any]]:
    """The changes of an audit entry, those of the parts of a location ("location.lat",
    "location.precision"...) joined back into one change of the whole location."""
    joined: list[dict[str, Any]] = []
    locations: dict[str, dict[str, Any]] = {}
    for change in changes:
        if not isinstance(change, dict):
            continue
        base, _, part = str(change.get("field", "")).partition(".")
        if not part or (fields.get(base) or {}).get("kind") != "location":
            joined.append(change)
            continue
        if base not in locations:
            locations[base] = {"field": base, "old": {}, "new": {}}
            joined.append(locations[base])
        for side in ("old", "new"):
            if change.get(side) is not None:
                locations[base][side][part] = change[side]
    return joined


def part_label(fields: dict[str, dict[str, Any]], name: str) -> str:
    """The label of a part of a field ("address.city" → "Adresse › Ville")."""
    base, _, part = name.partition(".")
    field = fields.get(base)
    if field is None or not part:
        return name
    return f"{field['label']} › {ADDRESS_PARTS.get(part, part)}"


def _line(line: dict[str, Any]) -> str:
    return (
        f"{line.get('description') or ''} : {number_fr(line.get('quantity'))} × "
        f"{money_fr(line.get('unit_price'))}"
    )


# -- Dupliquer ------------------------------------------------------------------------------


@routes.post("/crm/{collection}/{id}/dupliquer")
async def duplicate(request: web.Request) -> web.Response:
    entity, record_id = _entity(request), _record_id(request)
    require_writer(request)
    path = f"/api/v1/{entity['collection']}/{record_id}/duplicate"
    answer = await api(request).call("POST", path)
    if not answer.ok:
        raise ApiError(answer)
    copy = answer.json()
    source = urlencode({"copie_de": str(record_id)})  # an id: the page reads its title itself
    raise web.HTTPSeeOther(f"/crm/{entity['collection']}/{copy['id']}?{source}")


# -- Fusionner ------------------------------------------------------------------------------


async def _templates(request: web.Request, entity: dict[str, Any]) -> list[dict[str, Any]]:
    """The Word templates that merge this kind of record, by name."""
    page_of: dict[str, Any] = await api(request).get("/api/v1/templates", {"limit": "200"})
    items = [t for t in page_of.get("items", []) if t.get("kind") in (None, entity["name"])]
    return sorted(items, key=lambda t: str(t.get("name", "")).lower())


async def _merge_page(
    request: web.Request,
    entity: dict[str, Any],
    record: dict[str, Any],
    *,
    chosen: str = "",
    output: str = "docx",
    errors: dict[str, str] | None = None,
    problem: str = "",
    status: int = 200,
) -> web.Response:
    return page(
        request,
        "tools/merge.html",
        status=status,
        templates=await _templates(request, entity),
        chosen=chosen,
        output=output,
        errors=errors or {},
        problem=problem,
        **_context(entity, record),
    )


@routes.get("/crm/{collection}/{id}/fusionner")
async def merge_form(request: web.Request) -> web.Response:
    entity, record_id = _entity(request), _record_id(request)
    record = await _record(request, entity, record_id)
    _tool(request, entity, record, "merge")
    return await _merge_page(request, entity, record)


@routes.post("/crm/{collection}/{id}/fusionner")
async def merge(request: web.Request) -> web.StreamResponse:
    entity, record_id = _entity(request), _record_id(request)
    require_writer(request)
    form = await request.post()
    chosen, output = str(form.get("template_id", "")), str(form.get("format", "docx"))
    errors: dict[str, str] = {}
    if not chosen:
        errors["template_id"] = "Choisissez un modèle."
    if output not in ("docx", "pdf"):
        errors["format"] = "Choisissez Word (.docx) ou PDF."
        output = "docx"
    if not errors:
        answer = await api(request).call(
            "POST",
            f"/api/v1/{entity['collection']}/{record_id}/mail-merge",
            json={"template_id": chosen, "format": output},
            headers={"Accept": "*/*"},
        )
        if answer.ok:
            return _download(answer, f"document.{output}", "attachment")
        if answer.status not in (400, 404, 409, 422):
            raise ApiError(answer)  # a 404 of the record itself is said below, by reading it
        for item in answer.field_errors:
            name = item.field if item.field in ("template_id", "format") else "template_id"
            errors[name] = item.message
        if not errors:
            errors["template_id"] = answer.detail or "La fusion n'a pas abouti."
    record = await _record(request, entity, record_id)
    return await _merge_page(
        request, entity, record, chosen=chosen, output=output, errors=errors, status=422
    )


# -- Imprimer -------------------------------------------------------------------------------


@routes.get("/crm/{collection}/{id}/imprimer")
async def print_record(request: web.Request) -> web.Response:
    entity, record_id = _entity(request), _record_id(request)
    if not entity.get("printing"):
        raise web.HTTPNotFound(text="Cet outil n'existe pas pour cette fiche.")
    answer = await api(request).call(
        "GET", f"/api/v1/{entity['collection']}/{record_id}/print", headers={"Accept": "*/*"}
    )
    if not answer.ok:
        raise ApiError(answer)
    return _download(answer, f"{entity['name']}.pdf", "inline")


# -- Audit Trail ----------------------------------------------------------------------------


@routes.get("/crm/{collection}/{id}/historique")
async def audit_trail(request: web.Request) -> web.Response:
    entity, record_id = _entity(request), _record_id(request)
    if not entity.get("audited"):
        raise web.HTTPNotFound(text="Cet outil n'existe pas pour cette fiche.")
    record = await _record(request, entity, record_id)
    base = f"/api/v1/{entity['collection']}/{record_id}/audit"
    trail, check = (
        await api(request).call("GET", base),
        await api(request).call("GET", f"{base}/verify"),
    )
    if not trail.ok and trail.status != 404:
        raise ApiError(trail)
    fields = {f["name"]: f for f in entity["fields"]}
    lists = sorted(
        {str(f["picklist"]) for f in entity["fields"] if f["kind"] == "list" and f.get("picklist")}
    )
    found, names = await asyncio.gather(
        asyncio.gather(*(picklist(request, name) for name in lists)), user_names(request)
    )
    labels = {
        name: {str(v.get("code")): str(v.get("label") or v.get("code")) for v in values}
        for name, values in zip(lists, found, strict=True)
    }
    entries = []
    for item in trail.json() if trail.ok else []:
        changes = []
        for change in _joined(fields, item.get("changes") or []):
            name = str(change.get("field", ""))
            field = fields.get(name)
            codes = labels.get(str(field.get("picklist"))) if field else None
            if field and field["kind"] == "connection" and field.get("key") == "username":
                codes = names  # an owner: who, by name
            changes.append(
                {
                    "label": field["label"] if field else part_label(fields, name),
                    "old": display(field, change.get("old"), codes),
                    "new": display(field, change.get("new"), codes),
                }
            )
        entries.append(
            {
                "at": item.get("at"),
                "actor": names.get(str(item.get("actor", "")), str(item.get("actor", ""))),
                "action": ACTIONS.get(item.get("action", ""), str(item.get("action", ""))),
                "version": item.get("version"),
                "changes": changes,
            }
        )
    verified: dict[str, Any] | None = check.json() if check.ok else None
    return page(
        request,
        "tools/audit.html",
        entries=entries,
        verified=verified,
        verify_status=check.status,
        **_context(entity, record),
    )


# -- Carte ----------------------------------------------------------------------------------


@routes.get("/crm/{collection}/{id}/carte")
async def account_map(request: web.Request) -> web.Response:
    entity, record_id = _entity(request), _record_id(request)
    record = await _record(request, entity, record_id)
    _tool(request, entity, record, "map")
    answer = await api(request).call("GET", f"/api/v1/{entity['collection']}/{record_id}/map")
    if not answer.ok and answer.status not in (409, 422):
        raise ApiError(answer)
    point = answer.json() if answer.ok else None
    problem = ""
    if answer.status == 422:
        messages = [e.message for e in answer.field_errors]
        problem = NO_ADDRESS if answer.detail == "Ce compte n'a pas d'adresse." else ""
        problem = problem or " ".join(messages) or answer.detail or NO_ADDRESS
    elif answer.status == 409:
        problem = answer.detail
    settings = request.app[SETTINGS_KEY]
    address_field = next((f for f in entity["fields"] if f["kind"] == "address"), None)
    return page(
        request,
        "tools/map.html",
        status=200,
        point=point,
        address=display(address_field, point["address"]) if point else "",
        approximate=approximate(point),
        problem=problem,
        tiles_url=settings.map_tiles_url,
        attribution=settings.map_attribution,
        **_context(entity, record),
    )


def approximate(point: dict[str, Any] | None) -> str:
    """What the map page says of a location that is not the address's street ("" if it is)."""
    precision = str(point.get("precision") or "") if point else "address"
    if precision in ("address", "street"):
        return ""
    if precision == "city":
        return APPROXIMATE
    where = PRECISIONS.get(precision, "zone")
    return f"Position approximative ({where}) : l'adresse exacte n'a pas été trouvée."


# -- ClickToCall ----------------------------------------------------------------------------


async def _phones(request: web.Request, record: dict[str, Any]) -> list[dict[str, str]]:
    """The numbers the call form offers: the account's, then each of its contacts'."""
    offered = []
    if record.get("phone"):
        offered.append({"label": "Standard du compte", "number": str(record["phone"])})
    contacts = await api(request).call(
        "GET", "/api/v1/contacts", params={"account_id": str(record["id"]), "limit": "100"}
    )
    contact_entity = _entity(request, "contacts") if contacts.ok else None
    for contact in contacts.json().get("items", []) if contacts.ok else []:
        assert contact_entity is not None
        for kind in ("phone", "mobile"):
            if contact.get(kind):
                offered.append(
                    {
                        "label": f"{title_of(contact_entity, contact)}"
                        f"{' (mobile)' if kind == 'mobile' else ''}",
                        "number": str(contact[kind]),
                        "contact_id": str(contact["id"]),
                    }
                )
    return offered


async def _call_form(
    request: web.Request,
    entity: dict[str, Any],
    record: dict[str, Any],
    *,
    number: str = "",
    choice: str = "",
    errors: dict[str, str] | None = None,
    problem: str = "",
    status: int = 200,
) -> web.Response:
    """The call form: ``choice`` the number picked in the list ("number|contact id"), else
    ``number`` typed (a number of the list given as ``number`` is picked in the list); by
    default the first of the list (the account's own number when it has one)."""
    configured = telephony_configured(request)
    phones = await _phones(request, record) if configured else []
    for phone in phones:
        phone["choice"] = f"{phone['number']}|{phone.get('contact_id', '')}"
    choices = [p["choice"] for p in phones]
    if not choice and number:
        wanted = _digits(number)
        choice = next((p["choice"] for p in phones if _digits(p["number"]) == wanted), "")
        number = "" if choice else number
    if choice not in choices:
        choice = "" if number or not choices else choices[0]
    return page(
        request,
        "tools/call.html",
        status=status,
        configured=configured,
        no_telephony=NO_TELEPHONY,
        phones=phones,
        number=number,
        choice=choice,
        errors=errors or {},
        problem=problem,
        **_context(entity, record),
    )


def _digits(number: str) -> str:
    """A French number compared whatever its writing: "+33 1 42…", "01 42…" → "142…"."""
    digits = re.sub(r"\D", "", number)
    if digits.startswith("33") and number.strip().startswith("+"):
        return digits[2:]
    return digits.removeprefix("0")


@routes.get("/crm/{collection}/{id}/appeler")
async def call_form(request: web.Request) -> web.Response:
    entity, record_id = _entity(request), _record_id(request)
    record = await _record(request, entity, record_id)
    _tool(request, entity, record, "call")
    return await _call_form(request, entity, record, number=request.query.get("numero", ""))


@routes.post("/crm/{collection}/{id}/appeler")
async def call(request: web.Request) -> web.Response:
    entity, record_id = _entity(request), _record_id(request)
    require_writer(request)
    form = await request.post()
    typed = str(form.get("number", "")).strip()[:40]
    choice = str(form.get("choice", "")).strip()[:200]  # "number|contact id" from the list
    contact_id = str(form.get("contact_id", "")).strip()
    number = typed
    if choice and not typed:
        number, _, contact_id = choice.partition("|")
    else:
        choice = ""  # a number typed wins over the list
    if not telephony_configured(request):
        record = await _record(request, entity, record_id)
        return await _call_form(request, entity, record, status=503)
    body: dict[str, str] = {}
    if number:
        body["number"] = number[:40]
    if contact_id:
        body["contact_id"] = contact_id
    answer = await api(request).call(
        "POST", f"/api/v1/{entity['collection']}/{record_id}/call", json=body
    )
    if answer.ok:
        placed = answer.json()
        raise web.HTTPSeeOther(
            f"/crm/{entity['collection']}/{record_id}/appels/{placed['call_id']}"
        )
    if answer.status in (401, 403, 404):
        raise ApiError(answer)
    errors = {e.field: e.message for e in answer.field_errors}
    if "contact_id" in errors and "number" not in errors:
        errors["number"] = errors.pop("contact_id")
    problem = ""
    if answer.status == 503:
        problem = answer.detail or "La téléphonie est momentanément indisponible ; réessayez."
    elif answer.status == 502:
        problem = "Le serveur de téléphonie a refusé de passer l'appel."
    elif answer.status == 429:
        problem = answer.detail
    elif not errors:
        problem = answer.detail or "L'appel n'a pas pu être passé."
    record = await _record(request, entity, record_id)
    return await _call_form(
        request,
        entity,
        record,
        number=typed,
        choice=choice,
        errors=errors,
        problem=problem,
        status=answer.status if answer.status in (422, 429, 502, 503) else 422,
    )


def duration_fr(seconds: int | None) -> str:
    """125 → "2 min 5 s"."""
    if seconds is None:
        return ""
    minutes, rest = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{hours} h"] if hours else []
    if minutes:
        parts.append(f"{minutes} min")
    if rest or not parts:
        parts.append(f"{rest} s")
    return " ".join(parts)


def call_stage(progress: dict[str, Any], now: datetime) -> dict[str, Any]:
    """What the call page says of a call, and whether it is still worth asking again."""
    status, number = progress.get("status"), phone_fr(progress.get("to"))
    last = max(
        (
            datetime.fromisoformat(str(progress[k]))
            for k in ("placed_at", "ringing_at", "answered_at")
            if progress.get(k)
        ),
        default=now,
    )
    quiet = (now - last).total_seconds() > CALL_STALE_SECONDS
    if status == "ended":
        answered = progress.get("answered_at") or (progress.get("duration_seconds") or 0) > 0
        text = (
            f"Terminé ({duration_fr(progress.get('duration_seconds'))})"
            if answered
            else "Terminé : pas de réponse."
        )
        return {"status": "ended", "text": text, "done": True}
    if quiet:
        text = (
            "Le serveur de téléphonie ne donne plus de nouvelles de cet appel : "
            "vérifiez votre téléphone."
        )
        return {"status": status, "text": text, "done": True}
    text = {
        "requested": f"Appel en cours vers {number}… Votre poste va sonner : décrochez.",
        "ringing": f"Appel en cours vers {number}… Sonnerie…",
        "answered": f"Appel en cours vers {number}… En ligne…",
    }.get(str(status), f"Appel en cours vers {number}…")
    return {"status": status, "text": text, "done": False}


@routes.get("/crm/{collection}/{id}/appels/{call_id}")
async def call_progress(request: web.Request) -> web.Response:
    entity, record_id = _entity(request), _record_id(request)
    call_id = request.match_info["call_id"]
    progress = await api(request).get(f"/api/v1/calls/{call_id}")
    if progress.get("account_id") != record_id:
        raise web.HTTPNotFound(text="Aucun appel de cette fiche ne porte cet identifiant.")
    stage = call_stage(progress, datetime.now(UTC))
    values = {
        "progress": progress,
        "stage": stage,
        "duration": duration_fr(progress.get("duration_seconds")),
        "poll": f"/crm/{entity['collection']}/{record_id}/appels/{call_id}",
    }
    if request.headers.get("HX-Request") == "true":
        return page(request, "tools/call_status.html", **values)
    record = await _record(request, entity, record_id)
    return page(request, "tools/call_progress.html", **values, **_context(entity, record))

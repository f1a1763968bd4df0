"""The record page and form of every entity, built from its declaration (no template per entity).

Routes (collections as the API names them):

- ``GET /crm/{collection}/nouveau``: an empty form, prefilled from the query (``?account_id=``
  from a 360° "+" button); ``POST`` creates the record and goes to it (303).
- ``GET /crm/{collection}/{id}``: the record (an account: its 360° view, read once);
  ``POST`` saves it: a JSON merge patch with ``If-Match`` of the version the form was loaded
  with, so a save over someone else's change is refused (412) and says who made it and when.
- ``GET|POST /crm/{collection}/{id}/corbeille``: moving the record to the trash, confirmed.
- ``GET /crm/{collection}/choisir?q=&champ=``: the connection picker's candidates, as an htmx
  fragment (buttons the dialog of record.js turns into a choice) or as a page.

Without JavaScript a connection is still chosen: the form's "Chercher" button (a submit named
``_chercher``) shows the form again, input kept, with the candidates as radio buttons of the field.

The form posts one input per field (an address as ``address.street``...), parsed here from French
input ("1 234,50" → "1234.50", Paris time → RFC 3339). A value that cannot be read is sent as
typed, so the API refuses the whole write (nothing is created half right) and its message is
replaced by a French one saying what is expected. The API's 422 ``errors`` land next to their
fields, in an error summary at the top, and every input keeps what was typed.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import phonenumbers
from aiohttp import web
from multidict import MultiDictProxy

from services.common.entities import ADDRESS_FIELDS

from .. import pagecache, versions
from ..client import Answer, ApiError, api
from ..lookups import directory, entity_named, lookups, picklist, titles, user_label, user_names
from ..render import (
    PARIS,
    crm_entities,
    date_fr,
    money_fr,
    new_label,
    number_fr,
    page,
    phone_fr,
    render,
)
from ..session import require_writer, web_session
from . import documents, tools

routes = web.RouteTableDef()

HIDDEN_KINDS = frozenset({"object", "location"})  # never in the generic form
SEARCH_PREFIX = "_q_"  # the picker's search box of a field, without JavaScript
PICKED_LIMIT = 20
ADDRESS_LABELS = {
    "street": "Rue",
    "postal_code": "Code postal",
    "city": "Ville",
    "country": "Pays",
}
ADDRESS_LENGTHS = {"street": 500, "postal_code": 20, "city": 100, "country": 2}
NUMBER_PATTERN = r"\s*[0-9\s]*\s*"
PERCENT_PATTERN = r"\s*[0-9\s]*\s*%?\s*"
DECIMAL_PATTERN = r"\s*[0-9\s]*([,.][0-9]*)?\s*€?\s*"
_SPACES = re.compile(r"\s+")
# A web address typed without its scheme: a host name with a dot ("www.exemple.fr/contact").
_HOST_LIKE = re.compile(r"^[\w-]+(\.[\w-]+)+(:\d+)?([/?#]\S*)?$")
_INTEGER = re.compile(r"^\d+$")
_DECIMAL = re.compile(r"^\d+(\.\d+)?$")
# The heading of a new record (French nouns have a gender the declarations do not carry).
MESSAGES = {
    "number": "Saisissez un nombre entier (ex. 1 500).",
    "percent": "Saisissez un pourcentage entier de 0 à 100 (ex. 25).",
    "decimal": "Saisissez un nombre (ex. 1 234,50).",
    "money": "Saisissez un montant en euros (ex. 1 234,50).",
    "date": "Saisissez une date (JJ/MM/AAAA).",
    "datetime": "Saisissez une date et une heure (JJ/MM/AAAA HH:MM).",
}


# -- The entity and its fields -----------------------------------------------------------------


def record_entity(request: web.Request, collection: str) -> dict[str, Any]:
    """The declaration of a CRM collection (account and the 360° entities), else 404."""
    for entity in crm_entities(request):
        if entity["collection"] == collection:
            return entity
    raise web.HTTPNotFound(text="Cette adresse ne correspond à aucun type de fiche.")


def record_id(request: web.Request) -> str:
    raw = request.match_info["id"]
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise web.HTTPNotFound(text="Aucune fiche ne porte cet identifiant.") from None


def form_fields(entity: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The fields the form shows, in declared order: writable inputs, read-only text, the lines
    editor; never derived structures (location, totals by rate)."""
    shown = []
    for field in entity["fields"]:
        if field["kind"] in HIDDEN_KINDS:
            continue
        if field["read_only"] and field["name"] in documents.SHOWN_BY_LINES:
            continue
        shown.append(field)
    return shown


def writable(entity: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [f for f in form_fields(entity) if not f["read_only"]]


def input_id(name: str) -> str:
    """The id of a field's input: ``address.city`` → ``f-address-city``."""
    return "f-" + name.replace(".", "-")


# -- From a record to what the inputs show, and from the posted form to the API's body ---------


def shown_value(field: Mapping[str, Any], value: Any) -> Any:
    """A stored value as its input shows it (French numbers, Paris time)."""
    kind = field["kind"]
    if value is None:
        return ""
    if kind in ("number", "percent"):
        return number_fr(value)
    if kind == "money":
        return number_fr(value, 2)
    if kind == "decimal":
        return number_fr(value)
    if kind == "datetime":
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            return str(value)
        return moment.astimezone(PARIS).strftime("%Y-%m-%dT%H:%M")
    if kind == "boolean":
        return bool(value)
    if kind == "phone":
        return phone_fr(value)
    if kind == "lines":
        return value if isinstance(value, list) else []
    return str(value)


def values_of(entity: Mapping[str, Any], record: Mapping[str, Any]) -> dict[str, Any]:
    """What each input shows for a stored record (keyed by input name)."""
    values: dict[str, Any] = {}
    for field in form_fields(entity):
        name, value = field["name"], record.get(field["name"])
        if field["kind"] == "address":
            address = value if isinstance(value, dict) else {}
            for part in ADDRESS_FIELDS:
                values[f"{name}.{part}"] = str(address.get(part) or "")
        else:
            values[name] = shown_value(field, value)
    return values


def prefilled(entity: Mapping[str, Any], query: Mapping[str, str]) -> dict[str, Any]:
    """A new record's inputs from the query string (``?account_id=...``), known fields only."""
    values: dict[str, Any] = {}
    for field in writable(entity):
        name = field["name"]
        if field["kind"] == "address":
            for part in ADDRESS_FIELDS:
                if f"{name}.{part}" in query:
                    values[f"{name}.{part}"] = query[f"{name}.{part}"][:500]
        elif field["kind"] == "boolean":
            if name in query:
                values[name] = query[name] in ("1", "true", "on", "oui")
        elif field["kind"] != "lines" and name in query:
            values[name] = query[name][:10_000]
    return values


def _compact(text: str) -> str:
    return _SPACES.sub("", text)


def with_scheme(raw: str) -> str:
    """A web address typed as a host name ("www.boulangerie-dupont.fr") gets "https://" (as
    record.js does before sending); anything else is sent as typed, for the API to judge."""
    text = raw.strip()
    return f"https://{text}" if _HOST_LIKE.match(text) else text


def parse_number(kind: str, raw: str) -> str | int | None:
    """French input to the API's value: "1 500" → 1500, "1 234,50 €" → "1234.50", "25 %" → 25;
    None when it cannot be read."""
    text = _compact(raw)
    if kind == "percent":
        text = text.removesuffix("%")
    if kind in ("number", "percent"):
        # Beyond 18 digits no field takes it (and JSON numbers stop at 64 bits): unreadable.
        return int(text) if _INTEGER.match(text) and len(text.lstrip("+-")) <= 18 else None
    text = text.removesuffix("€").replace(",", ".")
    return text if _DECIMAL.match(text) and len(text) <= 40 else None


def parse_datetime(raw: str) -> str | None:
    """A datetime-local input (Paris time) → RFC 3339 UTC."""
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=PARIS)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_date(raw: str) -> str | None:
    text = raw.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return text
    found = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", text)  # typed the French way
    if found:
        day, month, year = found.groups()
        return f"{year}-{int(month):02d}-{int(day):02d}"
    return None


def parse_form(
    entity: Mapping[str, Any], form: MultiDictProxy[Any]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """The API body of the posted form, what each input showed (to show it again) and the
    French message of each value that could not be read (sent as typed: the API refuses it)."""
    body: dict[str, Any] = {}
    values: dict[str, Any] = {}
    unreadable: dict[str, str] = {}
    for field in writable(entity):
        name, kind = field["name"], field["kind"]
        if kind == "lines":
            # Lines shown as text (a sent quote, an issued invoice) post no input: left as
            # they are, not emptied.
            if any(key.startswith("lines-") for key in form):
                lines = documents.lines_from_form(form)
                body[name] = lines
                values[name] = lines
            continue
        if kind == "address":
            address: dict[str, Any] = {}
            for part in ADDRESS_FIELDS:
                typed = str(form.get(f"{name}.{part}", ""))
                values[f"{name}.{part}"] = typed
                address[part] = typed.strip() or None
            if part_country := address.get("country"):
                address["country"] = part_country.upper()
            body[name] = address
            continue
        if kind == "boolean":
            checked = form.get(name) in ("true", "on", "1")
            values[name] = checked
            body[name] = checked
            continue
        raw = str(form.get(name, "")).replace("\r\n", "\n")
        values[name] = raw
        if not raw.strip():
            body[name] = None
            continue
        value: Any
        if kind in ("number", "percent", "decimal", "money"):
            value = parse_number(kind, raw)
        elif kind == "datetime":
            value = parse_datetime(raw)
        elif kind == "date":
            value = parse_date(raw)
        elif kind == "connection" and field.get("key", "id") == "id":
            value = raw.strip()
        elif kind == "long_text":
            value = raw
        elif kind == "url":
            value = with_scheme(raw)
            values[name] = value
        else:
            value = raw.strip()
        if value is None:
            unreadable[name] = MESSAGES.get(kind, "Valeur illisible.")
            value = raw
        body[name] = value
    return body, values, unreadable


def field_messages(answer: Answer, unreadable: Mapping[str, str]) -> dict[str, str]:
    """The API's refusal, field by field (``address.city``, ``lines.0.quantity``); a general
    refusal (409, 403, a 422 without fields) under the key ``body``."""
    errors: dict[str, str] = {}
    for error in answer.field_errors:
        errors.setdefault(error.field or "body", error.message)
    errors.update({name: message for name, message in unreadable.items() if name in errors})
    if not errors:
        errors["body"] = answer.detail or "La fiche n'a pas été enregistrée."
    return errors


def create_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """A new record's body: blank fields left out (their defaults apply; a required one is
    reported missing by the API)."""
    out: dict[str, Any] = {}
    for name, value in body.items():
        if value is None:
            continue
        if isinstance(value, dict):
            value = {k: v for k, v in value.items() if v is not None}
            if not value:
                continue
        out[name] = value
    return out


# -- What a form shows beside its inputs -----------------------------------------------------


async def picklist_values(request: web.Request, name: str) -> list[dict[str, Any]]:
    async def fetch() -> list[dict[str, Any]] | None:
        return await picklist(request, name) or None  # none read: not kept, read next time

    found: list[dict[str, Any]] | None = await lookups(request).get(
        request, f"picklist:{name}", fetch
    )
    return found or []


async def choices_of(
    request: web.Request, entity: Mapping[str, Any], values: Mapping[str, Any]
) -> dict[str, list[dict[str, Any]]]:
    """The options of each list field: the picklist's active values, plus a deactivated or
    unknown value the record holds (marked); the fixed choices where there is no picklist."""
    options: dict[str, list[dict[str, Any]]] = {}
    lists = [f for f in writable(entity) if f["kind"] == "list"]
    names = sorted({f["picklist"] for f in lists if f.get("picklist")})
    read = await asyncio.gather(*(picklist_values(request, name) for name in names))
    picklists = dict(zip(names, read, strict=True))
    for field in lists:
        current = str(values.get(field["name"]) or "")
        listed = picklists.get(field["picklist"], []) if field.get("picklist") else []
        entries: list[dict[str, Any]] = []
        if listed:
            for item in listed:
                code, active = str(item.get("code", "")), bool(item.get("active", True))
                if active or code == current:
                    label = str(item.get("label") or code)
                    entries.append(
                        {"code": code, "label": label if active else f"{label} (désactivée)"}
                    )
        else:
            entries = [{"code": c["code"], "label": c["label"]} for c in field.get("choices", [])]
        if current and current not in {e["code"] for e in entries}:
            entries.append({"code": current, "label": f"{current} (désactivée)"})
        options[field["name"]] = entries
    return options


def tel_href(value: Any) -> str:
    """The ``tel:`` link of a number as stored or typed ("01 42 68 53 00" → tel:+33142685300);
    empty when it is not a phone number."""
    if not value:
        return ""
    try:
        number = phonenumbers.parse(str(value), "FR")
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_possible_number(number):
        return ""
    return "tel:" + phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def web_link(value: Any) -> str:
    """The address an "Ouvrir" button opens: http(s) only (never javascript: or data:)."""
    text = str(value or "").strip()
    return text if re.match(r"^https?://[^\s]+$", text, re.IGNORECASE) else ""


def list_label(field: Mapping[str, Any], code: Any) -> str:
    for choice in field.get("choices", []):
        if choice["code"] == code:
            return str(choice["label"])
    return "" if code is None else str(code)


async def connection_titles(
    request: web.Request,
    entity: Mapping[str, Any],
    values: Mapping[str, Any],
    record: Mapping[str, Any] | None,
) -> dict[str, str]:
    """The title of every connected record the form shows, by id."""
    wanted: dict[str, set[str]] = {}
    for field in form_fields(entity):
        if field["kind"] != "connection" or field.get("key", "id") != "id":
            continue
        value = values.get(field["name"]) if not field["read_only"] else None
        if field["read_only"] and record is not None:
            value = record.get(field["name"])
        if value and _is_uuid(str(value)):
            wanted.setdefault(field["target"], set()).add(str(value))
    found: dict[str, str] = {}
    for target, ids in wanted.items():
        found.update(await titles(request, target, ids))
    return found


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


async def user_options(request: web.Request) -> list[dict[str, str]]:
    """The users an owner may be chosen among: the active ones, by their display name (the
    username beside a name two users share), from the directory every user may read."""
    entries = await directory(request)
    shown = [user_label(entry) for entry in entries]
    shared = {name for name in shown if shown.count(name) > 1}
    return [
        {
            "username": str(entry["username"]),
            "label": f"{name} ({entry['username']})" if name in shared else name,
        }
        for entry, name in zip(entries, shown, strict=True)
        if entry.get("active", True)
    ]


def owner_choices(
    users: list[dict[str, str]], names: Mapping[str, str], current: Any
) -> list[dict[str, str]]:
    """The owner select's options: the active users, and the record's current owner when
    deactivated (or unknown) so the form keeps it, marked."""
    owner = str(current or "")
    if not owner or owner in {u["username"] for u in users}:
        return users
    label = f"{names[owner]} (désactivé)" if owner in names else owner
    return [{"username": owner, "label": label}, *users]


ACCOUNT_KEY = "account_id"  # the connection that ties a record to its account
WIDE_PREFIX = "_tous_"  # the no-JavaScript picker's "Tous les comptes" box of a field


def account_scoped(target: Mapping[str, Any]) -> bool:
    """Whether ``target``'s list can be limited to one account (an ``account_id`` filter)."""
    return any(
        f["name"] == ACCOUNT_KEY and f.get("kind") == "connection" and f.get("target") == "account"
        for f in target.get("filters", [])
    )


def form_account(
    entity: Mapping[str, Any], values: Mapping[str, Any], record: Mapping[str, Any] | None
) -> str | None:
    """The account a form is about: its ``account_id`` value, else the record's."""
    if entity.get("name") == "account":
        return None
    for source in (values, record or {}):
        value = str(source.get(ACCOUNT_KEY) or "").strip()
        if value and _is_uuid(value):
            return value
    return None


async def candidates(
    request: web.Request,
    target: Mapping[str, Any],
    q: str,
    exclude: str | None = None,
    account: str | None = None,
) -> list[dict[str, str]]:
    """Records of ``target`` matching ``q`` (its list's search where it has one, else its
    newest records whose title holds ``q``): [{id, title, extra}]. With ``account`` (and a
    target that can be limited to one), only that account's records; otherwise a record tied
    to an account shows its account's name."""
    params = {"limit": str(PICKED_LIMIT if target.get("search") else 200)}
    if q and target.get("search"):
        params["q"] = q
    scoped = bool(account) and account_scoped(target)
    if scoped and account:
        params[ACCOUNT_KEY] = account
    answer = await api(request).call("GET", f"/api/v1/{target['collection']}", params=params)
    if not answer.ok:
        return []
    found: list[tuple[dict[str, str], str]] = []
    wanted = q.casefold().strip()
    for item in answer.json().get("items", []):
        title = picked_title(target, item)
        if exclude and str(item.get("id")) == exclude:
            continue
        if wanted and not target.get("search") and wanted not in title.casefold():
            continue
        owner = "" if scoped else str(item.get(ACCOUNT_KEY) or "")
        found.append(({"id": str(item["id"]), "title": title, "extra": extra(item)}, owner))
        if len(found) >= PICKED_LIMIT:
            break
    names = await titles(request, "account", {owner for _, owner in found if owner})
    for candidate, owner in found:
        if names.get(owner):
            candidate["extra"] = " · ".join(p for p in (names[owner], candidate["extra"]) if p)
    return [candidate for candidate, _ in found]


def picked_title(target: Mapping[str, Any], item: Mapping[str, Any]) -> str:
    """How a candidate is named: its title field (a contact with the first name before), or,
    for a record without one yet (a draft quote has no number), its kind and creation date."""
    title = str(item.get(target["title_field"]) or "")
    if title and item.get("first_name"):
        title = f"{item['first_name']} {title}"
    return title or f"{target['label']} du {date_fr(item.get('created_at'))}"


def extra(item: Mapping[str, Any]) -> str:
    """A word that tells two namesakes apart in a picker: the city, else the status."""
    address = item.get("address")
    if isinstance(address, dict) and address.get("city"):
        return str(address["city"])
    return str(item.get("status") or "")


# -- The page ----------------------------------------------------------------------------------


async def show(
    request: web.Request,
    entity: dict[str, Any],
    record: dict[str, Any] | None,
    values: dict[str, Any],
    *,
    view: dict[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    conflict: dict[str, Any] | None = None,
    message: str | None = None,
    version: Any = None,
    picking: Mapping[str, Any] | None = None,
    status: int = 200,
) -> web.Response:
    session = web_session(request)
    owners = next(
        (
            f["name"]
            for f in writable(entity)
            if f["kind"] == "connection" and f.get("key") == "username"
        ),
        None,
    )  # the field naming a user by username (an account's owner)
    titles_by_id, options, users, names = await asyncio.gather(
        connection_titles(request, entity, values, record),
        choices_of(request, entity, values),
        user_options(request) if owners is not None else _nothing(),
        user_names(request),
    )
    if users is not None and owners is not None:
        users = owner_choices(users, names, values.get(owners))
    errors = dict(errors or {})
    targets = {
        f["name"]: entity_named(request, f["target"])
        for f in form_fields(entity)
        if f["kind"] == "connection"
    }
    return page(
        request,
        "record.html",
        status=status,
        entity=entity,
        record=record,
        values=values,
        errors=errors,
        error_list=error_list(entity, errors),
        view=view,
        tools=tools.available(request, entity, record),
        conflict=conflict,
        message=message,
        new_title=new_label(entity),
        fields=form_fields(entity),
        options=options,
        titles=titles_by_id,
        users=users,
        user_names=names,
        targets=targets,
        account=form_account(entity, values, record),
        scoped={name: bool(t and account_scoped(t)) for name, t in targets.items()},
        picking=picking or {},
        version=version if version is not None else (record or {}).get("version"),
        editable=session.can_write and locked(entity, record) is None,
        locked=locked(entity, record),
        money=money_fr,
        list_label=list_label,
        tel_href=tel_href,
        web_link=web_link,
        input_id=input_id,
        number_pattern=NUMBER_PATTERN,
        percent_pattern=PERCENT_PATTERN,
        decimal_pattern=DECIMAL_PATTERN,
        address_labels=ADDRESS_LABELS,
        address_lengths=ADDRESS_LENGTHS,
    )


def locked(entity: Mapping[str, Any], record: Mapping[str, Any] | None) -> str | None:
    """Why nobody may change this saved record (a sent quote, an issued invoice: the entity's
    declared lock), else None."""
    lock = entity.get("lock")
    if not lock or record is None or record.get(lock["field"]) in lock["editable"]:
        return None
    return str(lock["reason"])


async def _nothing() -> None:
    return None


def error_list(entity: Mapping[str, Any], errors: Mapping[str, str]) -> list[dict[str, str]]:
    """The error summary: each message with the label of its field and a link to its input."""
    labels = {f["name"]: f["label"] for f in entity["fields"]}
    listed = []
    for name, text in errors.items():
        head = name.split(".")[0]
        label = labels.get(head, "")
        anchor = ""
        if head in labels:
            field = next(f for f in entity["fields"] if f["name"] == head)
            if field["kind"] == "address":
                part = name.split(".")[1] if "." in name else "street"
                label = f"{label} ({ADDRESS_LABELS.get(part, part).lower()})"
                anchor = input_id(f"{head}.{part}")
            elif field["kind"] == "lines":
                anchor = name.replace(".", "-") if name.count(".") == 2 else "lines"
            else:
                anchor = input_id(head)
        listed.append({"field": name, "label": label, "message": text, "anchor": anchor})
    return listed


async def load(
    request: web.Request, entity: dict[str, Any], rid: str
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The record (for an account, from its 360° view, read once) and the view."""
    if entity["name"] == "account":
        view = await api(request).get(f"/api/v1/accounts/{rid}/view")
        return view["account"], view
    return await api(request).get(f"/api/v1/{entity['collection']}/{rid}"), None


async def picked(
    request: web.Request,
    entity: Mapping[str, Any],
    form: MultiDictProxy[Any],
    rid: str | None,
    record: Mapping[str, Any] | None = None,
) -> dict[str, Any] | None:
    """The no-JavaScript picker: the field whose "Chercher" was pressed, its search and the
    candidates the form shows as radio buttons (within the form's account unless "Tous les
    comptes" is ticked)."""
    name = str(form.get("_chercher", ""))
    field = next(
        (f for f in writable(entity) if f["name"] == name and f["kind"] == "connection"), None
    )
    if field is None:
        return None
    q = str(form.get(SEARCH_PREFIX + name, "")).strip()[:200]
    target = entity_named(request, field["target"])
    if target is None:
        return None
    exclude = rid if field["target"] == entity["name"] else None
    account = form_account(entity, {ACCOUNT_KEY: form.get(ACCOUNT_KEY)}, record)
    account = account if account_scoped(target) else None
    wide = bool(form.get(WIDE_PREFIX + name))
    items = await candidates(request, target, q, exclude, None if wide else account)
    return {"field": name, "q": q, "items": items, "account": account, "wide": wide}


@routes.get("/crm/{collection}/nouveau")
async def new_record(request: web.Request) -> web.Response:
    entity = record_entity(request, request.match_info["collection"])
    return await show(request, entity, None, prefilled(entity, request.query))


@routes.post("/crm/{collection}/nouveau")
async def create_record(request: web.Request) -> web.Response:
    entity = record_entity(request, request.match_info["collection"])
    form = await request.post()
    body, values, unreadable = parse_form(entity, form)
    picking = await picked(request, entity, form, None)
    if picking is not None:
        return await show(request, entity, None, values, picking=picking)
    answer = await api(request).call(
        "POST", f"/api/v1/{entity['collection']}", json=create_body(body)
    )
    if answer.ok:
        created = answer.json()
        raise web.HTTPSeeOther(f"/crm/{entity['collection']}/{created['id']}?enregistree=1")
    return await refused(request, entity, None, values, answer, unreadable, None)


@routes.get("/crm/{collection}/choisir")
async def picker(request: web.Request) -> web.Response:
    """The candidates of a connection: an htmx fragment for the dialog, else a page. With
    ``compte`` (the form's account), only that account's records, unless ``tous`` is set."""
    target = record_entity(request, request.match_info["collection"])
    q = request.query.get("q", "").strip()[:200]
    field = request.query.get("champ", "")[:100]
    exclude = request.query.get("sauf") or None
    account = request.query.get("compte", "").strip()
    account = account if _is_uuid(account) and account_scoped(target) else ""
    wide = bool(request.query.get("tous"))
    scope = account if account and not wide else None
    items, names = await asyncio.gather(
        candidates(request, target, q, exclude, scope),
        titles(request, "account", {account} if account else set()),
    )
    values: dict[str, Any] = {
        "target": target,
        "q": q,
        "field": field,
        "items": items,
        "account": account,
        "account_title": names.get(account, ""),
        "wide": wide,
    }
    if request.headers.get("HX-Request"):
        response = web.Response(
            text=render(request, "partials/picker_results.html", **values),
            content_type="text/html",
        )
        response.headers["Cache-Control"] = "no-store"
        response.headers["Vary"] = "HX-Request"
        return response
    return page(request, "partials/picker_page.html", **values)


@routes.get("/crm/{collection}/{id}")
async def show_record(request: web.Request) -> web.Response:
    entity = record_entity(request, request.match_info["collection"])
    if entity["name"] == "account":  # kept with its 360° view (ui/pagecache.py)
        return await pagecache.record_page(
            request, record_id(request), lambda: render_record(request, entity)
        )
    return await render_record(request, entity)


async def render_record(request: web.Request, entity: dict[str, Any]) -> web.Response:
    record, view = await load(request, entity, record_id(request))
    if view is not None and view.get("unavailable"):
        pagecache.incomplete(request)  # a tab says its service is away: not kept
    message = None
    if "enregistree" in request.query:
        message = "Fiche enregistrée."
    elif "inchangee" in request.query:
        message = "Aucune modification à enregistrer : la fiche est inchangée."
    elif request.query.get("copie_de"):  # pages/tools.py duplicate: the original's id
        source = await titles(request, entity["name"], [request.query["copie_de"]])
        original = next(iter(source.values()), None)  # only an id it can read is named
        message = f"Copie créée à partir de « {original} »." if original else "Copie créée."
    return await show(
        request, entity, record, values_of(entity, record), view=view, message=message
    )


@routes.post("/crm/{collection}/{id}")
async def save_record(request: web.Request) -> web.Response:
    entity = record_entity(request, request.match_info["collection"])
    rid = record_id(request)
    form = await request.post()
    body, values, unreadable = parse_form(entity, form)
    version = str(form.get("_version", "")).strip()
    record: dict[str, Any] | None = None
    view: dict[str, Any] | None = None
    if form.get("_chercher"):
        record, view = await load(request, entity, rid)
    picking = await picked(request, entity, form, rid, record)
    if picking is not None and record is not None:
        return await show(
            request, entity, record, values, view=view, picking=picking, version=version
        )
    require_writer(request)  # the API's refusal, before the version's
    headers = versions.if_match(version)
    if headers is None:  # without it the API would write over any newer version: refused
        record, view = await load(request, entity, rid)
        return await show(
            request,
            entity,
            record,
            values,
            view=view,
            errors={"_version": versions.VERSION_UNREADABLE},
            version=version,
            status=versions.REFUSED_STATUS,
        )
    path = f"/api/v1/{entity['collection']}/{rid}"
    stored = await api(request).get(path)
    if str(stored.get("version")) == versions.readable_version(version):
        body = changed(entity, body, values, values_of(entity, stored))
        if not body:
            raise web.HTTPSeeOther(f"/crm/{entity['collection']}/{rid}?inchangee=1")
    # Else someone saved since the form was read: the whole form is sent, and If-Match has
    # the API refuse it (412), which says who.
    answer = await api(request).call("PATCH", path, json=body, headers=headers)
    if answer.ok:
        raise web.HTTPSeeOther(f"/crm/{entity['collection']}/{rid}?enregistree=1")
    return await refused(request, entity, rid, values, answer, unreadable, version)


def changed(
    entity: Mapping[str, Any],
    body: Mapping[str, Any],
    posted: Mapping[str, Any],
    shown: Mapping[str, Any],
) -> dict[str, Any]:
    """The merge patch of what the user changed: a field whose input still shows what the
    stored record showed is left out (so a time keeps its seconds, an amount its writing, and
    the audit trail holds only real changes)."""
    kinds = {f["name"]: f["kind"] for f in entity["fields"]}
    patch: dict[str, Any] = {}
    for name, value in body.items():
        kind = kinds.get(name)
        if kind == "address":
            keys = [f"{name}.{part}" for part in ADDRESS_FIELDS]
        elif kind == "lines":
            patch[name] = value  # the lines editor posts its own writing of each number
            continue
        else:
            keys = [name]
        if any(_typed(posted.get(key)) != _typed(shown.get(key)) for key in keys):
            patch[name] = value
    return patch


def _typed(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return bool(value)
    return str(value).strip()


async def refused(
    request: web.Request,
    entity: dict[str, Any],
    rid: str | None,
    values: dict[str, Any],
    answer: Answer,
    unreadable: Mapping[str, str],
    version: str | None,
) -> web.Response:
    """The form again after a refused write, every input as typed: the messages next to their
    fields (422), or who saved first (412), or why (403, 409...)."""
    if answer.status in (401, 404, 503) or answer.status >= 500:
        raise ApiError(answer)
    record, view = (None, None) if rid is None else await load(request, entity, rid)
    conflict = None
    errors: dict[str, str] = {}
    if answer.status == 412 and record is not None:
        by = str(record.get("updated_by") or "")
        conflict = {
            "by": (await user_names(request)).get(by, by) if by else "un autre utilisateur",
            "at": record.get("updated_at"),
            "version": record.get("version"),
        }
    else:
        errors = field_messages(answer, unreadable)
    status = answer.status if answer.status in (403, 409, 412, 422) else 422
    return await show(
        request,
        entity,
        record,
        values,
        view=view,
        errors=errors,
        conflict=conflict,
        version=version,
        status=status,
    )


@routes.get("/crm/{collection}/{id}/corbeille")
async def confirm_trash(request: web.Request) -> web.Response:
    entity = record_entity(request, request.match_info["collection"])
    rid = record_id(request)
    record = await api(request).get(f"/api/v1/{entity['collection']}/{rid}")
    return page(request, "record_trash.html", entity=entity, record=record)


@routes.post("/crm/{collection}/{id}/corbeille")
async def trash(request: web.Request) -> web.Response:
    entity = record_entity(request, request.match_info["collection"])
    rid = record_id(request)
    answer = await api(request).call("DELETE", f"/api/v1/{entity['collection']}/{rid}")
    if not answer.ok and answer.status != 404:
        raise ApiError(answer)
    raise web.HTTPSeeOther(f"/crm/{entity['collection']}?corbeille=1")

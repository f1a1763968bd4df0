"""List views (the guide's "vue par défaut"): ``GET /crm/{collection}`` for every entity the
gateway knows, built from its declaration.

Columns are the declaration's ``listed`` fields (the title field first, linked to the record),
formatted by kind; the search box, the filters and the sorts are those the API offers for the
list; paging is the API's keyset paging (a next page, and back to the first one); the total is
the API's ``?total=true``. The whole view lives in the URL's query (a GET form), so a view can
be bookmarked and shared; the values go to the API as they are (empty ones left out), and the
API's 422 is shown next to the filter it names, the rest of the form kept.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from ...registry import REGISTRY_KEY
from .. import pagecache
from ..client import ApiError, api
from ..lookups import directory, picklist, titles, user_label
from ..render import PARIS, new_label, number_fr, page, render
from ..session import web_session

routes = web.RouteTableDef()

# The fragment an htmx request of the filter form asks for (its hx-target).
FRAGMENT_TARGET = "vue-liste"
SYSTEM_SORTS = {"created_at": "Date de création", "updated_at": "Dernière modification"}
# Kinds the list shows as a column; the others (lines, structures) belong on the record.
SHOWN_KINDS = frozenset(
    (
        "text", "long_text", "number", "decimal", "money", "percent", "date", "datetime",
        "boolean", "list", "email", "url", "phone", "address", "connection", "identifier",
    )
)  # fmt: skip
NUMERIC_KINDS = frozenset(("number", "decimal", "money", "percent"))
# The parts of an address a list can be sorted by (as the record's form names them).
ADDRESS_PARTS = {"street": "Rue", "postal_code": "Code postal", "city": "Ville", "country": "Pays"}
INPUT_TYPES = {"phone": "tel", "number": "number", "date": "date", "datetime": "datetime-local"}


@dataclass
class Column:
    name: str
    label: str
    kind: str
    sort: str | None  # the declared sort this column's header toggles
    numeric: bool
    title: bool = False
    target: str | None = None  # a connection by id: the entity its value names
    labels: dict[str, str] = field(default_factory=dict)  # a list: code -> label


@dataclass
class FilterInput:
    name: str
    label: str
    kind: str
    help: str
    value: str
    input_type: str = "text"
    options: list[tuple[str, str]] = field(default_factory=list)  # a select: (code, label)
    error: str = ""
    target: str | None = None
    linked: tuple[str, str] | None = None  # a connection's value: (href, title)
    remove: str = ""  # the view without this filter


def count_text(total: int, capped: bool, entity: Mapping[str, Any]) -> str:
    """ "42 comptes", "1 compte", "plus de 10 000 comptes", "Aucune fiche"."""
    if capped:
        return f"plus de {number_fr(total)} {str(entity['plural']).lower()}"
    if total == 0:
        return "Aucune fiche"
    noun = entity["label"] if total == 1 else entity["plural"]
    return f"{number_fr(total)} {str(noun).lower()}"


def filter_help(item: Mapping[str, Any]) -> str:
    """The help a filter's input shows: the declaration's, except where it speaks of the API's
    format, which the input takes care of (a checkbox, a date and time picker)."""
    if item["kind"] == "boolean":
        return ""
    if item["kind"] == "datetime":
        return "Heure de Paris."
    return str(item.get("help") or "")


def sort_label(entity: Mapping[str, Any], name: str) -> str:
    """The French name of a declared sort: its field's label, a system time, a part of the
    record's address (accounts' "city"), the filter of that name, or (a key the service folds
    from the record's name, as contacts' "name") the title field's label."""
    if name in SYSTEM_SORTS:
        return SYSTEM_SORTS[name]
    fields = {f["name"]: f for f in entity["fields"]}
    if name in fields:
        return str(fields[name]["label"])
    if name in ADDRESS_PARTS and any(f["kind"] == "address" for f in entity["fields"]):
        return ADDRESS_PARTS[name]
    filters = {f["name"]: f for f in entity["filters"]}
    if name in filters:
        return str(filters[name]["label"])
    if name == title_sort(entity):
        return str(fields[entity["title_field"]]["label"])
    return name.replace("_", " ").capitalize()


def sort_option_label(entity: Mapping[str, Any], sort: str) -> str:
    """ "Raison sociale, croissant", "Date de création, décroissant"."""
    order = "décroissant" if sort.startswith("-") else "croissant"
    return f"{sort_label(entity, sort.lstrip('-'))}, {order}"


def title_sort(entity: Mapping[str, Any]) -> str | None:
    """The sort of the title column: the title field's own, else a sort that is no field (a
    folded name key, as contacts' "name")."""
    sorts = entity["sorts"]
    if entity["title_field"] in sorts:
        return str(entity["title_field"])
    fields = {f["name"] for f in entity["fields"]}
    return next((s for s in sorts if s not in fields and s not in SYSTEM_SORTS), None)


def columns_of(entity: Mapping[str, Any]) -> list[Column]:
    fields = [f for f in entity["fields"] if f["listed"] and f["kind"] in SHOWN_KINDS]
    title = next(f for f in entity["fields"] if f["name"] == entity["title_field"])
    ordered = [title, *(f for f in fields if f["name"] != title["name"])]
    columns = []
    for item in ordered:
        is_title = item["name"] == title["name"]
        sort = title_sort(entity) if is_title else None
        if not is_title and item["name"] in entity["sorts"]:
            sort = item["name"]
        target = item.get("target") if item.get("key", "id") == "id" else None
        columns.append(
            Column(
                name=item["name"],
                label=item["label"],
                kind=item["kind"],
                sort=sort,
                numeric=item["kind"] in NUMERIC_KINDS,
                title=is_title,
                target=target if item["kind"] == "connection" else None,
                labels={c["code"]: c["label"] for c in item.get("choices") or []},
            )
        )
    return columns


def wanted(query: Mapping[str, str], entity: Mapping[str, Any]) -> dict[str, str]:
    """The view's state from the page's query: what the API is asked (empty values left out)."""
    names = ["sort", "cursor", "limit", *(f["name"] for f in entity["filters"])]
    if entity.get("search"):
        names.append("q")
    return {name: query[name].strip() for name in names if query.get(name, "").strip()}


def api_value(kind: str, value: str) -> str:
    """A filter's value as the API takes it: a datetime-local input's value is Paris time."""
    if kind == "datetime":
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value  # the API says what is wrong with it
        if moment.tzinfo is None:
            return moment.replace(tzinfo=PARIS).isoformat()
    return value


def link(collection: str, state: Mapping[str, str], **changes: str | None) -> str:
    """The view's URL with ``changes`` (None drops a parameter)."""
    merged = {**state, **changes}
    kept = {k: v for k, v in merged.items() if v}
    return f"/crm/{collection}" + (f"?{urlencode(kept)}" if kept else "")


async def _labels_of(request: web.Request, name: str | None) -> dict[str, str]:
    if not name:
        return {}
    values = await picklist(request, name)
    return {
        str(v["code"]): str(v["label"]) + ("" if v.get("active", True) else " (désactivée)")
        for v in values
    }


@routes.get("/crm/{collection}")
async def list_view(request: web.Request) -> web.Response:
    """The list page, kept until any record changes (ui/pagecache.py)."""
    return await pagecache.list_page(request, lambda: render_list(request))


async def render_list(request: web.Request) -> web.Response:
    collection = request.match_info["collection"]
    registry = request.app.get(REGISTRY_KEY)
    entity = registry.entity(collection) if registry is not None else None
    if entity is None:
        raise web.HTTPNotFound(text="Cette liste n'existe pas.")
    if entity.get("service") == "gateway":  # the users, administered on their own page
        raise web.HTTPSeeOther("/admin/utilisateurs")
    session = web_session(request)
    state = wanted(request.query, entity)
    fragment = request.headers.get("HX-Target") == FRAGMENT_TARGET
    if not fragment and any(not value.strip() for value in request.query.values()):
        # A submitted form sends its empty inputs too: the view's URL keeps only what it says.
        raise web.HTTPSeeOther(link(collection, state))
    kinds = {f["name"]: f["kind"] for f in entity["filters"]}
    params = {name: api_value(kinds.get(name, ""), value) for name, value in state.items()}
    params["total"] = "true"

    columns = columns_of(entity)
    fields = {f["name"]: f for f in entity["fields"]}
    # Picklists the columns and the filters show, read beside the list.
    picklists: dict[str, str | None] = {}
    for column in columns:
        if column.kind == "list" and not column.labels:
            picklists[column.name] = fields[column.name].get("picklist")
    for item in entity["filters"]:
        if item["kind"] == "list":
            declared = fields.get(item["name"], {})
            if not declared.get("choices"):
                picklists.setdefault(item["name"], item.get("picklist") or declared.get("picklist"))
    names = list(picklists)
    answer, lists, users = await asyncio.gather(
        api(request).call("GET", f"/api/v1/{collection}", params=params),
        asyncio.gather(*(_labels_of(request, picklists[name]) for name in names)),
        directory(request),
    )
    found = dict(zip(names, lists, strict=True))
    user_names = {str(u["username"]): user_label(u) for u in users}
    by_username = {
        f["name"]
        for f in entity["fields"]
        if f["kind"] == "connection" and f.get("key") == "username"
    }
    for column in columns:
        if column.name in found:
            column.labels = found[column.name]
        elif column.name in by_username:  # an owner: shown by name
            column.labels = user_names

    errors: dict[str, str] = {}
    general: list[str] = []
    items: list[dict[str, Any]] = []
    next_cursor = None
    total: int | None = None
    capped = False
    if answer.status == 422:
        for problem in answer.field_errors:
            if problem.field in kinds or problem.field == "q":
                errors[problem.field] = problem.message
            else:
                general.append(problem.message)
        if not answer.field_errors:
            general.append(answer.detail or "Critères invalides.")
    elif not answer.ok:
        raise ApiError(answer)
    else:
        body = answer.json()
        items = body.get("items", [])
        next_cursor = body.get("next_cursor")
        total, capped = body.get("total"), bool(body.get("total_is_capped"))

    # The titles of connected records (the page's rows and the connection filters' values).
    wanted_titles: dict[str, set[str]] = {}
    for column in columns:
        if column.target:
            ids = {str(row[column.name]) for row in items if row.get(column.name)}
            wanted_titles.setdefault(column.target, set()).update(ids)
    for item in entity["filters"]:
        name = item["name"]
        if (
            item["kind"] == "connection"
            and item.get("target")
            and name in state.keys() - errors.keys()
        ):
            wanted_titles.setdefault(item["target"], set()).add(state[name])
    targets = list(wanted_titles)
    found_titles = await asyncio.gather(*(titles(request, t, wanted_titles[t]) for t in targets))
    named = dict(zip(targets, found_titles, strict=True))
    collections = {
        t: (registry.entity_named(t) or {}).get("collection", "") if registry else ""
        for t in targets
    }

    filters = []
    for item in entity["filters"]:
        name, kind = item["name"], item["kind"]
        value = state.get(name, "")
        control = FilterInput(
            name=name,
            label=item["label"],
            kind=kind,
            help=filter_help(item),
            value=value,
            input_type=INPUT_TYPES.get(kind, "text"),
            error=errors.get(name, ""),
            target=item.get("target"),
        )
        if kind == "list":
            declared = fields.get(name, {})
            choices = {c["code"]: c["label"] for c in declared.get("choices") or []}
            control.options = list((choices or found.get(name, {})).items())
            if value and value not in dict(control.options):
                control.options.append((value, value))  # kept as asked: the API judges it
        elif name in by_username:  # the owner: chosen among the active users, by name
            control.kind = "list"
            control.options = [
                (str(u["username"]), user_label(u)) for u in users if u.get("active", True)
            ]
            if value and value not in dict(control.options):
                shown = user_names.get(value)
                control.options.append((value, f"{shown} (désactivé)" if shown else value))
        elif kind == "datetime" and value:
            try:
                moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
                if moment.tzinfo is not None:
                    control.value = moment.astimezone(PARIS).strftime("%Y-%m-%dT%H:%M")
            except ValueError:
                pass
        elif kind == "connection" and value and control.target:
            title = named.get(control.target, {}).get(value)
            where = collections.get(control.target)
            if title and where:
                control.linked = (f"/crm/{where}/{value}", title)
                control.remove = link(collection, state, **{name: None, "cursor": None})
        filters.append(control)

    rows = []
    for record in items:
        cells = []
        for column in columns:
            raw = record.get(column.name)
            cells.append(cell(column, raw, named, collections))
        rows.append(
            {"id": record["id"], "href": f"/crm/{collection}/{record['id']}", "cells": cells}
        )

    current = state.get("sort") or entity["default_sort"]
    filtered = any(name in state for name in ("q", *kinds))
    values: dict[str, Any] = {
        "entity": entity,
        "collection": collection,
        "columns": columns,
        "rows": rows,
        "filters": filters,
        "search_error": errors.get("q", ""),
        "general_errors": general,
        "state": state,
        "query_text": state.get("q", ""),
        "current_sort": current,
        "default_sort_label": sort_option_label(entity, entity["default_sort"]),
        "sort_options": [
            (f"{prefix}{name}", sort_option_label(entity, f"{prefix}{name}"))
            for name in entity["sorts"]
            for prefix in ("", "-")
        ],
        "header_links": {
            column.name: link(
                collection,
                state,
                cursor=None,
                sort=(f"-{column.sort}" if current == column.sort else column.sort),
            )
            for column in columns
            if column.sort
        },
        "next_link": link(collection, state, cursor=next_cursor) if next_cursor else None,
        "first_link": link(collection, state, cursor=None) if "cursor" in state else None,
        "clear_link": f"/crm/{collection}",
        "mine_link": (
            link(collection, {}, owner=session.identity.username) if "owner" in kinds else None
        ),
        "count": None if total is None else count_text(total, capped, entity),
        "filtered": filtered,
        "invalid": answer.status == 422,
        "can_create": session.can_write and entity.get("service") != "gateway",
        "new_label": new_label(entity),
        "new_link": f"/crm/{collection}/nouveau",
    }
    if fragment:
        response = web.Response(
            text=render(request, "partials/list_view.html", **values), content_type="text/html"
        )
        response.headers["Cache-Control"] = "no-store"
        response.headers["Vary"] = "HX-Request"
        response.headers["HX-Push-Url"] = link(collection, state)  # without the empty inputs
        return response
    return page(request, "list.html", **values)


def cell(
    column: Column,
    raw: Any,
    named: Mapping[str, Mapping[str, str]],
    collections: Mapping[str, str],
) -> dict[str, Any]:
    """What a cell shows: ``text`` (formatted by the template's ``format``), and ``href`` when
    it links somewhere."""
    if raw is None or raw == "":
        return {"kind": column.kind, "value": None}
    if column.kind == "list":
        return {"kind": "text", "value": column.labels.get(str(raw), str(raw))}
    if column.kind == "boolean":
        return {"kind": "text", "value": "Oui" if raw else "Non"}
    if column.kind == "address" and isinstance(raw, dict):
        place = " ".join(str(raw.get(k) or "") for k in ("postal_code", "city")).strip()
        return {"kind": "text", "value": place or None}
    if column.kind == "connection":
        if column.target is None:  # a connection by another key: a user's name (labels)
            return {"kind": "text", "value": column.labels.get(str(raw), str(raw))}
        title = named.get(column.target, {}).get(str(raw))
        where = collections.get(column.target)
        if title is None or not where:
            return {"kind": "text", "value": "Fiche inaccessible"}
        return {"kind": "link", "value": title, "href": f"/crm/{where}/{raw}"}
    return {"kind": column.kind, "value": raw}

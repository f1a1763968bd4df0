"""Imprimer: the gateway gathers a record and the tabs of its form from the services that own
them, concurrently, and the documents service lays them out as a PDF. A tab whose service is
down is named as unavailable on the page instead of failing the print.

What is printable, and how, comes from the entities the services declare (the gateway's
Registry): an entity with a ``printing`` layout is printable; its heading, its printed fields
with their labels and kinds, and its sections (related collections, each with the field that
points back to the record, titled by the related entity's tab label or plural) are sent to the
documents service with the record, which keeps no labels of other services.

Every printed value is written as the web interface shows it: each field goes with its kind and,
for a list, the French label of each code: fixed choices come with the declaration, a
picklist's labels are read from the service that keeps it (with the caller's identity), for the
record's fields and for the columns of each section. A picklist that cannot be read leaves its
codes as they are rather than failing the print."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from services.common.errors import NotFound, ProblemError, ServiceUnavailable
from services.common.identity import Identity
from services.common.records import parse_record_id

from .proxy import Upstreams
from .settings import GatewaySettings
from .view_cache import ACCOUNT

SECTION_ROWS = "10"


@dataclass(frozen=True)
class PrintSection:
    """A related collection printed as a tab: its rows are those whose ``link`` names the
    record; ``service`` is None when no service declares the collection (unavailable)."""

    collection: str
    link: str
    title: str
    service: str | None
    title_field: str = "name"  # what names one of its rows
    # The related entity's fields, as printed_field (derived from its declaration: not compared)
    columns: tuple[dict[str, Any], ...] = dataclasses.field(default=(), compare=False)


@dataclass(frozen=True)
class PrintPlan:
    """How a record of ``collection`` prints."""

    kind: str  # the entity's name
    label: str  # the entity's French label: "Compte" (the download's name begins with it)
    collection: str
    service: str
    heading: str
    title_field: str
    fields: tuple[dict[str, Any], ...]  # printed_field of each printed one, in print order
    sections: tuple[PrintSection, ...]

    def picklists(self) -> set[str]:
        """The picklists whose labels the record's fields and the sections' columns need."""
        every = [*self.fields, *(c for s in self.sections for c in s.columns)]
        return {str(f["picklist"]) for f in every if f.get("picklist")}


def printed_field(field: Mapping[str, Any], label: str | None = None) -> dict[str, Any]:
    """A declared field as the documents service prints it: name, label, kind, and for a list
    its fixed choices' labels (code -> label) and the picklist that may name more."""
    return {
        "name": field["name"],
        "label": label if label is not None else field["label"],
        "kind": field.get("kind", "text"),
        "labels": {c["code"]: c["label"] for c in field.get("choices") or ()},
        "picklist": field.get("picklist"),
    }


def printable(entities: Sequence[Mapping[str, Any]]) -> dict[str, PrintPlan]:
    """Collection -> its print plan, for every entity declared with a print layout."""
    return {
        e["collection"]: print_plan(e, entities) for e in entities if e.get("printing") is not None
    }


def print_plan(entity: Mapping[str, Any], entities: Sequence[Mapping[str, Any]]) -> PrintPlan:
    layout = entity["printing"]
    declared_fields = {field["name"]: field for field in entity["fields"]}
    by_collection = {e["collection"]: e for e in entities}
    declared = [(section["collection"], section["link"]) for section in layout["sections"]]
    if entity["name"] == ACCOUNT:  # every 360° tab prints on the account, a new one too
        tabs = sorted(
            (e["tab"]["order"], e["collection"], e["tab"]["link"]) for e in entities if e.get("tab")
        )
        listed = {collection for collection, _ in declared}
        declared += [(collection, link) for _, collection, link in tabs if collection not in listed]
    sections = []
    for collection, link in declared:
        related = by_collection.get(collection)
        sections.append(
            PrintSection(
                collection=collection,
                link=link,
                title=section_title(related) if related else collection,
                service=related["service"] if related else None,
                title_field=related["title_field"] if related else "name",
                columns=tuple(printed_field(f) for f in related["fields"]) if related else (),
            )
        )
    return PrintPlan(
        kind=entity["name"],
        label=entity.get("label") or layout["heading"],
        collection=entity["collection"],
        service=entity["service"],
        heading=layout["heading"],
        title_field=entity["title_field"],
        fields=tuple(
            printed_field(declared_fields.get(f["name"], {"name": f["name"]}), f["label"])
            for f in layout["fields"]
        ),
        sections=tuple(sections),
    )


def section_title(entity: Mapping[str, Any]) -> str:
    """A related collection's title on paper: its 360° tab's label, else its plural."""
    tab = entity.get("tab")
    return str(tab["label"] if tab else entity["plural"])


async def print_record(
    upstreams: Upstreams,
    settings: GatewaySettings,
    identity: Identity,
    entities: Sequence[Mapping[str, Any]],
    collection: str,
    record_id: str,
    picklist_owner: Callable[[str], str],
) -> web.Response:
    """The record of ``collection`` as a PDF; ``picklist_owner`` names the service that keeps a
    picklist (the labels of the list fields' codes)."""
    plan = printable(entities).get(collection)
    if plan is None:
        raise NotFound("Cette fiche ne s'imprime pas.")
    record_id = str(parse_record_id(record_id))

    def url(service: str) -> str:
        return str(getattr(settings, f"{service}_url"))

    owner = plan.service
    status, record = await upstreams.call_json(
        "GET", url(owner), f"/api/v1/{collection}/{record_id}", identity, owner
    )
    if status == 404:
        raise NotFound("Aucune fiche ne porte cet identifiant.")
    if status != 200:
        raise ServiceUnavailable(f"Le service {owner} n'a pas rendu la fiche.")

    async def section(item: PrintSection) -> Any:
        if item.service is None:
            raise ServiceUnavailable(item.collection)
        params = {item.link: str(record["id"]), "limit": SECTION_ROWS}
        status, page = await upstreams.call_json(
            "GET",
            url(item.service),
            f"/api/v1/{item.collection}",
            identity,
            item.service,
            params=params,
        )
        if status != 200:
            raise ServiceUnavailable(item.service)
        return page

    async def picklist(name: str) -> dict[str, str]:
        owner = picklist_owner(name)
        status, values = await upstreams.call_json(
            "GET", url(owner), f"/api/v1/picklists/{name}", identity, owner
        )
        if status != 200 or not isinstance(values, dict):
            raise ServiceUnavailable(owner)
        return {
            str(v["code"]): str(v["label"])
            for v in values.get("values", [])
            if isinstance(v, dict) and "code" in v and "label" in v
        }

    names = [item.collection for item in plan.sections]
    lists = sorted(plan.picklists())
    results, read = await asyncio.gather(
        asyncio.gather(
            *(
                asyncio.wait_for(section(item), settings.upstream_timeout_seconds)
                for item in plan.sections
            ),
            return_exceptions=True,
        ),
        asyncio.gather(
            *(asyncio.wait_for(picklist(n), settings.upstream_timeout_seconds) for n in lists),
            return_exceptions=True,
        ),
    )
    labels = {n: r for n, r in zip(lists, read, strict=True) if not isinstance(r, BaseException)}
    pages = {n: r for n, r in zip(names, results, strict=True) if not isinstance(r, BaseException)}
    for result in [*results, *read]:
        if isinstance(result, BaseException) and not isinstance(
            result, ProblemError | TimeoutError
        ):
            raise result
    body = {
        "kind": plan.kind,
        "label": plan.label,
        "heading": plan.heading,
        "title_field": plan.title_field,
        "fields": [labelled(f, labels) for f in plan.fields],
        "columns": {
            item.collection: [labelled(f, labels) for f in item.columns] for item in plan.sections
        },
        "titles": {item.collection: item.title for item in plan.sections},
        "row_titles": {item.collection: item.title_field for item in plan.sections},
        "record": record,
        "sections": pages,
        "unavailable": [n for n in names if n not in pages],
    }
    status, pdf, headers = await upstreams.call_raw(
        "POST", url("documents"), "/api/v1/print", identity, "documents", body=body
    )
    if status != 200:
        raise ServiceUnavailable("Le service documents n'a pas pu produire le PDF.")
    return web.Response(body=pdf, status=200, headers=headers)


def labelled(
    field: Mapping[str, Any], picklists: Mapping[str, Mapping[str, str]]
) -> dict[str, Any]:
    """``field`` as the print body sends it: its choices' labels, and its picklist's (which an
    administrator may have renamed or extended) over them."""
    labels = {**field["labels"], **picklists.get(str(field.get("picklist")), {})}
    return {"name": field["name"], "label": field["label"], "kind": field["kind"], "labels": labels}

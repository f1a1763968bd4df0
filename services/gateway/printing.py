"""Imprimer: the gateway gathers a record and the tabs of its form from the services that own
them, concurrently, and the documents service lays them out as a PDF. A tab whose service is
down is named as unavailable on the page instead of failing the print."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from services.common.errors import NotFound, ProblemError, ServiceUnavailable
from services.common.identity import Identity
from services.common.records import parse_record_id

from .proxy import Upstreams
from .settings import GatewaySettings

SECTION_ROWS = "10"
# kind -> (owning service, collection, {section: (service, collection, filter field)})
PRINTABLE: dict[str, tuple[str, str, dict[str, tuple[str, str, str]]]] = {
    "account": (
        "accounts",
        "accounts",
        {
            "contacts": ("accounts", "contacts", "account_id"),
            "actions": ("activities", "actions", "account_id"),
            "opportunities": ("activities", "opportunities", "account_id"),
            "projects": ("activities", "projects", "account_id"),
            "quotes": ("documents", "quotes", "account_id"),
            "invoices": ("documents", "invoices", "account_id"),
        },
    ),
    "contact": ("accounts", "contacts", {"actions": ("activities", "actions", "contact_id")}),
    "opportunity": (
        "activities",
        "opportunities",
        {
            "actions": ("activities", "actions", "opportunity_id"),
            "projects": ("activities", "projects", "opportunity_id"),
        },
    ),
    "project": ("activities", "projects", {"actions": ("activities", "actions", "project_id")}),
}
KIND_OF_COLLECTION = {collection: kind for kind, (_, collection, _) in PRINTABLE.items()}


async def print_record(
    upstreams: Upstreams,
    settings: GatewaySettings,
    identity: Identity,
    collection: str,
    record_id: str,
) -> web.Response:
    record_id = str(parse_record_id(record_id))
    kind = KIND_OF_COLLECTION[collection]
    owner, _, sections = PRINTABLE[kind]

    def url(service: str) -> str:
        return str(getattr(settings, f"{service}_url"))

    status, record = await upstreams.call_json(
        "GET", url(owner), f"/api/v1/{collection}/{record_id}", identity, owner
    )
    if status == 404:
        raise NotFound("Aucune fiche ne porte cet identifiant.")
    if status != 200:
        raise ServiceUnavailable(f"Le service {owner} n'a pas rendu la fiche.")

    async def section(service: str, path: str, field: str) -> Any:
        params = {field: str(record["id"]), "limit": SECTION_ROWS}
        status, page = await upstreams.call_json(
            "GET", url(service), f"/api/v1/{path}", identity, service, params=params
        )
        if status != 200:
            raise ServiceUnavailable(service)
        return page

    names = list(sections)
    results = await asyncio.gather(
        *(
            asyncio.wait_for(section(*sections[name]), settings.upstream_timeout_seconds)
            for name in names
        ),
        return_exceptions=True,
    )
    pages = {n: r for n, r in zip(names, results, strict=True) if not isinstance(r, BaseException)}
    for result in results:
        if isinstance(result, BaseException) and not isinstance(
            result, ProblemError | TimeoutError
        ):
            raise result
    body = {
        "kind": kind,
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

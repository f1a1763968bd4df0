"""The 360° view of an account: the gateway asks the owning services concurrently, each call
with its own timeout; a service that is down or slow does not fail the view, its sections are
named in ``unavailable``. The account itself is needed: without it, 404 or 503.

Which services are asked, and for which sections, comes from the entities the services declare
(the gateway's Registry): every entity with a 360° tab is a section, answered by its service;
the account's own service answers the account and its sections first. A view composed before
every service's declarations are known (the gateway not ready yet) is not kept in the cache.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from services.common.errors import NotFound, ProblemError, ServiceUnavailable
from services.common.identity import Identity
from services.common.records import parse_record_id
from services.common.views import STATEMENTS_HEADER, per_tab

from .proxy import Upstreams
from .registry import REGISTRY_KEY
from .settings import GatewaySettings
from .view_cache import ACCOUNT, ViewCache

CACHE_HEADER = "X-View-Cache"  # hit, or miss: composed for this request


@dataclass(frozen=True)
class ViewLayout:
    """Who answers a view: ``main`` answers the account (and its own tabs); each of ``others``
    answers its tabs, named in ``unavailable`` when it cannot."""

    main: str | None  # None: no service has declared the account yet
    others: dict[str, tuple[str, ...]]  # service -> its tabs' collections, in tab order


def view_layout(entities: Sequence[Mapping[str, Any]]) -> ViewLayout:
    """The services of a view and their sections, in the order of the tabs (a service comes
    where its first tab comes)."""
    main = next((e["service"] for e in entities if e["name"] == ACCOUNT), None)
    tabs = sorted(
        ((e["tab"]["order"], e["collection"], e["service"]) for e in entities if e.get("tab")),
    )
    others: dict[str, tuple[str, ...]] = {}
    for _, collection, service in tabs:
        if service != main:
            others[service] = (*others.get(service, ()), collection)
    return ViewLayout(main, others)


async def account_view(
    request: web.Request,
    upstreams: Upstreams,
    settings: GatewaySettings,
    identity: Identity,
    cache: ViewCache,
) -> web.Response:
    account_id = str(parse_record_id(request.match_info["id"], "fiche compte"))
    size = per_tab(request)
    if "no-cache" not in request.headers.get("Cache-Control", ""):
        cached = cache.get(account_id, size)
        if cached is not None:
            return web.Response(
                body=cached,
                content_type="application/json",
                headers={STATEMENTS_HEADER: "0", CACHE_HEADER: "hit"},
            )
    generation = cache.generation
    path = f"/api/v1/views/accounts/{account_id}"

    def ask(service: str) -> Awaitable[tuple[int, bytes, dict[str, str]]]:
        return upstreams.call_raw(
            "GET",
            getattr(settings, f"{service}_url"),
            path,
            identity,
            service,
            params={"per_tab": str(size)},
            limit_seconds=settings.view_timeout_seconds,  # a late service: ServiceUnavailable
        )

    registry = request.app[REGISTRY_KEY]
    layout = view_layout(registry.entities())
    if layout.main is None:
        raise ServiceUnavailable("Le service des comptes ne répond pas ; réessayez.")
    names = [layout.main, *layout.others]
    results = await asyncio.gather(*(ask(name) for name in names), return_exceptions=True)
    answers = dict(zip(names, results, strict=True))
    main = answers.pop(layout.main)
    if isinstance(main, BaseException):
        if isinstance(main, ProblemError | TimeoutError):
            raise ServiceUnavailable("Le service des comptes ne répond pas ; réessayez.") from main
        raise main
    status, payload, headers = main
    if status == 404:
        raise NotFound("Aucun compte ne porte cet identifiant.")
    if status != 200:
        raise ServiceUnavailable("Le service des comptes n'a pas rendu le compte.")
    # Each service answers a JSON object of its sections: they are joined as they are, without
    # parsing them again (the view is the hot path).
    parts = [payload.strip()[1:-1]]
    statements = int(headers.get(STATEMENTS_HEADER, 0))
    unavailable: list[str] = []
    for service, sections in layout.others.items():
        answer = answers[service]
        if isinstance(answer, BaseException) and not isinstance(
            answer, ProblemError | TimeoutError
        ):
            raise answer
        if isinstance(answer, BaseException) or answer[0] != 200:
            unavailable += sections
            continue
        parts.append(answer[1].strip()[1:-1])
        statements += int(answer[2].get(STATEMENTS_HEADER, 0))
    parts.append(b'"unavailable":' + orjson.dumps(unavailable))
    body = b"{" + b",".join(part for part in parts if part) + b"}"
    if not unavailable and not registry.missing():  # complete: every service's tabs known
        cache.store(account_id, size, body, generation)
    return web.Response(
        body=body,
        content_type="application/json",
        headers={STATEMENTS_HEADER: str(statements), CACHE_HEADER: "miss"},
    )

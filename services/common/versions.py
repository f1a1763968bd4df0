"""Read your writes across services: the current version of a service's records, and the
``X-CRM-Seen`` header that carries versions from the gateway to the service it calls.

Before it forwards a write that references records of other services (an action's account,
a quote's contact), the gateway asks each owner ``POST /internal/versions`` for their current
versions, then passes them on in ``X-CRM-Seen``. The service answering the write waits, before its
handler and without holding a database connection, until its replica holds at least those
versions (services.common.replica.seen_versions), so a record restored, trashed or created just
before is seen as it now is. Version 0 means "the owner does not know this record": it is not
waited for (a missing reference is refused at once). Pure code but for the route.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from .errors import FieldError, ValidationFailed
from .runtime import POOL_KEY
from .web import json_response, read_json

log = logging.getLogger(__name__)

SEEN_HEADER = "X-CRM-Seen"
VERSIONS_PATH = "/internal/versions"
MAX_IDS = 500  # per call: a write names a handful of records
# One item of the header: <entity>=<uuid>:<version>
_ITEM = re.compile(r"([a-z][a-z_]*)=([0-9a-fA-F-]{32,36}):([0-9]{1,10})")

# (entity, id) -> the version the caller has seen
Seen = dict[tuple[str, uuid.UUID], int]


@dataclass(frozen=True)
class Table:
    """An entity kept in ``table`` that has no record spec (yet)."""

    entity: str
    table: str


class Versioned(Protocol):
    """What the route needs of a record spec (services.common.crud.RecordSpec has it)."""

    @property
    def entity(self) -> str: ...

    @property
    def table(self) -> str: ...


def format_seen(versions: Mapping[str, Mapping[str, int]]) -> str:
    """``{"account": {id: 3}}`` as the header's value: ``account=<id>:3`` items, comma-separated,
    in a stable order."""
    return ",".join(
        f"{entity}={record_id}:{version}"
        for entity in sorted(versions)
        for record_id, version in sorted(versions[entity].items())
    )


def parse_seen(value: str | None) -> Seen:
    """The header's versions; a malformed item is left out (the header only makes a service wait
    longer, it never makes a write pass), and logged."""
    seen: Seen = {}
    for item in (value or "").split(","):
        item = item.strip()
        if not item:
            continue
        match = _ITEM.fullmatch(item)
        try:
            if match is None:
                raise ValueError(item)
            key = (match[1], uuid.UUID(match[2]))
        except ValueError:
            log.warning("%s: malformed item left out: %.80r", SEEN_HEADER, item)
            continue
        seen[key] = max(seen.get(key, 0), int(match[3]))
    return seen


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _asked(body: Any, owned: Mapping[str, str]) -> dict[str, list[uuid.UUID]]:
    """``{"account": ["<uuid>", ...]}`` checked: only this service's entities, ids as UUIDs."""
    if not isinstance(body, dict):
        raise ValidationFailed([FieldError("body", "Doit être un objet JSON.")])
    errors: list[FieldError] = []
    asked: dict[str, list[uuid.UUID]] = {}
    for entity, ids in body.items():
        if entity not in owned:
            errors.append(FieldError(entity, "Ce service ne tient pas ces fiches."))
        elif not isinstance(ids, list) or len(ids) > MAX_IDS:
            errors.append(FieldError(entity, f"Liste d'au plus {MAX_IDS} identifiants attendue."))
        else:
            parsed = [_uuid(i) for i in ids]
            if None in parsed:
                errors.append(FieldError(entity, "Identifiant (UUID) attendu."))
            asked[entity] = [i for i in parsed if i is not None]
    if errors:
        raise ValidationFailed(errors)
    return asked


def versions_routes(specs: Mapping[str, Versioned]) -> list[web.RouteDef]:
    """``POST /internal/versions``: ``{"account": [id, ...]}`` -> ``{"account": {id: version}}``,
    one statement per entity asked; a record never seen is not in the answer (trashed ones are:
    their trashing is a version too). Internal: the identity middleware requires the gateway's
    signed identity, as for every other route."""
    owned = {spec.entity: spec.table for spec in specs.values()}

    async def versions(request: web.Request) -> web.Response:
        asked = _asked(await read_json(request), owned)
        answer: dict[str, dict[str, int]] = {}
        async with request.app[POOL_KEY].acquire() as conn:
            for entity, ids in asked.items():
                rows = await conn.fetch(
                    f"SELECT id, version FROM {owned[entity]} WHERE id = ANY($1::uuid[])",  # noqa: S608 - a spec's table
                    ids,
                )
                answer[entity] = {str(row["id"]): row["version"] for row in rows}
        return json_response(answer)

    return [web.post(VERSIONS_PATH, versions)]

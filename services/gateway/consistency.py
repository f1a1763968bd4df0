"""Read your writes across services, the gateway's part: before forwarding a write that names
records of other services, ask their owners for the versions they hold now and pass them on in
``X-CRM-Seen``, so the service answering the write waits for its replica to hold them.

A write the gateway acknowledged (restoring a contact, trashing an account) is then seen by the
next call whatever the event's latency: the gateway asks the owner, which answers from its own
table, after the acknowledged commit. See services.common.versions for the service's part.

A creation (``POST /api/v1/<collection>``) or a merge patch (``PATCH .../<id>``) with a JSON body
is looked at for its connection fields (from the collection's public declaration) that point to
another service's entity; a write on ``/api/v1/<collection>/<id>/<action>`` served by another
service than the record's owner (an account's mail merge, by documents) for that record. An
owner that cannot answer in time is left out, with a warning: the write goes on as before (the
replica waits for a record it lacks, not for a version). An id the owner answers it does not
hold is forwarded as version 0 (``account=<id>:0``): the service does not wait for it at all.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import orjson
from aiohttp import web
from aiohttp.typedefs import Middleware

from services.common.errors import ProblemError
from services.common.identity import Identity
from services.common.versions import VERSIONS_PATH, format_seen
from services.common.web import IDENTITY_KEY

log = logging.getLogger(__name__)

# The X-CRM-Seen value computed for a request, for the forwarding (services.gateway.proxy).
SEEN_KEY = web.RequestKey("seen_versions", str)
VERSIONS_TIMEOUT_SECONDS = 2.0
JSON_TYPES = frozenset({"application/json", "application/merge-patch+json"})
_WRITE_PATH = re.compile(r"/api/v1/([a-z][a-z0-9_-]*)(?:/([^/]+))?")
_RECORD_ACTION_PATH = re.compile(r"/api/v1/([a-z][a-z0-9_-]*)/([^/]+)/[^/]+")
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# service -> entity -> ids (as UUID strings)
Wanted = dict[str, dict[str, list[str]]]
# entity -> id -> version
Versions = dict[str, dict[str, int]]


class Declarations(Protocol):
    """What is read of the gateway's registry (services.gateway.registry.Registry)."""

    def entity(self, collection: str) -> Mapping[str, Any] | None: ...

    def entity_named(self, name: str) -> Mapping[str, Any] | None: ...

    def service_of_path(self, path: str) -> str | None: ...


class Upstream(Protocol):
    """What is used of the gateway's client of the services (services.gateway.proxy.Upstreams)."""

    async def call_raw(
        self,
        method: str,
        base_url: str,
        path: str,
        identity: Identity,
        service: str,
        *,
        params: dict[str, str] | None = None,
        body: object = None,
        limit_seconds: float | None = None,
    ) -> tuple[int, bytes, dict[str, str]]: ...


class VersionsUnavailable(Exception):
    """An owner did not answer its versions (down, slow, or a bad answer)."""


def written_declaration(
    method: str, path: str, declarations: Declarations
) -> Mapping[str, Any] | None:
    """The declaration of the collection a creation or a merge patch writes, else None."""
    match = _WRITE_PATH.fullmatch(path)
    if match is None:
        return None
    collection, record_id = match.groups()
    if (method, record_id is None) not in (("POST", True), ("PATCH", False)):
        return None
    return declarations.entity(collection)


def record_in_path(path: str, declarations: Declarations) -> Wanted:
    """A record a write names in its path and another service serves (the mail merge of an
    account, served by documents): ``/api/v1/<collection>/<id>/<action>``."""
    match = _RECORD_ACTION_PATH.fullmatch(path)
    declaration = declarations.entity(match[1]) if match is not None else None
    if match is None or declaration is None:
        return {}
    record_id, owner = _uuid(match[2]), declaration.get("service")
    serving = declarations.service_of_path(path)
    if record_id is None or not owner or serving is None or serving == owner:
        return {}  # not an id, or the owner's own route (it reads its own table)
    return {str(owner): {str(declaration["name"]): [record_id]}}


def connections(declaration: Mapping[str, Any]) -> dict[str, str]:
    """Field name -> target entity, for every connection a client writes."""
    return {
        field["name"]: field["target"]
        for field in declaration.get("fields", ())
        if field.get("kind") == "connection"
        and field.get("target")
        and field.get("key", "id") == "id"  # by id (an owner is named by username)
        and not field.get("read_only")
    }


def foreign_connections(
    declaration: Mapping[str, Any], declarations: Declarations
) -> dict[str, tuple[str, str]]:
    """Field name -> (target entity, its service), for the connections to another service's
    entity (one to the writing service's own entity is checked in its own table)."""
    foreign: dict[str, tuple[str, str]] = {}
    for field, target in connections(declaration).items():
        owner = declarations.entity_named(target)
        service = owner.get("service") if owner is not None else None
        if service and service != declaration.get("service"):
            foreign[field] = (target, str(service))
    return foreign


def referenced(declaration: Mapping[str, Any], body: Any, declarations: Declarations) -> Wanted:
    """The records of other services the body names in its connection fields, by owner."""
    if not isinstance(body, dict):
        return {}
    wanted: Wanted = {}
    for field, (target, service) in foreign_connections(declaration, declarations).items():
        record_id = _uuid(body.get(field))
        if record_id is None:
            continue  # not an id: the service names the error
        ids = wanted.setdefault(service, {}).setdefault(target, [])
        if record_id not in ids:
            ids.append(record_id)
    return wanted


def _uuid(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


# The version forwarded for an id its owner answered it does not hold: the service answering
# the write does not wait for it (a missing reference is refused at once, 422).
UNKNOWN_VERSION = 0


def answered(asked: Mapping[str, list[str]], answer: Any) -> Versions:
    """The owner's answer, keeping only what was asked and whole versions; an id asked that the
    owner's answer for its entity leaves out is one the owner does not know: UNKNOWN_VERSION.
    An entity the answer leaves out, or a version that is not a whole number, is left out
    (nothing is said of it)."""
    if not isinstance(answer, dict):
        raise VersionsUnavailable("the answer is not a JSON object")
    versions: Versions = {}
    for entity, ids in asked.items():
        held = answer.get(entity)
        if not isinstance(held, dict):
            continue
        versions[entity] = {
            i: UNKNOWN_VERSION if v is None else v
            for i in ids
            if (v := held.get(i)) is None or (isinstance(v, int) and not isinstance(v, bool))
        }
    return versions


async def ask_versions(
    upstream: Upstream,
    base_url: str,
    service: str,
    identity: Identity,
    asked: Mapping[str, list[str]],
    limit_seconds: float,
) -> Versions:
    """``POST /internal/versions`` of one owner (VersionsUnavailable when it cannot answer)."""
    try:
        status, payload, _ = await upstream.call_raw(
            "POST", base_url, VERSIONS_PATH, identity, service,
            body=dict(asked), limit_seconds=limit_seconds,
        )  # fmt: skip
    except ProblemError as exc:  # unreachable or too slow (logged by the client)
        raise VersionsUnavailable(exc.detail) from exc
    if status != 200:
        raise VersionsUnavailable(f"answered {status}: {payload[:200]!r}")
    try:
        return answered(asked, orjson.loads(payload))
    except orjson.JSONDecodeError as exc:
        raise VersionsUnavailable("the answer is not JSON") from exc


async def seen_versions(
    wanted: Wanted,
    ask: Callable[[str, Mapping[str, list[str]]], Awaitable[Versions]],
) -> Versions:
    """Every owner asked at once; one that cannot answer is left out, with a warning."""
    services = list(wanted)
    answers = await asyncio.gather(
        *(ask(service, wanted[service]) for service in services), return_exceptions=True
    )
    versions: Versions = {}
    for service, answer in zip(services, answers, strict=True):
        if isinstance(answer, VersionsUnavailable):
            log.warning(
                "versions of %s not known (%s): the write is forwarded without them",
                service,
                answer,
            )
        elif isinstance(answer, BaseException):
            raise answer
        else:
            for entity, held in answer.items():
                versions.setdefault(entity, {}).update(held)
    return versions


def read_your_writes(
    declarations: Callable[[], Declarations | None],
    upstream: Callable[[], Upstream],
    base_url: Callable[[str], str],
    limit_seconds: float = VERSIONS_TIMEOUT_SECONDS,
) -> Middleware:
    """Sets ``request[SEEN_KEY]`` for a write that names other services' records; the forwarding
    sends it as X-CRM-Seen (a client's own X-CRM-Seen is never forwarded). Placed after the
    authentication (it asks the owners as the caller)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method not in WRITE_METHODS:  # reads: nothing to ask, nothing to wait for
            return await handler(request)
        known = declarations()
        if IDENTITY_KEY in request and known is not None:
            wanted = await _wanted(request, known)
            if wanted:
                owners, identity = upstream(), request[IDENTITY_KEY]

                async def ask(service: str, asked: Mapping[str, list[str]]) -> Versions:
                    try:
                        url = base_url(service)
                    except (AttributeError, KeyError) as exc:  # the gateway's own, say
                        raise VersionsUnavailable(f"no address for {service}") from exc
                    return await ask_versions(owners, url, service, identity, asked, limit_seconds)

                if seen := format_seen(await seen_versions(wanted, ask)):
                    request[SEEN_KEY] = seen
        return await handler(request)

    return middleware


async def _wanted(request: web.Request, known: Declarations) -> Wanted:
    """Other services' records the write names: in its body's connections, or in its path."""
    declaration = written_declaration(request.method, request.path, known)
    if declaration is None:
        return record_in_path(request.path, known)
    if request.content_type not in JSON_TYPES or not foreign_connections(declaration, known):
        return {}
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return {}  # the service says what is wrong with it
    return referenced(declaration, body, known)

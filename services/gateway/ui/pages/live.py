"""A record's live notices: ``GET /crm/{collection}/{id}/evenements``, a stream of server-sent
events the record page (static/js/live.js) listens to.

- ``event: changed``: another version of the record was committed (or it was deleted,
  restored), with who, when, and the fields changed, labelled as the form labels them. Only
  versions newer than the one the page shows (``?version=``, or the last the stream sent: the
  browser's ``Last-Event-ID`` after a reconnection) are told.
- ``event: related``: on an account, a record of one of its 360° tabs was added, changed,
  deleted or restored.
- ``event: ended``: the web session ended (signed out, deactivated, role or password changed):
  the page stops listening.

A stream is refused, without streaming, when its web session already holds
``STREAMS_PER_SESSION`` (429) or this gateway copy ``CRM_WEB_MAX_STREAMS`` (503), both with
``Retry-After``: the browser's EventSource then stops and live.js tries again later, quietly. A
``version`` (or ``Last-Event-ID``) that is not a version, e.g. beyond any integer, is refused
(400): the page always sends the one it shows.

The record is read through the API as the signed-in user before anything is streamed (a 404
or 403 is an error page, which ends the browser's EventSource), and again whenever the feed
may have missed a change (it lost the broker, or the stream just opened): what was committed
meanwhile is then told from the record itself (who and when, without the fields). A comment
every ``HEARTBEAT_SECONDS`` keeps proxies from closing a quiet stream and notices a browser
that left; the session is checked as often. A stream closes once its session would be idle:
the browser's reconnection then meets the sign-in check like any page request.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from ...registry import REGISTRY_KEY
from ...web import SESSION_CHECK_KEY
from ..client import ApiError, api
from ..live import (
    LIVE_FEED_KEY,
    Change,
    Closing,
    LiveFeed,
    Resync,
    Subscription,
    TooManyStreams,
)
from ..render import PARIS
from ..session import WEB_SESSIONS_KEY, WebSession, web_session

log = logging.getLogger(__name__)

routes = web.RouteTableDef()

HEARTBEAT_SECONDS = 15.0
TICK_SECONDS = 1.0  # how often a stream looks whether its browser is still there
RETRY_MILLISECONDS = 3000  # the browser's reconnection delay
REFUSED_RETRY_SECONDS = 30  # Retry-After of a refused stream (live.js waits as long)
FULL_LOG_SECONDS = 60.0  # a copy holding its maximum of streams is logged at most this often
MAX_VERSION = 2**63 - 1  # a record's version is a PostgreSQL bigint
CHANGES = {
    "deleted": "mise à la corbeille",
    "restored": "sortie de la corbeille",
    "created": "créée",
}
RELATED = {
    "created": "Ajout",
    "deleted": "Mise à la corbeille",
    "restored": "Sortie de la corbeille",
}


@routes.get("/crm/{collection}/{id}/evenements")
async def record_events(request: web.Request) -> web.StreamResponse:
    session = web_session(request)
    registry = request.app[REGISTRY_KEY]
    entity = registry.entity(request.match_info["collection"])
    record_id = request.match_info["id"]
    if entity is None or entity["name"] == "user" or not _is_uuid(record_id):
        raise web.HTTPNotFound()
    feed = request.app[LIVE_FEED_KEY]
    if feed.closing:
        raise web.HTTPServiceUnavailable(text="La passerelle redémarre : réessayez.")
    last_told = request.headers.get("Last-Event-ID")  # a reconnection: the last version told
    try:
        known = max(_version(request.query.get("version")), _version(last_told))
    except ValueError:
        return _refused(400, "Version de fiche invalide.")
    feed.know(session.identity.username, session.display_name)
    if request.method == "HEAD":  # the headers a stream would have, without the stream
        await api(request).get(f"/api/v1/{entity['collection']}/{record_id}")
        return web.Response(content_type="text/event-stream", charset="utf-8")
    try:
        admitted = feed.admit(session.id)  # counted from here: released by the block below
    except TooManyStreams as exc:
        if exc.per_session:
            return _refused(
                429, "Trop de fiches suivies en direct pour cette session : réessayez plus tard."
            )
        if time.monotonic() - feed.full_logged_at >= FULL_LOG_SECONDS:  # not once a refusal
            feed.full_logged_at = time.monotonic()
            log.warning("live streams: this copy holds its maximum (%d)", feed.max_streams)
        return _refused(503, "Trop de fiches suivies en direct : réessayez plus tard.")
    with admitted, feed.subscribe(record_id) as subscription:
        # Subscribed first, then read: a change committed in between is told either way.
        record = await api(request).get(f"/api/v1/{entity['collection']}/{record_id}")
        stream = Stream(request, feed, entity, record_id, known, session)
        return await stream.run(record, subscription)


def _refused(status: int, text: str) -> web.Response:
    """A stream refused without streaming (returned, not raised: the page_errors middleware
    would render an HTML page without the Retry-After)."""
    headers = {"Cache-Control": "no-store"}
    if status != 400:
        headers["Retry-After"] = str(REFUSED_RETRY_SECONDS)
    return web.Response(status=status, text=text, headers=headers)


class Stream:
    """One browser's stream of one record."""

    def __init__(
        self,
        request: web.Request,
        feed: LiveFeed,
        entity: Mapping[str, Any],
        record_id: str,
        known: int,
        session: WebSession,
    ) -> None:
        self.request, self.feed, self.entity = request, feed, entity
        self.record_id, self.known, self.session = record_id, known, session
        self.response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",  # a reverse proxy passes each event on at once
            }
        )
        idle = request.app[WEB_SESSIONS_KEY].idle_seconds
        # Past this moment the session may have ended idle: close, and let the browser's
        # reconnection meet the sign-in check (a stream is not the user's activity).
        self.idle_deadline = time.monotonic() + max(idle - (time.time() - session.last_seen), 1.0)

    async def run(
        self, record: Mapping[str, Any], subscription: Subscription
    ) -> web.StreamResponse:
        await self.response.prepare(self.request)
        try:
            await self.send(f"retry: {RETRY_MILLISECONDS}\n: flux des modifications\n\n")
            await self.caught_up(record)
            last_beat = last_check = time.monotonic()
            while True:
                items = await subscription.next(TICK_SECONDS)
                for item in items:
                    if isinstance(item, Closing):
                        return self.response
                    if isinstance(item, Resync):
                        await self.caught_up(await self.read_record())
                    elif isinstance(item, Change):
                        await self.told(item)
                if self.gone():
                    return self.response
                now = time.monotonic()
                if now - last_check >= HEARTBEAT_SECONDS:
                    last_check = now
                    if not await self.request.app[SESSION_CHECK_KEY].is_open(self.session.id):
                        await self.send("event: ended\ndata: {}\n\n")
                        return self.response
                    if now >= self.idle_deadline:
                        return self.response
                if now - last_beat >= HEARTBEAT_SECONDS:
                    last_beat = now
                    await self.send(": toujours là\n\n")
        except ConnectionError:
            return self.response  # the browser left
        except (aiohttp.ClientError, TimeoutError) as exc:
            # The record could not be read again (the API away): the stream ends, the browser
            # comes back later (its EventSource retries) — never an error page on a stream.
            log.warning("live stream of %s ended: %s", self.request.path, type(exc).__name__)
            return self.response
        except ApiError as exc:
            if exc.answer.status == 401:  # the session ended while the record was read
                await self._quietly("event: ended\ndata: {}\n\n")
            return self.response

    def gone(self) -> bool:
        transport = self.request.transport
        return transport is None or transport.is_closing()

    async def send(self, text: str) -> None:
        await self.response.write(text.encode())

    async def _quietly(self, text: str) -> None:
        with contextlib.suppress(ConnectionError):
            await self.send(text)

    async def read_record(self) -> Mapping[str, Any] | None:
        """The record as it is now (None: it is gone, or unreadable for a while)."""
        answer = await api(self.request).call(
            "GET", f"/api/v1/{self.entity['collection']}/{self.record_id}"
        )
        if answer.status == 401:
            raise ApiError(answer)
        if not answer.ok:
            return None
        data = answer.json()
        return data if isinstance(data, dict) else None

    async def caught_up(self, record: Mapping[str, Any] | None) -> None:
        """Tell what the record says was committed since the version the page knows."""
        if record is None:
            return
        version = record.get("version")
        version = version if isinstance(version, int) else 0
        if version <= self.known:
            return
        actor = str(record.get("updated_by") or "")
        at = _instant(record.get("updated_at"))
        await self.event("changed", version, self.notice(version, "updated", actor, at, ()))

    async def told(self, change: Change) -> None:
        if change.record_id == self.record_id:
            if change.derived or change.version <= self.known:
                return  # a system change keeps the version; an older one the page has
            fields = self.labels(change.fields)
            notice = self.notice(change.version, change.change, change.actor, change.at, fields)
            await self.event("changed", change.version, notice)
        elif not change.derived:
            await self.event("related", None, self.related(change))

    async def event(self, name: str, version: int | None, data: Mapping[str, Any]) -> None:
        head = f"event: {name}\n"
        if version is not None:
            self.known = version
            head += f"id: {version}\n"
        await self.send(head + "data: " + orjson.dumps(data).decode() + "\n\n")

    def labels(self, fields: tuple[str, ...]) -> list[str]:
        """The French labels of ``fields`` as the form shows them (others are not shown)."""
        declared = {f["name"]: f["label"] for f in self.entity.get("fields", ())}
        return [declared[name] for name in fields if name in declared]

    def notice(
        self, version: int, change: str, actor: str, at: datetime, fields: list[str] | tuple[()]
    ) -> dict[str, Any]:
        own = actor == self.session.identity.username
        who = "vous, dans une autre fenêtre," if own else self.feed.name_of(actor) or "quelqu'un"
        when = _when(at)
        done = CHANGES.get(change, "modifiée")
        message = f"Cette fiche vient d'être {done} par {who} {when}"
        if fields:
            message += f" ({', '.join(fields)})"
        return {
            "version": version,
            "entity": self.entity["name"],
            "change": change,
            "actor": self.feed.name_of(actor),
            "own": own,
            "at": at.isoformat(),
            "fields": list(fields),
            "message": message + ".",
        }

    def related(self, change: Change) -> dict[str, Any]:
        registry = self.request.app[REGISTRY_KEY]
        declared = registry.entity_named(change.entity) or {}
        tab = declared.get("tab") or {}
        title_field = declared.get("title_field") or "name"
        title = str(change.record.get(title_field) or "").strip()
        if title_field == "last_name" and change.record.get("first_name"):  # a person
            title = f"{str(change.record['first_name']).strip()} {title}".strip()
        what = RELATED.get(change.change, "Modification")
        where = f"dans l'onglet {tab['label']}" if tab.get("label") else "parmi les fiches liées"
        message = f"{what} {where}"
        if title:
            message += f" : {title}"
        message += f", par {self.feed.name_of(change.actor)} {_when(change.at)}."
        return {
            "entity": change.entity,
            "collection": declared.get("collection"),
            "tab": tab.get("label"),
            "id": change.record_id,
            "change": change.change,
            "title": title,
            "actor": self.feed.name_of(change.actor),
            "at": change.at.isoformat(),
            "message": message,
        }


def _when(at: datetime) -> str:
    """ "à 22:41" today (Paris), "le 28/11/2026 à 22:41" another day."""
    local = at.astimezone(PARIS)
    if local.date() == datetime.now(PARIS).date():
        return f"à {local:%H:%M}"
    return f"le {local:%d/%m/%Y} à {local:%H:%M}"


def _instant(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    return datetime.now(PARIS)


def _version(value: str | None) -> int:
    """A version as a page or a browser sends it; 0 when absent or empty. ValueError when it is
    not one: not a whole number, or beyond any record's version."""
    text = (value or "").strip().strip('"')
    if not text:
        return 0
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_VERSION)):
        raise ValueError(f"not a version: {text[:40]!r}")
    version = int(text)
    if version > MAX_VERSION:
        raise ValueError(f"not a version: {text[:40]!r}")
    return version


def _is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False

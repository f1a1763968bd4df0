"""The gateway's HTTP client of the services: forwards a call with the caller's signed identity."""

from __future__ import annotations

import asyncio
import io
import logging
import re
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from yarl import URL

from services.common.errors import ServiceUnavailable
from services.common.identity import HEADER, Identity, IdentitySigner
from services.common.meta import pattern_regex
from services.common.versions import SEEN_HEADER

from .consistency import SEEN_KEY
from .registry import Registry

log = logging.getLogger(__name__)

FORWARDED_REQUEST_HEADERS = (
    "Content-Type",
    "If-Match",
    "If-None-Match",
    "Accept",
    "Idempotency-Key",
)
FORWARDED_RESPONSE_HEADERS = (
    "Allow",
    "Content-Type",
    "ETag",
    "Location",
    "Retry-After",
    "Content-Disposition",
    "Idempotency-Replayed",
    "X-SQL-Statements",  # what a service's part of a 360° view cost
)


# A request with an Idempotency-Key is sent again, under the same key, when the service's
# connection fails: after these pauses, so for about 10 s at most, before the 503. Refused (the
# service is restarting): the request was never sent, any keyed request is sent again. Lost
# after sending (it may have committed): only a creation whose service honours the key, which
# then answers what it did. A timeout is not retried (the service may still be working on it).
KEYED_RETRY_PAUSES = (0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.5, 1.5, 2.0, 2.0)
KEYED_RETRY_BUDGET_SECONDS = 10.0
RETRIED_ERRORS = (aiohttp.ClientConnectionError,)
NOT_RETRIED_ERRORS = (aiohttp.ServerTimeoutError,)  # a ClientConnectionError, but a timeout
NEVER_SENT_ERRORS = (aiohttp.ClientConnectorError,)
KeyedCreation = Callable[[str], bool]  # is a POST to this path a creation that honours keys?


class KeyedCreations:
    """The creations whose service honours Idempotency-Key: the POST operations whose service
    documents the header (its OpenAPI fragment, read by the registry)."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._known: tuple[int, list[re.Pattern[str]]] = (-1, [])

    def __call__(self, path: str) -> bool:
        version = self._registry.version
        if self._known[0] != version:
            self._known = (version, self._patterns())
        return any(pattern.fullmatch(path) for pattern in self._known[1])

    def _patterns(self) -> list[re.Pattern[str]]:
        return [
            pattern_regex(path)
            for part in self._registry.fragments()
            for path, methods in part.get("paths", {}).items()
            if any(
                p.get("name") == "Idempotency-Key"
                for p in methods.get("post", {}).get("parameters", [])
            )
        ]


class Upstreams:
    """One pooled HTTP session for all services; each call has its own timeout."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        secret: str,
        timeout: float,
        retry_pauses: tuple[float, ...] = KEYED_RETRY_PAUSES,
        keyed_creation: KeyedCreation = lambda _path: False,
    ) -> None:
        self._session = session
        self._sign = IdentitySigner(secret)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._retry_pauses = retry_pauses
        self._keyed_creation = keyed_creation

    async def forward(
        self,
        request: web.Request,
        base_url: str,
        path: str,
        identity: Identity,
        service: str,
        limit_seconds: float | None = None,
    ) -> web.Response:
        headers = {
            name: request.headers[name]
            for name in FORWARDED_REQUEST_HEADERS
            if name in request.headers
        }
        headers[HEADER] = self._sign(identity)
        if SEEN_KEY in request:  # the versions of the records the write names (consistency.py)
            headers[SEEN_HEADER] = request[SEEN_KEY]
        raw = await request.read() if request.body_exists else None  # read before: cached
        keyed = "Idempotency-Key" in headers
        keyed_creation = keyed and request.method == "POST" and self._keyed_creation(path)
        started = time.monotonic()
        attempt = 0
        while True:
            try:
                return await self._send(request, base_url, path, headers, raw, limit_seconds)
            except RETRIED_ERRORS as exc:
                if (
                    not keyed
                    or isinstance(exc, NOT_RETRIED_ERRORS)
                    or not (keyed_creation or isinstance(exc, NEVER_SENT_ERRORS))
                    or attempt >= len(self._retry_pauses)
                    or time.monotonic() - started + self._retry_pauses[attempt]
                    > KEYED_RETRY_BUDGET_SECONDS
                ):
                    raise self._unavailable(request.method, path, service, exc) from exc
                log.warning(
                    "%s %s: service %s unreachable (%s), sent again under its Idempotency-Key",
                    request.method,
                    path,
                    service,
                    type(exc).__name__,
                )
                await asyncio.sleep(self._retry_pauses[attempt])
                attempt += 1
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise self._unavailable(request.method, path, service, exc) from exc

    async def _send(
        self,
        request: web.Request,
        base_url: str,
        path: str,
        headers: dict[str, str],
        raw: bytes | None,
        limit_seconds: float | None,
    ) -> web.Response:
        # Up to the gateway's limit (6 MiB): sent from a buffer, in chunks (aiohttp warns that raw
        # bytes over 1 MiB are written in one go, holding the event loop).
        async with self._session.request(
            request.method,
            URL(base_url + path, encoded=True),
            params=request.query,
            data=io.BytesIO(raw) if raw is not None else None,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=limit_seconds) if limit_seconds else self._timeout,
            allow_redirects=False,
        ) as upstream:
            payload = await upstream.read()
            response = web.Response(status=upstream.status, body=payload)
            for name in FORWARDED_RESPONSE_HEADERS:
                if name in upstream.headers:
                    response.headers[name] = upstream.headers[name]
            return response

    @staticmethod
    def _unavailable(
        method: str, path: str, service: str, exc: BaseException
    ) -> ServiceUnavailable:
        log.warning("%s %s: service %s unreachable: %s", method, path, service, type(exc).__name__)
        return ServiceUnavailable(
            f"Le service {service} est momentanément indisponible ; "
            "réessayez dans quelques secondes."
        )

    async def call_json(
        self,
        method: str,
        base_url: str,
        path: str,
        identity: Identity,
        service: str,
        *,
        params: dict[str, str] | None = None,
        body: object = None,
    ) -> tuple[int, Any]:
        """A call of the gateway's own (composition, telephony): status and JSON body."""
        status, payload, _ = await self.call_raw(
            method, base_url, path, identity, service, params=params, body=body
        )
        try:
            return status, orjson.loads(payload) if payload else None
        except orjson.JSONDecodeError as exc:
            raise ServiceUnavailable(f"Réponse illisible du service {service}.") from exc

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
    ) -> tuple[int, bytes, dict[str, str]]:
        headers = {HEADER: self._sign(identity)}
        data = None
        if body is not None:
            data, headers["Content-Type"] = orjson.dumps(body, default=str), "application/json"
        try:
            async with self._session.request(
                method,
                base_url + path,
                params=params,
                data=data,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=limit_seconds)
                if limit_seconds
                else self._timeout,
            ) as upstream:
                payload = await upstream.read()
                kept = {
                    k: upstream.headers[k]
                    for k in FORWARDED_RESPONSE_HEADERS
                    if k in upstream.headers
                }
                return upstream.status, payload, kept
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning(
                "%s %s: service %s unreachable: %s", method, path, service, type(exc).__name__
            )
            raise ServiceUnavailable(
                f"Le service {service} est momentanément indisponible ; "
                "réessayez dans quelques secondes."
            ) from exc

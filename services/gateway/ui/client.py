"""The web interface's client of the public API, on this gateway's own socket.

Pages never reach around the API: every read and write a page makes is an ordinary
``/api/v1`` request, with a short-lived bearer token of the page's own web session. So a page
obeys exactly what an API client obeys (roles, validation, If-Match, read your writes, the
audit trail), and a session ended anywhere is refused here too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from services.common.errors import FieldError

from .. import domain
from .session import WebSession, web_session

log = logging.getLogger(__name__)

TOKEN_SECONDS = 300  # the API token of a page request; a new one once half of it is gone
CLIENT_KEY = web.AppKey("ui_http", aiohttp.ClientSession)
TOKEN_SECRET_KEY = web.AppKey("ui_token_secret", str)


@dataclass
class Answer:
    """What the API answered."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes
    _json: Any = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.status < 400

    def json(self) -> Any:
        if self._json is None and self.body:
            self._json = orjson.loads(self.body)
        return self._json

    @property
    def problem(self) -> dict[str, Any]:
        """The problem+json body of an error (empty when it is not one)."""
        if self.ok or not self.body:
            return {}
        try:
            data = self.json()
        except orjson.JSONDecodeError:
            return {}
        return data if isinstance(data, dict) else {}

    @property
    def detail(self) -> str:
        return str(self.problem.get("detail") or self.problem.get("title") or "")

    @property
    def field_errors(self) -> list[FieldError]:
        return [
            FieldError(str(item.get("field", "")), str(item.get("message", "")))
            for item in self.problem.get("errors", [])
            if isinstance(item, dict)
        ]


class ApiError(Exception):
    """An answer a page cannot go on with (401, 403, 404, 503...): shown as a page."""

    def __init__(self, answer: Answer) -> None:
        super().__init__(answer.status, answer.detail)
        self.answer = answer


class Api:
    """The API as the signed-in user of one page request."""

    def __init__(self, request: web.Request) -> None:
        self._request = request
        self._session = web_session(request)
        self._http = request.app[CLIENT_KEY]
        self._base = _own_address(request)
        self._secret = request.app[TOKEN_SECRET_KEY]

    @property
    def session(self) -> WebSession:
        return self._session

    def _token(self) -> str:
        now = time.time()
        kept = self._session.api_token
        if kept is not None and kept[0] - TOKEN_SECONDS / 2 > now:
            return kept[1]
        token = domain.issue_token(
            self._session.identity, self._secret, TOKEN_SECONDS, session_id=self._session.id
        )
        self._session.api_token = (now + TOKEN_SECONDS, token)
        return token

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """Any API request; the answer as it is, whatever its status."""
        sent = CIMultiDict(headers or {})
        sent["Authorization"] = f"Bearer {self._token()}"
        address = self._request.remote or "inconnue"  # the browser's, for the throttle
        sent[domain.CLIENT_ADDRESS_HEADER] = address
        sent[domain.CLIENT_PROOF_HEADER] = domain.client_address_proof(
            self._secret, address, self._session.id
        )
        sent.setdefault("Accept", "application/json")
        body = data
        if json is not None:
            body = orjson.dumps(json)
            sent["Content-Type"] = "application/json"
        async with self._http.request(
            method, self._base + path, params=params, data=body, headers=sent
        ) as response:
            return Answer(response.status, response.headers, await response.read())

    async def get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        """The JSON of a read that must succeed (else ApiError, shown as a page)."""
        answer = await self.call("GET", path, params=params)
        if not answer.ok:
            raise ApiError(answer)
        return answer.json()


def _own_address(request: web.Request) -> str:
    """This gateway, at the address the page request reached it on."""
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    if isinstance(sockname, tuple) and len(sockname) >= 2:
        host, port = sockname[0], sockname[1]
        if host in ("0.0.0.0", "::", ""):  # noqa: S104 - a wildcard: loopback reaches it
            host = "127.0.0.1"
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    return "http://127.0.0.1:8080"


def api(request: web.Request) -> Api:
    return Api(request)

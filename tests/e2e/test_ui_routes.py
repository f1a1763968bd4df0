"""Every page route of the web interface, walked: none without a session (the sign-in page
instead), none writes without the session's CSRF token, none answers a bad id with a 5xx. The
roles are the API's (tests/e2e/test_roles.py walks those): pages reach data only through it.
A page route added later is walked too: the list comes from the page modules themselves."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import aiohttp
import pytest

from services.gateway.ui.pages import MODULES
from tests.platform import Platform
from tests.ui_support import WebUser

PUBLIC_PAGES = {("GET", "/connexion"), ("POST", "/connexion")}
BAD_IDS = ("pas-un-uuid", "00000000-0000-0000-0000-0000000000000", "%E9t%E9", "1" * 300)
_PARAMETER = re.compile(r"\{(\w+)(?::([^}]+))?\}")


@dataclass(frozen=True)
class PageRoute:
    method: str
    template: str

    def path(self, values: dict[str, str]) -> str:
        def fill(match: re.Match[str]) -> str:
            name, choices = match.group(1), match.group(2)
            if name == "collection" and choices:
                return choices.split("|")[0]
            return values[name]

        return _PARAMETER.sub(fill, self.template)


def page_routes() -> Iterator[PageRoute]:
    for module in MODULES:
        for route in module.routes:
            method = getattr(route, "method", None)
            path = getattr(route, "path", None)
            if method and path:
                for one in ("GET", "POST") if method == "*" else (method,):
                    yield PageRoute(one, path)


def _values(record_id: str) -> dict[str, str]:
    return {
        "collection": "accounts",
        "id": record_id,
        "call_id": str(uuid.uuid4()),
        "session_id": str(uuid.uuid4()),
        "name": "industry",
        "code": "zz-routes",
        "action": "envoyer",
    }


def test_the_walk_sees_every_page_module() -> None:
    routes = list(page_routes())
    assert len(routes) > 40
    assert {r.template for r in routes} >= {"/crm/{collection}", "/moi", "/admin/utilisateurs"}


@pytest.mark.parametrize("route", list(page_routes()), ids=lambda r: f"{r.method} {r.template}")
async def test_no_page_without_a_session(platform: Platform, route: PageRoute) -> None:
    if (route.method, route.template) in PUBLIC_PAGES:
        return
    path = route.path(_values(str(uuid.uuid4())))
    headers = {"Origin": platform.gateway}
    async with (
        aiohttp.ClientSession() as http,
        http.request(
            route.method, platform.gateway + path, allow_redirects=False, headers=headers
        ) as response,
    ):
        assert response.status == 303, (route, response.status)
        assert response.headers["Location"].startswith("/connexion")
        assert "Set-Cookie" not in response.headers or "crm_session=;" in response.headers.get(
            "Set-Cookie", ""
        )


async def test_no_page_writes_without_the_csrf_token(platform: Platform) -> None:
    web = WebUser(platform.gateway)
    try:
        await web.sign_in()
        refused = []
        for route in page_routes():
            if route.method != "POST" or (route.method, route.template) in PUBLIC_PAGES:
                continue
            path = route.path(_values(str(uuid.uuid4())))
            page = await web.post(path, {"csrf": "pas-le-bon-jeton", "name": "x"})
            if page.status != 403:
                refused.append(f"{path}: {page.status}")
        assert not refused, refused
        still = await web.get("/crm/accounts")
        assert still.status == 200  # the session was never ended by any of them
    finally:
        await web.close()


async def test_no_page_answers_a_bad_id_with_a_server_error(
    platform: Platform, admin: dict[str, str]
) -> None:
    web = WebUser(platform.gateway)
    try:
        await web.sign_in()
        failures = []
        for bad_id in BAD_IDS:
            for route in page_routes():
                if "{id}" not in route.template and "{session_id}" not in route.template:
                    continue
                values = _values(bad_id) | {"session_id": bad_id, "call_id": bad_id}
                path = route.path(values)
                if route.method == "GET":
                    page = await web.get(path, allow_redirects=False)
                else:
                    page = await web.post(path, {"name": "x"}, allow_redirects=False)
                if page.status >= 500:
                    failures.append(f"{route.method} {path}: {page.status}")
        assert not failures, failures
    finally:
        await web.close()

"""Sign-in and web sessions over HTTP: the sign-in page, its throttling (the API's), the cookie,
CSRF, sign-out, the idle timeout, revocation (the API's), redirects that stay on this site, and
logs that never hold a cookie. tests/browser/test_signin.py does the same in chromium."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import shutil
import ssl
import subprocess
import uuid
from collections.abc import AsyncIterator
from http.cookies import SimpleCookie
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from yarl import URL

from services.gateway.ui.session import COOKIE, clear_cookie, set_cookie
from tests.platform import Platform
from tests.support import ADMIN_PASSWORD, eventually
from tests.ui_support import WebUser

PASSWORD = "Un-mot-de-passe-solide-1"
NEW_PASSWORD = "Un-autre-mot-de-passe-2"


async def new_user(
    platform: Platform, admin: dict[str, str], role: str = "user"
) -> tuple[str, str]:
    """A user of its own for each test (id, username): sessions and lockouts stay apart."""
    username = f"web-{uuid.uuid4().hex[:10]}"
    body = {"username": username, "password": PASSWORD, "role": role}
    status, created, _ = await platform.call("POST", "/api/v1/users", admin, json=body)
    assert status == 201, created
    return created["id"], username


def own_address() -> str:
    """A loopback address of its own (127.0.x.y): failures counted for it lock no other test."""
    return f"127.0.{uuid.uuid4().int % 200 + 20}.{uuid.uuid4().int % 250 + 2}"


@pytest.fixture
async def web_users(platform: Platform) -> AsyncIterator[list[WebUser]]:
    users: list[WebUser] = []
    yield users
    for user in users:
        await user.close()


async def browser(platform: Platform, users: list[WebUser], address: str | None = None) -> WebUser:
    """A WebUser (closed after the test), from its own loopback address if asked."""
    user = WebUser(platform.gateway)
    if address is not None:
        await user.http.close()
        user.http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(local_addr=(address, 0)),
            cookie_jar=aiohttp.CookieJar(unsafe=True),
        )
    users.append(user)
    return user


def cookie_of(user: WebUser) -> str:
    cookies = user.http.cookie_jar.filter_cookies(URL(user.base))
    return cookies[COOKIE].value if COOKIE in cookies else ""


async def session_row(gateway_db: asyncpg.Connection, cookie: str) -> asyncpg.Record:
    row = await gateway_db.fetchrow(
        "SELECT id, kind, ended_at, ended_reason, last_seen_at FROM sessions"
        " WHERE cookie_hash = $1",
        hashlib.sha256(cookie.encode()).digest(),
    )
    assert row is not None, "no session row for this cookie"
    return row


async def signed_in(
    platform: Platform,
    users: list[WebUser],
    username: str = "admin",
    password: str = ADMIN_PASSWORD,
) -> WebUser:
    user = await browser(platform, users)
    page = await user.sign_in(username, password)
    assert page.status == 200 or "/crm/" in page.url, (page.status, page.url)
    assert cookie_of(user)
    return user


async def is_signed_out(user: WebUser) -> bool:
    """The cookie no longer opens a page: back to the sign-in page."""
    async with user.http.get(user.base + "/moi", allow_redirects=False) as response:
        return response.status == 303 and response.headers["Location"].startswith("/connexion")


async def raw_get(base: str, path: str, cookie: str, **headers: str) -> aiohttp.ClientResponse:
    """A request carrying only this cookie (as a replay would), redirects not followed."""
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            base + path,
            headers={"Cookie": f"{COOKIE}={cookie}", **headers},
            allow_redirects=False,
        ) as response,
    ):
        await response.read()
        return response


# -- The sign-in page -----------------------------------------------------------------------


async def test_the_sign_in_page_is_a_french_form_with_the_strict_csp(
    platform: Platform, web_users: list[WebUser]
) -> None:
    user = await browser(platform, web_users)
    page = await user.get("/connexion")
    assert page.status == 200
    assert '<html lang="fr">' in page.text
    assert "<h1>Connexion</h1>" in page.text
    assert '<label for="username">Identifiant' in page.text
    assert '<label for="password">Mot de passe' in page.text
    assert 'autocomplete="current-password"' in page.text
    assert "Se connecter" in page.text
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert page.headers["Cache-Control"] == "no-store"
    assert not cookie_of(user)  # no session before signing in


async def test_a_page_without_a_session_leads_to_the_sign_in_page_and_back(
    platform: Platform, web_users: list[WebUser]
) -> None:
    user = await browser(platform, web_users)
    async with user.http.get(
        platform.gateway + "/crm/accounts?q=Dupont&tri=name", allow_redirects=False
    ) as response:
        assert response.status == 303
        location = response.headers["Location"]
    assert URL(location).path == "/connexion"
    assert URL(location).query["suite"] == "/crm/accounts?q=Dupont&tri=name"
    page = await user.get(location)
    assert 'name="suite" value="/crm/accounts?q=Dupont&amp;tri=name"' in page.text
    async with user.http.post(
        platform.gateway + "/connexion",
        data={"username": "admin", "password": ADMIN_PASSWORD, "suite": "/moi?onglet=1"},
        headers={"Origin": platform.gateway},
        allow_redirects=False,
    ) as response:
        assert response.status == 303
        assert response.headers["Location"] == "/moi?onglet=1"


async def test_signing_in_opens_the_accounts_and_the_sign_in_page_then_goes_there(
    platform: Platform, web_users: list[WebUser]
) -> None:
    user = await signed_in(platform, web_users)
    async with user.http.get(platform.gateway + "/", allow_redirects=False) as response:
        assert response.status == 303
        assert response.headers["Location"] == "/crm/accounts"
    async with user.http.get(platform.gateway + "/connexion", allow_redirects=False) as response:
        assert response.status == 303  # already signed in
        assert response.headers["Location"] == "/crm/accounts"


async def test_a_wrong_password_is_refused_with_a_french_message_and_the_name_kept(
    platform: Platform, admin: dict[str, str], web_users: list[WebUser]
) -> None:
    _, username = await new_user(platform, admin)
    user = await browser(platform, web_users, own_address())
    page = await user.sign_in(username, "Pas-le-bon-mot-de-passe-9")
    assert page.status == 401
    assert "La connexion a échoué" in page.text
    assert "Identifiant ou mot de passe incorrect." in page.text
    assert f'value="{username}"' in page.text
    assert "Pas-le-bon-mot-de-passe-9" not in page.text  # the password is never sent back
    assert not cookie_of(user)


async def test_an_empty_form_asks_for_both_fields(
    platform: Platform, web_users: list[WebUser]
) -> None:
    user = await browser(platform, web_users)
    page = await user.post("/connexion", {"username": "  ", "password": ""})
    assert page.status == 422
    assert "Saisissez votre identifiant et votre mot de passe." in page.text


async def test_an_unknown_user_is_answered_as_a_wrong_password(
    platform: Platform, web_users: list[WebUser]
) -> None:
    user = await browser(platform, web_users, own_address())
    page = await user.sign_in(f"inconnu-{uuid.uuid4().hex[:8]}", "Nimporte-quoi-123")
    assert page.status == 401
    assert "Identifiant ou mot de passe incorrect." in page.text


async def test_the_api_s_lockout_applies_to_the_sign_in_page_and_the_page_s_failures_count(
    platform: Platform, admin: dict[str, str], web_users: list[WebUser]
) -> None:
    _, username = await new_user(platform, admin)
    address = own_address()
    user = await browser(platform, web_users, address)
    for _ in range(3):  # three failures through the API, from the same address
        async with user.http.post(
            platform.gateway + "/api/v1/auth/login",
            json={"username": username, "password": "Mauvais-mot-de-passe-1"},
        ) as response:
            assert response.status == 401
    for _ in range(2):  # two through the page: the fifth locks the user name
        page = await user.sign_in(username, "Mauvais-mot-de-passe-1")
        assert page.status == 401, page.text
    page = await user.sign_in(username, PASSWORD)  # the right password, not even checked
    assert page.status == 429
    assert "Trop de tentatives de connexion infructueuses" in page.text
    wait = re.search(r"réessayez dans (\d+) secondes?\.", page.text)
    assert wait is not None, page.text
    assert page.headers["Retry-After"] == wait.group(1)
    assert 1 <= int(wait.group(1)) <= 15  # the first lockout lasts 15 s
    assert not cookie_of(user)
    # Locked for the API as well, from anywhere.
    async with platform.http.post(
        platform.gateway + "/api/v1/auth/login", json={"username": username, "password": PASSWORD}
    ) as response:
        assert response.status == 429
        assert int(response.headers["Retry-After"]) <= 15


# -- The cookie -----------------------------------------------------------------------------


def session_cookie_header(headers: Any) -> str:
    values = [v for v in headers.getall("Set-Cookie", []) if v.startswith(f"{COOKIE}=")]
    assert len(values) == 1, values
    return str(values[0])


def cookie_attributes(header: str) -> dict[str, str]:
    parsed = SimpleCookie()
    parsed.load(header)
    morsel = parsed[COOKIE]
    return {k: str(v) for k, v in morsel.items() if v}


async def test_the_cookie_is_httponly_lax_for_the_whole_site_and_not_secure_over_http(
    platform: Platform,
) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            platform.gateway + "/connexion",
            data={"username": "admin", "password": ADMIN_PASSWORD},
            # A client cannot make plain HTTP pass for TLS: no proxy header is trusted.
            headers={
                "Origin": platform.gateway,
                "X-Forwarded-Proto": "https",
                "X-Forwarded-Ssl": "on",
                "Forwarded": "for=10.0.0.1;proto=https",
            },
            allow_redirects=False,
        ) as response,
    ):
        assert response.status == 303
        header = session_cookie_header(response.headers)
    attributes = cookie_attributes(header)
    assert attributes["httponly"] == "True"
    assert attributes["samesite"] == "Lax"
    assert attributes["path"] == "/"
    assert "secure" not in attributes
    assert "expires" not in attributes
    assert "max-age" not in attributes
    value = SimpleCookie(header)[COOKIE].value
    assert len(value) >= 43  # 32 random bytes


@pytest.fixture(scope="module")
def tls_context(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    """A self-signed certificate for 127.0.0.1 (openssl), for a server speaking TLS."""
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    openssl = shutil.which("openssl")
    assert openssl, "openssl is needed (Debian's openssl package)"
    subprocess.run(  # noqa: S603 - Debian's openssl, fixed arguments
        [
            openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def test_the_cookie_is_secure_when_the_page_is_served_over_tls(
    tls_context: ssl.SSLContext,
) -> None:
    """The gateway's own cookie functions on a server speaking TLS: Secure, set and cleared."""

    async def sign_in(request: web.Request) -> web.Response:
        response = web.Response(text="ok")
        set_cookie(request, response, "valeur")
        return response

    async def sign_out(request: web.Request) -> web.Response:
        response = web.Response(text="ok")
        clear_cookie(request, response)
        return response

    app = web.Application()
    app.router.add_get("/in", sign_in)
    app.router.add_get("/out", sign_out)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server(ssl=tls_context)
    try:
        connector = aiohttp.TCPConnector(ssl=False)  # self-signed
        async with aiohttp.ClientSession(connector=connector) as http:
            base = str(server.make_url("")).rstrip("/")
            assert base.startswith("https://")
            async with http.get(base + "/in") as response:
                attributes = cookie_attributes(session_cookie_header(response.headers))
            assert attributes["secure"] == "True"
            assert attributes["httponly"] == "True"
            assert attributes["samesite"] == "Lax"
            assert attributes["path"] == "/"
            async with http.get(base + "/out") as response:  # cleared as it was set
                attributes = cookie_attributes(session_cookie_header(response.headers))
            assert attributes["secure"] == "True"
            assert attributes["samesite"] == "Lax"
            assert attributes["max-age"] == "0"
    finally:
        await server.close()


# -- CSRF -----------------------------------------------------------------------------------


async def test_a_post_without_the_token_or_with_another_session_s_is_refused(
    platform: Platform, web_users: list[WebUser]
) -> None:
    first = await signed_in(platform, web_users)
    second = await signed_in(platform, web_users)
    assert first.csrf
    assert second.csrf
    assert first.csrf != second.csrf
    for data in ({}, {"csrf": ""}, {"csrf": second.csrf}, {"csrf": first.csrf + "x"}):
        async with first.http.post(
            platform.gateway + "/deconnexion",
            data=data,
            headers={"Origin": platform.gateway},
            allow_redirects=False,
        ) as response:
            assert response.status == 403, data
            text = await response.text()
            assert "Accès refusé" in text
            assert "Jeton de formulaire manquant ou périmé" in text
    # The header htmx sends, wrong, is refused too.
    async with first.http.post(
        platform.gateway + "/deconnexion",
        headers={"Origin": platform.gateway, "X-CSRF-Token": second.csrf, "HX-Request": "true"},
        allow_redirects=False,
    ) as response:
        assert response.status == 403
    assert not await is_signed_out(first)  # none of them signed out
    async with first.http.post(
        platform.gateway + "/deconnexion",
        headers={"Origin": platform.gateway, "X-CSRF-Token": first.csrf},
        allow_redirects=False,
    ) as response:
        assert response.status == 303  # the right token in the header
    assert await is_signed_out(first)
    assert not await is_signed_out(second)


async def test_a_post_from_another_site_is_refused_even_with_the_token(
    platform: Platform, web_users: list[WebUser]
) -> None:
    user = await signed_in(platform, web_users)
    for headers in (
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": platform.gateway, "Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},  # a sibling subdomain is another site for us
    ):
        async with user.http.post(
            platform.gateway + "/deconnexion",
            data={"csrf": user.csrf},
            headers=headers,
            allow_redirects=False,
        ) as response:
            assert response.status == 403, headers
            assert "Requête d&#39;un autre site refusée." in await response.text()
    assert not await is_signed_out(user)
    # Sign-in itself is refused from another site (login CSRF).
    async with platform.http.post(
        platform.gateway + "/connexion",
        data={"username": "admin", "password": ADMIN_PASSWORD},
        headers={"Origin": "https://evil.example"},
        allow_redirects=False,
    ) as response:
        assert response.status == 403
        assert COOKIE not in response.cookies


# -- Sign-out, idle timeout, revocation -----------------------------------------------------


async def test_signing_out_ends_the_session_even_for_a_replayed_cookie(
    platform: Platform, web_users: list[WebUser], gateway_db: asyncpg.Connection
) -> None:
    user = await signed_in(platform, web_users)
    cookie = cookie_of(user)
    async with user.http.post(
        platform.gateway + "/deconnexion",
        data={"csrf": user.csrf},
        headers={"Origin": platform.gateway},
        allow_redirects=False,
    ) as response:
        assert response.status == 303
        assert response.headers["Location"] == "/connexion?fin=deconnecte"
        cleared = session_cookie_header(response.headers)
    assert 'crm_session=""' in cleared or "crm_session=;" in cleared
    assert "Max-Age=0" in cleared or "expires=Thu, 01 Jan 1970" in cleared.lower().title()
    page = await user.get("/connexion?fin=deconnecte")
    assert "Vous êtes déconnecté." in page.text
    replayed = await raw_get(platform.gateway, "/crm/accounts", cookie)
    assert replayed.status == 303
    assert replayed.headers["Location"].startswith("/connexion")
    row = await session_row(gateway_db, cookie)
    assert row["ended_at"] is not None
    assert row["ended_reason"] == "logout"
    assert row["kind"] == "web"


async def test_an_idle_session_ends_and_leads_to_the_sign_in_page(
    platform: Platform,
    admin: dict[str, str],
    web_users: list[WebUser],
    gateway_db: asyncpg.Connection,
) -> None:
    _, username = await new_user(platform, admin)
    user = await signed_in(platform, web_users, username, PASSWORD)
    cookie = cookie_of(user)
    assert not await is_signed_out(user)
    idle_minutes = platform.settings["gateway"].web_idle_minutes  # type: ignore[attr-defined]
    await gateway_db.execute(
        "UPDATE sessions SET last_seen_at = now() - make_interval(mins => $2 + 1)"
        " WHERE cookie_hash = $1",
        hashlib.sha256(cookie.encode()).digest(),
        idle_minutes,
    )

    async def ended_idle() -> bool:
        response = await raw_get(platform.gateway, "/moi", cookie)
        if response.status != 303:
            return False
        assert URL(response.headers["Location"]).query["suite"] == "/moi"
        return True

    await eventually(ended_idle)
    row = await session_row(gateway_db, cookie)
    assert row["ended_reason"] == "idle"
    assert row["ended_at"] is not None
    # Used again (even with a fresh last_seen_at), an ended session stays ended.
    await gateway_db.execute("UPDATE sessions SET last_seen_at = now() WHERE id = $1", row["id"])
    assert (await raw_get(platform.gateway, "/moi", cookie)).status == 303


async def test_a_session_in_use_is_not_idle(
    platform: Platform, web_users: list[WebUser], gateway_db: asyncpg.Connection
) -> None:
    user = await signed_in(platform, web_users)
    row = await session_row(gateway_db, cookie_of(user))
    assert row["ended_at"] is None
    for _ in range(3):
        assert not await is_signed_out(user)
    assert (await session_row(gateway_db, cookie_of(user)))["ended_at"] is None


@pytest.mark.parametrize(
    ("change", "call"),
    [
        ("deactivated", ("PATCH", "", {"active": False})),
        ("role_changed", ("PATCH", "", {"role": "readonly"})),
        ("password_changed", ("POST", "/password", {"new_password": NEW_PASSWORD})),
    ],
)
async def test_a_user_s_web_session_ends_at_once_when_the_admin_changes_them(
    platform: Platform,
    admin: dict[str, str],
    web_users: list[WebUser],
    gateway_db: asyncpg.Connection,
    change: str,
    call: tuple[str, str, dict[str, Any]],
) -> None:
    user_id, username = await new_user(platform, admin)
    user = await signed_in(platform, web_users, username, PASSWORD)
    cookie = cookie_of(user)
    assert not await is_signed_out(user)  # this gateway now knows the session as open
    method, suffix, body = call
    status, answer, _ = await platform.call(
        method, f"/api/v1/users/{user_id}{suffix}", admin, json=body
    )
    assert status in (200, 204), answer
    assert await is_signed_out(user), change  # at once: no waiting
    assert (await raw_get(platform.gateway, "/moi", cookie)).status == 303  # replayed
    row = await session_row(gateway_db, cookie)
    assert row["ended_at"] is not None
    assert row["ended_reason"] == change


async def test_changing_one_s_own_password_through_the_api_ends_one_s_web_sessions(
    platform: Platform, admin: dict[str, str], web_users: list[WebUser]
) -> None:
    _, username = await new_user(platform, admin)
    user = await signed_in(platform, web_users, username, PASSWORD)
    assert not await is_signed_out(user)
    token = await platform.login(username, PASSWORD)
    status, body, _ = await platform.call(
        "POST",
        "/api/v1/users/me/password",
        token,
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert status == 204, body
    assert await is_signed_out(user)
    again = await signed_in(platform, web_users, username, NEW_PASSWORD)
    assert not await is_signed_out(again)


# -- Redirects, htmx, logs ------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "//evil.example/crm/accounts",
        "/\\evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "/\t/evil.example",
        "/\n/evil.example",
        "/%0d%0aSet-Cookie:%20x=y",
        "\\\\evil.example",
        "",
    ],
)
async def test_the_page_after_sign_in_is_always_on_this_site(
    platform: Platform, web_users: list[WebUser], target: str
) -> None:
    user = await browser(platform, web_users)
    async with user.http.get(
        platform.gateway + "/connexion", params={"suite": target}, allow_redirects=False
    ) as response:
        assert response.status == 200
        text = await response.text()
    assert "evil.example" not in text
    assert 'name="suite" value="/crm/accounts"' in text or target.startswith("/%0d")
    async with user.http.post(
        platform.gateway + "/connexion",
        data={"username": "admin", "password": ADMIN_PASSWORD, "suite": target},
        headers={"Origin": platform.gateway},
        allow_redirects=False,
    ) as response:
        assert response.status == 303
        location = response.headers["Location"]
        assert not [c for c in response.headers.getall("Set-Cookie") if "x=y" in c]
    assert location.startswith("/")
    assert not location.startswith(("//", "/\\"))
    assert "evil.example" not in location
    assert location.isprintable()
    assert " " not in location
    # Signed in, the sign-in page sends on to the same safe place.
    async with user.http.get(
        platform.gateway + "/connexion", params={"suite": target}, allow_redirects=False
    ) as response:
        assert response.status == 303
        assert "evil.example" not in response.headers["Location"]


async def test_an_htmx_request_without_a_session_is_told_where_to_sign_in(
    platform: Platform,
) -> None:
    async with platform.http.get(
        platform.gateway + "/crm/accounts?q=abc",
        headers={"HX-Request": "true"},
        allow_redirects=False,
    ) as response:
        assert response.status == 401
        assert URL(response.headers["HX-Redirect"]).query["suite"] == "/crm/accounts?q=abc"
    async with platform.http.post(
        platform.gateway + "/deconnexion",
        headers={"HX-Request": "true", "Origin": platform.gateway},
        allow_redirects=False,
    ) as response:
        assert response.status == 401
        assert response.headers["HX-Redirect"] == "/connexion"
    # htmx asking for a fragment: back to the page the browser shows, not to the fragment.
    async with platform.http.get(
        platform.gateway + "/crm/accounts?q=abc&fragment=rows",
        headers={"HX-Request": "true", "HX-Current-URL": platform.gateway + "/crm/accounts?q=a"},
        allow_redirects=False,
    ) as response:
        assert response.status == 401
        assert URL(response.headers["HX-Redirect"]).query["suite"] == "/crm/accounts?q=a"
    async with platform.http.post(  # a write, from a page of this site
        platform.gateway + "/deconnexion",
        headers={
            "HX-Request": "true",
            "HX-Current-URL": platform.gateway + "/moi",
            "Origin": platform.gateway,
        },
        allow_redirects=False,
    ) as response:
        assert response.status == 401
        assert URL(response.headers["HX-Redirect"]).query["suite"] == "/moi"
    async with platform.http.get(  # another site's page is never a way back
        platform.gateway + "/moi",
        headers={"HX-Request": "true", "HX-Current-URL": "https://evil.example/crm"},
        allow_redirects=False,
    ) as response:
        assert URL(response.headers["HX-Redirect"]).query["suite"] == "/moi"
    # An ended session's cookie, with htmx: the same.
    response = await raw_get(platform.gateway, "/moi", "cookie-inconnu", **{"HX-Request": "true"})
    assert response.status == 401
    assert URL(response.headers["HX-Redirect"]).query["suite"] == "/moi"


async def test_the_session_cookie_never_appears_in_the_logs(
    platform: Platform,
    web_users: list[WebUser],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    user = await signed_in(platform, web_users)
    cookie = cookie_of(user)
    await user.get("/moi")
    await user.get("/crm/accounts")
    await user.get("/page-qui-n-existe-pas")
    async with user.http.post(  # a refused CSRF, then sign-out
        platform.gateway + "/deconnexion", data={}, headers={"Origin": platform.gateway}
    ) as response:
        assert response.status == 403
    await user.post("/deconnexion", {})
    await raw_get(platform.gateway, "/moi", cookie)  # replayed after sign-out
    await asyncio.sleep(0)  # let the access log of the last request be written
    assert caplog.records, "nothing was logged: the check would prove nothing"
    for record in caplog.records:
        text = record.getMessage() + repr(record.__dict__)
        assert cookie not in text, record.name
        assert user.csrf not in text, record.name
    assert cookie not in caplog.text  # the formatted lines too


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("username=a%00b&password=x%00y", "application/x-www-form-urlencoded"),
        ("username=%FF%FE&password=%C3", "application/x-www-form-urlencoded"),
        ("username=" + "é" * 5000 + "&password=" + "x" * 5000, "application/x-www-form-urlencoded"),
        ('{"username": "admin", "password": "x"}', "application/json"),
        ("username=admin&username=root&password=x", "application/x-www-form-urlencoded"),
        ("\x00\x01\x02", "text/plain"),
    ],
)
async def test_odd_sign_in_input_is_refused_as_a_page_never_a_crash(
    platform: Platform, body: str, content_type: str
) -> None:
    connector = aiohttp.TCPConnector(local_addr=(own_address(), 0))
    async with (
        aiohttp.ClientSession(connector=connector) as http,
        http.post(
            platform.gateway + "/connexion",
            data=body.encode(),
            headers={"Content-Type": content_type, "Origin": platform.gateway},
            allow_redirects=False,
        ) as response,
    ):
        text = await response.text()
        assert response.status in (401, 422), text[:500]
        assert "Traceback" not in text
        assert "<h1>Connexion</h1>" in text
        assert COOKIE not in response.cookies

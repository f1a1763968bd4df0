"""/moi/mot-de-passe: wrong current passwords are failed sign-ins (the throttle of
services/gateway/service.py reserve_attempt), counted for the browser's own address (not the
gateway's, which the page's API call comes from), and the lockout's wait is shown in French
next to the field, with Retry-After."""

from __future__ import annotations

import html
import re
import uuid

import asyncpg
import pytest

from tests.platform import Platform
from tests.ui_support import Page, WebUser

pytestmark = pytest.mark.e2e

PASSWORD = "Un-mot-de-passe-solide-1"
NEW_PASSWORD = "Un-autre-mot-de-passe-2"
Headers = dict[str, str]


def field_error(page: Page, field_id: str) -> str:
    found = re.search(
        rf'<span class="field-error" id="{re.escape(field_id)}-erreur">([^<]*)</span>', page.text
    )
    return html.unescape(found.group(1)) if found else ""


async def test_wrong_current_passwords_lock_the_page_like_sign_ins(
    platform: Platform, admin: Headers, gateway_db: asyncpg.Connection
) -> None:
    username = f"mdp-{uuid.uuid4().hex[:10]}"
    body = {"username": username, "password": PASSWORD, "role": "user"}
    status, created, _ = await platform.call("POST", "/api/v1/users", admin, json=body)
    assert status == 201, created
    address = f"127.0.{uuid.uuid4().int % 200 + 20}.{uuid.uuid4().int % 250 + 2}"
    me = WebUser(platform.gateway, local_address=address)
    try:
        assert (await me.sign_in(username, PASSWORD)).status == 200
        await me.get("/moi/mot-de-passe")
        wrong = {"current_password": "Pas-le-bon-1", "new_password": NEW_PASSWORD,
                 "confirmation": NEW_PASSWORD}  # fmt: skip
        for _ in range(5):
            page = await me.post("/moi/mot-de-passe", wrong)
            assert page.status == 422, page.text[:500]
            assert "incorrect" in field_error(page, "current_password")
        counted = await gateway_db.fetch(
            "SELECT scope, failures FROM login_throttle WHERE (scope, key) IN "
            "(('username', $1), ('address', $2)) ORDER BY scope",
            username,
            address,
        )  # the browser's address, as its sign-in is counted
        assert [(r["scope"], r["failures"]) for r in counted] == [("address", 5), ("username", 5)]

        right = {**wrong, "current_password": PASSWORD}
        page = await me.post("/moi/mot-de-passe", right)
        assert page.status == 429, page.text[:500]
        wait = int(page.headers["Retry-After"])
        assert wait > 0
        said = field_error(page, "current_password")
        assert said.startswith("Trop de mots de passe incorrects"), page.text[:1500]
        assert said.endswith(f"réessayez dans {wait} seconde{'s' if wait > 1 else ''}.")
        assert 'type="password"' in page.text  # the form again, to try later
        status, _, _ = await platform.call("GET", "/api/v1/users/me", admin)
        assert status == 200
        refused = WebUser(platform.gateway, local_address=address)
        assert (await refused.sign_in(username, PASSWORD)).status == 429  # one lockout
        await refused.close()
    finally:
        await me.close()
        await gateway_db.execute(
            "DELETE FROM login_throttle WHERE (scope, key) IN (('username', $1), ('address', $2))",
            username,
            address,
        )
    # Unlocked, the right current password changes it (the old one no longer signs in).
    again = WebUser(platform.gateway, local_address=address)
    try:
        assert (await again.sign_in(username, PASSWORD)).status == 200
        await again.get("/moi/mot-de-passe")
        page = await again.post("/moi/mot-de-passe", right)
        assert page.url.endswith("/moi?fait=mot-de-passe"), page.text[:500]
        remaining = await gateway_db.fetchval(
            "SELECT count(*) FROM login_throttle WHERE scope = 'username' AND key = $1", username
        )
        assert remaining == 0
    finally:
        await again.close()

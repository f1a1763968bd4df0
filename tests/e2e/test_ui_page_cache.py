"""Pages kept with the data they show (ui/pagecache.py): each user still sees their own name
and their own CSRF token, and a change shows at once, whoever makes it."""

from __future__ import annotations

import re
import secrets

from tests.platform import Platform
from tests.support import eventually
from tests.ui_support import WebUser

Headers = dict[str, str]


async def _user(platform: Platform, admin: Headers, display_name: str) -> WebUser:
    username = f"cache{secrets.token_hex(3)}"
    password = "Mot-de-passe-du-cache-1"
    body = {
        "username": username,
        "password": password,
        "role": "user",
        "display_name": display_name,
    }
    status, created, _ = await platform.call("POST", "/api/v1/users", admin, json=body)
    assert status == 201, created
    web = WebUser(platform.gateway)
    web.username = username
    page = await web.sign_in(username, password)
    assert page.status == 200, page.text
    return web


def _menu_name(text: str) -> str:
    found = re.search(r'<details class="menu user-menu">\s*<summary>([^<]*)</summary>', text)
    assert found, "no user menu"
    return found.group(1)


async def _account(platform: Platform, admin: Headers, name: str) -> str:
    status, body, _ = await platform.call("POST", "/api/v1/accounts", admin, json={"name": name})
    assert status == 201, body
    return str(body["id"])


async def test_two_users_of_one_role_each_see_their_own_name_and_token(
    platform: Platform, admin: Headers
) -> None:
    account_id = await _account(platform, admin, f"Cache partagé {secrets.token_hex(3)}")
    first = await _user(platform, admin, "Alice <Première>")
    second = await _user(platform, admin, "Bruno Second")
    try:
        for path in (f"/crm/accounts/{account_id}", "/crm/accounts"):
            for _ in range(2):  # the second reading of each is the kept page
                page_1 = await first.get(path)
                page_2 = await second.get(path)
                assert page_1.status == page_2.status == 200
                # The user menu names the reader (others are named elsewhere: the owner list).
                assert _menu_name(page_1.text) == "Alice &lt;Première&gt;"
                assert _menu_name(page_2.text) == "Bruno Second"
                assert first.csrf in page_1.text
                assert first.csrf not in page_2.text
                assert second.csrf in page_2.text
                assert second.csrf not in page_1.text
                assert "mark-" not in page_1.text + page_2.text
        # The token each page carries is the one its session accepts.
        saved = await second.post(f"/crm/accounts/{account_id}", {"_version": "1"})
        assert saved.status != 403, saved.text
    finally:
        await first.close()
        await second.close()


async def test_a_change_through_the_api_shows_on_the_kept_pages_at_once(
    platform: Platform, admin: Headers
) -> None:
    tag = secrets.token_hex(3)
    account_id = await _account(platform, admin, f"Avant {tag}")
    web = await _user(platform, admin, "Lectrice")
    try:
        for _ in range(2):
            assert f"Avant {tag}" in (await web.get(f"/crm/accounts/{account_id}")).text
            assert f"Avant {tag}" in (await web.get(f"/crm/accounts?q=Avant+{tag}")).text
        status, body, _ = await platform.call(
            "PATCH", f"/api/v1/accounts/{account_id}", admin, json={"name": f"Après {tag}"}
        )
        assert status == 200, body
        # A write through this gateway drops what it keeps at once; another copy's through
        # the event stream (eventually, for the same check to hold on either path).
        record = await web.get(f"/crm/accounts/{account_id}")
        assert f"Après {tag}" in record.text
        assert f"Avant {tag}" not in record.text

        async def listed() -> bool:
            page = await web.get(f"/crm/accounts?q={tag}")
            return f"Après {tag}" in page.text

        await eventually(listed)
    finally:
        await web.close()


async def test_nothing_a_user_writes_is_replaced_by_another_s_token_or_name(
    platform: Platform, admin: Headers
) -> None:
    """The marks a kept page is rendered with are random and kept beside it: a record holding
    mark-like text (the old fixed marks, a template expression) is shown as written."""
    bait = "csrf-mark-5b0e7f3a9c2d name-mark-8d1c4a6e2f0b {{ csrf_token }}"
    account_id = await _account(platform, admin, f"Appât {secrets.token_hex(3)} {bait}")
    first = await _user(platform, admin, "Alice Première")
    second = await _user(platform, admin, "Bruno Second")
    try:
        for path in (f"/crm/accounts/{account_id}", f"/crm/accounts?q={account_id[:0]}Appât"):
            for web in (first, second, first, second):
                page = await web.get(path)
                assert page.status == 200
                assert "csrf-mark-5b0e7f3a9c2d name-mark-8d1c4a6e2f0b" in page.text
                assert first.csrf not in page.text or web is first
                assert second.csrf not in page.text or web is second
    finally:
        await first.close()
        await second.close()


async def test_the_mine_link_of_a_kept_list_is_each_user_s_own(
    platform: Platform, admin: Headers
) -> None:
    first = await _user(platform, admin, "Alice Première")
    second = await _user(platform, admin, "Bruno Second")
    try:
        for web in (first, second, first, second):
            page = await web.get("/crm/accounts")
            assert page.status == 200
            owners = set(re.findall(r"owner=(cache[0-9a-f]+)", page.text))
            assert owners == {web.username}, owners
    finally:
        await first.close()
        await second.close()

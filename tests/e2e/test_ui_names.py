"""People are named by their display name, not their username: the users' directory every
signed-in user may read (GET /api/v1/users/directory), and the pages that show it (the list's
Responsable column and filter, the Système tab, the Audit Trail, the conflict message)."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.platform import Platform
from tests.support import eventually
from tests.ui_support import WebUser, text_of

PASSWORD = "Un-mot-de-passe-solide-1"
Headers = dict[str, str]


async def new_user(
    platform: Platform, admin: Headers, role: str, display_name: str = ""
) -> dict[str, Any]:
    body = {
        "username": f"nom-{uuid.uuid4().hex[:10]}",
        "password": PASSWORD,
        "role": role,
        "display_name": display_name,
    }
    status, created, _ = await platform.call("POST", "/api/v1/users", admin, json=body)
    assert status == 201, created
    return created  # type: ignore[no-any-return]


async def signed_in(platform: Platform, username: str) -> WebUser:
    web = WebUser(platform.gateway)
    page = await web.sign_in(username, PASSWORD)
    assert page.status == 200, page.text[:500]
    return web


@pytest.fixture
async def seller(platform: Platform, admin: Headers) -> AsyncIterator[dict[str, Any]]:
    """A sales user with a display name, signed in to the web interface (``web``)."""
    name = f"Jeanne Vendeuse {uuid.uuid4().hex[:4]}"
    created = await new_user(platform, admin, "user", name)
    web = await signed_in(platform, created["username"])
    yield {**created, "web": web}
    await web.close()


def select_block(text: str, select_id: str) -> str:
    start = text.index(f'id="{select_id}"')
    return text[text.rindex("<select", 0, start) : text.index("</select>", start)]


def options_of(block: str) -> list[tuple[str, str, bool]]:
    """(value, label, selected) of each option of a select's HTML."""
    return [
        (html.unescape(value), html.unescape(label).strip(), bool(selected))
        for value, selected, label in re.findall(
            r'<option value="([^"]*)"( selected)?>([^<]*)</option>', block
        )
    ]


# -- The directory ------------------------------------------------------------------------------


async def test_every_signed_in_user_reads_the_directory_and_nothing_else_about_users(
    platform: Platform, admin: Headers
) -> None:
    named = await new_user(platform, admin, "user", "Aaron Annuaire")
    unnamed = await new_user(platform, admin, "user")
    gone = await new_user(platform, admin, "user", "Zoé Partie")
    status, _, _ = await platform.call(
        "PATCH", f"/api/v1/users/{gone['id']}", admin, json={"active": False}
    )
    assert status == 200
    reader = await new_user(platform, admin, "readonly")

    status, problem, _ = await platform.call("GET", "/api/v1/users/directory")
    assert status == 401, problem
    # The route is not read as /api/v1/users/{id} (which a read-only user may not read).
    status, listed, headers = await platform.call(
        "GET", "/api/v1/users/directory", await platform.login(reader["username"], PASSWORD)
    )
    assert status == 200, listed
    assert headers["Content-Type"].startswith("application/json")
    assert set(listed) == {"items"}
    for item in listed["items"]:
        assert set(item) == {"username", "display_name", "active"}, item
    by_username = {item["username"]: item for item in listed["items"]}
    assert by_username[named["username"]] == {
        "username": named["username"],
        "display_name": "Aaron Annuaire",
        "active": True,
    }
    assert by_username[unnamed["username"]]["display_name"] == ""
    assert by_username[gone["username"]]["active"] is False
    assert by_username["admin"]["display_name"] == "Administrateur"
    shown = [(i["display_name"] or i["username"]).lower() for i in listed["items"]]
    assert shown == sorted(shown)  # by the name shown, the username where there is none
    # Nor is a write taken for a write to a user of id "directory".
    status, problem, headers = await platform.call(
        "PATCH", "/api/v1/users/directory", admin, json={"display_name": "X"}
    )
    assert status == 405, problem
    assert headers["Allow"] == "GET,HEAD"


# -- The pages ----------------------------------------------------------------------------------


async def test_the_list_shows_owners_by_name_and_a_non_admin_filters_by_a_chosen_owner(
    platform: Platform, admin: Headers, seller: dict[str, Any]
) -> None:
    tag = uuid.uuid4().hex[:8]

    async def owned() -> dict[str, Any] | None:  # once the accounts service knows Jeanne
        body = {"name": f"Compte de Jeanne {tag}", "owner": seller["username"]}
        status, created, _ = await platform.call("POST", "/api/v1/accounts", admin, json=body)
        return created if status == 201 else None

    mine = await eventually(owned)
    body = {"name": f"Compte de l'admin {tag}", "owner": "admin"}
    status, theirs, _ = await platform.call("POST", "/api/v1/accounts", admin, json=body)
    assert status == 201, theirs
    web: WebUser = seller["web"]

    page = await web.get(f"/crm/accounts?q={tag}")
    assert page.status == 200, page.text[:500]
    tbody = page.text[page.text.index("<tbody") :]
    rows = [text_of(row) for row in re.findall(r"<tr.*?</tr>", tbody, re.S) if tag in row]
    assert len(rows) == 2, rows
    assert any(seller["display_name"] in row for row in rows), rows
    assert any("Administrateur" in row for row in rows), rows
    table = page.text[page.text.index("<table") :]
    assert f">{seller['username']}<" not in table
    assert ">admin<" not in table

    # The Responsable filter: a select of the active users by name, their username as value.
    options = options_of(select_block(page.text, "filtre-owner"))
    assert ("", "Tous", False) in options
    assert (seller["username"], seller["display_name"], False) in options
    assert ("admin", "Administrateur", False) in options
    assert not any(value == "" and label != "Tous" for value, label, _ in options)

    filtered = await web.get(f"/crm/accounts?q={tag}&owner={seller['username']}")
    assert filtered.status == 200, filtered.text[:500]
    assert mine["name"] in text_of(filtered)
    assert theirs["name"] not in text_of(filtered)
    chosen = options_of(select_block(filtered.text, "filtre-owner"))
    assert (seller["username"], seller["display_name"], True) in chosen


async def test_a_deactivated_owner_is_kept_in_the_filter_and_on_the_form_marked(
    platform: Platform, admin: Headers, seller: dict[str, Any]
) -> None:
    gone = await new_user(platform, admin, "user", "Paul Parti")

    async def owned() -> dict[str, Any] | None:  # once the accounts service knows Paul
        body = {"name": "Compte de Paul", "owner": gone["username"]}
        status, created, _ = await platform.call("POST", "/api/v1/accounts", admin, json=body)
        return created if status == 201 else None

    account = await eventually(owned)
    status, _, _ = await platform.call(
        "PATCH", f"/api/v1/users/{gone['id']}", admin, json={"active": False}
    )
    assert status == 200
    web: WebUser = seller["web"]
    page = await web.get(f"/crm/accounts?owner={gone['username']}")
    assert page.status == 200, page.text[:500]
    assert (gone["username"], "Paul Parti (désactivé)", True) in options_of(
        select_block(page.text, "filtre-owner")
    )
    fresh = await web.get("/crm/accounts")
    assert gone["username"] not in select_block(fresh.text, "filtre-owner")

    record = await web.get(f"/crm/accounts/{account['id']}")
    owner = options_of(select_block(record.text, "f-owner"))
    assert (gone["username"], "Paul Parti (désactivé)", True) in owner
    assert (seller["username"], seller["display_name"], False) in owner


async def test_the_record_names_who_made_it_and_a_rename_shows_on_the_next_page(
    platform: Platform, admin: Headers, seller: dict[str, Any]
) -> None:
    web: WebUser = seller["web"]
    created = await web.post("/crm/accounts/nouveau", {"name": "Créé par Jeanne"})
    assert created.status == 200, created.text[:500]
    system = text_of(created.text[created.text.index('id="titre-systeme"') :])
    assert f"par {seller['display_name']}" in system
    assert f"par {seller['username']}" not in system
    # The owner select of a non-admin: the active users by name, the creator chosen.
    owner = options_of(select_block(created.text, "f-owner"))
    assert (seller["username"], seller["display_name"], True) in owner
    assert ("admin", "Administrateur", False) in owner
    found = re.search(r"/crm/accounts/([0-9a-f-]{36})", created.url)
    assert found, created.url
    account_id = found.group(1)

    page = await web.get(f"/crm/accounts/{account_id}")
    assert f"par {seller['display_name']}" in text_of(page)
    renamed = f"Jeanne Renommée {uuid.uuid4().hex[:4]}"
    status, _, _ = await platform.call(
        "PATCH", f"/api/v1/users/{seller['id']}", admin, json={"display_name": renamed}
    )
    assert status == 200
    again = await web.get(f"/crm/accounts/{account_id}")
    assert f"par {renamed}" in text_of(again)
    listed = await web.get("/crm/accounts?q=Créé par Jeanne")
    assert renamed in text_of(listed)


async def test_the_audit_trail_names_who_changed_the_record(
    platform: Platform, admin: Headers, seller: dict[str, Any]
) -> None:
    status, account, _ = await platform.call(
        "POST", "/api/v1/accounts", admin, json={"name": "Historique nommé"}
    )
    assert status == 201, account
    theirs = await platform.login(seller["username"], PASSWORD)
    status, _, _ = await platform.call(
        "PATCH",
        f"/api/v1/accounts/{account['id']}",
        theirs,
        json={"owner": seller["username"]},
    )
    assert status == 200
    web: WebUser = seller["web"]

    async def trail() -> str | None:
        page = await web.get(f"/crm/accounts/{account['id']}/historique")
        text = text_of(page)
        return text if "Modification" in text else None

    text = await eventually(trail)
    assert f"par {seller['display_name']}" in text
    assert "par Administrateur" in text
    assert f"par {seller['username']}" not in text
    assert "par admin" not in text
    # The owner's change names the new owner, and the old (admin by default), by name.
    assert re.search(rf"Responsable Administrateur {re.escape(seller['display_name'])}", text), text


async def test_the_conflict_message_names_who_saved_first(
    platform: Platform, admin: Headers, seller: dict[str, Any]
) -> None:
    status, account, _ = await platform.call(
        "POST", "/api/v1/accounts", admin, json={"name": "Conflit nommé"}
    )
    assert status == 201, account
    web = WebUser(platform.gateway)
    try:
        await web.sign_in()
        opened = await web.get(f"/crm/accounts/{account['id']}")
        version = re.search(r'name="_version" value="(\d+)"', opened.text)
        assert version
        theirs = await platform.login(seller["username"], PASSWORD)
        status, _, _ = await platform.call(
            "PATCH", f"/api/v1/accounts/{account['id']}", theirs, json={"description": "Avant"}
        )
        assert status == 200
        page = await web.post(
            f"/crm/accounts/{account['id']}",
            {"name": "Conflit nommé, mon nom", "_version": version.group(1)},
        )
        assert page.status == 412, page.text[:500]
        conflict = text_of(page.text[page.text.index('id="conflict"') :][:1500])
        assert f"{seller['display_name']} l'a enregistrée" in conflict
        assert seller["username"] not in conflict
    finally:
        await web.close()

"""Working together, live, in chromium: a record open in one session shows at once that another
session changed it (who, when, which fields), keeps the input not saved yet, and an account's
tabs say a record was added to it."""

from __future__ import annotations

import uuid
from typing import Any

from playwright.async_api import Dialog, Page, expect

from tests.browser.conftest import AssertAccessible, Shot, SignedIn
from tests.platform import Platform

PASSWORD = "Mot-de-passe-du-direct-9"
Headers = dict[str, str]


async def made(platform: Platform, headers: Headers, path: str, body: dict[str, Any]) -> Any:
    status, record, _ = await platform.call("POST", path, headers, json=body)
    assert status == 201, record
    return record


async def test_a_change_made_in_a_second_session_appears_in_the_first(
    page: Page,
    signed_in: SignedIn,
    platform: Platform,
    admin: Headers,
    shot: Shot,
    assert_accessible: AssertAccessible,
) -> None:
    account = await made(platform, admin, "/api/v1/accounts", {"name": "Direct Navigateur SA"})
    username = f"jean-{uuid.uuid4().hex[:8]}"
    await made(
        platform,
        admin,
        "/api/v1/users",
        {"username": username, "password": PASSWORD, "role": "user", "display_name": "Jean Dupont"},
    )
    record = f"/crm/accounts/{account['id']}"
    await page.goto(record)
    banner = page.locator("#direct-fiche")
    await expect(banner).to_be_empty()
    await expect(banner).to_have_attribute("role", "status")
    # The first person is typing, not saved yet.
    await page.get_by_label("Description").fill("Rappeler lundi")

    other = await signed_in(username, PASSWORD)
    await other.goto(record)
    await other.get_by_role("textbox", name="Raison sociale").fill("Direct Navigateur et Fils")
    await other.get_by_label("Téléphone", exact=True).fill("01 42 68 53 00")
    await other.get_by_role("button", name="Enregistrer").first.click()
    await expect(other.locator("#record-message")).to_have_text("Fiche enregistrée.")

    await expect(banner).to_contain_text("Cette fiche vient d'être modifiée par Jean Dupont à ")
    await expect(banner).to_contain_text("(Raison sociale, Téléphone).")
    await expect(banner).to_contain_text("Vos saisies non enregistrées sont conservées")
    await expect(page.get_by_label("Description")).to_have_value("Rappeler lundi")
    reload = banner.get_by_role("link", name="Recharger la fiche")
    await expect(reload).to_be_visible()
    # The other session is told of nothing: the page it has is its own save.
    await expect(other.locator("#direct-fiche")).to_be_empty()

    # A contact added to the account: a smaller notice at the top of the tabs.
    await made(
        platform,
        admin,
        "/api/v1/contacts",
        {"first_name": "Marie", "last_name": "Curie", "account_id": account["id"]},
    )
    related = page.locator("#onglets #direct-liees")
    await expect(related).to_contain_text("Ajout dans l'onglet Contacts : ")
    await expect(related).to_contain_text("Curie")
    await expect(related.get_by_role("link", name="Ouvrir Marie Curie")).to_be_visible()
    await assert_accessible(page, "direct-fiche-modifiee")

    # Reloading shows the other person's version (the unsaved input is given up knowingly).
    async def accept(dialog: Dialog) -> None:
        await dialog.accept()

    page.on("dialog", accept)
    await reload.click()
    await expect(page.get_by_role("textbox", name="Raison sociale")).to_have_value(
        "Direct Navigateur et Fils"
    )
    await expect(page.locator("#direct-fiche")).to_be_empty()
    await shot(page, "direct-fiche-rechargee")

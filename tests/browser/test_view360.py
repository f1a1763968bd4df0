"""The 360° view of an account in chromium: a tab per related kind of record, with its count,
its newest records, "voir tout" and "+" (a new record already linked to the account)."""

from __future__ import annotations

import uuid
from typing import Any

from playwright.async_api import Page, expect

from tests.browser.conftest import AssertAccessible, Shot
from tests.platform import Platform

Headers = dict[str, str]


async def made(platform: Platform, headers: Headers, path: str, body: dict[str, Any]) -> Any:
    status, created, _ = await platform.call("POST", path, headers, json=body)
    assert status == 201, created
    return created


async def customer(platform: Platform, admin: Headers) -> dict[str, Any]:
    """An account with three contacts, an opportunity and a project."""
    company: dict[str, Any] = await made(
        platform,
        admin,
        "/api/v1/accounts",
        {"name": f"Vue 360 {uuid.uuid4().hex[:6]}", "phone": "01 42 68 53 00"},
    )
    for first, last in (("Léa", "Martin"), ("Hugo", "Bernard"), ("Inès", "Petit")):
        body = {"first_name": first, "last_name": last, "account_id": company["id"]}
        await made(platform, admin, "/api/v1/contacts", {**body, "phone": "06 11 22 33 44"})
    await made(
        platform,
        admin,
        "/api/v1/opportunities",
        {"name": "Renouvellement 2027", "account_id": company["id"], "amount": "12500"},
    )
    await made(
        platform, admin, "/api/v1/projects", {"name": "Déploiement", "account_id": company["id"]}
    )
    return company


async def test_each_tab_of_the_360_view_counts_lists_and_links(
    page: Page,
    platform: Platform,
    admin: Headers,
    shot: Shot,
    assert_accessible: AssertAccessible,
) -> None:
    company = await customer(platform, admin)
    await page.goto(f"/crm/accounts/{company['id']}")
    expected = {
        "Contacts": 3,
        "Actions": 0,
        "Affaires": 1,
        "Projets": 1,
        "Devis": 0,
        "Factures": 0,
    }
    for label, count in expected.items():
        tab = page.get_by_role("tab", name=f"{label} ({count})")
        await expect(tab).to_be_visible()
    contacts = page.get_by_role("tab", name="Contacts (3)")
    await contacts.click()
    panel = page.locator("#onglet-contacts")
    await expect(panel).to_be_visible()
    rows = panel.locator("tbody tr")
    await expect(rows).to_have_count(3)
    await expect(rows.first).to_contain_text("Inès Petit")  # newest first
    await expect(rows.first).to_contain_text("06 11 22 33 44")
    await expect(panel.get_by_role("link", name="Voir tout")).to_have_attribute(
        "href", f"/crm/contacts?account_id={company['id']}"
    )
    await assert_accessible(page, "vue360-contacts")

    # The arrow keys go from tab to tab.
    await contacts.focus()
    await page.keyboard.press("ArrowRight")
    await expect(page.get_by_role("tab", name="Actions (0)")).to_be_focused()
    await expect(page.locator("#onglet-actions")).to_contain_text("Aucune fiche pour l'instant.")
    await page.keyboard.press("ArrowRight")
    affaires = page.locator("#onglet-opportunities")
    await expect(affaires).to_contain_text("Renouvellement 2027")
    await expect(affaires).to_contain_text("12 500,00 €")
    await shot(page, "vue360-affaires")

    # "+" opens a new opportunity already linked to the account.
    await affaires.get_by_role("link", name="Ajouter").click()
    await expect(page).to_have_url(
        f"{platform.gateway}/crm/opportunities/nouveau?account_id={company['id']}"
    )
    await expect(page.locator("#record-form")).to_contain_text(company["name"])
    await shot(page, "vue360-plus-affaire")

    # "voir tout" leads to the list filtered on the account.
    await page.goto(f"/crm/accounts/{company['id']}#onglet-contacts")
    await page.locator("#onglet-contacts").get_by_role("link", name="Voir tout").click()
    await expect(page).to_have_url(f"{platform.gateway}/crm/contacts?account_id={company['id']}")
    await expect(page.locator("main")).to_contain_text("Bernard")


async def test_the_360_view_reads_without_javascript(
    browser_pages: Any, platform: Platform, admin: Headers, shot: Shot
) -> None:
    company = await customer(platform, admin)
    context = await browser_pages.browser.new_context(
        base_url=platform.gateway, java_script_enabled=False, locale="fr-FR"
    )
    browser_pages.contexts.append(context)
    from tests.browser.conftest import sign_in
    from tests.support import ADMIN_PASSWORD

    await sign_in(context, platform.gateway, "admin", ADMIN_PASSWORD)
    page = await context.new_page()
    await page.goto(f"/crm/accounts/{company['id']}/vue360")
    for heading in ("Contacts (3)", "Affaires (1)", "Projets (1)", "Factures (0)"):
        await expect(page.get_by_role("heading", name=heading)).to_be_visible()
    await expect(page.locator("#onglet-projects")).to_contain_text("Déploiement")
    await shot(page, "vue360-sans-javascript")


async def test_the_standalone_360_page_is_accessible(
    page: Page, platform: Platform, admin: Headers, assert_accessible: AssertAccessible
) -> None:
    company = await customer(platform, admin)
    await page.goto(f"/crm/accounts/{company['id']}/vue360")
    await expect(page.get_by_role("tab", name="Contacts (3)")).to_be_visible()
    await assert_accessible(page, "vue360-page")

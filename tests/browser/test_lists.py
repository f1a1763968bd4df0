"""The account list in chromium, as a salesperson uses it: search, filter, sort, page, then open
a record with a double-click or with Enter on a focused row; accessible, screenshots taken."""

from __future__ import annotations

import re
import uuid
from typing import Any

from playwright.async_api import Page, expect

from tests.browser.conftest import AssertAccessible, Shot
from tests.platform import Platform

Headers = dict[str, str]


async def made(platform: Platform, headers: Headers, body: Any) -> dict[str, Any]:
    status, response, _ = await platform.call("POST", "/api/v1/accounts", headers, json=body)
    assert status == 201, response
    return response  # type: ignore[no-any-return]


def rows(page: Page) -> Any:
    return page.locator("table.list-table tbody tr")


async def titles(page: Page) -> list[str]:
    return [text.strip() for text in await rows(page).locator("td:first-child").all_inner_texts()]


async def test_the_account_list_searched_filtered_sorted_paged_and_opened(
    platform: Platform,
    admin: Headers,
    page: Page,
    shot: Shot,
    assert_accessible: AssertAccessible,
) -> None:
    status, types, _ = await platform.call("GET", "/api/v1/picklists/account_type", admin)
    assert status == 200, types
    kind = next(value for value in types["values"] if value["active"])  # others deactivate theirs
    city = f"Navigateurville {uuid.uuid4().hex[:6]}"
    accounts = {}
    for n, name in enumerate(["Atelier Dupont", "Boulangerie Martin", "Cabinet Leroy"]):
        body = {"name": name, "address": {"city": city, "postal_code": "75001"}}
        if n != 1:
            body["account_type"] = kind["code"]
        body["phone"] = f"+3314268530{n}"
        accounts[name] = await made(platform, admin, body)

    # Application > CRM > Comptes, then the city's accounts.
    await page.goto("/")
    await page.locator("nav.menus summary", has_text="Application").click()
    await page.locator("nav.menus").get_by_role("link", name="Comptes").click()
    await expect(page).to_have_url(re.compile(r"/crm/accounts$"))
    await expect(page.get_by_role("heading", level=1, name="Comptes")).to_be_visible()
    await expect(page.get_by_role("link", name="Nouveau compte")).to_have_attribute(
        "href", "/crm/accounts/nouveau"
    )
    await page.get_by_label("Ville").fill(city)
    await page.get_by_role("button", name="Filtrer").click()
    await expect(page.locator("#total-liste")).to_have_text("3 comptes")
    assert await titles(page) == ["Atelier Dupont", "Boulangerie Martin", "Cabinet Leroy"]
    assert "city=" in page.url  # the view lives in the URL, without the empty inputs
    assert "postal_code=" not in page.url
    await assert_accessible(page, "liste-comptes")

    # Search.
    await page.get_by_label("Rechercher", exact=True).fill("boulangerie")
    await page.get_by_role("button", name="Filtrer").click()
    await expect(page.locator("#total-liste")).to_have_text("1 compte")
    assert await titles(page) == ["Boulangerie Martin"]
    await page.get_by_label("Rechercher", exact=True).fill("")

    # Filter by a picklist value (a select of labels).
    await page.get_by_label("Type de compte").select_option(label=kind["label"])
    await page.get_by_role("button", name="Filtrer").click()
    await expect(page.locator("#total-liste")).to_have_text("2 comptes")
    assert await titles(page) == ["Atelier Dupont", "Cabinet Leroy"]
    await expect(rows(page).first).to_contain_text(kind["label"])
    await page.get_by_label("Type de compte").select_option("")
    await page.get_by_role("button", name="Filtrer").click()
    await expect(page.locator("#total-liste")).to_have_text("3 comptes")

    # Sort by the column header, both ways.
    header = page.locator("table.list-table thead th").first
    await expect(header).to_have_attribute("aria-sort", "ascending")
    await header.get_by_role("link").click()
    await expect(page.locator("table.list-table thead th").first).to_have_attribute(
        "aria-sort", "descending"
    )
    assert await titles(page) == ["Cabinet Leroy", "Boulangerie Martin", "Atelier Dupont"]
    assert "sort=-name" in page.url

    # Page, two at a time (limit in the URL, as a bookmarked view would keep it).
    await page.goto(f"/crm/accounts?city={city}&sort=name&limit=2")
    assert await titles(page) == ["Atelier Dupont", "Boulangerie Martin"]
    await page.get_by_role("link", name="Page suivante").click()
    assert await titles(page) == ["Cabinet Leroy"]
    await expect(page.locator("#total-liste")).to_have_text("3 comptes")
    await expect(page.get_by_role("link", name="Page suivante")).to_have_count(0)
    await shot(page, "liste-comptes-page-2")
    await page.get_by_role("link", name="Première page").click()
    assert await titles(page) == ["Atelier Dupont", "Boulangerie Martin"]

    # A double-click on a row opens its record.
    record = accounts["Boulangerie Martin"]
    await rows(page).nth(1).locator("td").nth(2).dblclick()
    await expect(page).to_have_url(re.compile(f"/crm/accounts/{record['id']}(#.*)?$"))

    # Enter on a focused row opens it too (the keyboard's way).
    await page.go_back()
    await expect(rows(page)).to_have_count(2)
    first = rows(page).first
    await first.focus()
    await expect(first).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(
        re.compile(f"/crm/accounts/{accounts['Atelier Dupont']['id']}(#.*)?$")
    )


async def test_a_bad_filter_value_is_said_next_to_its_filter(
    page: Page, shot: Shot, assert_accessible: AssertAccessible
) -> None:
    await page.goto("/crm/accounts")
    await page.get_by_label("Code postal").fill("abc")
    await page.get_by_role("button", name="Filtrer").click()
    await expect(page.locator("#erreur-postal_code")).to_contain_text(
        "Début de code postal attendu"
    )
    await expect(page.get_by_label("Code postal")).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_label("Code postal")).to_have_value("abc")
    await assert_accessible(page, "liste-comptes-filtre-invalide")
    await shot(page, "liste-comptes-filtre-invalide")


async def test_every_list_of_the_crm_menu_is_accessible(
    page: Page, assert_accessible: AssertAccessible
) -> None:
    await page.goto("/crm/accounts")
    links = page.locator("nav.menus details.menu").first.locator("ul a")
    hrefs = [await links.nth(i).get_attribute("href") for i in range(await links.count())]
    assert "/crm/accounts" in hrefs
    assert len(hrefs) >= 7
    for href in hrefs:
        assert href is not None
        await page.goto(href)
        await expect(page.locator("#vue-liste")).to_be_visible()
        await assert_accessible(page, "liste" + href.replace("/", "-"))


async def test_phone_numbers_stay_on_one_line_in_a_narrow_window(
    platform: Platform, admin: Headers, page: Page, shot: Shot
) -> None:
    await page.set_viewport_size({"width": 760, "height": 768})  # a narrow window squeezes
    city = f"Uneligneville {uuid.uuid4().hex[:6]}"
    for n in range(3):
        body = {
            "name": f"Société au nom assez long pour serrer les colonnes numéro {n}",
            "address": {"city": city},
            "phone": f"+3314268530{n}",
        }
        await made(platform, admin, body)
    await page.goto(f"/crm/accounts?city={city.replace(' ', '+')}")
    cells = page.locator("table.list-table tbody td.kind-phone")
    await expect(cells).to_have_count(3)
    for index in range(3):
        link = cells.nth(index).locator("a")
        await expect(link).to_have_text(f"01 42 68 53 0{index}")
        # One box per line an inline element is laid out on: one line, one box.
        assert await link.evaluate("a => a.getClientRects().length") == 1
    await shot(page, "liste-comptes-telephones")

"""The tools menu ("Outils") in chromium: each tool on a saved account, none before saving."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson
from playwright.async_api import Page, expect

from services.gateway.telephony import sign
from tests.browser.conftest import AssertAccessible, Shot, page_problems
from tests.platform import Platform
from tests.support import TELEPHONY_SECRET, eventually, word_template

Headers = dict[str, str]


async def account(platform: Platform, admin: Headers, **fields: Any) -> dict[str, Any]:
    body = {"name": f"Outils {uuid.uuid4().hex[:6]}", **fields}
    status, created, _ = await platform.call("POST", "/api/v1/accounts", admin, json=body)
    assert status == 201, created
    return created  # type: ignore[no-any-return]


async def open_tools(page: Page) -> None:
    await page.get_by_text("Outils", exact=True).click()
    await expect(page.locator("#tools-menu")).to_be_visible()


def tool(page: Page, label: str) -> Any:
    """A tool of the menu, by its label (a link or a button)."""
    return page.locator("#tools-menu .tool", has_text=label)


async def test_tools_are_disabled_before_saving_with_the_reason(
    page: Page, platform: Platform, admin: Headers, assert_accessible: AssertAccessible
) -> None:
    await page.goto("/crm/accounts/nouveau")
    await open_tools(page)
    tools = page.locator("#tools-menu .tool")
    assert await tools.count() >= 5
    for index in range(await tools.count()):
        await expect(tools.nth(index)).to_be_disabled()
    await expect(page.locator("#tools-reason")).to_have_text(
        "Enregistrez la fiche avant d'utiliser les outils."
    )
    await assert_accessible(page, "outils-nouvelle-fiche")

    # A saved record whose form is then modified: the same.
    company = await account(platform, admin)
    await page.goto(f"/crm/accounts/{company['id']}")
    await open_tools(page)
    await expect(page.locator("#tools-menu .tool").first).to_be_enabled()
    await page.get_by_label("Raison sociale").fill("Nom en cours de saisie")
    await expect(page.locator("#tools-menu .tool").first).to_be_disabled()
    await expect(page.locator("#tools-reason")).to_contain_text("Enregistrez la fiche")


async def test_dupliquer_opens_the_copy(
    page: Page, platform: Platform, admin: Headers, assert_accessible: AssertAccessible
) -> None:
    company = await account(platform, admin, name="Menuiserie Roux")
    await page.goto(f"/crm/accounts/{company['id']}")
    await open_tools(page)
    await assert_accessible(page, "outils-menu")
    await tool(page, "Dupliquer").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Menuiserie Roux (copie)")
    assert not page.url.split("?")[0].endswith(company["id"])  # the copy's page, not the original's
    await expect(page.get_by_text("Copie créée à partir de « Menuiserie Roux ».")).to_be_visible()


async def test_imprimer_answers_a_pdf(page: Page, platform: Platform, admin: Headers) -> None:
    company = await account(platform, admin, name="Imprimer SARL")
    await page.goto(f"/crm/accounts/{company['id']}")
    await open_tools(page)
    async with page.context.expect_page() as opened:
        await tool(page, "Imprimer").click()
    pdf_page = await opened.value
    assert pdf_page.url.endswith(f"/crm/accounts/{company['id']}/imprimer")
    response = await page.context.request.get(pdf_page.url)
    assert response.headers["content-type"] == "application/pdf"
    assert (await response.body()).startswith(b"%PDF")


async def test_fusionner_downloads_the_docx(
    page: Page,
    platform: Platform,
    admin: Headers,
    shot: Shot,
    assert_accessible: AssertAccessible,
) -> None:
    company = await account(platform, admin, name="Fusion Navigateur")
    form = aiohttp.FormData()
    form.add_field("name", f"Courrier {uuid.uuid4().hex[:4]}")
    form.add_field("kind", "account")
    form.add_field(
        "file",
        word_template("Bonjour {{ compte.name }}"),
        filename="courrier.docx",
        content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    )
    async with platform.http.post(
        f"{platform.gateway}/api/v1/templates", data=form, headers=admin
    ) as response:
        template = await response.json()
        assert response.status == 201, template

    await page.goto(f"/crm/accounts/{company['id']}")
    await open_tools(page)
    await tool(page, "Fusionner").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Fusionner")
    await page.get_by_label(template["name"]).check()
    await page.get_by_label("Word (.docx)").check()
    await assert_accessible(page, "outils-fusionner")
    async with page.expect_download() as waiting:
        await page.get_by_role("button", name="Télécharger le document").click()
    download = await waiting.value
    assert download.suggested_filename.endswith(".docx")
    path = await download.path()
    assert path.read_bytes().startswith(b"PK")


async def test_audit_trail_shows_the_change_just_made(
    page: Page, platform: Platform, admin: Headers, assert_accessible: AssertAccessible
) -> None:
    company = await account(platform, admin, name="Historique Navigateur")
    await page.goto(f"/crm/accounts/{company['id']}")
    await page.get_by_label("Site web").fill("https://www.exemple.fr")
    await page.get_by_role("button", name="Enregistrer").first.click()
    await expect(page.locator("main")).to_contain_text("Fiche enregistrée")

    async def shown() -> bool:
        await page.goto(f"/crm/accounts/{company['id']}/historique")
        return "Modification" in await page.locator("main").inner_text()

    await eventually(shown)
    change = page.locator(".audit-changes tbody tr", has_text="Site web").first
    await expect(change).to_contain_text("https://www.exemple.fr")
    await expect(page.locator("#chain-status")).to_contain_text("Historique intègre")
    await expect(page.locator(".audit-entry").first).to_contain_text("par Administrateur")
    await assert_accessible(page, "outils-historique")


async def test_carte_shows_the_marker_and_coordinates_without_tiles(
    page: Page, platform: Platform, admin: Headers, assert_accessible: AssertAccessible
) -> None:
    address = {"street": "1 place de la Comédie", "postal_code": "69001", "city": "Lyon"}
    company = await account(platform, admin, name="Carte Lyon", address=address)

    async def located() -> bool:
        status, _body, _ = await platform.call(
            "GET", f"/api/v1/accounts/{company['id']}/map", admin
        )
        return status == 200

    await eventually(located)
    await page.goto(f"/crm/accounts/{company['id']}")
    await open_tools(page)
    await tool(page, "Carte").click()
    await expect(page.locator("#map .leaflet-marker-icon")).to_be_visible()
    await expect(page.locator("#map-lat")).to_have_text(re.compile(r"^45,\d+"))
    await expect(page.locator("#map-lon")).to_have_text(re.compile(r"^4,\d+"))
    await expect(page.locator("#map-address")).to_contain_text("69001 Lyon")
    await expect(page.locator(".leaflet-popup-content")).to_contain_text("Carte Lyon")
    assert page_problems(page) == []  # Leaflet under the CSP: no violation, no error
    await expect(page.locator("#map-approximate")).to_have_text(
        "Position approximative : centre de la ville (l'adresse exacte n'a pas été trouvée)."
    )
    await assert_accessible(page, "outils-carte")

    bare = await account(platform, admin, name="Sans adresse")
    await page.goto(f"/crm/accounts/{bare['id']}/carte")
    await expect(page.locator("#map-problem")).to_have_text(
        "Renseignez l'adresse du compte pour le placer sur la carte."
    )


async def telephony_event(
    platform: Platform, call: dict[str, Any], event: str, duration: int
) -> None:
    body = {
        "call_id": call["call_id"],
        "event": event,
        "direction": "outbound",
        "from": call["from"],
        "to": call["to"],
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "duration_seconds": duration,
    }
    raw = orjson.dumps(body)
    headers = {"Content-Type": "application/json", "X-Signature": sign(raw, TELEPHONY_SECRET)}
    async with platform.http.post(
        f"{platform.gateway}/api/v1/telephony/events", data=raw, headers=headers
    ) as response:
        assert response.status == 202


async def test_clicktocall_reaches_the_telephony_server_and_shows_the_call(
    page: Page,
    platform: Platform,
    admin: Headers,
    shot: Shot,
    assert_accessible: AssertAccessible,
) -> None:
    _, me, _ = await platform.call("GET", "/api/v1/users/me", admin)
    status, _, _ = await platform.call(
        "PATCH", f"/api/v1/users/{me['id']}", admin, json={"phone_extension": "201"}
    )
    assert status == 200
    company = await account(platform, admin, name="Appel Navigateur", phone="01 42 68 53 00")
    before = len(platform.telephony.calls)
    await page.goto(f"/crm/accounts/{company['id']}")
    await open_tools(page)
    await tool(page, "ClickToCall").click()
    status_box = page.locator("#call-status")
    await expect(status_box).to_contain_text("Appel en cours vers 01 42 68 53 00")
    assert len(platform.telephony.calls) == before + 1
    placed = platform.telephony.calls[-1]
    assert (placed["from"], placed["to"]) == ("201", "+33142685300")
    await assert_accessible(page, "outils-appel-en-cours")

    await telephony_event(platform, placed, "ringing", 0)
    await expect(status_box).to_contain_text("Sonnerie…")
    await telephony_event(platform, placed, "answered", 0)
    await expect(status_box).to_contain_text("En ligne…")
    await telephony_event(platform, placed, "hangup", 125)
    await expect(status_box).to_contain_text("Terminé (2 min 5 s)")
    await expect(status_box).not_to_have_attribute("hx-trigger", "every 1s")
    await shot(page, "outils-appel-termine")


async def test_clicktocall_without_a_phone_asks_for_the_number(
    page: Page, platform: Platform, admin: Headers, assert_accessible: AssertAccessible
) -> None:
    _, me, _ = await platform.call("GET", "/api/v1/users/me", admin)
    status, _, _ = await platform.call(
        "PATCH", f"/api/v1/users/{me['id']}", admin, json={"phone_extension": "201"}
    )
    assert status == 200
    company = await account(platform, admin, name="Sans Standard")
    status, _, _ = await platform.call(
        "POST",
        "/api/v1/contacts",
        admin,
        json={"first_name": "Zoé", "last_name": "Leroy", "account_id": company["id"],
              "mobile": "06 99 88 77 66"},
    )  # fmt: skip
    assert status == 201
    await page.goto(f"/crm/accounts/{company['id']}")
    await open_tools(page)
    await tool(page, "ClickToCall").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Appeler")
    await expect(page.get_by_label("Zoé Leroy (mobile) : 06 99 88 77 66")).to_be_checked()
    await assert_accessible(page, "outils-appeler-formulaire")
    await page.get_by_role("button", name="Appeler", exact=True).click()
    await expect(page.locator("#call-status")).to_contain_text("Appel en cours vers 06 99 88 77 66")
    assert platform.telephony.calls[-1]["to"] == "+33699887766"

    # A number refused by the rules: said next to the field, the input kept.
    await page.goto(f"/crm/accounts/{company['id']}/appeler")
    await page.get_by_label("Ou un autre numéro").fill("08 99 00 00 00")
    await page.get_by_role("button", name="Appeler", exact=True).click()
    await expect(page.locator("#number-error")).to_contain_text("ne peut pas être appelé")
    await expect(page.get_by_label("Ou un autre numéro")).to_have_value("08 99 00 00 00")


async def test_disabled_tools_look_unavailable_and_the_trail_reads_in_french(
    page: Page,
    platform: Platform,
    admin: Headers,
    signed_in: Any,
    shot: Shot,
    assert_accessible: AssertAccessible,
) -> None:
    address = {"postal_code": "75004", "city": "Paris"}
    company = await account(platform, admin, name="Menu Lecture", address=address)
    username, password = f"lecteur-{uuid.uuid4().hex[:6]}", "Lecteur-mot-de-passe-1"
    body = {"username": username, "password": password, "role": "readonly"}
    status, _, _ = await platform.call("POST", "/api/v1/users", admin, json=body)
    assert status == 201
    reader = await signed_in(username, password)
    await reader.set_viewport_size({"width": 1024, "height": 768})
    await reader.goto(f"/crm/accounts/{company['id']}")
    await open_tools(reader)
    merge = tool(reader, "Fusionner")
    await expect(merge).to_be_disabled()
    await expect(merge).to_contain_text("(indisponible)")
    await expect(tool(reader, "Imprimer")).not_to_contain_text("(indisponible)")
    enabled = await tool(reader, "Imprimer").evaluate("e => getComputedStyle(e).fontStyle")
    disabled = await merge.evaluate("e => getComputedStyle(e).fontStyle")
    assert (enabled, disabled) == ("normal", "italic")
    await assert_accessible(reader, "outils-menu-lecture")
    await shot(reader, "tools-menu-disabled")

    async def located() -> bool:
        await page.goto(f"/crm/accounts/{company['id']}/historique")
        return "Localisation de l'adresse" in await page.locator("main").inner_text()

    await page.set_viewport_size({"width": 1024, "height": 768})
    await eventually(located)
    row = page.locator(".audit-changes tbody tr", has_text="Localisation").first
    await expect(row.locator("td.new")).to_have_text(
        re.compile(r"^48,\d+ ; 2,\d+ \(précision : ville\)$")
    )
    await shot(page, "tools-audit-trail")
    await page.goto(f"/crm/accounts/{company['id']}/carte")
    await expect(page.locator("#map-approximate")).to_be_visible()
    await shot(page, "tools-map")

"""The record form in chromium: the red asterisk and the messages next to their fields, the links
of e-mail, URL and phone fields, a parent account picked through the connection dialog, tools
disabled once the record is modified, a save over someone else's change, and axe-core."""

from __future__ import annotations

import re
import uuid
from typing import Any

from playwright.async_api import Browser, Dialog, Page, expect

from tests.browser.conftest import AssertAccessible, Shot, SignedIn, sign_in
from tests.platform import Platform
from tests.support import ADMIN_PASSWORD

PASSWORD = "Un-mot-de-passe-solide-1"
Headers = dict[str, str]
RECORD_URL = re.compile(r"/crm/accounts/[0-9a-f-]{36}\?enregistree=1$")


async def made(platform: Platform, headers: Headers, path: str, body: Any) -> dict[str, Any]:
    status, created, _ = await platform.call("POST", path, headers, json=body)
    assert status == 201, created
    return created  # type: ignore[no-any-return]


async def new_user(platform: Platform, admin: Headers) -> str:
    username = f"nav-{uuid.uuid4().hex[:8]}"
    body = {"username": username, "password": PASSWORD, "role": "user"}
    await made(platform, admin, "/api/v1/users", body)
    return username


async def test_account_without_raison_sociale_is_refused_next_to_the_field(
    page: Page, shot: Shot, assert_accessible: AssertAccessible
) -> None:
    await page.goto("/crm/accounts/nouveau")
    asterisk = page.locator("#fld-name .required")
    await expect(asterisk).to_have_text("*")
    assert await asterisk.evaluate("e => getComputedStyle(e).color") == "rgb(179, 38, 30)"
    name = page.get_by_label("Raison sociale")
    await expect(name).to_have_attribute("aria-required", "true")
    await page.get_by_label("E-mail").fill("accueil@sans-nom.fr")
    await page.get_by_label("Ville").fill("Lyon")
    await page.get_by_label("Effectif").fill("beaucoup")

    # The browser refuses first, with the French message next to each field.
    await page.get_by_role("button", name="Enregistrer").first.click()
    await expect(page.locator("#fld-name .field-error.client")).to_have_text(
        "Ce champ est obligatoire."
    )
    await expect(page.locator("#fld-employees .field-error.client")).to_have_text(
        "Saisissez un nombre entier (ex. 1 500)."
    )
    await expect(page.get_by_label("Effectif")).to_have_attribute("aria-invalid", "true")
    await page.get_by_label("Effectif").fill("1 200")
    await expect(page.locator("#fld-employees .field-error.client")).to_be_hidden()
    assert page.url.endswith("/crm/accounts/nouveau")
    await shot(page, "fiche-raison-sociale-navigateur")

    # Blank to the eye but not empty: the server refuses it, next to the field, input kept.
    await name.fill("   ")
    await page.get_by_role("button", name="Enregistrer").first.click()
    await expect(page.locator("#error-summary")).to_be_visible()
    await expect(page.locator("#e-name")).to_contain_text("obligatoire")
    await expect(page.locator("#error-summary a[href='#f-name']")).to_contain_text("Raison sociale")
    await expect(page.get_by_label("E-mail")).to_have_value("accueil@sans-nom.fr")
    await expect(page.get_by_label("Ville")).to_have_value("Lyon")
    await expect(page.get_by_label("Effectif")).to_have_value("1 200")
    await expect(page.locator("#error-summary")).to_be_focused()
    await page.locator("#error-summary a[href='#f-name']").click()
    await expect(name).to_be_focused()
    await assert_accessible(page, "fiche-raison-sociale-serveur")


async def test_account_with_every_kind_of_field_has_the_right_links(
    page: Page, shot: Shot, assert_accessible: AssertAccessible
) -> None:
    page.on("dialog", _accept)
    await page.goto("/crm/accounts/nouveau")
    await page.get_by_label("Raison sociale").fill("Toutes Sortes SA")
    types = page.get_by_label("Type de compte")
    options = await types.locator("option").all_inner_texts()
    assert len(options) > 1, options
    await types.select_option(index=1)
    await page.get_by_label("Téléphone").fill("01 42 68 53 00")
    await page.get_by_label("E-mail").fill("contact@toutes-sortes.fr")
    await page.get_by_label("Site web").fill("https://www.toutes-sortes.fr/")
    await page.get_by_label("Rue").fill("8 avenue de l'Opéra")
    await page.get_by_label("Code postal").fill("75001")
    await page.get_by_label("Ville").fill("Paris")
    await page.get_by_label("SIREN").fill("")
    await page.get_by_label("Responsable").select_option("admin")
    await page.get_by_label("Effectif").fill("1 250")
    await page.get_by_label("Chiffre d'affaires").fill("2 500 000,50")
    await page.get_by_label("Description").fill("Un compte de chaque sorte de champ.")
    # The links follow what is typed, before saving.
    await expect(page.get_by_role("link", name="Écrire")).to_have_attribute(
        "href", "mailto:contact@toutes-sortes.fr"
    )
    await page.get_by_role("button", name="Enregistrer").first.click()
    await expect(page).to_have_url(RECORD_URL)
    await expect(page.locator("#record-message")).to_have_text("Fiche enregistrée.")

    mail = page.get_by_role("link", name="Écrire")
    await expect(mail).to_have_attribute("href", "mailto:contact@toutes-sortes.fr")
    site = page.get_by_role("link", name="Ouvrir")
    await expect(site).to_have_attribute("href", "https://www.toutes-sortes.fr/")
    await expect(site).to_have_attribute("target", "_blank")
    assert "noopener" in (await site.get_attribute("rel") or "")
    await expect(page.get_by_role("link", name="Appeler")).to_have_attribute(
        "href", "tel:+33142685300"
    )
    await expect(page.get_by_role("button", name="ClickToCall")).to_be_visible()
    await expect(page.get_by_label("Effectif")).to_have_value("1\u202f250")
    await expect(page.get_by_label("Chiffre d'affaires")).to_have_value("2\u202f500\u202f000,50")
    await expect(page.get_by_label("Pays")).to_have_value("FR")
    await expect(page.get_by_label("Responsable")).to_have_value("admin")
    # Tabs: the 360° ones and Système, a keyboard away.
    system = page.get_by_role("tab", name="Système")
    await system.click()
    panel = page.locator("#onglet-systeme")
    await expect(panel).to_be_visible()
    await expect(panel).to_contain_text("Administrateur")
    await expect(panel).to_contain_text("Version")
    await shot(page, "fiche-compte-toutes-sortes")
    await assert_accessible(page, "fiche-compte-systeme")


async def test_parent_account_picked_through_the_connection_dialog(
    page: Page, platform: Platform, admin: Headers, shot: Shot
) -> None:
    tag = uuid.uuid4().hex[:6]
    parent = await made(platform, admin, "/api/v1/accounts", {"name": f"Groupe {tag}"})
    page.on("dialog", _accept)
    await page.goto("/crm/accounts/nouveau")
    await page.get_by_label("Raison sociale").fill(f"Filiale {tag}")
    field = page.locator("#fld-parent_account_id")
    await expect(field.locator(".picker-nojs")).to_be_hidden()  # the dialog replaces it
    await field.get_by_role("button", name="Choisir…").click()
    dialog = page.locator("#picker-dialog")
    await expect(dialog).to_be_visible()
    search = dialog.get_by_label("Rechercher")
    await expect(search).to_be_focused()
    await search.fill(f"Groupe {tag}")
    choice = dialog.get_by_role("button", name=f"Groupe {tag}")
    await expect(choice).to_have_count(1)
    await shot(page, "fiche-choisir-compte-parent")
    await choice.click()
    await expect(dialog).to_be_hidden()
    await expect(field.get_by_role("link", name=f"Groupe {tag}")).to_have_attribute(
        "href", f"/crm/accounts/{parent['id']}"
    )
    await expect(field.get_by_role("button", name="Choisir…")).to_be_focused()
    await page.get_by_role("button", name="Enregistrer").first.click()
    await expect(page).to_have_url(RECORD_URL)
    await expect(
        page.locator("#fld-parent_account_id").get_by_role("link", name=f"Groupe {tag}")
    ).to_be_visible()
    record_id = page.url.split("/")[-1].split("?")[0]
    status, stored, _ = await platform.call("GET", f"/api/v1/accounts/{record_id}", admin)
    assert status == 200
    assert stored["parent_account_id"] == parent["id"]


async def test_tools_disabled_once_the_record_is_modified(
    page: Page, platform: Platform, admin: Headers, shot: Shot
) -> None:
    account = await made(
        platform, admin, "/api/v1/accounts", {"name": "Outils", "phone": "+33142685300"}
    )
    await page.goto(f"/crm/accounts/{account['id']}")
    tools = page.locator("#tools-menu .tool")
    assert await tools.count() > 0
    await expect(tools.first).to_be_enabled()
    await page.get_by_label("Description").fill("Modifié, pas encore enregistré")
    for index in range(await tools.count()):
        await expect(tools.nth(index)).to_be_disabled()
        await expect(tools.nth(index)).to_have_attribute("aria-disabled", "true")
    await expect(page.get_by_role("button", name="ClickToCall")).to_be_disabled()
    await page.locator("#tools-button").click()
    await expect(page.locator("#tools-reason")).to_have_text(
        "Enregistrez la fiche avant d'utiliser les outils."
    )
    await shot(page, "fiche-outils-desactives")

    # Leaving asks first; saying no stays on the record with the input.
    asked: list[str] = []

    async def refuse(dialog: Dialog) -> None:
        asked.append(dialog.message)
        await dialog.dismiss()

    page.once("dialog", refuse)
    await page.locator(".breadcrumb").get_by_role("link", name="Comptes").click()
    assert asked
    assert "pas enregistrées" in asked[0]
    await expect(page.get_by_label("Description")).to_have_value("Modifié, pas encore enregistré")

    # Saving clears it: the tools are back.
    await page.get_by_role("button", name="Enregistrer").first.click()
    await expect(page.locator("#record-message")).to_have_text("Fiche enregistrée.")
    await expect(page.locator("#tools-menu .tool").first).to_be_enabled()


async def test_conflicting_save_names_who_saved_first(
    page: Page,
    signed_in: SignedIn,
    platform: Platform,
    admin: Headers,
    shot: Shot,
    assert_accessible: AssertAccessible,
) -> None:
    other = await new_user(platform, admin)
    account = await made(platform, admin, "/api/v1/accounts", {"name": "Deux fenêtres"})
    page.on("dialog", _accept)
    theirs = await signed_in(other, PASSWORD)
    theirs.on("dialog", _accept)
    await page.goto(f"/crm/accounts/{account['id']}")
    await theirs.goto(f"/crm/accounts/{account['id']}")

    await theirs.get_by_label("Ville").fill("Nantes")
    await theirs.get_by_role("button", name="Enregistrer").first.click()
    await expect(theirs.locator("#record-message")).to_have_text("Fiche enregistrée.")

    await page.get_by_label("Description").fill("Ma saisie à moi")
    await page.get_by_role("button", name="Enregistrer").first.click()
    conflict = page.locator("#conflict")
    await expect(conflict).to_be_visible()
    await expect(conflict).to_contain_text(other)
    await expect(conflict).to_contain_text("n'ont pas été enregistrées")
    await expect(page.get_by_label("Description")).to_have_value("Ma saisie à moi")
    await expect(page.get_by_label("Ville")).to_have_value("")  # the form as this user had it
    await assert_accessible(page, "fiche-conflit")
    await conflict.get_by_role("link", name="Recharger la fiche").click()
    await expect(page.get_by_label("Ville")).to_have_value("Nantes")
    await expect(page.get_by_label("Description")).to_have_value("")


async def test_forms_of_other_entities_are_accessible(
    page: Page, platform: Platform, admin: Headers, assert_accessible: AssertAccessible
) -> None:
    account = await made(platform, admin, "/api/v1/accounts", {"name": "Pour un contact"})
    await page.goto(f"/crm/contacts/nouveau?account_id={account['id']}")
    await expect(
        page.locator("#fld-account_id").get_by_role("link", name="Pour un contact")
    ).to_be_visible()
    await assert_accessible(page, "fiche-contact-nouveau")
    await page.goto(f"/crm/opportunities/nouveau?account_id={account['id']}")
    await expect(page.get_by_label("Montant")).to_have_attribute("inputmode", "decimal")
    await assert_accessible(page, "fiche-affaire-nouvelle")
    await page.goto(f"/crm/actions/nouveau?account_id={account['id']}")
    await expect(page.get_by_label("Date", exact=True)).to_have_attribute("type", "datetime-local")
    await assert_accessible(page, "fiche-action-nouvelle")
    await page.goto(f"/crm/quotes/nouveau?account_id={account['id']}")
    await expect(page.locator("#lines")).to_be_visible()
    await assert_accessible(page, "fiche-devis-nouveau")
    quote = await made(platform, admin, "/api/v1/quotes", {"account_id": account["id"]})
    await page.goto(f"/crm/quotes/{quote['id']}")
    await expect(page.locator("#fld-status")).to_contain_text("Brouillon")
    await assert_accessible(page, "fiche-devis")


async def _accept(dialog: Dialog) -> None:
    await dialog.accept()


async def test_without_javascript_a_connection_is_still_chosen(
    browser: Browser, platform: Platform, admin: Headers, shot: Shot
) -> None:
    tag = uuid.uuid4().hex[:6]
    parent = await made(platform, admin, "/api/v1/accounts", {"name": f"Holding {tag}"})
    context = await browser.new_context(
        base_url=platform.gateway, locale="fr-FR", java_script_enabled=False
    )
    try:
        await sign_in(context, platform.gateway, "admin", ADMIN_PASSWORD)
        page = await context.new_page()
        await page.goto("/crm/accounts/nouveau")
        await page.get_by_label("Raison sociale").fill(f"Sans script {tag}")
        field = page.locator("#fld-parent_account_id")
        await expect(field.get_by_role("button", name="Choisir…")).to_be_hidden()
        await field.get_by_label("Rechercher : compte").fill(f"Holding {tag}")
        await field.get_by_role("button", name="Chercher").click()
        await expect(page.get_by_label("Raison sociale")).to_have_value(f"Sans script {tag}")
        choice = page.get_by_role("radio", name=f"Holding {tag}")
        await expect(choice).to_be_checked()
        await shot(page, "fiche-choisir-sans-javascript")
        await page.get_by_role("button", name="Enregistrer").first.click()
        await expect(page).to_have_url(RECORD_URL)
        link = page.locator("#fld-parent_account_id").get_by_role("link", name=f"Holding {tag}")
        await expect(link).to_have_attribute("href", f"/crm/accounts/{parent['id']}")
        # The tabs read one after the other, each under its heading.
        await expect(page.get_by_role("heading", name="Système")).to_be_visible()
    finally:
        await context.close()


async def test_a_web_address_typed_without_https_gets_it_before_sending(page: Page) -> None:
    tag = uuid.uuid4().hex[:6]
    await page.goto("/crm/accounts/nouveau")
    await page.get_by_label("Raison sociale").fill(f"Boulangerie Dupont {tag}")
    site = page.get_by_label("Site web")
    await site.fill("www.boulangerie-dupont.fr")
    await site.press("Tab")
    await expect(site).to_have_value("https://www.boulangerie-dupont.fr")
    await expect(page.get_by_role("link", name="Ouvrir")).to_have_attribute(
        "href", "https://www.boulangerie-dupont.fr"
    )
    # Typed again and saved straight away (Enter in the input): the same.
    await site.fill("boulangerie-dupont.fr/contact")
    await site.press("Enter")
    await expect(page).to_have_url(RECORD_URL)
    await expect(page.get_by_label("Site web")).to_have_value(
        "https://boulangerie-dupont.fr/contact"
    )
    # Anything that is no host name is left as typed, for the checks to refuse.
    await page.get_by_label("Site web").fill("mon site")
    await page.get_by_label("Site web").press("Tab")
    await expect(page.get_by_label("Site web")).to_have_value("mon site")
    await page.get_by_role("button", name="Enregistrer").first.click()
    await expect(page.locator("#fld-website .field-error.client")).to_contain_text("https://")


async def test_the_360_tabs_are_a_link_away_from_the_header(
    platform: Platform, admin: Headers, page: Page, shot: Shot
) -> None:
    await page.set_viewport_size({"width": 1366, "height": 768})
    account = await made(
        platform, admin, "/api/v1/accounts", {"name": f"Vue 360 {uuid.uuid4().hex[:6]}"}
    )
    await page.goto(f"/crm/accounts/{account['id']}")
    tabs = page.locator("#onglets")
    assert await tabs.evaluate("e => e.getBoundingClientRect().top") > 768  # under the form
    link = page.get_by_role("link", name=re.compile("^Vue 360°"))
    await expect(link).to_be_in_viewport()
    await expect(link).to_have_attribute("href", "#onglets")
    await shot(page, "fiche-compte-lien-360")
    # By keyboard: the link is reached with Tab from the heading, Enter goes to the tabs.
    await page.locator("h1").evaluate("h => { h.tabIndex = -1; h.focus(); }")
    for _ in range(5):
        await page.keyboard.press("Tab")
        if await link.evaluate("a => a === document.activeElement"):
            break
    await expect(link).to_be_focused()
    await page.keyboard.press("Enter")
    selected = page.locator("#onglets [role=tab][aria-selected=true]")
    await expect(selected).to_be_focused()
    await expect(selected).to_be_in_viewport()
    await expect(page.get_by_role("tabpanel").first).to_be_visible()
    await page.screenshot(path=".run/screenshots/fiche-compte-onglets-vue.png")


async def test_the_contact_picker_of_an_action_stays_within_its_account(
    page: Page, platform: Platform, admin: Headers, shot: Shot, assert_accessible: AssertAccessible
) -> None:
    tag = uuid.uuid4().hex[:6]
    mine = await made(platform, admin, "/api/v1/accounts", {"name": f"Boulangerie {tag}"})
    other = await made(platform, admin, "/api/v1/accounts", {"name": f"Garage {tag}"})
    contacts = {}
    for account in (mine, other):
        contacts[account["id"]] = await made(
            platform,
            admin,
            "/api/v1/contacts",
            {"first_name": "Paul", "last_name": f"Martin{tag}", "account_id": account["id"]},
        )
    page.on("dialog", _accept)
    await page.goto(f"/crm/actions/nouveau?account_id={mine['id']}")
    field = page.locator("#fld-contact_id")
    await field.get_by_role("button", name="Choisir…").click()
    dialog = page.locator("#picker-dialog")
    wide = dialog.get_by_label("Tous les comptes")
    await expect(wide).to_be_visible()
    await expect(wide).not_to_be_checked()
    await dialog.get_by_label("Rechercher").fill(f"Martin{tag}")
    choices = dialog.locator(".picker-choice")
    await expect(choices).to_have_count(1)
    await expect(dialog.locator(".picker-count")).to_contain_text(f"Boulangerie {tag}")
    await wide.check()
    await expect(choices).to_have_count(2)
    await expect(choices.filter(has_text=f"Garage {tag}")).to_have_count(1)
    await shot(page, "fiche-action-contact-tous-les-comptes")
    await assert_accessible(page, "fiche-action-choisir-contact")
    await wide.uncheck()
    await expect(choices).to_have_count(1)
    await choices.first.click()
    await expect(field.get_by_role("link", name=f"Paul Martin{tag}")).to_have_attribute(
        "href", f"/crm/contacts/{contacts[mine['id']]['id']}"
    )

    # A new action without account: every contact, each with its account's name.
    await page.goto("/crm/actions/nouveau")
    await page.locator("#fld-contact_id").get_by_role("button", name="Choisir…").click()
    await expect(dialog.get_by_label("Tous les comptes")).to_be_hidden()
    await dialog.get_by_label("Rechercher").fill(f"Martin{tag}")
    await expect(choices).to_have_count(2)
    await expect(choices.filter(has_text=f"Boulangerie {tag}")).to_have_count(1)

"""Sign-in and sessions in chromium: the page as a person sees it and uses it with a keyboard,
the way back to the page asked for, sign-out, and a session ended while a page is open."""

from __future__ import annotations

import contextlib
import uuid
from urllib.parse import parse_qs, urlsplit

from playwright.async_api import Error, Page, expect

from tests.browser.conftest import AssertAccessible, Shot, SignedIn, page_problems
from tests.platform import Platform
from tests.support import ADMIN_PASSWORD

PASSWORD = "Mot-de-passe-navigateur-7"


async def new_user(platform: Platform, admin: dict[str, str], display_name: str) -> str:
    username = f"nav-{uuid.uuid4().hex[:8]}"
    body = {
        "username": username,
        "password": PASSWORD,
        "role": "user",
        "display_name": display_name,
    }
    status, created, _ = await platform.call("POST", "/api/v1/users", admin, json=body)
    assert status == 201, created
    return str(created["id"])


async def expect_sign_in_page(page: Page, platform: Platform, back: str) -> None:
    """The page shows the sign-in form, to come back to ``back`` afterwards."""
    await page.wait_for_url(lambda url: url.startswith(f"{platform.gateway}/connexion?"))
    assert parse_qs(urlsplit(page.url).query)["suite"] == [back]
    await expect(page.get_by_role("heading", level=1)).to_have_text("Connexion")


async def test_sign_in_page_is_french_and_accessible(
    anonymous_page: Page, shot: Shot, assert_accessible: AssertAccessible
) -> None:
    await anonymous_page.goto("/connexion")
    await expect(anonymous_page).to_have_title("Connexion · webleads-tracker")
    await expect(anonymous_page.get_by_role("heading", level=1)).to_have_text("Connexion")
    await expect(anonymous_page.get_by_label("Identifiant")).to_be_focused()
    await expect(anonymous_page.get_by_label("Mot de passe")).to_have_attribute("type", "password")
    await expect(anonymous_page.get_by_role("button", name="Se connecter")).to_be_visible()
    await assert_accessible(anonymous_page, "connexion")


async def test_signing_in_with_the_keyboard_goes_back_to_the_page_asked_for(
    anonymous_page: Page, platform: Platform, shot: Shot
) -> None:
    page = anonymous_page
    await page.goto("/crm/accounts?q=Dupont")
    await expect_sign_in_page(page, platform, "/crm/accounts?q=Dupont")
    await page.keyboard.type("admin")
    await page.keyboard.press("Tab")
    await expect(page.get_by_label("Mot de passe")).to_be_focused()
    await page.keyboard.type(ADMIN_PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(f"{platform.gateway}/crm/accounts?q=Dupont")
    cookies = await page.context.cookies()
    session = next(c for c in cookies if c["name"] == "crm_session")
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Lax"
    assert session["secure"] is False  # plain HTTP here
    assert session["expires"] == -1  # gone with the browser
    # The page's scripts cannot read it.
    assert "crm_session" not in await page.evaluate("document.cookie")
    await shot(page, "connexion-reussie")


async def test_a_wrong_password_says_so_next_to_the_form_and_keeps_the_name(
    anonymous_page: Page,
    platform: Platform,
    admin: dict[str, str],
    shot: Shot,
    assert_accessible: AssertAccessible,
) -> None:
    await new_user(platform, admin, "Lucie Martin")
    page = anonymous_page
    await page.goto("/connexion")
    await page.get_by_label("Identifiant").fill("personne-inconnue")
    await page.get_by_label("Mot de passe").fill("Pas-le-bon-1")
    await page.get_by_role("button", name="Se connecter").click()
    alert = page.get_by_role("alert")
    await expect(alert).to_contain_text("La connexion a échoué")
    await expect(alert).to_contain_text("Identifiant ou mot de passe incorrect.")
    await expect(page.get_by_label("Identifiant")).to_have_value("personne-inconnue")
    await expect(page.get_by_label("Mot de passe")).to_have_value("")
    await expect(page.get_by_label("Mot de passe")).to_be_focused()
    await assert_accessible(page, "connexion-echec")


async def test_the_user_menu_signs_out_and_the_pages_then_ask_to_sign_in(
    signed_in: SignedIn,
    platform: Platform,
    admin: dict[str, str],
    shot: Shot,
    assert_accessible: AssertAccessible,
) -> None:
    user_id = await new_user(platform, admin, "Lucie Martin")
    status, record, _ = await platform.call("GET", f"/api/v1/users/{user_id}", admin)
    assert status == 200, record
    page = await signed_in(record["username"], PASSWORD)
    await page.goto("/crm/accounts")
    menu = page.locator("details.user-menu")
    await expect(menu.locator("summary")).to_have_text("Lucie Martin")
    await menu.locator("summary").focus()
    await page.keyboard.press("Enter")  # opens the menu
    await expect(menu.get_by_role("link", name="Mon profil et mon poste")).to_be_visible()
    await shot(page, "menu-utilisateur")
    await menu.get_by_role("button", name="Se déconnecter").click()
    await expect(page).to_have_url(f"{platform.gateway}/connexion?fin=deconnecte")
    await expect(page.get_by_role("status")).to_have_text("Vous êtes déconnecté.")
    await assert_accessible(page, "deconnexion")
    await page.go_back()  # the page before, from the server again: no longer open
    await page.goto("/crm/accounts")
    await expect_sign_in_page(page, platform, "/crm/accounts")


async def test_a_session_ended_while_a_page_is_open_leads_its_next_request_to_sign_in(
    page: Page, platform: Platform, admin: dict[str, str], signed_in: SignedIn
) -> None:
    user_id = await new_user(platform, admin, "Paul Durand")
    status, record, _ = await platform.call("GET", f"/api/v1/users/{user_id}", admin)
    assert status == 200, record
    other = await signed_in(record["username"], PASSWORD)
    await other.goto("/moi")
    await expect(other.locator("details.user-menu summary")).to_have_text("Paul Durand")
    # The administrator deactivates Paul while his page is open.
    status, body, _ = await platform.call(
        "PATCH", f"/api/v1/users/{user_id}", admin, json={"active": False}
    )
    assert status == 200, body
    # His page's next htmx request is answered 401 + HX-Redirect: htmx goes to sign in.
    await other.evaluate("htmx.ajax('GET', '/moi', {target: '#contenu'})")
    await expect_sign_in_page(other, platform, "/moi")
    # A plain link: the same.
    await other.goto("/crm/accounts")
    await expect_sign_in_page(other, platform, "/crm/accounts")
    # Paul can no longer sign in; the admin's own session goes on.
    await other.get_by_label("Identifiant").fill(record["username"])
    await other.get_by_label("Mot de passe").fill(PASSWORD)
    await other.get_by_role("button", name="Se connecter").click()
    await expect(other.get_by_role("alert")).to_contain_text(
        "Identifiant ou mot de passe incorrect."
    )
    await page.goto("/moi")
    await expect(page).to_have_url(f"{platform.gateway}/moi")


async def test_the_browser_fixtures_catch_an_inline_script_the_csp_refuses(
    anonymous_page: Page,
) -> None:
    """The guard every browser test relies on can fail: an inline script is reported."""
    await anonymous_page.goto("/connexion")
    problems = page_problems(anonymous_page)
    assert problems == []
    with contextlib.suppress(Error):  # Playwright may also raise on the refused tag
        await anonymous_page.add_script_tag(content="document.title = 'injecté';")
    await expect(anonymous_page).to_have_title("Connexion · webleads-tracker")
    await anonymous_page.wait_for_function("true")  # the console message has been delivered
    assert any("Content Security Policy" in p for p in problems), problems
    problems.clear()  # expected here: the fixture's teardown would fail the test otherwise

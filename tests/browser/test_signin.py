"""Sign-in and sessions in chromium: the page as a person sees it and uses it with a keyboard."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.browser.conftest import AssertAccessible, Shot


async def test_sign_in_page_is_french_and_accessible(
    anonymous_page: Page, shot: Shot, assert_accessible: AssertAccessible
) -> None:
    await anonymous_page.goto("/connexion")
    await expect(anonymous_page).to_have_title("Connexion · webleads-tracker")
    await expect(anonymous_page.get_by_label("Identifiant")).to_be_focused()
    await expect(anonymous_page.get_by_role("button", name="Se connecter")).to_be_visible()
    await assert_accessible(anonymous_page, "connexion")


async def test_signed_in_page_fixture_is_admin(page: Page) -> None:
    await page.goto("/")
    assert "/connexion" not in page.url
    cookies = await page.context.cookies()
    assert [c["name"] for c in cookies] == ["crm_session"]

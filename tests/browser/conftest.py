"""The web interface in a real browser: Debian's chromium, driven headless by Playwright's
async API, against the in-process platform (tests/platform.py).

Fixtures:

- ``browser``: one chromium for the whole run (``make test`` installs Debian's ``chromium``;
  without it the tests fail with the command to run: they are never skipped).
- ``page``: a new browser context signed in as admin, whose relative URLs are the gateway's
  (``await page.goto("/crm/accounts")``; ``platform.gateway + path`` works too). It fails the
  test at teardown if the page broke a Content-Security-Policy rule or threw an uncaught
  JavaScript error (``page_problems(page)`` lists them so far).
- ``signed_in(username, password)``: another signed-in page (a second session, another user).
- ``shot(page, name)``: a full-page screenshot in ``.run/screenshots/<name>.png`` (not committed:
  look at them with an image viewer).
- ``assert_accessible(page, name)``: axe-core on the page as it is; fails listing every rule
  broken with impact serious or critical (and takes a screenshot ``<name>``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from tests.platform import Platform
from tests.support import ADMIN_PASSWORD

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / ".run" / "screenshots"
BLOCKING_IMPACTS = ("serious", "critical")
PROBLEMS_KEY = "_crm_problems"

SignedIn = Callable[[str, str], Awaitable[Page]]
Shot = Callable[[Page, str], Awaitable[Path]]
AssertAccessible = Callable[[Page, str], Awaitable[None]]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium. Install it with:\n"
            "  sudo apt-get update && sudo apt-get install -y chromium\n"
            "(make test does it when run as root)"
        )
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield chromium
        finally:
            await chromium.close()


def page_problems(page: Page) -> list[str]:
    """Content-Security-Policy violations and uncaught JavaScript errors seen on this page."""
    problems: list[str] = getattr(page, PROBLEMS_KEY, [])
    return problems


def _watch(page: Page) -> None:
    problems: list[str] = []
    setattr(page, PROBLEMS_KEY, problems)

    def on_console(message: Any) -> None:
        if "Content Security Policy" in message.text:
            problems.append(f"CSP ({page.url}): {message.text}")

    def on_error(error: Any) -> None:
        problems.append(f"JavaScript error ({page.url}): {error}")

    page.on("console", on_console)
    page.on("pageerror", on_error)


async def sign_in(context: BrowserContext, base: str, username: str, password: str) -> None:
    """Sign in through the real form's endpoint: the context's cookie jar gets the session."""
    response = await context.request.post(
        f"{base}/connexion",
        form={"username": username, "password": password, "suite": "/"},
        headers={"Origin": base},
        max_redirects=0,
    )
    assert response.status == 303, (
        f"sign-in as {username}: {response.status} {await response.text()}"
    )
    cookies = await context.cookies(base)
    assert any(c["name"] == "crm_session" for c in cookies), f"no session cookie for {username}"


class Pages:
    """The contexts opened by one test, closed after it (checking their pages' problems)."""

    def __init__(self, browser: Browser, base: str) -> None:
        self.browser, self.base = browser, base
        self.contexts: list[BrowserContext] = []
        self.pages: list[Page] = []

    async def open(self, username: str | None, password: str | None) -> Page:
        context = await self.browser.new_context(
            base_url=self.base, locale="fr-FR", timezone_id="Europe/Paris"
        )
        self.contexts.append(context)
        if username is not None and password is not None:
            await sign_in(context, self.base, username, password)
        page = await context.new_page()
        _watch(page)
        self.pages.append(page)
        return page

    async def close(self) -> list[str]:
        problems = [p for page in self.pages for p in page_problems(page)]
        for context in self.contexts:
            await context.close()
        return problems


@pytest.fixture
async def browser_pages(browser: Browser, platform: Platform) -> AsyncIterator[Pages]:
    pages = Pages(browser, platform.gateway)
    yield pages
    problems = await pages.close()
    if problems:
        pytest.fail("The pages broke the CSP or threw JavaScript errors:\n" + "\n".join(problems))


@pytest.fixture
async def page(browser_pages: Pages) -> Page:
    """A fresh browser context signed in as admin; relative URLs go to the gateway."""
    return await browser_pages.open("admin", ADMIN_PASSWORD)


@pytest.fixture
async def anonymous_page(browser_pages: Pages) -> Page:
    """A fresh browser context, not signed in."""
    return await browser_pages.open(None, None)


@pytest.fixture
def signed_in(browser_pages: Pages) -> SignedIn:
    """``await signed_in("claire", "...")``: a new context signed in as that user."""

    async def make(username: str, password: str) -> Page:
        return await browser_pages.open(username, password)

    return make


async def take_shot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def shot() -> Shot:
    return take_shot


def describe_violations(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(
            f"- {violation['id']} ({violation['impact']}): {violation['help']} "
            f"[{violation.get('helpUrl', '')}]"
        )
        for node in violation.get("nodes", [])[:5]:
            lines.append(f"    {node.get('target')}: {node.get('html', '')[:160]}")
    return "\n".join(lines)


@pytest.fixture
def assert_accessible() -> AssertAccessible:
    axe = Axe()

    async def check(page: Page, name: str) -> None:
        await take_shot(page, name)
        results = await axe.run(page)
        blocking = [
            v for v in results.response["violations"] if v.get("impact") in BLOCKING_IMPACTS
        ]
        assert not blocking, (
            f"{page.url}: accessibility violations (screenshot .run/screenshots/{name}.png):\n"
            + describe_violations(blocking)
        )

    return check

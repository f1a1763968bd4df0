"""A signed-in browser, without the browser: the web interface's pages over HTTP, with the
session cookie and the CSRF token a page's forms carry (for tests of what the server answers;
tests/browser drive a real chromium)."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

import aiohttp

from tests.support import ADMIN_PASSWORD

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def text_of(page: Page | str) -> str:
    """A page's text as read: tags dropped, entities decoded, French spaces (thin, no-break)
    as plain ones, spaces folded."""
    raw = page if isinstance(page, str) else page.text
    plain = html.unescape(re.sub(r"<[^>]+>", " ", raw))
    return " ".join(plain.replace("\u202f", " ").replace("\u00a0", " ").split())


def input_value(text: str, input_id: str) -> str:
    """What the input (or textarea) ``input_id`` of a page shows."""
    tag = re.search(rf'<(?:input|textarea)[^>]*id="{input_id}"[^>]*>', text)
    assert tag, f"no input {input_id}"
    if tag.group(0).startswith("<textarea"):
        after = text[tag.end() :]
        return html.unescape(after[: after.index("</textarea>")])
    found = re.search(r'value="([^"]*)"', tag.group(0))
    return html.unescape(found.group(1)) if found else ""


@dataclass
class Page:
    status: int
    url: str
    text: str
    headers: Any


class WebUser:
    """One person's browser session on the web interface."""

    def __init__(self, base: str, local_address: str | None = None) -> None:
        """``local_address``: a loopback address to send from (127.0.x.y), so what the sign-in
        throttle counts for this browser's address stays its own; by default the system's."""
        self.base = base
        connector = aiohttp.TCPConnector(local_addr=(local_address, 0)) if local_address else None
        self.http = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True), connector=connector
        )
        self.csrf = ""
        self.username = ""  # who signed in (set by the test that knows)

    async def sign_in(self, username: str = "admin", password: str = ADMIN_PASSWORD) -> Page:
        page = await self.post("/connexion", {"username": username, "password": password})
        return page

    async def get(self, path: str, **kwargs: Any) -> Page:
        async with self.http.get(self.base + path, **kwargs) as response:
            page = Page(response.status, str(response.url), await response.text(), response.headers)
        self._remember_csrf(page.text)
        return page

    async def post(self, path: str, data: Any, **kwargs: Any) -> Page:
        """A form posted as the browser does: from this site, with the page's CSRF token."""
        if isinstance(data, dict) and self.csrf and "csrf" not in data:
            data = {**data, "csrf": self.csrf}
        headers = {"Origin": self.base, **kwargs.pop("headers", {})}
        async with self.http.post(self.base + path, data=data, headers=headers, **kwargs) as r:
            page = Page(r.status, str(r.url), await r.text(), r.headers)
        self._remember_csrf(page.text)
        return page

    def _remember_csrf(self, text: str) -> None:
        found = CSRF.search(text)
        if found:
            self.csrf = found.group(1)

    async def close(self) -> None:
        await self.http.close()

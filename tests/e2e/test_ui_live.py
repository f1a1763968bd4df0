"""A record's live notices over HTTP: the page's event stream (server-sent events through the
gateway) tells another person's change with who, when and which fields, the records added to an
account's tabs, what was committed while the broker was away, and ends with the session."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import aiohttp
import orjson
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from services.gateway.app import create_app as gateway_app
from services.gateway.settings import GatewaySettings
from services.gateway.ui.live import STREAMS_PER_SESSION
from tests.platform import Platform
from tests.support import ADMIN_PASSWORD, eventually
from tests.ui_support import WebUser

PASSWORD = "Mot-de-passe-du-direct-9"
ADMIN_NAME = "Administrateur"  # the first administrator's display name
Headers = dict[str, str]
STREAM = {"Accept": "text/event-stream"}  # what a browser's EventSource asks for


@dataclass
class Event:
    name: str
    data: dict[str, Any]
    id: str | None


class EventStream:
    """A browser's EventSource, read by hand."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.comments: list[str] = []
        self.retry: int | None = None

    async def next(self, within: float = 20.0) -> Event:
        """The next event (comments and hints are kept aside); fails after ``within`` s."""
        return await asyncio.wait_for(self._next(), within)

    async def _next(self) -> Event:
        name, data, event_id = "message", "", None
        while True:
            raw = await self.response.content.readline()
            if not raw:
                raise AssertionError("the stream ended")
            line = raw.decode().rstrip("\n")
            if line == "":
                if data:
                    return Event(name, orjson.loads(data), event_id)
                continue
            key, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if key == "":
                self.comments.append(value)
            elif key == "event":
                name = value
            elif key == "data":
                data += value
            elif key == "id":
                event_id = value
            elif key == "retry":
                self.retry = int(value)

    async def ended(self, within: float = 30.0) -> list[Event]:
        """The events until the server closes the stream."""
        events: list[Event] = []

        async def read() -> None:
            while True:
                try:
                    events.append(await self._next())
                except AssertionError:
                    return

        await asyncio.wait_for(read(), within)
        return events


@asynccontextmanager
async def stream(
    user: WebUser, path: str, headers: Headers | None = None
) -> AsyncIterator[EventStream]:
    async with user.http.get(
        user.base + path, headers={"Accept": "text/event-stream", **(headers or {})}
    ) as response:
        assert response.status == 200, await response.text()
        assert response.headers["Content-Type"] == "text/event-stream; charset=utf-8"
        assert response.headers["Cache-Control"] == "no-store"
        events = EventStream(response)
        # The first lines: the reconnection delay and a comment, sent at once (nothing buffered).
        first = await asyncio.wait_for(response.content.readline(), 10)
        assert first.startswith(b"retry: "), first
        events.retry = int(first.removeprefix(b"retry: "))
        assert events.retry >= 1000
        yield events


async def person(platform: Platform, admin: Headers, display: str) -> tuple[str, Headers]:
    username = f"direct-{uuid.uuid4().hex[:8]}"
    body = {"username": username, "password": PASSWORD, "role": "user", "display_name": display}
    status, created, _ = await platform.call("POST", "/api/v1/users", admin, json=body)
    assert status == 201, created
    return username, await platform.login(username, PASSWORD)


async def signed_in(platform: Platform, username: str = "admin", password: str = "") -> WebUser:
    user = WebUser(platform.gateway)
    page = await (user.sign_in(username, password) if password else user.sign_in())
    assert page.status == 200, page.text
    assert "/connexion" not in page.url
    return user


async def made(platform: Platform, headers: Headers, path: str, body: dict[str, Any]) -> Any:
    status, record, _ = await platform.call("POST", path, headers, json=body)
    assert status == 201, record
    return record


async def patched(
    platform: Platform, headers: Headers, path: str, body: dict[str, Any]
) -> dict[str, Any]:
    status, record, _ = await platform.call("PATCH", path, headers, json=body)
    assert status == 200, record
    assert isinstance(record, dict)
    return record


async def test_another_persons_change_appears_with_who_when_and_the_fields(
    platform: Platform, admin: Headers
) -> None:
    account = await made(platform, admin, "/api/v1/accounts", {"name": "Direct SA"})
    path = f"/api/v1/accounts/{account['id']}"
    username, jean = await person(platform, admin, "Jean Dupont")
    viewer, other = await signed_in(platform), await signed_in(platform, username, PASSWORD)
    try:
        live = f"/crm/accounts/{account['id']}/evenements?version={account['version']}"
        async with stream(viewer, live) as seen, stream(other, live) as own:
            changed = await patched(
                platform, jean, path, {"name": "Direct et Fils", "phone": "01 42 68 53 00"}
            )
            event = await seen.next()
            assert event.name == "changed"
            assert event.id == str(changed["version"])
            data = event.data
            assert data["version"] == changed["version"] == account["version"] + 1
            assert data["actor"] == "Jean Dupont"
            assert data["own"] is False
            assert data["fields"] == ["Raison sociale", "Téléphone"]
            assert data["entity"] == "account"
            assert data["message"].startswith(
                "Cette fiche vient d'être modifiée par Jean Dupont à "
            )
            assert data["message"].endswith(" (Raison sociale, Téléphone).")
            # Its author, in another window, is told it was himself.
            mine = await own.next()
            assert mine.data["own"] is True
            assert "par vous, dans une autre fenêtre, à " in mine.data["message"]
            # The next change only: what a stream told is not told again.
            await patched(platform, admin, path, {"description": "Client depuis 2020"})
            event = await seen.next()
            assert (event.data["version"], event.data["actor"]) == (
                changed["version"] + 1,
                ADMIN_NAME,
            )
            assert event.data["fields"] == ["Description"]
            # Put in the trash: the page is told so (and offered the list, live.js).
            status, _, _ = await platform.call("DELETE", path, jean)
            assert status in (200, 204)
            event = await seen.next()
            assert (event.data["change"], event.data["version"]) == (
                "deleted",
                changed["version"] + 2,
            )
            assert event.data["message"].startswith(
                "Cette fiche vient d'être mise à la corbeille par Jean Dupont à "
            )
    finally:
        await viewer.close()
        await other.close()


async def test_a_stream_tells_what_was_committed_before_it_opened_and_not_what_the_page_has(
    platform: Platform, admin: Headers
) -> None:
    account = await made(platform, admin, "/api/v1/accounts", {"name": "Retard SARL"})
    path = f"/api/v1/accounts/{account['id']}"
    changed = await patched(platform, admin, path, {"name": "Retard et Cie"})
    viewer = await signed_in(platform)
    try:
        base = f"/crm/accounts/{account['id']}/evenements"
        # The page showed version 1: version 2 came before the stream opened.
        async with stream(viewer, f"{base}?version={account['version']}") as late:
            event = await late.next()
            assert event.name == "changed"
            assert (event.data["version"], event.data["actor"]) == (changed["version"], ADMIN_NAME)
            assert event.data["fields"] == []  # read from the record: who and when only
        # A page showing the current version, or a browser that was told it (Last-Event-ID),
        # hears only of the next one.
        current = changed["version"]
        for told_by in ("page", "Last-Event-ID"):
            query = f"?version={current}" if told_by == "page" else "?version=1"
            headers = {"Last-Event-ID": str(current)} if told_by == "Last-Event-ID" else {}
            async with stream(viewer, base + query, headers) as now:
                again = await patched(platform, admin, path, {"description": told_by})
                event = await now.next()
                assert event.data["version"] == again["version"] == current + 1
                current = again["version"]
    finally:
        await viewer.close()


async def test_an_account_hears_of_a_record_added_to_its_tabs(
    platform: Platform, admin: Headers
) -> None:
    account = await made(platform, admin, "/api/v1/accounts", {"name": "Onglets SA"})
    elsewhere = await made(platform, admin, "/api/v1/accounts", {"name": "Ailleurs SA"})
    viewer = await signed_in(platform)
    try:
        live = f"/crm/accounts/{account['id']}/evenements?version={account['version']}"
        async with stream(viewer, live) as seen:
            await made(  # not this account's: not told
                platform,
                admin,
                "/api/v1/contacts",
                {"last_name": "Autre", "account_id": elsewhere["id"]},
            )
            contact = await made(
                platform,
                admin,
                "/api/v1/contacts",
                {"first_name": "Marie", "last_name": "Curie", "account_id": account["id"]},
            )
            event = await seen.next()
            assert event.name == "related"
            assert event.id is None
            data = event.data
            assert (data["entity"], data["collection"], data["id"]) == (
                "contact",
                "contacts",
                contact["id"],
            )
            assert (data["tab"], data["change"]) == ("Contacts", "created")
            assert data["title"] == "Marie Curie"
            assert data["message"].startswith("Ajout dans l'onglet Contacts : Marie Curie, par ")
            assert f", par {ADMIN_NAME} à " in data["message"]
    finally:
        await viewer.close()


async def test_changes_made_while_the_broker_was_away_are_told_once_it_is_back(
    platform: Platform, admin: Headers
) -> None:
    account = await made(platform, admin, "/api/v1/accounts", {"name": "Coupure SA"})
    path = f"/api/v1/accounts/{account['id']}"
    viewer = await signed_in(platform)
    try:
        live = f"/crm/accounts/{account['id']}/evenements?version={account['version']}"
        async with stream(viewer, live) as seen:
            await platform.gateway_broker.cut()
            try:
                during = await patched(platform, admin, path, {"name": "Coupure et Fils"})
            finally:
                await platform.gateway_broker.restore()
            # The feed reconnects and the stream reads the record again: the change is told.
            event = await seen.next(within=60)
            assert event.name == "changed"
            assert (event.data["version"], event.data["actor"]) == (during["version"], ADMIN_NAME)
            # Later changes come through the feed again, fields and all.
            after = await patched(platform, admin, path, {"phone": "04 72 00 00 00"})
            event = await seen.next(within=30)
            assert (event.data["version"], event.data["fields"]) == (
                after["version"],
                ["Téléphone"],
            )
    finally:
        await viewer.close()


async def test_the_stream_ends_when_the_session_ends(platform: Platform, admin: Headers) -> None:
    account = await made(platform, admin, "/api/v1/accounts", {"name": "Fin de session SA"})
    viewer = await signed_in(platform)
    try:
        live = f"/crm/accounts/{account['id']}/evenements?version={account['version']}"
        async with stream(viewer, live) as seen:
            out = await viewer.post("/deconnexion", {})
            assert out.status == 200
            events = await seen.ended()
            assert [e.name for e in events] == ["ended"]
        # Its reconnection is refused (401, not a sign-in page), which ends the EventSource.
        async with viewer.http.get(
            viewer.base + live, headers=STREAM, allow_redirects=False
        ) as response:
            assert response.status == 401
            assert "Location" not in response.headers
    finally:
        await viewer.close()


async def test_a_stream_is_only_for_a_record_the_user_may_read(
    platform: Platform, admin: Headers
) -> None:
    account = await made(platform, admin, "/api/v1/accounts", {"name": "Refus SA"})
    viewer = await signed_in(platform)
    try:
        for path in (
            f"/crm/accounts/{uuid.uuid4()}/evenements",  # no such record
            "/crm/accounts/pas-un-identifiant/evenements",
            f"/crm/inconnus/{account['id']}/evenements",
            f"/crm/users/{uuid.uuid4()}/evenements",
        ):
            page = await viewer.get(path)
            assert page.status == 404, (path, page.status)
            assert "text/html" in page.headers["Content-Type"]
            assert "Traceback" not in page.text
        live = f"/crm/accounts/{account['id']}/evenements"
        async with viewer.http.head(viewer.base + live) as response:  # answered, not streamed
            assert response.status == 200
            assert response.headers["Content-Type"] == "text/event-stream; charset=utf-8"
        stranger = WebUser(platform.gateway)
        try:
            async with stranger.http.get(
                stranger.base + live, headers=STREAM, allow_redirects=False
            ) as response:
                assert response.status == 401
                assert "Location" not in response.headers
        finally:
            await stranger.close()
    finally:
        await viewer.close()


async def refused(user: WebUser, path: str) -> tuple[int, Headers, str]:
    """A stream's answer when it is not a stream: status, headers, text."""
    async with user.http.get(user.base + path, headers=STREAM) as response:
        assert response.status != 200, "a stream was opened"
        assert "text/event-stream" not in response.headers.get("Content-Type", "")
        return response.status, dict(response.headers), await response.text()


async def accepted(user: WebUser, path: str) -> bool | None:
    """True when a stream opens now (it is closed at once), else None (for ``eventually``)."""
    async with user.http.get(user.base + path, headers=STREAM) as response:
        return response.status == 200 or None


async def test_one_session_holds_a_few_streams_and_gets_them_back_as_pages_close(
    platform: Platform, admin: Headers
) -> None:
    account = await made(platform, admin, "/api/v1/accounts", {"name": "Onglets multiples SA"})
    live = f"/crm/accounts/{account['id']}/evenements?version={account['version']}"
    viewer, other = await signed_in(platform), await signed_in(platform)
    try:
        async with AsyncExitStack() as tabs:
            opened = [
                await tabs.enter_async_context(stream(viewer, live))
                for _ in range(STREAMS_PER_SESSION)
            ]
            status, headers, text = await refused(viewer, live)
            assert status == 429
            assert int(headers["Retry-After"]) > 0
            assert "réessayez plus tard" in text
            # Another session's stream is its own: open.
            async with stream(other, live):
                pass
            # A page closed (its browser left): its stream is counted no more.
            await opened[-1].response.release()
            opened[-1].response.close()
            assert await eventually(lambda: accepted(viewer, live), within=30)
            # The others still stream.
            changed = await patched(
                platform, admin, f"/api/v1/accounts/{account['id']}", {"name": "Onglets SA"}
            )
            event = await opened[0].next()
            assert event.data["version"] == changed["version"]
    finally:
        await viewer.close()
        await other.close()


async def test_a_gateway_copy_holds_at_most_its_setting_of_streams(
    platform: Platform, admin: Headers
) -> None:
    settings = platform.settings["gateway"]
    assert isinstance(settings, GatewaySettings)
    token = "jeton-des-mesures-du-direct"
    small = settings.model_copy(update={"web_max_streams": 2, "metrics_token": SecretStr(token)})
    server = TestServer(gateway_app(small), host="127.0.0.1")
    await server.start_server()
    url = str(server.make_url("")).rstrip("/")

    async def ready() -> bool | None:
        async with platform.http.get(f"{url}/readyz") as response:
            return response.status == 200 or None

    async def gauge() -> float:
        async with platform.http.get(
            f"{url}/metrics", headers={"Authorization": f"Bearer {token}"}
        ) as response:
            assert response.status == 200
            text = await response.text()
        values = [
            float(line.split()[-1])
            for line in text.splitlines()
            if line.startswith("crm_web_live_streams ")
        ]
        assert len(values) == 1, text
        return values[0]

    users: list[WebUser] = []
    try:
        await eventually(ready, within=30)
        account = await made(platform, admin, "/api/v1/accounts", {"name": "Copie pleine SA"})
        live = f"/crm/accounts/{account['id']}/evenements?version={account['version']}"
        for _ in range(3):
            user = WebUser(url)
            users.append(user)
            assert (await user.sign_in()).status == 200
        assert await gauge() == 0
        async with stream(users[0], live) as first:
            async with stream(users[1], live):
                assert await gauge() == 2
                status, headers, text = await refused(users[2], live)  # its first stream
                assert status == 503
                assert int(headers["Retry-After"]) > 0
                assert "réessayez plus tard" in text
            # Closed: counted no more, and a stream opens again.
            assert await eventually(lambda: accepted(users[2], live), within=30)
            assert await eventually(lambda: _equal(gauge(), 1), within=30)
            await patched(
                platform, admin, f"/api/v1/accounts/{account['id']}", {"description": "Pleine"}
            )
            assert (await first.next()).name == "changed"
        assert await eventually(lambda: _equal(gauge(), 0), within=30)
    finally:
        for user in users:
            await user.close()
        await server.close()


async def _equal(value: Any, expected: float) -> bool | None:
    return (await value) == expected or None


async def test_a_version_beyond_any_integer_is_refused(platform: Platform, admin: Headers) -> None:
    account = await made(platform, admin, "/api/v1/accounts", {"name": "Version folle SA"})
    await patched(platform, admin, f"/api/v1/accounts/{account['id']}", {"name": "Version SA"})
    viewer = await signed_in(platform)
    try:
        base = f"/crm/accounts/{account['id']}/evenements"
        huge = "99999999999999999999999"
        for query, headers in (
            (f"?version={huge}", {}),
            ("?version=9223372036854775808", {}),  # one past a bigint
            ("?version=-1", {}),
            ("?version=deux", {}),
            ("?version=1", {"Last-Event-ID": huge}),
        ):
            async with viewer.http.get(
                viewer.base + base + query, headers={**STREAM, **headers}
            ) as response:
                assert response.status == 400, (query, headers)
                assert "text/event-stream" not in response.headers["Content-Type"]
                assert "Version de fiche invalide" in await response.text()
        # The largest version there may be: the page has every version, nothing is told.
        async with stream(viewer, f"{base}?version=9223372036854775807") as newest:
            with_comment = await asyncio.wait_for(newest.response.content.readline(), 10)
            assert with_comment.startswith(b":"), with_comment
    finally:
        await viewer.close()


async def test_a_stream_without_a_session_is_refused_and_never_the_way_back_after_sign_in(
    platform: Platform, admin: Headers
) -> None:
    account = await made(platform, admin, "/api/v1/accounts", {"name": "Anonyme SA"})
    record = f"/crm/accounts/{account['id']}"
    live = f"{record}/evenements?version={account['version']}"
    stranger = WebUser(platform.gateway)
    try:
        async with stranger.http.get(
            stranger.base + live, headers=STREAM, allow_redirects=False
        ) as response:
            assert response.status == 401
            assert "Location" not in response.headers
            assert "HX-Redirect" not in response.headers
            assert "text/event-stream" not in response.headers["Content-Type"]
        # Typed in the address bar: the sign-in page, which then leads to the record.
        async with stranger.http.get(stranger.base + live, allow_redirects=False) as response:
            assert response.status == 303
            assert unquote(response.headers["Location"]) == f"/connexion?suite={record}"
        # htmx on a page whose address is a stream's: back to its record too.
        async with stranger.http.get(
            stranger.base + "/crm/accounts",
            headers={"HX-Request": "true", "HX-Current-URL": stranger.base + live},
            allow_redirects=False,
        ) as response:
            assert response.status == 401
            assert "evenements" not in response.headers["HX-Redirect"]
        page = await stranger.get(live)
        assert "/connexion" in page.url
        assert f'name="suite" value="{record}"' in page.text
        signed = await stranger.post(
            "/connexion", {"username": "admin", "password": ADMIN_PASSWORD, "suite": record}
        )
        assert signed.status == 200
        assert signed.url == stranger.base + record
    finally:
        await stranger.close()

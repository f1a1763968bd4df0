"""Sessions that end, throttled sign-in and the password policy, through the gateway (and, for
the throttle shared by gateway copies, against the gateway's database from two pools)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import asyncpg
import pytest

from services.common.errors import ValidationFailed
from services.common.identity import Identity
from services.gateway import service
from services.gateway.app import create_app as gateway_app
from services.gateway.domain import ThrottlePolicy, issue_token
from tests.platform import Platform, serve
from tests.support import TOKEN_SECRET, eventually, isolated_database_url

PASSWORD = "Un-mot-de-passe-solide-1"
NEW_PASSWORD = "Un-autre-mot-de-passe-2"


async def new_user(
    platform: Platform, admin: dict[str, str], role: str = "user"
) -> tuple[str, str]:
    """A user of its own for each test (id, username): sessions and lockouts stay apart."""
    username = f"sess-{uuid.uuid4().hex[:10]}"
    body = {"username": username, "password": PASSWORD, "role": role}
    status, created, _ = await platform.call("POST", "/api/v1/users", admin, json=body)
    assert status == 201, created
    return created["id"], username


async def me_status(platform: Platform, headers: dict[str, str]) -> int:
    status, _, _ = await platform.call("GET", "/api/v1/users/me", headers)
    return status


async def refused(platform: Platform, headers: dict[str, str]) -> bool:
    return await me_status(platform, headers) == 401


@pytest.fixture
def own_address() -> str:
    """A loopback address of this test's own (127.0.x.y), the one ``from_address`` binds."""
    return f"127.0.{uuid.uuid4().int % 200 + 20}.{uuid.uuid4().int % 250 + 2}"


@pytest.fixture
async def from_address(own_address: str) -> AsyncIterator[aiohttp.ClientSession]:
    """A client on a loopback address of its own (127.0.0.x): failures counted for its address
    do not lock out the other tests, which sign in from 127.0.0.1."""
    connector = aiohttp.TCPConnector(local_addr=(own_address, 0))
    async with aiohttp.ClientSession(connector=connector) as http:
        yield http


async def login_from(
    http: aiohttp.ClientSession, platform: Platform, username: str, password: str
) -> tuple[int, Any, Any]:
    async with http.post(
        f"{platform.gateway}/api/v1/auth/login", json={"username": username, "password": password}
    ) as response:
        return response.status, await response.json(content_type=None), response.headers


async def test_a_signed_out_token_is_refused_and_other_sessions_go_on(
    platform: Platform, admin: dict[str, str]
) -> None:
    _, username = await new_user(platform, admin)
    first = await platform.login(username, PASSWORD)
    second = await platform.login(username, PASSWORD)

    status, body, _ = await platform.call("POST", "/api/v1/auth/logout", first)
    assert status == 204, body
    status, body, headers = await platform.call("GET", "/api/v1/users/me", first)
    assert status == 401
    assert headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert headers["Content-Type"].startswith("application/problem+json")
    assert "session est terminée" in body["detail"]
    status, _, _ = await platform.call("POST", "/api/v1/auth/logout", first)
    assert status == 401
    assert await me_status(platform, second) == 200


async def test_a_read_only_user_can_sign_out(platform: Platform, admin: dict[str, str]) -> None:
    _, username = await new_user(platform, admin, role="readonly")
    headers = await platform.login(username, PASSWORD)
    status, body, _ = await platform.call("POST", "/api/v1/auth/logout", headers)
    assert status == 204, body
    assert await refused(platform, headers)


async def test_a_read_only_user_ends_one_of_their_own_sessions(
    platform: Platform, admin: dict[str, str]
) -> None:
    user_id, username = await new_user(platform, admin, role="readonly")
    first = await platform.login(username, PASSWORD)
    second = await platform.login(username, PASSWORD)
    status, listed, _ = await platform.call("GET", f"/api/v1/users/{user_id}/sessions", first)
    assert status == 200, listed
    other = next(i["id"] for i in listed["items"] if not i["current"])
    assert await me_status(platform, second) == 200  # this gateway now keeps it as open
    status, body, _ = await platform.call(
        "DELETE", f"/api/v1/users/{user_id}/sessions/{other}", first
    )
    assert status == 204, body
    assert await refused(platform, second)  # the same gateway refuses it at once
    assert await me_status(platform, first) == 200
    status, _, _ = await platform.call("DELETE", f"/api/v1/users/{user_id}/sessions", first)
    assert status == 403  # ending all of them at once is still for admins


async def test_a_token_without_a_session_is_refused(platform: Platform) -> None:
    """A well-signed, unexpired token that names no session (or an unknown one) is refused."""
    identity = Identity(str(uuid.uuid4()), "admin", "admin")
    for session_id in (None, uuid.uuid4()):
        token = issue_token(identity, TOKEN_SECRET, ttl=600, session_id=session_id)
        assert await refused(platform, {"Authorization": f"Bearer {token}"})


async def test_a_deactivated_user_s_token_is_refused(
    platform: Platform, admin: dict[str, str]
) -> None:
    user_id, username = await new_user(platform, admin)
    headers = await platform.login(username, PASSWORD)
    assert await me_status(platform, headers) == 200
    status, body, _ = await platform.call(
        "PATCH", f"/api/v1/users/{user_id}", admin, json={"active": False}
    )
    assert status == 200, body
    assert await refused(platform, headers)  # the same gateway refuses it at once
    status, _, _ = await platform.call(
        "POST", "/api/v1/accounts", headers, json={"name": "Après désactivation"}
    )
    assert status == 401
    async with platform.http.post(
        f"{platform.gateway}/api/v1/auth/login",
        json={"username": username, "password": PASSWORD},
    ) as response:
        assert response.status == 401


async def test_a_demoted_user_s_old_token_is_refused(
    platform: Platform, admin: dict[str, str]
) -> None:
    user_id, username = await new_user(platform, admin)
    headers = await platform.login(username, PASSWORD)
    assert await me_status(platform, headers) == 200  # this gateway now keeps it as open
    status, body, _ = await platform.call(
        "PATCH", f"/api/v1/users/{user_id}", admin, json={"role": "readonly"}
    )
    assert status == 200, body
    assert await refused(platform, headers)  # the same gateway refuses it at once
    status, _, _ = await platform.call(
        "POST", "/api/v1/accounts", headers, json={"name": "Après rétrogradation"}
    )
    assert status == 401
    reader = await platform.login(username, PASSWORD)  # signed in again: read-only now
    status, _, _ = await platform.call("POST", "/api/v1/accounts", reader, json={"name": "Non"})
    assert status == 403
    # A change that is not of role or activity leaves sessions open.
    status, _, _ = await platform.call(
        "PATCH", f"/api/v1/users/{user_id}", admin, json={"display_name": "Lectrice"}
    )
    assert status == 200
    assert await me_status(platform, reader) == 200


async def test_a_demoted_admin_s_next_request_is_refused_by_the_same_gateway(
    platform: Platform, admin: dict[str, str]
) -> None:
    """No window in which a demoted admin still acts as one on the gateway that demoted them."""
    user_id, username = await new_user(platform, admin, role="admin")
    former = await platform.login(username, PASSWORD)
    status, _, _ = await platform.call("GET", "/api/v1/users", former)
    assert status == 200  # this gateway now keeps the session as open
    status, body, _ = await platform.call(
        "PATCH", f"/api/v1/users/{user_id}", admin, json={"role": "user"}
    )
    assert status == 200, body
    created = f"sess-{uuid.uuid4().hex[:10]}"
    status, body, _ = await platform.call(
        "POST",
        "/api/v1/users",
        former,
        json={"username": created, "password": PASSWORD, "role": "admin"},
    )
    assert status == 401, body
    status, body, _ = await platform.call(  # the name is free: nothing was created
        "POST", "/api/v1/users", admin, json={"username": created, "password": PASSWORD}
    )
    assert status == 201, body


async def test_changing_one_s_password_ends_one_s_other_sessions_and_a_reset_ends_all(
    platform: Platform, admin: dict[str, str]
) -> None:
    user_id, username = await new_user(platform, admin)
    here = await platform.login(username, PASSWORD)
    elsewhere = await platform.login(username, PASSWORD)
    assert await me_status(platform, elsewhere) == 200  # kept as open by this gateway
    status, body, _ = await platform.call(
        "POST",
        "/api/v1/users/me/password",
        here,
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert status == 204, body
    assert await refused(platform, elsewhere)  # the same gateway refuses it at once
    assert await me_status(platform, here) == 200

    status, body, _ = await platform.call(
        "POST", f"/api/v1/users/{user_id}/password", admin, json={"new_password": PASSWORD}
    )
    assert status == 204, body
    assert await refused(platform, here)
    assert await me_status(platform, await platform.login(username, PASSWORD)) == 200


async def test_sessions_are_listed_to_the_user_and_admins_and_ended_by_an_admin(
    platform: Platform, admin: dict[str, str]
) -> None:
    user_id, username = await new_user(platform, admin)
    first = await platform.login(username, PASSWORD)
    second = await platform.login(username, PASSWORD)
    status, listed, _ = await platform.call("GET", f"/api/v1/users/{user_id}/sessions", first)
    assert status == 200, listed
    assert len(listed["items"]) == 2
    assert [item["current"] for item in listed["items"]].count(True) == 1
    assert all(item["client_address"] == "127.0.0.1" for item in listed["items"])
    status, by_admin, _ = await platform.call(
        "GET", f"/api/v1/users/{user_id.upper()}/sessions", admin
    )
    assert status == 200
    assert {i["id"] for i in by_admin["items"]} == {i["id"] for i in listed["items"]}

    other_id, other_name = await new_user(platform, admin)
    other = await platform.login(other_name, PASSWORD)
    status, _, _ = await platform.call("GET", f"/api/v1/users/{user_id}/sessions", other)
    assert status == 403
    status, _, _ = await platform.call("DELETE", f"/api/v1/users/{user_id}/sessions", first)
    assert status == 403  # ending all of a user's sessions is for admins
    one = next(i["id"] for i in listed["items"] if not i["current"])
    status, _, _ = await platform.call("DELETE", f"/api/v1/users/{other_id}/sessions/{one}", admin)
    assert status == 404  # not a session of that user
    assert await me_status(platform, second) == 200  # kept as open by this gateway

    # A user ends one of their own sessions (the other one, here).
    status, body, _ = await platform.call(
        "DELETE", f"/api/v1/users/{user_id}/sessions/{one}", first
    )
    assert status == 204, body
    assert await refused(platform, second)  # the same gateway refuses it at once
    assert await me_status(platform, first) == 200

    status, _, _ = await platform.call("DELETE", f"/api/v1/users/{user_id}/sessions", admin)
    assert status == 204
    assert await refused(platform, first)
    status, listed, _ = await platform.call("GET", f"/api/v1/users/{user_id}/sessions", admin)
    assert listed["items"] == []
    assert await me_status(platform, other) == 200  # other users' sessions go on
    status, _, _ = await platform.call("DELETE", f"/api/v1/users/{uuid.uuid4()}/sessions", admin)
    assert status == 404


async def test_every_gateway_copy_refuses_an_ended_session_within_seconds(
    platform: Platform, admin: dict[str, str]
) -> None:
    """A second gateway on the same database: a session ended through one is refused by both."""
    second = await serve(gateway_app, platform.settings["gateway"])
    try:
        other_gateway = str(second.make_url("")).rstrip("/")
        _, username = await new_user(platform, admin)
        headers = await platform.login(username, PASSWORD)

        async def status_there() -> int:
            async with platform.http.get(
                f"{other_gateway}/api/v1/users/me", headers=headers
            ) as response:
                return response.status

        assert await status_there() == 200  # the second copy now keeps the session as open
        status, _, _ = await platform.call("POST", "/api/v1/auth/logout", headers)
        assert status == 204

        async def refused_there() -> bool:
            return await status_there() == 401

        await eventually(refused_there, within=3)
    finally:
        await second.close()


async def test_repeated_wrong_passwords_lock_the_user_name_even_for_the_right_one(
    platform: Platform, admin: dict[str, str], from_address: aiohttp.ClientSession
) -> None:
    _, username = await new_user(platform, admin)
    statuses = []
    for _ in range(30):
        status, body, headers = await login_from(
            from_address, platform, username.upper(), "Pas-le-bon-mot-de-passe"
        )
        statuses.append(status)
    assert set(statuses[:5]) == {401}, statuses
    assert statuses[-1] == 429, statuses
    assert int(headers["Retry-After"]) > 0
    assert headers["Content-Type"].startswith("application/problem+json")
    assert body["status"] == 429
    wait = int(headers["Retry-After"])  # the first lockout: 15 s, not counted on while it lasts
    assert body["detail"].endswith(f"réessayez dans {wait} seconde{'s' if wait > 1 else ''}.")

    # The right password is not even checked while the lockout lasts, from anywhere.
    status, body, headers = await login_from(from_address, platform, username, PASSWORD)
    assert status == 429, body
    async with platform.http.post(
        f"{platform.gateway}/api/v1/auth/login",
        json={"username": username, "password": PASSWORD},
    ) as response:
        assert response.status == 429
        assert int(response.headers["Retry-After"]) > 0


async def change_from(
    http: aiohttp.ClientSession,
    platform: Platform,
    path: str,
    headers: dict[str, str],
    current: str,
    new: str = NEW_PASSWORD,
) -> tuple[int, Any, Any]:
    async with http.post(
        f"{platform.gateway}{path}",
        headers=headers,
        json={"current_password": current, "new_password": new},
    ) as response:
        return response.status, await response.json(content_type=None), response.headers


async def test_wrong_current_passwords_count_as_failed_sign_ins(
    platform: Platform,
    admin: dict[str, str],
    from_address: aiohttp.ClientSession,
    own_address: str,
    gateway_db: asyncpg.Connection,
) -> None:
    """A session may not guess its user's password on the password change either: each wrong
    current password is a failed sign-in of the user name and the client address, a right one
    resets like a sign-in, and the lockout is the sign-in's (429, Retry-After, French wait)."""
    user_id, username = await new_user(platform, admin)
    status, body, _ = await login_from(from_address, platform, username, PASSWORD)
    assert status == 200, body
    token = {"Authorization": f"Bearer {body['access_token']}"}
    me, by_id = "/api/v1/users/me/password", f"/api/v1/users/{user_id}/password"
    for path in (me, by_id, me, by_id):  # both ways of changing one's own, one count
        status, problem, _ = await change_from(from_address, platform, path, token, "Faux-1")
        assert status == 422, problem
        assert [e["field"] for e in problem["errors"]] == ["current_password"]
    counted = await gateway_db.fetch(
        "SELECT scope, key, failures FROM login_throttle WHERE (scope, key) IN "
        "(('username', $1), ('address', $2)) ORDER BY scope",
        username,
        own_address,
    )  # the client's address, not only the user name
    assert [(r["scope"], r["failures"]) for r in counted] == [("address", 4), ("username", 4)]

    # The right one changes it, and the user name starts afresh, as after a sign-in.
    status, body, _ = await change_from(from_address, platform, me, token, PASSWORD)
    assert status == 204, body
    statuses = []
    for _ in range(6):
        status, problem, headers = await change_from(
            from_address, platform, by_id, token, "Faux-2", PASSWORD
        )
        statuses.append(status)
    assert statuses == [422] * 5 + [429], statuses  # the fifth failure locks, as a sign-in's
    wait = int(headers["Retry-After"])
    assert wait > 0
    assert problem["status"] == 429
    assert problem["detail"].endswith(f"réessayez dans {wait} seconde{'s' if wait > 1 else ''}.")
    # While locked the right password is not even checked, here or at sign-in.
    status, problem, _ = await change_from(from_address, platform, me, token, NEW_PASSWORD)
    assert status == 429, problem
    status, _, _ = await login_from(from_address, platform, username, NEW_PASSWORD)
    assert status == 429
    async with platform.http.post(
        f"{platform.gateway}/api/v1/auth/login",
        json={"username": username, "password": NEW_PASSWORD},
    ) as response:
        assert response.status == 429  # the user name's lockout, from any address
    # An administrator's reset of someone else's password is not a guess: never throttled.
    status, body, _ = await platform.call(
        "POST", by_id, admin, json={"new_password": "Encore-un-autre-mot-de-passe-3"}
    )
    assert status == 204, body


async def test_a_dotted_capital_i_neither_signs_in_nor_escapes_the_lockout(
    platform: Platform, admin: dict[str, str], from_address: aiohttp.ClientSession
) -> None:
    """PostgreSQL's lower() makes "İ" an "i", Python's an "i" with a combining dot: a user name
    is looked up and throttled by one and the same key, and only ASCII names find a user."""
    name = f"victim-{uuid.uuid4().hex[:8]}"
    status, created, _ = await platform.call(
        "POST", "/api/v1/users", admin, json={"username": name, "password": PASSWORD}
    )
    assert status == 201, created
    variants = [name.replace("i", "İ", 1), name.upper().replace("I", "İ"), name.replace("i", "ı")]
    for variant in variants:  # the right password, but not this user's name
        status, body, _ = await login_from(from_address, platform, variant, PASSWORD)
        assert status == 401, (variant, body)
    for _ in range(5):
        status, _, _ = await login_from(from_address, platform, name, "Pas-le-bon-mot-de-passe")
    assert status == 429
    for variant in variants[:2]:  # the spellings PostgreSQL lowers to the name: its lockout
        status, body, _ = await login_from(from_address, platform, variant, PASSWORD)
        assert status == 429, (variant, body)
        assert "access_token" not in body
    async with platform.http.post(  # a fresh address: the user name's lockout still holds
        f"{platform.gateway}/api/v1/auth/login",
        json={"username": variants[0], "password": PASSWORD},
    ) as response:
        assert response.status == 429


async def test_an_unknown_name_is_answered_as_a_known_one_with_a_wrong_password(
    platform: Platform, admin: dict[str, str], from_address: aiohttp.ClientSession
) -> None:
    """The throttle tells no user name from another: the same 401s, then the same 429."""
    _, known = await new_user(platform, admin)
    answers: dict[str, list[tuple[int, str, str]]] = {}
    for name in (known, f"inconnu-{uuid.uuid4().hex[:8]}", f"İnconnu-{uuid.uuid4().hex[:8]}"):
        answers[name] = []
        for _ in range(6):
            status, body, _ = await login_from(from_address, platform, name, "Mauvais-essai-1")
            answers[name].append((status, body["title"], body["detail"]))
    assert len({tuple(a) for a in answers.values()}) == 1, answers
    assert [status for status, _, _ in answers[known]] == [401] * 5 + [429]


async def test_a_success_resets_the_user_name_s_failures(
    platform: Platform, admin: dict[str, str], from_address: aiohttp.ClientSession
) -> None:
    _, username = await new_user(platform, admin)
    for _ in range(3):
        for _ in range(4):  # one short of the lockout, then the right password
            status, _, _ = await login_from(from_address, platform, username, "Mauvais-essai-1")
            assert status == 401
        status, body, _ = await login_from(from_address, platform, username, PASSWORD)
        assert status == 200, body


async def test_failures_and_lockouts_are_logged_without_the_password(
    platform: Platform,
    admin: dict[str, str],
    from_address: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, username = await new_user(platform, admin)
    caplog.set_level(logging.WARNING, logger="services.gateway.service")
    secret_guess = "Essai-secret-a-ne-jamais-journaliser"
    for _ in range(5):
        status, _, _ = await login_from(from_address, platform, username, secret_guess)
        assert status == 401
    records = [r for r in caplog.records if r.name == "services.gateway.service"]
    failures = [r.getMessage() for r in records if "sign-in failed" in r.getMessage()]
    lockouts = [r.getMessage() for r in records if "sign-in locked" in r.getMessage()]
    assert len(failures) == 5
    assert all(r.levelno == logging.WARNING for r in records)
    assert all(username in m and "address=127.0." in m and " at=20" in m for m in failures)
    assert len(lockouts) == 1
    assert username in lockouts[0]
    assert all(secret_guess not in r.getMessage() for r in caplog.records)


async def test_the_lockout_is_shared_by_gateway_copies_and_lets_only_five_attempts_through(
    platform: Platform,
) -> None:
    """Two pools on the gateway database, as two gateway copies would have: of eight attempts
    made at once for one user name, exactly five reach the password check, and the lockout is
    seen by both, whatever the case of the name and from any address."""
    url = isolated_database_url("gateway")
    policy = ThrottlePolicy()
    name = f"partage-{uuid.uuid4().hex[:8]}"
    address = f"192.0.2.{uuid.uuid4().int % 250 + 1}"
    first = await asyncpg.create_pool(url, min_size=1, max_size=4)
    second = await asyncpg.create_pool(url, min_size=1, max_size=4)
    try:
        results = await asyncio.gather(
            *(
                service.reserve_attempt(pool, name, address, policy)
                for pool in (first, second)
                for _ in range(4)
            ),
            return_exceptions=True,
        )
        let_through = [r for r in results if isinstance(r, service.ReservedAttempt)]
        refused = [r for r in results if isinstance(r, service.LoginThrottled)]
        assert (len(let_through), len(refused)) == (5, 3), results
        assert all(r.retry_after > 0 for r in refused)
        counted = await first.fetchval(
            "SELECT failures FROM login_throttle WHERE scope = 'username' AND key = $1", name
        )
        assert counted == 5
        with pytest.raises(service.LoginThrottled):
            await service.reserve_attempt(second, name.upper(), "198.51.100.1", policy)
        # The address is counted too, below its own threshold: another name from it is let in,
        # and its success takes its count back.
        other = await service.reserve_attempt(first, f"autre-{name}", address, policy)
        async with first.acquire() as conn:
            await other.succeeded(conn)
        counted = await first.fetchval(
            "SELECT failures FROM login_throttle WHERE scope = 'address' AND key = $1", address
        )
        assert counted == 5
    finally:
        await first.close()
        await second.close()


async def test_wrong_passwords_sent_at_once_are_checked_five_times_at_most(
    platform: Platform, admin: dict[str, str], from_address: aiohttp.ClientSession
) -> None:
    _, username = await new_user(platform, admin)
    answers = await asyncio.gather(
        *(
            login_from(from_address, platform, username, "Rafale-de-mots-de-passe")
            for _ in range(20)
        )
    )
    statuses = sorted(status for status, _, _ in answers)
    assert statuses == [401] * 5 + [429] * 15


async def test_weak_passwords_are_refused_naming_the_field(
    platform: Platform, admin: dict[str, str]
) -> None:
    for password, words in (
        ("Court-1", "au moins 12"),
        ("123qweasdzxc", "plus courants"),
        ("QWERTY123456", "plus courants"),  # compared whatever the case
    ):
        body = {"username": f"faible-{uuid.uuid4().hex[:8]}", "password": password}
        status, problem, _ = await platform.call("POST", "/api/v1/users", admin, json=body)
        assert status == 422, problem
        assert problem["errors"][0]["field"] == "password"
        assert words in problem["errors"][0]["message"]

    user_id, username = await new_user(platform, admin)
    headers = await platform.login(username, PASSWORD)
    status, problem, _ = await platform.call(
        "POST",
        "/api/v1/users/me/password",
        headers,
        json={"current_password": PASSWORD, "new_password": "1q2w3e4r5t6y"},
    )
    assert status == 422, problem
    assert [e["field"] for e in problem["errors"]] == ["new_password"]
    status, problem, _ = await platform.call(
        "POST", f"/api/v1/users/{user_id}/password", admin, json={"new_password": "trop-court"}
    )
    assert status == 422
    assert [e["field"] for e in problem["errors"]] == ["new_password"]
    assert await me_status(platform, headers) == 200  # nothing changed, nothing ended


async def test_one_s_own_id_in_upper_case_still_asks_for_the_current_password(
    platform: Platform, admin: dict[str, str]
) -> None:
    user_id, username = await new_user(platform, admin)
    headers = await platform.login(username, PASSWORD)
    status, problem, _ = await platform.call(
        "POST",
        f"/api/v1/users/{user_id.upper()}/password",
        headers,
        json={"new_password": NEW_PASSWORD},
    )
    assert status == 422, problem
    assert [e["field"] for e in problem["errors"]] == ["current_password"]
    assert await me_status(platform, await platform.login(username, PASSWORD)) == 200
    # Without dashes it is the same UUID too, and the user reads their own record.
    status, record, _ = await platform.call(
        "GET", f"/api/v1/users/{uuid.UUID(user_id).hex.upper()}", headers
    )
    assert status == 200, record
    assert record["id"] == user_id


async def test_the_operator_s_reset_and_deactivation_end_sessions_and_are_audited(
    platform: Platform, admin: dict[str, str]
) -> None:
    """What crm-admin calls: service.admin_reset_password and service.deactivate_user."""
    user_id, username = await new_user(platform, admin)
    headers = await platform.login(username, PASSWORD)
    source = platform.settings["gateway"].source
    pool = await asyncpg.create_pool(isolated_database_url("gateway"), min_size=1, max_size=2)
    try:
        with pytest.raises(ValidationFailed) as weak:
            await service.admin_reset_password(pool, source, "crm-admin", user_id, "trop-court")
        assert [e.field for e in weak.value.errors] == ["new_password"]
        assert await me_status(platform, headers) == 200

        await service.admin_reset_password(pool, source, "crm-admin", user_id, NEW_PASSWORD)
        await eventually(lambda: refused(platform, headers), within=3)
        again = await platform.login(username, NEW_PASSWORD)

        record = await service.deactivate_user(pool, source, "crm-admin", user_id.upper())
        assert record["active"] is False
        await eventually(lambda: refused(platform, again), within=3)
        assert await service.deactivate_user(pool, source, "crm-admin", user_id) == record
    finally:
        await pool.close()

    async def trail() -> list[dict[str, Any]]:
        status, entries, _ = await platform.call("GET", f"/api/v1/users/{user_id}/audit", admin)
        return entries if status == 200 and len(entries) == 3 else []

    entries = await eventually(trail)
    assert [e["actor"] for e in entries] == ["crm-admin", "crm-admin", "admin"]


async def test_sessions_expired_a_month_ago_are_purged_by_logins(
    platform: Platform, admin: dict[str, str], gateway_db: asyncpg.Connection
) -> None:
    user_id, username = await new_user(platform, admin)
    old, recent = uuid.uuid4(), uuid.uuid4()
    for session_id, days in ((old, 31), (recent, 29)):
        await gateway_db.execute(
            "INSERT INTO sessions (id, user_id, created_at, expires_at) "
            "VALUES ($1, $2, now() - make_interval(days => $3 + 1), "
            "now() - make_interval(days => $3))",
            session_id,
            uuid.UUID(user_id),
            days,
        )
    await platform.login(username, PASSWORD)
    kept = await gateway_db.fetch(
        "SELECT id FROM sessions WHERE id = ANY($1::uuid[])", [old, recent]
    )
    assert [row["id"] for row in kept] == [recent]

"""Through the gateway: bad input of every kind is a 4xx in problem+json (never a 500 or a repr),
ids are compared as UUIDs, and every answer carries the security headers."""

from __future__ import annotations

import base64
import io
import uuid
from typing import Any

import orjson
import pytest

from services.gateway.app import create_app
from tests.e2e.test_roles import WRITE_METHODS, _cases
from tests.platform import Platform
from tests.support import eventually, raw_http

Headers = dict[str, str]


def _cursor(sort_key: str, value: Any) -> str:
    raw = orjson.dumps([sort_key, value, str(uuid.uuid4())])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


async def _raw(platform: Platform, request: bytes) -> tuple[int, dict[str, str], bytes]:
    host, _, port = platform.gateway.removeprefix("http://").partition(":")
    return await raw_http(host, int(port), request)


@pytest.mark.parametrize(
    ("sort", "value"),
    [
        ("employees", 9_000_000_000),
        ("annual_revenue", "NaN"),
        ("updated_at", "0001-01-01T00:00+14:00"),
    ],
)
async def test_a_cursor_holding_a_value_out_of_range_is_a_422_naming_it(
    platform: Platform, admin: Headers, sort: str, value: Any
) -> None:
    status, problem, headers = await platform.call(
        "GET", f"/api/v1/accounts?sort={sort}&cursor={_cursor(sort, value)}", admin
    )
    assert status == 422
    assert headers["Content-Type"].startswith("application/problem+json")
    assert [e["field"] for e in problem["errors"]] == ["cursor"]


async def test_a_filter_time_beyond_the_calendar_is_a_422_naming_it(
    platform: Platform, admin: Headers
) -> None:
    status, problem, _ = await platform.call(
        "GET", "/api/v1/accounts?updated_since=0001-01-01T00:00:00%2B14:00", admin
    )
    assert (status, [e["field"] for e in problem["errors"]]) == (422, ["updated_since"])


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/accounts", {"name": "Grande", "employees": 10**12}, "employees"),
        ("/api/v1/accounts", {"name": "Riche", "annual_revenue": "1e30"}, "annual_revenue"),
        ("/api/v1/contacts", {"last_name": "Sans", "account_id": "pas-un-uuid"}, "account_id"),
        ("/api/v1/actions", {"type": "note", "subject": "x", "account_id": "12"}, "account_id"),
        ("/api/v1/mail-merge", {"template_id": "x", "account_ids": ["pas-un-uuid"]}, None),
    ],
)
async def test_numbers_out_of_range_and_ids_that_are_not_uuids_in_a_body_are_422(
    platform: Platform, admin: Headers, path: str, body: dict[str, Any], field: str | None
) -> None:
    status, problem, headers = await platform.call("POST", path, admin, json=body)
    assert status == 422, problem
    assert headers["Content-Type"].startswith("application/problem+json")
    if field is not None:
        assert field in {e["field"] for e in problem["errors"]}


@pytest.mark.parametrize(
    "bad_id", ["pas-un-uuid", "1" * 40, "00000000-0000-0000-0000-0000000000000", "%E9t%E9"]
)
async def test_every_route_answers_a_bad_id_with_a_4xx(
    platform: Platform, admin: Headers, bad_id: str
) -> None:
    app = create_app(platform.settings["gateway"])
    failures = []
    for case in _cases(app):
        if "{id}" not in case.template and "{session_id}" not in case.template:
            continue
        path = case.path(bad_id).replace("{session_id}", bad_id)
        body: dict[str, Any] | None = {} if case.method in WRITE_METHODS else None
        async with platform.http.request(
            case.method, platform.gateway + path, headers=admin, json=body
        ) as response:
            if response.status >= 500:
                failures.append(f"{case.method} {path}: {response.status}")
    assert not failures


async def test_ids_are_compared_as_uuids_whatever_their_case(
    platform: Platform, admin: Headers, user: Headers
) -> None:
    status, account, _ = await platform.call(
        "POST", "/api/v1/accounts", admin, json={"name": "Casse Mixte"}
    )
    assert status == 201
    upper = account["id"].upper()
    status, read, _ = await platform.call("GET", f"/api/v1/accounts/{upper}", admin)
    assert (status, read["id"]) == (200, account["id"])

    async def trail(record_id: str) -> Any:
        status, entries, _ = await platform.call(
            "GET", f"/api/v1/accounts/{record_id}/audit", admin
        )
        return entries if status == 200 else None  # 404 until the event has been audited

    lower_trail = await eventually(lambda: trail(account["id"]))
    assert await trail(upper) == lower_trail
    # A user reads their own trail under any spelling of their id, and nobody else's.
    _, me, _ = await platform.call("GET", "/api/v1/users/me", user)
    assert (await platform.call("GET", f"/api/v1/users/{me['id'].upper()}/audit", user))[0] == 200
    _, admin_me, _ = await platform.call("GET", "/api/v1/users/me", admin)
    assert (await platform.call("GET", f"/api/v1/users/{admin_me['id']}/audit", user))[0] == 403
    # Another's password is not changed by spelling their id in upper case; one's own still
    # needs the current password.
    change = {"new_password": "Un-tout-nouveau-2026"}
    path = f"/api/v1/users/{admin_me['id'].upper()}/password"
    assert (await platform.call("POST", path, user, json=change))[0] == 403
    path = f"/api/v1/users/{me['id'].upper()}/password"
    status, problem, _ = await platform.call("POST", path, user, json=change)
    assert (status, [e["field"] for e in problem["errors"]]) == (422, ["current_password"])


async def test_an_oversized_request_line_or_header_is_problem_json_in_french(
    platform: Platform,
) -> None:
    status, headers, body = await _raw(
        platform, b"GET /api/v1/accounts?q=" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    assert status == 414
    assert headers["content-type"].startswith("application/problem+json")
    assert "adresse" in orjson.loads(body)["detail"]
    status, headers, body = await _raw(
        platform,
        b"GET /api/v1/accounts HTTP/1.1\r\nHost: x\r\nCookie: " + b"c" * 9000 + b"\r\n\r\n",
    )
    assert status == 431
    assert headers["content-type"].startswith("application/problem+json")
    assert "en-tête" in orjson.loads(body)["detail"]


async def test_answers_carry_the_security_headers(platform: Platform, admin: Headers) -> None:
    for path in ("/", "/api/docs", "/api/v1/openapi.json", "/api/v1/accounts", "/healthz"):
        status, _, headers = await _get(platform, path, admin)
        assert status == 200, path
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    # Personal data is not kept by browsers or proxies.
    for path in ("/api/v1/accounts", "/api/v1/users/me"):
        assert (await _get(platform, path, admin))[2]["Cache-Control"] == "no-store"


async def test_the_api_reference_still_loads_its_own_scripts_under_its_csp(
    platform: Platform,
) -> None:
    status, page, headers = await _get(platform, "/api/docs", {})
    assert status == 200
    csp = headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "<script>" not in page  # no inline script: the start script is a file
    for asset in ("swagger-ui.css", "swagger-ui-bundle.js", "start.js"):
        assert f"/api/docs/assets/{asset}" in page
        status, _, asset_headers = await _get(platform, f"/api/docs/assets/{asset}", {})
        assert status == 200
        assert asset_headers["X-Content-Type-Options"] == "nosniff"  # files served as they are


async def _get(platform: Platform, path: str, headers: Headers) -> tuple[int, str, Any]:
    async with platform.http.get(platform.gateway + path, headers=headers) as response:
        return response.status, await response.text(), response.headers


async def test_a_401_says_how_to_authenticate(platform: Platform) -> None:
    status, _, headers = await platform.call("GET", "/api/v1/accounts")
    assert (status, headers["WWW-Authenticate"].split()[0]) == (401, "Bearer")
    bad = {"Authorization": "Bearer not.a.token"}
    status, _, headers = await platform.call("GET", "/api/v1/accounts", bad)
    assert status == 401
    assert 'error="invalid_token"' in headers["WWW-Authenticate"]
    status, _, headers = await platform.call(
        "POST", "/api/v1/auth/login", json={"username": "admin", "password": "faux-mot-de-passe"}
    )
    assert (status, headers["WWW-Authenticate"].split()[0]) == (401, "Bearer")


async def test_gateway_metrics_are_not_public_without_a_token(platform: Platform) -> None:
    assert (await _get(platform, "/metrics", {}))[0] == 404


async def test_no_cors_headers_for_an_origin_not_configured(platform: Platform) -> None:
    origin = {"Origin": "https://ailleurs.example", "Access-Control-Request-Method": "GET"}
    async with platform.http.options(f"{platform.gateway}/api/v1/accounts", headers=origin) as r:
        assert not [name for name in r.headers if name.lower().startswith("access-control-")]
    async with platform.http.get(f"{platform.gateway}/healthz", headers=origin) as r:
        assert not [name for name in r.headers if name.lower().startswith("access-control-")]


@pytest.mark.parametrize("collection", ["accounts", "contacts", "actions", "users/me"])
async def test_a_merge_patch_naming_an_unknown_field_is_refused_even_with_null(
    platform: Platform, admin: Headers, collection: str
) -> None:
    if collection == "users/me":
        path = "/api/v1/users/me"
    else:
        status, account, _ = await platform.call(
            "POST", "/api/v1/accounts", admin, json={"name": "Patch Inconnu"}
        )
        assert status == 201
        bodies = {
            "accounts": None,
            "contacts": {"last_name": "Inconnu", "account_id": account["id"]},
            "actions": {"type": "note", "subject": "x", "account_id": account["id"]},
        }
        record = account
        if bodies[collection] is not None:
            status, record, _ = await platform.call(
                "POST", f"/api/v1/{collection}", admin, json=bodies[collection]
            )
            assert status == 201, record
        path = f"/api/v1/{collection}/{record['id']}"
    for body in ({"": None}, {"typo": None}, {"typo": "x"}):
        status, problem, _ = await platform.call(
            "PATCH",
            path,
            {**admin, "Content-Type": "application/merge-patch+json"},
            data=orjson.dumps(body),
        )
        assert status == 422, (body, problem)
        assert [e["field"] for e in problem["errors"]] == list(body)


async def test_a_body_over_the_limit_is_a_413_in_french_naming_the_limit(
    platform: Platform, admin: Headers
) -> None:
    """The gateway's own limit (6 MiB) and a service's behind it (1 MiB) alike."""
    for path, size, limit in (
        ("/api/v1/users", 6 * 1024 * 1024, "6 Mio (6291456 octets)"),
        ("/api/v1/accounts", 1024 * 1024, "1 Mio (1048576 octets)"),
    ):
        body = b'{"name": "' + b"x" * size + b'"}'
        status, problem, headers = await platform.call(
            "POST", path, {**admin, "Content-Type": "application/json"}, data=io.BytesIO(body)
        )
        assert status == 413, (path, problem)
        assert headers["Content-Type"].startswith("application/problem+json")
        assert problem["title"] == "Requête trop volumineuse"
        assert problem["detail"] == (
            f"Le corps de la requête dépasse la taille maximale acceptée : {limit}."
        )

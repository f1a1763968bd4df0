"""ClickToCall through the http and asterisk adapters, and the signed telephony callbacks."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from services.gateway.app import create_app as gateway_app
from services.gateway.settings import GatewaySettings
from services.gateway.telephony import sign
from tests.fakes import FakeAmi
from tests.platform import Platform
from tests.support import TELEPHONY_SECRET

Headers = dict[str, str]


@pytest.fixture(scope="module")
async def caller(platform: Platform, admin: Headers) -> Headers:
    """The admin, with a phone extension (set by an admin, on the user)."""
    _, me, _ = await platform.call("GET", "/api/v1/users/me", admin)
    status, _, _ = await platform.call(
        "PATCH", f"/api/v1/users/{me['id']}", admin, json={"phone_extension": "201"}
    )
    assert status == 200
    return admin


async def company(platform: Platform, headers: Headers, **fields: Any) -> dict[str, Any]:
    status, body, _ = await platform.call(
        "POST", "/api/v1/accounts", headers, json={"name": "Société Téléphone", **fields}
    )
    assert status == 201, body
    return body  # type: ignore[no-any-return]


async def person(
    platform: Platform, headers: Headers, account_id: str, **fields: Any
) -> dict[str, Any]:
    status, body, _ = await platform.call(
        "POST",
        "/api/v1/contacts",
        headers,
        json={"last_name": "Durand", "account_id": account_id, **fields},
    )
    assert status == 201, body
    return body  # type: ignore[no-any-return]


async def click(
    platform: Platform, headers: Headers, account_id: str, **body: Any
) -> tuple[int, Any]:
    status, response, _ = await platform.call(
        "POST", f"/api/v1/accounts/{account_id}/call", headers, json=body
    )
    return status, response


async def callback(
    platform: Platform,
    event: dict[str, Any],
    *,
    secret: str = TELEPHONY_SECRET,
    signature: str | None = None,
) -> tuple[int, Any]:
    raw = orjson.dumps(event)
    headers = {"Content-Type": "application/json", "X-Signature": signature or sign(raw, secret)}
    async with platform.http.post(
        f"{platform.gateway}/api/v1/telephony/events", data=raw, headers=headers
    ) as r:
        return r.status, await r.json(content_type=None)


def hangup(
    call_id: str, direction: str, frm: str, to: str, duration: int = 125, **extra: Any
) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return {"call_id": call_id, "event": "hangup", "direction": direction, "from": frm, "to": to,
            "timestamp": now, "duration_seconds": duration, **extra}  # fmt: skip


async def calls_of(platform: Platform, headers: Headers, account_id: str) -> list[dict[str, Any]]:
    status, page, _ = await platform.call(
        "GET", "/api/v1/actions", headers, params={"account_id": account_id, "type": "call"}
    )
    assert status == 200
    return page["items"]  # type: ignore[no-any-return]


async def test_a_click_places_the_call_and_its_hangup_is_recorded_once(
    platform: Platform, caller: Headers
) -> None:
    account = await company(platform, caller, phone="04 72 00 00 00")
    contact = await person(platform, caller, account["id"], mobile="06 11 22 33 44")
    status, placed = await click(platform, caller, account["id"], contact_id=contact["id"])
    assert status == 202
    assert placed["status"] == "requested"
    assert platform.telephony.calls[-1] == {
        "call_id": placed["call_id"],
        "from": "201",
        "to": "+33611223344",
    }

    event = hangup(placed["call_id"], "outbound", "201", "+33611223344", duration=125)
    status, first = await callback(platform, event)
    assert (status, first["status"]) == (202, "recorded")
    status, again = await callback(platform, event)  # delivered twice
    assert (status, again["action_id"]) == (202, first["action_id"])
    (action,) = await calls_of(platform, caller, account["id"])
    assert (action["direction"], action["duration_seconds"], action["status"]) == (
        "out",
        125,
        "done",
    )
    assert (action["contact_id"], action["created_by"]) == (contact["id"], "admin")


async def test_the_number_is_the_given_one_else_the_contacts_else_the_accounts(
    platform: Platform, caller: Headers
) -> None:
    account = await company(platform, caller, phone="04 72 00 00 01")
    assert (await click(platform, caller, account["id"]))[0] == 202
    assert platform.telephony.calls[-1]["to"] == "+33472000001"
    assert (await click(platform, caller, account["id"], number="01 42 68 53 00"))[0] == 202
    assert platform.telephony.calls[-1]["to"] == "+33142685300"


async def test_a_call_needs_a_number_an_extension_and_a_known_account(
    platform: Platform, caller: Headers
) -> None:
    silent = await company(platform, caller)
    elsewhere = await company(platform, caller, phone="04 72 00 00 02")
    stranger = await person(platform, caller, elsewhere["id"], phone="04 72 00 00 03")
    status, problem = await click(platform, caller, silent["id"])
    assert (status, {e["field"] for e in problem["errors"]}) == (422, {"number"})
    status, problem = await click(
        platform, caller, silent["id"], contact_id=stranger["id"], number="x"
    )
    assert (status, {e["field"] for e in problem["errors"]}) == (422, {"contact_id", "number"})
    body = {"username": "sans-poste", "password": "Sans-poste-123", "role": "user"}
    assert (await platform.call("POST", "/api/v1/users", caller, json=body))[0] == 201
    no_extension = await platform.login("sans-poste", "Sans-poste-123")
    status, problem = await click(platform, no_extension, elsewhere["id"])
    assert (status, {e["field"] for e in problem["errors"]}) == (422, {"phone_extension"})
    assert (await click(platform, caller, str(uuid.uuid4())))[0] == 404


async def test_a_telephony_server_refusing_or_hanging_records_nothing(
    platform: Platform, caller: Headers
) -> None:
    account = await company(platform, caller, phone="04 72 00 00 04")
    before = len(platform.telephony.calls)
    try:
        platform.telephony.mode = "refuse"
        status, problem = await click(platform, caller, account["id"])
        assert (status, problem["status"]) == (502, 502)
        platform.telephony.mode = "slow"
        status, problem, headers = await platform.call(
            "POST", f"/api/v1/accounts/{account['id']}/call", caller, json={}
        )
        assert status == 503
        assert headers["Retry-After"]
    finally:
        platform.telephony.mode = "accept"
    assert len(platform.telephony.calls) == before
    # A hangup for a call that was never placed cannot be tied to a click.
    assert await calls_of(platform, caller, account["id"]) == []


@pytest.mark.parametrize(
    "tamper",
    [
        {"signature": "missing"},
        {"signature": "sha256=" + "0" * 64},
        {"secret": "not-the-secret"},
        # Offsets from the moment the test runs, not from collection (a long suite drifts).
        {"skew": timedelta(minutes=-10)},
        {"skew": timedelta(minutes=6)},
    ],
)
async def test_unsigned_forged_or_stale_callbacks_are_refused(
    platform: Platform, caller: Headers, tamper: dict[str, Any]
) -> None:
    account = await company(platform, caller, phone="04 72 00 00 05")
    event = hangup(f"stale-{uuid.uuid4()}", "inbound", "+33472000005", "201")
    if "skew" in tamper:
        event["timestamp"] = (datetime.now(UTC) + tamper["skew"]).isoformat()
    raw = orjson.dumps(event)
    headers = {"Content-Type": "application/json"}
    if tamper.get("signature") != "missing":
        headers["X-Signature"] = tamper.get("signature") or sign(
            raw, tamper.get("secret", TELEPHONY_SECRET)
        )
    async with platform.http.post(
        f"{platform.gateway}/api/v1/telephony/events", data=raw, headers=headers
    ) as r:
        assert r.status == 401
    assert await calls_of(platform, caller, account["id"]) == []


async def test_a_signed_callback_with_a_bad_body_is_a_clear_error(platform: Platform) -> None:
    for raw, expected in [(b"{not json", 400), (b'{"call_id": "x", "event": "boom"}', 422)]:
        headers = {"Content-Type": "application/json", "X-Signature": sign(raw, TELEPHONY_SECRET)}
        async with platform.http.post(
            f"{platform.gateway}/api/v1/telephony/events", data=raw, headers=headers
        ) as r:
            assert r.status == expected


async def test_an_inbound_call_is_matched_by_the_callers_number(
    platform: Platform, caller: Headers
) -> None:
    account = await company(platform, caller, phone="04 72 00 00 06")
    contact = await person(platform, caller, account["id"], phone="04 72 00 00 07")
    other = await company(platform, caller, phone="04 72 00 00 08")
    for ringing in ("ringing", "answered"):
        status, noted = await callback(
            platform, hangup("in-1", "inbound", "+33472000007", "201") | {"event": ringing}
        )
        assert (status, noted["status"]) == (202, "noted")
    assert (
        await callback(platform, hangup(f"in-{uuid.uuid4()}", "inbound", "04 72 00 00 07", "201"))
    )[0] == 202
    assert (
        await callback(platform, hangup(f"in-{uuid.uuid4()}", "inbound", "+33472000008", "201"))
    )[0] == 202
    status, unmatched = await callback(
        platform, hangup(f"in-{uuid.uuid4()}", "inbound", "+33499999999", "201")
    )
    assert (status, unmatched["status"]) == (202, "unmatched")
    (by_contact,) = await calls_of(platform, caller, account["id"])
    assert (by_contact["contact_id"], by_contact["direction"], by_contact["created_by"]) == (
        contact["id"],
        "in",
        "telephonie",
    )
    (by_account,) = await calls_of(platform, caller, other["id"])
    assert by_account["contact_id"] is None


@pytest.fixture
async def ami_gateway(platform: Platform) -> AsyncIterator[tuple[str, FakeAmi]]:
    ami = FakeAmi("crm", "ami-secret")
    await ami.start()
    settings = platform.settings["gateway"]
    assert isinstance(settings, GatewaySettings)
    asterisk = settings.model_copy(
        update={
            "telephony_adapter": "asterisk",
            "asterisk_port": ami.port,
            "asterisk_secret": SecretStr("ami-secret"),
        }
    )
    server = TestServer(gateway_app(asterisk), host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("")).rstrip("/"), ami
    await server.close()
    await ami.close()


async def test_the_asterisk_adapter_originates_the_call_over_ami(
    platform: Platform, caller: Headers, ami_gateway: tuple[str, FakeAmi]
) -> None:
    url, ami = ami_gateway
    account = await company(platform, caller, phone="04 72 00 00 09")

    async def post_call() -> tuple[int, Any]:
        async with platform.http.post(
            f"{url}/api/v1/accounts/{account['id']}/call", headers=caller, json={}
        ) as r:
            return r.status, await r.json(content_type=None)

    status, placed = await post_call()
    assert status == 202
    originate = ami.originated[-1]
    assert (originate["Channel"], originate["Exten"], originate["ActionID"]) == (
        "PJSIP/201",
        "+33472000009",
        placed["call_id"],
    )
    ami.refuse = True
    assert (await post_call())[0] == 502
    await ami.close()  # the AMI peer goes away
    assert (await post_call())[0] == 503
    assert len(ami.originated) == 1


async def test_readonly_users_cannot_place_calls(platform: Platform, caller: Headers) -> None:
    account = await company(platform, caller, phone="04 72 00 00 10")
    reader = {"username": "standardiste", "password": "Lecture-seule-2", "role": "readonly"}
    status, _, _ = await platform.call("POST", "/api/v1/users", caller, json=reader)
    assert status == 201
    headers = await platform.login("standardiste", "Lecture-seule-2")
    assert (await click(platform, headers, account["id"]))[0] == 403


async def _new_caller(platform: Platform, admin: Headers, username: str) -> Headers:
    body = {
        "username": username,
        "password": "Poste-tel-2026-xyz",
        "role": "user",
        "phone_extension": "230",
    }
    status, created, _ = await platform.call("POST", "/api/v1/users", admin, json=body)
    assert status == 201, created
    return await platform.login(username, "Poste-tel-2026-xyz")


@pytest.mark.parametrize(
    "number",
    [
        "08 92 68 02 22",  # premium rate (089x)
        "08 25 00 00 00",  # premium rate (082x)
        "08 10 00 00 00",  # shared cost (081x)
        "3615",  # short number
        "+44 20 7946 0958",  # abroad
    ],
)
async def test_clicktocall_refuses_premium_short_and_foreign_numbers(
    platform: Platform, caller: Headers, number: str
) -> None:
    account = await company(platform, caller)
    before = len(platform.telephony.calls)
    status, problem = await click(platform, caller, account["id"], number=number)
    assert (status, {e["field"] for e in problem["errors"]}) == (422, {"number"})
    assert len(platform.telephony.calls) == before  # nothing dialled


async def test_a_premium_number_stored_on_the_account_is_refused_too(
    platform: Platform, caller: Headers
) -> None:
    account = await company(platform, caller, phone="08 99 23 45 67")
    status, problem = await click(platform, caller, account["id"])
    assert (status, {e["field"] for e in problem["errors"]}) == (422, {"number"})
    assert "+33899234567" in problem["errors"][0]["message"]


async def test_clicktocall_places_at_most_ten_calls_a_minute_per_user(
    platform: Platform, admin: Headers, caller: Headers
) -> None:
    quick = await _new_caller(platform, admin, "appels-rapides")
    account = await company(platform, admin)
    numbers = ["01 42 68 53 00", "06 12 34 56 78", "07 12 34 56 78", "09 70 00 00 00"]
    numbers += ["0800 12 34 56", "05 56 00 00 00"]
    for index in range(10):  # French geographic, mobile, non-geographic and free numbers
        status, placed = await click(platform, quick, account["id"], number=numbers[index % 6])
        assert status == 202, placed
    status, problem, headers = await platform.call(
        "POST", f"/api/v1/accounts/{account['id']}/call", quick, json={"number": numbers[0]}
    )
    assert status == 429
    assert 1 <= int(headers["Retry-After"]) <= 60
    assert "10 appels par minute" in problem["detail"]
    # Counted per user: another one still calls.
    assert (await click(platform, caller, account["id"], number=numbers[0]))[0] == 202

"""The events on crm.events are documented by JSON Schemas in docs/events/, kept current, and
real published events match them."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import aiohttp
import docx
import jsonschema
import pytest

from deploy.docs import DOCS, catalogue, files
from services.common.broker import is_announcement
from services.common.settings import DEFAULT_AMQP_URL
from tests.platform import Platform
from tests.support import TEST_EXCHANGE, eventually

Headers = dict[str, str]


def test_the_documented_schemas_are_current() -> None:
    """docs/events/ is what `python -m deploy.docs` writes today."""
    expected = files()
    on_disk = {path.name for path in DOCS.glob("*.schema.json")}
    assert on_disk == set(expected)
    for name, content in expected.items():
        assert (DOCS / name).read_text() == content, f"{name} is stale: python -m deploy.docs"


async def test_the_gateway_catalogue_is_what_the_services_declare(
    platform: Platform, user: Headers
) -> None:
    """The gateway imports no service: it learns every schema from the services' meta."""
    status, served, _ = await platform.call("GET", "/api/v1/meta/events", user)
    assert status == 200
    assert served == catalogue()
    assert "crm.account.located.v1" in served  # derived data has its event too


@pytest.fixture
async def captured() -> AsyncIterator[list[dict[str, Any]]]:
    """Every event published on the test exchange while the test runs."""
    events: list[dict[str, Any]] = []
    connection = await aio_pika.connect(DEFAULT_AMQP_URL)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(TEST_EXCHANGE, routing_key="#")

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            async with message.process():
                if not is_announcement(message.routing_key):  # a service's meta version
                    events.append(json.loads(message.body))

        await queue.consume(on_message)
        yield events


async def _ok(
    platform: Platform, headers: Headers, method: str, path: str, body: Any = None
) -> Any:
    status, response, _ = await platform.call(method, path, headers, json=body)
    assert status in (200, 201, 204), (path, response)
    return response


async def test_real_events_of_every_type_match_their_schema(
    platform: Platform, admin: Headers, captured: list[dict[str, Any]]
) -> None:
    account = await _ok(
        platform,
        admin,
        "POST",
        "/api/v1/accounts",
        {"name": "Contrat <événements>", "address": {"city": "Lyon", "postal_code": "69001"}},
    )
    a = f"/api/v1/accounts/{account['id']}"
    await _ok(platform, admin, "PATCH", a, {"employees": 12, "annual_revenue": "1000.5"})
    contact = await _ok(
        platform,
        admin,
        "POST",
        "/api/v1/contacts",
        {"last_name": "Événement", "account_id": account["id"]},
    )
    for collection, body in (
        ("actions", {"type": "note", "subject": "Note", "account_id": account["id"]}),
        ("opportunities", {"name": "Affaire", "account_id": account["id"]}),
        ("projects", {"name": "Projet", "account_id": account["id"]}),
        ("contacts", None),
    ):
        record = (
            contact
            if body is None
            else await _ok(platform, admin, "POST", f"/api/v1/{collection}", body)
        )
        path = f"/api/v1/{collection}/{record['id']}"
        await _ok(platform, admin, "PATCH", path, {"description": "modifié"})
        await _ok(platform, admin, "DELETE", path)
        await _ok(platform, admin, "POST", f"{path}/restore")
    deal = await _ok(
        platform,
        admin,
        "POST",
        "/api/v1/opportunities",
        {"name": "À gagner", "account_id": account["id"]},
    )
    line = {"description": "Prestation", "quantity": "1", "unit_price": "100", "vat_rate": "20"}
    quote = await _ok(
        platform,
        admin,
        "POST",
        "/api/v1/quotes",
        {"account_id": account["id"], "opportunity_id": deal["id"], "lines": [line]},
    )
    await _ok(platform, admin, "POST", f"/api/v1/quotes/{quote['id']}/send")
    await _ok(platform, admin, "POST", f"/api/v1/quotes/{quote['id']}/accept")
    refused = await _ok(
        platform, admin, "POST", "/api/v1/quotes", {"account_id": account["id"], "lines": [line]}
    )
    await _ok(platform, admin, "POST", f"/api/v1/quotes/{refused['id']}/send")
    await _ok(platform, admin, "POST", f"/api/v1/quotes/{refused['id']}/refuse")
    invoice = await _ok(platform, admin, "POST", f"/api/v1/quotes/{quote['id']}/invoice")
    await _ok(platform, admin, "POST", f"/api/v1/invoices/{invoice['id']}/issue")
    await _ok(platform, admin, "POST", f"/api/v1/invoices/{invoice['id']}/pay")
    await _ok(platform, admin, "POST", f"/api/v1/invoices/{invoice['id']}/credit-note")
    draft = await _ok(platform, admin, "POST", "/api/v1/invoices", {"account_id": account["id"]})
    await _ok(platform, admin, "PATCH", f"/api/v1/invoices/{draft['id']}", {"lines": [line]})
    await _ok(platform, admin, "DELETE", f"/api/v1/invoices/{draft['id']}")
    await _ok(platform, admin, "POST", f"/api/v1/invoices/{draft['id']}/restore")
    spare = await _ok(platform, admin, "POST", "/api/v1/quotes", {"account_id": account["id"]})
    await _ok(platform, admin, "PATCH", f"/api/v1/quotes/{spare['id']}", {"lines": [line]})
    await _ok(platform, admin, "DELETE", f"/api/v1/quotes/{spare['id']}")
    await _ok(platform, admin, "POST", f"/api/v1/quotes/{spare['id']}/restore")
    await _ok(platform, admin, "DELETE", a)
    await _ok(platform, admin, "POST", f"{a}/restore")
    await _ok(
        platform,
        admin,
        "POST",
        "/api/v1/users",
        {"username": "evenements", "password": "Evenements-123", "role": "user"},
    )
    await _ok(platform, admin, "PATCH", "/api/v1/users/me", {"display_name": "Administratrice"})
    await _ok(
        platform, admin, "POST", "/api/v1/picklists/industry", {"code": "ZZ-evt", "label": "Test"}
    )
    await _ok(platform, admin, "PATCH", "/api/v1/picklists/industry/ZZ-evt", {"active": False})
    await _upload_and_delete_template(platform, admin)

    schemas = catalogue()
    # Derived data (account.located) has its own checks: the geocoder may take its time.
    wanted = {event for event in schemas if not event.endswith(".located.v1")}

    async def every_type_seen() -> bool:
        return wanted <= {event["type"] for event in captured}

    try:
        await eventually(every_type_seen, within=20)
    except AssertionError:
        pytest.fail(f"never published: {sorted(wanted - {e['type'] for e in captured})}")
    await asyncio.sleep(0.5)
    for event in captured:
        schema = schemas[event["type"]]
        jsonschema.validate(event, schema, cls=jsonschema.Draft202012Validator)
        assert "password" not in json.dumps(event["data"]["record"])


async def _upload_and_delete_template(platform: Platform, headers: Headers) -> None:
    document = docx.Document()
    document.add_paragraph("{{ compte.name }}")
    content = io.BytesIO()
    document.save(content)
    form = aiohttp.FormData()
    form.add_field("name", "Événements")
    form.add_field("kind", "account")
    form.add_field("file", content.getvalue(), filename="evt.docx")
    async with platform.http.post(
        f"{platform.gateway}/api/v1/templates", data=form, headers=headers
    ) as response:
        assert response.status == 201
        template = await response.json()
    await _ok(platform, headers, "DELETE", f"/api/v1/templates/{template['id']}")

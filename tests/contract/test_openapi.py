"""The API describes itself: the OpenAPI document, and schemathesis against the live gateway
(bounded, authenticated, every default check: no server error, no answer that breaks the
document)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import asyncpg

from deploy.docs import OPENAPI, openapi_text
from tests.platform import Platform

ROOT = Path(__file__).resolve().parents[2]


async def test_the_document_covers_every_public_route_with_its_errors_and_auth(
    platform: Platform,
) -> None:
    async with platform.http.get(f"{platform.gateway}/api/v1/openapi.json") as response:
        assert response.status == 200
        document = await response.json()
    assert document["openapi"] == "3.1.0"
    paths = document["paths"]
    for path in ("/api/v1/accounts", "/api/v1/accounts/{id}/view", "/api/v1/invoices/{id}/issue",
                 "/api/v1/telephony/events", "/api/v1/auth/login", "/api/v1/templates"):  # fmt: skip
        assert path in paths, path
    create = paths["/api/v1/accounts"]["post"]
    assert set(create["responses"]) >= {"201", "400", "401", "403", "422", "503"}
    body = create["requestBody"]["content"]["application/json"]["schema"]
    name = document["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]["properties"]["name"]
    assert name["type"] == "string"
    assert paths["/api/v1/auth/login"]["post"]["security"] == []
    # Creations say they take an Idempotency-Key; other writes do not.
    for path in ("/api/v1/accounts", "/api/v1/contacts", "/api/v1/quotes",
                 "/api/v1/accounts/{id}/duplicate"):  # fmt: skip
        headers = [p["name"] for p in paths[path]["post"]["parameters"] if p["in"] == "header"]
        assert headers == ["Idempotency-Key"], path
    patch_headers = [p["name"] for p in paths["/api/v1/accounts/{id}"]["patch"]["parameters"]]
    assert "Idempotency-Key" not in patch_headers
    assert document["security"] == [{"bearer": []}]


async def _document(platform: Platform) -> dict[str, Any]:
    async with platform.http.get(f"{platform.gateway}/api/v1/openapi.json") as response:
        assert response.status == 200
        document: dict[str, Any] = await response.json()
    return document


async def test_no_operation_of_the_document_before_the_gateway_learnt_it_is_lost(
    platform: Platform,
) -> None:
    """The document is merged from the services' fragments since the gateway imports none of
    them: every operation the gateway described itself before is still there, alike (its id,
    success status, parameters, body and answer media types, answer headers)."""
    paths = (await _document(platform))["paths"]
    before = json.loads((Path(__file__).parent / "openapi_operations.json").read_text())
    assert len(before) == 97
    for was in before:
        where = f"{was['method'].upper()} {was['path']}"
        now = paths.get(was["path"], {}).get(was["method"])
        assert now is not None, f"{where} is no longer described"
        assert now["operationId"] == was["operationId"], where
        success = [code for code in now["responses"] if code.startswith("2")]
        assert success == was["success"], where
        parameters = {f"{p['in']}:{p['name']}" for p in now.get("parameters", [])}
        assert set(was["parameters"]) <= parameters, where
        assert sorted(now.get("requestBody", {}).get("content", {})) == was["body"], where
        answer = now["responses"][success[0]]
        assert sorted(answer.get("content", {})) == was["answer"], where
        assert set(was["headers"]) <= set(answer.get("headers", {})), where


def test_the_document_in_the_repository_is_current() -> None:
    assert OPENAPI.read_text() == openapi_text(), "docs/api/openapi.json: python -m deploy.docs"


async def test_the_gateway_serves_the_document_the_services_declare(platform: Platform) -> None:
    """What the gateway merged from the services' /internal/meta at run time is what their code
    declares (docs/api/openapi.json)."""
    assert await _document(platform) == json.loads(OPENAPI.read_text())


async def test_every_reference_of_the_merged_document_resolves(platform: Platform) -> None:
    document = await _document(platform)
    schemas = document["components"]["schemas"]
    text = json.dumps(document)
    prefix = '"$ref": "#/components/schemas/'
    names = {part.split('"', 1)[0] for part in text.split(prefix)[1:]}
    assert names, "no reference at all"
    assert names <= set(schemas), sorted(names - set(schemas))
    # The 360° view lists a tab per declared tab, each a page of that entity's records.
    view = schemas["AccountView"]["properties"]
    assert {"account", "contacts", "actions", "quotes", "unavailable"} <= set(view)


async def test_the_reference_is_served_with_local_assets(platform: Platform) -> None:
    async with platform.http.get(f"{platform.gateway}/api/docs") as response:
        page = await response.text()
    assert response.status == 200
    assert "/api/docs/assets/swagger-ui-bundle.js" in page
    assert "http" not in page.replace("/api/v1/openapi.json", "")  # no CDN
    async with platform.http.get(
        f"{platform.gateway}/api/docs/assets/swagger-ui-bundle.js"
    ) as response:
        assert response.status == 200
        assert len(await response.read()) > 100_000


async def test_schemathesis_finds_no_server_error_and_no_answer_outside_the_document(
    platform: Platform, admin: dict[str, str], gateway_db: asyncpg.Connection
) -> None:
    # Its sign-ins come from 127.0.0.1 like every other test's: the failures other tests made
    # from there (wrong passwords typed in the browser) must not lock this run out (429).
    await gateway_db.execute("DELETE FROM login_throttle WHERE scope = 'address'")
    command = [
        str(Path(sys.executable).parent / "schemathesis"), "run", f"{platform.gateway}/api/v1/openapi.json",
        "--header", f"Authorization: {admin['Authorization']}",
        "--max-examples", "5", "--workers", "2", "--seed", "20261129", "--no-color",
        "--request-timeout", "20",
        # Signing out would end the very session the rest of the run uses.
        "--exclude-operation-id", "post_auth_logout",
    ]  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        *command, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=600)
    report = output.decode(errors="replace")
    failures = (
        report[report.find("FAILURES") : report.find("SUMMARY")] if "FAILURES" in report else report
    )
    assert process.returncode == 0, failures[:20000]
    assert "No issues found" in report or " passed" in report, report[-3000:]

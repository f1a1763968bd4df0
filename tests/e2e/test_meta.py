"""The declarations are public: GET /api/v1/meta/entities lists every entity the services
declare (and the gateway's own users), each with its service; one is read by its collection."""

from __future__ import annotations

from tests.platform import Platform

Headers = dict[str, str]


async def test_every_declared_entity_is_listed_with_its_service(
    platform: Platform, user: Headers
) -> None:
    status, body, headers = await platform.call("GET", "/api/v1/meta/entities", user)
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    entities = {e["collection"]: e for e in body["items"]}
    owners = {collection: e["service"] for collection, e in entities.items()}
    assert owners["users"] == "gateway"
    assert {owners[c] for c in ("actions", "opportunities", "projects")} == {"activities"}
    assert {owners[c] for c in ("quotes", "invoices", "templates")} == {"documents"}
    action = entities["actions"]
    assert action["name"] == "action"
    assert action["label"] == "Action"
    assert action["path"] == "/api/v1/actions"
    subject = next(f for f in action["fields"] if f["name"] == "subject")
    assert subject["kind"] == "text"
    assert subject["required"] is True
    assert action["tab"]["link"] == "account_id"
    account_link = next(f for f in action["fields"] if f["name"] == "account_id")
    assert account_link["kind"] == "connection"
    assert account_link["target"] == "account"


async def test_one_entity_is_read_by_its_collection(platform: Platform, user: Headers) -> None:
    _, listed, _ = await platform.call("GET", "/api/v1/meta/entities", user)
    quotes = next(e for e in listed["items"] if e["collection"] == "quotes")
    status, body, _ = await platform.call("GET", "/api/v1/meta/entities/quotes", user)
    assert status == 200
    assert body == quotes
    assert "accepted" in body["events"]


async def test_an_unknown_collection_is_a_problem_naming_it(
    platform: Platform, user: Headers
) -> None:
    status, body, headers = await platform.call("GET", "/api/v1/meta/entities/bateaux", user)
    assert status == 404
    assert headers["Content-Type"].startswith("application/problem+json")
    assert body["detail"] == "Aucune entité ne porte ce nom de collection."


async def test_the_declarations_need_a_signed_in_caller(platform: Platform) -> None:
    status, body, _ = await platform.call("GET", "/api/v1/meta/entities")
    assert status == 401
    assert body["status"] == 401

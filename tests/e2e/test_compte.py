"""The complete Compte through the gateway: fields, picklists, connections, concurrency, list
view, duplicate, trash and restore, the map, and contacts."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import pytest

from tests.platform import Platform
from tests.support import eventually

Headers = dict[str, str]
FULL = {
    "name": "Société Générale de Boulangerie",
    "account_type": "client",
    "industry": "C",
    "phone": "01 42 68 53 00",
    "email": "Contact@SGB.fr",
    "website": "HTTPS://www.SGB.fr/accueil",
    "address": {"street": "8 rue de la Paix", "postal_code": "75002", "city": "Paris"},
    "siren": "732 829 320",
    "siret": "73282932000074",
    "vat_number": "fr44732829320",
    "employees": 42,
    "annual_revenue": "1234567.5",
    "description": "Client historique — « fidèle » depuis 1998.",
}


async def create(platform: Platform, headers: Headers, **fields: Any) -> dict[str, Any]:
    status, body, _ = await platform.call("POST", "/api/v1/accounts", headers, json=fields)
    assert status == 201, body
    return body  # type: ignore[no-any-return]


async def patch(
    platform: Platform, headers: Headers, path: str, body: Any, if_match: str | None = None
) -> tuple[int, Any]:
    extra = {"If-Match": if_match} if if_match else {}
    status, response, _ = await platform.call(
        "PATCH",
        path,
        {**headers, **extra, "Content-Type": "application/merge-patch+json"},
        json=body,
    )
    return status, response


def field_errors(problem: dict[str, Any]) -> set[str]:
    return {e["field"] for e in problem["errors"]}


async def test_every_field_is_stored_normalised(platform: Platform, admin: Headers) -> None:
    account = await create(platform, admin, **FULL)
    assert account["phone"] == "+33142685300"
    assert account["email"] == "Contact@sgb.fr"
    assert account["website"] == "https://www.sgb.fr/accueil"
    assert account["siren"] == "732829320"
    assert account["vat_number"] == "FR44732829320"
    assert account["annual_revenue"] == "1234567.50"
    assert account["address"] == {
        "street": "8 rue de la Paix", "postal_code": "75002", "city": "Paris", "country": "FR",
    }  # fmt: skip
    assert account["owner"] == "admin"  # the creator by default
    status, read, _ = await platform.call("GET", f"/api/v1/accounts/{account['id']}", admin)
    assert status == 200
    assert read["description"] == FULL["description"]


async def test_every_bad_field_answers_422_with_one_entry_each_and_changes_nothing(
    platform: Platform, admin: Headers
) -> None:
    tag = secrets.token_hex(4)
    bad = {
        "name": f"Refusé {tag}",
        "account_type": "inconnu",
        "industry": "ZZ",
        "phone": "12",
        "email": "a@x.fr; b@y.fr",
        "website": "javascript:alert(1)",
        "address": {"postal_code": "00000", "country": "FR"},
        "siren": "732829321",
        "siret": "73282932000075",
        "vat_number": "FR00732829320",
        "employees": -1,
        "annual_revenue": "-5",
        "parent_account_id": "00000000-0000-4000-8000-000000000000",
        "owner": "personne",
    }
    status, problem, _ = await platform.call("POST", "/api/v1/accounts", admin, json=bad)
    assert status == 422
    assert field_errors(problem) == {
        "account_type", "industry", "phone", "email", "website", "address.postal_code", "siren",
        "siret", "vat_number", "employees", "annual_revenue", "parent_account_id", "owner",
    }  # fmt: skip
    assert all(e["message"] for e in problem["errors"])
    status, page, _ = await platform.call("GET", "/api/v1/accounts", admin, params={"q": tag})
    assert page["items"] == []


async def test_picklists_are_seeded_and_managed_by_admins(
    platform: Platform, admin: Headers, user: Headers
) -> None:
    status, types, _ = await platform.call("GET", "/api/v1/picklists/account_type", user)
    assert status == 200
    assert {"prospect", "client", "partenaire", "fournisseur"} <= {
        v["code"] for v in types["values"]
    }
    status, industries, _ = await platform.call("GET", "/api/v1/picklists/industry", user)
    # NAF sections A to U (other tests may add their own values: the seeded ones are all here)
    assert {chr(c) for c in range(ord("A"), ord("U") + 1)} <= {
        v["code"] for v in industries["values"]
    }
    status, _, _ = await platform.call("GET", "/api/v1/picklists/colours", user)
    assert status == 404

    code = f"revendeur{secrets.token_hex(2)}"
    new_value = {"code": code, "label": "Revendeur"}
    status, _, _ = await platform.call(
        "POST", "/api/v1/picklists/account_type", user, json=new_value
    )
    assert status == 403
    status, value, _ = await platform.call(
        "POST", "/api/v1/picklists/account_type", admin, json=new_value
    )
    assert (status, value["active"]) == (201, True)
    status, _, _ = await platform.call(
        "POST", "/api/v1/picklists/account_type", admin, json=new_value
    )
    assert status == 409

    holder = await create(platform, admin, name="Revendeur Martin", account_type=code)
    path = f"/api/v1/picklists/account_type/{code}"
    status, renamed = await patch(
        platform, admin, path, {"label": "Revendeur agréé", "active": False}
    )
    assert (status, renamed["label"], renamed["active"]) == (200, "Revendeur agréé", False)
    # A deactivated value stays on the records that hold it, and is refused on new ones.
    status, kept = await patch(
        platform, admin, f"/api/v1/accounts/{holder['id']}", {"employees": 3}
    )
    assert (status, kept["account_type"]) == (200, code)
    status, problem, _ = await platform.call(
        "POST", "/api/v1/accounts", admin, json={"name": "Nouveau", "account_type": code}
    )
    assert status == 422
    assert field_errors(problem) == {"account_type"}


async def test_a_parent_must_exist_and_never_make_a_loop(
    platform: Platform, admin: Headers
) -> None:
    group = await create(platform, admin, name="Groupe Alpha")
    subsidiary = await create(platform, admin, name="Alpha Sud", parent_account_id=group["id"])
    assert subsidiary["parent_account_id"] == group["id"]
    status, problem = await patch(
        platform, admin, f"/api/v1/accounts/{group['id']}", {"parent_account_id": group["id"]}
    )
    assert (status, field_errors(problem)) == (422, {"parent_account_id"})
    status, problem = await patch(
        platform, admin, f"/api/v1/accounts/{group['id']}", {"parent_account_id": subsidiary["id"]}
    )
    assert (status, field_errors(problem)) == (422, {"parent_account_id"})
    assert "boucle" in problem["errors"][0]["message"]
    status, children, _ = await platform.call(
        "GET", "/api/v1/accounts", admin, params={"parent_account_id": group["id"]}
    )
    assert [c["id"] for c in children["items"]] == [subsidiary["id"]]


async def test_the_owner_must_be_an_existing_user(
    platform: Platform, admin: Headers, user: Headers
) -> None:
    status, me, _ = await platform.call("GET", "/api/v1/users/me", user)
    account = await create(platform, admin, name="Cabinet Moreau", owner=me["username"])
    assert account["owner"] == me["username"]
    status, problem = await patch(
        platform, admin, f"/api/v1/accounts/{account['id']}", {"owner": "fantome"}
    )
    assert (status, field_errors(problem)) == (422, {"owner"})


async def located(platform: Platform, headers: Headers, path: str, city: str) -> dict[str, Any]:
    """The account once the geocoder (which writes a version of its own) has placed ``city``."""

    async def probe() -> dict[str, Any] | None:
        _, body, _ = await platform.call("GET", path, headers)
        return body if body["location"] and body["address"]["city"] == city else None

    return await eventually(probe)


async def test_merge_patch_changes_only_what_it_names(platform: Platform, admin: Headers) -> None:
    account = await create(platform, admin, **FULL)
    path = f"/api/v1/accounts/{account['id']}"
    before = await located(platform, admin, path, "Paris")
    status, changed = await patch(
        platform,
        admin,
        path,
        {
            "email": None,
            "address": {"street": "1 place Bellecour", "postal_code": "69002", "city": "Lyon"},
        },
    )
    assert status == 200
    assert changed["email"] is None
    assert changed["address"]["city"] == "Lyon"
    assert changed["phone"] == "+33142685300"
    assert changed["version"] == before["version"] + 1
    settled = await located(platform, admin, path, "Lyon")
    status, same = await patch(platform, admin, path, {"phone": "+33 1 42 68 53 00"})
    assert (status, same["version"]) == (200, settled["version"])  # nothing changed: no new version
    status, problem = await patch(platform, admin, path, {"name": None, "version": 99})
    assert (status, field_errors(problem)) == (422, {"version"})
    status, problem = await patch(platform, admin, path, {"name": None})
    assert (status, field_errors(problem)) == (422, {"name"})
    status, problem = await patch(platform, admin, path, ["not", "an", "object"])
    assert status == 422
    # The full record read back can be sent back as it is.
    _, current, _ = await platform.call("GET", path, admin)
    status, echoed = await patch(platform, admin, path, current)
    assert (status, echoed["version"]) == (200, current["version"])
    # ...but the location is the geocoder's: a client may not change it.
    status, problem = await patch(
        platform, admin, path, {"location": {**current["location"], "lat": 0.0}}
    )
    assert (status, field_errors(problem)) == (422, {"location"})
    assert problem["errors"][0]["message"] == "Champ en lecture seule."


async def test_if_match_with_an_old_version_changes_nothing(
    platform: Platform, admin: Headers
) -> None:
    account = await create(platform, admin, name="Menuiserie Garnier")
    path = f"/api/v1/accounts/{account['id']}"
    status, _ = await patch(platform, admin, path, {"employees": 5}, if_match='"1"')
    assert status == 200
    status, problem = await patch(platform, admin, path, {"employees": 9}, if_match='"1"')
    assert (status, problem["status"]) == (412, 412)
    _, current, headers = await platform.call("GET", path, admin)
    assert (current["employees"], headers["ETag"]) == (5, '"2"')


async def test_two_racing_writers_on_the_same_version_one_wins_one_gets_412(
    platform: Platform, admin: Headers
) -> None:
    account = await create(platform, admin, name="Transports Lefèvre")
    path = f"/api/v1/accounts/{account['id']}"
    results = await asyncio.gather(
        patch(platform, admin, path, {"employees": 10}, if_match='"1"'),
        patch(platform, admin, path, {"employees": 20}, if_match='"1"'),
    )
    statuses = sorted(status for status, _ in results)
    assert statuses == [200, 412]
    winner = next(body for status, body in results if status == 200)
    _, current, _ = await platform.call("GET", path, admin)
    assert current["employees"] == winner["employees"]
    assert current["version"] == 2


async def test_the_list_view_filters_sorts_and_pages(platform: Platform, admin: Headers) -> None:
    tag = "lst" + secrets.token_hex(3)
    rows = [
        ("Écurie des Ormes", "client", "A", "Lyon", "69003", 12),
        ("Atelier Zéphyr", "prospect", "C", "Lyon", "69007", 3),
        ("Boulangerie Ange", "client", "C", "Paris", "75011", 40),
        ("Domaine du Chêne", "fournisseur", "A", "Villeurbanne", "69100", None),
        ("Café Crème", "client", "I", "Saint-Étienne", "42000", 7),
    ]
    for name, kind, industry, city, postal, employees in rows:
        await create(
            platform, admin, name=f"{name} {tag}", account_type=kind, industry=industry,
            address={"city": city, "postal_code": postal}, employees=employees,
        )  # fmt: skip

    async def names(**params: str) -> list[str]:
        found: list[str] = []
        cursor = None
        while True:
            query = {"q": tag, "limit": "2", **params, **({"cursor": cursor} if cursor else {})}
            status, page, _ = await platform.call("GET", "/api/v1/accounts", admin, params=query)
            assert status == 200, page
            found += [item["name"].removesuffix(f" {tag}") for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                return found

    assert await names() == [
        "Atelier Zéphyr",
        "Boulangerie Ange",
        "Café Crème",
        "Domaine du Chêne",
        "Écurie des Ormes",
    ]
    assert await names(sort="-name") == list(reversed(await names()))
    assert await names(account_type="client") == [
        "Boulangerie Ange",
        "Café Crème",
        "Écurie des Ormes",
    ]
    assert await names(industry="A") == ["Domaine du Chêne", "Écurie des Ormes"]
    assert await names(city="LYON") == ["Atelier Zéphyr", "Écurie des Ormes"]
    assert await names(city="saint-etienne") == ["Café Crème"]
    assert await names(postal_code="69") == [
        "Atelier Zéphyr",
        "Domaine du Chêne",
        "Écurie des Ormes",
    ]
    assert await names(sort="employees") == [
        "Domaine du Chêne",
        "Atelier Zéphyr",
        "Café Crème",
        "Écurie des Ormes",
        "Boulangerie Ange",
    ]
    assert await names(sort="-city", industry="C") == ["Boulangerie Ange", "Atelier Zéphyr"]
    assert await names(owner="admin", account_type="fournisseur") == ["Domaine du Chêne"]
    # Search: inner words, accents and case ignored; city and SIREN too.
    _, page, _ = await platform.call(
        "GET", "/api/v1/accounts", admin, params={"q": f"{tag} VILLEURBANNE chêne"}
    )
    assert [i["name"] for i in page["items"]] == [f"Domaine du Chêne {tag}"]  # every word
    _, page, _ = await platform.call("GET", "/api/v1/accounts", admin, params={"q": "ZEPHYR"})
    assert f"Atelier Zéphyr {tag}" in [i["name"] for i in page["items"]]
    _status, page, _ = await platform.call(
        "GET", "/api/v1/accounts", admin, params={"q": "villeurb", "limit": "200"}
    )
    assert f"Domaine du Chêne {tag}" in [i["name"] for i in page["items"]]
    since = "2000-01-01T00:00:00Z"
    assert len(await names(updated_since=since)) == 5
    assert await names(updated_since=since, sort="name") == await names()
    assert await names(updated_since="2999-01-01T00:00:00Z") == []


async def test_a_nul_character_is_named_not_a_server_error(
    platform: Platform, admin: Headers
) -> None:
    tag = secrets.token_hex(4)
    body = {"name": f"Nul {tag}\x00", "industry": "\x00", "address": {"city": "Ly\x00on"}}
    for method, path in (("POST", "/api/v1/accounts"), ("POST", "/api/v1/contacts")):
        status, problem, _ = await platform.call(method, path, admin, json=body)
        assert status == 422, problem
        assert field_errors(problem) == {"name", "industry", "address.city"}
    status, page, _ = await platform.call("GET", "/api/v1/accounts", admin, params={"q": tag})
    assert page["items"] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"sort": "password"}, "sort"),
        ({"cursor": "garbage"}, "cursor"),
        ({"updated_since": "hier"}, "updated_since"),
        ({"postal_code": "69%"}, "postal_code"),
        ({"trashed": "peut-être"}, "trashed"),
        ({"parent_account_id": "x"}, "parent_account_id"),
        ({"q": "a\x00b"}, "q"),
        ({"city": "\x00"}, "city"),
    ],
)
async def test_bad_list_parameters_are_named(
    platform: Platform, admin: Headers, params: dict[str, str], field: str
) -> None:
    status, problem, _ = await platform.call("GET", "/api/v1/accounts", admin, params=params)
    assert status == 422
    assert field_errors(problem) == {field}


async def test_search_text_is_taken_literally(platform: Platform, admin: Headers) -> None:
    for q in ["%", "_", "' OR 1=1 --", "\\", "100%"]:
        status, page, _ = await platform.call("GET", "/api/v1/accounts", admin, params={"q": q})
        assert status == 200
        assert all(q.lower() in item["name"].lower() for item in page["items"])


async def audit_actions(
    platform: Platform, headers: Headers, collection: str, record_id: str
) -> list[str]:
    status, trail, _ = await platform.call(
        "GET", f"/api/v1/{collection}/{record_id}/audit", headers
    )
    return [entry["action"] for entry in trail] if status == 200 else []


async def test_duplicate_copies_editable_fields_but_not_siren_and_siret(
    platform: Platform, admin: Headers
) -> None:
    original = await create(platform, admin, **FULL)
    status, copy, headers = await platform.call(
        "POST", f"/api/v1/accounts/{original['id']}/duplicate", admin
    )
    assert status == 201
    assert headers["Location"] == f"/api/v1/accounts/{copy['id']}"
    assert copy["id"] != original["id"]
    assert copy["name"] == f"{FULL['name']} (copie)"
    assert (copy["siren"], copy["siret"]) == (None, None)
    for field in (
        "phone",
        "email",
        "website",
        "address",
        "industry",
        "employees",
        "annual_revenue",
    ):
        assert copy[field] == original[field]
    trail = await eventually(lambda: _trail(platform, admin, copy["id"]))
    assert trail[-1]["action"] == "created"
    assert trail[-1]["context"] == {"duplicated_from": original["id"]}
    status, _, _ = await platform.call(
        "POST", "/api/v1/accounts/00000000-0000-4000-8000-000000000000/duplicate", admin
    )
    assert status == 404


async def _trail(platform: Platform, headers: Headers, record_id: str) -> list[dict[str, Any]]:
    status, trail, _ = await platform.call("GET", f"/api/v1/accounts/{record_id}/audit", headers)
    return trail if status == 200 else []


async def test_trash_and_restore_bring_the_account_back_with_its_contacts(
    platform: Platform, admin: Headers
) -> None:
    tag = "trs" + secrets.token_hex(3)
    account = await create(platform, admin, name=f"Brasserie {tag}")
    status, contact, _ = await platform.call(
        "POST", "/api/v1/contacts", admin, json={"last_name": "Martin", "account_id": account["id"]}
    )
    assert status == 201
    path = f"/api/v1/accounts/{account['id']}"
    status, _, _ = await platform.call("DELETE", path, admin)
    assert status == 204
    assert (await platform.call("GET", path, admin))[0] == 404
    assert (await platform.call("DELETE", path, admin))[0] == 404
    _, page, _ = await platform.call("GET", "/api/v1/accounts", admin, params={"q": tag})
    assert page["items"] == []
    _, trash, _ = await platform.call(
        "GET", "/api/v1/accounts", admin, params={"q": tag, "trashed": "true"}
    )
    assert [a["id"] for a in trash["items"]] == [account["id"]]
    _, contacts, _ = await platform.call(
        "GET", "/api/v1/contacts", admin, params={"account_id": account["id"]}
    )
    assert contacts["items"] == []  # hidden with their account...
    status, restored, _ = await platform.call("POST", f"{path}/restore", admin)
    assert status == 200
    assert restored["version"] == 3
    status, _, _ = await platform.call("POST", f"{path}/restore", admin)
    assert status == 409
    _, contacts, _ = await platform.call(
        "GET", "/api/v1/contacts", admin, params={"account_id": account["id"]}
    )
    assert [c["id"] for c in contacts["items"]] == [contact["id"]]  # ...and back with it
    actions = await eventually(
        lambda: _when(
            audit_actions(platform, admin, "accounts", account["id"]), lambda a: len(a) == 3
        )
    )
    assert actions == ["restored", "deleted", "created"]


async def _when(value: Any, condition: Any) -> Any:
    result = await value
    return result if condition(result) else None


async def test_an_address_is_located_after_the_write_and_shown_on_a_map(
    platform: Platform, admin: Headers
) -> None:
    account = await create(platform, admin, name="Sans adresse")
    status, problem, _ = await platform.call("GET", f"/api/v1/accounts/{account['id']}/map", admin)
    assert (status, field_errors(problem)) == (422, {"address"})

    located = await create(
        platform,
        admin,
        name="Bouchon Lyonnais",
        address={"street": "2 rue Mercière", "postal_code": "69002", "city": "Lyon"},
    )
    path = f"/api/v1/accounts/{located['id']}"

    async def location() -> dict[str, Any] | None:
        _, body, _ = await platform.call("GET", path, admin)
        return body["location"]  # type: ignore[no-any-return]

    found = await eventually(location)
    assert (found["precision"], found["source"]) == ("city", "offline")
    assert found["lat"] == pytest.approx(45.75, abs=0.1)
    status, shown, _ = await platform.call("GET", f"{path}/map", admin)
    assert status == 200
    assert shown["map_url"].startswith("https://www.openstreetmap.org/?mlat=45.7")
    assert shown["address"]["city"] == "Lyon"
    # Moving the account moves it on the map; the geocoder's change is audited.
    status, _ = await patch(
        platform, admin, path, {"address": {"city": "Marseille", "postal_code": "13001"}}
    )
    assert status == 200

    async def moved() -> dict[str, Any] | None:
        where = await location()
        return where if where and where["lat"] < 44 else None

    assert (await eventually(moved))["lon"] == pytest.approx(5.38, abs=0.1)
    trail = await eventually(
        lambda: _when(_trail(platform, admin, located["id"]), lambda t: len(t) >= 4)
    )
    assert "geocodeur" in {entry["actor"] for entry in trail}


async def test_contacts_follow_the_same_conventions(platform: Platform, admin: Headers) -> None:
    account = await create(platform, admin, name="Clinique des Tilleuls")
    nobody = "00000000-0000-4000-8000-000000000000"
    bad = {
        "first_name": "Anne",
        "civility": "XX",
        "email": "a@b",
        "phone": "1",
        "account_id": nobody,
    }
    status, problem, _ = await platform.call("POST", "/api/v1/contacts", admin, json=bad)
    assert status == 422
    assert field_errors(problem) == {"last_name", "civility", "email", "phone", "account_id"}
    good = {
        "civility": "MME", "first_name": "Anne", "last_name": " Lefèvre ",
        "mobile": "06 12 34 56 78",
        "email": "anne@tilleuls.fr", "job_title": "Directrice", "account_id": account["id"],
    }  # fmt: skip
    status, contact, headers = await platform.call("POST", "/api/v1/contacts", admin, json=good)
    assert status == 201
    assert (contact["last_name"], contact["mobile"], headers["ETag"]) == (
        "Lefèvre",
        "+33612345678",
        '"1"',
    )
    path = f"/api/v1/contacts/{contact['id']}"
    status, changed = await patch(
        platform, admin, path, {"job_title": "Présidente"}, if_match='"1"'
    )
    assert (status, changed["version"]) == (200, 2)
    status, _ = await patch(platform, admin, path, {"job_title": "Gérante"}, if_match='"1"')
    assert status == 412
    status, _, _ = await platform.call("DELETE", path, admin)
    assert status == 204
    assert (await platform.call("GET", path, admin))[0] == 404
    status, _, _ = await platform.call("POST", f"{path}/restore", admin)
    assert status == 200
    actions = await eventually(
        lambda: _when(
            audit_actions(platform, admin, "contacts", contact["id"]), lambda a: len(a) == 4
        )
    )
    assert actions == ["restored", "deleted", "updated", "created"]
    assert (await platform.call("GET", "/api/v1/contacts/nope", admin))[0] == 404


async def test_users_are_managed_by_admins_and_audited(
    platform: Platform, admin: Headers, user: Headers
) -> None:
    status, _, _ = await platform.call("GET", "/api/v1/users", user)
    assert status == 403
    status, page, _ = await platform.call("GET", "/api/v1/users", admin)
    assert status == 200
    assert "admin" in [u["username"] for u in page["items"]]
    status, me = await patch(platform, user, "/api/v1/users/me", {"display_name": "Claire"})
    assert (status, me["display_name"]) == (200, "Claire")
    status, problem = await patch(platform, user, "/api/v1/users/me", {"role": "admin"})
    assert (status, field_errors(problem)) == (422, {"role"})
    # A phone extension is given by an admin: a user cannot pick one (an extension may ring
    # someone else's phone, or dial out through a privileged trunk).
    status, problem = await patch(platform, user, "/api/v1/users/me", {"phone_extension": "999"})
    assert (status, field_errors(problem)) == (422, {"phone_extension"})
    status, me = await patch(
        platform, admin, f"/api/v1/users/{me['id']}", {"phone_extension": "204"}
    )
    assert (status, me["phone_extension"]) == (200, "204")
    trail = await eventually(
        lambda: _when(_user_trail(platform, admin, me["id"]), lambda t: len(t) >= 2)
    )
    assert trail[0]["changes"][0]["field"] in {"display_name", "phone_extension"}
    assert all("password" not in str(entry["changes"]) for entry in trail)


async def _user_trail(platform: Platform, headers: Headers, user_id: str) -> list[dict[str, Any]]:
    status, trail, _ = await platform.call("GET", f"/api/v1/users/{user_id}/audit", headers)
    return trail if status == 200 else []

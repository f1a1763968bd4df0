"""List views over HTTP (the pages as the server answers them, without a browser): columns from
the declarations, search, filters, sorts, keyset paging and the total, all in the URL; a bad
filter value shown next to its filter; an unknown list; the "+" button by role."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import lxml.html  # type: ignore[import-untyped]
import pytest

from tests.platform import Platform
from tests.ui_support import WebUser

Headers = dict[str, str]
NNBSP, NBSP = "\u202f", "\u00a0"


async def made(platform: Platform, headers: Headers, path: str, body: Any) -> dict[str, Any]:
    status, response, _ = await platform.call("POST", path, headers, json=body)
    assert status == 201, response
    return response  # type: ignore[no-any-return]


def doc(text: str) -> Any:
    return lxml.html.fromstring(text)


def row_titles(page: Any) -> list[str]:
    return [
        row.xpath("string(td[1])").strip()
        for row in page.xpath("//table[contains(@class,'list-table')]/tbody/tr")
    ]


def text_of(node: Any) -> str:
    return " ".join(node.text_content().split())


@pytest.fixture
async def web(platform: Platform) -> AsyncIterator[WebUser]:
    user = WebUser(platform.gateway)
    signed = await user.sign_in()
    assert signed.status == 200, signed.text
    yield user
    await user.close()


async def town(platform: Platform, admin: Headers, names: list[str], **extra: Any) -> str:
    """A city of its own holding accounts named ``names``."""
    city = f"Listeville {uuid.uuid4().hex[:8]}"
    for name in names:
        await made(
            platform, admin, "/api/v1/accounts", {"name": name, "address": {"city": city}, **extra}
        )
    return city


async def test_the_account_list_shows_the_declared_columns_the_total_and_the_rows(
    platform: Platform, admin: Headers, web: WebUser
) -> None:
    city = await town(platform, admin, ["Zèbre SA", "Alpha SARL", "Midi SAS"], phone="0142685300")
    answer = await web.get("/crm/accounts", params={"city": city})
    assert answer.status == 200, answer.text
    page = doc(answer.text)
    crumbs = [text_of(li) for li in page.xpath("//nav[@class='breadcrumb']//li")]
    assert crumbs == ["Application", "CRM", "Comptes"]
    headers = [text_of(th) for th in page.xpath("//table/thead//th")]
    assert headers[0].startswith("Raison sociale")
    assert any(h.startswith("Téléphone") for h in headers)
    assert row_titles(page) == ["Alpha SARL", "Midi SAS", "Zèbre SA"]  # the default sort: name
    rows = page.xpath("//table/tbody/tr")
    for row in rows:
        assert row.get("tabindex") == "0"
        assert row.get("data-href").startswith("/crm/accounts/")
        assert row.xpath("td[1]/a/@href") == [row.get("data-href")]
    assert "01 42 68 53 00" in rows[0].text_content()  # the phone formatted the French way
    assert text_of(page.xpath("//*[@id='total-liste']")[0]) == "3 comptes"
    new = page.xpath("//a[@aria-label='Nouveau compte']")
    assert [a.get("href") for a in new] == ["/crm/accounts/nouveau"]
    # The filters are a GET form holding the view's state: the city is kept in its input.
    form = page.xpath("//form[contains(@class,'list-filters')]")[0]
    assert form.get("method") == "get"
    assert page.xpath("//input[@name='city']/@value") == [city]
    assert page.xpath("//input[@name='q']/@aria-describedby")  # the search says what it finds


async def test_search_filter_and_trash(platform: Platform, admin: Headers, web: WebUser) -> None:
    status, types, _ = await platform.call("GET", "/api/v1/picklists/account_type", admin)
    assert status == 200, types
    # The first value still offered (other tests add, move and deactivate values of their own).
    offered = next(value for value in types["values"] if value["active"])
    code, label = offered["code"], offered["label"]
    city = await town(platform, admin, ["Bleu Marine", "Rouge Vif"])
    await town_of_type(platform, admin, city, code)
    searched = doc((await web.get("/crm/accounts", params={"city": city, "q": "marine"})).text)
    assert row_titles(searched) == ["Bleu Marine"]
    assert text_of(searched.xpath("//*[@id='total-liste']")[0]) == "1 compte"
    # A picklist filter is a select of the picklist's values, by label.
    page = doc((await web.get("/crm/accounts", params={"city": city, "account_type": code})).text)
    options = page.xpath("//select[@name='account_type']/option")
    assert (options[0].get("value"), options[0].text) == ("", "Tous")
    chosen = page.xpath("//select[@name='account_type']/option[@selected]")
    assert [(o.get("value"), o.text) for o in chosen] == [(code, label)]
    assert row_titles(page) == ["Typé"]
    assert label in text_of(page.xpath("//table/tbody/tr")[0])  # the code shown by its label
    # Empty inputs of the submitted form mean "no filter", and leave the view's URL.
    answer = await web.get(f"/crm/accounts?city={city}&q=&account_type=&owner=+")
    assert answer.url.endswith("/crm/accounts?" + urlencode({"city": city}))
    assert len(row_titles(doc(answer.text))) == 3
    # The trash is a checkbox.
    status, listed, _ = await platform.call(
        "GET", "/api/v1/accounts", admin, params={"city": city, "q": "rouge"}
    )
    gone = listed["items"][0]["id"]
    status, _, _ = await platform.call("DELETE", f"/api/v1/accounts/{gone}", admin)
    assert status == 204
    trash = doc((await web.get("/crm/accounts", params={"city": city, "trashed": "true"})).text)
    assert row_titles(trash) == ["Rouge Vif"]
    assert trash.xpath("//input[@name='trashed' and @type='checkbox']/@checked")
    nothing = doc((await web.get("/crm/accounts", params={"city": city, "q": "introuvable"})).text)
    assert not nothing.xpath("//table")
    assert "Aucune fiche ne correspond à ces critères." in text_of(nothing)
    assert text_of(nothing.xpath("//*[@id='total-liste']")[0]) == "Aucune fiche"


async def town_of_type(platform: Platform, admin: Headers, city: str, code: str) -> None:
    await made(
        platform,
        admin,
        "/api/v1/accounts",
        {"name": "Typé", "address": {"city": city}, "account_type": code},
    )


async def test_sortable_headers_toggle_the_sort_in_the_url(
    platform: Platform, admin: Headers, web: WebUser
) -> None:
    city = await town(platform, admin, ["Bravo", "Alpha", "Charlie"])
    page = doc((await web.get("/crm/accounts", params={"city": city})).text)
    name_header = page.xpath("//table/thead//th")[0]
    assert name_header.get("aria-sort") == "ascending"
    toggle = name_header.xpath(".//a/@href")[0]
    assert "sort=-name" in toggle
    assert f"city={city.replace(' ', '+')}" in toggle
    reversed_page = doc((await web.get(toggle)).text)
    assert row_titles(reversed_page) == ["Charlie", "Bravo", "Alpha"]
    header = reversed_page.xpath("//table/thead//th")[0]
    assert header.get("aria-sort") == "descending"
    assert "sort=name" in header.xpath(".//a/@href")[0]
    # Only declared sorts are links (accounts cannot be sorted by phone).
    phone = next(th for th in page.xpath("//table/thead//th") if "Téléphone" in text_of(th))
    assert not phone.xpath(".//a")
    assert phone.get("aria-sort") is None
    # The sort select of the form offers every declared sort, both ways.
    values = page.xpath("//select[@name='sort']/option/@value")
    assert {"name", "-name", "city", "-created_at"} <= set(values)


async def test_keyset_paging_with_next_and_first_page_links(
    platform: Platform, admin: Headers, web: WebUser
) -> None:
    names = [f"Page {n}" for n in range(5)]
    city = await town(platform, admin, names)
    first = doc((await web.get("/crm/accounts", params={"city": city, "limit": "2"})).text)
    assert row_titles(first) == names[:2]
    assert not first.xpath("//a[contains(., 'Première page')]")
    seen = list(row_titles(first))
    current = first
    while True:
        following = current.xpath("//a[@rel='next']/@href")
        if not following:
            break
        assert "cursor=" in following[0]
        assert "limit=2" in following[0]
        current = doc((await web.get(following[0])).text)
        seen += row_titles(current)
        assert text_of(current.xpath("//*[@id='total-liste']")[0]) == "5 comptes"
        back = current.xpath("//a[contains(., 'Première page')]/@href")[0]
        assert "cursor" not in back
    assert seen == names


async def test_a_bad_filter_value_is_shown_next_to_its_filter(
    platform: Platform, web: WebUser
) -> None:
    answer = await web.get("/crm/accounts", params={"postal_code": "abc", "city": "Nulle"})
    assert answer.status == 200  # the page, not an error page: the form can be corrected
    page = doc(answer.text)
    field = page.xpath("//input[@name='postal_code']/..")[0]
    assert "has-error" in field.get("class")
    assert "Début de code postal attendu" in text_of(field)
    assert page.xpath("//input[@name='postal_code']/@value") == ["abc"]
    assert page.xpath("//input[@name='postal_code']/@aria-invalid") == ["true"]
    assert page.xpath("//input[@name='city']/@value") == ["Nulle"]  # the rest kept
    assert not page.xpath("//table")
    # A stale cursor or an unknown sort: said at the top, with a way back.
    for params in ({"cursor": "pas-un-curseur"}, {"sort": "pointure"}):
        bad = doc((await web.get("/crm/accounts", params=params)).text)
        summary = text_of(bad.xpath("//div[contains(@class,'error-summary')]")[0])
        assert "Revenir à la vue par défaut" in summary, params


async def test_an_unknown_list_is_a_french_404(web: WebUser) -> None:
    answer = await web.get("/crm/chaussettes")
    assert answer.status == 404
    assert "Cette liste n'existe pas." in text_of(doc(answer.text))


async def test_the_users_list_is_the_administration_page(web: WebUser) -> None:
    answer = await web.get("/crm/users", allow_redirects=False)
    assert (answer.status, answer.headers["Location"]) == (303, "/admin/utilisateurs")


async def test_every_entity_has_its_list(platform: Platform, admin: Headers, web: WebUser) -> None:
    status, entities, _ = await platform.call("GET", "/api/v1/meta/entities", admin)
    assert status == 200
    for entity in entities["items"]:
        if entity["service"] == "gateway":
            continue
        answer = await web.get(f"/crm/{entity['collection']}")
        assert answer.status == 200, (entity["collection"], answer.text[:500])
        assert f'<h1 id="titre-liste">{entity["plural"]}</h1>' in answer.text


async def test_connections_are_shown_by_their_title_and_money_in_french(
    platform: Platform, admin: Headers, web: WebUser
) -> None:
    account = await made(platform, admin, "/api/v1/accounts", {"name": "Société Liée"})
    await made(
        platform,
        admin,
        "/api/v1/opportunities",
        {"name": "Grosse affaire", "account_id": account["id"], "amount": "1234.5"},
    )
    answer = await web.get("/crm/opportunities", params={"account_id": account["id"]})
    page = doc(answer.text)
    row = page.xpath("//table/tbody/tr")[0]
    assert row_titles(page) == ["Grosse affaire"]
    assert row.xpath(".//a[@href=$h]/text()", h=f"/crm/accounts/{account['id']}") == [
        "Société Liée"
    ]
    assert f"1{NNBSP}234,50{NBSP}€" in row.text_content()
    # The connection filter shows whom it names, and how to remove it.
    chip = page.xpath("//ul[@class='list-chips']/li")[0]
    assert chip.xpath("a[1]/@href") == [f"/crm/accounts/{account['id']}"]
    assert chip.xpath("a[1]/text()") == ["Société Liée"]
    assert chip.xpath("input[@type='hidden']/@value") == [account["id"]]
    removed = chip.xpath("a[@class='chip-remove']/@href")[0]
    assert "account_id" not in removed
    assert "Nouvelle affaire" in page.xpath("//a[contains(@class,'list-new')]/@aria-label")


async def test_a_readonly_user_has_no_create_button(platform: Platform, admin: Headers) -> None:
    username = f"lecteur-{uuid.uuid4().hex[:8]}"
    body = {"username": username, "password": "Lecture-listes-2026", "role": "readonly"}
    status, created, _ = await platform.call("POST", "/api/v1/users", admin, json=body)
    assert status == 201, created
    reader = WebUser(platform.gateway)
    try:
        await reader.sign_in(username, "Lecture-listes-2026")
        answer = await reader.get("/crm/accounts")
        assert answer.status == 200
        assert "/crm/accounts/nouveau" not in answer.text
        assert doc(answer.text).xpath("//table|//p[contains(@class,'list-empty')]")
    finally:
        await reader.close()


async def test_the_filter_form_gets_the_list_fragment_for_htmx(
    platform: Platform, admin: Headers, web: WebUser
) -> None:
    city = await town(platform, admin, ["Fragment"])
    answer = await web.get(
        "/crm/accounts",
        params={"city": city},
        headers={"HX-Request": "true", "HX-Target": "vue-liste"},
    )
    assert answer.status == 200
    assert answer.text.lstrip().startswith('<div id="vue-liste"')
    assert "<html" not in answer.text
    assert row_titles(doc(answer.text)) == ["Fragment"]


async def test_a_date_and_time_filter_is_paris_time(
    platform: Platform, admin: Headers, web: WebUser
) -> None:
    """The date and time picker gives a local time; the page sends it to the API in Paris
    time, and shows it back as it was picked."""
    city = await town(platform, admin, ["Récent"])
    since = {"city": city, "updated_since": "2000-01-01T00:00"}
    page = doc((await web.get("/crm/accounts", params=since)).text)
    assert row_titles(page) == ["Récent"]
    assert page.xpath("//input[@name='updated_since']/@value") == ["2000-01-01T00:00"]
    assert page.xpath("//input[@name='updated_since']/@type") == ["datetime-local"]
    later = {"city": city, "updated_since": "2999-01-01T00:00"}
    nothing = doc((await web.get("/crm/accounts", params=later)).text)
    assert "Aucune fiche ne correspond à ces critères." in text_of(nothing)
    # Without a chosen sort, the form offers the list's own order (its default) first.
    chosen = page.xpath("//select[@name='sort']/option[@selected]")
    assert [(o.get("value"), o.text) for o in chosen] == [
        ("", "Ordre par défaut (Raison sociale, croissant)")
    ]


async def test_every_sort_of_every_list_has_its_own_french_label(
    platform: Platform, admin: Headers, web: WebUser
) -> None:
    status, entities, _ = await platform.call("GET", "/api/v1/meta/entities", admin)
    assert status == 200
    for entity in entities["items"]:
        if entity["service"] == "gateway":
            continue
        answer = await web.get(f"/crm/{entity['collection']}")
        assert answer.status == 200, answer.text[:500]
        options = doc(answer.text).xpath("//select[@id='filtre-sort']/option[@value!='']")
        labels = [text_of(o) for o in options]
        assert len(labels) == 2 * len(entity["sorts"]), (entity["collection"], labels)
        assert len(set(labels)) == len(labels), (entity["collection"], labels)
        for label in labels:
            assert "_" not in label, label
    answer = await web.get("/crm/accounts")
    labels = [text_of(o) for o in doc(answer.text).xpath("//select[@id='filtre-sort']/option")]
    assert "Ville, croissant" in labels
    assert "Code postal, décroissant" in labels
    assert labels.count("Raison sociale, croissant") == 1
    assert "Dernière modification, décroissant" in labels

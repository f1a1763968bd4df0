"""The 360° tabs and the tools menu of the web interface, over HTTP as a signed-in browser
would (tests/browser drives a real chromium): Dupliquer, Fusionner, Imprimer, Audit Trail,
Carte and ClickToCall, each through the API as the signed-in user."""

from __future__ import annotations

import html
import io
import re
import uuid
import zipfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestServer

from services.common.entities import Entity
from services.gateway.app import create_app as gateway_app
from services.gateway.settings import GatewaySettings
from services.gateway.telephony import sign
from services.gateway.ui.pages.tools import APPROXIMATE, approximate, call_stage, duration_fr
from services.gateway.ui.render import environment
from tests.platform import Platform
from tests.support import TELEPHONY_SECRET, eventually, word_template
from tests.ui_support import WebUser, text_of

Headers = dict[str, str]


@pytest.fixture
async def web(platform: Platform) -> AsyncIterator[WebUser]:
    user = WebUser(platform.gateway)
    await user.sign_in()
    yield user
    await user.close()


async def made(platform: Platform, headers: Headers, path: str, body: dict[str, Any]) -> Any:
    status, created, _ = await platform.call("POST", path, headers, json=body)
    assert status == 201, created
    return created


async def account(platform: Platform, headers: Headers, **fields: Any) -> dict[str, Any]:
    body = {"name": f"Société {uuid.uuid4().hex[:6]}", **fields}
    created: dict[str, Any] = await made(platform, headers, "/api/v1/accounts", body)
    return created


def tools_of(page_html: str) -> dict[str, bool]:
    """The tools menu: each tool's name and whether it is enabled."""
    menu = page_html.split('id="tools-menu"', 1)[1].split("</details>", 1)[0]
    found = re.findall(r'class="(?:link )?tool" data-tool="(\w+)"([^>]*)>', menu)
    return {name: "disabled" not in rest for name, rest in found}


async def readonly_web(platform: Platform, admin: Headers) -> WebUser:
    username = f"lecteur-{uuid.uuid4().hex[:6]}"
    password = "Lecteur-mot-de-passe-1"
    body = {"username": username, "password": password, "role": "readonly"}
    await made(platform, admin, "/api/v1/users", body)
    reader = WebUser(platform.gateway)
    await reader.sign_in(username, password)
    return reader


# -- the 360° tabs --------------------------------------------------------------------------


async def test_the_360_view_has_a_tab_per_declared_entity_with_counts_and_links(
    platform: Platform, admin: Headers, web: WebUser
) -> None:
    company = await account(platform, admin, phone="01 42 68 53 00")
    for name in ("Martin", "Bernard", "Petit"):
        body = {"last_name": name, "account_id": company["id"], "phone": "06 11 22 33 44"}
        await made(platform, admin, "/api/v1/contacts", body)
    body = {"name": "Renouvellement", "account_id": company["id"], "amount": "12500.5"}
    await made(platform, admin, "/api/v1/opportunities", body)

    page = await web.get(f"/crm/accounts/{company['id']}/vue360")
    assert page.status == 200, page.text
    text = text_of(page.text)
    for label, count in [
        ("Contacts", 3),
        ("Actions", 0),
        ("Affaires", 1),
        ("Projets", 0),
        ("Devis", 0),
        ("Factures", 0),
    ]:
        assert f"{label} ({count})" in text
    for collection in ("contacts", "actions", "opportunities", "projects", "quotes", "invoices"):
        assert f'href="/crm/{collection}/nouveau?account_id={company["id"]}"' in page.text
    assert f'href="/crm/contacts?account_id={company["id"]}"' in page.text
    assert "12 500,50 €" in text  # the opportunity's amount, in French
    assert "06 11 22 33 44" in text
    # Newest first: the last contact made comes first.
    assert text.index("Petit") < text.index("Bernard") < text.index("Martin")
    assert page.text.count('<h2 class="tab-title"') == 6  # sections until record.js makes tabs
    assert "Aucune fiche pour l'instant." in text
    # The phones of the tab offer ClickToCall, for that contact.
    assert page.text.count('class="inline-call"') == 3


async def test_a_readonly_user_sees_the_tabs_without_plus_nor_dupliquer(
    platform: Platform, admin: Headers
) -> None:
    company = await account(platform, admin)
    reader = await readonly_web(platform, admin)
    try:
        page = await reader.get(f"/crm/accounts/{company['id']}/vue360")
        assert page.status == 200
        assert "/nouveau?account_id=" not in page.text
        tools = tools_of(page.text)
        assert "duplicate" not in tools
        assert tools["print"]
        assert tools["audit"]
        assert tools["map"]
        assert not tools["merge"]
        assert not tools["call"]
        assert "lecture seule" in page.text
        refused = await reader.post(f"/crm/accounts/{company['id']}/dupliquer", {})
        assert refused.status == 403
    finally:
        await reader.close()


def declarations() -> list[dict[str, Any]]:
    import services.accounts.entities as accounts
    import services.activities.entities as activities
    import services.documents.entities as documents

    found = [
        value.public(module.__name__.split(".")[1])
        for module in (accounts, activities, documents)
        for value in vars(module).values()
        if isinstance(value, Entity)
    ]
    return sorted(found, key=lambda e: (e["tab"] or {"order": 0})["order"])


def test_an_unavailable_section_says_so_in_its_tab_while_the_others_show() -> None:
    entities = declarations()
    account_id = str(uuid.uuid4())
    contact = {"id": str(uuid.uuid4()), "last_name": "Durand", "first_name": "Léa"}
    view = {
        "account": {"id": account_id, "name": "ACME"},
        "contacts": {"items": [contact], "total": 1, "total_is_capped": False},
        "actions": {"items": [], "total": 0, "total_is_capped": False},
        "opportunities": {"items": [], "total": 0, "total_is_capped": False},
        "projects": {"items": [], "total": 0, "total_is_capped": False},
        "unavailable": ["quotes", "invoices"],
    }
    session = type("S", (), {"can_write": True})()
    out = (
        environment()
        .get_template("partials/tabs360.html")
        .render(view=view, crm_menu=entities, session=session, csrf_field="csrf", csrf_token="t")
    )
    text = text_of(out)
    assert "Les factures sont momentanément indisponibles." in text
    assert "Les devis sont momentanément indisponibles." in text
    assert "Contacts (1)" in text
    assert "Léa Durand" in text
    assert f'href="/crm/contacts/{contact["id"]}"' in out
    assert "Factures (" not in text  # no count for what could not be counted


# -- Dupliquer ------------------------------------------------------------------------------


async def test_dupliquer_opens_the_copy_named_copie(
    platform: Platform, admin: Headers, web: WebUser
) -> None:
    company = await account(platform, admin, name="Boulangerie Dupont", siren="552100554")
    page = await web.get(f"/crm/accounts/{company['id']}/vue360")
    assert tools_of(page.text)["duplicate"]
    async with web.http.post(
        f"{platform.gateway}/crm/accounts/{company['id']}/dupliquer",
        data={"csrf": web.csrf},
        headers={"Origin": platform.gateway},
        allow_redirects=False,
    ) as response:
        assert response.status == 303
        location = response.headers["Location"]
    copy_id = location.rsplit("/", 1)[1]
    assert location == f"/crm/accounts/{copy_id}"
    assert copy_id != company["id"]
    status, copy, _ = await platform.call("GET", f"/api/v1/accounts/{copy_id}", admin)
    assert (status, copy["name"], copy["siren"]) == (200, "Boulangerie Dupont (copie)", None)
    opened = await web.get(location)
    assert "Copie créée à partir de « Boulangerie Dupont »." in text_of(opened.text)


def test_disabled_tools_are_marked_unavailable_with_their_reason() -> None:
    menu = environment().get_template("partials/tools_menu.html")
    tools = [
        {
            "name": "print",
            "label": "Imprimer",
            "href": "/x/imprimer",
            "method": "get",
            "enabled": True,
            "reason": "",
        },
        {
            "name": "call",
            "label": "ClickToCall",
            "href": "/x/appeler",
            "method": "post",
            "enabled": False,
            "reason": "Aucun serveur de téléphonie n'est configuré.",
        },
    ]
    out = menu.render(tools=tools, csrf_field="csrf", csrf_token="t")
    call = re.search(r'<button[^>]*data-tool="call"[^>]*>(.*?)</button>', out)
    assert call
    assert "disabled" in call.group(0)
    assert 'title="Aucun serveur de téléphonie n&#39;est configuré."' in call.group(0)
    assert "(indisponible)" in call.group(1)
    assert 'aria-describedby="tool-reason-call"' in call.group(0)
    assert "Aucun serveur de téléphonie n'est configuré." in text_of(out)
    assert "(indisponible)" not in out.split('data-tool="call"')[0]


async def test_a_tool_without_the_csrf_token_or_on_an_unknown_record_is_refused(
    platform: Platform, admin: Headers, web: WebUser
) -> None:
    company = await account(platform, admin)
    async with web.http.post(
        f"{platform.gateway}/crm/accounts/{company['id']}/dupliquer",
        headers={"Origin": platform.gateway},
        allow_redirects=False,
    ) as response:
        assert response.status == 403
    missing = await web.get(f"/crm/accounts/{uuid.uuid4()}/historique")
    assert missing.status == 404
    assert "Traceback" not in missing.text
    assert (await web.get("/crm/accounts/pas-un-id/carte")).status == 404
    assert (await web.get(f"/crm/inconnus/{company['id']}/imprimer")).status == 404
    # Users have no print layout: no Imprimer, whoever types the address.
    _, me, _ = await platform.call("GET", "/api/v1/users/me", admin)
    assert (await web.get(f"/crm/users/{me['id']}/imprimer")).status == 404


# -- Imprimer -------------------------------------------------------------------------------


async def test_imprimer_answers_the_pdf_inline(
    platform: Platform, admin: Headers, web: WebUser
) -> None:
    company = await account(platform, admin, name="Imprimerie Nationale")
    async with web.http.get(f"{platform.gateway}/crm/accounts/{company['id']}/imprimer") as r:
        body = await r.read()
        assert r.status == 200
        assert r.headers["Content-Type"] == "application/pdf"
        assert r.headers["Content-Disposition"].startswith("inline;")
        assert ".pdf" in r.headers["Content-Disposition"]
    assert body.startswith(b"%PDF")


# -- Fusionner ------------------------------------------------------------------------------


async def upload_template(platform: Platform, admin: Headers, name: str) -> dict[str, Any]:
    form = aiohttp.FormData()
    form.add_field("name", name)
    form.add_field("kind", "account")
    form.add_field(
        "file",
        word_template("Madame, Monsieur, {{ compte.name }}", "Fait le {{ date }}"),
        filename="lettre.docx",
        content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    )
    async with platform.http.post(
        f"{platform.gateway}/api/v1/templates", data=form, headers=admin
    ) as response:
        created: dict[str, Any] = await response.json(content_type=None)
        assert response.status == 201, created
        return created


async def test_fusionner_lists_the_templates_and_downloads_the_docx(
    platform: Platform, admin: Headers, web: WebUser
) -> None:
    company = await account(platform, admin, name="Fusion & Associés")
    _, listed, _ = await platform.call("GET", "/api/v1/templates?limit=200", admin)
    for template in listed["items"]:  # none yet: the page says so
        await platform.call("DELETE", f"/api/v1/templates/{template['id']}", admin)
    empty = await web.get(f"/crm/accounts/{company['id']}/fusionner")
    assert empty.status == 200
    assert "Aucun modèle Word" in text_of(empty.text)
    assert 'href="/admin/modeles"' in empty.text

    template = await upload_template(platform, admin, "Lettre de bienvenue")
    form = await web.get(f"/crm/accounts/{company['id']}/fusionner")
    assert "Lettre de bienvenue" in form.text
    assert 'value="pdf"' in form.text
    async with web.http.post(
        f"{platform.gateway}/crm/accounts/{company['id']}/fusionner",
        data={"csrf": web.csrf, "template_id": template["id"], "format": "docx"},
        headers={"Origin": platform.gateway},
    ) as r:
        body = await r.read()
        assert r.status == 200, body[:500]
        assert r.headers["Content-Type"].startswith(
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        )
        disposition = r.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert ".docx" in disposition
    assert body.startswith(b"PK")
    with zipfile.ZipFile(io.BytesIO(body)) as document:
        assert "Fusion &amp; Associés" in document.read("word/document.xml").decode()

    async with web.http.post(
        f"{platform.gateway}/crm/accounts/{company['id']}/fusionner",
        data={"csrf": web.csrf, "template_id": template["id"], "format": "pdf"},
        headers={"Origin": platform.gateway},
    ) as r:
        pdf = await r.read()
        assert r.status == 200, pdf[:500]
        assert r.headers["Content-Type"] == "application/pdf"
        assert r.headers["Content-Disposition"].startswith("attachment;")
    assert pdf.startswith(b"%PDF")

    missing = await web.post(f"/crm/accounts/{company['id']}/fusionner", {"format": "docx"})
    assert missing.status == 422
    assert "Choisissez un modèle." in missing.text
    unknown = await web.post(
        f"/crm/accounts/{company['id']}/fusionner",
        {"template_id": str(uuid.uuid4()), "format": "docx"},
    )
    assert unknown.status == 422
    assert 'class="field-error"' in unknown.text


# -- Audit Trail ----------------------------------------------------------------------------


async def test_the_audit_trail_shows_the_change_just_made_and_that_the_chain_verifies(
    platform: Platform, admin: Headers, web: WebUser
) -> None:
    _, kinds, _ = await platform.call("GET", "/api/v1/picklists/account_type", admin)
    kind = next(v for v in kinds["values"] if v.get("active", True) and v["label"] != v["code"])
    company = await account(
        platform,
        admin,
        name="Historique SA",
        annual_revenue="1000",
        address={"postal_code": "75004", "city": "Paris"},
    )
    status, _, _ = await platform.call(
        "PATCH",
        f"/api/v1/accounts/{company['id']}",
        admin,
        json={
            "annual_revenue": "2500000.5",
            "account_type": kind["code"],
            "description": "Une très longue description " * 20,
        },
    )
    assert status == 200

    async def trail() -> str | None:
        page = await web.get(f"/crm/accounts/{company['id']}/historique")
        assert page.status == 200, page.text
        located = "Localisation de l" in page.text
        return page.text if "Modification" in page.text and located else None

    page_html = await eventually(trail)
    text = text_of(page_html)
    assert f'<td class="value new">{html.escape(kind["label"])}</td>' in page_html
    assert f'<td class="value new">{html.escape(kind["code"])}</td>' not in page_html
    assert re.search(r"Localisation — 4[89],\d+ ; \d+,\d+ \(précision : ville\)", text), text
    assert "offline" not in text
    assert "precision" not in text
    assert "Historique intègre" in text
    assert "Chiffre d'affaires" in text or "annual_revenue" not in text
    assert "1 000,00 €" in text
    assert "2 500 000,50 €" in text
    assert text.index("Modification") < text.index("Création")  # newest first
    assert "Adresse › Pays" in text  # a part of the address, named in French
    assert "par Administrateur" in text  # the display name, not the username


# -- Carte ----------------------------------------------------------------------------------


async def test_carte_places_the_account_and_says_when_there_is_no_address(
    platform: Platform, admin: Headers, web: WebUser
) -> None:
    address = {"street": "8 rue de Rivoli", "postal_code": "75004", "city": "Paris"}
    located = await account(platform, admin, name="Carte SA", address=address)

    async def placed() -> str | None:
        page = await web.get(f"/crm/accounts/{located['id']}/carte")
        assert page.status == 200, page.text
        return page.text if 'id="map"' in page.text else None

    page_html = await eventually(placed)
    assert re.search(r'data-lat="4[89]\.\d+"', page_html)
    assert re.search(r'id="map-lat">4[89],\d+<', page_html)
    assert "75004 Paris" in text_of(page_html)
    assert '<script src="/static/js/map.js"' in page_html
    assert "/static/leaflet/leaflet.js" in page_html
    assert 'data-tiles=""' in page_html
    assert "seul le repère est affiché" in text_of(page_html)
    assert APPROXIMATE in text_of(page_html)  # the offline geocoder finds the city only
    assert "l'adresse exacte n'a pas été trouvée" in APPROXIMATE

    bare = await account(platform, admin, name="Sans Adresse")
    page = await web.get(f"/crm/accounts/{bare['id']}/carte")
    assert page.status == 200
    assert "Renseignez l'adresse du compte pour le placer sur la carte." in text_of(page.text)
    assert "map.js" not in page.text


def test_carte_says_only_when_the_location_is_not_the_street() -> None:
    assert approximate({"precision": "street"}) == ""
    assert approximate({"precision": "address"}) == ""
    assert approximate({"precision": "city"}) == APPROXIMATE
    assert approximate({"precision": "region"}).startswith("Position approximative (région)")


# -- ClickToCall ----------------------------------------------------------------------------


async def callback(platform: Platform, call: dict[str, Any], event: str, duration: int = 0) -> None:
    body = {
        "call_id": call["call_id"],
        "event": event,
        "direction": "outbound",
        "from": call["from"],
        "to": call["to"],
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "duration_seconds": duration,
    }
    raw = orjson.dumps(body)
    headers = {"Content-Type": "application/json", "X-Signature": sign(raw, TELEPHONY_SECRET)}
    async with platform.http.post(
        f"{platform.gateway}/api/v1/telephony/events", data=raw, headers=headers
    ) as response:
        assert response.status == 202, await response.text()


async def with_extension(platform: Platform, admin: Headers) -> None:
    _, me, _ = await platform.call("GET", "/api/v1/users/me", admin)
    if me.get("phone_extension") != "201":
        status, _, _ = await platform.call(
            "PATCH", f"/api/v1/users/{me['id']}", admin, json={"phone_extension": "201"}
        )
        assert status == 200


async def test_clicktocall_reaches_the_telephony_server_and_follows_the_call(
    platform: Platform, admin: Headers, web: WebUser
) -> None:
    await with_extension(platform, admin)
    company = await account(platform, admin, name="Appel SA", phone="01 42 68 53 00")
    await web.get(f"/crm/accounts/{company['id']}/appeler")
    async with web.http.post(
        f"{platform.gateway}/crm/accounts/{company['id']}/appeler",
        data={"csrf": web.csrf},
        headers={"Origin": platform.gateway},
        allow_redirects=False,
    ) as response:
        assert response.status == 303, await response.text()
        location = response.headers["Location"]
    placed = platform.telephony.calls[-1]
    assert (placed["from"], placed["to"]) == ("201", "+33142685300")
    assert location == f"/crm/accounts/{company['id']}/appels/{placed['call_id']}"
    call = {"call_id": placed["call_id"], "from": "201", "to": "+33142685300"}

    page = await web.get(location)
    assert "Appel en cours vers 01 42 68 53 00…" in text_of(page.text)
    assert 'hx-trigger="every 1s"' in page.text
    fragment = {"HX-Request": "true"}
    await callback(platform, call, "ringing")
    ringing = await web.get(location, headers=fragment)
    assert "Sonnerie…" in ringing.text
    assert "<html" not in ringing.text
    await callback(platform, call, "answered")
    assert "En ligne…" in (await web.get(location, headers=fragment)).text
    await callback(platform, call, "hangup", duration=125)
    ended = await web.get(location, headers=fragment)
    assert "Terminé (2 min 5 s)" in text_of(ended.text)
    assert "hx-trigger" not in ended.text  # the polling stops


async def test_clicktocall_says_plainly_why_a_call_cannot_be_placed(
    platform: Platform, admin: Headers, web: WebUser
) -> None:
    await with_extension(platform, admin)
    silent = await account(platform, admin, name="Muet SA")
    page = await web.post(f"/crm/accounts/{silent['id']}/appeler", {})
    assert page.status == 422
    assert "indiquez-en un" in text_of(page.text)
    assert 'id="call-number"' in page.text
    bad = await web.post(f"/crm/accounts/{silent['id']}/appeler", {"number": "08 99 00 00 00"})
    assert bad.status == 422
    assert "ne peut pas être appelé" in text_of(bad.text)

    platform.telephony.mode = "refuse"
    try:
        refused = await web.post(f"/crm/accounts/{silent['id']}/appeler", {"number": "0472000000"})
    finally:
        platform.telephony.mode = "accept"
    assert refused.status == 502
    assert "Le serveur de téléphonie a refusé de passer l'appel." in text_of(refused.text)

    username, password = f"sans-poste-{uuid.uuid4().hex[:6]}", "Sans-poste-mot-de-passe-1"
    await made(platform, admin, "/api/v1/users", {"username": username, "password": password})
    other = WebUser(platform.gateway)
    try:
        await other.sign_in(username, password)
        await other.get(f"/crm/accounts/{silent['id']}/appeler")
        page = await other.post(f"/crm/accounts/{silent['id']}/appeler", {"number": "0472000000"})
        assert page.status == 422
        assert "Renseignez votre poste téléphonique" in text_of(page.text)
    finally:
        await other.close()


async def test_a_call_is_read_by_its_caller_only(platform: Platform, admin: Headers) -> None:
    await with_extension(platform, admin)
    company = await account(platform, admin, phone="04 72 00 00 09")
    status, placed, _ = await platform.call(
        "POST", f"/api/v1/accounts/{company['id']}/call", admin, json={}
    )
    assert status == 202
    status, progress, headers = await platform.call(
        "GET", f"/api/v1/calls/{placed['call_id']}", admin
    )
    assert (status, progress["status"], progress["to"]) == (200, "requested", "+33472000009")
    assert headers["Cache-Control"] == "no-store"
    username, password = f"curieux-{uuid.uuid4().hex[:6]}", "Curieux-mot-de-passe-1"
    await made(platform, admin, "/api/v1/users", {"username": username, "password": password})
    stranger = await platform.login(username, password)
    status, _, _ = await platform.call("GET", f"/api/v1/calls/{placed['call_id']}", stranger)
    assert status == 404
    status, _, _ = await platform.call("GET", f"/api/v1/calls/{'x' * 300}", admin)
    assert status == 404


def test_the_call_page_words_each_stage_in_french() -> None:
    now = datetime(2026, 11, 29, 21, 0, tzinfo=UTC)
    base = {"to": "+33142685300", "placed_at": "2026-11-29T20:59:58Z"}
    assert call_stage({**base, "status": "requested"}, now)["text"].startswith(
        "Appel en cours vers 01 42 68 53 00…"
    )
    ended = call_stage(
        {**base, "status": "ended", "answered_at": base["placed_at"], "duration_seconds": 125},
        now,
    )
    assert (ended["text"], ended["done"]) == ("Terminé (2 min 5 s)", True)
    missed = call_stage({**base, "status": "ended", "duration_seconds": 0}, now)
    assert missed["text"] == "Terminé : pas de réponse."
    quiet = call_stage({**base, "status": "ringing"}, datetime(2026, 11, 29, 21, 30, tzinfo=UTC))
    assert quiet["done"]
    assert "ne donne plus de nouvelles" in quiet["text"]
    assert [duration_fr(s) for s in (0, 59, 60, 3725)] == ["0 s", "59 s", "1 min", "1 h 2 min 5 s"]


def checked_choice(page_html: str) -> str | None:
    found = re.search(
        r'<input type="radio" name="choice"[^>]*value="([^"]*)"[^>]* checked', page_html
    )
    return found.group(1) if found else None


async def test_the_call_form_picks_the_accounts_number_and_keeps_the_choice_after_an_error(
    platform: Platform, admin: Headers, web: WebUser
) -> None:
    company = await account(platform, admin, name="Choix SA", phone="01 42 68 53 00")
    await made(
        platform,
        admin,
        "/api/v1/contacts",
        {"last_name": "Martin", "account_id": company["id"], "mobile": "06 12 34 56 78"},
    )
    form = await web.get(f"/crm/accounts/{company['id']}/appeler")
    assert checked_choice(form.text) == "+33142685300|"
    mobile = re.search(r'value="(\+33612345678\|[0-9a-f-]+)"', form.text)
    assert mobile
    # The user has no extension: the call is refused, and the form comes back as it was.
    username, password = f"choix-{uuid.uuid4().hex[:6]}", "Choix-mot-de-passe-1"
    await made(platform, admin, "/api/v1/users", {"username": username, "password": password})
    other = WebUser(platform.gateway)
    try:
        await other.sign_in(username, password)
        await other.get(f"/crm/accounts/{company['id']}/appeler")
        page = await other.post(
            f"/crm/accounts/{company['id']}/appeler", {"choice": mobile.group(1), "number": ""}
        )
        assert page.status == 422
        assert "Renseignez votre poste téléphonique" in text_of(page.text)
        assert checked_choice(page.text) == mobile.group(1)
        assert re.search(r'id="call-number" value=""', page.text)
        typed = await other.post(
            f"/crm/accounts/{company['id']}/appeler", {"number": "04 72 00 00 00"}
        )
        assert checked_choice(typed.text) is None
        assert 'id="call-number" value="04 72 00 00 00"' in typed.text
    finally:
        await other.close()


@pytest.fixture
async def silent_gateway(platform: Platform) -> AsyncIterator[str]:
    """A gateway of the same platform with no telephony server configured."""
    settings = platform.settings["gateway"]
    assert isinstance(settings, GatewaySettings)
    silent = settings.model_copy(update={"telephony_url": None, "telephony_adapter": None})
    assert silent.telephony is None
    server = TestServer(gateway_app(silent), host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("")).rstrip("/")
    await server.close()


async def test_without_a_telephony_server_clicktocall_is_not_offered(
    platform: Platform, admin: Headers, silent_gateway: str
) -> None:
    await with_extension(platform, admin)
    company = await account(platform, admin, name="Sans Téléphonie SA", phone="01 42 68 53 00")
    await made(
        platform,
        admin,
        "/api/v1/contacts",
        {"last_name": "Roux", "account_id": company["id"], "phone": "01 45 00 00 01"},
    )
    user = WebUser(silent_gateway)
    try:
        await user.sign_in()
        record = await user.get(f"/crm/accounts/{company['id']}")
        assert record.status == 200, record.text
        assert tools_of(record.text)["call"] is False
        menu = record.text.split('id="tools-menu"', 1)[1].split("</details>", 1)[0]
        assert "Aucun serveur de téléphonie n'est configuré." in text_of(menu)
        assert "call-button" not in record.text  # neither beside the phone nor in the tabs
        assert 'href="tel:+33142685300"' in record.text
        assert 'href="tel:+33145000001"' in record.text
        page = await user.get(f"/crm/accounts/{company['id']}/appeler")
        assert page.status == 200
        assert "Aucun serveur de téléphonie n'est configuré." in text_of(page.text)
        assert 'name="choice"' not in page.text
        assert 'id="call-number"' not in page.text
        before = len(platform.telephony.calls)
        posted = await user.post(f"/crm/accounts/{company['id']}/appeler", {"number": "0472000000"})
        assert posted.status == 503
        assert "Aucun serveur de téléphonie n'est configuré." in text_of(posted.text)
        assert len(platform.telephony.calls) == before
    finally:
        await user.close()

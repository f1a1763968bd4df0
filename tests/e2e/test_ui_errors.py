"""Pages that cannot be shown say why, in French, as pages (never the API's JSON, never
aiohttp's English)."""

from __future__ import annotations

import io

import aiohttp
from yarl import URL

from tests.platform import Platform
from tests.support import ADMIN_PASSWORD
from tests.ui_support import WebUser, text_of


async def test_an_upload_over_the_limit_is_refused_in_french_and_nothing_is_kept(
    platform: Platform, admin: dict[str, str]
) -> None:
    web = WebUser(platform.gateway)
    try:
        await web.sign_in()
        await web.get("/admin/modeles")
        form = aiohttp.FormData()
        form.add_field("csrf", web.csrf)
        form.add_field("name", "Trop gros")
        form.add_field(
            "file",
            io.BytesIO(b"x" * (7 * 1024 * 1024)),
            filename="gros.docx",
            content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        )
        page = await web.post("/admin/modeles", form)
        assert page.status == 413
        assert page.headers["Content-Type"].startswith("text/html")
        assert "taille maximale" in page.text
        assert "Maximum request body" not in page.text
        status, body, _ = await platform.call("GET", "/api/v1/templates", admin)
        assert status == 200
        assert all(item["name"] != "Trop gros" for item in body["items"])
    finally:
        await web.close()


async def test_an_unknown_address_is_a_french_page(platform: Platform) -> None:
    web = WebUser(platform.gateway)
    try:
        await web.sign_in()
        page = await web.get("/crm/accounts/00000000-0000-4000-8000-000000000000")
        assert page.status == 404
        assert page.headers["Content-Type"].startswith("text/html")
        assert "introuvable" in page.text.lower()
        page = await web.get("/nulle-part")
        assert page.status == 404
        assert "Cette adresse ne correspond à aucune page." in page.text
    finally:
        await web.close()


async def test_numbers_beyond_any_field_are_refused_next_to_the_field_not_with_an_error(
    platform: Platform,
) -> None:
    web = WebUser(platform.gateway)
    try:
        await web.sign_in()
        await web.get("/crm/accounts/nouveau")
        for employees in ("99999999999999999999", "9" * 5000):
            page = await web.post(
                "/crm/accounts/nouveau", {"name": "Trop grand", "employees": employees}
            )
            assert page.status == 422, page.status
            assert page.headers["Content-Type"].startswith("text/html")
            assert "Effectif" in page.text
    finally:
        await web.close()


async def test_a_nul_byte_or_too_many_fields_get_a_french_page(platform: Platform) -> None:
    web = WebUser(platform.gateway)
    try:
        await web.sign_in()
        page = await web.get("/crm/accounts?q=%00")
        assert page.status in (400, 422)
        assert page.headers["Content-Type"].startswith("text/html")
        await web.get("/crm/accounts/nouveau")
        fields = [("name", "Champs")] + [(f"f{i}", "x") for i in range(1200)]
        page = await web.post("/crm/accounts/nouveau", [("csrf", web.csrf), *fields])
        assert page.status == 413
        assert "trop de champs" in page.text
        assert "Maximum number" not in page.text
    finally:
        await web.close()


async def test_signing_in_again_ends_the_session_the_old_cookie_held(platform: Platform) -> None:
    web = WebUser(platform.gateway)
    try:
        await web.sign_in()
        old = web.http.cookie_jar.filter_cookies(URL(platform.gateway))["crm_session"].value
        page = await web.sign_in()
        assert page.status == 200
        new = web.http.cookie_jar.filter_cookies(URL(platform.gateway))["crm_session"].value
        assert new != old
        async with (
            aiohttp.ClientSession(cookies={"crm_session": old}) as replay,
            replay.get(platform.gateway + "/crm/accounts", allow_redirects=False) as r,
        ):
            assert r.status == 303
            assert r.headers["Location"].startswith("/connexion")
        assert (await web.get("/crm/accounts")).status == 200
    finally:
        await web.close()


async def test_a_sign_in_never_lands_on_an_event_stream(platform: Platform) -> None:
    web = WebUser(platform.gateway)
    try:
        await web.get("/connexion")
        target = "/crm/accounts/00000000-0000-4000-8000-000000000001/evenements?version=1"
        page = await web.post(
            "/connexion",
            {"username": "admin", "password": ADMIN_PASSWORD, "suite": target},
            allow_redirects=False,
        )
        assert page.status == 303
        assert page.headers["Location"] == "/crm/accounts/00000000-0000-4000-8000-000000000001"
    finally:
        await web.close()


async def test_nobody_puts_their_own_words_on_a_record_page(
    platform: Platform, admin: dict[str, str]
) -> None:
    """The copy's message names its original from the original's id, read through the API: a
    crafted link cannot make a trusted page say anything else."""
    status, account, _ = await platform.call(
        "POST", "/api/v1/accounts", admin, json={"name": "Original Sûr"}
    )
    assert status == 201
    web = WebUser(platform.gateway)
    try:
        await web.sign_in()
        page = await web.get(
            f"/crm/accounts/{account['id']}", params={"copie_de": "Appelez le 08 99 00 00 00"}
        )
        assert page.status == 200
        assert "08 99 00 00 00" not in page.text
        page = await web.get(f"/crm/accounts/{account['id']}", params={"copie_de": account["id"]})
        assert "Copie créée à partir de « Original Sûr »." in page.text
    finally:
        await web.close()


async def test_a_line_number_in_another_script_is_no_failure(platform: Platform) -> None:
    web = WebUser(platform.gateway)
    try:
        await web.sign_in()
        await web.get("/crm/quotes/nouveau")
        page = await web.post(
            "/crm/quotes/lignes", {"lines-remove": "²", "lines-0-description": "Audit"}
        )
        assert page.status < 500, page.text[:300]
    finally:
        await web.close()


async def test_a_step_of_another_kind_of_document_does_not_exist(platform: Platform) -> None:
    """An invoice is never "accepted" (the workflow's table, pages/documents.py ACTIONS)."""
    web = WebUser(platform.gateway)
    try:
        await web.sign_in()
        await web.get("/crm/invoices")
        page = await web.post("/crm/invoices/00000000-0000-4000-8000-000000000002/accepter", {})
        assert page.status == 404
        assert "Cette action n'existe pas pour cette fiche." in text_of(page)
    finally:
        await web.close()

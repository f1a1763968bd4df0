"""Quotes and invoices in the web interface over HTTP (WebUser): the lines editor's form (French
decimals, empty lines dropped, the API's refusal next to the line's input, a line more or less
without JavaScript, read-only lines once issued) and every workflow action (each offered only in
the status that allows it, a refusal shown in French, a read-only user offered none), with the
PDFs. tests/browser/test_documents.py does it in chromium."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.platform import Platform
from tests.ui_support import Page, WebUser, input_value, text_of

PASSWORD = "Un-mot-de-passe-solide-1"
PARIS = ZoneInfo("Europe/Paris")
Headers = dict[str, str]
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.fixture
async def web(platform: Platform) -> AsyncIterator[WebUser]:
    user = WebUser(platform.gateway)
    signed = await user.sign_in()
    assert signed.status == 200, signed.text[:500]
    yield user
    await user.close()


@pytest.fixture(scope="module")
async def customer(platform: Platform, admin: Headers) -> dict[str, Any]:
    status, created, _ = await platform.call(
        "POST", "/api/v1/accounts", admin, json={"name": f"Devis & Cie {uuid.uuid4().hex[:6]}"}
    )
    assert status == 201, created
    return created  # type: ignore[no-any-return]


async def read(platform: Platform, admin: Headers, path: str) -> dict[str, Any]:
    status, body, _ = await platform.call("GET", path, admin)
    assert status == 200, body
    return body  # type: ignore[no-any-return]


def actions(page: Page) -> set[str]:
    """The workflow actions the page offers: the last part of each action form's address."""
    return set(re.findall(r'<form method="post" action="/crm/\w+/[^/"]+/(\w+)"', page.text))


def quote_form(customer: dict[str, Any], **lines: str) -> dict[str, str]:
    return {"account_id": customer["id"], "valid_until": "", "notes": "", **lines}


FIRST_LINES = {
    "lines-0-description": "Audit de l'existant",
    "lines-0-quantity": "1",
    "lines-0-unit_price": "1 234,50",
    "lines-0-vat_rate": "20",
    "lines-0-discount_percent": "",
    "lines-1-description": "",  # an empty line: dropped
    "lines-1-quantity": "",
    "lines-1-unit_price": "",
    "lines-1-vat_rate": "20",
    "lines-1-discount_percent": "",
    "lines-2-description": "Formation",
    "lines-2-quantity": "2,5",
    "lines-2-unit_price": "10,10",
    "lines-2-vat_rate": "5.5",
    "lines-2-discount_percent": "10",
}


async def new_quote(web: WebUser, customer: dict[str, Any], lines: dict[str, str]) -> str:
    page = await web.post("/crm/quotes/nouveau", quote_form(customer, **lines))
    assert page.status == 200, text_of(page)[:800]
    found = re.search(rf"/crm/quotes/({UUID})", page.url)
    assert found, page.url
    return found.group(1)


async def test_a_quote_is_written_line_by_line_in_french_and_totalled_by_the_server(
    platform: Platform, admin: Headers, web: WebUser, customer: dict[str, Any]
) -> None:
    quote_id = await new_quote(web, customer, FIRST_LINES)
    quote = await read(platform, admin, f"/api/v1/quotes/{quote_id}")
    assert [(line["description"], line["net"]) for line in quote["lines"]] == [
        ("Audit de l'existant", "1234.50"),
        ("Formation", "22.73"),
    ]
    assert (quote["total_net"], quote["total_vat"], quote["total_gross"]) == (
        "1257.23",
        "248.15",
        "1505.38",
    )
    page = await web.get(f"/crm/quotes/{quote_id}")
    shown = text_of(page)
    # The stored lines in the editor (French decimals), the server's totals by rate.
    assert input_value(page.text, "lines-0-unit_price").replace("\u202f", " ") == "1 234,50"
    assert input_value(page.text, "lines-1-quantity") == "2,5"
    assert input_value(page.text, "lines-1-discount_percent") == "10"
    assert re.search(r'<option value="5.5" selected>', page.text)
    assert "Remise&nbsp;(%)" in page.text  # French spacing, never "Remise %" split or glued
    assert "Total HT 1 257,23 €" in shown
    assert "TVA 20 % sur 1 234,50 € 246,90 €" in shown
    assert "TVA 5,5 % sur 22,73 € 1,25 €" in shown
    assert "Total TTC 1 505,38 €" in shown
    # The totals the editor shows are not repeated as read-only fields of the form.
    assert 'id="f-total_net"' not in page.text
    # A draft quote offers only "envoyer" (and the PDF).
    assert actions(page) == {"envoyer"}
    assert f'href="/crm/quotes/{quote_id}/pdf"' in page.text


async def test_a_line_the_api_refuses_shows_its_message_next_to_its_input_all_input_kept(
    platform: Platform, admin: Headers, web: WebUser, customer: dict[str, Any]
) -> None:
    quote_id = await new_quote(web, customer, FIRST_LINES)
    before = await read(platform, admin, f"/api/v1/quotes/{quote_id}")
    edited = {
        "_version": str(before["version"]),
        **{k: v for k, v in FIRST_LINES.items() if not k.startswith("lines-1-")},
        "lines-2-quantity": "0",  # the second line sent: "lines.1.quantity" for the API
        "lines-2-vat_rate": "19,6",
    }
    page = await web.post(f"/crm/quotes/{quote_id}", quote_form(customer, **edited))
    assert page.status == 422, text_of(page)[:800]
    error = re.search(r'<span class="field-error" id="lines-1-quantity-error">([^<]+)<', page.text)
    assert error, page.text
    assert html.unescape(error.group(1)) == "Doit être strictement supérieur à 0."
    assert re.search(r'id="lines-1-quantity"[^>]*aria-invalid="true"', page.text)
    assert re.search(r'id="lines-1-vat_rate-error">Taux de TVA français attendu', page.text)
    assert '<option value="19.6" selected>19,6 % (taux non admis)</option>' in page.text
    # Every input kept as typed; the totals wait for a save.
    assert input_value(page.text, "lines-0-description") == "Audit de l'existant"
    assert input_value(page.text, "lines-1-description") == "Formation"
    assert input_value(page.text, "lines-1-quantity") == "0"
    assert "Totaux calculés à l'enregistrement." in text_of(page)
    after = await read(platform, admin, f"/api/v1/quotes/{quote_id}")
    assert after["version"] == before["version"]


async def test_without_javascript_a_line_is_added_or_removed_by_posting_the_form(
    platform: Platform, admin: Headers, web: WebUser, customer: dict[str, Any]
) -> None:
    quote_id = await new_quote(web, customer, FIRST_LINES)
    version = str((await read(platform, admin, f"/api/v1/quotes/{quote_id}"))["version"])
    typed = {
        "_version": version,
        "lines-0-description": "Audit de l'existant",
        "lines-0-quantity": "1",
        "lines-0-unit_price": "1 234,50",
        "lines-0-vat_rate": "20",
        "lines-3-description": "Formation modifiée",
        "lines-3-quantity": "3",
        "lines-3-unit_price": "10,10",
        "lines-3-vat_rate": "5.5",
        "lines-add": "1",
    }
    page = await web.post(f"/crm/quotes/{quote_id}/lignes", quote_form(customer, **typed))
    assert page.status == 200, text_of(page)[:800]
    # The lines as typed, renumbered, and an empty one more with the focus.
    assert input_value(page.text, "lines-1-description") == "Formation modifiée"
    assert input_value(page.text, "lines-2-description") == ""
    assert re.search(r'id="lines-2-description"[^>]*autofocus', page.text)
    assert 'id="lines-3-description"' not in page.text
    assert f'name="_version" value="{version}"' in page.text  # the save keeps its If-Match
    # Nothing was saved.
    stored = await read(platform, admin, f"/api/v1/quotes/{quote_id}")
    assert stored["lines"][1]["description"] == "Formation"
    # "Supprimer" on the first line.
    typed.pop("lines-add")
    page = await web.post(
        f"/crm/quotes/{quote_id}/lignes", quote_form(customer, **typed, **{"lines-remove": "0"})
    )
    assert page.status == 200
    assert input_value(page.text, "lines-0-description") == "Formation modifiée"
    assert 'id="lines-1-description"' not in page.text
    # A new quote's form too.
    page = await web.post("/crm/quotes/lignes", quote_form(customer, **{"lines-add": "1"}))
    assert page.status == 200
    assert 'id="lines-0-description"' in page.text
    assert 'action="/crm/quotes/nouveau"' in page.text
    # The address of that form, reloaded, leads back to the record.
    page = await web.get(f"/crm/quotes/{quote_id}/lignes")
    assert page.url.endswith(f"/crm/quotes/{quote_id}")


async def test_a_quote_goes_to_an_issued_invoice_paid_then_credited(
    platform: Platform, admin: Headers, web: WebUser, customer: dict[str, Any]
) -> None:
    quote_id = await new_quote(web, customer, FIRST_LINES)

    page = await web.post(f"/crm/quotes/{quote_id}/envoyer", {})
    assert page.status == 200
    assert page.url.endswith(f"/crm/quotes/{quote_id}?document=envoye")
    assert "Devis envoyé." in text_of(page)
    assert actions(page) == {"accepter", "refuser"}
    assert 'name="lines-0-quantity"' not in page.text  # a sent quote's lines are text
    assert "Seules les lignes d'un devis brouillon se modifient." in text_of(page)
    assert (await read(platform, admin, f"/api/v1/quotes/{quote_id}"))["status"] == "sent"

    # An action its status no longer allows: the API's 409, in French, and the way back.
    page = await web.post(f"/crm/quotes/{quote_id}/envoyer", {})
    assert page.status == 409
    assert "Un devis « Envoyé » ne peut pas passer à « Envoyé »." in text_of(page)
    assert f'href="/crm/quotes/{quote_id}#documents"' in page.text

    page = await web.post(f"/crm/quotes/{quote_id}/accepter", {})
    assert "Devis accepté" in text_of(page)
    assert actions(page) == {"facturer"}

    page = await web.post(f"/crm/quotes/{quote_id}/facturer", {})
    found = re.search(rf"/crm/invoices/({UUID})\?document=facture", page.url)
    assert found, page.url
    invoice_id = found.group(1)
    assert "Facture brouillon créée depuis le devis" in text_of(page)
    assert actions(page) == {"emettre"}
    assert 'name="lines-0-quantity"' in page.text  # a draft invoice's lines are editable
    invoice = await read(platform, admin, f"/api/v1/invoices/{invoice_id}")
    assert invoice["quote_id"] == quote_id
    assert invoice["total_gross"] == "1505.38"

    page = await web.post(f"/crm/invoices/{invoice_id}/emettre", {})
    assert "Facture émise" in text_of(page)
    invoice = await read(platform, admin, f"/api/v1/invoices/{invoice_id}")
    assert invoice["status"] == "issued"
    assert invoice["number"].startswith("FAC-")
    assert invoice["number"] in text_of(page)
    assert actions(page) == {"paiement", "avoir"}
    assert 'name="lines-0-quantity"' not in page.text
    assert "Les lignes d'une facture émise ne se modifient plus" in text_of(page)

    # A payment date in the future is refused in French; a past one is kept as that day.
    tomorrow = (datetime.now(PARIS).date() + timedelta(days=1)).isoformat()
    page = await web.post(f"/crm/invoices/{invoice_id}/paiement", {"paid_on": tomorrow})
    assert page.status == 422
    assert "La date de paiement ne peut pas être dans le futur." in text_of(page)
    page = await web.post(f"/crm/invoices/{invoice_id}/paiement", {"paid_on": "01/01/2000"})
    assert page.status == 422
    assert "précéder l'émission" in text_of(page)
    page = await web.post(f"/crm/invoices/{invoice_id}/paiement", {"paid_on": ""})
    assert "Paiement enregistré." in text_of(page)
    invoice = await read(platform, admin, f"/api/v1/invoices/{invoice_id}")
    assert invoice["status"] == "paid"
    paid_on = datetime.fromisoformat(invoice["paid_at"]).astimezone(PARIS).date()
    assert paid_on == datetime.now(PARIS).date()
    assert f"Payée le {paid_on.strftime('%d/%m/%Y')}" in text_of(page)
    facts = page.text.split('class="document-facts"', 1)[1].split("</dl>", 1)[0]
    paid_time = datetime.fromisoformat(invoice["paid_at"]).astimezone(PARIS).strftime("%H:%M")
    paid_fact = re.search(r"<dt>Payée le</dt><dd>([^<]*)</dd>", facts)
    assert paid_fact
    assert paid_fact.group(1) == f"{paid_on.strftime('%d/%m/%Y')} à {paid_time}"
    assert actions(page) == {"avoir"}

    page = await web.post(f"/crm/invoices/{invoice_id}/avoir", {})
    found = re.search(rf"/crm/invoices/({UUID})\?document=avoir", page.url)
    assert found, page.url
    note = await read(platform, admin, f"/api/v1/invoices/{found.group(1)}")
    assert note["kind"] == "credit_note"
    assert note["number"].startswith("AV-")
    assert note["total_gross"] == "-1505.38"
    assert note["credited_invoice_id"] == invoice_id
    shown = text_of(page)
    assert "Lignes de l'avoir" in shown
    assert "Les lignes d'un avoir émis ne se modifient plus." in shown
    assert "Avoir émis" in shown
    assert "Suivi de l'avoir" in shown
    assert "-1 505,38 €" in shown
    assert actions(page) == set()
    assert f'href="/crm/invoices/{invoice_id}"' in page.text
    page = await web.get(f"/crm/invoices/{invoice_id}")
    assert "Cette facture est annulée par un avoir." in text_of(page)
    assert actions(page) == set()

    # Each PDF downloads, named by its number.
    for path, name in (
        (
            f"/crm/quotes/{quote_id}/pdf",
            (await read(platform, admin, f"/api/v1/quotes/{quote_id}"))["number"],
        ),
        (f"/crm/invoices/{invoice_id}/pdf", invoice["number"]),
        (f"/crm/invoices/{note['id']}/pdf", note["number"]),
    ):
        async with web.http.get(web.base + path) as response:
            assert response.status == 200, path
            assert response.headers["Content-Type"] == "application/pdf"
            assert response.headers["Content-Disposition"] == f'attachment; filename="{name}.pdf"'
            assert (await response.read()).startswith(b"%PDF")


async def test_a_refused_quote_offers_nothing_more_and_an_empty_one_cannot_be_sent(
    platform: Platform, admin: Headers, web: WebUser, customer: dict[str, Any]
) -> None:
    empty_id = await new_quote(web, customer, {})
    page = await web.get(f"/crm/quotes/{empty_id}")
    assert re.search(
        r'<button type="submit" class="primary" disabled[^>]*>Envoyer le devis', page.text
    )
    assert "Ajoutez au moins une ligne" in text_of(page)
    page = await web.post(f"/crm/quotes/{empty_id}/envoyer", {})
    assert page.status == 422
    assert "au moins une ligne" in text_of(page)

    quote_id = await new_quote(web, customer, FIRST_LINES)
    await web.post(f"/crm/quotes/{quote_id}/envoyer", {})
    page = await web.post(f"/crm/quotes/{quote_id}/refuser", {})
    assert "Devis refusé." in text_of(page)
    assert actions(page) == set()
    page = await web.post(f"/crm/quotes/{quote_id}/facturer", {})
    assert page.status == 409
    assert "Seul un devis accepté peut être facturé." in text_of(page)


async def test_a_read_only_user_sees_the_status_and_the_pdf_but_no_action(
    platform: Platform, admin: Headers, web: WebUser, customer: dict[str, Any]
) -> None:
    quote_id = await new_quote(web, customer, FIRST_LINES)
    username = f"lecteur-{uuid.uuid4().hex[:8]}"
    body = {"username": username, "password": PASSWORD, "role": "readonly"}
    status, created, _ = await platform.call("POST", "/api/v1/users", admin, json=body)
    assert status == 201, created
    reader = WebUser(platform.gateway)
    try:
        await reader.sign_in(username, PASSWORD)
        page = await reader.get(f"/crm/quotes/{quote_id}")
        assert page.status == 200
        assert actions(page) == set()
        assert "Brouillon" in text_of(page)
        assert "Total TTC 1 505,38 €" in text_of(page)
        assert 'name="lines-0-quantity"' not in page.text
        assert f'href="/crm/quotes/{quote_id}/pdf"' in page.text
        page = await reader.post(f"/crm/quotes/{quote_id}/envoyer", {})
        assert page.status == 403
        assert (await read(platform, admin, f"/api/v1/quotes/{quote_id}"))["status"] == "draft"
        async with reader.http.get(f"{reader.base}/crm/quotes/{quote_id}/pdf") as response:
            assert response.status == 200
            assert (await response.read()).startswith(b"%PDF")
    finally:
        await reader.close()


async def test_other_records_show_no_document_actions_and_unknown_ones_are_not_found(
    platform: Platform, web: WebUser, customer: dict[str, Any]
) -> None:
    page = await web.get(f"/crm/accounts/{customer['id']}")
    assert page.status == 200
    assert 'id="documents"' not in page.text
    missing = str(uuid.uuid4())
    page = await web.post(f"/crm/invoices/{missing}/emettre", {})
    assert page.status == 404
    page = await web.get(f"/crm/quotes/{missing}/pdf")
    assert page.status == 404
    assert "Aucun" in text_of(page)
    page = await web.post("/crm/invoices/pas-un-id/avoir", {})
    assert page.status in (404, 422)
    assert "Traceback" not in page.text


async def test_an_expired_quote_says_so_and_offers_no_answer(
    platform: Platform, admin: Headers, web: WebUser, customer: dict[str, Any]
) -> None:
    yesterday = (datetime.now(PARIS).date() - timedelta(days=2)).isoformat()
    line = {"description": "Conseil", "quantity": "1", "unit_price": "100", "vat_rate": "20"}
    body = {"account_id": customer["id"], "lines": [line], "valid_until": yesterday}
    status, quote, _ = await platform.call("POST", "/api/v1/quotes", admin, json=body)
    assert status == 201, quote
    status, sent, _ = await platform.call("POST", f"/api/v1/quotes/{quote['id']}/send", admin)
    assert status == 200, sent
    assert sent["status"] == "expired"
    page = await web.get(f"/crm/quotes/{quote['id']}")
    shown = text_of(page)
    assert "Statut Expiré" in shown
    assert "il ne peut plus être accepté" in shown
    assert actions(page) == set()
    page = await web.post(f"/crm/quotes/{quote['id']}/accepter", {})
    assert page.status == 409
    assert "Un devis « Expiré » ne peut pas passer à « Accepté »." in text_of(page)

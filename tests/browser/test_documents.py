"""Quotes and invoices in chromium: a quote built line by line whose totals follow the input as it
is typed (exact cents, French formats), saved (the server's totals then shown), sent, accepted,
invoiced, the invoice issued, paid and cancelled by a credit note; each PDF downloaded; axe-core
on each screen, and a screenshot of each in .run/screenshots/."""

from __future__ import annotations

import re
import uuid

from playwright.async_api import Browser, Dialog, Locator, Page, expect

from tests.browser.conftest import AssertAccessible, Shot, sign_in
from tests.platform import Platform
from tests.support import ADMIN_PASSWORD

Headers = dict[str, str]


async def _accept(dialog: Dialog) -> None:
    await dialog.accept()


def spaced(text: str) -> str:
    """French typography (thin and no-break spaces) as the page writes it."""
    return text.replace(" €", "\u00a0€").replace(" %", "\u00a0%")


def money(text: str) -> str:
    """ "2 469,00 €" as the page writes it: a thin space between thousands, a no-break one
    before the sign."""
    whole, _, rest = text.partition(",")
    return whole.replace(" ", "\u202f") + "," + rest.replace(" ", "\u00a0")


async def fill_line(page: Page, n: int, values: dict[str, str]) -> None:
    """Types a line the way a person does, key by key (each key recomputes the totals)."""
    row = page.locator("[data-lines-body] > tr[data-line]").nth(n)
    for field, value in values.items():
        target = row.locator(f'[data-line-field="{field}"]')
        if field == "vat_rate":
            await target.select_option(value)
        else:
            await target.fill("")
            await target.press_sequentially(value)


async def download_pdf(page: Page, link: Locator) -> bytes:
    async with page.expect_download() as event:
        await link.click()
    download = await event.value
    path = await download.path()
    return path.read_bytes()


async def test_a_quote_built_line_by_line_to_a_paid_invoice_and_its_credit_note(
    page: Page, platform: Platform, admin: Headers, shot: Shot, assert_accessible: AssertAccessible
) -> None:
    status, account, _ = await platform.call(
        "POST", "/api/v1/accounts", admin, json={"name": f"Atelier Devis {uuid.uuid4().hex[:6]}"}
    )
    assert status == 201, account
    page.on("dialog", _accept)

    # A new quote of the account: one empty line to start with, totals at zero.
    await page.goto(f"/crm/quotes/nouveau?account_id={account['id']}")
    rows = page.locator("[data-lines-body] > tr[data-line]")
    await expect(rows).to_have_count(1)
    total_net = page.locator('[data-total="net"]')
    total_gross = page.locator('[data-total="gross"]')
    vat_rows = page.locator("[data-vat-rows] tr")

    await fill_line(page, 0, {"description": "Audit de l'existant", "quantity": "2"})
    await fill_line(page, 0, {"unit_price": "1 234,5"})
    # As typed: the line's net and the totals follow each key.
    await expect(rows.nth(0).locator("[data-line-net]")).to_have_text(money("2 469,00 €"))
    await expect(total_net).to_have_text(money("2 469,00 €"))
    await expect(vat_rows).to_have_count(1)
    await expect(vat_rows.nth(0)).to_contain_text(spaced("TVA 20 %"))
    await expect(total_gross).to_have_text(money("2 962,80 €"))

    # A second line, added in the page (the focus on its description), at 5,5 % with a discount.
    await page.get_by_role("button", name="Ajouter une ligne").click()
    await expect(rows).to_have_count(2)
    await expect(rows.nth(1).locator('[data-line-field="description"]')).to_be_focused()
    await fill_line(
        page,
        1,
        {
            "description": "Livres « techniques »",
            "quantity": "2,5",
            "unit_price": "10,10",
            "vat_rate": "5.5",
            "discount_percent": "10",
        },
    )
    # 2.5 × 10.10 × 0.9 = 22.725 → 22,73 (half up, no float drift: 22.724999...).
    await expect(rows.nth(1).locator("[data-line-net]")).to_have_text(money("22,73 €"))
    await expect(total_net).to_have_text(money("2 491,73 €"))
    await expect(vat_rows).to_have_count(2)
    await expect(vat_rows.nth(1)).to_contain_text(spaced("TVA 5,5 %"))
    await expect(vat_rows.nth(1).locator("td")).to_have_text(money("1,25 €"))
    await expect(total_gross).to_have_text(money("2 986,78 €"))

    # A third line, half typed, then removed: numbers and totals follow.
    await page.get_by_role("button", name="Ajouter une ligne").click()
    await fill_line(page, 2, {"description": "Erreur", "quantity": "abc"})
    await expect(rows.nth(2).locator("[data-line-net]")).to_have_text("—")
    await expect(page.locator("[data-totals-note]")).to_contain_text("Ligne 3 incomplète")
    await expect(total_net).to_have_text(money("2 491,73 €"))
    await shot(page, "devis-lignes-saisie")
    await assert_accessible(page, "devis-lignes-saisie")
    await page.get_by_role("button", name="Supprimer la ligne 3").click()
    await expect(rows).to_have_count(2)
    await expect(page.locator("[data-totals-note]")).not_to_contain_text("incomplète")

    # Saved: the server's totals, the same.
    await page.get_by_role("button", name="Enregistrer").first.click()
    await expect(page.locator("#documents")).to_be_visible()
    await expect(total_net).to_have_text(money("2 491,73 €"))
    await expect(total_gross).to_have_text(money("2 986,78 €"))
    await expect(page.locator("#documents")).to_contain_text("Brouillon")
    quote_url = page.url.split("?")[0]
    await assert_accessible(page, "devis-brouillon")

    # The PDF of the draft quote.
    pdf = await download_pdf(page, page.get_by_role("link", name="Télécharger le PDF"))
    assert pdf.startswith(b"%PDF")

    # Send it (confirmed), then accept it.
    await page.get_by_role("button", name="Envoyer le devis").click()
    await expect(page.get_by_role("status")).to_have_text("Devis envoyé.")
    await expect(page.locator("[data-lines-body]")).to_have_count(0)  # its lines are text now
    await expect(page.locator("#documents")).to_contain_text("Envoyé")
    await shot(page, "devis-envoye")
    await page.get_by_role("button", name="Accepter le devis").click()
    await expect(page.get_by_role("status")).to_contain_text("Devis accepté")
    await assert_accessible(page, "devis-accepte")

    # Invoiced: a draft invoice with the quote's lines and totals.
    await page.get_by_role("button", name="Facturer le devis").click()
    await expect(page).to_have_url(re.compile(r"/crm/invoices/[0-9a-f-]{36}\?document=facture"))
    invoice_url = page.url.split("?")[0]
    await expect(total_gross).to_have_text(money("2 986,78 €"))
    await expect(page.locator("[data-lines-body] > tr[data-line]")).to_have_count(2)
    await shot(page, "facture-brouillon")

    # Issued (confirmed): numbered, its lines read-only.
    await page.get_by_role("button", name="Émettre la facture").click()
    await expect(page.get_by_role("status")).to_contain_text("Facture émise")
    facts = page.locator(".document-facts")
    await expect(facts).to_contain_text("FAC-")
    await expect(page.locator("[data-lines-body]")).to_have_count(0)
    await assert_accessible(page, "facture-emise")
    invoice_pdf = await download_pdf(page, page.get_by_role("link", name="Télécharger le PDF"))
    assert invoice_pdf.startswith(b"%PDF")

    # Paid (today, the date left empty).
    await expect(page.get_by_label("Date du paiement")).to_be_visible()
    await page.get_by_role("button", name="Enregistrer le paiement").click()
    await expect(page.get_by_role("status")).to_have_text("Paiement enregistré.")
    await expect(facts).to_contain_text("Payée")
    await shot(page, "facture-payee")

    # Cancelled by a credit note (confirmed): the note, issued, of opposite amounts.
    await page.get_by_role("button", name="Annuler par un avoir").click()
    await expect(page.get_by_role("status")).to_contain_text("Avoir émis")
    assert page.url.split("?")[0] != invoice_url
    await expect(facts).to_contain_text("AV-")
    await expect(total_gross).to_have_text("-" + money("2 986,78 €"))
    await assert_accessible(page, "avoir")
    note_pdf = await download_pdf(page, page.get_by_role("link", name="Télécharger le PDF"))
    assert note_pdf.startswith(b"%PDF")
    await page.get_by_role("link", name="Voir la facture que cet avoir annule").click()
    await expect(page.locator("#documents")).to_contain_text("Annulée")
    await expect(page.locator("form.document-action")).to_have_count(0)
    await shot(page, "facture-annulee")

    # Back on the quote: accepted, nothing more to do but its PDF.
    await page.goto(quote_url)
    await expect(page.locator("#documents")).to_contain_text("Accepté")
    quote_pdf = await download_pdf(page, page.get_by_role("link", name="Télécharger le PDF"))
    assert quote_pdf.startswith(b"%PDF")


async def test_unsaved_changes_disable_the_actions_and_a_refusal_is_explained(
    page: Page, platform: Platform, admin: Headers, shot: Shot, assert_accessible: AssertAccessible
) -> None:
    status, account, _ = await platform.call(
        "POST", "/api/v1/accounts", admin, json={"name": f"Atelier Refus {uuid.uuid4().hex[:6]}"}
    )
    assert status == 201, account
    line = {"description": "Conseil", "quantity": "1", "unit_price": "100", "vat_rate": "20"}
    status, quote, _ = await platform.call(
        "POST", "/api/v1/quotes", admin, json={"account_id": account["id"], "lines": [line]}
    )
    assert status == 201, quote
    page.on("dialog", _accept)
    await page.goto(f"/crm/quotes/{quote['id']}")
    send = page.get_by_role("button", name="Envoyer le devis")
    await expect(send).to_be_enabled()
    await fill_line(page, 0, {"quantity": "3"})
    await expect(send).to_be_disabled()
    await expect(page.locator("[data-dirty-note]")).to_be_visible()
    await expect(page.locator('[data-total="gross"]')).to_have_text(money("360,00 €"))
    await shot(page, "devis-modifie-actions-desactivees")

    # A quantity the API refuses: its message next to the input, the input kept, the totals
    # computed in the page (the stored ones no longer match), the actions still disabled.
    await fill_line(page, 0, {"quantity": "0"})
    await page.get_by_role("button", name="Enregistrer").first.click()
    quantity = page.get_by_label("Quantité de la ligne 1")
    await expect(quantity).to_have_value("0")
    await expect(quantity).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#lines-0-quantity-error")).to_have_text(
        "Doit être strictement supérieur à 0."
    )
    await expect(page.locator('[data-total="gross"]')).to_have_text(money("0,00 €"))
    await expect(send).to_be_disabled()
    await assert_accessible(page, "devis-ligne-refusee")

    # Sent meanwhile by someone else: sending again is refused, in French, with the way back.
    await platform.call("POST", f"/api/v1/quotes/{quote['id']}/send", admin)
    await page.goto(f"/crm/quotes/{quote['id']}")
    await page.evaluate(
        "() => document.querySelector('form[action$=\"/accepter\"]')"
        ".setAttribute('action', location.pathname + '/envoyer')"
    )
    await page.get_by_role("button", name="Accepter le devis").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "Action impossible dans cet état"
    )
    await expect(page.get_by_role("alert")).to_contain_text(
        "Un devis « Envoyé » ne peut pas passer à « Envoyé »."
    )
    await assert_accessible(page, "devis-action-refusee")
    await page.get_by_role("link", name="Retour à la fiche").click()
    await expect(page.locator("#documents")).to_contain_text("Envoyé")


async def test_without_javascript_lines_are_added_removed_and_saved_by_posting_the_form(
    browser: Browser, platform: Platform, admin: Headers, shot: Shot
) -> None:
    status, account, _ = await platform.call(
        "POST", "/api/v1/accounts", admin, json={"name": f"Atelier Sans JS {uuid.uuid4().hex[:6]}"}
    )
    assert status == 201, account
    context = await browser.new_context(
        base_url=platform.gateway, locale="fr-FR", java_script_enabled=False
    )
    try:
        await sign_in(context, platform.gateway, "admin", ADMIN_PASSWORD)
        page = await context.new_page()
        await page.goto(f"/crm/quotes/nouveau?account_id={account['id']}")
        rows = page.locator("[data-lines-body] > tr[data-line]")
        await expect(rows).to_have_count(1)
        await page.get_by_label("Désignation de la ligne 1").fill("Maintenance annuelle")
        await page.get_by_label("Quantité de la ligne 1").fill("12")
        await page.get_by_label("Prix unitaire HT de la ligne 1, en euros").fill("99,90")
        await page.get_by_role("button", name="Ajouter une ligne").click()
        # The form again, as typed, with an empty line more that has the focus.
        await expect(rows).to_have_count(2)
        await expect(page.get_by_label("Désignation de la ligne 1")).to_have_value(
            "Maintenance annuelle"
        )
        await expect(page.get_by_label("Désignation de la ligne 2")).to_be_focused()
        await page.get_by_label("Désignation de la ligne 2").fill("Déplacement")
        await page.get_by_label("Quantité de la ligne 2").fill("1")
        await page.get_by_label("Prix unitaire HT de la ligne 2, en euros").fill("1 500")
        await page.get_by_label("Taux de TVA de la ligne 2").select_option("10")
        await page.get_by_role("button", name="Ajouter une ligne").click()
        await page.get_by_label("Désignation de la ligne 3").fill("À retirer")
        await page.get_by_role("button", name="Supprimer la ligne 3").click()
        await expect(rows).to_have_count(2)
        await shot(page, "devis-sans-javascript")
        await page.get_by_role("button", name="Enregistrer").first.click()
        await expect(page.get_by_role("status").first).to_have_text("Fiche enregistrée.")
        # 12 × 99,90 = 1 198,80 at 20 %; 1 500,00 at 10 %: the server's totals.
        await expect(page.locator('[data-total="net"]')).to_have_text(money("2 698,80 €"))
        await expect(page.locator('[data-total="gross"]')).to_have_text(money("3 088,56 €"))
    finally:
        await context.close()


async def test_at_1024_pixels_every_line_keeps_its_supprimer_button_reachable(
    page: Page, platform: Platform, admin: Headers, shot: Shot
) -> None:
    status, account, _ = await platform.call(
        "POST", "/api/v1/accounts", admin, json={"name": f"Écran Étroit {uuid.uuid4().hex[:6]}"}
    )
    assert status == 201, account
    line = {"description": "Prestation", "quantity": "1", "unit_price": "100", "vat_rate": "20"}
    body = {"account_id": account["id"], "lines": [line, {**line, "discount_percent": "5"}]}
    status, quote, _ = await platform.call("POST", "/api/v1/quotes", admin, json=body)
    assert status == 201, quote
    await page.set_viewport_size({"width": 1024, "height": 768})
    await page.goto(f"/crm/quotes/{quote['id']}")
    remove = page.locator("[data-line-remove]").first
    box = await remove.bounding_box()
    assert box is not None
    wrap = page.locator("#lines-editor .table-wrap")
    shown = await wrap.bounding_box()
    assert shown is not None
    # The whole table shows in its box: no hidden part to scroll to, the button not cut off.
    hidden = await wrap.evaluate("w => w.scrollWidth - w.clientWidth")
    assert hidden <= 0
    assert box["x"] + box["width"] <= shown["x"] + shown["width"]
    page_width = await page.evaluate("document.documentElement.scrollWidth")
    assert page_width <= 1024
    await expect(page.locator(".lines-table th", has_text="Remise")).to_have_text("Remise\u00a0(%)")
    await shot(page, "documents-quote-1024")

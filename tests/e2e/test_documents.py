"""Quotes, invoices, PDFs, Word mail merge and printing, through the gateway."""

from __future__ import annotations

import asyncio
import io
import re
import subprocess
import uuid
import zipfile
from datetime import UTC, date, datetime, timedelta
from typing import Any

import aiohttp
import docx
import orjson
import pytest
from multidict import CIMultiDictProxy

from services.common.french import PARIS
from tests.platform import Platform
from tests.support import eventually, word_template

Headers = dict[str, str]
YEAR = datetime.now(UTC).year
LINES = [
    {
        "description": "Audit de l'existant",
        "quantity": "1",
        "unit_price": "1234.5",
        "vat_rate": "20",
    },
    {
        "description": "Livres « techniques »",
        "quantity": "3",
        "unit_price": "0.125",
        "vat_rate": "5.5",
    },
    {
        "description": "Formation",
        "quantity": "2.5",
        "unit_price": "10.10",
        "vat_rate": "20",
        "discount_percent": "10",
    },
]


def pdf_text(content: bytes) -> str:
    assert content.startswith(b"%PDF")
    command = ["pdftotext", "-layout", "-", "-"]  # from poppler-utils (deploy/ensure-packages.sh)
    result = subprocess.run(command, input=content, capture_output=True, check=True)  # noqa: S603
    return " ".join(result.stdout.decode().replace("\u202f", " ").replace("\u00a0", " ").split())


async def made(platform: Platform, headers: Headers, path: str, body: Any) -> dict[str, Any]:
    status, response, _ = await platform.call("POST", path, headers, json=body)
    assert status in (200, 201), response
    return response  # type: ignore[no-any-return]


async def raw(
    platform: Platform, headers: Headers, path: str
) -> tuple[int, bytes, CIMultiDictProxy[str]]:
    async with platform.http.get(f"{platform.gateway}{path}", headers=headers) as response:
        return response.status, await response.read(), response.headers


@pytest.fixture(scope="module")
async def customer(platform: Platform, admin: Headers) -> dict[str, Any]:
    return await made(platform, admin, "/api/v1/accounts", {
        "name": "Éditions du Léman", "siren": "732829320", "vat_number": "FR44732829320",
        "address": {"street": "3 quai de Rive", "postal_code": "74200", "city": "Thonon-les-Bains"},
        "annual_revenue": "1234567.8", "phone": "04 50 00 00 00",
    })  # fmt: skip


async def test_a_quote_is_numbered_and_totalled(
    platform: Platform, admin: Headers, customer: dict[str, Any]
) -> None:
    quote = await made(
        platform, admin, "/api/v1/quotes", {"account_id": customer["id"], "lines": LINES}
    )
    assert quote["number"].startswith(f"DEV-{YEAR}-")
    assert len(quote["number"]) == len("DEV-2026-00001")
    assert (quote["total_net"], quote["total_vat"], quote["total_gross"]) == (
        "1257.61",
        "251.47",
        "1509.08",
    )
    assert quote["vat_breakdown"] == [
        {"rate": "20", "base": "1257.23", "vat": "251.45"},
        {"rate": "5.5", "base": "0.38", "vat": "0.02"},
    ]
    assert [line["net"] for line in quote["lines"]] == ["1234.50", "0.38", "22.73"]
    assert quote["status"] == "draft"


@pytest.mark.parametrize(
    ("line", "field"),
    [
        (
            {"description": "x", "quantity": "1", "unit_price": "10", "vat_rate": "19.6"},
            "lines.0.vat_rate",
        ),
        (
            {"description": " ", "quantity": "1", "unit_price": "10", "vat_rate": "20"},
            "lines.0.description",
        ),
        (
            {"description": "x", "quantity": "0", "unit_price": "10", "vat_rate": "20"},
            "lines.0.quantity",
        ),
        (
            {"description": "x", "quantity": "1", "unit_price": "dix", "vat_rate": "20"},
            "lines.0.unit_price",
        ),
        (
            {
                "description": "x",
                "quantity": "1",
                "unit_price": "10",
                "vat_rate": "20",
                "discount_percent": "120",
            },
            "lines.0.discount_percent",
        ),
    ],
)
async def test_bad_lines_are_named(
    platform: Platform, admin: Headers, customer: dict[str, Any], line: dict[str, str], field: str
) -> None:
    status, problem, _ = await platform.call(
        "POST", "/api/v1/quotes", admin, json={"account_id": customer["id"], "lines": [line]}
    )
    assert status == 422
    assert [e["field"] for e in problem["errors"]] == [field]


async def test_only_a_draft_changes_and_acceptance_wins_the_opportunity(
    platform: Platform, admin: Headers, customer: dict[str, Any]
) -> None:
    deal = await made(
        platform, admin, "/api/v1/opportunities", {"name": "Refonte", "account_id": customer["id"]}
    )
    quote = await made(
        platform,
        admin,
        "/api/v1/quotes",
        {"account_id": customer["id"], "opportunity_id": deal["id"], "lines": LINES[:1]},
    )
    path = f"/api/v1/quotes/{quote['id']}"
    assert (await platform.call("POST", f"{path}/accept", admin))[0] == 409  # not sent yet
    sent = await made(platform, admin, f"{path}/send", {})
    assert sent["status"] == "sent"
    status, _, _ = await platform.call("PATCH", path, admin, json={"notes": "trop tard"})
    assert status == 409
    assert (await platform.call("DELETE", path, admin))[0] == 409
    accepted = await made(platform, admin, f"{path}/accept", {})
    assert accepted["status"] == "accepted"
    assert (await platform.call("POST", f"{path}/refuse", admin))[0] == 409

    async def won() -> dict[str, Any] | None:
        _, body, _ = await platform.call("GET", f"/api/v1/opportunities/{deal['id']}", admin)
        return body if body["stage"] == "gagnee" else None

    opportunity = await eventually(won)
    assert opportunity["probability"] == 100
    assert opportunity["closed_at"] is not None


async def test_a_sent_quote_expires_after_its_validity_date(
    platform: Platform, admin: Headers, customer: dict[str, Any]
) -> None:
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    quote = await made(
        platform,
        admin,
        "/api/v1/quotes",
        {"account_id": customer["id"], "valid_until": yesterday, "lines": LINES[:1]},
    )
    sent = await made(platform, admin, f"/api/v1/quotes/{quote['id']}/send", {})
    assert sent["status"] == "expired"
    assert (await platform.call("POST", f"/api/v1/quotes/{quote['id']}/accept", admin))[0] == 409


async def test_quote_to_invoice_to_credit_note(
    platform: Platform, admin: Headers, customer: dict[str, Any]
) -> None:
    quote = await made(
        platform, admin, "/api/v1/quotes", {"account_id": customer["id"], "lines": LINES}
    )
    await made(platform, admin, f"/api/v1/quotes/{quote['id']}/send", {})
    await made(platform, admin, f"/api/v1/quotes/{quote['id']}/accept", {})
    invoice = await made(platform, admin, f"/api/v1/quotes/{quote['id']}/invoice", {})
    assert (invoice["status"], invoice["number"], invoice["quote_id"]) == (
        "draft",
        None,
        quote["id"],
    )
    assert invoice["lines"] == quote["lines"]  # copied...
    path = f"/api/v1/invoices/{invoice['id']}"
    status, edited, _ = await platform.call("PATCH", path, admin, json={"lines": LINES[:1]})
    assert status == 200
    _, unchanged, _ = await platform.call("GET", f"/api/v1/quotes/{quote['id']}", admin)
    assert len(unchanged["lines"]) == 3  # ...not shared
    issued = await made(platform, admin, f"{path}/issue", {})
    assert issued["number"].startswith(f"FAC-{YEAR}-")
    assert issued["status"] == "issued"
    assert (
        issued["due_date"]
        == (date.fromisoformat(issued["issue_date"]) + timedelta(days=30)).isoformat()
    )
    assert (await platform.call("PATCH", path, admin, json={"notes": "x"}))[0] == 409
    assert (await platform.call("DELETE", path, admin))[0] == 409
    assert (await platform.call("POST", f"{path}/issue", admin))[0] == 409
    paid = await made(platform, admin, f"{path}/pay", {"paid_at": "2026-11-29T10:00:00Z"})
    assert (paid["status"], paid["paid_at"]) == ("paid", "2026-11-29T10:00:00Z")
    note = await made(platform, admin, f"{path}/credit-note", {})
    assert note["number"].startswith(f"AV-{YEAR}-")
    assert (note["kind"], note["credited_invoice_id"], note["total_gross"]) == (
        "credit_note",
        invoice["id"],
        f"-{edited['total_gross']}",
    )
    _, cancelled, _ = await platform.call("GET", path, admin)
    assert cancelled["status"] == "cancelled"


async def test_concurrent_issuing_leaves_no_gap_and_no_duplicate(
    platform: Platform, admin: Headers, customer: dict[str, Any]
) -> None:
    drafts = [
        await made(
            platform, admin, "/api/v1/invoices", {"account_id": customer["id"], "lines": LINES[:1]}
        )
        for _ in range(8)
    ]
    results = await asyncio.gather(
        *(platform.call("POST", f"/api/v1/invoices/{d['id']}/issue", admin) for d in drafts)
    )
    assert [status for status, _, _ in results] == [200] * 8, [body for _, body, _ in results]
    numbers = sorted(body["number"] for status, body, _ in results if status == 200)
    assert len(numbers) == 8
    sequence = [int(n.rsplit("-", 1)[1]) for n in numbers]
    assert sequence == list(range(sequence[0], sequence[0] + 8))


async def test_pdfs_are_french_and_an_issued_invoice_keeps_its_pdf(
    platform: Platform, admin: Headers, customer: dict[str, Any]
) -> None:
    quote = await made(
        platform,
        admin,
        "/api/v1/quotes",
        {"account_id": customer["id"], "lines": LINES, "valid_until": "2026-12-31"},
    )
    status, content, headers = await raw(platform, admin, f"/api/v1/quotes/{quote['id']}/pdf")
    assert (status, headers["Content-Type"]) == (200, "application/pdf")
    text = pdf_text(content)
    for expected in (
        "Devis",
        quote["number"],
        "Éditions du Léman",
        "1 234,50 €",
        "1 509,08 €",
        "31/12/2026",
        "Livres « techniques »",
    ):
        assert expected in text, expected
    invoice = await made(
        platform, admin, "/api/v1/invoices", {"account_id": customer["id"], "lines": LINES}
    )
    issued = await made(platform, admin, f"/api/v1/invoices/{invoice['id']}/issue", {})
    _, first, _ = await raw(platform, admin, f"/api/v1/invoices/{invoice['id']}/pdf")
    text = pdf_text(first)
    issued_on = date.fromisoformat(issued["issue_date"]).strftime("%d/%m/%Y")
    for expected in (
        "Facture",
        issued["number"],
        issued_on,
        "1 509,08 €",
        "40 €",
        "Ma Société SAS",
        "TVA FR44732829320",
    ):
        assert expected in text, expected
    await made(platform, admin, f"/api/v1/invoices/{invoice['id']}/pay", {})
    _, second, _ = await raw(platform, admin, f"/api/v1/invoices/{invoice['id']}/pdf")
    assert second == first  # served unchanged, even once paid


async def upload(
    platform: Platform,
    headers: Headers,
    content: bytes,
    name: str = "Lettre",
    kind: str = "account",
) -> tuple[int, Any]:
    form = aiohttp.FormData()
    form.add_field("name", name)
    form.add_field("kind", kind)
    form.add_field(
        "file",
        content,
        filename="lettre.docx",
        content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    )
    async with platform.http.post(
        f"{platform.gateway}/api/v1/templates", data=form, headers=headers
    ) as response:
        return response.status, await response.json(content_type=None)


async def test_mail_merge_fills_a_word_template_with_the_account(
    platform: Platform, admin: Headers, customer: dict[str, Any]
) -> None:
    await made(
        platform,
        admin,
        "/api/v1/contacts",
        {"last_name": "Favre", "first_name": "Léa", "account_id": customer["id"]},
    )
    content = word_template(
        "Objet : {{ compte.name }} ({{ compte.siren }})",
        "Adresse : {{ compte.adresse }} — CA {{ compte.chiffre_affaires }}",
        "{% for c in contacts %}Contact : {{ c.first_name }} {{ c.last_name }}{% endfor %}",
        "Fait le {{ date }} par {{ utilisateur }}",
    )
    status, template = await upload(platform, admin, content)
    assert status == 201, template
    assert {"compte", "contacts", "date", "utilisateur"} <= set(template["variables"])
    status, listed, _ = await platform.call("GET", "/api/v1/templates", admin)
    assert template["id"] in [t["id"] for t in listed["items"]]

    async def merged() -> bytes | None:
        async with platform.http.post(
            f"{platform.gateway}/api/v1/accounts/{customer['id']}/mail-merge",
            json={"template_id": template["id"]},
            headers=admin,
        ) as response:
            body = await response.read()
            if response.status == 200 and b"Favre" in _docx_text(body).encode():
                assert response.headers["Content-Type"].startswith("application/vnd.openxmlformats")
                return body
            return None

    text = _docx_text(await eventually(merged))
    assert "Objet : Éditions du Léman (732829320)" in text
    assert "3 quai de Rive, 74200 Thonon-les-Bains" in text
    assert "CA 1\u202f234\u202f567,80\u00a0€" in text
    assert "Contact : Léa Favre" in text
    assert "par admin" in text
    assert (await platform.call("DELETE", f"/api/v1/templates/{template['id']}", admin))[0] == 204
    status, problem, _ = await platform.call(
        "POST",
        f"/api/v1/accounts/{customer['id']}/mail-merge",
        admin,
        json={"template_id": template["id"]},
    )
    assert (status, problem["errors"][0]["field"]) == (422, "template_id")


def _docx_text(content: bytes) -> str:
    return "\n".join(p.text for p in docx.Document(io.BytesIO(content)).paragraphs)


def zip_bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
        archive.writestr("word/padding.xml", b"\0" * (60 * 1024 * 1024))
    return out.getvalue()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"not a word document", "docx"),
        (zip_bomb(), "bombe"),
        (word_template("Bonjour {{ compte.name "), "syntaxe"),
        (word_template("{% for x in %}"), "syntaxe"),
    ],
)
async def test_a_bad_template_is_refused_with_its_reason(
    platform: Platform, admin: Headers, content: bytes, reason: str
) -> None:
    status, problem = await upload(platform, admin, content)
    assert status == 422
    assert problem["errors"][0]["field"] == "file"
    assert reason in problem["detail"]


async def test_a_template_name_with_a_nul_character_is_named(
    platform: Platform, admin: Headers
) -> None:
    status, problem = await upload(platform, admin, word_template("Bonjour"), name="Let\x00tre")
    assert status == 422, problem
    assert [e["field"] for e in problem["errors"]] == ["name"]


async def merge_account(
    platform: Platform, headers: Headers, account_id: str, body: dict[str, Any]
) -> tuple[int, bytes, Any]:
    async with platform.http.post(
        f"{platform.gateway}/api/v1/accounts/{account_id}/mail-merge", json=body, headers=headers
    ) as response:
        return response.status, await response.read(), response.headers


@pytest.mark.parametrize(
    "payload",
    [
        "{{ compte.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{{ ''.__class__.__base__.__subclasses__() }}",
        "{{ compte.name.__class__ }}",
    ],
)
async def test_template_injection_renders_nothing_and_says_why(
    platform: Platform, admin: Headers, customer: dict[str, Any], payload: str
) -> None:
    status, template = await upload(platform, admin, word_template("Bonjour", payload))
    assert status == 201, template
    status, body, _ = await merge_account(
        platform, admin, customer["id"], {"template_id": template["id"]}
    )
    assert status == 422
    problem = orjson.loads(body)
    assert problem["errors"][0]["field"] == "file"
    assert "interdits" in problem["detail"] or "interdits" in problem["errors"][0]["message"]


async def test_a_missing_value_merges_as_nothing_never_none(
    platform: Platform, admin: Headers
) -> None:
    account = await made(platform, admin, "/api/v1/accounts", {"name": "Sans téléphone SARL"})
    await made(
        platform,
        admin,
        "/api/v1/contacts",
        {"last_name": "Girard", "first_name": "Paul", "account_id": account["id"]},
    )
    status, template = await upload(platform, admin, word_template(
        "{% for c in contacts %}Contact : {{ c.last_name }} [{{ c.phone }}]{% endfor %}",
        "Compte : [{{ compte.phone }}] [{{ compte.address.city }}] [{{ compte.siren }}]",
    ))  # fmt: skip
    assert status == 201, template

    async def merged() -> str | None:
        status, body, _ = await merge_account(
            platform, admin, account["id"], {"template_id": template["id"]}
        )
        text = _docx_text(body) if status == 200 else ""
        return text if "Girard" in text else None

    text = await eventually(merged)
    assert "Contact : Girard []" in text
    assert "Compte : [] [] []" in text
    assert "None" not in text


async def test_values_are_escaped_for_word_and_seller_owner_are_available(
    platform: Platform, admin: Headers
) -> None:
    tricky = await made(
        platform, admin, "/api/v1/accounts", {"name": 'Dupont & Fils <SARL> "le bon"'}
    )
    status, template = await upload(
        platform, admin, word_template("{{ compte.name }} | {{ responsable }} | {{ vendeur.name }}")
    )
    assert status == 201

    async def merged() -> bytes | None:
        status, body, _ = await merge_account(
            platform, admin, tricky["id"], {"template_id": template["id"]}
        )
        return body if status == 200 else None

    text = _docx_text(await eventually(merged))
    assert text == 'Dupont & Fils <SARL> "le bon" | admin | Ma Société SAS'


async def test_bulk_merge_gives_one_document_per_account_in_a_zip(
    platform: Platform, admin: Headers
) -> None:
    tag = "pub" + uuid.uuid4().hex[:6]
    accounts = [
        await made(
            platform, admin, "/api/v1/accounts", {"name": f"{name} {tag}", "account_type": "client"}
        )
        for name in ("Alpha", "Bêta", "Gamma")
    ]
    status, template = await upload(platform, admin, word_template("Cher {{ compte.name }}"))
    assert status == 201

    async def bulk(body: dict[str, Any]) -> tuple[int, bytes]:
        async with platform.http.post(
            f"{platform.gateway}/api/v1/mail-merge", json=body, headers=admin
        ) as response:
            return response.status, await response.read()

    async def by_ids() -> bytes | None:
        status, content = await bulk(
            {"template_id": template["id"], "account_ids": [a["id"] for a in accounts]}
        )
        return content if status == 200 else None

    archive = zipfile.ZipFile(io.BytesIO(await eventually(by_ids)))
    texts = sorted(_docx_text(archive.read(name)) for name in archive.namelist())
    assert texts == [f"Cher Alpha {tag}", f"Cher Bêta {tag}", f"Cher Gamma {tag}"]
    status, content = await bulk(
        {"template_id": template["id"], "filters": {"q": tag, "account_type": "client"}}
    )
    assert status == 200
    assert len(zipfile.ZipFile(io.BytesIO(content)).namelist()) == 3
    status, content = await bulk(
        {"template_id": template["id"], "account_ids": [accounts[0]["id"], str(uuid.uuid4())]}
    )
    assert status == 422
    assert [e["field"] for e in orjson.loads(content)["errors"]] == ["account_ids.1"]
    status, content = await bulk(
        {"template_id": template["id"], "filters": {"q": "aucun-compte-ne-porte-ce-nom"}}
    )
    assert status == 422


async def test_a_merged_document_can_be_had_as_pdf(
    platform: Platform, admin: Headers, customer: dict[str, Any]
) -> None:
    status, template = await upload(platform, admin, word_template("Objet : {{ compte.name }}"))
    assert status == 201
    status, body, headers = await merge_account(
        platform, admin, customer["id"], {"template_id": template["id"], "format": "pdf"}
    )
    assert (status, headers["Content-Type"]) == (200, "application/pdf")
    assert "Objet : Éditions du Léman" in pdf_text(body)


async def test_any_record_prints_to_pdf_with_its_system_tab_and_tabs(
    platform: Platform, admin: Headers, customer: dict[str, Any]
) -> None:
    await made(
        platform,
        admin,
        "/api/v1/actions",
        {"type": "note", "subject": "Réunion de lancement", "account_id": customer["id"]},
    )
    status, content, headers = await raw(
        platform, admin, f"/api/v1/accounts/{customer['id']}/print"
    )
    assert (status, headers["Content-Type"]) == (200, "application/pdf")
    text = pdf_text(content)
    for expected in ("Compte : Éditions du Léman", "Raison sociale", "3 quai de Rive, 74200 Thonon-les-Bains", "1 234 567,80 €",
                     "Système", "Créée par admin", "Contacts", "Actions", "Réunion de lancement", "Devis", "Factures"):  # fmt: skip
        assert expected in text, expected
    deal = await made(
        platform,
        admin,
        "/api/v1/opportunities",
        {"name": "Imprimable", "account_id": customer["id"], "amount": "999.5"},
    )
    status, content, _ = await raw(platform, admin, f"/api/v1/opportunities/{deal['id']}/print")
    assert status == 200
    assert "999,50 €" in pdf_text(content)
    # Printed as the screen shows it: labels of list codes, phone numbers, Paris time, French name.
    bakery = await made(platform, admin, "/api/v1/accounts", {
        "name": "Boulangerie Dupont et Fils", "account_type": "client", "industry": "C",
        "phone": "+33142685300",
    })  # fmt: skip
    await made(platform, admin, "/api/v1/actions",
               {"type": "call", "subject": "Appel de relance", "account_id": bakery["id"]})  # fmt: skip
    await made(platform, admin, "/api/v1/opportunities",
               {"name": "Fournil neuf", "account_id": bakery["id"], "amount": "10", "stage": "gagnee"})  # fmt: skip
    before = datetime.now(UTC).astimezone(PARIS)
    status, content, headers = await raw(platform, admin, f"/api/v1/accounts/{bakery['id']}/print")
    after = datetime.now(UTC).astimezone(PARIS)
    assert status == 200
    assert 'filename="compte-Boulangerie-Dupont-et-Fils.pdf"' in headers["Content-Disposition"]
    text = pdf_text(content)
    for expected in ("Type de compte Client", "Secteur d'activité Industrie manufacturière",
                     "01 42 68 53 00", "Appel Appel de relance", "Fournil neuf Gagnée"):  # fmt: skip
        assert expected in text, expected
    for code in ("Type de compte client", "+33142685300", " call ", "gagnee", "UTC"):
        assert code not in text, code
    stamp = re.search(r"Imprimé le (\d\d/\d\d/\d{4}) à (\d\d:\d\d)\.", text)
    assert stamp is not None, text
    shown = datetime.strptime(" ".join(stamp.groups()), "%d/%m/%Y %H:%M").replace(tzinfo=PARIS)
    assert before.replace(second=0, microsecond=0) <= shown <= after
    assert (
        await raw(platform, admin, "/api/v1/accounts/00000000-0000-4000-8000-000000000000/print")
    )[0] == 404
    # Only what a service declares with a print layout prints (a quote has its own PDF).
    for collection in ("quotes", "nothing"):
        path = f"/api/v1/{collection}/00000000-0000-4000-8000-000000000000/print"
        assert (await raw(platform, admin, path))[0] == 404, collection


async def test_documents_changes_are_audited(
    platform: Platform, admin: Headers, customer: dict[str, Any]
) -> None:
    quote = await made(
        platform, admin, "/api/v1/quotes", {"account_id": customer["id"], "lines": LINES[:1]}
    )
    await made(platform, admin, f"/api/v1/quotes/{quote['id']}/send", {})

    async def trail() -> list[str] | None:
        status, entries, _ = await platform.call(
            "GET", f"/api/v1/quotes/{quote['id']}/audit", admin
        )
        actions = [e["action"] for e in entries] if status == 200 else []
        return actions if len(actions) == 2 else None

    assert await eventually(trail) == ["sent", "created"]


# Active content: refused at upload, and again in every merged document.

EXTERNAL_LINK = (
    b'<Relationship Id="rId99" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    b'relationships/hyperlink" Target="http://tracker.example/pixel.png" TargetMode="External"/>'
)


def edited(content: bytes, run: bytes, link: bool = False) -> bytes:
    """``content`` (made by word_template("Bonjour")) whose run is ``run``; with ``link``, its
    relationships hold rId99, an external hyperlink to tracker.example."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "word/document.xml":
                assert b"<w:r><w:t>Bonjour</w:t></w:r>" in data
                data = data.replace(b"<w:r><w:t>Bonjour</w:t></w:r>", run)
            elif item.filename == "word/_rels/document.xml.rels" and link:
                data = data.replace(b"</Relationships>", EXTERNAL_LINK + b"</Relationships>")
            target.writestr(item, data)
    return out.getvalue()


@pytest.mark.parametrize(
    ("run", "field"),
    [
        (  # the security tester's template
            b"<w:r><w:instrText> {{ 'INCL' ~ 'UDETEXT' }} \"/tmp/pt/canary.txt\" </w:instrText>"
            b"</w:r>",
            "INCLUDETEXT",
        ),
        (
            b"<w:r><w:instrText>{{ 'INCL' ~ 'UDEPICTURE' }} \"http://tracker.example/p.png\" \\d"
            b"</w:instrText></w:r>",
            "INCLUDEPICTURE",
        ),
        (
            b"<w:fldSimple w:instr=\"{{ 'INCL' ~ 'UDETEXT' }} &quot;\\\\attacker\\share\\x&quot;\"/>",
            "INCLUDETEXT",
        ),
    ],
)
async def test_a_field_the_template_builds_is_refused_at_merge_never_delivered(
    platform: Platform, admin: Headers, customer: dict[str, Any], run: bytes, field: str
) -> None:
    status, template = await upload(platform, admin, edited(word_template("Bonjour"), run))
    assert status == 201, template  # the field only exists once rendered

    async def answered() -> tuple[int, bytes] | None:
        status, body, _ = await merge_account(
            platform, admin, customer["id"], {"template_id": template["id"]}
        )
        return None if status == 404 else (status, body)  # 404: not replicated yet

    async def bulk(output: str) -> tuple[int, bytes]:
        async with platform.http.post(
            f"{platform.gateway}/api/v1/mail-merge",
            json={"template_id": template["id"], "account_ids": [customer["id"]], "format": output},
            headers=admin,
        ) as response:
            return response.status, await response.read()

    pdf = await merge_account(
        platform, admin, customer["id"], {"template_id": template["id"], "format": "pdf"}
    )
    for status, body in (
        await eventually(answered),
        pdf[:2],
        await bulk("docx"),
        await bulk("pdf"),
    ):
        assert status == 422, body[:200]
        assert not body.startswith(b"PK")  # no document, no zip
        problem = orjson.loads(body)
        assert [e["field"] for e in problem["errors"]] == ["file"]
        assert f"Le document produit contiendrait un champ {field}" in problem["detail"]


async def test_a_picture_fetched_through_a_hyperlink_relationship_is_refused_at_upload(
    platform: Platform, admin: Headers
) -> None:
    blip = (
        b'<w:r><w:drawing><a:blip xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/'
        b'main" r:link="rId99"/></w:drawing></w:r>'
    )
    status, problem = await upload(platform, admin, edited(word_template("Bonjour"), blip, True))
    assert status == 422, problem
    assert [e["field"] for e in problem["errors"]] == ["file"]
    assert "http://tracker.example/pixel.png" in problem["detail"]
    assert "a:blip/@link" in problem["detail"]


async def test_a_template_with_a_hyperlink_is_accepted_and_merged(
    platform: Platform, admin: Headers, customer: dict[str, Any]
) -> None:
    link = (
        b'<w:hyperlink r:id="rId99"><w:r><w:t>Site de {{ compte.name }}</w:t></w:r></w:hyperlink>'
    )
    status, template = await upload(platform, admin, edited(word_template("Bonjour"), link, True))
    assert status == 201, template

    async def merged() -> bytes | None:
        status, body, _ = await merge_account(
            platform, admin, customer["id"], {"template_id": template["id"]}
        )
        return body if status == 200 else None

    document = docx.Document(io.BytesIO(await eventually(merged)))
    assert document.paragraphs[0].hyperlinks[0].address == "http://tracker.example/pixel.png"
    assert document.paragraphs[0].hyperlinks[0].text == "Site de Éditions du Léman"


async def test_the_variables_a_template_may_use_are_served_and_each_is_filled_when_merged(
    platform: Platform, admin: Headers, user: Headers, customer: dict[str, Any]
) -> None:
    """GET /api/v1/templates/variables (any signed-in role; /api/v1/templates/{id} does not
    take it): a template writing every variable it names gets a value for each."""
    status, served, _ = await platform.call("GET", "/api/v1/templates/variables", user)
    assert status == 200, served
    assert served["names"] == [
        "compte", "account", "contacts", "responsable", "vendeur", "date", "utilisateur"
    ]  # fmt: skip
    assert [g["record"] for g in served["groups"] if g.get("record")] == [
        {"entity": "account", "prefix": "compte"},
        {"entity": "contact", "prefix": "c"},
    ]
    status, entities, _ = await platform.call("GET", "/api/v1/meta/entities", user)
    assert {"account", "contact"} <= {entity["name"] for entity in entities["items"]}
    variables = {v["name"]: v["description"] for g in served["groups"] for v in g["variables"]}
    assert {"compte.adresse", "compte.chiffre_affaires", "vendeur.siren", "vendeur.iban",
            "responsable", "date", "utilisateur", "c.created_at"} <= set(variables)  # fmt: skip
    assert "à la française" in variables["compte.chiffre_affaires"]
    assert (await platform.call("GET", "/api/v1/templates/variables", {}))[0] == 401
    status, _, headers = await platform.call("DELETE", "/api/v1/templates/variables", admin)
    assert (status, headers.get("Allow")) == (405, "GET,HEAD")
    status, document, _ = await platform.call("GET", "/api/v1/openapi.json", {})
    assert "/api/v1/templates/variables" in document["paths"]

    await made(
        platform,
        admin,
        "/api/v1/contacts",
        {"last_name": "Vocabulaire", "account_id": customer["id"]},
    )
    account = [n for n in variables if not n.startswith("c.")]
    contact = [n for n in variables if n.startswith("c.")]
    content = word_template(
        *(f"{name}=[{{{{ {name} }}}}]" for name in account),
        "{% for c in contacts %}"
        + "".join(f"{name}=[{{{{ {name} }}}}]" for name in contact)
        + "{% endfor %}",
    )
    status, template = await upload(platform, admin, content)
    assert status == 201, template
    assert set(template["variables"]) <= set(served["names"])

    async def merged() -> str | None:  # once the replica has the contact
        async with platform.http.post(
            f"{platform.gateway}/api/v1/accounts/{customer['id']}/mail-merge",
            json={"template_id": template["id"]},
            headers=admin,
        ) as response:
            body = await response.read()
        text = _docx_text(body) if response.status == 200 else ""
        return text if "c.created_at" in text else None

    text = await eventually(merged)
    # Every variable has a value (the seller's SIREN, VAT number and IBAN are not set here).
    unset = ("vendeur.siren", "vendeur.vat_number", "vendeur.iban")
    empty = [name for name in variables if f"{name}=[]" in text and name not in unset]
    assert empty == [], text
    assert "vendeur.name=[Ma Société SAS]" in text
    assert "utilisateur=[admin]" in text

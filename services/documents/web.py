"""HTTP routes of the documents service."""

from __future__ import annotations

import logging
import re
import unicodedata
from typing import Any

from aiohttp import web

from services.common import crud
from services.common.records import etag, parse_record_id
from services.common.runtime import POOL_KEY
from services.common.validation import validate
from services.common.views import account_view_handler
from services.common.web import identity_of, json_response, read_body, read_json

from . import mailmerge, printing, service, templates
from .schemas import Payment, PrintRequest
from .settings import DocumentsSettings

SETTINGS_KEY = web.AppKey("documents_settings", DocumentsSettings)
WORKERS_KEY = web.AppKey("documents_workers", mailmerge.Workers)
routes = web.RouteTableDef()
VOCABULARY = mailmerge.vocabulary()
log = logging.getLogger(__name__)


def _source(request: web.Request) -> str:
    return request.app[SETTINGS_KEY].source


def _one(record: dict[str, Any], collection: str, status: int = 200) -> web.Response:
    headers = {"ETag": etag(record["version"])}
    if status == 201:
        headers["Location"] = f"/api/v1/{collection}/{record['id']}"
    return json_response(record, status=status, headers=headers)


def _pdf(content: bytes, filename: str) -> web.Response:
    return web.Response(
        body=content,
        content_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{_safe(filename)}.pdf"'},
    )


def _safe(name: str) -> str:
    """A file name any browser and file system keeps: ASCII (accents dropped, "Léman" ->
    "Leman"), words joined by dashes."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9._-]+", "-", folded).strip("-")[:80] or "document"


SPECS = {"quotes": service.QUOTES, "invoices": service.INVOICES}


@routes.post("/api/v1/quotes/{id}/{action:send|accept|refuse}")
async def move_quote(request: web.Request) -> web.Response:
    record = await service.move_quote(
        request.app[POOL_KEY],
        _source(request),
        identity_of(request),
        request.match_info["id"],
        request.match_info["action"],
    )
    return _one(record, "quotes")


@routes.post("/api/v1/quotes/{id}/invoice")
async def invoice_quote(request: web.Request) -> web.Response:
    record = await service.invoice_from_quote(
        request.app[POOL_KEY], _source(request), identity_of(request), request.match_info["id"]
    )
    return _one(record, "invoices", 201)


async def _render_invoice(conn: Any, doc: dict[str, Any]) -> bytes:
    return await printing.commercial_pdf(conn, doc, doc["seller"], invoice=True)


@routes.post("/api/v1/invoices/{id}/issue")
async def issue_invoice(request: web.Request) -> web.Response:
    record = await service.issue_invoice(
        request.app[POOL_KEY],
        _source(request),
        identity_of(request),
        request.match_info["id"],
        request.app[SETTINGS_KEY].seller(),
        _render_invoice,
    )
    return _one(record, "invoices")


@routes.post("/api/v1/invoices/{id}/pay")
async def pay_invoice(request: web.Request) -> web.Response:
    body = await read_body(request, Payment) if request.can_read_body else Payment()
    record = await service.pay_invoice(
        request.app[POOL_KEY],
        _source(request),
        identity_of(request),
        request.match_info["id"],
        body.paid_at,
    )
    return _one(record, "invoices")


@routes.post("/api/v1/invoices/{id}/credit-note")
async def credit_note(request: web.Request) -> web.Response:
    record = await service.credit_note(
        request.app[POOL_KEY],
        _source(request),
        identity_of(request),
        request.match_info["id"],
        request.app[SETTINGS_KEY].seller(),
        _render_invoice,
    )
    return _one(record, "invoices", 201)


@routes.get("/api/v1/quotes/{id}/pdf")
async def quote_pdf(request: web.Request) -> web.Response:
    pool = request.app[POOL_KEY]
    quote = await crud.get(pool, service.QUOTES, request.match_info["id"])
    async with pool.acquire() as conn:
        content = await printing.commercial_pdf(
            conn, quote, request.app[SETTINGS_KEY].seller(), invoice=False
        )
    return _pdf(content, quote["number"])


@routes.get("/api/v1/invoices/{id}/pdf")
async def invoice_pdf(request: web.Request) -> web.Response:
    """An issued invoice's PDF is the one stored when it was issued, byte for byte."""
    pool = request.app[POOL_KEY]
    invoice, stored = await service.stored_pdf(pool, request.match_info["id"])
    if stored is not None:
        return _pdf(stored, invoice["number"])
    async with pool.acquire() as conn:
        content = await printing.commercial_pdf(
            conn, invoice, request.app[SETTINGS_KEY].seller(), invoice=True
        )
    return _pdf(content, f"facture-brouillon-{invoice['id']}")


# Templates and mail merge


@routes.post("/api/v1/templates")
async def upload_template(request: web.Request) -> web.Response:
    record = await templates.upload(
        request, request.app[POOL_KEY], _source(request), request.app[SETTINGS_KEY]
    )
    return _one(record, "templates", 201)


@routes.get("/api/v1/templates")
async def list_templates(request: web.Request) -> web.Response:
    return json_response(
        await crud.list_records(request.app[POOL_KEY], templates.TEMPLATES, request.query)
    )


@routes.get("/api/v1/templates/variables")
async def template_variables(_request: web.Request) -> web.Response:
    """The variables a template may use (any signed-in user)."""
    return json_response(VOCABULARY)


# A template's id: anything but "variables", whose path answers only GET (and whose OPTIONS
# names only GET: /api/v1/templates/{id} would add DELETE).
TEMPLATE_ID = "/api/v1/templates/{id:(?!variables$)[^/]+}"


@routes.get(TEMPLATE_ID)
async def get_template(request: web.Request) -> web.Response:
    return _one(
        await crud.get(request.app[POOL_KEY], templates.TEMPLATES, request.match_info["id"]),
        "templates",
    )


@routes.delete(TEMPLATE_ID)
async def delete_template(request: web.Request) -> web.Response:
    await crud.trash(
        request.app[POOL_KEY],
        templates.TEMPLATES,
        _source(request),
        identity_of(request),
        request.match_info["id"],
        request.headers.get("If-Match"),
    )
    return web.Response(status=204)


@routes.post("/api/v1/accounts/{id}/mail-merge")
async def mail_merge(request: web.Request) -> web.Response:
    body = validate(mailmerge.MergeOne, await read_json(request))
    account_id = parse_record_id(request.match_info["id"], "fiche compte")
    filename, content_type, content = await mailmerge.merge_one(
        request.app[POOL_KEY],
        identity_of(request),
        request.app[SETTINGS_KEY].seller(),
        account_id,
        body,
        _workers(request),
    )
    return web.Response(
        body=content,
        content_type=content_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@routes.post("/api/v1/mail-merge")
async def bulk_mail_merge(request: web.Request) -> web.Response:
    body = validate(mailmerge.MergeMany, await read_json(request))

    def client_gone() -> bool:
        return request.transport is None or request.transport.is_closing()

    try:
        content = await mailmerge.merge_many(
            request.app[POOL_KEY],
            identity_of(request),
            request.app[SETTINGS_KEY].seller(),
            body,
            _workers(request),
            client_gone,
        )
    except mailmerge.ClientGone:
        log.info("bulk merge of %d accounts stopped: its client went away", len(body.account_ids))
        return web.Response(status=499, reason="Client Closed Request")
    return web.Response(
        body=content,
        content_type="application/zip",
        headers={"Content-Disposition": 'attachment; filename="publipostage.zip"'},
    )


def _workers(request: web.Request) -> mailmerge.Workers:
    return request.app[WORKERS_KEY]


# Printing any record (Imprimer), composed by the gateway


@routes.post("/api/v1/print")
async def print_record(request: web.Request) -> web.Response:
    """Internal: the gateway gathers the record and its tabs; this lays them out as a PDF."""
    body = await read_body(request, PrintRequest)
    content = await printing.record_pdf(body)
    return _pdf(content, printing.record_filename(body))


# The documents service's part of the gateway's 360° view (internal)
routes.get("/api/v1/views/accounts/{id}")(account_view_handler(service.account_view))

"""Quotes and invoices: the lines editor's form and the documents' workflow.

The lines editor (templates/partials/lines.html) names its inputs ``lines-<n>-<field>``;
``lines_from_form`` turns them back into the ``lines`` of the JSON body the record page saves
(French decimals accepted, empty lines dropped). The workflow (templates/partials/
document_actions.html) posts to the routes below, each one API action: send, accept or refuse a
quote, invoice an accepted quote, issue an invoice, record its payment, cancel it by a credit
note, and download either PDF. The API decides what a status allows; a refusal (409, 422) is
shown in French with the way back to the record.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote as url_quote

from aiohttp import web
from multidict import MultiDictProxy

from ..client import Answer, ApiError, api
from ..render import PARIS, date_fr, page
from ..session import require_writer

routes = web.RouteTableDef()

# Read-only fields the lines editor shows itself (with totals that follow the input).
SHOWN_BY_LINES: tuple[str, ...] = ("total_net", "total_vat", "total_gross", "vat_breakdown")

DEFAULT_VAT_RATE = "20"  # the select's first choice, for a form that sends none
LINE_FIELDS = ("description", "quantity", "unit_price", "vat_rate", "discount_percent")
NUMERIC_FIELDS = ("quantity", "unit_price", "discount_percent")
MAX_LINES = 500  # the API's limit; a form posting more is cut here (the API would refuse it)
LINE_INPUT = re.compile(r"^lines-(\d{1,4})-([a-z_]+)$")
SPACES = re.compile(r"[\s\u00a0\u202f\u2009']+")


# -- The lines of the form -------------------------------------------------------------------


def french_decimal(text: str) -> str | None:
    """ "1 234,50" (or "1234.50", "1.234,5", "20 %", "12 €") → "1234.50"; None when it is no
    number. The last of "," and "." is the decimal separator; spaces group thousands."""
    cleaned = SPACES.sub("", text).removesuffix("€").removesuffix("%")
    if not cleaned:
        return None
    comma, dot = cleaned.rfind(","), cleaned.rfind(".")
    if comma >= 0 and dot >= 0:
        decimal_mark = "," if comma > dot else "."
        grouping = "." if decimal_mark == "," else ","
        cleaned = cleaned.replace(grouping, "").replace(decimal_mark, ".")
    elif comma >= 0:
        if cleaned.count(",") > 1:
            return None
        cleaned = cleaned.replace(",", ".")
    elif cleaned.count(".") > 1:
        cleaned = cleaned.replace(".", "")  # 1.234.567: thousands
    if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", cleaned):
        return None
    try:
        number = Decimal(cleaned)
    except InvalidOperation:
        return None
    return f"{number:f}"


def _posted_lines(form: MultiDictProxy[Any]) -> dict[int, dict[str, str]]:
    found: dict[int, dict[str, str]] = {}
    for key, value in form.items():
        matched = LINE_INPUT.match(key)
        if matched is None or matched.group(2) not in LINE_FIELDS or not isinstance(value, str):
            continue
        found.setdefault(int(matched.group(1)), {})[matched.group(2)] = value
    return found


def lines_from_form(form: MultiDictProxy[Any]) -> list[dict[str, Any]]:
    """The ``lines`` of a quote or an invoice from the posted form, in the order of their
    numbers: each ``{description, quantity, unit_price, vat_rate, discount_percent?}`` with
    decimals as the API reads them ("1234.50"). A line left empty is dropped; a value that is
    no number is passed as typed, for the API to refuse next to its input; a missing quantity
    or price is left out, for the API to say it is required."""
    lines: list[dict[str, Any]] = []
    for _, posted in sorted(_posted_lines(form).items()):
        typed = {name: posted.get(name, "").strip() for name in LINE_FIELDS}
        if not any(typed[name] for name in ("description", *NUMERIC_FIELDS)):
            continue
        line: dict[str, Any] = {"description": typed["description"]}
        for name in NUMERIC_FIELDS:
            if typed[name]:
                line[name] = french_decimal(typed[name]) or typed[name]
        rate = french_decimal(typed["vat_rate"]) if typed["vat_rate"] else None
        line["vat_rate"] = rate if rate is not None else typed["vat_rate"] or DEFAULT_VAT_RATE
        lines.append(line)
        if len(lines) > MAX_LINES:
            break  # one more than the API takes: it refuses them with its limit in French
    return lines


# -- The workflow ----------------------------------------------------------------------------

# (collection, page action) → (API verb, confirmation code, where the answer leads: None for
# the record itself, else the collection of the record the API made: an invoice, a credit note)
ACTIONS: dict[tuple[str, str], tuple[str, str, str | None]] = {
    ("quotes", "envoyer"): ("send", "envoye", None),
    ("quotes", "accepter"): ("accept", "accepte", None),
    ("quotes", "refuser"): ("refuse", "refuse", None),
    ("quotes", "facturer"): ("invoice", "facture", "invoices"),
    ("invoices", "emettre"): ("issue", "emise", None),
    ("invoices", "avoir"): ("credit-note", "avoir", "invoices"),
}
REFUSAL_TITLES = {
    409: "Action impossible dans cet état",
    412: "Fiche modifiée entre-temps",
    422: "Action refusée",
}


def _record_path(collection: str, record_id: str) -> str:
    return f"/crm/{collection}/{url_quote(record_id, safe='')}"


def _api_path(collection: str, record_id: str, verb: str = "") -> str:
    path = f"/api/v1/{collection}/{url_quote(record_id, safe='')}"
    return f"{path}/{verb}" if verb else path


def _done(collection: str, record_id: str, code: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"{_record_path(collection, record_id)}?document={code}#documents")


def _refused(request: web.Request, answer: Answer, back: str) -> web.Response:
    """The API said no: its French reason, and the way back to the record."""
    if answer.status not in REFUSAL_TITLES:
        raise ApiError(answer)  # 403, 404, 503...: the common error page
    reasons = [error.message for error in answer.field_errors if error.message]
    detail = " ".join(reasons) if reasons else answer.detail
    return page(
        request,
        "documents/refused.html",
        status=answer.status,
        title=REFUSAL_TITLES[answer.status],
        detail=detail or "La demande n'a pas abouti.",
        back=back,
    )


def _record_id(request: web.Request) -> str:
    return request.match_info["id"]


@routes.post(
    r"/crm/{collection:quotes|invoices}/{id}/{action:envoyer|accepter|refuser|facturer|emettre|avoir}"
)
async def document_action(request: web.Request) -> web.StreamResponse:
    """A step of the workflow (ACTIONS): the API's answer, then the record it leads to."""
    require_writer(request)
    collection, record_id = request.match_info["collection"], _record_id(request)
    step = ACTIONS.get((collection, request.match_info["action"]))
    if step is None:  # an invoice cannot be "accepted"
        raise web.HTTPNotFound(text="Cette action n'existe pas pour cette fiche.")
    verb, code, made = step
    answer = await api(request).call("POST", _api_path(collection, record_id, verb))
    if not answer.ok:
        return _refused(request, answer, _record_path(collection, record_id))
    if made is None:
        raise _done(collection, record_id, code)
    raise _done(made, str(answer.json()["id"]), code)


def payment_time(typed: str, today: date, issued: date | None) -> tuple[datetime | None, str]:
    """The payment time the API is sent for a date typed in the form (AAAA-MM-JJ from a date
    input, or JJ/MM/AAAA typed by hand): None for today (the API takes the present moment),
    else noon in Paris that day. The second item is a French reason when the date is refused."""
    text = typed.strip()
    if not text:
        return None, ""
    day: date | None = None
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            day = datetime.strptime(text, pattern).date()
            break
        except ValueError:
            continue
    if day is None:
        return None, "Date de paiement attendue au format JJ/MM/AAAA."
    if day > today:
        return None, "La date de paiement ne peut pas être dans le futur."
    if issued is not None and day < issued:
        return None, f"La date de paiement ne peut pas précéder l'émission ({date_fr(issued)})."
    if day == today:
        return None, ""
    return datetime.combine(day, time(12, 0), PARIS), ""


@routes.post("/crm/invoices/{id}/paiement")
async def pay_invoice(request: web.Request) -> web.StreamResponse:
    require_writer(request)
    invoice_id = _record_id(request)
    back = _record_path("invoices", invoice_id)
    form = await request.post()
    typed = form.get("paid_on", "")
    client = api(request)
    base = _api_path("invoices", invoice_id)
    invoice = await client.get(base)
    issued = invoice.get("issue_date")
    paid_at, reason = payment_time(
        typed if isinstance(typed, str) else "",
        datetime.now(PARIS).date(),
        date.fromisoformat(issued) if isinstance(issued, str) else None,
    )
    if reason:
        return page(
            request,
            "documents/refused.html",
            status=422,
            title="Date de paiement refusée",
            detail=reason,
            back=back,
        )
    body = {"paid_at": paid_at.isoformat()} if paid_at is not None else {}
    answer = await client.call("POST", f"{base}/pay", json=body)
    if not answer.ok:
        return _refused(request, answer, back)
    raise _done("invoices", invoice_id, "payee")


@routes.post("/crm/invoices/{id}/avoir")
async def credit_note(request: web.Request) -> web.StreamResponse:
    require_writer(request)
    invoice_id = _record_id(request)
    answer = await api(request).call("POST", _api_path("invoices", invoice_id, "credit-note"))
    if not answer.ok:
        return _refused(request, answer, _record_path("invoices", invoice_id))
    raise _done("invoices", str(answer.json()["id"]), "avoir")


@routes.get("/crm/{collection:quotes|invoices}/{id}/pdf")
async def document_pdf(request: web.Request) -> web.StreamResponse:
    """The quote's or the invoice's PDF, downloaded (an issued invoice's is the one frozen
    when it was issued)."""
    collection, record_id = request.match_info["collection"], _record_id(request)
    answer = await api(request).call(
        "GET",
        _api_path(collection, record_id, "pdf"),
        headers={"Accept": "application/pdf"},
    )
    if not answer.ok:
        raise ApiError(answer)
    filename = _pdf_name(answer.headers.get("Content-Disposition", ""), collection)
    return web.Response(
        body=answer.body,
        content_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


def _pdf_name(disposition: str, collection: str) -> str:
    found = re.search(r'filename="([A-Za-z0-9._-]+)"', disposition)
    if found:
        return found.group(1)
    return "devis.pdf" if collection == "quotes" else "facture.pdf"


# -- Adding and removing a line without JavaScript -------------------------------------------


def typed_lines(form: MultiDictProxy[Any], remove: int | None) -> list[dict[str, Any]]:
    """The lines the form showed, as typed (decimals read where they can be), less the one
    whose "Supprimer" was pressed (by its number in the form) and the empty ones."""
    shown: list[dict[str, Any]] = []
    for number, posted in sorted(_posted_lines(form).items()):
        if number == remove:
            continue
        line: dict[str, Any] = {}
        for name in LINE_FIELDS:
            typed = posted.get(name, "").strip()
            if name in (*NUMERIC_FIELDS, "vat_rate") and typed:
                typed = french_decimal(typed) or typed
            if typed:
                line[name] = typed
        if any(line.get(name) for name in ("description", *NUMERIC_FIELDS)):
            shown.append(line)
        if len(shown) >= MAX_LINES:
            break
    return shown


@routes.post(r"/crm/{collection:quotes|invoices}/lignes")
@routes.post(r"/crm/{collection:quotes|invoices}/{id}/lignes")
async def edit_lines(request: web.Request) -> web.StreamResponse:
    """The form again, as typed, with an empty line more ("Ajouter une ligne") or one less
    ("Supprimer"): what those buttons do when JavaScript does not do it in the page."""
    from . import records  # records imports this module for the form's lines

    entity = records.record_entity(request, request.match_info["collection"])
    form = await request.post()
    _, values, _ = records.parse_form(entity, form)
    removed = str(form.get("lines-remove", ""))
    lines = typed_lines(form, int(removed) if re.fullmatch(r"[0-9]{1,4}", removed) else None)
    if "lines-add" in form or not lines:
        lines.append({"added": True})
    values["lines"] = lines
    if "id" not in request.match_info:
        return await records.show(request, entity, None, values)
    rid = records.record_id(request)
    record, view = await records.load(request, entity, rid)
    version = str(form.get("_version", "")).strip()
    return await records.show(request, entity, record, values, view=view, version=version)


@routes.get(r"/crm/{collection:quotes|invoices}/lignes")
@routes.get(r"/crm/{collection:quotes|invoices}/{id}/lignes")
async def lines_address(request: web.Request) -> web.StreamResponse:
    """The address of a form shown again (reloaded, bookmarked): back to the record."""
    collection = request.match_info["collection"]
    if "id" in request.match_info:
        raise web.HTTPSeeOther(_record_path(collection, request.match_info["id"]))
    raise web.HTTPSeeOther(f"/crm/{collection}/nouveau")

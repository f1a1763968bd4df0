"""Use cases of documents: quotes and invoices (numbering, statuses, PDFs), templates and
mail merge, and printing a record."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg

from services.common import crud
from services.common.entities import Entity
from services.common.errors import Conflict, FieldError, NotFound, ValidationFailed
from services.common.identity import Identity
from services.common.outbox import record_change
from services.common.records import parse_record_id
from services.common.replica import check_account_and_contact, find_reference, uuid_filter

from . import domain, entities
from .entities import INVOICE, QUOTE, LineIn

SELECT_NEXT_NUMBER = """
INSERT INTO number_sequences (kind, year, last) VALUES ($1, $2, 1)
ON CONFLICT (kind, year) DO UPDATE SET last = number_sequences.last + 1
RETURNING last
"""


def today() -> date:
    return datetime.now(UTC).date()


async def next_number(conn: asyncpg.Connection, prefix: str, on: date) -> str:
    """The next number of an unbroken yearly sequence (the row stays locked until commit)."""
    sequence = await conn.fetchval(SELECT_NEXT_NUMBER, prefix, on.year)
    return domain.document_number(prefix, on.year, sequence)


def stored_lines(lines: list[domain.Line]) -> list[dict[str, str]]:
    """Lines as kept in JSON: decimals as strings, with each line's net amount."""
    return [
        {
            "description": line.description,
            "quantity": str(line.quantity),
            "unit_price": str(line.unit_price),
            "vat_rate": str(line.vat_rate),
            "discount_percent": str(line.discount_percent),
            "net": str(line.net),
        }
        for line in lines
    ]


def derive_totals(values: dict[str, Any], _old: Mapping[str, Any] | None) -> dict[str, Any]:
    lines = [
        domain.Line(
            line.description, line.quantity, line.unit_price, line.vat_rate, line.discount_percent
        )
        for line in (
            LineIn.model_validate(item) if isinstance(item, dict) else item
            for item in values["lines"]
        )
    ]
    return {"lines": stored_lines(lines), **domain.totals(lines).as_record()}


async def check_parties(
    conn: asyncpg.Connection,
    values: dict[str, Any],
    old: Mapping[str, Any] | None,
    _identity: Identity,
) -> list[FieldError]:
    """The account, contact and opportunity exist and belong together (the replica's view)."""
    errors = await check_account_and_contact(conn, values, old)
    if values.get("opportunity_id") is not None and (
        old is None or values["opportunity_id"] != old.get("opportunity_id")
    ):
        deal = await find_reference(conn, "opportunity", values["opportunity_id"])
        if deal is None or deal.deleted:
            errors.append(FieldError("opportunity_id", "Aucune affaire ne porte cet identifiant."))
        elif deal.record.get("account_id") != str(values["account_id"]):
            errors.append(
                FieldError("opportunity_id", "Cette affaire appartient à un autre compte.")
            )
    return errors


async def number_quote(conn: asyncpg.Connection, _values: dict[str, Any]) -> dict[str, Any]:
    """A quote is numbered when it is created: DEV-<year>-<5 digits>."""
    return {"number": await next_number(conn, domain.QUOTE_PREFIX, today())}


def shape_quote(record: dict[str, Any]) -> dict[str, Any]:
    record["status"] = domain.quote_status(record["status"], record["valid_until"], today())
    return record


TOTALS = tuple(field.name for field in entities.TOTALS)


def connection_filters(entity: Entity) -> dict[str, tuple[str, crud.FilterParser]]:
    """The list filters of ``entity``: each names a connection, ``?account_id=<uuid>``."""
    return {f.name: (f"{f.name} =", uuid_filter) for f in entity.filters}


QUOTES = crud.spec_for(
    QUOTE,
    "quotes",
    derived=TOTALS,
    filters=connection_filters(QUOTE),
    check=check_parties,
    derive=derive_totals,
    shape=shape_quote,
    prepare=number_quote,
)
INVOICES = crud.spec_for(
    INVOICE,
    "invoices",
    derived=TOTALS,
    filters=connection_filters(INVOICE),
    check=check_parties,
    derive=derive_totals,
)


async def move_quote(
    pool: asyncpg.Pool, source: str, identity: Identity, quote_id: str, action: str
) -> dict[str, Any]:
    """send (draft -> sent), accept or refuse (sent -> accepted | refused; not once expired)."""
    allowed, target = domain.QUOTE_TRANSITIONS[action]
    async with pool.acquire() as conn, conn.transaction():
        row = await crud.lock(conn, QUOTES, quote_id)
        status = domain.quote_status(row["status"], row["valid_until"], today())
        if status not in allowed:
            said = dict(domain.QUOTE_STATUSES)
            raise Conflict(f"Un devis « {said[status]} » ne peut pas passer à « {said[target]} ».")
        if action == "send" and not row["lines"]:
            raise ValidationFailed([FieldError("lines", "Un devis envoyé a au moins une ligne.")])
        now = datetime.now(UTC)
        sets = {"status": target, "sent_at" if action == "send" else "decided_at": now}
        return await crud.apply_change(conn, QUOTES, source, identity, row, target, sets)


async def invoice_from_quote(
    pool: asyncpg.Pool, source: str, identity: Identity, quote_id: str
) -> dict[str, Any]:
    quote = await crud.get(pool, QUOTES, quote_id)
    if quote["status"] != "accepted":
        raise Conflict("Seul un devis accepté peut être facturé.")
    data = {
        "account_id": crud.as_json(quote["account_id"]),
        "contact_id": crud.as_json(quote["contact_id"]),
        "lines": [{k: v for k, v in line.items() if k != "net"} for line in quote["lines"]],
        "notes": f"Selon notre devis {quote['number']}.",
    }
    return await crud.create(
        pool,
        INVOICES,
        source,
        identity,
        data,
        extra={"quote_id": quote["id"]},
        context={"from_quote": quote["number"]},
    )


async def issue_invoice(
    pool: asyncpg.Pool,
    source: str,
    identity: Identity,
    invoice_id: str,
    seller: dict[str, str],
    render: Any,
) -> dict[str, Any]:
    """Number the draft in the year's unbroken sequence, freeze it, and keep its PDF."""
    async with pool.acquire() as conn, conn.transaction():
        row = await crud.lock(conn, INVOICES, invoice_id)
        if row["status"] != "draft":
            raise Conflict("Cette facture est déjà émise.")
        if not row["lines"]:
            raise ValidationFailed([FieldError("lines", "Une facture émise a au moins une ligne.")])
        issued_on = today()
        prefix = (
            domain.CREDIT_NOTE_PREFIX if row["kind"] == "credit_note" else domain.INVOICE_PREFIX
        )
        number = await next_number(conn, prefix, issued_on)
        due = row["due_date"] or issued_on + timedelta(days=domain.DEFAULT_PAYMENT_DAYS)
        preview = {
            **INVOICES.record(row),
            "number": number,
            "issue_date": issued_on,
            "due_date": due,
            "status": "issued",
            "seller": seller,
        }
        pdf = await render(conn, preview)
        sets = {
            "number": number,
            "status": "issued",
            "issue_date": issued_on,
            "due_date": due,
            "seller": seller,
            "pdf": pdf,
        }
        return await crud.apply_change(conn, INVOICES, source, identity, row, "issued", sets)


async def pay_invoice(
    pool: asyncpg.Pool, source: str, identity: Identity, invoice_id: str, paid_at: datetime | None
) -> dict[str, Any]:
    async with pool.acquire() as conn, conn.transaction():
        row = await crud.lock(conn, INVOICES, invoice_id)
        if row["status"] != "issued" or row["kind"] != "invoice":
            raise Conflict("Seule une facture émise et non réglée peut être payée.")
        return await crud.apply_change(
            conn,
            INVOICES,
            source,
            identity,
            row,
            "paid",
            {"status": "paid", "paid_at": paid_at or datetime.now(UTC)},
        )


async def credit_note(
    pool: asyncpg.Pool,
    source: str,
    identity: Identity,
    invoice_id: str,
    seller: dict[str, str],
    render: Any,
) -> dict[str, Any]:
    """Cancel an issued invoice by an issued credit note (AV-...) of the opposite amounts."""
    async with pool.acquire() as conn, conn.transaction():
        row = await crud.lock(conn, INVOICES, invoice_id)
        if row["kind"] != "invoice" or row["status"] not in ("issued", "paid"):
            raise Conflict("Seule une facture émise peut être annulée par un avoir.")
        lines = [
            domain.Line(
                line["description"],
                Decimal(line["quantity"]),
                -Decimal(line["unit_price"]),
                Decimal(line["vat_rate"]),
                Decimal(line["discount_percent"]),
            )
            for line in row["lines"]
        ]
        totals = domain.totals(lines).as_record()
        note_id = uuid.uuid4()
        note = await conn.fetchrow(
            "INSERT INTO invoices (id, kind, account_id, contact_id, credited_invoice_id, lines, "
            "total_net, total_vat, total_gross, vat_breakdown, notes, created_by, updated_by) "
            "VALUES ($1, 'credit_note', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) "
            f"RETURNING {INVOICES.columns}",
            note_id,
            row["account_id"],
            row["contact_id"],
            row["id"],
            stored_lines(lines),
            totals["total_net"],
            totals["total_vat"],
            totals["total_gross"],
            totals["vat_breakdown"],
            f"Avoir annulant la facture {row['number']}.",
            identity.username,
        )
        await record_change(
            conn,
            source=source,
            entity="invoice",
            change="created",
            record=INVOICES.record(note),
            actor=identity.username,
            context={"credits": row["number"]},
        )
        await crud.apply_change(
            conn, INVOICES, source, identity, row, "cancelled", {"status": "cancelled"}
        )
    return await issue_invoice(pool, source, identity, str(note_id), seller, render)


async def stored_pdf(pool: asyncpg.Pool, invoice_id: str) -> tuple[dict[str, Any], bytes | None]:
    row = await pool.fetchrow(
        f"SELECT {INVOICES.columns}, pdf FROM invoices WHERE id = $1 AND deleted_at IS NULL",
        parse_record_id(invoice_id, "fiche facture"),
    )
    if row is None:
        raise NotFound("Aucune facture ne porte cet identifiant.")
    return INVOICES.record(row), row["pdf"]


async def account_view(
    conn: asyncpg.Connection, account_id: uuid.UUID, per_tab: int
) -> dict[str, Any]:
    """The documents service's part of the 360° view: quotes and invoices, each as its
    declaration's tab says (the field naming the account, the order)."""
    sections: dict[str, Any] = {}
    for entity, spec in ((QUOTE, QUOTES), (INVOICE, INVOICES)):
        if entity.tab is not None:
            sections[entity.collection] = await crud.section(
                conn, spec, entity.tab.link, account_id, per_tab, entity.tab.sort
            )
    return sections

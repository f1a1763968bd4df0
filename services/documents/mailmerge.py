"""Fusionner: accounts merged into a Word template, one at a time or in bulk (a zip)."""

from __future__ import annotations

import asyncio
import io
import re
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import asyncpg
from pydantic import BaseModel, ConfigDict, Field

from services.common.errors import FieldError, NotFound, ValidationFailed
from services.common.identity import Identity
from services.common.replica import find_reference, find_references

from . import templates
from .converter import Converters
from .domain import french_date, money
from .renderer import Renderer

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
MAX_BULK = 500
Format = Literal["docx", "pdf"]

SELECT_CONTACTS = """
SELECT record FROM record_refs
WHERE entity = 'contact' AND NOT deleted AND record->>'account_id' = $1 ORDER BY label
"""


class MergeOne(BaseModel):
    model_config = ConfigDict(extra="forbid")

    template_id: uuid.UUID
    format: Format = "docx"


class MergeMany(MergeOne):
    account_ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_BULK)


def safe_name(name: str) -> str:
    return re.sub(r"[^\w.-]+", "-", name).strip("-")[:80] or "document"


def _view(record: dict[str, Any]) -> dict[str, Any]:
    """A record as a letter shows it: French formats beside the raw values."""
    view = dict(record)
    address = record.get("address") or {}
    town = f"{address.get('postal_code') or ''} {address.get('city') or ''}".strip()
    view["adresse"] = ", ".join(p for p in (address.get("street"), town) if p)
    if record.get("annual_revenue") is not None:
        view["chiffre_affaires"] = money(record["annual_revenue"])
    return view


async def _context(
    conn: asyncpg.Connection, account_id: uuid.UUID, identity: Identity, seller: dict[str, str]
) -> dict[str, Any] | None:
    account = await find_reference(conn, "account", account_id)
    if account is None or account.deleted:
        return None
    contacts = await conn.fetch(SELECT_CONTACTS, str(account_id))
    record = _view(account.record)
    return {
        "compte": record,
        "account": record,
        "contacts": [_view(row["record"]) for row in contacts],
        "responsable": record.get("owner") or "",
        "vendeur": seller,
        "date": french_date(datetime.now(UTC).date()),
        "utilisateur": identity.username,
    }


@dataclass
class Stats:
    abandoned: int = 0  # bulk merges stopped because their client went away


@dataclass
class Workers:
    """Where templates are rendered and documents converted (app.py starts both pools)."""

    renderer: Renderer
    converters: Converters
    stats: Stats = field(default_factory=Stats)


class ClientGone(Exception):
    """The bulk merge's client closed its connection: nothing more is rendered or converted."""


async def merge_one(
    pool: asyncpg.Pool,
    identity: Identity,
    seller: dict[str, str],
    account_id: uuid.UUID,
    request: MergeOne,
    workers: Workers,
) -> tuple[str, str, bytes]:
    """(filename, content type, content) of one account merged."""
    name, content = await templates.content_for(pool, request.template_id, "account")
    async with pool.acquire() as conn:
        context = await _context(conn, account_id, identity, seller)
    if context is None:
        raise NotFound("Aucun compte ne porte cet identifiant.")
    document = await workers.renderer.render(content, context)
    filename = safe_name(f"{name}-{context['compte'].get('name', '')}")
    if request.format == "pdf":
        return f"{filename}.pdf", "application/pdf", await workers.converters.to_pdf(document)
    return f"{filename}.docx", DOCX, document


async def merge_many(
    pool: asyncpg.Pool,
    identity: Identity,
    seller: dict[str, str],
    request: MergeMany,
    workers: Workers,
    client_gone: Callable[[], bool],
) -> bytes:
    """A zip with one document per account (every unknown account is named first: 422).
    Between two documents, stops (ClientGone) when ``client_gone()``: a client that went away
    costs no more rendering or conversion."""
    name, content = await templates.content_for(pool, request.template_id, "account")
    if request.format == "pdf" and workers.converters.pool is None:
        await workers.converters.to_pdf(b"")  # 422 saying why PDF is unavailable
    async with pool.acquire() as conn:
        found = await find_references(conn, "account", request.account_ids)
        contexts = []
        for index, account_id in enumerate(request.account_ids):
            reference = found.get(account_id)
            live = reference is not None and not reference.deleted
            contexts.append(
                (index, await _context(conn, account_id, identity, seller) if live else None)
            )
    missing = [
        FieldError(f"account_ids.{i}", "Aucun compte ne porte cet identifiant.")
        for i, c in contexts
        if c is None
    ]
    if missing:
        raise ValidationFailed(missing)
    try:
        return await _zip(name, content, contexts, request.format, workers, client_gone)
    except (ClientGone, asyncio.CancelledError):  # cancelled: the server saw the client go
        workers.stats.abandoned += 1
        raise


async def _zip(
    name: str,
    content: bytes,
    contexts: list[tuple[int, dict[str, Any] | None]],
    output: Format,
    workers: Workers,
    client_gone: Callable[[], bool],
) -> bytes:
    out = io.BytesIO()
    used: set[str] = set()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for _, context in contexts:
            assert context is not None
            if client_gone():
                raise ClientGone
            document = await workers.renderer.render(content, context)
            stem = safe_name(f"{name}-{context['compte'].get('name', '')}")
            while stem in used:
                stem += "-bis"
            used.add(stem)
            if output == "pdf":
                archive.writestr(f"{stem}.pdf", await workers.converters.to_pdf(document))
            else:
                archive.writestr(f"{stem}.docx", document)
    return out.getvalue()

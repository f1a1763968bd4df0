"""Keyset pagination for every list: ``?limit=&cursor=&sort=``, answering
``{"items": [...], "next_cursor": ... | null}``. Pure code: builds SQL only from whitelisted
column names; values always travel as parameters."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import orjson

from .errors import FieldError, ValidationFailed

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
ColumnKind = Literal["text", "timestamptz"]


@dataclass(frozen=True)
class Page:
    limit: int
    sort_key: str  # as the client wrote it, without "-"
    column: str
    kind: ColumnKind
    descending: bool
    after: tuple[Any, uuid.UUID] | None


def encode_cursor(sort_key: str, value: Any, record_id: Any) -> str:
    if isinstance(value, datetime):
        value = value.isoformat()
    raw = orjson.dumps([sort_key, value, str(record_id)])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode_cursor(text: str, sort_key: str, kind: ColumnKind) -> tuple[Any, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        key, value, record_id = orjson.loads(raw)
        if key != sort_key:
            raise ValueError("cursor made for another sort")
        if kind == "timestamptz":
            value = datetime.fromisoformat(value)
        elif not isinstance(value, str):
            raise ValueError("bad value")
        return value, uuid.UUID(record_id)
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError) as exc:
        raise ValueError(str(exc)) from exc


def parse_page(
    query: Mapping[str, str], columns: Mapping[str, tuple[str, ColumnKind]], default_sort: str
) -> Page:
    """Read limit, sort and cursor; every bad one is reported at once (422)."""
    errors: list[FieldError] = []
    limit = DEFAULT_LIMIT
    if "limit" in query:
        try:
            limit = int(query["limit"])
            if not 1 <= limit <= MAX_LIMIT:
                raise ValueError
        except ValueError:
            errors.append(FieldError("limit", f"Doit être un entier entre 1 et {MAX_LIMIT}."))
    sort = query.get("sort", default_sort) or default_sort
    descending = sort.startswith("-")
    sort_key = sort.lstrip("-")
    if sort_key not in columns:
        allowed = ", ".join(sorted(columns))
        errors.append(
            FieldError("sort", f"Tri inconnu ; possibles : {allowed} (préfixe - pour décroissant).")
        )
        sort_key, descending = default_sort.lstrip("-"), default_sort.startswith("-")
    column, kind = columns[sort_key]
    after = None
    if query.get("cursor"):
        try:
            after = _decode_cursor(query["cursor"], sort_key, kind)
        except ValueError:
            errors.append(
                FieldError("cursor", "Curseur invalide ; reprenez la liste depuis le début.")
            )
    if errors:
        raise ValidationFailed(errors)
    return Page(limit, sort_key, column, kind, descending, after)


def keyset_sql(page: Page, next_param: int) -> tuple[str, str, list[Any]]:
    """(condition, ORDER BY, parameters) continuing after the cursor; id breaks ties."""
    direction = "DESC" if page.descending else "ASC"
    order_by = f"{page.column} {direction}, id {direction}"
    if page.after is None:
        return "TRUE", order_by, []
    op = "<" if page.descending else ">"
    condition = f"({page.column}, id) {op} (${next_param}, ${next_param + 1})"
    return condition, order_by, [page.after[0], page.after[1]]


def page_result(page: Page, rows: list[dict[str, Any]], value_field: str) -> dict[str, Any]:
    """Items of one page (rows fetched with LIMIT limit + 1) and the cursor to the next."""
    has_more = len(rows) > page.limit
    items = rows[: page.limit]
    next_cursor = None
    if has_more and items:
        last = items[-1]
        next_cursor = encode_cursor(page.sort_key, last[value_field], last["id"])
    return {"items": items, "next_cursor": next_cursor}

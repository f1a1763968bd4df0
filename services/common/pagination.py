"""Keyset pagination for every list: ``?limit=&cursor=&sort=``, answering
``{"items": [...], "next_cursor": ... | null}``. Pure code: builds SQL only from whitelisted
column names; values always travel as parameters."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import orjson

from .errors import FieldError, ValidationFailed

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
ColumnKind = Literal["text", "timestamptz", "int", "numeric"]
# What PostgreSQL can hold: an ``int`` column is an ``integer``; ``numeric`` has at most 131072
# digits before the point and 16383 after it.
INT_RANGE = (-(2**31), 2**31 - 1)
NUMERIC_EXPONENTS = (-16383, 131071)


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
    elif isinstance(value, Decimal):
        value = str(value)
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
            if value.tzinfo is None:
                raise ValueError("naive time")
            value.astimezone(UTC)  # OverflowError at the ends of the calendar
        elif kind == "numeric":
            value = Decimal(str(value))
            low, high = NUMERIC_EXPONENTS
            exponent = value.as_tuple().exponent
            if not value.is_finite() or not isinstance(exponent, int):
                raise ValueError("not a finite number")
            if exponent < low or value.adjusted() > high:
                raise ValueError("number out of range")
        elif kind == "int":
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError("bad value")
            if not INT_RANGE[0] <= value <= INT_RANGE[1]:
                raise ValueError("integer out of range")
        elif not isinstance(value, str) or "\x00" in value:
            raise ValueError("bad value")
        return value, uuid.UUID(record_id)
    except (
        ValueError,
        TypeError,
        OverflowError,
        binascii.Error,
        InvalidOperation,
        orjson.JSONDecodeError,
    ) as exc:
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


def keyset_sql(page: Page, next_param: int, id_column: str = "id") -> tuple[str, str, list[Any]]:
    """(condition, ORDER BY, parameters) continuing after the cursor; the id breaks ties."""
    direction = "DESC" if page.descending else "ASC"
    order_by = f"{page.column} {direction}, {id_column} {direction}"
    if page.after is None:
        return "TRUE", order_by, []
    op = "<" if page.descending else ">"
    condition = f"({page.column}, {id_column}) {op} (${next_param}, ${next_param + 1})"
    return condition, order_by, [page.after[0], page.after[1]]


def page_result(
    page: Page,
    rows: Sequence[Mapping[str, Any]],
    to_item: Callable[[Mapping[str, Any]], dict[str, Any]],
) -> dict[str, Any]:
    """Items of one page and the cursor to the next.

    ``rows`` were fetched with ``LIMIT limit + 1`` and carry the sort value as ``sort_key``.
    """
    has_more = len(rows) > page.limit
    kept = rows[: page.limit]
    next_cursor = None
    if has_more and kept:
        last = kept[-1]
        next_cursor = encode_cursor(page.sort_key, last["sort_key"], last["id"])
    return {"items": [to_item(row) for row in kept], "next_cursor": next_cursor}

import base64
import uuid

import orjson
import pytest

from services.common.errors import ValidationFailed
from services.common.pagination import (
    ColumnKind,
    encode_cursor,
    keyset_sql,
    page_result,
    parse_page,
)

COLUMNS: dict[str, tuple[str, ColumnKind]] = {
    "name": ("name", "text"),
    "created_at": ("created_at", "timestamptz"),
}


def test_defaults() -> None:
    page = parse_page({}, COLUMNS, "name")
    assert (page.limit, page.column, page.descending, page.after) == (50, "name", False, None)
    assert keyset_sql(page, 1) == ("TRUE", "name ASC, id ASC", [])


def test_every_bad_parameter_is_reported_at_once() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_page({"limit": "500", "sort": "password", "cursor": "%%%"}, COLUMNS, "name")
    assert [e.field for e in caught.value.errors] == ["limit", "sort", "cursor"]


@pytest.mark.parametrize("limit", ["0", "-1", "201", "abc", ""])
def test_limit_is_between_1_and_200(limit: str) -> None:
    with pytest.raises(ValidationFailed):
        parse_page({"limit": limit}, COLUMNS, "name")


def test_a_cursor_continues_after_the_last_item_in_either_direction() -> None:
    rid = uuid.uuid4()
    rows = [{"id": uuid.uuid4(), "sort_key": f"n{i}"} for i in range(3)]
    rows.append({"id": rid, "sort_key": "z"})
    first = parse_page({"limit": "3", "sort": "-name"}, COLUMNS, "name")
    result = page_result(first, rows, dict)
    assert len(result["items"]) == 3
    assert result["next_cursor"]
    page = parse_page(
        {"limit": "3", "sort": "-name", "cursor": result["next_cursor"]}, COLUMNS, "name"
    )
    condition, order_by, params = keyset_sql(page, 2)
    assert condition == "(name, id) < ($2, $3)"
    assert order_by == "name DESC, id DESC"
    assert params == ["n2", rows[2]["id"]]


def test_the_last_page_has_no_cursor_and_a_cursor_of_another_sort_is_refused() -> None:
    page = parse_page({"limit": "5"}, COLUMNS, "name")
    assert page_result(page, [{"id": uuid.uuid4(), "sort_key": "a"}], dict)["next_cursor"] is None
    cursor = encode_cursor("name", "a", uuid.uuid4())
    with pytest.raises(ValidationFailed):
        parse_page({"sort": "created_at", "cursor": cursor}, COLUMNS, "name")


def test_a_forged_cursor_holding_a_nul_character_is_refused() -> None:
    forged = encode_cursor("name", "a\x00b", uuid.uuid4())
    with pytest.raises(ValidationFailed) as caught:
        parse_page({"cursor": forged}, COLUMNS, "name")
    assert [e.field for e in caught.value.errors] == ["cursor"]


SORTED_BY_NUMBERS: dict[str, tuple[str, ColumnKind]] = {
    "employees": ("sort_employees", "int"),
    "revenue": ("sort_revenue", "numeric"),
    "created_at": ("created_at", "timestamptz"),
}


def _cursor(key: str, value: object) -> str:
    raw = orjson.dumps([key, value, str(uuid.uuid4())])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("employees", 9_000_000_000),  # beyond PostgreSQL's integer
        ("employees", -(2**31) - 1),
        ("employees", True),
        ("employees", "12"),
        ("revenue", "NaN"),
        ("revenue", "Infinity"),
        ("revenue", "1e1000000"),
        ("revenue", "1e-20000"),
        ("created_at", "2026-11-28T09:30:00"),  # no time zone
        ("created_at", "0001-01-01T00:00:00+14:00"),  # before year 1 in UTC
        ("created_at", "9999-12-31T23:59:59-14:00"),
    ],
)
def test_a_cursor_holding_what_the_column_cannot_hold_is_refused_naming_it(
    key: str, value: object
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_page({"sort": key, "cursor": _cursor(key, value)}, SORTED_BY_NUMBERS, "employees")
    assert [e.field for e in caught.value.errors] == ["cursor"]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("employees", 2**31 - 1),
        ("employees", -1),
        ("revenue", "999999999999999.99"),
        ("created_at", "2026-11-28T09:30:00+00:00"),
    ],
)
def test_a_cursor_at_the_edge_of_the_column_is_kept(key: str, value: object) -> None:
    page = parse_page({"sort": key, "cursor": _cursor(key, value)}, SORTED_BY_NUMBERS, "employees")
    assert page.after is not None

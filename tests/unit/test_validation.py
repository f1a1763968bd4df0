import uuid
from typing import Any

import pytest
from pydantic import BaseModel

from services.accounts.schemas import AccountFields
from services.activities.schemas import ActionFields, ProjectFields
from services.common.errors import BadRequest, ValidationFailed
from services.common.validation import parse_json, try_validate, validate
from services.documents.schemas import Payment


def errors_of(data: object) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as caught:
        validate(AccountFields, data)
    return {e.field: e.message for e in caught.value.errors}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Dupont   et  Fils ", "Dupont et Fils"),
        ("Éditions du Léman", "Éditions du Léman"),
        ("Robert'); DROP TABLE accounts;--", "Robert'); DROP TABLE accounts;--"),
        ("x" * 255, "x" * 255),
    ],
)
def test_a_name_is_trimmed_and_kept_as_typed(raw: str, expected: str) -> None:
    assert validate(AccountFields, {"name": raw}).name == expected


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"name": ""},
        {"name": "   "},
        {"name": "\t\n"},
        {"name": None},
        {"name": 42},
        {"name": "x" * 256},
    ],
)
def test_a_missing_blank_wrong_or_huge_name_is_named_in_the_errors(data: object) -> None:
    assert list(errors_of(data)) == ["name"]


def test_every_bad_field_is_reported_at_once() -> None:
    assert set(errors_of({"name": "", "colour": "red"})) == {"name", "colour"}


def test_a_body_that_is_not_an_object_is_refused() -> None:
    assert errors_of([1, 2]) == {"body": "Doit être un objet JSON."}


@pytest.mark.parametrize("raw", [b"", b"   ", b"{", b"{'name': 1}", b"\xff\xfe"])
def test_malformed_json_is_a_bad_request(raw: bytes) -> None:
    with pytest.raises(BadRequest):
        parse_json(raw)


@pytest.mark.parametrize(
    ("model", "data", "field"),
    [
        (Payment, {"paid_at": -455875}, "paid_at"),
        (ActionFields, {"type": "note", "subject": "x", "occurred_at": 1764412800}, "occurred_at"),
        (
            ProjectFields,
            {"name": "P", "account_id": str(uuid.uuid4()), "start_date": 20261129},
            "start_date",
        ),
    ],
)
def test_a_number_is_not_read_as_a_date(
    model: type[BaseModel], data: dict[str, Any], field: str
) -> None:
    fields, errors = try_validate(model, data)
    assert fields is None
    assert [e.field for e in errors] == [field]
    assert "texte" in errors[0].message


def test_dates_written_as_text_are_read() -> None:
    fields, errors = try_validate(Payment, {"paid_at": "2026-11-29T10:00:00Z"})
    assert errors == []
    assert fields is not None
    assert fields.paid_at is not None
    assert fields.paid_at.year == 2026


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_a_time_outside_the_calendar_in_utc_is_refused_naming_it(moment: str) -> None:
    fields, errors = try_validate(
        ActionFields, {"type": "note", "subject": "x", "occurred_at": moment}
    )
    assert fields is None
    assert [e.field for e in errors] == ["occurred_at"]
    assert "calendrier" in errors[0].message

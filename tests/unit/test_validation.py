import pytest

from services.accounts.schemas import AccountFields
from services.common.errors import BadRequest, ValidationFailed
from services.common.validation import parse_json, validate


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

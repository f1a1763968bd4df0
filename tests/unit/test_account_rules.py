"""The rules of each account field, with good and bad values."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from services.accounts import domain
from services.accounts.schemas import AccountFields, ContactFields
from services.common.entities import clean_email
from services.common.errors import PreconditionFailed, ValidationFailed
from services.common.records import check_if_match, merge_patch
from services.common.validation import validate

Rule = Callable[[str], str]


@pytest.mark.parametrize(
    ("rule", "raw", "clean"),
    [
        (domain.clean_siren, "732 829 320", "732829320"),
        (domain.clean_siren, "552.100.554", "552100554"),
        (domain.clean_siret, "732 829 320 00074", "73282932000074"),
        (domain.clean_siret, "35600000000001", "35600000000001"),  # La Poste: digit sum rule
        (domain.clean_vat_number, "fr 44 732829320", "FR44732829320"),
        (domain.clean_vat_number, "BE0403170701", "BE0403170701"),
        (domain.clean_vat_number, "DE123456789", "DE123456789"),
        (clean_email, " Jean.Dupont@Exemple.FR ", "Jean.Dupont@exemple.fr"),
        (clean_email, "élodie@société.fr", "élodie@société.fr"),
        (
            domain.clean_website,
            "HTTPS://Www.Exemple.fr/Contact?x=1",
            "https://www.exemple.fr/Contact?x=1",
        ),
        (domain.clean_website, "http://localhost:8080", "http://localhost:8080"),
        (domain.clean_phone, "01 42 68 53 00", "+33142685300"),
        (domain.clean_phone, "06.12.34.56.78", "+33612345678"),
        (domain.clean_phone, "+32 2 555 12 12", "+3225551212"),
        (domain.clean_phone, "0033 1 42 68 53 00", "+33142685300"),
        (domain.clean_country, "be", "BE"),
        (domain.check_french_postal_code, "75008", "75008"),
        (domain.check_french_postal_code, "20000", "20000"),
        (domain.check_french_postal_code, "97400", "97400"),
    ],
)
def test_good_values_are_normalised(rule: Rule, raw: str, clean: str) -> None:
    assert rule(raw) == clean


@pytest.mark.parametrize(
    ("rule", "raw"),
    [
        (domain.clean_siren, "732829321"),  # wrong key
        (domain.clean_siren, "73282932"),  # too short
        (domain.clean_siren, "7328293200"),
        (domain.clean_siren, "ABCDEFGHI"),
        (domain.clean_siren, "٧٣٢٨٢٩٣٢٠"),  # Arabic-Indic digits are not a SIREN
        (domain.clean_siret, "73282932000075"),
        (domain.clean_siret, "7328293200007"),
        (domain.clean_vat_number, "FR00732829320"),  # wrong key
        (domain.clean_vat_number, "FR44732829321"),
        (domain.clean_vat_number, "XX123"),
        (domain.clean_vat_number, "732829320"),
        (clean_email, "a@x.fr; b@y.fr"),
        (clean_email, "a@x.fr, b@y.fr"),
        (clean_email, "a@x.fr b@y.fr"),
        (clean_email, "pas-une-adresse"),
        (clean_email, "a@b"),
        (domain.clean_website, "www.exemple.fr"),
        (domain.clean_website, "ftp://exemple.fr"),
        (domain.clean_website, "javascript:alert(1)"),
        (domain.clean_website, "https://"),
        (domain.clean_website, "https://exemple"),
        (domain.clean_website, "https://exemple.fr/a b"),
        (domain.clean_phone, "12"),
        (domain.clean_phone, "01 42 68"),
        (domain.clean_phone, "téléphone"),
        (domain.clean_phone, "+33 9 99 99 99 99 99"),
        (domain.clean_country, "FRA"),
        (domain.clean_country, "XX"),
        (domain.check_french_postal_code, "7500"),
        (domain.check_french_postal_code, "00100"),
        (domain.check_french_postal_code, "96000"),
        (domain.check_french_postal_code, "ABCDE"),
    ],
)
def test_bad_values_are_refused_with_a_message(rule: Rule, raw: str) -> None:
    with pytest.raises(ValueError, match=r"\w") as caught:
        rule(raw)
    assert str(caught.value)


def errors_of(model: type[AccountFields] | type[ContactFields], data: object) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as caught:
        validate(model, data)
    return {e.field: e.message for e in caught.value.errors}


def test_every_bad_account_field_is_reported_at_once() -> None:
    errors = errors_of(
        AccountFields,
        {
            "name": " ",
            "email": "a@x.fr;b@y.fr",
            "website": "exemple.fr",
            "phone": "123",
            "siren": "123456789",
            "siret": "1",
            "vat_number": "FR1",
            "address": {"country": "ZZ", "planet": "Mars"},
            "employees": -3,
            "annual_revenue": "-1",
            "parent_account_id": "not-a-uuid",
            "colour": "blue",
        },
    )
    assert set(errors) == {
        "name", "email", "website", "phone", "siren", "siret", "vat_number", "address.country",
        "address.planet", "employees", "annual_revenue", "parent_account_id", "colour",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("employees", 1.5),
        ("employees", "12"),
        ("employees", True),
        ("annual_revenue", "12.345"),
        ("annual_revenue", "beaucoup"),
        ("annual_revenue", "1e30"),
        ("description", "x" * 10_001),
        ("account_type", ["client"]),
    ],
)
def test_numbers_and_texts_have_their_types_and_bounds(field: str, value: object) -> None:
    assert field in errors_of(AccountFields, {"name": "X", field: value})


def test_money_is_kept_as_a_decimal_and_empty_strings_clear_fields() -> None:
    fields = validate(
        AccountFields, {"name": "X", "annual_revenue": "1234.50", "email": "", "employees": 0}
    )
    assert str(fields.annual_revenue) == "1234.50"
    assert fields.email is None
    assert fields.employees == 0
    assert fields.address.country == "FR"


def test_fields_must_agree_with_each_other() -> None:
    assert (
        domain.account_consistency("732829320", "73282932000074", "FR44732829320", "FR", "75008")
        == []
    )
    problems = dict(
        domain.account_consistency("732829320", "55210055400013", "FR83404833048", "FR", "00001")
    )
    assert set(problems) == {"siret", "vat_number", "address.postal_code"}
    # Outside France the postal code is free.
    assert domain.account_consistency(None, None, None, "BE", "1000") == []


def test_a_contact_needs_a_last_name_and_checks_its_fields() -> None:
    errors = errors_of(
        ContactFields, {"first_name": "Jean", "email": "x", "mobile": "1", "account_id": 3}
    )
    assert set(errors) == {"last_name", "email", "mobile", "account_id"}


def test_a_duplicate_name_fits_in_255_characters() -> None:
    assert domain.copy_name("Dupont") == "Dupont (copie)"
    long = domain.copy_name("x" * 255)
    assert len(long) == 255
    assert long.endswith(" (copie)")


def test_search_text_is_folded_like_the_database_and_like_patterns_are_literal() -> None:
    assert domain.fold("  Œuvres ÉLÉGANTES  ") == "oeuvres elegantes"
    assert domain.like_escape("100%_sûr\\") == "100\\%\\_sûr\\\\"


def test_merge_patch_follows_rfc_7396() -> None:
    target = {"name": "A", "email": "a@x.fr", "address": {"city": "Lyon", "street": "1 rue"}}
    patch = {"email": None, "address": {"street": None, "postal_code": "69001"}, "phone": "1"}
    assert merge_patch(target, patch) == {
        "name": "A",
        "address": {"city": "Lyon", "postal_code": "69001"},
        "phone": "1",
    }
    assert merge_patch(target, {"address": None}) == {"name": "A", "email": "a@x.fr"}


@pytest.mark.parametrize("header", [None, "", "*", '"3"', 'W/"3"', '"1", "3"'])
def test_if_match_naming_the_current_version_passes(header: str | None) -> None:
    check_if_match(header, 3)


@pytest.mark.parametrize("header", ['"2"', "3", '"abc"'])
def test_if_match_naming_another_version_fails(header: str) -> None:
    with pytest.raises(PreconditionFailed):
        check_if_match(header, 3)

"""The lines editor's form read back into a quote's or an invoice's lines, and the payment date
(services/gateway/ui/pages/documents.py)."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from multidict import MultiDict, MultiDictProxy

from services.gateway.ui.pages.documents import (
    MAX_LINES,
    french_decimal,
    lines_from_form,
    payment_time,
    typed_lines,
)
from services.gateway.ui.render import PARIS


def posted(*pairs: tuple[str, str]) -> MultiDictProxy[str]:
    return MultiDictProxy(MultiDict(pairs))


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("1234.50", "1234.50"),
        ("1 234,50", "1234.50"),
        ("1\u202f234,50\u00a0€", "1234.50"),
        ("1\u00a0234,5", "1234.5"),
        ("1.234,56", "1234.56"),
        ("1,234.56", "1234.56"),
        ("1.234.567", "1234567"),
        ("0,125", "0.125"),
        ("-12,5", "-12.5"),
        ("5,5 %", "5.5"),
        ("20", "20"),
        (",5", "0.5"),
    ],
)
def test_french_decimals_are_read(typed: str, read: str) -> None:
    assert french_decimal(typed) == read


@pytest.mark.parametrize("typed", ["", "abc", "1,2,3", "12a", "--1", ".", "1e5", "€"])
def test_what_is_no_number_is_not_read(typed: str) -> None:
    assert french_decimal(typed) is None


def test_lines_are_read_in_the_order_of_their_numbers_with_french_decimals() -> None:
    lines = lines_from_form(
        posted(
            ("csrf", "x"),
            ("account_id", "a"),
            ("lines-10-description", "Formation"),
            ("lines-10-quantity", "2,5"),
            ("lines-10-unit_price", "10,10"),
            ("lines-10-vat_rate", "20"),
            ("lines-10-discount_percent", "10"),
            ("lines-2-description", "  Audit de l'existant "),
            ("lines-2-quantity", "1"),
            ("lines-2-unit_price", "1 234,50"),
            ("lines-2-vat_rate", "5.5"),
            ("lines-2-discount_percent", ""),
        )
    )
    assert lines == [
        {
            "description": "Audit de l'existant",
            "quantity": "1",
            "unit_price": "1234.50",
            "vat_rate": "5.5",
        },
        {
            "description": "Formation",
            "quantity": "2.5",
            "unit_price": "10.10",
            "discount_percent": "10",
            "vat_rate": "20",
        },
    ]


def test_empty_lines_are_dropped_but_a_line_with_anything_typed_is_kept() -> None:
    lines = lines_from_form(
        posted(
            ("lines-0-description", ""),
            ("lines-0-quantity", " "),
            ("lines-0-unit_price", ""),
            ("lines-0-vat_rate", "20"),
            ("lines-1-description", ""),
            ("lines-1-quantity", "3"),
            ("lines-1-vat_rate", "10"),
        )
    )
    # The description is sent empty and the price left out: the API says each is required.
    assert lines == [{"description": "", "quantity": "3", "vat_rate": "10"}]


def test_what_cannot_be_read_is_sent_as_typed_for_the_api_to_refuse_next_to_it() -> None:
    lines = lines_from_form(
        posted(
            ("lines-0-description", "Conseil"),
            ("lines-0-quantity", "deux"),
            ("lines-0-unit_price", "100"),
            ("lines-0-vat_rate", "19,6"),
        )
    )
    assert lines == [
        {"description": "Conseil", "quantity": "deux", "unit_price": "100", "vat_rate": "19.6"}
    ]


def test_a_line_without_a_rate_takes_the_first_one_offered_and_unknown_inputs_are_ignored() -> None:
    lines = lines_from_form(
        posted(
            ("lines-0-description", "Licence"),
            ("lines-0-quantity", "1"),
            ("lines-0-unit_price", "50"),
            ("lines-0-colour", "red"),
            ("lines-x-description", "not a line"),
            ("lines--1-description", "nor this"),
            ("lines-0-description-extra", "nor this"),
        )
    )
    assert lines == [
        {"description": "Licence", "quantity": "1", "unit_price": "50", "vat_rate": "20"}
    ]


def test_no_lines_posted_is_an_empty_list() -> None:
    assert lines_from_form(posted(("notes", "rien"))) == []


def test_more_lines_than_the_api_takes_are_cut_one_past_its_limit() -> None:
    many = [
        pair
        for n in range(MAX_LINES + 20)
        for pair in ((f"lines-{n}-description", f"L{n}"), (f"lines-{n}-quantity", "1"))
    ]
    lines = lines_from_form(posted(*many))
    assert len(lines) == MAX_LINES + 1  # the API refuses them, saying its limit
    assert lines[0]["description"] == "L0"


def test_typed_lines_keep_the_input_less_the_removed_line_and_the_empty_ones() -> None:
    shown = typed_lines(
        posted(
            ("lines-0-description", "Gardée"),
            ("lines-0-quantity", "1,5"),
            ("lines-0-vat_rate", "20"),
            ("lines-1-description", "Supprimée"),
            ("lines-1-quantity", "1"),
            ("lines-3-description", ""),
            ("lines-3-vat_rate", "20"),
            ("lines-4-quantity", "abc"),
        ),
        remove=1,
    )
    assert shown == [
        {"description": "Gardée", "quantity": "1.5", "vat_rate": "20"},
        {"quantity": "abc"},
    ]


TODAY = date(2026, 11, 29)


def test_a_payment_today_or_without_a_date_is_the_present_moment() -> None:
    assert payment_time("", TODAY, date(2026, 11, 1)) == (None, "")
    assert payment_time("2026-11-29", TODAY, date(2026, 11, 1)) == (None, "")


@pytest.mark.parametrize("typed", ["2026-11-20", "20/11/2026"])
def test_a_past_payment_is_noon_in_paris_that_day(typed: str) -> None:
    assert payment_time(typed, TODAY, date(2026, 11, 1)) == (
        datetime(2026, 11, 20, 12, 0, tzinfo=PARIS),
        "",
    )


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("2026-11-30", "La date de paiement ne peut pas être dans le futur."),
        ("2026-10-31", "La date de paiement ne peut pas précéder l'émission (01/11/2026)."),
        ("31/02/2026", "Date de paiement attendue au format JJ/MM/AAAA."),
        ("hier", "Date de paiement attendue au format JJ/MM/AAAA."),
    ],
)
def test_a_payment_date_that_cannot_be_is_refused_in_french(typed: str, reason: str) -> None:
    assert payment_time(typed, TODAY, date(2026, 11, 1)) == (None, reason)

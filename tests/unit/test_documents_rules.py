from datetime import date
from decimal import Decimal as D

import pytest

from services.documents.domain import (
    Line,
    document_number,
    french_date,
    money,
    percent,
    quote_status,
    totals,
)


def test_lines_are_rounded_half_up_to_the_cent_and_vat_is_summed_per_rate() -> None:
    result = totals([
        Line("Pain", D("3"), D("19.99"), D("20")),  # 59.97
        Line("Sel", D("1"), D("0.015"), D("5.5")),  # 0.015 -> 0.02 (half up, not to even)
        Line("Farine", D("2.5"), D("10.10"), D("20"), D("10")),  # 22.725 -> 22.73
        Line("Livre", D("1"), D("0.125"), D("5.5")),  # 0.125 -> 0.13
    ])  # fmt: skip
    assert result.net == D("82.85")
    assert [(r["rate"], r["base"], r["vat"]) for r in result.by_rate] == [
        (D("20"), D("82.70"), D("16.54")),
        (D("5.5"), D("0.15"), D("0.01")),
    ]
    assert result.vat == D("16.55")
    assert result.gross == D("99.40")


def test_no_lines_make_zero_totals_and_credit_lines_are_negative() -> None:
    assert totals([]).gross == D("0.00")
    credit = totals([Line("Avoir", D("1"), D("-100.005"), D("20"))])
    assert (credit.net, credit.vat, credit.gross) == (D("-100.01"), D("-20.00"), D("-120.01"))


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (D("1234.5"), "1\u202f234,50\u00a0€"),
        (D("0"), "0,00\u00a0€"),
        (D("-1234567.891"), "-1\u202f234\u202f567,89\u00a0€"),
        ("999.995", "1\u202f000,00\u00a0€"),
    ],
)
def test_money_is_written_the_french_way(value: D | str, text: str) -> None:
    assert money(value) == text


def test_dates_percentages_and_numbers() -> None:
    assert french_date(date(2026, 11, 28)) == "28/11/2026"
    assert french_date("2026-11-28T23:30:00Z") == "28/11/2026"
    assert percent(D("5.5")) == "5,5\u00a0%"
    assert percent(D("20")) == "20\u00a0%"
    assert document_number("FAC", 2026, 42) == "FAC-2026-00042"


def test_a_sent_quote_past_its_validity_is_expired() -> None:
    today = date(2026, 11, 29)
    assert quote_status("sent", date(2026, 11, 28), today) == "expired"
    assert quote_status("sent", date(2026, 11, 29), today) == "sent"
    assert quote_status("draft", date(2020, 1, 1), today) == "draft"
    assert quote_status("accepted", date(2020, 1, 1), today) == "accepted"

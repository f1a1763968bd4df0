"""French formats, as the web interface and the printed pages show them: ``1 234,50 €``,
``29/11/2026``, ``29/11/2026 22:41`` (Europe/Paris), ``01 42 68 53 00``. Shared by the gateway's
pages and the documents service's printed records."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers

PARIS = ZoneInfo("Europe/Paris")
NBSP = "\u00a0"
NNBSP = "\u202f"  # the thin space French puts between thousands


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def number_fr(value: Any, places: int | None = None) -> str:
    """1234567.5 → "1 234 567,5"; with ``places``, exactly that many decimals."""
    number = _decimal(value)
    if number is None:
        return "" if value is None else str(value)
    if places is not None:
        try:
            number = number.quantize(Decimal(1).scaleb(-places))
        except InvalidOperation:  # more digits than a decimal context holds: as typed
            return str(value)
    sign = "-" if number < 0 else ""
    text = f"{abs(number):f}"
    whole, _, decimals = text.partition(".")
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    out = sign + NNBSP.join(groups)
    return f"{out},{decimals}" if decimals else out


def money_fr(value: Any) -> str:
    """ "1234.5" → "1 234,50 €"."""
    if _decimal(value) is None:
        return "" if value is None else str(value)
    return f"{number_fr(value, 2)}{NBSP}€"


def date_fr(value: Any) -> str:
    """ "2026-11-29" (or a datetime) → "29/11/2026"."""
    if not value:
        return ""
    try:
        if isinstance(value, datetime):
            return value.astimezone(PARIS).strftime("%d/%m/%Y")
        if isinstance(value, date):
            return value.strftime("%d/%m/%Y")
        text = str(value)
        if len(text) > 10:
            return datetime.fromisoformat(text).astimezone(PARIS).strftime("%d/%m/%Y")
        return date.fromisoformat(text).strftime("%d/%m/%Y")
    except ValueError:
        return str(value)


def _paris_time(value: Any, layout: str) -> str:
    """An RFC 3339 time (or a datetime) in Paris time, laid out by ``layout``; as it is when it
    is not a time."""
    if not value:
        return ""
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return moment.astimezone(PARIS).strftime(layout)


def datetime_fr(value: Any) -> str:
    """An RFC 3339 time → "29/11/2026 22:41", in Paris time."""
    return _paris_time(value, "%d/%m/%Y %H:%M")


def datetime_input(value: Any) -> str:
    """An RFC 3339 time as a datetime-local input's value, in Paris time."""
    return _paris_time(value, "%Y-%m-%dT%H:%M")


def phone_fr(value: Any) -> str:
    """ "+33142685300" → "01 42 68 53 00" (international numbers in their own format)."""
    if not value:
        return ""
    try:
        number = phonenumbers.parse(str(value), "FR")
    except phonenumbers.NumberParseException:
        return str(value)
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if number.country_code == 33
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(number, style)


def percent_fr(value: Any) -> str:
    if value is None or value == "":
        return ""
    return f"{number_fr(value)}{NBSP}%"

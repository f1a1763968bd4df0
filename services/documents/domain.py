"""Pure rules of quotes and invoices: totals, numbering, status changes, French formats. No I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")
VAT_RATES = (Decimal("20"), Decimal("10"), Decimal("5.5"), Decimal("2.1"), Decimal("0"))
QUOTE_PREFIX, INVOICE_PREFIX, CREDIT_NOTE_PREFIX = "DEV", "FAC", "AV"
DEFAULT_PAYMENT_DAYS = 30
# Statuses as (code, French label): what is stored, and "expired", which a reader sees.
QUOTE_STATUSES = (
    ("draft", "Brouillon"),
    ("sent", "Envoyé"),
    ("accepted", "Accepté"),
    ("refused", "Refusé"),
    ("expired", "Expiré"),
)
INVOICE_STATUSES = (
    ("draft", "Brouillon"),
    ("issued", "Émise"),
    ("paid", "Payée"),
    ("cancelled", "Annulée"),
)
INVOICE_KINDS = (("invoice", "Facture"), ("credit_note", "Avoir"))
NBSP, NNBSP = "\u00a0", "\u202f"  # French typography: before €, and between thousands


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Line:
    description: str
    quantity: Decimal
    unit_price: Decimal
    vat_rate: Decimal
    discount_percent: Decimal = Decimal("0")

    @property
    def net(self) -> Decimal:
        """The line's amount before VAT, rounded half-up to the cent."""
        gross = (
            self.quantity * self.unit_price * (Decimal(100) - self.discount_percent) / Decimal(100)
        )
        return cents(gross)


@dataclass(frozen=True)
class Totals:
    net: Decimal
    vat: Decimal
    gross: Decimal
    by_rate: list[dict[str, Decimal]]

    def as_record(self) -> dict[str, Any]:
        return {
            "total_net": self.net,
            "total_vat": self.vat,
            "total_gross": self.gross,
            "vat_breakdown": [{k: str(v) for k, v in rate.items()} for rate in self.by_rate],
        }


def totals(lines: list[Line]) -> Totals:
    """Net per line (rounded), VAT per rate on the summed base (rounded), then the sums."""
    bases: dict[Decimal, Decimal] = {}
    for line in lines:
        bases[line.vat_rate] = bases.get(line.vat_rate, Decimal("0")) + line.net
    by_rate = [
        {"rate": rate, "base": base, "vat": cents(base * rate / Decimal(100))}
        for rate, base in sorted(bases.items(), reverse=True)
    ]
    net = sum((line.net for line in lines), Decimal("0.00"))
    vat = sum((r["vat"] for r in by_rate), Decimal("0.00"))
    return Totals(cents(net), cents(vat), cents(net + vat), by_rate)


def document_number(prefix: str, year: int, sequence: int) -> str:
    return f"{prefix}-{year}-{sequence:05d}"


def quote_status(stored: str, valid_until: date | None, today: date) -> str:
    """A sent quote past its validity date is expired."""
    if stored == "sent" and valid_until is not None and valid_until < today:
        return "expired"
    return stored


QUOTE_TRANSITIONS = {
    "send": ({"draft"}, "sent"),
    "accept": ({"sent"}, "accepted"),
    "refuse": ({"sent"}, "refused"),
}


def money(value: Decimal | str | None, currency: str = "€") -> str:
    """1 234,50 € (thin no-break space between thousands, no-break space before the sign)."""
    if value is None:
        return ""
    amount = cents(Decimal(value))
    sign = "-" if amount < 0 else ""
    whole, _, fraction = f"{abs(amount):.2f}".partition(".")
    groups: list[str] = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    return f"{sign}{NNBSP.join(groups)},{fraction}{NBSP}{currency}"


def percent(value: Decimal | str) -> str:
    number = Decimal(value).normalize()
    text = f"{number:f}".replace(".", ",")
    return f"{text}{NBSP}%"


def french_date(value: date | datetime | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        value = (
            datetime.fromisoformat(value.replace("Z", "+00:00"))
            if "T" in value
            else date.fromisoformat(value)
        )
    return value.strftime("%d/%m/%Y")

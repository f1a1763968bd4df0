import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from services.gateway.calls import e164
from services.gateway.telephony import sign, signature_valid, timestamp_fresh


def test_the_signature_is_the_hex_hmac_sha256_of_the_raw_body() -> None:
    body = b'{"call_id": "c1"}'
    expected = hmac.new(b"k", body, hashlib.sha256).hexdigest()
    assert sign(body, "k") == f"sha256={expected}"
    assert signature_valid(body, f"sha256={expected}", "k")


@pytest.mark.parametrize(
    ("header", "secret"),
    [
        (None, "k"),
        ("", "k"),
        ("sha256=00", "k"),
        (sign(b"other", "k"), "k"),
        (sign(b"x", "k"), None),
        (sign(b"x", "j"), "k"),
    ],
)
def test_a_missing_or_wrong_signature_is_refused(header: str | None, secret: str | None) -> None:
    assert not signature_valid(b"x", header, secret)


def test_callbacks_more_than_five_minutes_away_are_refused() -> None:
    now = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
    assert timestamp_fresh(now - timedelta(minutes=4, seconds=59), now)
    assert timestamp_fresh(now + timedelta(minutes=5), now)
    assert not timestamp_fresh(now - timedelta(minutes=5, seconds=1), now)
    assert not timestamp_fresh(now + timedelta(hours=1), now)


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("01 42 68 53 00", "+33142685300"),
        ("+33612345678", "+33612345678"),
        ("0032 2 555 12 12", "+3225551212"),
        ("12", None),
        ("abc", None),
    ],
)
def test_numbers_are_dialled_in_e164(raw: str, normalised: str | None) -> None:
    assert e164(raw) == normalised

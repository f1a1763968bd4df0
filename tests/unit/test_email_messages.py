"""Every refusal of an e-mail address says what is wrong in French (the validator's English
never reaches a user)."""

from __future__ import annotations

import pytest

from services.common.entities import clean_email

CASES = {
    "sophie.martin@boulangerie-dupont": "doit comporter un point",
    "a@@b.fr": "un seul « @ »",
    "pas un email": "ni espace",
    "@x.fr": "avant le « @ »",
    "a@": "après le « @ »",
    "a..b@x.fr": "points sont mal placés",
    "a@b_c.fr": "caractères non permis",
    "a@b.fr; c@d.fr": "Une seule adresse",
    "sansarobase": "il manque le « @ »",
}
ENGLISH = ("The ", "must", "should", "sign", "contains", "period")


@pytest.mark.parametrize(("address", "said"), CASES.items())
def test_a_bad_address_is_refused_in_french(address: str, said: str) -> None:
    with pytest.raises(ValueError, match="e-mail") as refused:
        clean_email(address)
    message = str(refused.value)
    assert said in message
    assert not any(word in message for word in ENGLISH), message


def test_a_good_address_is_normalised() -> None:
    assert clean_email("  Contact@SGB.fr ") == "Contact@sgb.fr"

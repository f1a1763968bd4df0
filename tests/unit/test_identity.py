import time
from unittest import mock

import pytest

from services.common.identity import (
    Identity,
    IdentitySigner,
    IdentityVerifier,
    InvalidIdentity,
    sign_identity,
    verify_identity,
)

ALICE = Identity("1c7f4a1e-0000-4000-8000-000000000001", "alice", "user")


def test_a_signed_identity_verifies_to_the_same_caller() -> None:
    assert verify_identity(sign_identity(ALICE, "s3cret"), "s3cret") == ALICE


@pytest.mark.parametrize(
    "tamper",
    [
        lambda v: v[:-1] + ("0" if v[-1] != "0" else "1"),  # signature altered
        lambda v: "e30" + v[3:],  # payload altered
        lambda v: v.split(".")[0],  # signature removed
        lambda v: "",
    ],
)
def test_a_tampered_identity_is_refused(tamper: object) -> None:
    value = sign_identity(ALICE, "s3cret")
    with pytest.raises(InvalidIdentity):
        verify_identity(tamper(value), "s3cret")  # type: ignore[operator]


def test_another_secret_or_an_expired_identity_is_refused() -> None:
    with pytest.raises(InvalidIdentity):
        verify_identity(sign_identity(ALICE, "s3cret"), "other")
    old = sign_identity(ALICE, "s3cret", ttl=60, now=1_000_000)
    with pytest.raises(InvalidIdentity, match="expired"):
        verify_identity(old, "s3cret", now=1_000_061)
    assert verify_identity(old, "s3cret", now=1_000_059) == ALICE


def test_readonly_cannot_write() -> None:
    assert not Identity("x", "lecteur", "readonly").can_write
    assert ALICE.can_write


def test_the_gateway_reuses_a_signed_header_while_half_its_life_remains() -> None:
    sign = IdentitySigner("s3cret", ttl=60)
    first = sign(ALICE)
    assert sign(ALICE) == first
    assert verify_identity(first, "s3cret") == ALICE
    bob = Identity("u2", "bob", "readonly")
    assert sign(bob) != first
    assert verify_identity(sign(bob), "s3cret") == bob
    with mock.patch("services.common.identity.time.time", return_value=time.time() + 31):
        renewed = sign(ALICE)
    assert renewed != first


def test_a_service_trusts_a_verified_header_again_only_until_it_expires() -> None:
    verify = IdentityVerifier("s3cret")
    value = sign_identity(ALICE, "s3cret", ttl=60)
    assert verify(value) == ALICE
    assert verify(value) == ALICE
    forged = value[:-1] + ("0" if value[-1] != "0" else "1")
    with pytest.raises(InvalidIdentity):
        verify(forged)
    with (
        mock.patch("services.common.identity.time.time", return_value=time.time() + 61),
        pytest.raises(InvalidIdentity),
    ):
        verify(value)

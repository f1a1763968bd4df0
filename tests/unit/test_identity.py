import pytest

from services.common.identity import Identity, InvalidIdentity, sign_identity, verify_identity

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

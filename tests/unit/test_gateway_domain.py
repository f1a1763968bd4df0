import jwt
import pytest

from services.common.identity import Identity
from services.gateway.domain import (
    InvalidToken,
    hash_password,
    issue_token,
    read_token,
    verify_password,
)

BOB = Identity("6f1d3c2a-0000-4000-8000-000000000002", "bob", "readonly")


def test_a_token_carries_the_identity_until_it_expires() -> None:
    token = issue_token(BOB, "k" * 32, ttl=60)
    assert read_token(token, "k" * 32) == BOB
    expired = issue_token(BOB, "k" * 32, ttl=60, now=1_000_000)
    with pytest.raises(InvalidToken):
        read_token(expired, "k" * 32)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc.def.ghi",
        jwt.encode({"sub": "x", "name": "bob", "role": "admin"}, key=None, algorithm="none"),
        jwt.encode(
            {
                "sub": "x",
                "name": "bob",
                "role": "root",
                "iss": "webleads-tracker",
                "iat": 1,
                "exp": 2**40,
            },
            "k" * 32,
            algorithm="HS256",
        ),
    ],
)
def test_forged_or_unsigned_tokens_are_refused(token: str) -> None:
    with pytest.raises(InvalidToken):
        read_token(token, "k" * 32)


def test_a_token_signed_with_another_key_is_refused() -> None:
    with pytest.raises(InvalidToken):
        read_token(issue_token(BOB, "a" * 32, ttl=60), "b" * 32)


def test_passwords_are_salted_hashes_that_verify_only_the_right_password() -> None:
    first, second = hash_password("Secret-1"), hash_password("Secret-1")
    assert first != second
    assert "Secret-1" not in first
    assert first.startswith("$argon2")
    assert verify_password(first, "Secret-1")
    assert not verify_password(first, "secret-1")
    assert not verify_password(None, "Secret-1")  # unknown user: same work, same answer
    assert not verify_password("not-a-hash", "Secret-1")


def test_verified_tokens_are_remembered_until_they_expire() -> None:
    from services.gateway.domain import TokenClaims, VerifiedTokens

    tokens = VerifiedTokens("k" * 32)
    token = issue_token(BOB, "k" * 32, ttl=60)
    assert tokens.identity(token) == BOB
    assert tokens.identity(token) == BOB  # from memory
    expired = issue_token(BOB, "k" * 32, ttl=60, now=1_000_000)
    tokens._known[expired] = TokenClaims(BOB, 1_000_060.0, None)  # once verified, long ago
    with pytest.raises(InvalidToken):
        tokens.identity(expired)  # past its expiry: verified again, and refused
    with pytest.raises(InvalidToken):
        tokens.identity(issue_token(BOB, "other" * 8, ttl=60))

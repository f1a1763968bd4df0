"""Pure rules of the gateway: passwords and bearer tokens. No I/O."""

from __future__ import annotations

import secrets
import time
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from services.common.identity import ROLES, Identity

TOKEN_ISSUER = "webleads-tracker"  # noqa: S105 - an issuer name, not a secret
_hasher = PasswordHasher()
# Verified when the user does not exist, so both answers take the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class InvalidToken(Exception):
    pass


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def generate_password() -> str:
    return secrets.token_urlsafe(18)


def issue_token(identity: Identity, secret: str, ttl: int, now: float | None = None) -> str:
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        "iss": TOKEN_ISSUER,
        "sub": identity.user_id,
        "name": identity.username,
        "role": identity.role,
        "iat": issued,
        "exp": issued + ttl,
        "jti": secrets.token_hex(8),
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def read_token(token: str, secret: str) -> Identity:
    return read_token_until(token, secret)[0]


def read_token_until(token: str, secret: str) -> tuple[Identity, float]:
    """The identity a token carries and when it expires (epoch seconds)."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            issuer=TOKEN_ISSUER,
            options={"require": ["exp", "iat", "sub", "iss"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc
    role = claims.get("role")
    if role not in ROLES or not isinstance(claims.get("name"), str):
        raise InvalidToken("bad claims")
    return Identity(str(claims["sub"]), claims["name"], role), float(claims["exp"])


class VerifiedTokens:
    """Tokens already verified, until they expire: a client sends the same one on every call,
    and checking its signature again each time is a tenth of the gateway's work."""

    def __init__(self, secret: str, max_size: int = 10_000) -> None:
        self._secret = secret
        self._max_size = max_size
        self._known: dict[str, tuple[Identity, float]] = {}

    def identity(self, token: str, now: float | None = None) -> Identity:
        moment = now if now is not None else time.time()
        known = self._known.get(token)
        if known is not None and known[1] > moment:
            return known[0]
        identity, expires = read_token_until(token, self._secret)
        if len(self._known) >= self._max_size:
            self._known.clear()  # bounded: forget everything rather than grow
        self._known[token] = (identity, expires)
        return identity

"""Pure rules of the gateway: passwords and bearer tokens. No I/O."""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
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
    """A random password (24 characters) that obeys the policy."""
    while True:
        password = secrets.token_urlsafe(18)
        if password_problem(password) is None:
            return password


MIN_PASSWORD_LENGTH = 12


@functools.cache
def common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords of zxcvbn's data (MIT), lower case; loaded once."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS  # large: loaded only when needed

    return frozenset(word.lower() for word in FREQUENCY_LISTS["passwords"])


def password_problem(password: str) -> str | None:
    """Why a new password is refused (in French), or None when it obeys the policy."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Le mot de passe doit compter au moins {MIN_PASSWORD_LENGTH} caractères."
    if password.lower() in common_passwords():
        return "Ce mot de passe figure parmi les plus courants : choisissez-en un autre."
    return None


@dataclass(frozen=True)
class ThrottlePolicy:
    """When failed sign-ins lock a user name or a client address, and for how long."""

    username_failures: int = 5  # the failure that locks a user name
    address_failures: int = 20  # the failure that locks a client address (several users behind)
    base_seconds: float = 15.0  # the first lockout; each new failure after it doubles it
    cap_seconds: float = 900.0  # never longer than this
    forget_seconds: float = 3600.0  # failures older than this no longer count


def lockout_seconds(failures: int, threshold: int, policy: ThrottlePolicy) -> float | None:
    """How long a key is locked after its ``failures``-th failure in a row (None: not locked)."""
    if failures < threshold:
        return None
    doublings = min(failures - threshold, 32)  # beyond it the cap holds anyway
    return float(min(policy.base_seconds * 2**doublings, policy.cap_seconds))


CLIENT_ADDRESS_HEADER = "X-CRM-Client-Address"
CLIENT_PROOF_HEADER = "X-CRM-Client-Proof"


def client_address_proof(secret: str, address: str, session_id: uuid.UUID | str) -> str:
    """What the web interface sends beside the address of the browser a page request came
    from, when it calls the API for that page (the API then sees the gateway's own address):
    only a holder of the token secret can make it, for that session."""
    message = f"client-address|{session_id}|{address}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def issue_token(
    identity: Identity,
    secret: str,
    ttl: int,
    now: float | None = None,
    session_id: uuid.UUID | str | None = None,
) -> str:
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
    if session_id is not None:
        claims["sid"] = str(session_id)
    return jwt.encode(claims, secret, algorithm="HS256")


@dataclass(frozen=True)
class TokenClaims:
    """What a verified token says: who, until when (epoch seconds), and in which session."""

    identity: Identity
    expires: float
    session_id: uuid.UUID | None


def read_token(token: str, secret: str) -> Identity:
    return read_token_until(token, secret)[0]


def read_token_until(token: str, secret: str) -> tuple[Identity, float]:
    """The identity a token carries and when it expires (epoch seconds)."""
    claims = read_claims(token, secret)
    return claims.identity, claims.expires


def read_claims(token: str, secret: str) -> TokenClaims:
    """A token's verified claims; a token without a session id has ``session_id`` None."""
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
    session_id = None
    if "sid" in claims:
        try:
            session_id = uuid.UUID(str(claims["sid"]))
        except ValueError as exc:
            raise InvalidToken("bad session id") from exc
    identity = Identity(str(claims["sub"]), claims["name"], role)
    return TokenClaims(identity, float(claims["exp"]), session_id)


class VerifiedTokens:
    """Tokens already verified, until they expire: a client sends the same one on every call,
    and checking its signature again each time is a tenth of the gateway's work."""

    def __init__(self, secret: str, max_size: int = 10_000) -> None:
        self._secret = secret
        self._max_size = max_size
        self._known: dict[str, TokenClaims] = {}

    def identity(self, token: str, now: float | None = None) -> Identity:
        return self.claims(token, now).identity

    def claims(self, token: str, now: float | None = None) -> TokenClaims:
        moment = now if now is not None else time.time()
        known = self._known.get(token)
        if known is not None and known.expires > moment:
            return known
        claims = read_claims(token, self._secret)
        if len(self._known) >= self._max_size:
            self._known.clear()  # bounded: forget everything rather than grow
        self._known[token] = claims
        return claims

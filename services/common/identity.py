"""Who is calling: the identity the gateway hands to services in a signed internal header.

The header value is ``<base64url(JSON)>.<hex HMAC-SHA256>`` keyed with ``CRM_INTERNAL_SECRET``;
it expires quickly so a captured header is of little use. Pure code: no I/O.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Literal

import orjson

HEADER = "X-CRM-Identity"
Role = Literal["admin", "user", "readonly"]
ROLES: tuple[Role, ...] = ("admin", "user", "readonly")
DEFAULT_TTL_SECONDS = 60


class InvalidIdentity(Exception):
    """The internal identity header is missing, forged, malformed or expired."""


@dataclass(frozen=True)
class Identity:
    user_id: str
    username: str
    role: Role

    @property
    def can_write(self) -> bool:
        return self.role != "readonly"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def sign_identity(
    identity: Identity, secret: str, *, ttl: int = DEFAULT_TTL_SECONDS, now: float | None = None
) -> str:
    expires = int((now if now is not None else time.time()) + ttl)
    payload = _b64(
        orjson.dumps(
            {
                "sub": identity.user_id,
                "name": identity.username,
                "role": identity.role,
                "exp": expires,
            }
        )
    )
    return f"{payload}.{_mac(secret, payload)}"


def verify_identity(value: str | None, secret: str, *, now: float | None = None) -> Identity:
    if not value:
        raise InvalidIdentity("missing identity")
    payload, _, signature = value.partition(".")
    if not payload or not hmac.compare_digest(signature, _mac(secret, payload)):
        raise InvalidIdentity("bad signature")
    try:
        claims = orjson.loads(_unb64(payload))
        expires = int(claims["exp"])
        identity = Identity(str(claims["sub"]), str(claims["name"]), claims["role"])
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidIdentity("malformed identity") from exc
    if identity.role not in ROLES:
        raise InvalidIdentity("unknown role")
    if expires < (now if now is not None else time.time()):
        raise InvalidIdentity("expired identity")
    return identity

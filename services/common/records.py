"""Conventions every record follows: ETags and If-Match, JSON merge patch (RFC 7396)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from .errors import FieldError, NotFound, PreconditionFailed, ValidationFailed

_ETAG = re.compile(r'^\s*(?:W/)?"(\d+)"\s*$')


def etag(version: int) -> str:
    return f'"{version}"'


def check_if_match(header: str | None, version: int) -> None:
    """Refuse (412) a write made against another version than the current one."""
    if header is None or header.strip() in ("", "*"):
        return
    for candidate in header.split(","):
        match = _ETAG.match(candidate)
        if match and int(match.group(1)) == version:
            return
    raise PreconditionFailed(
        f"La fiche a été modifiée depuis votre lecture (version actuelle : {version}). "
        "Rechargez-la puis recommencez."
    )


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396: objects merge recursively, null removes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def refuse_unknown_fields(patch: Mapping[str, Any], known: Iterable[str]) -> None:
    """A merge patch naming a field the record does not have is refused (422), null included:
    RFC 7396 alone would drop ``{"typo": null}`` silently."""
    allowed = set(known)
    unknown = [name for name in patch if name not in allowed]
    if unknown:
        raise ValidationFailed([FieldError(name, "Champ inconnu.") for name in unknown])


def parse_record_id(text: str, what: str = "fiche") -> uuid.UUID:
    """A record id from a URL; anything that is not a UUID is simply not found."""
    try:
        return uuid.UUID(text)
    except ValueError as exc:
        raise NotFound(f"Aucune {what} ne porte cet identifiant.") from exc

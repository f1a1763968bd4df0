"""Request bodies validated once, at the edge, with every bad field reported at once (in French)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Annotated, Any, TypeVar

import orjson
from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ValidationError

from .errors import BadRequest, FieldError, ValidationFailed

M = TypeVar("M", bound=BaseModel)

_MESSAGES = {
    "missing": "Ce champ est obligatoire.",
    "string_type": "Doit être une chaîne de caractères.",
    "string_too_short": "Ne doit pas être vide.",
    "string_too_long": "Ne doit pas dépasser {max_length} caractères.",
    "extra_forbidden": "Champ inconnu.",
    "int_type": "Doit être un nombre entier.",
    "int_parsing": "Doit être un nombre entier.",
    "int_from_float": "Doit être un nombre entier.",
    "bool_type": "Doit valoir true ou false.",
    "bool_parsing": "Doit valoir true ou false.",
    "greater_than_equal": "Doit être supérieur ou égal à {ge}.",
    "greater_than": "Doit être strictement supérieur à {gt}.",
    "less_than": "Doit être strictement inférieur à {lt}.",
    "less_than_equal": "Doit être inférieur ou égal à {le}.",
    "model_type": "Doit être un objet JSON.",
    "dict_type": "Doit être un objet JSON.",
    "list_type": "Doit être une liste.",
    "uuid_parsing": "Doit être un identifiant (UUID).",
    "uuid_type": "Doit être un identifiant (UUID).",
    "literal_error": "Valeur non autorisée ; valeurs possibles : {expected}.",
    "enum": "Valeur non autorisée ; valeurs possibles : {expected}.",
    "json_type": "Doit être du JSON.",
    "decimal_parsing": 'Doit être un nombre décimal (ex. "1234.50").',
    "decimal_type": 'Doit être un nombre décimal (ex. "1234.50").',
    "decimal_max_places": "Au plus {decimal_places} décimales.",
    "decimal_max_digits": "Nombre trop grand.",
    "decimal_whole_digits": "Nombre trop grand.",
    "finite_number": "Doit être un nombre fini.",
    "float_type": "Doit être un nombre.",
    "float_parsing": "Doit être un nombre.",
    "string_pattern_mismatch": "Format invalide.",
    "date_parsing": "Date attendue au format AAAA-MM-JJ.",
    "date_from_datetime_parsing": "Date attendue au format AAAA-MM-JJ.",
    "datetime_parsing": "Date et heure attendues au format RFC 3339.",
    "datetime_from_date_parsing": "Date et heure attendues au format RFC 3339.",
    "timezone_aware": "Précisez le fuseau horaire (ex. 2026-11-28T09:30:00Z).",
}


def _written_as_text(value: Any) -> Any:
    """Dates travel as text: Pydantic would otherwise read a number as a Unix time."""
    if isinstance(value, int | float):
        raise ValueError(
            "Date attendue sous forme de texte (AAAA-MM-JJ, ou RFC 3339 avec l'heure)."
        )
    return value


def _within_the_calendar(value: datetime) -> datetime:
    """A time PostgreSQL stores in UTC: 0001-01-01T00:00+14:00 is before year 1 there."""
    try:
        value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("Date hors des limites du calendrier (années 1 à 9999).") from exc
    return value


# The date types of request bodies: ISO 8601 text only, as the OpenAPI document says.
IsoDate = Annotated[date, BeforeValidator(_written_as_text)]
IsoDatetime = Annotated[
    AwareDatetime, BeforeValidator(_written_as_text), AfterValidator(_within_the_calendar)
]


def _message(error: Any) -> str:
    ctx = error.get("ctx") or {}
    if error["type"] == "value_error" and "error" in ctx:
        return str(ctx["error"])
    template = _MESSAGES.get(error["type"])
    if template is None:
        return str(error["msg"])
    try:
        return template.format(**ctx)
    except (KeyError, IndexError):
        return str(error["msg"])


def field_errors(exc: ValidationError, prefix: str = "") -> list[FieldError]:
    """One entry per bad field, with a dotted path (``address.city``, ``lines.0.quantity``)."""
    seen: dict[str, str] = {}
    for error in exc.errors():
        path = ".".join(str(part) for part in error["loc"]) or "body"
        if prefix:
            path = f"{prefix}.{path}"
        seen.setdefault(path, _message(error))
    return [FieldError(field, message) for field, message in seen.items()]


NUL_MESSAGE = "Le caractère nul (U+0000) n'est pas accepté."


def parse_json(raw: bytes) -> Any:
    """The JSON document ``raw``; 400 when empty or malformed, 422 naming each string that holds
    a NUL character (PostgreSQL text cannot store it)."""
    if not raw.strip():
        raise BadRequest("Le corps de la requête est vide ; un objet JSON est attendu.")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"JSON mal formé : {exc}") from exc
    if b"\\u0000" in raw:  # rare: look for it only then
        bad = sorted(set(_nul_paths(data, "")))
        if bad:
            raise ValidationFailed([FieldError(path or "body", NUL_MESSAGE) for path in bad])
    return data


def _nul_paths(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, str):
        if "\x00" in value:
            yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            name = f"{path}.{key}" if path else str(key)
            if "\x00" in str(key):
                yield name
            yield from _nul_paths(item, name)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nul_paths(item, f"{path}.{index}" if path else str(index))


def validate(model: type[M], data: Any) -> M:
    if not isinstance(data, dict):
        raise ValidationFailed([FieldError("body", "Doit être un objet JSON.")])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(field_errors(exc)) from exc


def try_validate(model: type[M], data: Any) -> tuple[M | None, list[FieldError]]:
    """Like ``validate`` but hands the errors back, to report them with other checks at once."""
    try:
        return validate(model, data), []
    except ValidationFailed as exc:
        return None, exc.errors

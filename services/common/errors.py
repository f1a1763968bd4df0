"""Domain-level errors, mapped to problem+json (RFC 9457) in one middleware."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class ProblemError(Exception):
    status = 500
    title = "Erreur interne"
    type_suffix = "internal"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title


class BadRequest(ProblemError):
    status, title, type_suffix = 400, "Requête invalide", "bad-request"


class Unauthorized(ProblemError):
    status, title, type_suffix = 401, "Authentification requise", "unauthorized"

    def __init__(self, detail: str | None = None, challenge: str = "Bearer") -> None:
        super().__init__(detail)
        self.challenge = challenge  # the WWW-Authenticate header of the answer


class Forbidden(ProblemError):
    status, title, type_suffix = 403, "Action non autorisée", "forbidden"


class NotFound(ProblemError):
    status, title, type_suffix = 404, "Introuvable", "not-found"


class Conflict(ProblemError):
    status, title, type_suffix = 409, "Conflit", "conflict"


class PreconditionFailed(ProblemError):
    status, title, type_suffix = 412, "La fiche a été modifiée entre-temps", "precondition-failed"


class PayloadTooLarge(ProblemError):
    status, title, type_suffix = 413, "Requête trop volumineuse", "payload-too-large"


class UnsupportedMediaType(ProblemError):
    status, title, type_suffix = 415, "Type de contenu non pris en charge", "unsupported-media-type"


class TooManyRequests(ProblemError):
    status, title, type_suffix = 429, "Trop de requêtes", "too-many-requests"

    def __init__(self, detail: str | None = None, retry_after: int = 60) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class ServiceUnavailable(ProblemError):
    status, title, type_suffix = 503, "Service momentanément indisponible", "service-unavailable"

    def __init__(self, detail: str | None = None, retry_after: int = 5) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class ValidationFailed(ProblemError):
    status, title, type_suffix = 422, "Données invalides", "validation"

    def __init__(self, errors: list[FieldError], detail: str | None = None) -> None:
        super().__init__(detail or "Un ou plusieurs champs sont invalides.")
        self.errors = errors

"""The gateway's own entity: the users who sign in (their records and events are the gateway's;
see schemas.py for what each route validates)."""

from __future__ import annotations

from typing import Any

from services.common.entities import Entity, Field

from . import repository as sql
from .schemas import Email, Extension

ROLES = (("admin", "Administrateur"), ("user", "Utilisateur"), ("readonly", "Lecture seule"))

USER = Entity(
    name="user",
    collection="users",
    label="Utilisateur",
    plural="Utilisateurs",
    title_field="username",
    fields=(
        Field(
            "username",
            "Identifiant",
            "text",
            required=True,
            read_only=True,
            max_length=150,
            listed=True,
            help="Choisi à la création, il ne change plus.",
        ),
        Field("display_name", "Nom affiché", "text", max_length=150, listed=True, default=""),
        Field("email", "E-mail", "email", annotation=Email, listed=True),
        Field(
            "phone_extension",
            "Poste téléphonique",
            "text",
            max_length=20,
            annotation=Extension,
            help="Attribué par un administrateur ; sert au ClickToCall.",
        ),
        Field("role", "Rôle", "list", required=True, choices=ROLES, listed=True),
        Field("active", "Actif", "boolean", required=True, listed=True),
    ),
    sorts=tuple(sql.USER_SORTABLE),
    default_sort="username",
    events=("created", "updated"),
)
ENTITIES = (USER,)


def public_entities() -> list[dict[str, Any]]:
    """The gateway's entities as the registry serves them."""
    return [entity.public("gateway") for entity in ENTITIES]

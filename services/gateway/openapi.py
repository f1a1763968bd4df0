"""The OpenAPI 3.1 document of the public API: the gateway's own operations (sign-in, users,
the 360° view, printing, ClickToCall, telephony callbacks, the declarations and the event
catalogue) and the fragments every service publishes at /internal/meta, merged; and a browsable
reference served with local assets.

The gateway imports no service: the records, their lists and actions are described by the
services' fragments, and the 360° view and printing by the declarations the registry holds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import Field

from services.common.openapi import (
    LIST_PARAMS,
    PDF,
    AuditEntry,
    Op,
    Open,
    Ref,
    fragment,
    page_model,
    patch_model,
)
from services.common.openapi import (
    document as merged_document,
)

from . import api_models as out
from .registry import Registry
from .schemas import (
    CallRequest,
    LoginBody,
    PasswordChange,
    ProfileFields,
    TelephonyEvent,
    UserCreate,
    UserFields,
)

INFO = {
    "title": "webleads-tracker",
    "version": "1.0.0",
    "description": "L'API du CRM webleads-tracker : comptes, contacts, actions, affaires, "
    "projets, devis, factures, fusion Word, téléphonie. Erreurs au format "
    "application/problem+json (RFC 9457).",
}
SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
    "telephonySignature": {"type": "apiKey", "in": "header", "name": "X-Signature"},
}
VIEW = "AccountView"
VIEW_HEADERS = {
    "X-View-Cache": {
        "schema": {"type": "string", "enum": ["hit", "miss"]},
        "description": "hit : vue gardée par la passerelle (elle l'oublie dès qu'une "
        "modification la concerne) ; miss : composée pour cette requête",
    },
    "X-SQL-Statements": {
        "schema": {"type": "string"},
        "description": "Requêtes SQL faites pour composer la vue (0 si gardée)",
    },
}
NO_CACHE = {
    "name": "Cache-Control",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": "no-cache : composer la vue maintenant",
}
U = "Utilisateurs"


def record_component(entity: Mapping[str, Any]) -> str:
    """The component schema of an entity's record, as its service names it: "Account"."""
    return "".join(part.title() for part in str(entity["name"]).split("_"))


def user_operations() -> list[Op]:
    return [
        Op(
            "post",
            "/api/v1/auth/login",
            "Se connecter",
            "Authentification",
            LoginBody,
            answer=out.Token,
            public=True,
        ),
        Op("post", "/api/v1/auth/logout", "Se déconnecter", "Authentification", status=204),
        Op(
            "get",
            "/api/v1/users/{id}/sessions",
            "Sessions ouvertes d'un utilisateur (admin, ou lui-même)",
            U,
            answer=out.SessionList,
        ),
        Op(
            "delete",
            "/api/v1/users/{id}/sessions",
            "Fermer toutes les sessions d'un utilisateur (admin)",
            U,
            status=204,
        ),
        Op(
            "delete",
            "/api/v1/users/{id}/sessions/{session_id}",
            "Fermer une session (admin, ou l'utilisateur lui-même)",
            U,
            status=204,
        ),
        Op("get", "/api/v1/users/me", "Mon profil", U, answer=out.User),
        Op(
            "patch",
            "/api/v1/users/me",
            "Modifier mon profil",
            U,
            patch_model("ProfilePatch", ProfileFields),
            answer=out.User,
            body_type="application/merge-patch+json",
        ),
        Op("post", "/api/v1/users/me/password", "Changer mon mot de passe", U, PasswordChange, 204),
        Op(
            "get",
            "/api/v1/users",
            "Lister les utilisateurs (admin)",
            U,
            answer=page_model(out.User),
            query=LIST_PARAMS,
        ),
        Op(
            "get",
            "/api/v1/users/directory",
            "Annuaire des utilisateurs : identifiant, nom, actif (tout utilisateur connecté)",
            U,
            answer=out.UserDirectory,
        ),
        Op("post", "/api/v1/users", "Créer un utilisateur (admin)", U, UserCreate, 201, out.User),
        Op(
            "get",
            "/api/v1/users/{id}",
            "Lire un utilisateur (admin, ou lui-même)",
            U,
            answer=out.User,
        ),
        Op(
            "patch",
            "/api/v1/users/{id}",
            "Modifier un utilisateur (admin)",
            U,
            patch_model("UserPatch", UserFields),
            answer=out.User,
            body_type="application/merge-patch+json",
            if_match=True,
        ),
        Op(
            "post",
            "/api/v1/users/{id}/password",
            "Réinitialiser un mot de passe (admin ; le sien avec l'actuel)",
            U,
            PasswordChange,
            204,
        ),
        Op(
            "get",
            "/api/v1/users/{id}/audit",
            "Historique d'un utilisateur (admin, ou lui-même)",
            U,
            answer=AuditEntry,
            list_of=True,
        ),
    ]


class FieldDeclaration(Open):
    """A field as its entity declares it (services.common.entities.Field.public)."""

    name: str
    label: str
    kind: str
    required: bool
    read_only: bool
    max_length: int | None = None
    help: str
    listed: bool
    printed: bool


class EntityDeclaration(Open):
    """An entity as its service declares it (services.common.entities.Entity.public)."""

    name: str = Field(description="Nom de l'entité dans les événements : account")
    collection: str = Field(description="Nom de la collection dans les chemins : accounts")
    service: str = Field(description="Le service qui la garde (gateway : les utilisateurs)")
    label: str
    plural: str
    feminine: bool = Field(
        False, description="Le genre du libellé : « Nouvelle affaire », « Nouveau compte »"
    )
    title_field: str
    fields: list[FieldDeclaration]
    sorts: list[str]
    default_sort: str
    filters: list[dict[str, Any]]
    search: str | None = None
    tab: dict[str, Any] | None = None
    events: list[str]
    derived_events: list[str]
    printing: dict[str, Any] | None = None
    audited: bool
    lock: dict[str, Any] | None = Field(
        None,
        description="Quand une fiche enregistrée ne se modifie plus : tant que `field` ne vaut "
        "pas l'une des valeurs `editable` ; `reason` dit pourquoi (409 sinon)",
    )
    path: str


class EntityDeclarations(Open):
    items: list[EntityDeclaration]


class EventCatalogue(Open):
    """Event type -> its JSON Schema."""


M = "Métadonnées"


def meta_operations() -> list[Op]:
    """The declarations and the event catalogue, served by the gateway from what the services
    described (those not described yet are left out, or 503 for one of their entities)."""
    return [
        Op(
            "get",
            "/api/v1/meta/entities",
            "Entités déclarées par les services (et les utilisateurs)",
            M,
            answer=EntityDeclarations,
        ),
        Op(
            "get",
            "/api/v1/meta/entities/{collection}",
            "Déclaration d'une entité, par sa collection",
            M,
            answer=EntityDeclaration,
        ),
        Op(
            "get",
            "/api/v1/meta/events",
            "Catalogue des événements (schéma JSON de chaque type)",
            M,
            answer=EventCatalogue,
        ),
    ]


def composed_operations(entities: Sequence[Mapping[str, Any]]) -> list[Op]:
    """What the gateway composes from the services: the 360° view of an account, the printed
    record of every entity with a print layout, ClickToCall and the telephony callbacks."""
    ops = [
        Op(
            "get",
            "/api/v1/accounts/{id}/view",
            "Vue 360° d'un compte",
            "Comptes",
            answer=Ref(VIEW),
            query=("per_tab",),
            answer_headers=VIEW_HEADERS,
            header_params=(NO_CACHE,),
        )
    ]
    ops += [
        Op(
            "get",
            f"/api/v1/{entity['collection']}/{{id}}/print",
            f"Imprimer une fiche {entity['label']} (PDF)",
            str(entity["plural"]),
            answer=PDF,
        )
        for entity in entities
        if entity.get("printing")
    ]
    ops += [
        Op(
            "post",
            "/api/v1/accounts/{id}/call",
            "ClickToCall (numéros autorisés seulement ; un nombre d'appels par minute)",
            "Téléphonie",
            CallRequest,
            202,
            out.CallPlaced,
        ),
        Op(
            "get",
            "/api/v1/calls/{id}",
            "Où en est un appel ClickToCall (son auteur et les administrateurs)",
            "Téléphonie",
            answer=out.CallProgress,
        ),
        Op(
            "post",
            "/api/v1/telephony/events",
            "Rappel du serveur de téléphonie (signé)",
            "Téléphonie",
            TelephonyEvent,
            202,
            out.CallbackResult,
            public=True,
        ),
    ]
    return ops


def operations(entities: Sequence[Mapping[str, Any]]) -> list[Op]:
    """The gateway's own operations."""
    return [*user_operations(), *composed_operations(entities), *meta_operations()]


def view_components(entities: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The 360° view's schema: the account, then one tab per entity declaring one (in their
    order), each a page of that entity's records, and the tabs that could not be read."""
    tabbed = sorted((e for e in entities if e.get("tab")), key=lambda e: e["tab"]["order"])
    schemas: dict[str, Any] = {}
    properties: dict[str, Any] = {"account": {"$ref": "#/components/schemas/Account"}}
    for entity in tabbed:
        record = record_component(entity)
        schemas[f"{record}Tab"] = {
            "additionalProperties": True,
            "properties": {
                "href": {"title": "Href", "type": "string"},
                "items": {
                    "items": {"$ref": f"#/components/schemas/{record}"},
                    "title": "Items",
                    "type": "array",
                },
                "total": {"title": "Total", "type": "integer"},
                "total_is_capped": {"title": "Total Is Capped", "type": "boolean"},
            },
            "required": ["total", "total_is_capped", "items", "href"],
            "title": f"{record}Tab",
            "type": "object",
        }
        properties[str(entity["collection"])] = {
            "anyOf": [{"$ref": f"#/components/schemas/{record}Tab"}, {"type": "null"}],
            "default": None,
        }
    properties["unavailable"] = {
        "items": {"type": "string"},
        "title": "Unavailable",
        "type": "array",
    }
    schemas[VIEW] = {
        "additionalProperties": True,
        "properties": properties,
        "required": ["account", "unavailable"],
        "title": VIEW,
        "type": "object",
    }
    return schemas


def build(
    entities: Sequence[Mapping[str, Any]], fragments: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """The document of the gateway's operations and the services' ``fragments``."""
    own = fragment(operations(entities))
    views = {"components": {"schemas": view_components(entities)}}
    return merged_document([own, *fragments, views], INFO, SECURITY_SCHEMES)


class Documents:
    """The document, built again whenever the registry learns something new."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._built: tuple[int, dict[str, Any]] | None = None

    def document(self) -> dict[str, Any]:
        version = self._registry.version
        if self._built is None or self._built[0] != version:
            self._built = (version, build(self._registry.entities(), self._registry.fragments()))
        return self._built[1]


DOCS_PAGE = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>webleads-tracker — API</title>
<link rel="stylesheet" href="/api/docs/assets/swagger-ui.css"></head>
<body><div id="api"></div>
<script src="/api/docs/assets/swagger-ui-bundle.js"></script>
<script src="/api/docs/assets/start.js"></script></body></html>
"""
START_SCRIPT = """window.ui = SwaggerUIBundle({url: "/api/v1/openapi.json", dom_id: "#api",
  deepLinking: true, persistAuthorization: true});
"""

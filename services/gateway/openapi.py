"""The OpenAPI 3.1 document of the public API, built from the Pydantic models that validate
requests (and describe responses), and a browsable reference served with local assets."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from services.accounts.schemas import (
    AccountFields,
    ContactFields,
    PicklistValueCreate,
    PicklistValueUpdate,
)
from services.activities.schemas import ActionFields, OpportunityFields, ProjectFields
from services.documents.mailmerge import MergeMany, MergeOne
from services.documents.schemas import InvoiceFields, Payment, QuoteFields

from . import api_models as out
from .schemas import (
    CallRequest,
    LoginBody,
    PasswordChange,
    ProfileFields,
    TelephonyEvent,
    UserCreate,
    UserFields,
)

PDF, DOCX, ZIP = (
    "application/pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/zip",
)
ERRORS = {
    "400": "JSON mal formé",
    "401": "Authentification requise",
    "403": "Rôle insuffisant",
    "404": "Fiche introuvable",
    "409": "Conflit d'état",
    "412": "Version dépassée (If-Match)",
    "413": "Requête trop volumineuse",
    "414": "Adresse trop longue (plus de 8 Kio)",
    "415": "Type de contenu non pris en charge",
    "422": "Données invalides (un `errors` par champ)",
    "429": "Trop de tentatives ou d'appels (Retry-After)",
    "431": "En-têtes trop volumineux",
    "502": "Refus d'un serveur tiers",
    "503": "Service momentanément indisponible (Retry-After)",
}
LIST_PARAMS = ("limit", "cursor", "sort")


@dataclass(frozen=True)
class Op:
    method: str
    path: str
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    status: int = 200
    answer: type[BaseModel] | str | None = None  # a model, a media type, or nothing (204)
    query: tuple[str, ...] = ()
    public: bool = False
    body_type: str = "application/json"
    if_match: bool = False
    idempotent: bool = False  # a creation that honours Idempotency-Key
    list_of: bool = False
    also: tuple[str, ...] = ()  # other media types the answer may have


def _crud(
    collection: str,
    tag: str,
    written: type[BaseModel],
    record: type[BaseModel],
    filters: tuple[str, ...],
) -> list[Op]:
    one = f"/api/v1/{collection}/{{id}}"
    patch = out.patch_model(f"{record.__name__}Patch", written)
    return [
        Op(
            "post",
            f"/api/v1/{collection}",
            f"Créer ({tag})",
            tag,
            written,
            201,
            record,
            idempotent=True,
        ),
        Op(
            "get",
            f"/api/v1/{collection}",
            f"Lister ({tag})",
            tag,
            answer=out.page_model(record),
            query=LIST_PARAMS + filters,
        ),
        Op("get", one, f"Lire ({tag})", tag, answer=record),
        Op(
            "patch",
            one,
            f"Modifier (JSON merge patch, If-Match) ({tag})",
            tag,
            patch,
            answer=record,
            body_type="application/merge-patch+json",
            if_match=True,
        ),
        Op("delete", one, f"Mettre à la corbeille ({tag})", tag, status=204, if_match=True),
        Op("post", f"{one}/restore", f"Restaurer de la corbeille ({tag})", tag, answer=record),
        Op(
            "get",
            f"{one}/audit",
            f"Historique (audit trail) ({tag})",
            tag,
            answer=out.AuditEntry,
            list_of=True,
        ),
        Op(
            "get",
            f"{one}/audit/verify",
            f"Vérifier la chaîne d'audit ({tag})",
            tag,
            answer=out.ChainCheck,
        ),
    ]


def operations() -> list[Op]:
    a = "/api/v1/accounts/{id}"
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
            "Utilisateurs",
            answer=out.SessionList,
        ),
        Op(
            "delete",
            "/api/v1/users/{id}/sessions",
            "Fermer toutes les sessions d'un utilisateur (admin)",
            "Utilisateurs",
            status=204,
        ),
        Op(
            "delete",
            "/api/v1/users/{id}/sessions/{session_id}",
            "Fermer une session (admin, ou l'utilisateur lui-même)",
            "Utilisateurs",
            status=204,
        ),
        Op("get", "/api/v1/users/me", "Mon profil", "Utilisateurs", answer=out.User),
        Op(
            "patch",
            "/api/v1/users/me",
            "Modifier mon profil",
            "Utilisateurs",
            out.patch_model("ProfilePatch", ProfileFields),
            answer=out.User,
            body_type="application/merge-patch+json",
        ),
        Op(
            "post",
            "/api/v1/users/me/password",
            "Changer mon mot de passe",
            "Utilisateurs",
            PasswordChange,
            204,
        ),
        Op(
            "get",
            "/api/v1/users",
            "Lister les utilisateurs (admin)",
            "Utilisateurs",
            answer=out.page_model(out.User),
            query=LIST_PARAMS,
        ),
        Op(
            "post",
            "/api/v1/users",
            "Créer un utilisateur (admin)",
            "Utilisateurs",
            UserCreate,
            201,
            out.User,
        ),
        Op(
            "get",
            "/api/v1/users/{id}",
            "Lire un utilisateur (admin, ou lui-même)",
            "Utilisateurs",
            answer=out.User,
        ),
        Op(
            "patch",
            "/api/v1/users/{id}",
            "Modifier un utilisateur (admin)",
            "Utilisateurs",
            out.patch_model("UserPatch", UserFields),
            answer=out.User,
            body_type="application/merge-patch+json",
            if_match=True,
        ),
        Op(
            "post",
            "/api/v1/users/{id}/password",
            "Réinitialiser un mot de passe (admin ; le sien avec l'actuel)",
            "Utilisateurs",
            PasswordChange,
            204,
        ),
        Op(
            "get",
            "/api/v1/users/{id}/audit",
            "Historique d'un utilisateur (admin, ou lui-même)",
            "Utilisateurs",
            answer=out.AuditEntry,
            list_of=True,
        ),
        *_crud(
            "accounts",
            "Comptes",
            AccountFields,
            out.Account,
            (
                "q",
                "account_type",
                "industry",
                "owner",
                "city",
                "postal_code",
                "updated_since",
                "parent_account_id",
                "phone",
                "trashed",
            ),
        ),
        Op(
            "post",
            f"{a}/duplicate",
            "Dupliquer un compte",
            "Comptes",
            status=201,
            answer=out.Account,
            idempotent=True,
        ),
        Op(
            "get",
            f"{a}/view",
            "Vue 360° d'un compte",
            "Comptes",
            answer=out.View,
            query=("per_tab",),
        ),
        Op("get", f"{a}/map", "Le compte sur une carte", "Comptes", answer=out.MapPoint),
        Op("get", f"{a}/print", "Imprimer un compte (PDF)", "Comptes", answer=PDF),
        Op(
            "post",
            f"{a}/call",
            "ClickToCall (numéros autorisés seulement ; un nombre d'appels par minute)",
            "Téléphonie",
            CallRequest,
            202,
            out.CallPlaced,
        ),
        Op(
            "post",
            f"{a}/mail-merge",
            "Fusionner le compte dans un modèle Word",
            "Fusion",
            MergeOne,
            answer=DOCX,
            also=(PDF,),
        ),
        Op("post", "/api/v1/mail-merge", "Fusion en nombre (zip)", "Fusion", MergeMany, answer=ZIP),
        *_crud("contacts", "Contacts", ContactFields, out.Contact, ("account_id", "q", "phone")),
        Op(
            "get",
            "/api/v1/contacts/{id}/print",
            "Imprimer un contact (PDF)",
            "Contacts",
            answer=PDF,
        ),
        Op("get", "/api/v1/picklists/{name}", "Valeurs d'une liste", "Listes", answer=out.Picklist),
        Op(
            "post",
            "/api/v1/picklists/{name}",
            "Ajouter une valeur (admin)",
            "Listes",
            PicklistValueCreate,
            201,
            out.PicklistValue,
        ),
        Op(
            "patch",
            "/api/v1/picklists/{name}/{code}",
            "Renommer, désactiver une valeur (admin)",
            "Listes",
            PicklistValueUpdate,
            answer=out.PicklistValue,
        ),
        *_crud(
            "actions",
            "Actions",
            ActionFields,
            out.Action,
            (
                "account_id",
                "contact_id",
                "opportunity_id",
                "project_id",
                "type",
                "status",
                "direction",
            ),
        ),
        *_crud(
            "opportunities",
            "Affaires",
            OpportunityFields,
            out.Opportunity,
            ("account_id", "contact_id", "stage"),
        ),
        Op(
            "get",
            "/api/v1/opportunities/{id}/print",
            "Imprimer une affaire (PDF)",
            "Affaires",
            answer=PDF,
        ),
        *_crud(
            "projects",
            "Projets",
            ProjectFields,
            out.Project,
            ("account_id", "opportunity_id", "status"),
        ),
        Op("get", "/api/v1/projects/{id}/print", "Imprimer un projet (PDF)", "Projets", answer=PDF),
        *_crud("quotes", "Devis", QuoteFields, out.Quote, ("account_id",)),
        *(
            Op("post", f"/api/v1/quotes/{{id}}/{verb}", label, "Devis", answer=out.Quote)
            for verb, label in (
                ("send", "Envoyer un devis"),
                ("accept", "Accepter un devis"),
                ("refuse", "Refuser un devis"),
            )
        ),
        Op(
            "post",
            "/api/v1/quotes/{id}/invoice",
            "Facturer un devis accepté",
            "Devis",
            status=201,
            answer=out.Invoice,
        ),
        Op("get", "/api/v1/quotes/{id}/pdf", "Devis en PDF", "Devis", answer=PDF),
        *_crud("invoices", "Factures", InvoiceFields, out.Invoice, ("account_id",)),
        Op(
            "post",
            "/api/v1/invoices/{id}/issue",
            "Émettre une facture (numéro, PDF figé)",
            "Factures",
            answer=out.Invoice,
        ),
        Op(
            "post",
            "/api/v1/invoices/{id}/pay",
            "Enregistrer le paiement",
            "Factures",
            Payment,
            answer=out.Invoice,
        ),
        Op(
            "post",
            "/api/v1/invoices/{id}/credit-note",
            "Annuler par un avoir",
            "Factures",
            status=201,
            answer=out.Invoice,
        ),
        Op("get", "/api/v1/invoices/{id}/pdf", "Facture en PDF", "Factures", answer=PDF),
        Op(
            "get",
            "/api/v1/templates",
            "Lister les modèles Word",
            "Fusion",
            answer=out.page_model(out.Template),
            query=LIST_PARAMS,
        ),
        Op(
            "post",
            "/api/v1/templates",
            "Déposer un modèle Word (.docx)",
            "Fusion",
            out.TemplateUpload,
            201,
            out.Template,
            body_type="multipart/form-data",
        ),
        Op("get", "/api/v1/templates/{id}", "Lire un modèle Word", "Fusion", answer=out.Template),
        Op("delete", "/api/v1/templates/{id}", "Supprimer un modèle Word", "Fusion", status=204),
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


@cache
def document() -> dict[str, Any]:
    ops = operations()
    models: list[tuple[type[BaseModel], Any]] = [(out.Problem, "serialization")]
    for op in ops:
        if op.body is not None:
            models.append((op.body, "validation"))
        if isinstance(op.answer, type):
            models.append((op.answer, "serialization"))
    refs, schema = models_json_schema(models, ref_template="#/components/schemas/{model}")
    components = schema.get("$defs", {})
    paths: dict[str, dict[str, Any]] = {}
    for op in ops:
        paths.setdefault(op.path, {})[op.method] = _operation(op, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "webleads-tracker",
            "version": "1.0.0",
            "description": "L'API du CRM webleads-tracker : comptes, contacts, actions, affaires, "
            "projets, devis, factures, fusion Word, téléphonie. Erreurs au format "
            "application/problem+json (RFC 9457).",
        },
        "servers": [{"url": "/"}],
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "telephonySignature": {"type": "apiKey", "in": "header", "name": "X-Signature"},
            },
        },
        "security": [{"bearer": []}],
        "paths": paths,
    }


IDEMPOTENCY_KEY: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
    "description": "Clé choisie par le client (1 à 255 caractères ASCII imprimables), propre à "
    "l'utilisateur et gardée 24 h : la même requête répétée avec la même clé reçoit la réponse "
    "de la première (même statut, corps, Location, ETag ; en-tête Idempotency-Replayed: true) "
    "sans créer de seconde fiche ; la même clé avec un autre corps : 422 nommant l'en-tête.",
}


def _operation_id(op: Op) -> str:
    path = op.path.removeprefix("/api/v1/").replace("/", "_").replace("{", "").replace("}", "")
    return f"{op.method}_{path}"


def _operation(op: Op, refs: Any) -> dict[str, Any]:
    problem = {"application/problem+json": {"schema": refs[(out.Problem, "serialization")]}}
    responses: dict[str, Any] = {
        code: {"description": text, "content": problem} for code, text in ERRORS.items()
    }
    success: dict[str, Any] = {"description": "Succès"}
    if isinstance(op.answer, type):
        schema = refs[(op.answer, "serialization")]
        success["content"] = {
            "application/json": {
                "schema": {"type": "array", "items": schema} if op.list_of else schema
            }
        }
    elif isinstance(op.answer, str):
        binary = {"schema": {"type": "string", "format": "binary"}}
        success["content"] = {media: binary for media in (op.answer, *op.also)}
    if op.answer is out.Account or op.answer in (
        out.Contact,
        out.Action,
        out.Opportunity,
        out.Project,
        out.Quote,
        out.Invoice,
        out.User,
    ):
        success["headers"] = {
            "ETag": {"schema": {"type": "string"}, "description": "La version de la fiche"}
        }
    if op.answer is out.View:
        success["headers"] = {
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
    responses[str(op.status)] = success
    operation: dict[str, Any] = {
        "summary": op.summary,
        "tags": [op.tag],
        "operationId": _operation_id(op),
        "responses": responses,
    }
    if op.public:
        operation["security"] = [{"telephonySignature": []}] if "telephony" in op.path else []
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in ("id", "name", "code", "session_id")
        if f"{{{name}}}" in op.path
    ]
    parameters += [
        {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
        for name in op.query
    ]
    if op.answer is out.View:
        parameters.append(
            {
                "name": "Cache-Control",
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
                "description": "no-cache : composer la vue maintenant",
            }
        )
    if op.if_match:
        parameters.append(
            {"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"}}
        )
    if op.idempotent:
        parameters.append(IDEMPOTENCY_KEY)
    if parameters:
        operation["parameters"] = parameters
    if op.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {op.body_type: {"schema": refs[(op.body, "validation")]}},
        }
    return operation


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

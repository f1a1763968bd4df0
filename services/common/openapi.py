"""OpenAPI 3.1 fragments of the public API, rendered by the service that serves each operation.

A service lists its operations (``Op``): the conventional ones of each entity it declares are
derived (``crud_operations``), the others it writes itself. ``fragment`` renders them into the
"paths" and "components/schemas" of an OpenAPI document; the service publishes that fragment at
``/internal/meta`` (services.common.meta) and the gateway merges every fragment with its own
operations into one document (``document``). Nothing here imports a service.

The models of the answers shared by every record (system fields, a page of a list, a problem,
an audit entry) live here too, and records as read are derived from their declaration
(``entity_record``)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, create_model
from pydantic.json_schema import models_json_schema

from .entities import Entity, choice_type, json_type

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
# The kernel's lists (services.common.crud.list_records) also count, when asked.
KERNEL_LIST_PARAMS = (*LIST_PARAMS, "total")
# Query parameters described beyond their name (the others: a string).
QUERY_PARAMETERS: dict[str, dict[str, Any]] = {
    "total": {
        "schema": {"type": "string", "enum": ["true", "false", "1", "0"], "default": "false"},
        "description": "true : la réponse ajoute `total`, le nombre de fiches que la recherche, "
        "les filtres et la corbeille retiennent (toutes pages confondues, plafonné à 10 000), "
        "et `total_is_capped` (vrai quand il y en a plus). Sans lui, la liste ne compte pas. "
        "Une autre valeur : 422 nommant `total`.",
    },
}
ETAG_HEADER: dict[str, Any] = {
    "ETag": {"schema": {"type": "string"}, "description": "La version de la fiche"}
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
_PATH_PARAMETER = re.compile(r"\{([^}/]+)\}")


# -- Models of the answers --------------------------------------------------------------------


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class SystemFields(Open):
    id: uuid.UUID
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str
    version: int


# Record models (their answers carry an ETag): every model record_model made.
_RECORDS: set[type[BaseModel]] = set()


def is_record(model: object) -> bool:
    return model in _RECORDS


def _nullable(written: type[BaseModel]) -> dict[str, Any]:
    return {
        name: (Any if info.annotation is None else info.annotation | None, None)
        for name, info in written.model_fields.items()
    }


def record_model(name: str, written: type[BaseModel], /, **extra: Any) -> type[BaseModel]:
    """A record as read: the written fields (each may be null) plus the system's."""
    fields = _nullable(written)
    fields.update(extra)
    model: type[BaseModel] = create_model(name, __base__=SystemFields, **fields)
    _RECORDS.add(model)
    return model


def entity_record(entity: Entity, /, **extra: Any) -> type[BaseModel]:
    """The record of ``entity`` as read, from its declaration: what clients write (each may be
    null), its read-only fields (their annotation, else their kind's type) and the system's;
    ``extra`` overrides or adds fields (an address read as one object, totals...)."""
    fields: dict[str, Any] = {}
    for item in entity.fields:
        if item.kind in ("money", "decimal"):  # read as decimal strings: "1234.50"
            fields[item.name] = (str | None, None)
        elif item.read_only:
            annotation = item.annotation if item.annotation is not None else json_type(item.kind)
            if item.annotation is None and item.choices:  # a fixed list: its codes
                annotation = choice_type(item.choices)
            fields[item.name] = (annotation | None, None)
    fields.update(extra)
    name = "".join(part.title() for part in entity.name.split("_"))
    return record_model(name, entity.model, **fields)


def patch_model(name: str, written: type[BaseModel]) -> type[BaseModel]:
    """A JSON merge patch of ``written``: any subset of its fields; null clears one."""
    model: type[BaseModel] = create_model(
        name, __config__=ConfigDict(extra="forbid"), **_nullable(written)
    )
    return model


def page_model(item: type[BaseModel], *, counted: bool = False) -> type[BaseModel]:
    """A page of a list; ``counted``: it may carry its total (``?total=true``)."""
    totals: dict[str, Any] = {}
    if counted:
        totals = {"total": (int | None, None), "total_is_capped": (bool | None, None)}
    model: type[BaseModel] = create_model(
        f"{item.__name__}Page",
        __base__=Open,
        items=(list[item], ...),  # type: ignore[valid-type]
        next_cursor=(str | None, None),
        **totals,
    )
    return model


class FieldProblem(Open):
    field: str
    message: str


class Problem(Open):
    """RFC 9457 problem details; `errors` lists every bad field of a 422."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] | None = None


class Change(Open):
    field: str
    old: Any = None
    new: Any = None


class AuditEntry(Open):
    at: datetime
    actor: str
    action: str
    changes: list[Change]
    version: int
    seq: int
    event_id: uuid.UUID
    hash: str
    context: dict[str, Any] | None = None


class RejectedEvent(Open):
    """An event the audit trail refused to chain (its version did not follow the last one)."""

    event_id: uuid.UUID
    version: int
    last_version: int | None = None
    action: str
    actor: str
    at: datetime
    reason: str
    recorded_at: datetime


class ChainCheck(Open):
    valid: bool
    entries: int
    first_broken_seq: int | None = None
    reason: str | None = None
    rejected: list[RejectedEvent] = []


class PicklistValue(Open):
    code: str
    label: str
    active: bool
    position: int


class Picklist(Open):
    name: str
    values: list[PicklistValue]


# -- Operations -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ref:
    """An answer described by a component schema another fragment (or the merger) provides."""

    name: str


@dataclass(frozen=True)
class Op:
    method: str
    path: str
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    status: int = 200
    # A model, a media type, a component described elsewhere, or nothing (204).
    answer: type[BaseModel] | str | Ref | None = None
    query: tuple[str, ...] = ()
    public: bool = False
    body_type: str = "application/json"
    if_match: bool = False
    idempotent: bool = False  # a creation that honours Idempotency-Key
    list_of: bool = False
    also: tuple[str, ...] = ()  # other media types the answer may have
    # Headers of the answer besides ETag (a record's), and header parameters of the request.
    answer_headers: Mapping[str, Any] = field(default_factory=dict)
    header_params: tuple[Mapping[str, Any], ...] = ()

    @property
    def key(self) -> tuple[str, str]:
        return self.method, self.path


def crud_ops(
    collection: str,
    tag: str,
    written: type[BaseModel],
    record: type[BaseModel],
    filters: tuple[str, ...],
) -> list[Op]:
    """The conventional operations of a collection (services.common.crud's routes)."""
    one = f"/api/v1/{collection}/{{id}}"
    patch = patch_model(f"{record.__name__}Patch", written)
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
            answer=page_model(record, counted=True),
            query=KERNEL_LIST_PARAMS + filters,
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
            answer=AuditEntry,
            list_of=True,
        ),
        Op(
            "get",
            f"{one}/audit/verify",
            f"Vérifier la chaîne d'audit ({tag})",
            tag,
            answer=ChainCheck,
        ),
    ]


def picklist_read(tag: str = "Listes") -> Op:
    """GET /api/v1/picklists/{name}: every service that keeps picklists serves it alike."""
    return Op("get", "/api/v1/picklists/{name}", "Valeurs d'une liste", tag, answer=Picklist)


def list_filters(entity: Entity) -> tuple[str, ...]:
    """The query parameters of the entity's list besides paging: ``q`` when it has a search,
    then its declared filters."""
    return (*(("q",) if entity.search else ()), *(f.name for f in entity.filters))


def crud_operations(entity: Entity, record: type[BaseModel]) -> list[Op]:
    """The conventional operations of a declared entity: create, list (its filters, sorts and
    search), read, merge patch with If-Match, trash, restore, audit trail and its check."""
    return crud_ops(entity.collection, entity.plural, entity.model, record, list_filters(entity))


# -- Rendering --------------------------------------------------------------------------------


def _models(ops: Sequence[Op]) -> list[tuple[type[BaseModel], Any]]:
    models: list[tuple[type[BaseModel], Any]] = [(Problem, "serialization")]
    for op in ops:
        if op.body is not None:
            models.append((op.body, "validation"))
        if isinstance(op.answer, type):
            models.append((op.answer, "serialization"))
    return models


def fragment(ops: Sequence[Op]) -> dict[str, Any]:
    """The OpenAPI "paths" of ``ops`` and the "components/schemas" they refer to."""
    refs, schema = models_json_schema(_models(ops), ref_template="#/components/schemas/{model}")
    paths: dict[str, dict[str, Any]] = {}
    for op in ops:
        paths.setdefault(op.path, {})[op.method] = _operation(op, refs)
    return {"paths": paths, "components": {"schemas": schema.get("$defs", {})}}


def operation_id(op: Op) -> str:
    path = op.path.removeprefix("/api/v1/").replace("/", "_").replace("{", "").replace("}", "")
    return f"{op.method}_{path}"


def _operation(op: Op, refs: Any) -> dict[str, Any]:
    problem = {"application/problem+json": {"schema": refs[(Problem, "serialization")]}}
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
    elif isinstance(op.answer, Ref):
        schema = {"$ref": f"#/components/schemas/{op.answer.name}"}
        success["content"] = {"application/json": {"schema": schema}}
    elif isinstance(op.answer, str):
        binary = {"schema": {"type": "string", "format": "binary"}}
        success["content"] = {media: binary for media in (op.answer, *op.also)}
    if is_record(op.answer):
        success["headers"] = dict(ETAG_HEADER)
    if op.answer_headers:
        success["headers"] = dict(op.answer_headers)
    responses[str(op.status)] = success
    operation: dict[str, Any] = {
        "summary": op.summary,
        "tags": [op.tag],
        "operationId": operation_id(op),
        "responses": responses,
    }
    if op.public:
        operation["security"] = [{"telephonySignature": []}] if "telephony" in op.path else []
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PATH_PARAMETER.findall(op.path)
    ]
    parameters += [
        {
            "name": name,
            "in": "query",
            "required": False,
            **QUERY_PARAMETERS.get(name, {"schema": {"type": "string"}}),
        }
        for name in op.query
    ]
    parameters += [dict(header) for header in op.header_params]
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


class FragmentConflict(ValueError):
    """Two fragments describe the same operation, or one component schema two ways."""


def merge(fragments: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """One fragment of several: their paths and their component schemas. An operation described
    twice in different ways, or a component schema named alike but different, is refused."""
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {}
    for part in fragments:
        for path, methods in part.get("paths", {}).items():
            known = paths.setdefault(path, {})
            for method, operation in methods.items():
                if method in known and known[method] != operation:
                    raise FragmentConflict(f"{method.upper()} {path} is described two ways")
                known[method] = operation
        for name, schema in part.get("components", {}).get("schemas", {}).items():
            if name in schemas and schemas[name] != schema:
                raise FragmentConflict(f"component schema {name} is described two ways")
            schemas[name] = schema
    return {"paths": paths, "components": {"schemas": schemas}}


def document(
    parts: Iterable[Mapping[str, Any]],
    info: Mapping[str, Any],
    security_schemes: Mapping[str, Any],
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of merged fragments (components sorted by name)."""
    merged = merge(parts)
    schemas = merged["components"]["schemas"]
    return {
        "openapi": "3.1.0",
        "info": dict(info),
        "servers": [{"url": "/"}],
        "components": {
            "schemas": {name: schemas[name] for name in sorted(schemas)},
            "securitySchemes": dict(security_schemes),
        },
        "security": [{"bearer": []}],
        "paths": merged["paths"],
    }

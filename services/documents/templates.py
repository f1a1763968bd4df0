"""Word templates for mail merge: uploaded as multipart, checked, stored, listed, trashed."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from services.common import crud
from services.common.errors import BadRequest, FieldError, UnsupportedMediaType, ValidationFailed
from services.common.validation import NUL_MESSAGE, try_validate
from services.common.web import identity_of

from . import merge
from .entities import TEMPLATE
from .settings import DocumentsSettings

TemplateFields = TEMPLATE.model
TEMPLATES = crud.spec_for(TEMPLATE, "templates")


async def upload(
    request: web.Request, pool: asyncpg.Pool, source: str, settings: DocumentsSettings
) -> dict[str, Any]:
    """``multipart/form-data`` with ``name``, ``kind`` and ``file`` (the .docx)."""
    if not request.content_type.startswith("multipart/"):
        raise UnsupportedMediaType("Envoyez le modèle en multipart/form-data (name, kind, file).")
    try:
        fields, filename, content = await _read_parts(request, settings.template_max_bytes)
    except (ValueError, UnicodeDecodeError, LookupError, HttpProcessingError) as exc:
        raise BadRequest("Corps multipart/form-data illisible.") from exc
    errors = [] if content else [FieldError("file", "Joignez le modèle Word (.docx).")]
    meta, field_errors = try_validate(TemplateFields, fields)
    errors = field_errors + errors
    if errors or meta is None or content is None:
        raise ValidationFailed(errors)
    # Parsing a template of a few megabytes takes a while: off the event loop.
    variables = await asyncio.to_thread(merge.check_template, content, settings.template_max_bytes)
    extra = {"filename": filename, "size": len(content), "content": content, "variables": variables}
    return await crud.create(
        pool, TEMPLATES, source, identity_of(request), meta.model_dump(), extra=extra
    )


async def _read_parts(
    request: web.Request, max_bytes: int
) -> tuple[dict[str, str], str | None, bytes | None]:
    fields: dict[str, str] = {}
    content, filename = None, None
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            continue
        if part.name == "file":
            filename = (part.filename or "modele.docx").replace("\x00", "")
            content = await part.read(decode=False)
            if len(content) > max_bytes:
                raise_too_large()
        elif part.name in ("name", "kind"):
            fields[part.name] = (await part.text())[:1000]
            if "\x00" in fields[part.name]:
                raise ValidationFailed([FieldError(part.name, NUL_MESSAGE)])
    return fields, filename, content


def raise_too_large() -> None:
    raise ValidationFailed([FieldError("file", "Fichier trop volumineux.")])


async def content_for(pool: asyncpg.Pool, template_id: uuid.UUID, kind: str) -> tuple[str, bytes]:
    row = await pool.fetchrow(
        "SELECT name, kind, content FROM templates WHERE id = $1 AND deleted_at IS NULL",
        template_id,
    )
    if row is None:
        raise ValidationFailed(
            [FieldError("template_id", "Aucun modèle ne porte cet identifiant.")]
        )
    if row["kind"] != kind:
        raise ValidationFailed(
            [FieldError("template_id", f"Ce modèle sert aux fiches « {row['kind']} ».")]
        )
    return row["name"], bytes(row["content"])

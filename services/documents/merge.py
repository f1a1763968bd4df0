"""Word mail merge (Fusionner): uploaded .docx templates, checked on upload, merged sandboxed."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import jinja2
from docxtpl import DocxTemplate
from jinja2.sandbox import SandboxedEnvironment

from services.common.errors import FieldError, ValidationFailed

MAX_UNCOMPRESSED_BYTES = 50 * 1024 * 1024
MAX_ENTRIES = 2000
MAX_RATIO = 100  # a member that inflates more than this is a zip bomb
REQUIRED_PARTS = ("[Content_Types].xml", "word/document.xml")


def _refuse(message: str) -> ValidationFailed:
    return ValidationFailed([FieldError("file", message)], detail=message)


def _environment() -> SandboxedEnvironment:
    """Templates come from users: no attribute tricks, no imports, nothing but values."""
    return SandboxedEnvironment(undefined=jinja2.ChainableUndefined)


def check_template(content: bytes, max_bytes: int) -> list[str]:
    """The variables a template uses; 422 naming `file` when it is not a usable .docx."""
    if len(content) > max_bytes:
        raise _refuse(f"Fichier trop volumineux (au plus {max_bytes // 1024} Ko).")
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, ValueError) as exc:
        raise _refuse("Ce fichier n'est pas un document Word (.docx) valide.") from exc
    with archive:
        members = archive.infolist()
        if len(members) > MAX_ENTRIES:
            raise _refuse("Archive anormale : trop de fichiers (bombe zip ?).")
        total = sum(m.file_size for m in members)
        if total > MAX_UNCOMPRESSED_BYTES or any(
            m.file_size > 1024 * 1024 and m.file_size > MAX_RATIO * max(m.compress_size, 1)
            for m in members
        ):
            raise _refuse("Archive anormale : contenu décompressé démesuré (bombe zip ?).")
        names = {m.filename for m in members}
        if not all(part in names for part in REQUIRED_PARTS):
            raise _refuse("Ce fichier n'est pas un document Word (.docx) valide.")
    try:
        template = DocxTemplate(io.BytesIO(content))
        variables = template.get_undeclared_template_variables(_environment())
    except jinja2.TemplateSyntaxError as exc:
        raise _refuse(
            f"Erreur de syntaxe dans le modèle (ligne {exc.lineno}) : {exc.message}"
        ) from exc
    except Exception as exc:
        raise _refuse(
            f"Ce document Word ne peut pas servir de modèle : {type(exc).__name__}."
        ) from exc
    return sorted(variables)


def merge(content: bytes, context: dict[str, Any]) -> bytes:
    """The template filled with ``context``; values are escaped for Word's XML."""
    template = DocxTemplate(io.BytesIO(content))
    try:
        template.render(context, jinja_env=_environment(), autoescape=True)
    except jinja2.exceptions.SecurityError as exc:
        raise _refuse("Le modèle tente une opération interdite.") from exc
    except jinja2.TemplateError as exc:
        raise _refuse(f"Le modèle n'a pas pu être rempli : {exc}") from exc
    out = io.BytesIO()
    template.save(out)
    return out.getvalue()

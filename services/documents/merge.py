"""Word mail merge (Fusionner): uploaded .docx templates, checked on upload, merged sandboxed."""

from __future__ import annotations

import asyncio
import io
import shutil
import tempfile
import zipfile
from pathlib import Path
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


class _StrictSandbox(SandboxedEnvironment):
    """Templates come from users: values only. Reaching for Python internals (``__class__``,
    ``mro``, globals...) stops the merge with an error instead of rendering an empty string."""

    def unsafe_undefined(self, obj: Any, attribute: str) -> jinja2.Undefined:
        raise jinja2.exceptions.SecurityError(f"access to {attribute!r} is not allowed")


def _environment() -> SandboxedEnvironment:
    return _StrictSandbox(undefined=jinja2.ChainableUndefined)


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
        raise _refuse(
            "Le modèle tente d'accéder à des éléments internes interdits ; seules les valeurs "
            "des fiches sont disponibles."
        ) from exc
    except jinja2.TemplateError as exc:
        raise _refuse(f"Le modèle n'a pas pu être rempli : {exc}") from exc
    out = io.BytesIO()
    template.save(out)
    return out.getvalue()


def _soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def pdf_available() -> bool:
    return _soffice() is not None


async def to_pdf(document: bytes, limit_seconds: float = 120) -> bytes:
    """Convert a .docx with LibreOffice (headless, its own profile so calls never collide)."""
    soffice = _soffice()
    if soffice is None:
        raise ValidationFailed(
            [
                FieldError(
                    "format", "La conversion en PDF demande LibreOffice, absent de ce serveur."
                )
            ]
        )
    with tempfile.TemporaryDirectory(prefix="crm-merge-") as work:
        source = Path(work) / "document.docx"
        source.write_bytes(document)
        process = await asyncio.create_subprocess_exec(
            soffice,
            f"-env:UserInstallation=file://{work}/profile",
            "--headless",
            "--norestore",
            "--convert-to",
            "pdf",
            "--outdir",
            work,
            str(source),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            await asyncio.wait_for(process.wait(), limit_seconds)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise
        result = Path(work) / "document.pdf"
        if process.returncode != 0 or not result.exists():
            raise ValidationFailed([FieldError("format", "La conversion en PDF a échoué.")])
        return result.read_bytes()

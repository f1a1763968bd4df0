"""Word mail merge (Fusionner): uploaded .docx templates, checked on upload, merged sandboxed."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from typing import Any

import jinja2
from docxtpl import DocxTemplate
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment
from lxml import etree  # type: ignore[import-untyped]  # (python-docx uses it too)

from services.common.errors import FieldError, ValidationFailed

MAX_UNCOMPRESSED_BYTES = 50 * 1024 * 1024
MAX_ENTRIES = 2000
MAX_RATIO = 100  # a member that inflates more than this is a zip bomb
REQUIRED_PARTS = ("[Content_Types].xml", "word/document.xml")
# What a template may build (see _StrictSandbox): a letter needs far less.
MAX_REPEAT = 10_000  # characters or items of a string or list repeated with *
MAX_TEXT = 1_000_000  # characters or items of a string or list joined with +
MAX_WIDTH = 10_000  # padding, loop length, or any number passed to a call or a filter
MAX_POWER_BITS = 1024  # size of an integer built with ** or *


def _refuse(message: str) -> ValidationFailed:
    return ValidationFailed([FieldError("file", message)], detail=message)


class TemplateTooCostly(jinja2.exceptions.SecurityError):
    """A template asked for more than a letter needs (a huge string, list, power or padding)."""


def _too_costly(what: str) -> TemplateTooCostly:
    return TemplateTooCostly(f"Le modèle demande un calcul démesuré : {what}.")


def _size(value: Any) -> int | None:
    return len(value) if isinstance(value, str | list | tuple | bytes) else None


def _check_width(value: Any, what: str) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_WIDTH:
        raise _too_costly(f"{what} : {value} (au plus {MAX_WIDTH})")


def _bounded_range(*args: Any) -> range:
    for arg in args:
        _check_width(arg, "une boucle range")
    result = range(*args)
    if len(result) > MAX_WIDTH:
        raise _too_costly(f"une boucle range de {len(result)} tours (au plus {MAX_WIDTH})")
    return result


def _bounded_filter(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    """``name`` whose width, length or count arguments are bounded (``format``: its pattern)."""

    def bounded(*args: Any, **kwargs: Any) -> Any:
        if name == "format":
            if args and isinstance(args[0], str) and FORMAT_WIDTH.search(args[0]):
                raise _too_costly("un format de largeur démesurée")
        else:
            for arg in (*args[1:], *kwargs.values()):
                _check_width(arg, f"le filtre {name}")
        return original(*args, **kwargs)

    return bounded


FORMAT_WIDTH = re.compile(r"\d{5,}")


class _StrictSandbox(SandboxedEnvironment):
    """Templates come from users: values only. Reaching for Python internals (``__class__``,
    ``mro``, globals...) stops the merge with an error instead of rendering an empty string, and
    so does building something no letter needs (a string repeated a million times, 10**10**6,
    padding to a billion characters, a loop of a million turns). The worker's process limits
    (renderer.py) bound whatever slips through."""

    intercepted_binops = frozenset({"*", "**", "+", "%", "//"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals["range"] = _bounded_range
        for name in ("center", "indent", "wordwrap", "truncate", "batch", "slice", "format"):
            self.filters[name] = _bounded_filter(name, self.filters[name])

    def unsafe_undefined(self, obj: Any, attribute: str) -> jinja2.Undefined:
        raise jinja2.exceptions.SecurityError(f"access to {attribute!r} is not allowed")

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            _check_power(left, right)
        elif operator == "*":
            _check_product(left, right)
        elif operator == "+":
            _check_sum(left, right)
        elif operator == "%" and isinstance(left, str) and FORMAT_WIDTH.search(left):
            raise _too_costly("un format de largeur démesurée")
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        owner = getattr(getattr(__obj, "__wrapped__", __obj), "__self__", None)
        if isinstance(owner, str):  # 'x'.ljust(10**9), '{:>999999}'.format(x)...
            for arg in (*args, *kwargs.values()):
                _check_width(arg, "un appel de méthode")
            if FORMAT_WIDTH.search(owner):
                raise _too_costly("un format de largeur démesurée")
        return super().call(__context, __obj, *args, **kwargs)


def _check_power(left: Any, right: Any) -> None:
    if isinstance(left, int | float) and isinstance(right, int | float):
        base = abs(int(left)) if isinstance(left, int) else 2
        if base > 1 and right > 0 and right * max(base.bit_length(), 1) > MAX_POWER_BITS:
            raise _too_costly(f"la puissance {left} ** {right}")


def _check_product(left: Any, right: Any) -> None:
    for sequence, count in ((left, right), (right, left)):
        size = _size(sequence)
        if size is not None and isinstance(count, int) and size * count > MAX_REPEAT:
            raise _too_costly(
                f"un texte ou une liste répété {count} fois (au plus {MAX_REPEAT} éléments)"
            )
    if (
        isinstance(left, int)
        and isinstance(right, int)
        and left.bit_length() + right.bit_length() > MAX_POWER_BITS
    ):
        raise _too_costly("un produit de nombres démesurés")


def _check_sum(left: Any, right: Any) -> None:
    left_size, right_size = _size(left), _size(right)
    if left_size is not None and right_size is not None and left_size + right_size > MAX_TEXT:
        raise _too_costly(f"un texte ou une liste de plus de {MAX_TEXT} éléments")


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
        found = active_content(archive)
        if found:
            raise _refuse(
                "Modèle refusé : il contient " + " ; ".join(found) + ". Un modèle de "
                "publipostage ne doit rien aller chercher hors du document ni exécuter de code."
            )
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


W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
RELS_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
HYPERLINK = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink"
# Attributes that point at a relationship: any in these namespaces, and VML's o:relid.
R_NAMESPACES = (
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "http://purl.oclc.org/ooxml/officeDocument/relationships",
)
A_NS = "http://schemas.openxmlformats.org/drawingml/2006/main"
# The only uses of an external hyperlink relationship: followed when a reader clicks.
CLICKED_LINKS = frozenset({(f"{{{W_NS}}}hyperlink", "id"), (f"{{{A_NS}}}hlinkClick", "id")})
# Fields that fetch or run something when the document is opened, updated or converted.
DANGEROUS_FIELDS = re.compile(
    r"(?<![A-Za-z])(INCLUDEPICTURE|INCLUDETEXT|INCLUDE|LINK|DDEAUTO|DDE)(?![A-Za-z])",
    re.IGNORECASE,
)
MACRO_CONTENT = re.compile(r"macroEnabled|vbaProject|vbaData|activeX|ms-office\.vba", re.I)
SAFE_XML = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def active_content(archive: zipfile.ZipFile) -> list[str]:
    """What, in a .docx, reaches outside it or runs code (in French, for the refusal): external
    relationships (hyperlinks excepted, when only a ``w:hyperlink`` or a picture's
    ``a:hlinkClick`` uses them: they are followed by a reader's click, never on opening),
    INCLUDE*, LINK and DDE fields, macros, ActiveX controls and embedded OLE objects (``.bin``
    parts other than printer settings). Checked on upload and again on every merged document
    (a template may build a field code or a reference that its upload did not show)."""
    found: list[str] = []
    names = archive.namelist()
    macros = sorted(
        name
        for name in names
        if MACRO_CONTENT.search(name)
        or (name.lower().endswith(".bin") and "printersettings" not in name.lower())
    )
    types = archive.read("[Content_Types].xml").decode("utf-8", "replace")
    if macros or MACRO_CONTENT.search(types):
        listed = ", ".join(macros[:3]) or "[Content_Types].xml"
        found.append(f"des macros, contrôles ActiveX ou objets OLE ({listed})")
    for name in names:
        if not name.endswith(".rels"):  # every part: Word finds its parts by relationships
            xml = archive.read(name)
            # Parsing every part would cost more than the merge of a short letter: a part in
            # UTF-8 without "instr" in its bytes has neither w:instrText nor w:fldSimple/@w:instr.
            if b"instr" in xml or not _utf8_xml(xml):
                for field in _dangerous_fields(_parse(xml)):
                    found.append(f"un champ {field} ({name})")
        else:
            external, links = _external_targets(archive.read(name))
            for target in external:
                found.append(f"une relation externe vers « {target[:100]} » ({name})")
            if links:
                source = _source_part(name)
                if source not in names:  # no part to use them
                    continue
                for use, target in _misused_links(_parse(archive.read(source)), links):
                    found.append(
                        f"une relation externe vers « {target[:100]} » utilisée par {use} "
                        f"et non par un lien hypertexte ({source})"
                    )
    return list(dict.fromkeys(found))[:10]


def _parse(xml: bytes) -> Any:
    try:
        return etree.fromstring(xml, SAFE_XML)
    except etree.XMLSyntaxError:
        return None


XML_ENCODING = re.compile(rb"""encoding\s*=\s*["']([^"']*)["']""")


def _utf8_xml(xml: bytes) -> bool:
    """Whether a part is XML in UTF-8 (or plain ASCII), where a name shows as its own bytes."""
    head = xml.removeprefix(b"\xef\xbb\xbf").lstrip()[:200]
    if not head.startswith(b"<"):
        return False
    encoding = XML_ENCODING.search(head.split(b"?>", 1)[0]) if head.startswith(b"<?xml") else None
    return encoding is None or encoding.group(1).lower() in (b"utf-8", b"utf8")


def _source_part(rels_name: str) -> str:
    """The part a relationships part belongs to: word/_rels/document.xml.rels ->
    word/document.xml ("" for the package's own _rels/.rels)."""
    folder, _, file = rels_name.rpartition("/")
    parent = folder.removesuffix("_rels")
    return parent + file.removesuffix(".rels")


def _external_targets(xml: bytes) -> tuple[list[str], dict[str, str]]:
    """(targets of the external relationships other than hyperlinks, {id: target} of the
    external hyperlinks)."""
    root = _parse(xml)
    if root is None:
        return ["(relations illisibles)"], {}
    external, links = [], {}
    for rel in root.iter(f"{{{RELS_NS}}}Relationship"):
        if (rel.get("TargetMode") or "").lower() != "external":
            continue
        target = rel.get("Target") or "?"
        if rel.get("Type") == HYPERLINK:
            links[rel.get("Id") or ""] = target
        else:
            external.append(target)
    return external, links


def _misused_links(root: Any, links: dict[str, str]) -> list[tuple[str, str]]:
    """(attribute, target) of every reference to an external hyperlink made by something other
    than a hyperlink: an image's ``r:link`` or ``r:embed``, VML's ``o:relid``... (fetched when
    the document is opened). An unreadable part that has external hyperlinks is refused."""
    if root is None:
        return [("une partie illisible", target) for target in links.values()]
    misused = []
    for node in root.iter(etree.Element):
        for attribute, value in node.attrib.items():
            if value not in links:
                continue
            namespace, _, local = attribute.rpartition("}")
            if not (namespace.lstrip("{") in R_NAMESPACES or local == "relid"):
                continue
            if (node.tag, local) in CLICKED_LINKS:
                continue
            prefix = f"{node.prefix}:" if node.prefix else ""
            misused.append((f"{prefix}{etree.QName(node).localname}/@{local}", links[value]))
    return misused


def _dangerous_fields(root: Any) -> list[str]:
    """Field names in ``w:fldSimple/@w:instr`` and in ``w:instrText`` runs, read joined: a field
    code may be split over several runs (``INCLUDE`` + ``PICTURE``)."""
    if root is None:
        return []
    codes = [node.get(f"{{{W_NS}}}instr") or "" for node in root.iter(f"{{{W_NS}}}fldSimple")]
    codes.append("".join(node.text or "" for node in root.iter(f"{{{W_NS}}}instrText")))
    return sorted({match.upper() for code in codes for match in DANGEROUS_FIELDS.findall(code)})


class OutputTooLarge(Exception):
    """The merged document is larger than the configured output limit."""


def merge(content: bytes, context: dict[str, Any], max_output_bytes: int | None = None) -> bytes:
    """The template filled with ``context``; values are escaped for Word's XML. Run by a render
    worker (renderer.py), whose process limits stop what the sandbox lets through."""
    template = DocxTemplate(io.BytesIO(content))
    try:
        template.render(context, jinja_env=_environment(), autoescape=True)
    except TemplateTooCostly as exc:
        raise _refuse(str(exc)) from exc
    except jinja2.exceptions.SecurityError as exc:
        raise _refuse(
            "Le modèle tente d'accéder à des éléments internes interdits ; seules les valeurs "
            "des fiches sont disponibles."
        ) from exc
    except jinja2.TemplateError as exc:
        raise _refuse(f"Le modèle n'a pas pu être rempli : {exc}") from exc
    except MemoryError:
        raise
    except (ArithmeticError, TypeError, ValueError, LookupError, RecursionError) as exc:
        raise _refuse(f"Le modèle n'a pas pu être rempli : {type(exc).__name__}.") from exc
    out = io.BytesIO()
    template.save(out)
    document = out.getvalue()
    with zipfile.ZipFile(io.BytesIO(document)) as archive:
        if max_output_bytes is not None:
            size = sum(member.file_size for member in archive.infolist())
            if max(size, len(document)) > max_output_bytes:
                raise OutputTooLarge(size)
        # What the template built ({{ 'INCL' ~ 'UDETEXT' }}, a value in a field code...) is
        # checked like an upload: nothing that fetches or runs something leaves the worker.
        found = active_content(archive)
    if found:
        raise _refuse(
            "Le document produit contiendrait " + " ; ".join(found) + ". Un modèle de "
            "publipostage ne doit rien aller chercher hors du document ni exécuter de code : "
            "la fusion est refusée."
        )
    return document

"""Word templates: what the upload refuses (content that reaches outside the document or runs
code) and what the template sandbox refuses (work no letter needs)."""

from __future__ import annotations

import io
import zipfile

import docx
import pytest

from services.common.errors import ValidationFailed
from services.documents import merge
from tests.support import word_template as template

MAX = 5 * 1024 * 1024
W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
OFFICE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def altered(content: bytes, changes: dict[str, bytes | str]) -> bytes:
    """``content`` (a .docx) with parts replaced or added."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(content)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for item in source.infolist():
            if item.filename not in changes:
                target.writestr(item, source.read(item.filename))
        for name, data in changes.items():
            target.writestr(name, data)
    return out.getvalue()


def body(xml: str) -> str:
    return f'<?xml version="1.0"?><w:document {W}><w:body>{xml}</w:body></w:document>'


def rels(*relationships: str) -> str:
    return f'<?xml version="1.0"?><Relationships xmlns="{RELS}">{"".join(relationships)}</Relationships>'


def refusal(content: bytes) -> str:
    with pytest.raises(ValidationFailed) as caught:
        merge.check_template(content, MAX)
    assert [e.field for e in caught.value.errors] == ["file"]
    return caught.value.errors[0].message


PLAIN = template("Bonjour {{ compte.name }}")


def test_a_plain_template_and_one_with_a_hyperlink_are_accepted() -> None:
    assert merge.check_template(PLAIN, MAX) == ["compte"]
    link = (
        f'<Relationship Id="rId99" Type="{OFFICE}/hyperlink" '
        'Target="https://www.example.fr/" TargetMode="External"/>'
    )
    with zipfile.ZipFile(io.BytesIO(PLAIN)) as archive:
        document_rels = archive.read("word/_rels/document.xml.rels").decode()
    with_link = document_rels.replace("</Relationships>", link + "</Relationships>")
    assert merge.check_template(altered(PLAIN, {"word/_rels/document.xml.rels": with_link}), MAX)


@pytest.mark.parametrize(
    ("part", "relationship"),
    [
        (  # a picture fetched from a server when the document is opened
            "word/_rels/document.xml.rels",
            f'<Relationship Id="rId1" Type="{OFFICE}/image" '
            'Target="http://attacker.example/pixel.png" TargetMode="External"/>',
        ),
        (  # a remote template attached to the document (Word fetches it)
            "word/_rels/settings.xml.rels",
            f'<Relationship Id="rId1" Type="{OFFICE}/attachedTemplate" '
            'Target="file:///etc/passwd" TargetMode="external"/>',
        ),
    ],
)
def test_an_external_relationship_is_refused_and_named(part: str, relationship: str) -> None:
    message = refusal(altered(PLAIN, {part: rels(relationship)}))
    assert "relation externe" in message
    assert part in message
    assert "attacker.example" in message or "/etc/passwd" in message


@pytest.mark.parametrize(
    ("xml", "field"),
    [
        (
            '<w:p><w:r><w:instrText> INCLUDEPICTURE "http://x.example/a.png" \\d </w:instrText>'
            "</w:r></w:p>",
            "INCLUDEPICTURE",
        ),
        (  # split over two runs, lower case
            "<w:p><w:r><w:instrText> include</w:instrText></w:r>"
            '<w:r><w:instrText>text "/etc/passwd" </w:instrText></w:r></w:p>',
            "INCLUDETEXT",
        ),
        ('<w:p><w:fldSimple w:instr=" LINK Excel.Sheet.8 C:\\\\x.xls "/></w:p>', "LINK"),
        ('<w:p><w:fldSimple w:instr="DDEAUTO cmd &quot;/c calc&quot;"/></w:p>', "DDEAUTO"),
        ('<w:p><w:r><w:instrText>DDE "cmd" "/c calc"</w:instrText></w:r></w:p>', "DDE"),
        ('<w:p><w:r><w:instrText>INCLUDE "a.docx"</w:instrText></w:r></w:p>', "INCLUDE"),
    ],
)
def test_a_field_that_fetches_or_runs_something_is_refused_and_named(xml: str, field: str) -> None:
    message = refusal(altered(PLAIN, {"word/document.xml": body(xml)}))
    assert f"champ {field} (word/document.xml)" in message


def test_a_hyperlink_field_is_not_a_link_field() -> None:
    xml = '<w:p><w:r><w:instrText> HYPERLINK "https://www.example.fr" </w:instrText></w:r></w:p>'
    assert merge.check_template(altered(PLAIN, {"word/document.xml": body(xml)}), MAX) == []


def test_a_field_in_a_footer_is_found_too() -> None:
    xml = '<w:ftr {W}><w:p><w:fldSimple w:instr="INCLUDEPICTURE http://x"/></w:p></w:ftr>'
    message = refusal(altered(PLAIN, {"word/footer1.xml": xml.replace("{W}", W)}))
    assert "INCLUDEPICTURE (word/footer1.xml)" in message


@pytest.mark.parametrize(
    "changes",
    [
        {"word/vbaProject.bin": b"\xd0\xcf\x11\xe0macros"},
        {"word/activeX/activeX1.xml": "<ax/>"},
        {"word/embeddings/oleObject1.bin": b"\xd0\xcf\x11\xe0ole"},
    ],
)
def test_macros_activex_and_ole_objects_are_refused(changes: dict[str, bytes | str]) -> None:
    message = refusal(altered(PLAIN, changes))
    assert "macros, contrôles ActiveX ou objets OLE" in message
    assert next(iter(changes)) in message


def test_printer_settings_are_not_macros() -> None:
    changes: dict[str, bytes | str] = {"word/printerSettings/printerSettings1.bin": b"\0" * 64}
    assert merge.check_template(altered(PLAIN, changes), MAX) == ["compte"]


def test_a_macro_enabled_content_type_is_refused() -> None:
    with zipfile.ZipFile(io.BytesIO(PLAIN)) as archive:
        types = archive.read("[Content_Types].xml").decode()
    types = types.replace(
        "wordprocessingml.document.main+xml", "ms-word.document.macroEnabled.main+xml"
    )
    assert "macros" in refusal(altered(PLAIN, {"[Content_Types].xml": types}))


def test_every_finding_is_named_at_once() -> None:
    external = rels(
        f'<Relationship Id="rId1" Type="{OFFICE}/image" Target="http://a.example/x.png" '
        'TargetMode="External"/>'
    )
    field = body('<w:p><w:fldSimple w:instr="INCLUDETEXT x"/></w:p>')
    message = refusal(
        altered(PLAIN, {"word/_rels/document.xml.rels": external, "word/document.xml": field})
    )
    assert "INCLUDETEXT" in message
    assert "a.example" in message


CONTEXT = {"compte": {"name": "Éditions du Léman"}, "account": {"name": "Éditions du Léman"}}


def rendered_text(content: bytes) -> str:
    return "\n".join(p.text for p in docx.Document(io.BytesIO(content)).paragraphs)


@pytest.mark.parametrize(
    ("expression", "named"),
    [
        ("{{ account.name * 100000000 }}", "répété 100000000 fois"),
        ("{{ [account.name] * 10000000 }}", "répété 10000000 fois"),
        ("{{ 10 ** 1000000 }}", "puissance"),
        ("{{ (2 ** 500) ** 3 }}", "puissance"),
        ("{% for i in range(100000000) %}{% endfor %}", "range"),
        ("{{ account.name.ljust(1000000000) }}", "1000000000"),
        ("{{ account.name|center(1000000000) }}", "center"),
        ("{{ '%999999999s' % account.name }}", "format"),
        ("{{ '{:>999999999}'.format(account.name) }}", "format"),
    ],
)
def test_the_sandbox_refuses_work_no_letter_needs(expression: str, named: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        merge.merge(template(expression), CONTEXT)
    message = caught.value.errors[0].message
    assert "calcul démesuré" in message
    assert named in message


def test_small_repeats_powers_and_loops_still_work() -> None:
    content = template(
        "{{ '-' * 20 }}|{{ 2 ** 10 }}|{% for i in range(3) %}{{ i }}{% endfor %}|"
        "{{ account.name|center(30)|trim }}|{{ '%05d'|format(42) }}"
    )
    assert rendered_text(merge.merge(content, CONTEXT)) == (
        "-" * 20 + "|1024|012|Éditions du Léman|00042"
    )


def test_a_document_larger_than_the_output_limit_is_refused() -> None:
    content = template("{% for i in range(100) %}{{ '=' * 10000 }}{% endfor %}")
    with pytest.raises(merge.OutputTooLarge):
        merge.merge(content, CONTEXT, max_output_bytes=256 * 1024)
    assert len(merge.merge(content, CONTEXT, max_output_bytes=4 * 1024 * 1024)) > 0


# Active content built by the template: every merged document is checked like an upload.

FIELD_RUN = "<w:p><w:r><w:instrText>{code}</w:instrText></w:r></w:p>"


def with_body(xml: str, content: bytes = PLAIN) -> bytes:
    return altered(content, {"word/document.xml": body(xml)})


@pytest.mark.parametrize(
    ("xml", "field"),
    [
        (  # the tester's template
            FIELD_RUN.format(code=""" {{ 'INCL' ~ 'UDETEXT' }} "/tmp/pt/canary.txt" """),
            "INCLUDETEXT",
        ),
        (
            FIELD_RUN.format(code="{{ 'INCL' ~ 'UDEPICTURE' }} \"http://x.example/p.png\" \\d"),
            "INCLUDEPICTURE",
        ),
        (
            """<w:p><w:fldSimple w:instr="{{ 'INC' ~ 'LUDETEXT' }} \\\\srv\\share\\a.docx"/></w:p>""",
            "INCLUDETEXT",
        ),
        (  # a value of the record, not the template, makes the field
            FIELD_RUN.format(code="{{ compte.name }}"),
            "INCLUDETEXT",
        ),
        ("<w:p><w:r><w:instrText>{{ 'DD' ~ 'EAUTO' }} cmd</w:instrText></w:r></w:p>", "DDEAUTO"),
    ],
)
def test_a_field_the_template_builds_passes_upload_but_not_the_merge(xml: str, field: str) -> None:
    content = with_body(xml)
    merge.check_template(content, MAX)  # nothing to see before rendering
    context = {"compte": {"name": 'INCLUDETEXT "http://x.example/t"'}}
    with pytest.raises(ValidationFailed) as caught:
        merge.merge(content, context, max_output_bytes=MAX)
    assert [e.field for e in caught.value.errors] == ["file"]
    message = caught.value.errors[0].message
    assert message.startswith("Le document produit contiendrait un champ " + field), message
    assert "(word/document.xml)" in message


def test_a_field_built_in_a_footnote_is_found_at_merge() -> None:
    note = (
        f'<w:footnotes {W}><w:footnote w:id="1"><w:p><w:r><w:instrText>'
        "{{ 'INCL' ~ 'UDEPICTURE' }} http://x.example/p.png"
        "</w:instrText></w:r></w:p></w:footnote></w:footnotes>"
    )
    content = altered(PLAIN, {"word/footnotes.xml": note})
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        types = archive.read("[Content_Types].xml").decode()
    types = types.replace(
        "</Types>",
        '<Override PartName="/word/footnotes.xml" ContentType="application/vnd.'
        'openxmlformats-officedocument.wordprocessingml.footnotes+xml"/></Types>',
    )
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        document_rels = archive.read("word/_rels/document.xml.rels").decode()
    document_rels = document_rels.replace(
        "</Relationships>",
        f'<Relationship Id="rId98" Type="{OFFICE}/footnotes" Target="footnotes.xml"/>'
        "</Relationships>",
    )
    content = altered(
        content,
        {"[Content_Types].xml": types, "word/_rels/document.xml.rels": document_rels},
    )
    merge.check_template(content, MAX)
    with pytest.raises(ValidationFailed) as caught:
        merge.merge(content, CONTEXT)
    assert "champ INCLUDEPICTURE (word/footnotes.xml)" in caught.value.errors[0].message


@pytest.mark.parametrize(
    ("part", "root"), [("footnotes", "footnote"), ("endnotes", "endnote"), ("comments", "comment")]
)
def test_a_field_in_footnotes_endnotes_or_comments_is_refused_at_upload(
    part: str, root: str
) -> None:
    xml = (
        f'<w:{part} {W}><w:{root} w:id="1"><w:p><w:r><w:instrText> INCLUDETEXT '
        f'"\\\\\\\\attacker\\\\share\\\\x.docx" </w:instrText></w:r></w:p></w:{root}></w:{part}>'
    )
    message = refusal(altered(PLAIN, {f"word/{part}.xml": xml}))
    assert f"champ INCLUDETEXT (word/{part}.xml)" in message


R = f'xmlns:r="{OFFICE}"'
A = 'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"'
V = 'xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office"'
EXTERNAL_LINK = (
    f'<Relationship Id="rId99" Type="{OFFICE}/hyperlink" '
    'Target="http://tracker.example/pixel.png" TargetMode="External"/>'
)


def with_link(xml: str, content: bytes = PLAIN) -> bytes:
    """``content`` whose body is ``xml`` and whose relationships hold rId99, an external
    hyperlink to tracker.example."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        document_rels = archive.read("word/_rels/document.xml.rels").decode()
    document = body(xml).replace(f"<w:document {W}>", f"<w:document {W} {R} {A} {V}>")
    return altered(
        content,
        {
            "word/_rels/document.xml.rels": document_rels.replace(
                "</Relationships>", EXTERNAL_LINK + "</Relationships>"
            ),
            "word/document.xml": document,
        },
    )


HYPERLINKED = (
    '<w:p><w:hyperlink r:id="rId99"><w:r><w:t>Notre site {{ compte.name }}</w:t></w:r>'
    '</w:hyperlink></w:p><w:p><w:r><w:drawing><a:graphic><a:graphicData><a:hlinkClick r:id="rId99"/>'
    "</a:graphicData></a:graphic></w:drawing></w:r></w:p>"
)


def test_hyperlinks_in_text_and_on_a_picture_are_accepted_and_merged() -> None:
    content = with_link(HYPERLINKED)
    assert merge.check_template(content, MAX) == ["compte"]
    merged = merge.merge(content, CONTEXT, max_output_bytes=MAX)
    assert (
        "Notre site Éditions du Léman"
        in zipfile.ZipFile(io.BytesIO(merged)).read("word/document.xml").decode()
    )


@pytest.mark.parametrize(
    ("xml", "use"),
    [
        (  # a picture fetched from outside when the document is opened
            '<w:p><w:r><w:drawing><a:graphic><a:graphicData><a:blip r:link="rId99"/>'
            "</a:graphicData></a:graphic></w:drawing></w:r></w:p>",
            "a:blip/@link",
        ),
        (
            '<w:p><w:r><w:pict><v:shape><v:imagedata o:relid="rId99"/></v:shape></w:pict>'
            "</w:r></w:p>",
            "v:imagedata/@relid",
        ),
        (
            '<w:p><w:hyperlink r:id="rId99"><w:r><w:t>ok</w:t></w:r></w:hyperlink>'
            '<w:r><w:drawing><a:blip r:embed="rId99"/></w:drawing></w:r></w:p>',
            "a:blip/@embed",
        ),
    ],
)
def test_an_external_hyperlink_used_other_than_by_a_hyperlink_is_refused(
    xml: str, use: str
) -> None:
    message = refusal(with_link(xml))
    assert (
        f"relation externe vers « http://tracker.example/pixel.png » utilisée par {use}" in message
    )
    assert "(word/document.xml)" in message


def test_a_reference_the_template_builds_to_an_external_hyperlink_is_refused_at_merge() -> None:
    xml = (
        '<w:p><w:hyperlink r:id="rId99"><w:r><w:t>ok</w:t></w:r></w:hyperlink></w:p>'
        '<w:p><w:r><w:t>{{ \'&lt;w:drawing&gt;&lt;a:blip r:link="rId99"/&gt;'
        "&lt;/w:drawing&gt;'|safe }}</w:t>"
        "</w:r></w:p>"
    )
    content = with_link(xml)
    merge.check_template(content, MAX)
    with pytest.raises(ValidationFailed) as caught:
        merge.merge(content, CONTEXT)
    assert "utilisée par a:blip/@link" in caught.value.errors[0].message


def test_a_field_in_a_main_part_outside_word_is_found() -> None:
    """Word finds the document by the package's relationships, not by its name."""
    with zipfile.ZipFile(io.BytesIO(PLAIN)) as archive:
        package_rels = archive.read("_rels/.rels").decode()
        document_rels = archive.read("word/_rels/document.xml.rels")
    assert 'Target="word/document.xml"' in package_rels
    field = body(FIELD_RUN.format(code='INCLUDETEXT "http://x.example/t"'))
    content = altered(
        PLAIN,
        {
            "_rels/.rels": package_rels.replace('Target="word/document.xml"', 'Target="x/d.xml"'),
            "x/d.xml": field,
            "x/_rels/d.xml.rels": document_rels,
        },
    )
    assert "champ INCLUDETEXT (x/d.xml)" in refusal(content)

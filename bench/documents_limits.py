"""Figures for docs/mail-merge.md: the reported template attack before and after, a read's
latency on the service's event loop while a bad merge runs, render cost in the worker pool, and
PDF conversion with kept-alive converters against one soffice per document.

    .venv/bin/python -m bench.documents_limits      (writes bench/results/documents-limits.json)

"Before" is the former code path, rebuilt here: the template rendered by docxtpl with a plain
jinja2 SandboxedEnvironment in a thread of the serving process, and `soffice --convert-to` started
for each document.
"""

from __future__ import annotations

import asyncio
import io
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import docx
import orjson
from aiohttp import ClientSession, web

from services.documents.converter import Converters, soffice
from services.documents.renderer import Renderer
from services.documents.settings import DocumentsSettings

ATTACK = "{{ account.name * 100000000 }}"
SPIN = (
    "{% for i in range(10000) %}{% for j in range(10000) %}{% for k in range(10000) %}"
    "{% endfor %}{% endfor %}{% endfor %}"
)
CONTEXT = {"account": {"name": "Éditions du Léman"}, "compte": {"name": "Éditions du Léman"}}
RESULTS = Path(__file__).with_name("results") / "documents-limits.json"
OLD_RENDER = """
import io, sys, jinja2
from docxtpl import DocxTemplate
from jinja2.sandbox import SandboxedEnvironment
content = sys.stdin.buffer.read()
template = DocxTemplate(io.BytesIO(content))
template.render({"account": {"name": "Éditions du Léman"}},
                jinja_env=SandboxedEnvironment(undefined=jinja2.ChainableUndefined), autoescape=True)
out = io.BytesIO(); template.save(out); print(len(out.getvalue()))
"""


def template(*paragraphs: str) -> bytes:
    document = docx.Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def settings(**values: Any) -> DocumentsSettings:
    return DocumentsSettings(
        database_url="postgresql://unused/unused", internal_secret="s" * 32, **values
    )


def attack_before() -> dict[str, float]:
    """The attack rendered as before, in a process of its own so its peak memory is its own."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", OLD_RENDER], input=template(ATTACK), check=True, capture_output=True
    )
    return {
        "seconds": round(time.perf_counter() - started, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
    }


async def attack_after(renderer: Renderer) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        await renderer.render(template(ATTACK), CONTEXT)
        answer = "rendered"
    except Exception as exc:
        answer = f"{type(exc).__name__}: {exc.errors[0].message if hasattr(exc, 'errors') else exc}"
    return {"seconds": round(time.perf_counter() - started, 3), "answer": answer}


async def reads_during(bad: Any, reads: int = 30, finish: bool = False) -> dict[str, float]:
    """Latency of a quote-sized JSON read served by this process's event loop while ``bad``
    runs (the reads start once it has started; ``finish``: wait for it, a thread cannot be
    cancelled)."""
    quote = {"id": "x", "number": "DEV-2026-00001", "lines": [{"description": "x" * 80}] * 20}

    async def read(_request: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps(quote), content_type="application/json")

    app = web.Application()
    app.router.add_get("/quote", read)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    task = asyncio.ensure_future(bad)
    await asyncio.sleep(0.5)
    latencies = []
    async with ClientSession() as http:
        for _ in range(reads):
            if task.done():
                break
            started = time.perf_counter()
            async with http.get(f"http://{host}:{port}/quote") as response:
                await response.read()
            latencies.append(time.perf_counter() - started)
    if not finish:
        task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await runner.cleanup()
    return {
        "reads": len(latencies),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1),
    }


def old_merge_in_thread(content: bytes) -> None:
    import jinja2
    from docxtpl import DocxTemplate
    from jinja2.sandbox import SandboxedEnvironment

    doc = DocxTemplate(io.BytesIO(content))
    doc.render(
        CONTEXT,
        jinja_env=SandboxedEnvironment(undefined=jinja2.ChainableUndefined),
        autoescape=True,
    )
    doc.save(io.BytesIO())


async def renders(renderer: Renderer, count: int) -> dict[str, float]:
    content = template("Objet : {{ compte.name }}", "Cher client, " * 50)
    times = []
    for _ in range(count):
        started = time.perf_counter()
        await renderer.render(content, CONTEXT)
        times.append(time.perf_counter() - started)
    return {
        "count": count,
        "p50_ms": round(statistics.median(times) * 1000, 1),
        "total_s": round(sum(times), 2),
    }


def one_soffice(document: bytes) -> bytes:
    """The former conversion: one soffice, with a fresh profile, per document."""
    executable = soffice()
    assert executable is not None
    with tempfile.TemporaryDirectory() as work:
        (Path(work) / "d.docx").write_bytes(document)
        subprocess.run(
            [executable, f"-env:UserInstallation=file://{work}/profile", "--headless",
             "--norestore", "--convert-to", "pdf", "--outdir", work, f"{work}/d.docx"],
            check=True, capture_output=True,
        )  # fmt: skip
        return (Path(work) / "d.pdf").read_bytes()


async def conversions(count: int) -> dict[str, Any]:
    document = template("Objet : Éditions du Léman", "Cher client, " * 200)
    started = time.perf_counter()
    for _ in range(count):
        await asyncio.to_thread(one_soffice, document)
    one_each = time.perf_counter() - started
    figures: dict[str, Any] = {
        "documents": count,
        "one_soffice_each_s": round(one_each, 2),
    }
    for size in (1, 2):
        converters = Converters(settings(pdf_converters=size))
        started = time.perf_counter()
        await converters.start()
        figures[f"pool_{size}_start_s"] = round(time.perf_counter() - started, 2)
        started = time.perf_counter()
        await asyncio.gather(*(converters.to_pdf(document) for _ in range(count)))
        figures[f"pool_{size}_s"] = round(time.perf_counter() - started, 2)
        await converters.close()
    return figures


async def main() -> None:
    results: dict[str, Any] = {"attack_before": attack_before()}
    print(results, flush=True)
    renderer = Renderer(settings())
    started = time.perf_counter()
    await renderer.pool.start()
    results["render_pool_start_s"] = round(time.perf_counter() - started, 2)
    results["attack_after"] = await attack_after(renderer)
    results["reads_during_attack_before"] = await reads_during(
        asyncio.to_thread(old_merge_in_thread, template(ATTACK)), finish=True
    )
    results["reads_during_spin_after"] = await reads_during(
        renderer.render(template(SPIN), CONTEXT)
    )
    results["reads_idle"] = await reads_during(asyncio.sleep(60))
    results["renders"] = await renders(renderer, 100)
    await renderer.pool.close()
    print(results, flush=True)
    results["conversions"] = await conversions(20)
    print(results, flush=True)
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    asyncio.run(main())

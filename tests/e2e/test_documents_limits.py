"""Bounded documents: templates render in worker processes under limits, the service answers
while a bad merge runs, PDFs come from a bounded pool of kept-alive converters, and a bulk merge
stops when its client goes away."""

from __future__ import annotations

import asyncio
import io
import os
import re
import signal
import sys
import uuid
import zipfile
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import docx
import pytest
from aiohttp import web

from services.common.errors import ServiceUnavailable, ValidationFailed
from services.common.identity import HEADER, Identity, sign_identity
from services.documents import converter as converter_module
from services.documents.app import create_app as documents_app
from services.documents.converter import Converters, network_isolation
from services.documents.renderer import Renderer, RenderLimitExceeded
from services.documents.settings import DocumentsSettings
from services.documents.workers import WorkerPool
from tests.e2e.test_documents import made, merge_account, pdf_text, upload
from tests.platform import Platform
from tests.support import INTERNAL_SECRET, eventually, service_settings, word_template

Headers = dict[str, str]
MIB = 1024 * 1024
CONTEXT = {"compte": {"name": "Éditions du Léman"}, "account": {"name": "Éditions du Léman"}}
# Passes the sandbox (each step is small), then costs without end: CPU, memory, output.
SPIN = (
    "{% for i in range(10000) %}{% for j in range(10000) %}{% for k in range(10000) %}"
    "{% endfor %}{% endfor %}{% endfor %}"
)
HOG = (
    "{% set ns = namespace(s=compte.name) %}{% for i in range(60) %}"
    "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}"
)
FLOOD = "{% for i in range(1000) %}{{ '=' * 10000 }}{% endfor %}"


def settings(**limits: Any) -> DocumentsSettings:
    return DocumentsSettings(
        database_url="postgresql://unused/unused", internal_secret="s" * 32, **limits
    )


@pytest.fixture
async def renderer() -> AsyncIterator[Renderer]:
    renderer = Renderer(
        settings(
            merge_workers=1,
            merge_cpu_seconds=1,
            merge_memory_bytes=256 * MIB,
            merge_output_bytes=MIB,
            merge_wall_seconds=60,
        )
    )
    await renderer.pool.start()
    yield renderer
    await renderer.pool.close()


def text(content: bytes) -> str:
    return "\n".join(p.text for p in docx.Document(io.BytesIO(content)).paragraphs)


@pytest.mark.parametrize(
    ("template", "limit", "named"),
    [
        (SPIN, "cpu", "temps de calcul (1 s)"),
        (HOG, "memory", "mémoire (256 Mo)"),
        (FLOOD, "output", "taille du document produit (1 Mo)"),
    ],
)
async def test_a_template_over_a_limit_is_stopped_and_its_worker_replaced(
    renderer: Renderer, template: str, limit: str, named: str
) -> None:
    with pytest.raises(RenderLimitExceeded) as caught:
        await renderer.render(word_template("Cher {{ compte.name }}", template), CONTEXT)
    assert caught.value.limit == limit
    assert [e.field for e in caught.value.errors] == ["file"]
    assert named in caught.value.errors[0].message

    async def replaced() -> bool:
        return renderer.pool.stats.replaced == 1 and renderer.pool.alive == 1

    await eventually(replaced, within=30)
    good = await renderer.render(word_template("Cher {{ compte.name }}"), CONTEXT)
    assert text(good) == "Cher Éditions du Léman"


async def test_a_template_over_the_wall_time_is_killed() -> None:
    renderer = Renderer(settings(merge_workers=1, merge_cpu_seconds=600, merge_wall_seconds=1))
    await renderer.pool.start()
    try:
        with pytest.raises(RenderLimitExceeded) as caught:
            await renderer.render(word_template(SPIN), CONTEXT)
        assert caught.value.limit == "wall"
        assert "durée (1 s)" in caught.value.errors[0].message
        good = await renderer.render(word_template("{{ compte.name }}"), CONTEXT)
        assert text(good) == "Éditions du Léman"
    finally:
        await renderer.pool.close()


async def test_many_renders_reuse_the_same_workers(renderer: Renderer) -> None:
    content = word_template("Cher {{ compte.name }}")
    pids = {worker.process.pid for worker in renderer.pool._workers}
    for _ in range(20):
        assert text(await renderer.render(content, CONTEXT)) == "Cher Éditions du Léman"
    assert {worker.process.pid for worker in renderer.pool._workers} == pids
    assert renderer.pool.stats.replaced == 0


# Through the platform: the attack, the service answering meanwhile, uploads, bulk merges


async def metrics(platform: Platform, documents: str | None = None) -> dict[str, float]:
    base = documents or platform.urls["documents"]
    async with platform.http.get(f"{base}/metrics") as response:
        assert response.status == 200
        body = await response.text()
    return {
        match[1]: float(match[2])
        for match in re.finditer(r"^(crm_[a-z_]+(?:\{[^}]*\})?) ([0-9.e+-]+)$", body, re.M)
    }


async def test_the_reported_attack_is_refused_at_once(
    platform: Platform, user: Headers, admin: Headers
) -> None:
    customer = await made(platform, admin, "/api/v1/accounts", {"name": "Cible"})
    status, template = await upload(platform, user, word_template("{{ account.name * 100000000 }}"))
    assert status == 201, template

    async def refused() -> dict[str, Any] | None:
        status, body, _ = await merge_account(
            platform, user, customer["id"], {"template_id": template["id"]}
        )
        return None if status == 404 else {"status": status, "body": body}

    answer = await eventually(refused)
    assert answer["status"] == 422
    assert b"calcul d\xc3\xa9mesur\xc3\xa9" in answer["body"]
    assert b"100000000" in answer["body"]


async def test_quotes_are_read_while_a_bad_merge_runs(platform: Platform, admin: Headers) -> None:
    customer = await made(platform, admin, "/api/v1/accounts", {"name": "Lecture pendant"})
    quote = await made(
        platform,
        admin,
        "/api/v1/quotes",
        {
            "account_id": customer["id"],
            "lines": [{"description": "x", "quantity": "1", "unit_price": "1", "vat_rate": "20"}],
        },
    )
    status, template = await upload(platform, admin, word_template(SPIN))
    assert status == 201, template
    await replicated(platform, admin, customer["id"])
    before = await metrics(platform)
    bad = asyncio.create_task(
        merge_account(platform, admin, customer["id"], {"template_id": template["id"]})
    )

    async def rendering() -> bool:
        return (await metrics(platform))["crm_merge_workers_busy"] >= 1

    await eventually(rendering)
    for _ in range(5):
        status, body, _ = await platform.call("GET", f"/api/v1/quotes/{quote['id']}", admin)
        assert (status, body["id"]) == (200, quote["id"])
    assert not bad.done()  # every read answered before the bad merge ended
    status, problem, _ = await bad
    assert status == 422
    assert "temps de calcul" in problem.decode()
    after = await metrics(platform)
    assert (
        after['crm_merge_limits_hit{limit="cpu"}']
        == before['crm_merge_limits_hit{limit="cpu"}'] + 1
    )

    async def replaced() -> bool:
        now = await metrics(platform)
        return now["crm_merge_workers_replaced"] > before["crm_merge_workers_replaced"]

    await eventually(replaced, within=30)


async def replicated(platform: Platform, headers: Headers, account_id: str) -> None:
    """Wait until the account has reached the documents service's replica."""
    status, template = await upload(platform, headers, word_template("{{ compte.name }}"))
    assert status == 201

    async def merged() -> bool:
        status, _, _ = await merge_account(
            platform, headers, account_id, {"template_id": template["id"]}
        )
        return status == 200

    await eventually(merged)


async def test_an_upload_with_an_includepicture_field_is_refused(
    platform: Platform, user: Headers
) -> None:
    plain = word_template("Bonjour")
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(plain)) as source,
        zipfile.ZipFile(out, "w") as target,
    ):
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "word/document.xml":
                data = data.replace(
                    b"<w:t>Bonjour</w:t>",
                    b'<w:instrText>INCLUDEPICTURE "http://attacker.example/p.png"</w:instrText>',
                )
            target.writestr(item, data)
    status, problem = await upload(platform, user, out.getvalue())
    assert status == 422, problem
    assert [e["field"] for e in problem["errors"]] == ["file"]
    assert "INCLUDEPICTURE" in problem["detail"]


async def test_documents_is_ready_with_its_workers_and_isolated_converters(
    platform: Platform,
) -> None:
    async with platform.http.get(f"{platform.urls['documents']}/readyz") as response:
        assert response.status == 200, await response.text()
    figures = await metrics(platform)
    documents = platform.settings["documents"]
    assert isinstance(documents, DocumentsSettings)
    assert figures["crm_merge_workers_alive"] == documents.merge_workers
    assert figures["crm_pdf_converters_alive"] == documents.pdf_converters
    # Isolated exactly when this machine lets the service cut a converter's network.
    assert figures["crm_pdf_isolated"] == (1 if network_isolation() else 0)


async def bulk_of_many(platform: Platform, headers: Headers, count: int) -> dict[str, Any]:
    """The body of a bulk merge of ``count`` new accounts to PDF (once they are replicated)."""
    tag = "partir" + uuid.uuid4().hex[:6]
    accounts = [
        await made(platform, headers, "/api/v1/accounts", {"name": f"Compte {i} {tag}"})
        for i in range(count)
    ]
    status, template = await upload(platform, headers, word_template("Objet : {{ compte.name }}"))
    assert status == 201
    await replicated(platform, headers, accounts[-1]["id"])
    return {
        "template_id": template["id"],
        "format": "pdf",
        "account_ids": [a["id"] for a in accounts],
    }


async def abandon_bulk_merge(
    platform: Platform, url: str, headers: Headers, body: dict[str, Any], documents: str
) -> tuple[float, float]:
    """Start the bulk merge at ``url``, go away once two documents are converted, and give
    (documents converted before the merge stopped, bulk merges abandoned) as counted by the
    documents service at ``documents``."""
    before = await metrics(platform, documents)
    client = aiohttp.ClientSession()

    async def bulk() -> int:
        async with client.post(url, json=body, headers=headers) as response:
            return response.status

    merging = asyncio.create_task(bulk())

    async def converting() -> bool:
        now = await metrics(platform, documents)
        return now["crm_pdf_conversions"] >= before["crm_pdf_conversions"] + 2

    await eventually(converting, within=60)
    assert not merging.done()
    merging.cancel()
    await client.close()  # the client goes away

    async def abandoned() -> dict[str, float] | None:
        now = await metrics(platform, documents)
        gone = now["crm_bulk_merges_abandoned"] > before["crm_bulk_merges_abandoned"]
        return now if gone else None

    stopped = await eventually(abandoned, within=30)
    return (
        stopped["crm_pdf_conversions"] - before["crm_pdf_conversions"],
        stopped["crm_bulk_merges_abandoned"] - before["crm_bulk_merges_abandoned"],
    )


async def test_a_bulk_merge_through_the_gateway_stops_when_its_client_goes_away(
    platform: Platform, admin: Headers
) -> None:
    body = await bulk_of_many(platform, admin, 40)
    converted, abandoned = await abandon_bulk_merge(
        platform, f"{platform.gateway}/api/v1/mail-merge", admin, body, platform.urls["documents"]
    )
    assert abandoned == 1
    assert converted < len(body["account_ids"])


@pytest.fixture
async def deployed_documents(platform: Platform) -> AsyncIterator[str]:
    """A second documents service served as deploy/run.py serves it (web.run_app): a handler
    is not cancelled when its client goes away, so the merge must notice by itself."""
    app = documents_app(service_settings(DocumentsSettings, "documents", pdf_converters=1))
    runner = web.AppRunner(app, handler_cancellation=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}"
    await runner.cleanup()


async def test_a_bulk_merge_notices_its_client_gone_between_two_documents(
    platform: Platform, admin: Headers, deployed_documents: str
) -> None:
    body = await bulk_of_many(platform, admin, 40)
    identity = Identity(str(uuid.uuid4()), "admin", "admin")
    internal = {HEADER: sign_identity(identity, INTERNAL_SECRET)}
    converted, abandoned = await abandon_bulk_merge(
        platform, f"{deployed_documents}/api/v1/mail-merge", internal, body, deployed_documents
    )
    assert abandoned == 1
    assert converted < len(body["account_ids"])


async def test_a_whole_bulk_merge_to_pdf_still_works(platform: Platform, admin: Headers) -> None:
    tag = "entier" + uuid.uuid4().hex[:6]
    accounts = [
        await made(platform, admin, "/api/v1/accounts", {"name": f"{n} {tag}"})
        for n in ("Un", "Deux", "Trois")
    ]
    status, template = await upload(platform, admin, word_template("Objet : {{ compte.name }}"))
    assert status == 201
    await replicated(platform, admin, accounts[-1]["id"])
    async with platform.http.post(
        f"{platform.gateway}/api/v1/mail-merge",
        json={
            "template_id": template["id"],
            "format": "pdf",
            "account_ids": [a["id"] for a in accounts],
        },
        headers=admin,
    ) as response:
        assert response.status == 200
        content = await response.read()
    archive = zipfile.ZipFile(io.BytesIO(content))
    texts = sorted(pdf_text(archive.read(name)) for name in archive.namelist())
    assert texts == sorted(f"Objet : {n} {tag}" for n in ("Un", "Deux", "Trois"))


# The converter pool itself


@pytest.fixture
async def converters() -> AsyncIterator[Converters]:
    pool = Converters(settings(pdf_converters=1, pdf_timeout_seconds=3, pdf_queue_seconds=0.5))
    await pool.start()
    assert pool.pool is not None, pool.unavailable
    yield pool
    await pool.close()


async def test_a_converter_that_dies_is_replaced(converters: Converters) -> None:
    assert converters.pool is not None
    document = word_template("Converti une fois")
    assert "Converti une fois" in pdf_text(await converters.to_pdf(document))
    assert await converters.readiness() is None
    (worker,) = converters.pool._workers
    os.killpg(worker.process.pid, signal.SIGKILL)

    async def replaced() -> bool:
        assert converters.pool is not None
        return converters.pool.stats.replaced == 1 and converters.pool.alive == 1

    await eventually(replaced, within=60)
    assert "Converti une fois" in pdf_text(await converters.to_pdf(document))


async def test_a_hung_converter_is_killed_and_a_full_queue_answers_503(
    converters: Converters,
) -> None:
    assert converters.pool is not None
    document = word_template("Patience")
    (worker,) = converters.pool._workers
    os.killpg(worker.process.pid, signal.SIGSTOP)  # hangs: LibreOffice stops answering
    first = asyncio.create_task(converters.to_pdf(document))

    async def busy() -> bool:
        assert converters.pool is not None
        return converters.pool.busy == 1

    await eventually(busy)
    with pytest.raises(ServiceUnavailable) as caught:
        await converters.to_pdf(document)
    assert caught.value.retry_after > 0
    with pytest.raises(ValidationFailed) as timed_out:
        await first
    assert "3 s" in timed_out.value.errors[0].message

    async def replaced() -> bool:
        assert converters.pool is not None
        return converters.pool.stats.replaced == 1 and converters.pool.alive == 1

    await eventually(replaced, within=60)
    assert "Patience" in pdf_text(await converters.to_pdf(document))


async def test_readiness_says_when_no_converter_runs() -> None:
    pool = Converters(settings(pdf_converters=1))
    await pool.start()
    assert await pool.readiness() is None
    await pool.close()
    assert await pool.readiness() == "conversion PDF : aucun convertisseur LibreOffice en marche"


async def test_a_pool_whose_workers_cannot_start_keeps_trying_and_answers_503() -> None:
    pool = WorkerPool(
        "broken",
        lambda _n: [sys.executable, "-c", "raise SystemExit(7)"],
        size=1,
        queue_seconds=0.2,
        busy_message="Occupé.",
    )
    await pool.start()  # the service still starts; readiness reports no worker
    try:
        assert pool.alive == 0
        with pytest.raises(ServiceUnavailable):
            await pool.call((b"x",), 1.0)
        assert pool.stats.rejected == 1
    finally:
        await pool.close()


async def test_converters_have_no_network_when_the_system_allows_it(
    converters: Converters,
) -> None:
    assert converters.pool is not None
    (worker,) = converters.pool._workers
    namespace = os.readlink(f"/proc/{worker.process.pid}/ns/net")
    if network_isolation() is None:  # the service says so (next test), and this is true of it
        assert not converters.isolated
        assert namespace == os.readlink("/proc/self/ns/net")
        return
    assert converters.isolated
    assert namespace != os.readlink("/proc/self/ns/net")
    with open(f"/proc/{worker.process.pid}/net/dev") as interfaces:  # noqa: ASYNC230
        names = [line.split(":")[0].strip() for line in interfaces.readlines()[2:]]
    assert names == ["lo"]


async def test_without_unshare_converters_run_with_network_only_when_allowed_and_say_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The fallback on a machine where ``unshare -n`` is not permitted, whatever this one
    allows: `auto` warns and converts, `netns` refuses to start."""
    monkeypatch.setattr(converter_module, "network_isolation", lambda: None)
    pool = Converters(settings(pdf_converters=1, pdf_isolation="auto"))
    await pool.start()
    try:
        assert pool.pool is not None, pool.unavailable
        assert not pool.isolated
        assert "WITH network access" in caplog.text
    finally:
        await pool.close()
    strict = Converters(settings(pdf_converters=1, pdf_isolation="netns"))
    with pytest.raises(RuntimeError, match="netns"):
        await strict.start()
    await strict.close()


async def test_the_pool_s_watch_survives_an_error_and_still_replaces_exited_workers(
    renderer: Renderer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The loop that replaces workers dying between requests never dies quietly itself."""
    pool = renderer.pool
    real_retire = pool.retire
    failures = 0

    async def retire_failing_once(worker: Any) -> None:
        nonlocal failures
        if failures == 0:
            failures += 1
            raise RuntimeError("injected")
        await real_retire(worker)

    monkeypatch.setattr(pool, "retire", retire_failing_once)
    (worker,) = pool._workers
    os.killpg(worker.process.pid, signal.SIGKILL)

    async def replaced() -> bool:
        return pool.stats.replaced >= 1 and pool.alive == 1

    await eventually(replaced, within=60)
    assert failures == 1
    assert "checking the workers failed" in caplog.text

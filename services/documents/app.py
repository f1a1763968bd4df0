from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

from aiohttp import web
from prometheus_client import Gauge

from services.common.app import service_app
from services.common.settings import ServiceSettings
from services.common.web import READINESS_KEY, REGISTRY_KEY

from . import consumers, mailmerge, operations
from .converter import Converters
from .entities import ENTITIES
from .renderer import Renderer
from .settings import DocumentsSettings
from .web import SETTINGS_KEY, SPECS, WORKERS_KEY, routes


def create_app(settings: ServiceSettings) -> web.Application:
    """Quotes, invoices, Word templates and printing, with a replica of what they reference;
    render workers and PDF converters live and die with the app."""
    assert isinstance(settings, DocumentsSettings)

    def setup(app: web.Application) -> None:
        app[SETTINGS_KEY] = settings
        app[WORKERS_KEY] = mailmerge.Workers(Renderer(settings), Converters(settings))
        _export(app)

    return service_app(
        settings,
        Path(__file__).parent / "migrations",
        routes=routes,
        specs=SPECS,
        entities=ENTITIES,
        operations=operations.operations,
        events=operations.events,
        handlers=consumers.handlers,
        keeps_replica=True,
        contexts=[_workers],
        setup=setup,
        max_body_bytes=settings.template_max_bytes + 64 * 1024,
    )


async def _workers(app: web.Application) -> AsyncIterator[None]:
    """Render workers and PDF converters live and die with the app."""
    renderer, converters = app[WORKERS_KEY].renderer, app[WORKERS_KEY].converters
    await renderer.pool.start()
    try:
        await converters.start()
    except BaseException:
        await renderer.pool.close()
        raise
    yield
    await converters.close()
    await renderer.pool.close()


def _export(app: web.Application) -> None:
    """Readiness and metrics of the render workers and the PDF converters."""
    workers = app[WORKERS_KEY]
    renderer, converters = workers.renderer, workers.converters

    async def renderers_ready() -> str | None:
        return None if renderer.pool.alive else "fusion : aucun processus de rendu en marche"

    app[READINESS_KEY].extend([renderers_ready, converters.readiness])
    registry = app[REGISTRY_KEY]
    figures = {
        "crm_merge_workers_alive": ("Render workers running", lambda: renderer.pool.alive),
        "crm_merge_workers_busy": ("Render workers rendering", lambda: renderer.pool.busy),
        "crm_merge_renders": ("Templates rendered", lambda: renderer.pool.stats.served),
        "crm_merge_workers_replaced": (
            "Render workers replaced (a limit hit, a crash)",
            lambda: renderer.pool.stats.replaced,
        ),
        "crm_pdf_converters_alive": (
            "LibreOffice converters running",
            lambda: converters.pool.alive if converters.pool else 0,
        ),
        "crm_pdf_converters_busy": (
            "LibreOffice converters converting",
            lambda: converters.pool.busy if converters.pool else 0,
        ),
        "crm_pdf_conversions": (
            "Documents converted to PDF",
            lambda: converters.pool.stats.served if converters.pool else 0,
        ),
        "crm_pdf_converters_replaced": (
            "LibreOffice converters replaced (died, hung)",
            lambda: converters.pool.stats.replaced if converters.pool else 0,
        ),
        "crm_pdf_rejected": (
            "PDF conversions refused with 503 (no converter freed up in time)",
            lambda: converters.pool.stats.rejected if converters.pool else 0,
        ),
        "crm_pdf_isolated": ("1 when converters have no network", lambda: converters.isolated),
        "crm_bulk_merges_abandoned": (
            "Bulk merges stopped because their client went away",
            lambda: workers.stats.abandoned,
        ),
    }
    for name, (text, value) in figures.items():
        Gauge(name, text, registry=registry).set_function(value)
    limits = Gauge(
        "crm_merge_limits_hit", "Templates stopped by a limit", ["limit"], registry=registry
    )
    for limit in ("cpu", "memory", "output", "wall"):
        limits.labels(limit).set_function(partial(renderer.hits, limit))

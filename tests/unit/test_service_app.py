"""The one app factory (services/common/app.py): each part lands where every service expects it."""

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
from aiohttp import web
from pydantic import SecretStr

from services.common import replica
from services.common.app import service_app
from services.common.events import CloudEvent
from services.common.handlers import Handlers
from services.common.settings import ServiceSettings
from services.common.versions import VERSIONS_PATH, Table
from services.common.web import identity_middleware

MIGRATIONS = Path(__file__).parent


class DemoSettings(ServiceSettings):
    service = "demo"


SETTINGS = DemoSettings(
    internal_secret=SecretStr("a-secret-of-at-least-thirty-two-chars"),
    database_url="postgresql://demo@127.0.0.1:5432/demo",
)


async def hello(_request: web.Request) -> web.Response:
    return web.Response(text="bonjour")


async def clients(_app: web.Application) -> AsyncIterator[None]:
    yield


def paths(app: web.Application) -> set[str]:
    return {r.canonical for r in app.router.resources()}


def test_the_parts_of_a_service_that_keeps_a_replica() -> None:
    handlers = Handlers()

    @handlers.on("account.*")
    async def keep(conn: asyncpg.Connection, event: CloudEvent) -> None: ...

    seen: list[web.Application] = []
    app = service_app(
        SETTINGS,
        MIGRATIONS,
        routes=[web.get("/api/v1/hello", hello)],
        versioned={"things": Table("thing", "things")},
        handlers=handlers,
        keeps_replica=True,
        contexts=[clients],
        setup=seen.append,
    )
    assert seen == [app]
    assert {"/healthz", "/readyz", "/metrics", "/api/v1/hello", VERSIONS_PATH} <= paths(app)
    assert replica.seen_versions in app.middlewares
    # The service's own resources open after the database and before the relay and consumer.
    names = [getattr(ctx, "__name__", "") for ctx in app.cleanup_ctx]
    assert names == ["database", "clients", "relay", "consumers"]
    assert "/internal/meta" not in paths(app)  # no operations given: no meta


def test_a_service_that_checks_identity_itself_and_keeps_no_replica() -> None:
    app = service_app(SETTINGS, MIGRATIONS, checks_identity_itself=True, max_body_bytes=1234)
    assert replica.seen_versions not in app.middlewares
    assert not any(
        getattr(m, "__qualname__", "").startswith(identity_middleware.__name__)
        for m in app.middlewares
    )
    assert app._client_max_size == 1234
    assert VERSIONS_PATH not in paths(app)
    names = [getattr(ctx, "__name__", "") for ctx in app.cleanup_ctx]
    assert names == ["database", "relay", "consumers"]


def test_a_service_checked_by_the_gateway_wants_its_signed_identity() -> None:
    app = service_app(SETTINGS, MIGRATIONS)
    assert any(
        getattr(m, "__qualname__", "").startswith(identity_middleware.__name__)
        for m in app.middlewares
    )

"""The floor: a bare aiohttp handler doing one asyncpg query on the same data, with uvloop and
orjson — what a request costs before any of our layers."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import AsyncIterator

import asyncpg
import orjson
import uvloop
from aiohttp import web

POOL = web.AppKey("pool", asyncpg.Pool)
QUERY = "SELECT id, name, city, postal_code, phone, email, version FROM accounts WHERE id = $1"


async def account(request: web.Request) -> web.Response:
    row = await request.app[POOL].fetchrow(QUERY, uuid.UUID(request.match_info["id"]))
    if row is None:
        raise web.HTTPNotFound()
    return web.Response(body=orjson.dumps(dict(row), default=str), content_type="application/json")


def create_app(dsn: str) -> web.Application:
    app = web.Application()

    async def pool(app: web.Application) -> AsyncIterator[None]:
        app[POOL] = await asyncpg.create_pool(dsn, min_size=2, max_size=10)
        yield
        await app[POOL].close()

    app.cleanup_ctx.append(pool)
    app.router.add_get("/accounts/{id}", account)
    return app


if __name__ == "__main__":
    uvloop.install()
    web.run_app(
        create_app(sys.argv[1]),
        host="127.0.0.1",
        port=int(os.environ.get("PORT", "18090")),
        access_log=None,
        print=None,
    )

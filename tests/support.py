"""Test helpers: settings isolated from `make run`, a TCP proxy that can cut a connection,
and polling for eventually-true conditions (no timed assertions: only an upper bound)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import docx

from deploy.provision import Plan, declared_owners
from services.common.settings import (
    DEFAULT_AMQP_URL,
    DEFAULT_PG_SERVER,
    SERVICES,
    amqp_url_for,
    database_url_for,
)

T = TypeVar("T")
RUN_ID = secrets.token_hex(4)
TEST_EXCHANGE = f"crm.test-{RUN_ID}"
# The integration tests publish bare events (as guest, no user_id) and consume them with test
# handlers: on an exchange of their own, so the e2e platform's consumers (bound to `#` on
# TEST_EXCHANGE, alive for the whole session) neither receive nor refuse them.
INTEGRATION_EXCHANGE = f"{TEST_EXCHANGE}.integration"
# This run's PostgreSQL roles and broker users (cluster-wide names): crm_test_<run>_<service>,
# made by tests/conftest.py with deploy/provision.py and removed at the end.
TEST_PREFIX = f"crm_test_{RUN_ID}_"


def run_plan(name: str = "", exchange: str = TEST_EXCHANGE) -> Plan:
    """Roles, databases and broker users ``crm_test_<run>_<name><service>`` with passwords of
    their own, for ``deploy.provision.provision`` (and ``deprovision`` at the end);
    ``deploy.provision.service_environment(plan)`` gives a stack's variables."""
    return Plan(
        db_passwords={s: secrets.token_urlsafe(18) for s in SERVICES},
        amqp_passwords={s: secrets.token_urlsafe(18) for s in SERVICES},
        prefix=f"{TEST_PREFIX}{name}",
        exchange=exchange,
    )


TEST_PLAN = run_plan()  # the in-process platform's (tests/conftest.py provisions it)
INTERNAL_SECRET = secrets.token_urlsafe(24)
TOKEN_SECRET = secrets.token_urlsafe(24)
ADMIN_PASSWORD = "Mot-de-passe-de-test-1"
TELEPHONY_SECRET = secrets.token_urlsafe(24)


def isolated_database_url(name: str) -> str:
    """This run's own databases: never those of `make run` (crm_<service>), nor those of another
    test run going on at the same time on the same server."""
    return f"{DEFAULT_PG_SERVER}/crm_test_{RUN_ID}_{name}"


def role_database_url(service: str) -> str:
    """``service``'s database reached as its own role (what the service itself uses)."""
    return database_url_for(service, TEST_PLAN.db_passwords[service], TEST_PREFIX)


def role_amqp_url(service: str, port: int = 5672) -> str:
    """The broker as ``service``'s own user, on ``port`` (a TcpProxy's, or the broker's)."""
    base = f"amqp://127.0.0.1:{port}/"
    return amqp_url_for(service, TEST_PLAN.amqp_passwords[service], TEST_PREFIX, base)


def service_settings(
    settings_cls: type[T], name: str, amqp_url: str | None = None, **extra: Any
) -> T:
    """Settings of this run: a provisioned service connects as its own role and broker user;
    any other name gets a database of its own reached as the superuser, and the guest user."""
    provisioned = name in SERVICES
    values: dict[str, Any] = {
        "port": 0,
        "database_url": role_database_url(name) if provisioned else isolated_database_url(name),
        "amqp_url": amqp_url or (role_amqp_url(name) if provisioned else DEFAULT_AMQP_URL),
        "broker_user_prefix": TEST_PREFIX,
        "exchange": TEST_EXCHANGE,
        "entity_owners": declared_owners(),  # what service_environment gives a process
        "internal_secret": INTERNAL_SECRET,
        "relay_poll_seconds": 0.2,
        "db_pool_min": 1,
        "db_pool_max": 4,
        **extra,
    }
    return settings_cls(**values)


async def eventually(
    probe: Callable[[], Awaitable[T | None]], within: float = 10.0, every: float = 0.05
) -> T:
    """The first truthy answer of ``probe``; fails if none comes within ``within`` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = await probe()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {within}s (last value {value!r})")
        await asyncio.sleep(every)


class TcpProxy:
    """Forwards a loopback port to a real server; ``cut()`` makes that server unreachable."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Stop accepting and drop every live connection, as a network outage would."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._links):
            writer.transport.abort()
        self._links.clear()

    async def restore(self) -> None:
        await self.start()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.close()
            return
        self._links.update({writer, up_writer})
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._links.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()


def word_template(*paragraphs: str) -> bytes:
    """A Word document (.docx) of these paragraphs: templates for the mail-merge tests."""
    document = docx.Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


async def raw_http(host: str, port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` as bytes (a client library would refuse to) and read the whole answer:
    (status, headers with lower-case names, body)."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(request)
        await writer.drain()
        raw = await reader.read()
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body

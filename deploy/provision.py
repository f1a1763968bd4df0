"""Least privilege: one PostgreSQL role and one RabbitMQ user per service, made by an operator.

``provision(plan)`` (``python -m deploy.provision`` for `make run`, the tests for their own run)
creates or updates, idempotently:

- PostgreSQL, as the superuser: a LOGIN role ``<prefix><service>`` per service with its password,
  and its database ``<prefix><service>`` (CONNECT revoked from PUBLIC), owned by that role; the
  migrations are applied under ``SET ROLE``, so the objects belong to the role too. The audit
  database is the exception: it and its objects belong to the NOLOGIN role
  ``<prefix>audit_owner``; the audit service's role may connect, SELECT and INSERT its trail
  (``audit_entries``, ``audit_rejections``), never UPDATE, DELETE, TRUNCATE, ALTER or DROP it.
- RabbitMQ, through one ``rabbitmqctl import_definitions`` (a call costs about a second): the
  events exchange and its dead-letter exchange; a user ``<prefix><service>`` per service that may
  configure only its own queues (``<exchange>.<service>``, its dead-letter queue, server-named
  ``amq.gen-*`` queues), write and read those and the two exchanges (which it looks up, never
  declares: it cannot delete them), and publish on the events exchange only the routing keys of
  the entities it owns (topic permissions: ``declared_owners``, from the services' own
  declarations); and, for `make run`, the operators' user
  ``crm-admin`` (tags administrator and impersonator, so a replay keeps the original
  ``user_id``).

Services then call ``prepare_database`` at start as their role: it finds everything applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import logging
import os
import re
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg

from services.common import replica
from services.common.broker import (
    announcement_key,
    dead_letter_exchange,
    dead_letter_queue,
    entity_owners,
    format_entity_owners,
    owned_entities,
    queue_name,
)
from services.common.db import all_migrations, migrate
from services.common.settings import (
    DEFAULT_AMQP_URL,
    DEFAULT_PG_SERVER,
    DEFAULT_PREFIX,
    SERVICES,
    amqp_url_for,
    database_url_for,
)

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
# What each service migrates: the replica's tables for those whose app.py says keeps_replica=True
# (services/common/app.py), then its own.
COMPONENTS: dict[str, list[tuple[str, Path]]] = {
    service: [
        *([replica.MIGRATIONS] if service in ("accounts", "activities", "documents") else []),
        (service, ROOT / "services" / service / "migrations"),
    ]
    for service in SERVICES
}
# The audit trail: its service's role may read and append, nothing else.
AUDIT_TRAIL_TABLES = ("audit_entries", "audit_rejections")
BROKER_ADMIN = "crm-admin"
# Every service role is a member (it grants nothing): pg_hba.conf asks its members for their
# password, however trusted loopback is otherwise (deploy/ensure-infra.sh).
SERVICE_ROLES_GROUP = "crm_services"
_PROVISION_LOCK_KEY = 0x6372_6D5F_7072_6F76  # "crm_prov": one provisioning at a time


@dataclass(frozen=True)
class Plan:
    """What to provision: names are ``<prefix><service>`` (roles, databases, broker users)."""

    db_passwords: Mapping[str, str]
    amqp_passwords: Mapping[str, str]
    prefix: str = DEFAULT_PREFIX
    exchange: str = "crm.events"
    admin_amqp_password: str | None = None  # the operators' broker user, crm-admin
    services: Sequence[str] = SERVICES
    pg_server: str = DEFAULT_PG_SERVER  # as the superuser
    timings: dict[str, float] = field(default_factory=dict, compare=False)

    def role(self, service: str) -> str:
        return f"{self.prefix}{service}"

    def database(self, service: str) -> str:
        return f"{self.prefix}{service}"

    def owner(self, service: str) -> str:
        """Who owns the service's database and objects: its role, but for the audit trail."""
        return f"{self.prefix}audit_owner" if service == "audit" else self.role(service)

    def superuser_dsn(self, database: str) -> str:
        return f"{self.pg_server}/{database}"


class ProvisioningError(RuntimeError):
    """Provisioning could not be done; the message says what to run instead."""


def published_entities(service: str) -> tuple[str, ...]:
    """The entities whose events ``service`` publishes, as its package declares them in
    ``services/<service>/entities.py``: ``ENTITIES`` (each an ``Entity``) and ``PUBLISHED``
    (other entity names, e.g. accounts' picklist values); none without that module (audit)."""
    name = f"services.{service}.entities"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        return ()
    declared = [entity.name for entity in getattr(module, "ENTITIES", ())]
    return tuple(dict.fromkeys([*declared, *getattr(module, "PUBLISHED", ())]))


def declared_owners(services: Sequence[str] = SERVICES) -> dict[str, str]:
    """Entity -> owning service, from every service's declarations: the topic permissions
    and what consumers accept (``CRM_ENTITY_OWNERS``, ``service_environment``)."""
    return entity_owners({service: published_entities(service) for service in services})


async def _sql(conn: asyncpg.Connection, template: str, *values: str) -> None:
    """Run a utility statement: identifiers (%I) and literals (%L) quoted by PostgreSQL's
    ``format``, since such statements take no parameters."""
    statement = await conn.fetchval(
        f"SELECT format($1, {', '.join(f'${i + 2}::text' for i in range(len(values)))})",
        template,
        *values,
    )
    await conn.execute(statement)


async def _ensure_role(conn: asyncpg.Connection, name: str, password: str | None) -> None:
    exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", name)
    verb = "ALTER" if exists else "CREATE"
    attributes = "NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"
    if password is None:
        await _sql(conn, f"{verb} ROLE %I WITH NOLOGIN {attributes}", name)
    else:
        await _sql(conn, f"{verb} ROLE %I WITH LOGIN {attributes} PASSWORD %L", name, password)
        member = await conn.fetchval(
            "SELECT pg_has_role($1, $2, 'MEMBER')", name, SERVICE_ROLES_GROUP
        )
        if not member:
            await _sql(conn, "GRANT %I TO %I", SERVICE_ROLES_GROUP, name)


async def _ensure_database(conn: asyncpg.Connection, name: str, owner: str) -> None:
    if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
        await _sql(conn, "ALTER DATABASE %I OWNER TO %I", name, owner)
    else:
        await _sql(conn, "CREATE DATABASE %I OWNER %I", name, owner)
    await _sql(conn, "REVOKE ALL ON DATABASE %I FROM PUBLIC", name)


# Objects of the public schema not owned by the owner yet (a database migrated before roles
# existed was owned by postgres), extension members and serial sequences aside.
FOREIGN_OWNED_RELATIONS = """
SELECT c.relkind::text AS relkind, format('%I', c.relname) AS name FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relowner <> $1::regrole
  AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                  AND d.objid = c.oid AND d.deptype IN ('e', 'a', 'i'))
"""
FOREIGN_OWNED_FUNCTIONS = """
SELECT p.oid::regprocedure::text AS name FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'public' AND p.proowner <> $1::regrole
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                  AND d.objid = p.oid AND d.deptype = 'e')
"""
_KINDS = {
    "r": "TABLE",
    "p": "TABLE",
    "f": "FOREIGN TABLE",
    "v": "VIEW",
    "m": "MATERIALIZED VIEW",
    "S": "SEQUENCE",
}


async def _hand_over(conn: asyncpg.Connection, owner: str) -> None:
    """Give the owner what an earlier, superuser-run migration left to postgres."""
    quoted_owner = await conn.fetchval("SELECT quote_ident($1)", owner)
    for row in await conn.fetch(FOREIGN_OWNED_RELATIONS, owner):
        await conn.execute(f"ALTER {_KINDS[row['relkind']]} {row['name']} OWNER TO {quoted_owner}")
    for row in await conn.fetch(FOREIGN_OWNED_FUNCTIONS, owner):
        await conn.execute(f"ALTER FUNCTION {row['name']} OWNER TO {quoted_owner}")


async def _grant_audit(conn: asyncpg.Connection, role: str) -> None:
    """The audit service's role: read and append the trail; its inbox and outbox as usual."""
    await _sql(conn, "REVOKE ALL ON ALL TABLES IN SCHEMA public FROM %I", role)
    tables = [
        r["tablename"]
        for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    ]
    for table in tables:
        if table in AUDIT_TRAIL_TABLES:
            privileges = "SELECT, INSERT"
        elif table == "schema_migrations":
            privileges = "SELECT"
        else:
            privileges = "SELECT, INSERT, UPDATE, DELETE"
        await _sql(conn, f"GRANT {privileges} ON TABLE %I TO %I", table, role)
    await _sql(conn, "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO %I", role)
    await _sql(conn, "GRANT USAGE ON SCHEMA public TO %I", role)


async def _prepare_service_database(plan: Plan, service: str) -> list[str]:
    owner, database = plan.owner(service), plan.database(service)
    conn = await asyncpg.connect(plan.superuser_dsn(database))
    try:
        await conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        await _hand_over(conn, owner)
        applied = await migrate(
            plan.superuser_dsn(database), all_migrations(COMPONENTS[service]), role=owner
        )
        if service == "audit":
            await _grant_audit(conn, plan.role(service))
    finally:
        await conn.close()
    return applied


async def provision_postgres(plan: Plan) -> list[str]:
    """Roles, databases, ownership, migrations and grants; returns the migrations applied."""
    conn = await asyncpg.connect(plan.superuser_dsn("postgres"))
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _PROVISION_LOCK_KEY)
        try:
            if not await conn.fetchval(
                "SELECT 1 FROM pg_roles WHERE rolname = $1", SERVICE_ROLES_GROUP
            ):
                await _sql(conn, "CREATE ROLE %I NOLOGIN", SERVICE_ROLES_GROUP)
            for service in plan.services:
                await _ensure_role(conn, plan.role(service), plan.db_passwords[service])
                if plan.owner(service) != plan.role(service):
                    await _ensure_role(conn, plan.owner(service), None)
                await _ensure_database(conn, plan.database(service), plan.owner(service))
                if plan.owner(service) != plan.role(service):
                    await _sql(
                        conn,
                        "GRANT CONNECT ON DATABASE %I TO %I",
                        plan.database(service),
                        plan.role(service),
                    )
            applied = await asyncio.gather(
                *(_prepare_service_database(plan, s) for s in plan.services)
            )
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _PROVISION_LOCK_KEY)
    finally:
        await conn.close()
    return [name for names in applied for name in names]


def _alternatives(names: Sequence[str]) -> str:
    return "^(" + "|".join(re.escape(n) for n in names) + ")$"


def broker_definitions(plan: Plan) -> dict[str, Any]:
    """The users, permissions and topic permissions, as ``rabbitmqctl import_definitions``
    reads them."""
    exchange, dlx = plan.exchange, dead_letter_exchange(plan.exchange)
    users: list[dict[str, Any]] = []
    permissions: list[dict[str, str]] = []
    topic_permissions: list[dict[str, str]] = []
    owners = declared_owners()
    for service in plan.services:
        user = plan.role(service)
        users.append({"name": user, "password": plan.amqp_passwords[service], "tags": ""})
        own = [queue_name(exchange, service), dead_letter_queue(exchange, service)]
        # The exchanges are declared here (below): services only look them up, which needs no
        # permission, so none may configure (delete) them. Publishing needs write on the
        # exchange, binding a queue read on it.
        queues = _alternatives(own).replace(")$", r"|amq\.gen-.*)$")
        queues_and_exchanges = _alternatives([*own, exchange, dlx]).replace(")$", r"|amq\.gen-.*)$")
        permissions.append(
            {
                "user": user,
                "vhost": "/",
                "configure": queues,
                "write": queues_and_exchanges,
                "read": queues_and_exchanges,
            }
        )
        # Its entities' events, and the announcement of its meta (services.common.meta).
        entities = owned_entities(service, owners)
        announcement = f"^{re.escape(announcement_key(service))}$"
        topic_permissions.append(
            {
                "user": user,
                "vhost": "/",
                "exchange": exchange,
                "write": (
                    _alternatives(entities).replace(")$", r")\.[a-z_]+$") + "|" + announcement
                    if entities
                    else announcement
                ),
                "read": ".*",
            }
        )
    if plan.admin_amqp_password is not None:
        users.append(
            {
                "name": BROKER_ADMIN,
                "password": plan.admin_amqp_password,
                "tags": "administrator,impersonator",
            }
        )
        permissions.append(
            {"user": BROKER_ADMIN, "vhost": "/", "configure": ".*", "write": ".*", "read": ".*"}
        )
    exchanges = [
        {
            "name": name,
            "vhost": "/",
            "type": kind,
            "durable": True,
            "auto_delete": False,
            "internal": False,
            "arguments": {},
        }
        for name, kind in ((exchange, "topic"), (dlx, "direct"))
    ]
    return {
        "users": users,
        "permissions": permissions,
        "topic_permissions": topic_permissions,
        "exchanges": exchanges,
    }


async def _rabbitmqctl(*args: str, stdin: bytes | None = None) -> str:
    process = await asyncio.create_subprocess_exec(
        "rabbitmqctl",
        *args,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate(stdin)
    if process.returncode != 0:
        raise ProvisioningError(out.decode(errors="replace").strip())
    return out.decode(errors="replace")


# rabbitmqctl's answers while the broker is (re)starting: worth waiting for.
_BROKER_STARTING = ("app to be running", "nodedown", "unable to perform an operation on node")


async def _rabbitmqctl_patiently(
    *args: str, stdin: bytes | None = None, within: float = 30.0
) -> str:
    """``rabbitmqctl``, retried while the broker is stopped or starting (an operator or a
    fault test may restart it); any other failure at once."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            return await _rabbitmqctl(*args, stdin=stdin)
        except ProvisioningError as exc:
            starting = any(sign in str(exc) for sign in _BROKER_STARTING)
            if not starting or asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.5)


async def provision_broker(plan: Plan, amqp_base: str = DEFAULT_AMQP_URL) -> None:
    """Import the definitions in one call (on its standard input: the passwords touch no
    file), then wait until every user can connect (the import is applied asynchronously)."""
    definitions = json.dumps(broker_definitions(plan)).encode()
    try:
        await _rabbitmqctl_patiently("import_definitions", "--format", "json", stdin=definitions)
    except (ProvisioningError, OSError) as exc:
        raise ProvisioningError(
            f"rabbitmqctl import_definitions failed ({exc}).\n"
            "Run, as root or as the rabbitmq user:\n"
            "  .venv/bin/python -m deploy.provision --print-definitions"
            " | rabbitmqctl import_definitions --format json"
        ) from exc
    await asyncio.gather(
        *(
            _wait_until_connects(amqp_url_for(s, plan.amqp_passwords[s], plan.prefix, amqp_base))
            for s in plan.services
        )
    )


async def _wait_until_connects(url: str, within: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            connection = await aio_pika.connect(url, timeout=5)
        except (aio_pika.exceptions.AMQPError, OSError, TimeoutError):
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.1)
        else:
            await connection.close()
            return


async def provision(plan: Plan) -> list[str]:
    """PostgreSQL and RabbitMQ side by side; ``plan.timings`` gets how long each took."""

    async def timed(name: str, work: Any) -> Any:
        started = time.perf_counter()
        result = await work
        plan.timings[name] = round(time.perf_counter() - started, 3)
        return result

    applied, _ = await asyncio.gather(
        timed("postgres", provision_postgres(plan)), timed("rabbitmq", provision_broker(plan))
    )
    return list(applied)


async def deprovision(plan: Plan) -> None:
    """Remove what ``provision(plan)`` made: databases (forced), roles, broker users."""
    conn = await asyncpg.connect(plan.superuser_dsn("postgres"))
    try:
        for service in plan.services:
            await _sql(conn, "DROP DATABASE IF EXISTS %I WITH (FORCE)", plan.database(service))
        for service in plan.services:
            for role in {plan.role(service), plan.owner(service)}:
                with contextlib.suppress(asyncpg.PostgresError):
                    await _sql(conn, "DROP ROLE IF EXISTS %I", role)
    finally:
        await conn.close()
    users = [plan.role(s) for s in plan.services]
    results = await asyncio.gather(
        *(_rabbitmqctl_patiently("delete_user", u) for u in users), return_exceptions=True
    )
    for user, result in zip(users, results, strict=True):
        if isinstance(result, BaseException):
            log.warning("could not delete broker user %s: %s", user, result)


def service_environment(plan: Plan, amqp_base: str = DEFAULT_AMQP_URL) -> dict[str, str]:
    """The variables that make each service connect as its own role and broker user (for a
    stack started with other names than `make run`'s, e.g. by a test), and the entity owners
    its consumers check publishers against."""
    env = {
        "CRM_BROKER_USER_PREFIX": plan.prefix,
        "CRM_EXCHANGE": plan.exchange,
        "CRM_ENTITY_OWNERS": format_entity_owners(declared_owners()),
    }
    for service in plan.services:
        upper = service.upper()
        env[f"CRM_{upper}_DATABASE_URL"] = database_url_for(
            service, plan.db_passwords[service], plan.prefix
        )
        env[f"CRM_{upper}_AMQP_URL"] = amqp_url_for(
            service, plan.amqp_passwords[service], plan.prefix, amqp_base
        )
    return env


async def remove_leftover_test_roles(pg_server: str = DEFAULT_PG_SERVER) -> list[str]:
    """Roles and broker users of earlier test runs (``crm_test_<run>_*``) none of whose
    databases are left (a run still going keeps its databases): a run that could not clean up."""
    conn = await asyncpg.connect(f"{pg_server}/postgres")
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _PROVISION_LOCK_KEY)
        try:
            roles = [
                r["rolname"]
                for r in await conn.fetch(
                    "SELECT rolname FROM pg_roles WHERE rolname LIKE 'crm\\_test\\_%'"
                )
            ]
            live_runs = {
                r["datname"].split("_")[2]
                for r in await conn.fetch(
                    "SELECT datname FROM pg_database WHERE datname LIKE 'crm\\_test\\_%'"
                )
            }
            dead_runs = {r.split("_")[2] for r in roles} - live_runs
            leftover = [r for r in roles if r.split("_")[2] in dead_runs]
            for role in sorted(leftover, key=lambda r: r.endswith("_audit_owner")):
                with contextlib.suppress(asyncpg.PostgresError):
                    await _sql(conn, "DROP ROLE IF EXISTS %I", role)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _PROVISION_LOCK_KEY)
    finally:
        await conn.close()
    if dead_runs:
        with contextlib.suppress(ProvisioningError, OSError):
            listed = await _rabbitmqctl("list_users", "--quiet", "--no-table-headers")
            users = [line.split("\t")[0] for line in listed.splitlines() if line.strip()]
            doomed = [
                u for u in users if u.startswith("crm_test_") and u.split("_")[2] in dead_runs
            ]
            await asyncio.gather(
                *(_rabbitmqctl("delete_user", u) for u in doomed), return_exceptions=True
            )
    return leftover


def plan_from_secrets(secrets: Mapping[str, str], exchange: str | None = None) -> Plan:
    """The `make run` plan, with the passwords deploy/run.py keeps in .run/secrets.env."""
    return Plan(
        db_passwords={s: secrets[f"CRM_{s.upper()}_DB_PASSWORD"] for s in SERVICES},
        amqp_passwords={s: secrets[f"CRM_{s.upper()}_AMQP_PASSWORD"] for s in SERVICES},
        prefix=secrets.get("CRM_BROKER_USER_PREFIX") or DEFAULT_PREFIX,
        exchange=exchange or os.environ.get("CRM_EXCHANGE") or "crm.events",
        admin_amqp_password=secrets.get("CRM_BROKER_ADMIN_PASSWORD"),
    )


def main(argv: Sequence[str] | None = None) -> int:
    from deploy.run import load_secrets  # the secrets `make run` generates once and keeps

    args = list(sys.argv[1:] if argv is None else argv)
    plan = plan_from_secrets({**os.environ, **load_secrets()})
    if "--print-definitions" in args:
        print(json.dumps(broker_definitions(plan), indent=2))
        return 0
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        applied = asyncio.run(provision(plan))
    except ProvisioningError as exc:
        print(f"provision: {exc}", file=sys.stderr)
        return 1
    print(
        f"provision: roles, databases and broker users ready "
        f"(PostgreSQL {plan.timings.get('postgres')} s, RabbitMQ {plan.timings.get('rabbitmq')} s"
        f"{f', {len(applied)} migrations applied' if applied else ''})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The five services as real processes, started by `python -m deploy.run --no-seed` exactly as
`make run` starts them, in an environment of their own: this run's databases, an exchange of
their own, free ports and generated secrets, and their own PostgreSQL roles and broker users. Faults are injected from outside: the broker is
stopped and started, database connections are terminated, a service is killed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

import aio_pika
import aiohttp
import asyncpg
from yarl import URL

from deploy.provision import Plan, service_environment
from deploy.run import GENERATED
from services.common.broker import dead_letter_exchange, dead_letter_queue, queue_name
from services.common.settings import (
    DEFAULT_AMQP_URL,
    DEFAULT_PG_SERVER,
    SERVICE_PORTS,
    amqp_url_for,
)
from tests.support import RUN_ID, TEST_EXCHANGE, eventually, run_plan

ROOT = Path(__file__).resolve().parents[2]
SERVICES = tuple(SERVICE_PORTS)
# Its own exchange (and so its own queues): the in-process platform of the e2e tests uses
# TEST_EXCHANGE with the same queue names, and the two must not consume each other's events.
FAULTS_EXCHANGE = f"{TEST_EXCHANGE}.faults"
# Its own PostgreSQL roles, databases and broker users (deploy/provision.py), as `make run` has:
# crm_test_<run>_faults_<service>, removed with the run's other crm_test_<run>_* leftovers.
FAULTS_PREFIX = f"crm_test_{RUN_ID}_faults_"


def faults_plan() -> Plan:
    return run_plan("faults_", FAULTS_EXCHANGE)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database_name(service: str) -> str:
    return f"{FAULTS_PREFIX}{service}"


def superuser_url(service: str) -> str:
    """The service's database as the superuser (to read the audit trail behind its back)."""
    return f"{DEFAULT_PG_SERVER}/{database_name(service)}"


async def run_command(
    *argv: str, within: float = 60, stdin: bytes | None = None
) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(stdin), within)
    except TimeoutError:
        process.kill()
        await process.wait()
        return -1, f"{' '.join(argv)}: no answer within {within}s"
    return process.returncode or 0, out.decode(errors="replace")


async def broker_started() -> None:
    """Start the broker's application (a no-op when running) and wait until it serves."""
    await run_command("rabbitmqctl", "start_app", within=120)
    code, out = await run_command("rabbitmqctl", "await_startup", "--timeout", "120", within=130)
    if code != 0:
        raise RuntimeError(f"RabbitMQ did not start again: {out}")


async def broker_stopped() -> None:
    code, out = await run_command("rabbitmqctl", "stop_app", within=120)
    if code != 0:
        raise RuntimeError(f"rabbitmqctl stop_app failed: {out}")


async def terminate_connections(service: str) -> int:
    """As the superuser, end every connection to the service's database; how many ended."""
    conn = await asyncpg.connect(f"{DEFAULT_PG_SERVER}/postgres")
    try:
        ended = await conn.fetchval(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = $1 AND pid <> pg_backend_pid()",
            database_name(service),
        )
        return int(ended)
    finally:
        await conn.close()


def children_of(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            # pid (comm) state ppid ...: comm may hold spaces, so split after its ')'.
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def command_line(pid: int) -> list[str]:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    return []


@dataclass
class Stack:
    run_dir: Path
    plan: Plan = field(default_factory=faults_plan)
    ports: dict[str, int] = field(default_factory=lambda: {s: free_port() for s in SERVICES})
    admin_password: str = field(default_factory=lambda: "Faute-" + secrets.token_urlsafe(12))
    operator_password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    process: asyncio.subprocess.Process | None = None

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    @property
    def runner_log(self) -> Path:
        return self.run_dir / "runner.log"

    def environment(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("CRM_") and key not in ("PYTEST_CURRENT_TEST",)
        }
        # Every secret deploy.run would otherwise generate (and keep), given.
        env.update({name: secrets.token_urlsafe(24) for name in GENERATED})
        env.update(
            {
                "PYTHONUNBUFFERED": "1",
                "CRM_RUN_DIR": str(self.run_dir),
                "CRM_LOG_DIR": str(self.run_dir),  # each service's output in <service>.log
                "CRM_ADMIN_PASSWORD": self.admin_password,
                "CRM_RELAY_POLL_SECONDS": "0.5",
                "CRM_DB_POOL_MAX": "6",
            }
        )
        for service, port in self.ports.items():
            upper = service.upper()
            env[f"CRM_{upper}_PORT"] = str(port)
            env[f"CRM_{upper}_URL"] = self.url(service)
            env[f"CRM_{upper}_DB_PASSWORD"] = self.plan.db_passwords[service]
            env[f"CRM_{upper}_AMQP_PASSWORD"] = self.plan.amqp_passwords[service]
        # Each service as its own PostgreSQL role and broker user, on this stack's exchange.
        env.update(service_environment(self.plan))
        return env

    async def start(self, within: float = 120) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        # The runner keeps its secrets in CRM_RUN_DIR: never in the checkout's .run/ of `make run`.
        assert "CRM_RUN_DIR" in (ROOT / "deploy" / "run.py").read_text()
        with self.runner_log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "deploy.run",
                "--no-seed",
                cwd=ROOT,
                env=self.environment(),
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        async with aiohttp.ClientSession() as http:
            for service in SERVICES:

                async def ready(service: str = service) -> bool:
                    return await self.ready(http, service)

                await eventually(ready, within=within, every=0.3)

    async def ready(self, http: aiohttp.ClientSession, service: str) -> bool:
        if self.process is not None and self.process.returncode is not None:
            raise AssertionError(
                f"deploy.run exited ({self.process.returncode}) while waiting for {service}\n"
                + self.tail()
            )
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with http.get(
                f"{self.url(service)}/readyz", timeout=aiohttp.ClientTimeout(total=3)
            ) as response:
                return response.status == 200
        return False

    async def not_ready(self, http: aiohttp.ClientSession) -> dict[str, str]:
        """Each service whose /readyz does not answer 200, with what it says."""
        failing: dict[str, str] = {}
        for service in SERVICES:
            try:
                async with http.get(
                    f"{self.url(service)}/readyz", timeout=aiohttp.ClientTimeout(total=3)
                ) as response:
                    if response.status != 200:
                        failing[service] = f"{response.status} {await response.text()}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                failing[service] = repr(exc)
        return failing

    def pid_of(self, service: str) -> int | None:
        """The service's process: its pid file, else the runner's child running it."""
        pid_file = self.run_dir / f"{service}.pid"
        with contextlib.suppress(OSError, ValueError):
            pid = int(pid_file.read_text().strip())
            if Path(f"/proc/{pid}").exists():
                return pid
        if self.process is None:
            return None
        for child in children_of(self.process.pid):
            if f"services.{service}" in command_line(child):
                return child
        return None

    def kill(self, service: str) -> int:
        pid = self.pid_of(service)
        if pid is None:
            raise AssertionError(f"no running process for {service}\n{self.tail()}")
        os.kill(pid, signal.SIGKILL)
        return pid

    @property
    def operator(self) -> str:
        """This stack's operators' broker user (administrator, impersonator: a replay keeps the
        original publisher), as deploy/provision.py makes ``crm-admin`` for `make run`."""
        return f"{FAULTS_PREFIX}operator"

    async def add_operator(self) -> None:
        definitions = {
            "users": [
                {
                    "name": self.operator,
                    "password": self.operator_password,
                    "tags": "administrator,impersonator",
                }
            ],
            "permissions": [
                {
                    "user": self.operator,
                    "vhost": "/",
                    "configure": ".*",
                    "write": ".*",
                    "read": ".*",
                }
            ],
        }
        code, out = await run_command(
            "rabbitmqctl",
            "import_definitions",
            "--format",
            "json",
            stdin=json.dumps(definitions).encode(),
        )
        if code != 0:
            raise RuntimeError(f"could not add the operators' broker user: {out}")

        async def connects() -> bool:
            try:
                connection = await aio_pika.connect(self.operator_url, timeout=5)
            except (aio_pika.exceptions.AMQPError, OSError, TimeoutError):
                return False
            await connection.close()
            return True

        await eventually(connects, within=30, every=0.2)

    async def remove_operator(self) -> None:
        await run_command("rabbitmqctl", "delete_user", self.operator)

    @property
    def operator_url(self) -> str:
        return str(
            URL(DEFAULT_AMQP_URL).with_user(self.operator).with_password(self.operator_password)
        )

    def broker_url(self, service: str) -> str:
        """The broker as ``service``'s own user."""
        return amqp_url_for(service, self.plan.amqp_passwords[service], FAULTS_PREFIX)

    async def crm_admin(self, *argv: str) -> tuple[int, str]:
        """``crm-admin argv`` run as an operator would, against this stack; (exit code, output)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
        env["CRM_EXCHANGE"] = FAULTS_EXCHANGE
        env["CRM_AMQP_ADMIN_URL"] = self.operator_url
        env["CRM_BROKER_USER_PREFIX"] = FAULTS_PREFIX
        for service in SERVICES:
            env[f"CRM_{service.upper()}_DATABASE_URL"] = superuser_url(service)
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "services.admin",
            *argv,
            cwd=self.run_dir,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(process.communicate(), 120)
        return process.returncode or 0, out.decode(errors="replace")

    def tail(self, lines: int = 40) -> str:
        """The end of the runner's output and of every log file the runner wrote."""
        parts = []
        for path in sorted(self.run_dir.glob("*.log")):
            with contextlib.suppress(OSError):
                text = path.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"----- {path.name} (last {lines} lines) -----\n" + "\n".join(text))
        return "\n".join(parts)

    def log_lines(self, *needles: str, service: str | None = None) -> list[str]:
        """Lines of every log (or only ``service``'s) holding one of ``needles``."""
        found = []
        for path in sorted(self.run_dir.glob(f"{service}.log" if service else "*.log")):
            with contextlib.suppress(OSError):
                for line in path.read_text(errors="replace").splitlines():
                    if any(needle in line for needle in needles):
                        found.append(f"{path.name}: {line}")
        return found

    async def stop(self) -> None:
        if self.process is None:
            return
        runner = self.process
        children = children_of(runner.pid)
        if runner.returncode is None:
            runner.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(runner.wait(), 30)
            except TimeoutError:
                runner.kill()
                await runner.wait()
        # Children left behind by a runner that could not stop them (only ours, by pid).
        for child in children:
            if "services." in " ".join(command_line(child)):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGKILL)


async def drop_topology(exchange: str) -> None:
    """This stack's exchange and queues, which outlive it (durable)."""
    connection = await aio_pika.connect(DEFAULT_AMQP_URL)
    async with connection:
        for name in SERVICES:
            for queue in (queue_name(exchange, name), dead_letter_queue(exchange, name)):
                channel = await connection.channel()
                with contextlib.suppress(aio_pika.exceptions.AMQPError):
                    await channel.queue_delete(queue)
        for name in (exchange, dead_letter_exchange(exchange)):
            channel = await connection.channel()
            with contextlib.suppress(aio_pika.exceptions.AMQPError):
                await channel.exchange_delete(name)

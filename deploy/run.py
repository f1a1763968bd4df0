"""Local runner behind `make run`: starts the five services in the foreground, waits until each
is ready, seeds the demo dataset (unless ``--no-seed``), prints where to go and how to log in.
A service that exits is started again after a backoff (logged), the others untouched. Ctrl-C or
SIGTERM stops them all.

Secrets that are not set in the environment are generated once and kept in
``$CRM_RUN_DIR/secrets.env`` (default ``.run/``, not committed), so the admin password stays the
same from one run to the next; ``$CRM_RUN_DIR/<service>.pid`` holds each service's current pid.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import secrets
import signal
import sys
from collections.abc import Awaitable, Sequence
from pathlib import Path

import aiohttp

from deploy.provision import declared_owners
from deploy.seed import SeedSkipped, seed_demo
from services.common.broker import format_entity_owners
from services.common.settings import MIN_SECRET_LENGTH, SERVICE_PORTS
from services.common.supervisor import Backoff

ROOT = Path(__file__).resolve().parent.parent
RUN_DIR = Path(os.environ.get("CRM_RUN_DIR") or ROOT / ".run").resolve()
SECRETS_FILE = RUN_DIR / "secrets.env"
START_ORDER = ("audit", "accounts", "activities", "documents", "gateway")
# A service restarted right away, then after longer and longer waits while it keeps exiting; a
# run of RESET_AFTER seconds counts as a success (the next exit is retried at once again).
RESTART_BACKOFF = Backoff(initial=0.5, maximum=30.0)
RESET_AFTER = 60.0
STOP_SECONDS = 10.0
GENERATED = (
    "CRM_INTERNAL_SECRET",
    "CRM_TOKEN_SECRET",
    "CRM_ADMIN_PASSWORD",
    # Each service's PostgreSQL role and broker user (deploy/provision.py), and the operators'.
    *(f"CRM_{s.upper()}_{kind}_PASSWORD" for s in SERVICE_PORTS for kind in ("DB", "AMQP")),
    "CRM_BROKER_ADMIN_PASSWORD",
)
SIGNING_KEYS = ("CRM_INTERNAL_SECRET", "CRM_TOKEN_SECRET")  # HMAC keys: MIN_SECRET_LENGTH


def load_secrets() -> dict[str, str]:
    """Secrets from the environment, else from .run/secrets.env, else generated and saved."""
    saved: dict[str, str] = {}
    if SECRETS_FILE.exists():
        for line in SECRETS_FILE.read_text().splitlines():
            name, sep, value = line.partition("=")
            if sep:
                saved[name.strip()] = value.strip()
    for name in SIGNING_KEYS:  # kept by an older run, shorter than the services now accept
        if name in saved and len(saved[name]) < MIN_SECRET_LENGTH:
            print(f"{name} in {SECRETS_FILE.name} was too short: a new one is made", flush=True)
            del saved[name]
    values = {
        name: os.environ.get(name) or saved.get(name) or secrets.token_urlsafe(32)
        for name in GENERATED
    }
    if values != {name: saved.get(name) for name in GENERATED}:
        RUN_DIR.mkdir(exist_ok=True)
        SECRETS_FILE.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
        SECRETS_FILE.chmod(0o600)
    return values


def port_of(service: str) -> int:
    return int(os.environ.get(f"CRM_{service.upper()}_PORT", SERVICE_PORTS[service]))


async def wait_ready(session: aiohttp.ClientSession, service: str, within: float = 90) -> None:
    url = f"http://127.0.0.1:{port_of(service)}/readyz"
    deadline = asyncio.get_running_loop().time() + within
    while True:
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with session.get(url, timeout=aiohttp.ClientTimeout(total=2)) as response:
                if response.status == 200:
                    return
        if asyncio.get_running_loop().time() > deadline:
            raise RuntimeError(f"{service} did not become ready at {url}")
        await asyncio.sleep(0.3)


def shown(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.relative_to(ROOT))
    return str(path)


class ServiceKeeper:
    """Runs one service as a child process and starts it again whenever it exits, until stopped."""

    def __init__(
        self,
        service: str,
        env: dict[str, str],
        stop: asyncio.Event,
        *,
        command: Sequence[str] | None = None,  # the service's own by default
        run_dir: Path | None = None,
        backoff: Backoff = RESTART_BACKOFF,
    ) -> None:
        self.service = service
        self._env = env
        self._stop = stop
        self._command = list(command or (sys.executable, "-m", f"services.{service}"))
        self._backoff = backoff
        self.process: asyncio.subprocess.Process | None = None
        self.restarts = 0
        self.pid_file = (run_dir or RUN_DIR) / f"{service}.pid"

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        attempt = 0
        try:
            while not self._stop.is_set():
                started = loop.time()
                # CRM_LOG_DIR (the fault suite sets it): each service's output in <service>.log.
                log_dir = self._env.get("CRM_LOG_DIR")
                output = (
                    os.open(
                        Path(log_dir) / f"{self.service}.log",
                        os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                        0o600,
                    )
                    if log_dir
                    else None
                )
                try:
                    self.process = await asyncio.create_subprocess_exec(
                        *self._command,
                        cwd=ROOT,
                        env=self._env,
                        stdout=output,
                        stderr=output,
                    )
                finally:
                    if output is not None:
                        os.close(output)
                self.pid_file.write_text(f"{self.process.pid}\n")
                if await self._stopped_before(self.process.wait()):
                    return
                if loop.time() - started >= RESET_AFTER:
                    attempt = 0
                delay = self._backoff.delay(attempt, random.random())
                attempt += 1
                self.restarts += 1
                print(
                    f"run: {self.service} exited ({describe(self.process.returncode)}); "
                    f"restarting it in {delay:.1f}s (restart {self.restarts})",
                    file=sys.stderr,
                    flush=True,
                )
                if await self._stopped_before(asyncio.sleep(delay)):
                    return
        finally:
            await self.terminate()
            self.pid_file.unlink(missing_ok=True)

    async def _stopped_before(self, waiting: Awaitable[object]) -> bool:
        """Wait for ``waiting`` or the stop, whichever comes first; True on the stop."""
        task = asyncio.ensure_future(waiting)
        stopping = asyncio.create_task(self._stop.wait())
        await asyncio.wait([task, stopping], return_when=asyncio.FIRST_COMPLETED)
        for pending in (task, stopping):
            pending.cancel()
        await asyncio.gather(task, stopping, return_exceptions=True)
        # A Ctrl-C reaches the children too: one that exited with it is not restarted.
        await asyncio.sleep(0)
        return self._stop.is_set()

    async def terminate(self) -> None:
        process = self.process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), STOP_SECONDS)
        except TimeoutError:
            print(f"run: {self.service} did not stop in time; killed", file=sys.stderr)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


def describe(returncode: int | None) -> str:
    if returncode is not None and returncode < 0:
        with contextlib.suppress(ValueError):
            return f"signal {signal.Signals(-returncode).name}"
    return f"code {returncode}"


async def start_up(env: dict[str, str], seed: bool) -> None:
    """Wait until every service is ready, seed the demo data, say where to go."""
    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(wait_ready(session, s) for s in START_ORDER))
        gateway = f"http://127.0.0.1:{port_of('gateway')}"
        login = f"mot de passe « {env['CRM_ADMIN_PASSWORD']} »"
        seeded = "non demandé (--no-seed)"
        if seed:
            try:
                created = await seed_demo(session, gateway, "admin", env["CRM_ADMIN_PASSWORD"])
                seeded = f"{created} comptes créés"
            except SeedSkipped as skipped:  # e.g. an admin made by another checkout
                print(f"\n{skipped}", file=sys.stderr, flush=True)
                login, seeded = "mot de passe : voir ci-dessus", "non créé"
    print(
        "\n"
        f"webleads-tracker est prêt : {gateway}/  (API : {gateway}/api/v1)\n"
        f"Connexion : utilisateur « admin », {login}\n"
        f"  (gardé dans {shown(SECRETS_FILE)}; CRM_ADMIN_PASSWORD le remplace)\n"
        f"  curl -s {gateway}/api/v1/auth/login -H 'Content-Type: application/json' "
        '-d \'{"username": "admin", "password": "..."}\'\n'
        f"Jeu de démonstration : {seeded}.  Ctrl-C arrête tout.\n",
        flush=True,
    )


async def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.run", description=__doc__)
    parser.add_argument("--no-seed", action="store_true", help="skip the demo dataset")
    args = parser.parse_args(argv)
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **load_secrets()}
    env.setdefault("PYTHONUNBUFFERED", "1")
    # Whose events each consumer accepts: what deploy/provision.py let each broker user publish.
    env["CRM_ENTITY_OWNERS"] = format_entity_owners(declared_owners())
    for service in SERVICE_PORTS:
        env.setdefault(f"CRM_{service.upper()}_URL", f"http://127.0.0.1:{port_of(service)}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    keepers = [ServiceKeeper(service, env, stop) for service in START_ORDER]
    running = [asyncio.create_task(k.run(), name=f"keep-{k.service}") for k in keepers]
    startup = asyncio.create_task(start_up(env, seed=not args.no_seed))
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait([startup, stopping], return_when=asyncio.FIRST_COMPLETED)
        if startup.done() and startup.exception() is not None:
            print(f"run: {startup.exception()}; stopping", file=sys.stderr, flush=True)
            return 1
        await stop.wait()
        return 0
    finally:
        stop.set()
        startup.cancel()
        stopping.cancel()
        await asyncio.gather(startup, stopping, *running, return_exceptions=True)
        print("run: every service stopped", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

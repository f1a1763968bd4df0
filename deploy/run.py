"""Local runner behind `make run`: starts the five services in the foreground, waits until each
is ready, seeds the demo dataset, prints where to go and how to log in. Ctrl-C stops them all.

Secrets that are not set in the environment are generated once and kept in .run/secrets.env
(not committed), so the admin password stays the same from one run to the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import sys
from pathlib import Path

import aiohttp

from deploy.seed import SeedSkipped, seed_demo
from services.common.settings import SERVICE_PORTS

ROOT = Path(__file__).resolve().parent.parent
RUN_DIR = ROOT / ".run"
SECRETS_FILE = RUN_DIR / "secrets.env"
START_ORDER = ("audit", "accounts", "activities", "documents", "gateway")
GENERATED = (
    "CRM_INTERNAL_SECRET",
    "CRM_TOKEN_SECRET",
    "CRM_ADMIN_PASSWORD",
    # Each service's PostgreSQL role and broker user (deploy/provision.py), and the operators'.
    *(f"CRM_{s.upper()}_{kind}_PASSWORD" for s in SERVICE_PORTS for kind in ("DB", "AMQP")),
    "CRM_BROKER_ADMIN_PASSWORD",
)


def load_secrets() -> dict[str, str]:
    """Secrets from the environment, else from .run/secrets.env, else generated and saved."""
    saved: dict[str, str] = {}
    if SECRETS_FILE.exists():
        for line in SECRETS_FILE.read_text().splitlines():
            name, sep, value = line.partition("=")
            if sep:
                saved[name.strip()] = value.strip()
    values = {
        name: os.environ.get(name) or saved.get(name) or secrets.token_urlsafe(24)
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


async def main() -> int:
    env = {**os.environ, **load_secrets()}
    env.setdefault("PYTHONUNBUFFERED", "1")
    for service in SERVICE_PORTS:
        env.setdefault(f"CRM_{service.upper()}_URL", f"http://127.0.0.1:{port_of(service)}")
    processes: dict[str, asyncio.subprocess.Process] = {}
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        for service in START_ORDER:
            processes[service] = await asyncio.create_subprocess_exec(
                sys.executable, "-m", f"services.{service}", cwd=ROOT, env=env
            )
        async with aiohttp.ClientSession() as session:
            await asyncio.gather(*(wait_ready(session, s) for s in START_ORDER))
            gateway = f"http://127.0.0.1:{port_of('gateway')}"
            login = f"mot de passe « {env['CRM_ADMIN_PASSWORD']} »"
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
            f"  (gardé dans {SECRETS_FILE.relative_to(ROOT)}; CRM_ADMIN_PASSWORD le remplace)\n"
            f"  curl -s {gateway}/api/v1/auth/login -H 'Content-Type: application/json' "
            '-d \'{"username": "admin", "password": "..."}\'\n'
            f"Jeu de démonstration : {seeded}.  Ctrl-C arrête tout.\n",
            flush=True,
        )
        exits = [asyncio.create_task(p.wait()) for p in processes.values()]
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait([*exits, stopper], return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        crashed = [name for name, p in processes.items() if p.returncode not in (None, 0)]
        if crashed:
            print(f"stopped: {', '.join(crashed)} exited; stopping the others", file=sys.stderr)
            return 1
        return 0
    finally:
        for process in processes.values():
            if process.returncode is None:
                process.terminate()
        for process in processes.values():
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

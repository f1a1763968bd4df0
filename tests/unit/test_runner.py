"""deploy/run.py's keeper of one service, with stand-in processes: a service killed with SIGKILL
is started again and its pid file follows; stopping ends it and removes the pid file."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from deploy.run import ServiceKeeper
from services.common.supervisor import Backoff
from tests.support import eventually

FAST = Backoff(initial=0.01, maximum=0.05)
SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in _state(pid)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


def pid_in(path: Path) -> int | None:
    try:
        return int(path.read_text())
    except (OSError, ValueError):
        return None


async def test_a_killed_service_is_started_again_and_stopping_ends_it(tmp_path: Path) -> None:
    stop = asyncio.Event()
    keeper = ServiceKeeper(
        "accounts", dict(os.environ), stop, command=SLEEPER, run_dir=tmp_path, backoff=FAST
    )
    running = asyncio.create_task(keeper.run())

    async def started() -> int | None:
        pid = pid_in(keeper.pid_file)
        return pid if pid is not None and alive(pid) else None

    first = await eventually(started)
    os.kill(first, signal.SIGKILL)

    async def restarted() -> int | None:
        pid = await started()
        return pid if pid not in (None, first) else None

    second = await eventually(restarted)
    assert keeper.restarts == 1
    stop.set()
    await running
    assert not alive(second)
    assert not keeper.pid_file.exists()


async def test_a_service_that_keeps_exiting_is_retried_until_stopped(tmp_path: Path) -> None:
    stop = asyncio.Event()
    keeper = ServiceKeeper(
        "audit",
        dict(os.environ),
        stop,
        command=[sys.executable, "-c", "raise SystemExit(3)"],
        run_dir=tmp_path,
        backoff=FAST,
    )
    running = asyncio.create_task(keeper.run())

    async def retried() -> bool:
        return keeper.restarts >= 3

    await eventually(retried, within=30)
    stop.set()
    await running
    assert keeper.process is not None
    assert keeper.process.returncode is not None  # none left running
    assert not keeper.pid_file.exists()


def test_a_signing_key_kept_too_short_is_made_again_and_the_rest_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A secrets file from an older run holding 20-character HMAC keys: the services now refuse
    them (at least 32), so `make run` makes new ones instead of failing to start."""
    from deploy import run

    secrets_file = tmp_path / "secrets.env"
    secrets_file.write_text(
        "CRM_INTERNAL_SECRET=twenty-chars-secret!\nCRM_TOKEN_SECRET=" + "t" * 40 + "\n"
        "CRM_ADMIN_PASSWORD=Un-mot-de-passe-garde\n"
    )
    monkeypatch.setattr(run, "RUN_DIR", tmp_path)
    monkeypatch.setattr(run, "SECRETS_FILE", secrets_file)
    for name in run.GENERATED:
        monkeypatch.delenv(name, raising=False)
    values = run.load_secrets()
    assert len(values["CRM_INTERNAL_SECRET"]) >= 32
    assert values["CRM_TOKEN_SECRET"] == "t" * 40
    assert values["CRM_ADMIN_PASSWORD"] == "Un-mot-de-passe-garde"
    assert f"CRM_INTERNAL_SECRET={values['CRM_INTERNAL_SECRET']}" in secrets_file.read_text()

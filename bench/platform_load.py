"""The platform benchmark, side by side with a floor measured in the same run (issue: the 360°
view, the write path, event latency, memory). Runs its own copies of the five services on their
own databases (crm_load_*) and exchange, seeds about 100,000 accounts with related records once,
then loads them with wrk. Results are data: bench/results/platform.json."""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from deploy.provision import Plan, provision, service_environment

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
SERVER = "postgresql://postgres@127.0.0.1:5432"
PORTS = {
    "gateway": 18080,
    "accounts": 18081,
    "activities": 18082,
    "documents": 18083,
    "audit": 18084,
}
FLOOR_PORT = 18090
PASSWORD = "bench-Mot-de-passe-1"
INTERNAL_SECRET = secrets.token_urlsafe(32)  # one for every service of the run
TOKEN_SECRET = secrets.token_urlsafe(32)
# Its own roles and broker users (crm_load_<service>), as `make run` has crm_<service>: the
# services connect as those, and consumers take only events from their owner's user.
PLAN = Plan(
    db_passwords={name: secrets.token_urlsafe(18) for name in PORTS},
    amqp_passwords={name: secrets.token_urlsafe(18) for name in PORTS},
    prefix="crm_load_",
    exchange="crm.bench",
)
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))

SEED_ACCOUNTS = """
INSERT INTO accounts (id, name, city, postal_code, phone, account_type, industry, owner, created_by, updated_by)
SELECT gen_random_uuid(), 'Société ' || i, (ARRAY['Paris','Lyon','Lille','Nantes'])[1 + i % 4],
       lpad((1000 + i % 90000)::text, 5, '0'), NULL, 'client', 'C', 'admin', 'bench', 'bench'
FROM generate_series(1, $1) AS i
"""
SEED_CONTACTS = """
INSERT INTO contacts (id, account_id, last_name, created_by, updated_by)
SELECT gen_random_uuid(), id, 'Contact ' || left(name, 20), 'bench', 'bench' FROM accounts
"""
SEED_ACTIONS = """
INSERT INTO actions (id, type, subject, account_id, status, occurred_at, created_by, updated_by)
SELECT gen_random_uuid(), 'note', 'Note ' || g, a, 'done', now() - g * interval '1 hour', 'bench', 'bench'
FROM unnest($1::uuid[]) AS a, generate_series(1, $2) AS g
"""
SEED_OPPORTUNITIES = """
INSERT INTO opportunities (id, name, account_id, stage, probability, created_by, updated_by)
SELECT gen_random_uuid(), 'Affaire ' || g, a, 'prospection', 10, 'bench', 'bench'
FROM unnest($1::uuid[]) AS a, generate_series(1, $2) AS g
"""
SEED_QUOTES = """
INSERT INTO quotes (id, number, account_id, created_by, updated_by)
SELECT gen_random_uuid(), 'DEV-BENCH-' || gen_random_uuid(), a, 'bench', 'bench'
FROM unnest($1::uuid[]) AS a, generate_series(1, $2) AS g
"""
SEED_INVOICES = """
INSERT INTO invoices (id, account_id, created_by, updated_by)
SELECT gen_random_uuid(), a, 'bench', 'bench' FROM unnest($1::uuid[]) AS a, generate_series(1, $2) AS g
"""


def env() -> dict[str, str]:
    values = {
        **os.environ,
        "CRM_INTERNAL_SECRET": INTERNAL_SECRET,
        "CRM_TOKEN_SECRET": TOKEN_SECRET,
        "CRM_ADMIN_PASSWORD": PASSWORD,
        "CRM_LOG_LEVEL": "WARNING",
        "CRM_DB_POOL_MAX": "10",
        **service_environment(PLAN),
    }
    for name, port in PORTS.items():
        values[f"CRM_{name.upper()}_PORT"] = str(port)
        values[f"CRM_{name.upper()}_URL"] = f"http://127.0.0.1:{port}"
    return values


async def start_services() -> dict[str, asyncio.subprocess.Process]:
    await provision(PLAN)
    processes = {}
    for name in ("audit", "accounts", "activities", "documents", "gateway"):
        processes[name] = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            f"services.{name}",
            cwd=ROOT,
            env=env(),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
    async with aiohttp.ClientSession() as http:
        for name, port in PORTS.items():
            for _ in range(300):
                try:
                    async with http.get(f"http://127.0.0.1:{port}/readyz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
            else:
                raise RuntimeError(f"{name} did not start")
    return processes


async def seed(accounts: int) -> tuple[str, int]:
    """About ``accounts`` accounts with contacts, actions, opportunities, quotes and invoices;
    one account holds hundreds of related records. Returns (that account's id, its actions)."""
    acc = await asyncpg.connect(f"{SERVER}/crm_load_accounts")
    act = await asyncpg.connect(f"{SERVER}/crm_load_activities")
    doc = await asyncpg.connect(f"{SERVER}/crm_load_documents")
    try:
        if await acc.fetchval("SELECT count(*) FROM accounts") < accounts:
            print(f"seeding {accounts:,} accounts and their records (once)...", flush=True)
            await acc.execute(SEED_ACCOUNTS, accounts, timeout=3600)
            await acc.execute(SEED_CONTACTS, timeout=3600)
            ids = [r["id"] for r in await acc.fetch("SELECT id FROM accounts ORDER BY id")]
            await act.execute(SEED_ACTIONS, ids, 2, timeout=3600)
            await act.execute(SEED_OPPORTUNITIES, ids[::2], 1, timeout=3600)
            await doc.execute(SEED_QUOTES, ids[::3], 1, timeout=3600)
            await doc.execute(SEED_INVOICES, ids[::3], 1, timeout=3600)
            big = ids[0]
            await act.execute(SEED_ACTIONS, [big], 500, timeout=3600)
            await act.execute(SEED_OPPORTUNITIES, [big], 100, timeout=3600)
            await doc.execute(SEED_QUOTES, [big], 100, timeout=3600)
            for conn in (acc, act, doc):
                await conn.execute("VACUUM ANALYZE", timeout=3600)
        big = await acc.fetchval("SELECT id FROM accounts ORDER BY id LIMIT 1")
        related = await act.fetchval("SELECT count(*) FROM actions WHERE account_id = $1", big)
        return str(big), related
    finally:
        for conn in (acc, act, doc):
            await conn.close()


def parse_wrk(output: str) -> dict[str, float]:
    def ms(text: str) -> float:
        value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = ms(re.search(r"\s50%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    p99 = ms(re.search(r"\s99%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "rps": round(rps, 1),
        "p50_ms": round(p50, 2),
        "p99_ms": round(p99, 2),
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


async def wrk(
    url: str,
    connections: int,
    token: str | None = None,
    script: str | None = None,
    headers: tuple[str, ...] = (),
) -> dict[str, float]:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{SECONDS}s", "--latency"]
    if token:
        command += ["-H", f"Authorization: Bearer {token}"]
    for header in headers:
        command += ["-H", header]
    if script:
        command += ["-s", script]
    process = await asyncio.create_subprocess_exec(*command, url, stdout=asyncio.subprocess.PIPE)
    output, _ = await process.communicate()
    return parse_wrk(output.decode())


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


async def settle(limit: float = 300.0) -> float:
    """Wait until the events of earlier runs are all published and audited (no service's outbox
    holds an unpublished row, the audit trail stops growing); returns the seconds it took."""
    start = time.perf_counter()
    conns = {n: await asyncpg.connect(f"{SERVER}/crm_load_{n}") for n in PORTS if n != "gateway"}
    try:
        audited = -1
        while time.perf_counter() - start < limit:
            pending = 0
            for name, conn in conns.items():
                if name != "audit":
                    pending += await conn.fetchval(
                        "SELECT count(*) FROM outbox WHERE published_at IS NULL"
                    )
            now = await conns["audit"].fetchval("SELECT count(*) FROM audit_entries")
            if pending == 0 and now == audited:
                break
            audited = now
            await asyncio.sleep(1)
    finally:
        for conn in conns.values():
            await conn.close()
    return round(time.perf_counter() - start, 1)


async def event_latency(token: str, rate: int, seconds: int) -> dict[str, float]:
    """Accounts created at a steady rate; latency = audit entry written - write committed."""
    gateway = f"http://127.0.0.1:{PORTS['gateway']}"
    headers = {"Authorization": f"Bearer {token}"}
    ids: list[str] = []
    async with aiohttp.ClientSession(headers=headers) as http:

        async def write(i: int) -> None:
            async with http.post(
                f"{gateway}/api/v1/accounts", json={"name": f"Latence {i}"}
            ) as response:
                ids.append((await response.json())["id"])

        tasks = []
        start = time.perf_counter()
        for i in range(rate * seconds):
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(write(i)))
        await asyncio.gather(*tasks)
    await asyncio.sleep(3)
    accounts = await asyncpg.connect(f"{SERVER}/crm_load_accounts")
    audit = await asyncpg.connect(f"{SERVER}/crm_load_audit")
    try:
        committed = {
            str(r["id"]): r["created_at"]
            for r in await accounts.fetch(
                "SELECT id, created_at FROM accounts WHERE id = ANY($1::uuid[])", ids
            )
        }
        recorded = {
            r["record_id"]: r["recorded_at"]
            for r in await audit.fetch(
                "SELECT record_id, recorded_at FROM audit_entries WHERE record_id = ANY($1::text[]) AND seq = 1",
                ids,
            )
        }
    finally:
        await accounts.close()
        await audit.close()
    latencies = sorted(
        (recorded[i] - committed[i]).total_seconds() * 1000 for i in ids if i in recorded
    )
    return {
        "writes": len(ids),
        "audited": len(latencies),
        "rate_per_s": rate,
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 2),
    }


async def main(accounts: int = 100_000, iterations: int = 0) -> None:
    del iterations
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install -y wrk (make bench installs it as root)")
    processes = await start_services()
    floor_process = None
    try:
        big, related = await seed(accounts)
        floor_process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(ROOT / "bench" / "floor.py"),
            f"{SERVER}/crm_load_accounts",
            env={**os.environ, "PORT": str(FLOOR_PORT)},
            cwd=ROOT,
        )
        await asyncio.sleep(2)
        gateway = f"http://127.0.0.1:{PORTS['gateway']}"
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"{gateway}/api/v1/auth/login", json={"username": "admin", "password": PASSWORD}
            ) as response,
        ):
            token = (await response.json())["access_token"]
        rows: dict[str, Any] = {}
        rows["floor"] = await wrk(f"http://127.0.0.1:{FLOOR_PORT}/accounts/{big}", 64)
        rows["GET /accounts/{id}"] = await wrk(f"{gateway}/api/v1/accounts/{big}", 64, token)
        rows["GET /accounts/{id}/view"] = await wrk(
            f"{gateway}/api/v1/accounts/{big}/view", 64, token
        )
        # The same view composed for every request (no-cache): the services' calls and queries.
        rows["GET /accounts/{id}/view, composed"] = await wrk(
            f"{gateway}/api/v1/accounts/{big}/view", 64, token, headers=("Cache-Control: no-cache",)
        )
        rows["GET /accounts?q=societe 12&city=lyon"] = await wrk(
            f"{gateway}/api/v1/accounts?q=societe%2012&city=lyon", 64, token
        )
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(
                'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                'wrk.body = \'{"name": "Compte de charge"}\'\n'
            )
        rows["POST /accounts"] = await wrk(f"{gateway}/api/v1/accounts", 16, token, script.name)
        os.unlink(script.name)
        memory = {name: rss_mb(p.pid) for name, p in processes.items()}
        backlog_seconds = await settle()  # the write burst's events, before a steady rate
        latency = await event_latency(token, rate=200, seconds=SECONDS)
        latency["backlog_drained_after_write_burst_s"] = backlog_seconds
        memory = {name: max(memory[name], rss_mb(p.pid)) for name, p in processes.items()}
        floor = rows["floor"]
        for row in rows.values():
            row["rps_ratio_to_floor"] = round(row["rps"] / floor["rps"], 3)
            row["p99_ratio_to_floor"] = round(row["p99_ms"] / floor["p99_ms"], 2)
        view = rows["GET /accounts/{id}/view"]
        composed = rows["GET /accounts/{id}/view, composed"]
        report = {
            "benchmark": "platform",
            "at": datetime.now(UTC).isoformat(),
            "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
            "dataset": {"accounts": accounts, "big_account_actions": related},
            "seconds_per_run": SECONDS,
            "http": rows,
            "write_to_audit": latency,
            "memory_mb": memory,
            "targets": {
                "view_rps_ratio_at_least_0.25": view["rps_ratio_to_floor"] >= 0.25,
                "view_p99_at_most_4x_floor": view["p99_ratio_to_floor"] <= 4,
                "composed_view_rps_ratio_at_least_0.25": composed["rps_ratio_to_floor"] >= 0.25,
                "composed_view_p99_at_most_4x_floor": composed["p99_ratio_to_floor"] <= 4,
                "write_to_audit_p99_under_100ms_at_200_per_s": latency["p99_ms"] < 100,
                "each_service_under_150mb": all(v < 150 for v in memory.values()),
            },
        }
        print_report(report)
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "platform.json").write_text(
            json.dumps(report, indent=2, ensure_ascii=False) + "\n"
        )
        print(f"written to {RESULTS / 'platform.json'}")
    finally:
        for process in [*processes.values(), *([floor_process] if floor_process else [])]:
            if process.returncode is None:
                process.terminate()
        for process in [*processes.values(), *([floor_process] if floor_process else [])]:
            await process.wait()


def print_report(report: dict[str, Any]) -> None:
    print(
        f"\nplatform over {report['dataset']['accounts']:,} accounts, {report['seconds_per_run']}s per run (wrk -t2)"
    )
    print(
        f"{'call':42} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'x floor rps':>11} {'x floor p99':>11}"
    )
    for name, row in report["http"].items():
        print(
            f"{name:42} {row['rps']:9.0f} {row['p50_ms']:8.2f} {row['p99_ms']:8.2f} "
            f"{row['rps_ratio_to_floor']:11.3f} {row['p99_ratio_to_floor']:11.2f}"
        )
    lat = report["write_to_audit"]
    print(
        f"write -> audit at {lat['rate_per_s']}/s: p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms "
        f"({lat['audited']}/{lat['writes']} audited; started once the write burst's "
        f"{lat['backlog_drained_after_write_burst_s']} s backlog had drained)"
    )
    print("memory (MB):", ", ".join(f"{k} {v}" for k, v in report["memory_mb"].items()))
    print(
        "targets:",
        ", ".join(f"{k}: {'ok' if v else 'MISSED'}" for k, v in report["targets"].items()),
    )

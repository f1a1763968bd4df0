"""The web interface's pages against their JSON, in the same run (issue 12, Speed): the account's
360° page as HTML (``GET /crm/accounts/{id}``, signed in with a web session's cookie) against
the JSON view it shows (``GET /api/v1/accounts/{id}/view``), and the account list page
(``GET /crm/accounts``) against the JSON list (``GET /api/v1/accounts``). Target: a page costs
no more than twice its JSON (throughput ratio at least 0.5).

Runs on the platform benchmark's own copies of the services and its seeded data
(bench/platform_load.py: databases crm_load_*, ports 18080-18084). Results are data:
bench/results/pages.json."""

from __future__ import annotations

import json
import os
import shutil
import sys
from datetime import UTC, datetime
from typing import Any

import aiohttp

from bench.platform_load import PASSWORD, PORTS, RESULTS, SECONDS, seed, start_services, wrk

GATEWAY = f"http://127.0.0.1:{PORTS['gateway']}"
CONNECTIONS = 64
TARGET_RATIO = 0.5


async def sign_in(http: aiohttp.ClientSession) -> tuple[str, str]:
    """A web session's cookie (through the sign-in form) and an API bearer token."""
    async with http.post(
        f"{GATEWAY}/connexion",
        data={"username": "admin", "password": PASSWORD, "suite": "/crm/accounts"},
        headers={"Origin": GATEWAY},
        allow_redirects=False,
    ) as response:
        if response.status != 303 or "crm_session" not in response.cookies:
            raise RuntimeError(f"sign-in page answered {response.status}: {await response.text()}")
        cookie = response.cookies["crm_session"].value
    async with http.post(
        f"{GATEWAY}/api/v1/auth/login", json={"username": "admin", "password": PASSWORD}
    ) as response:
        token = (await response.json())["access_token"]
    return cookie, token


async def check(http: aiohttp.ClientSession, path: str, headers: dict[str, str]) -> dict[str, Any]:
    """One request before the load: what it answers (wrk counts a redirect as a success, so a
    page that sends to the sign-in page must not be measured as a page)."""
    async with http.get(GATEWAY + path, headers=headers, allow_redirects=False) as response:
        body = await response.read()
        return {
            "status": response.status,
            "bytes": len(body),
            "content_type": response.headers.get("Content-Type", ""),
        }


async def main(accounts: int = 100_000, iterations: int = 0) -> None:
    del iterations
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install -y wrk (make bench installs it as root)")
    processes = await start_services()
    try:
        big, related = await seed(accounts)
        async with aiohttp.ClientSession() as http:
            cookie, token = await sign_in(http)
            page_headers = {"Cookie": f"crm_session={cookie}"}
            api_headers = {"Authorization": f"Bearer {token}"}
            pairs = {
                "record": (f"/crm/accounts/{big}", f"/api/v1/accounts/{big}/view"),
                "list": ("/crm/accounts", "/api/v1/accounts"),
            }
            answers = {}
            for name, (page_path, json_path) in pairs.items():
                answers[name] = {
                    "page": await check(http, page_path, page_headers),
                    "json": await check(http, json_path, api_headers),
                }
        rows: dict[str, Any] = {}
        for name, (page_path, json_path) in pairs.items():
            json_row = await wrk(GATEWAY + json_path, CONNECTIONS, token)
            page_row = await wrk(
                GATEWAY + page_path, CONNECTIONS, headers=(f"Cookie: crm_session={cookie}",)
            )
            page_ok = answers[name]["page"]["status"] == 200 and page_row["non_2xx"] == 0
            rows[name] = {
                "page": {"path": page_path, **answers[name]["page"], **page_row},
                "json": {"path": json_path, **answers[name]["json"], **json_row},
                "page_rps_ratio_to_json": round(page_row["rps"] / json_row["rps"], 3),
                "page_p99_ratio_to_json": round(page_row["p99_ms"] / json_row["p99_ms"], 2),
                "page_served": page_ok,
            }
        report = {
            "benchmark": "pages",
            "at": datetime.now(UTC).isoformat(),
            "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
            "dataset": {"accounts": accounts, "big_account_actions": related},
            "seconds_per_run": SECONDS,
            "connections": CONNECTIONS,
            "pages": rows,
            "targets": {
                f"{name}_page_rps_ratio_at_least_{TARGET_RATIO}": row["page_served"]
                and row["page_rps_ratio_to_json"] >= TARGET_RATIO
                for name, row in rows.items()
            },
        }
        print_report(report)
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "pages.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        print(f"written to {RESULTS / 'pages.json'}")
    finally:
        for process in processes.values():
            if process.returncode is None:
                process.terminate()
        for process in processes.values():
            await process.wait()


def print_report(report: dict[str, Any]) -> None:
    print(
        f"\npages over {report['dataset']['accounts']:,} accounts, {report['seconds_per_run']}s "
        f"per run (wrk -t2 -c{report['connections']})"
    )
    print(f"{'request':52} {'status':>6} {'KiB':>7} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
    for name, row in report["pages"].items():
        for kind in ("json", "page"):
            r = row[kind]
            label = f"{name} {kind}: GET {r['path'][:36]}"
            print(
                f"{label:52} {r['status']:6} {r['bytes'] / 1024:7.1f} {r['rps']:9.0f} "
                f"{r['p50_ms']:8.2f} {r['p99_ms']:8.2f}"
            )
        served = "" if row["page_served"] else "  (the page was not served: see its status)"
        print(
            f"{name} page / JSON: throughput x{row['page_rps_ratio_to_json']:.3f}, "
            f"p99 x{row['page_p99_ratio_to_json']:.2f}{served}"
        )
    print(
        "targets:",
        ", ".join(f"{k}: {'ok' if v else 'MISSED'}" for k, v in report["targets"].items()),
    )

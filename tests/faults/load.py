"""Account writes through the gateway by a few concurrent clients, and what became of them: the
answers the clients saw, and the audit entries each write left (read from the audit database
as the superuser).

Each logical write carries a fresh ``Idempotency-Key``; a 503 with ``Retry-After`` is retried
under the same key (at most ``RETRIES`` times, after the Retry-After capped at
``RETRY_PAUSE_CAP`` seconds), as a client told to retry does; the write's answer is the last
one."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import asyncpg

from tests.faults.stack import ROOT, Stack, superuser_url
from tests.support import RUN_ID, eventually

FIGURES_DIR = ROOT / ".run" / "faults"  # gitignored
CLIENT_TIMEOUT = aiohttp.ClientTimeout(total=20)
RETRIES = 5
RETRY_PAUSE_CAP = 2.0


@dataclass
class Write:
    kind: str  # "create" (POST /accounts) or "patch" (PATCH /accounts/{id})
    marker: str  # the new name or description: what finds the write in the audit trail
    status: int | None = None  # None: no HTTP answer at all
    error: str | None = None
    retry_after: str | None = None
    record_id: str | None = None
    key: str = field(default_factory=lambda: str(uuid.uuid4()))
    earlier: list[str] = field(default_factory=list)  # answers before a retry, in order

    @property
    def acknowledged(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def answer(self) -> str:
        if self.status is None:
            return f"no answer ({self.error})"
        if self.status == 503:
            return "503 with Retry-After" if self.retry_after else "503 without Retry-After"
        return str(self.status)


async def login(http: aiohttp.ClientSession, gateway: str, password: str) -> dict[str, str]:
    async with http.post(
        f"{gateway}/api/v1/auth/login", json={"username": "admin", "password": password}
    ) as response:
        assert response.status == 200, await response.text()
        token = (await response.json())["access_token"]
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Load:
    """``clients`` loops writing until ``stop`` is set: mostly creations, every third write a
    merge patch of the client's last created account."""

    http: aiohttp.ClientSession
    gateway: str
    headers: dict[str, str]
    scenario: str
    clients: int = 4
    pause: float = 0.05
    writes: list[Write] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> list[Write]:
        await asyncio.gather(*(self._client(n) for n in range(self.clients)))
        return self.writes

    async def _client(self, client: int) -> None:
        created: str | None = None
        n = 0
        while not self.stop.is_set():
            marker = f"faute {self.scenario} {RUN_ID} c{client} n{n}"
            if created is not None and n % 3 == 2:
                write = Write("patch", marker, record_id=created)
                await self._send(
                    write, "PATCH", f"/api/v1/accounts/{created}", {"description": marker}
                )
            else:
                write = Write("create", marker)
                await self._send(write, "POST", "/api/v1/accounts", {"name": marker})
                if write.acknowledged:
                    created = write.record_id
            self.writes.append(write)
            n += 1
            await asyncio.sleep(self.pause)

    async def _send(self, write: Write, method: str, path: str, body: dict[str, str]) -> None:
        """The write, sent again under its key after a 503 with Retry-After (bounded)."""
        for attempt in range(RETRIES + 1):
            if attempt:
                write.earlier.append(write.answer)
                await asyncio.sleep(min(float(write.retry_after or 1), RETRY_PAUSE_CAP))
                write.status = write.error = write.retry_after = None
            await self._send_once(write, method, path, body)
            if not (write.status == 503 and write.retry_after is not None):
                return

    async def _send_once(self, write: Write, method: str, path: str, body: dict[str, str]) -> None:
        headers = {**self.headers, "Idempotency-Key": write.key}
        try:
            async with self.http.request(
                method, self.gateway + path, json=body, headers=headers, timeout=CLIENT_TIMEOUT
            ) as response:
                write.status = response.status
                write.retry_after = response.headers.get("Retry-After")
                answer = await response.json(content_type=None)
                if write.kind == "create" and write.acknowledged:
                    write.record_id = answer["id"]
                elif not write.acknowledged:
                    write.error = str(answer)[:300]
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            write.error = f"{type(exc).__name__}: {exc}"[:300]


async def audited_markers() -> Counter[str]:
    """How many audit entries carry each marker (a created name or a patched description)."""
    conn = await asyncpg.connect(superuser_url("audit"))
    try:
        rows = await conn.fetch(
            "SELECT action, changes::text AS changes FROM audit_entries"
            " WHERE entity = 'account' AND changes::text LIKE $1",
            f"%faute % {RUN_ID} c%",
        )
    finally:
        await conn.close()
    found: Counter[str] = Counter()
    for row in rows:
        changes = json.loads(row["changes"])
        items = (
            [{"field": k, **v} for k, v in changes.items()]
            if isinstance(changes, dict)
            else changes
        )
        for change in items:
            if change.get("field") in ("name", "description") and isinstance(
                change.get("new"), str
            ):
                found[change["new"]] += 1
    return found


async def verify_chains(
    http: aiohttp.ClientSession, gateway: str, headers: dict[str, str], record_ids: set[str]
) -> dict[str, Any]:
    """``/audit/verify`` of every record: those that do not answer valid, with the answer."""
    broken: dict[str, Any] = {}
    limit = asyncio.Semaphore(8)

    async def one(record_id: str) -> None:
        url = f"{gateway}/api/v1/accounts/{record_id}/audit/verify"
        try:
            async with (
                limit,
                http.get(url, headers=headers, timeout=CLIENT_TIMEOUT) as response,
            ):
                body = await response.json(content_type=None)
                if response.status != 200 or body.get("valid") is not True:
                    broken[record_id] = {"status": response.status, "body": body}
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            broken[record_id] = {"error": repr(exc)}

    await asyncio.gather(*(one(r) for r in record_ids))
    return broken


@dataclass
class Outcome:
    scenario: str
    writes: list[Write] = field(repr=False)
    figures: dict[str, Any]
    lost: list[Write] = field(repr=False)
    duplicated: list[Write] = field(repr=False)
    refused_but_audited: list[Write] = field(repr=False)
    unexpected_answers: list[Write] = field(repr=False)
    broken_chains: dict[str, Any] = field(repr=False)
    not_ready: dict[str, str]
    audit_verify: str = field(repr=False)


async def settle(
    stack: Stack,
    http: aiohttp.ClientSession,
    headers: dict[str, str],
    scenario: str,
    writes: list[Write],
    faults: dict[str, Any],
) -> Outcome:
    """Wait (at most 30 s) for every acknowledged write's audit entry, then take the figures."""
    acknowledged = [w for w in writes if w.acknowledged]
    started = time.monotonic()
    audited_after: float | None = None

    async def all_audited() -> Counter[str] | None:
        seen = await audited_markers()
        return seen if all(seen[w.marker] for w in acknowledged) else None

    try:
        seen = await eventually(all_audited, within=30, every=0.5)
        audited_after = round(time.monotonic() - started, 1)
    except AssertionError:
        seen = await audited_markers()
    lost = [w for w in acknowledged if seen[w.marker] == 0]
    duplicated = [w for w in acknowledged if seen[w.marker] > 1]
    refused_but_audited = [w for w in writes if not w.acknowledged and seen[w.marker]]
    unexpected = [
        w
        for w in writes
        if (not w.acknowledged and not (w.status == 503 and w.retry_after is not None))
        or any(answer != "503 with Retry-After" for answer in w.earlier)
    ]
    records = {w.record_id for w in acknowledged if w.record_id}
    broken = await verify_chains(http, stack.gateway, headers, records)
    not_ready = await stack.not_ready(http)
    verify_code, verify_out = await stack.crm_admin("audit", "verify")
    figures: dict[str, Any] = {
        "scenario": scenario,
        "faults": faults,
        "writes": len(writes),
        "answers": dict(Counter(w.answer for w in writes).most_common()),
        "writes_retried_under_their_key": sum(1 for w in writes if w.earlier),
        "retries": sum(len(w.earlier) for w in writes),
        "answers_before_a_retry": dict(Counter(a for w in writes for a in w.earlier).most_common()),
        "acknowledged": len(acknowledged),
        "audited_exactly_once": sum(1 for w in acknowledged if seen[w.marker] == 1),
        "acknowledged_but_not_audited_after_30s": len(lost),
        "audited_more_than_once": len(duplicated),
        "refused_but_audited": len(refused_but_audited),
        "all_audited_after_seconds": audited_after,
        "chains_verified": len(records) - len(broken),
        "chains_broken": len(broken),
        "services_not_ready_afterwards": not_ready,
        "crm_admin_audit_verify_exit_code": verify_code,
    }
    FIGURES_DIR.mkdir(parents=True, exist_ok=True)
    (FIGURES_DIR / f"{scenario}.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(f"\nfault figures {scenario}: {json.dumps(figures, indent=2)}")
    return Outcome(
        scenario,
        writes,
        figures,
        lost,
        duplicated,
        refused_but_audited,
        unexpected,
        broken,
        not_ready,
        verify_out,
    )


def report(stack: Stack, outcome: Outcome) -> str:
    """What failed, with examples and the services' logs: the assertion message."""
    lines = [f"{outcome.scenario}: {json.dumps(outcome.figures, indent=2)}"]
    for label, items in (
        ("acknowledged, not audited", outcome.lost),
        ("audited more than once", outcome.duplicated),
        ("refused yet audited", outcome.refused_but_audited),
        ("neither 2xx nor 503 with Retry-After", outcome.unexpected_answers),
    ):
        for write in items[:5]:
            lines.append(f"  {label}: {write}")
    for record_id, answer in list(outcome.broken_chains.items())[:5]:
        lines.append(f"  chain not valid: {record_id} {answer}")
    errors = [
        line
        for line in stack.log_lines("ERROR services", "CRITICAL", "Error:", "exited", "restart")
        if "aiormq.connection" not in line  # the driver's own reconnect noise
    ]
    if outcome.figures["crm_admin_audit_verify_exit_code"] != 0:
        lines.append("----- crm-admin audit verify (last 20 lines) -----")
        lines.extend(outcome.audit_verify.splitlines()[-20:])
    lines.append("----- error lines of the logs (last 40) -----")
    lines.extend(errors[-40:])
    lines.append(stack.tail(30))
    return "\n".join(lines)


def assert_nothing_lost(stack: Stack, outcome: Outcome) -> None:
    assert outcome.figures["acknowledged"] > 0, report(stack, outcome)
    failures = {
        "acknowledged but not audited within 30 s": len(outcome.lost),
        "audited more than once": len(outcome.duplicated),
        "refused yet audited": len(outcome.refused_but_audited),
        "neither 2xx nor 503 with Retry-After": len(outcome.unexpected_answers),
        "chains not valid or missing": len(outcome.broken_chains),
        "services not ready": len(outcome.not_ready),
        "crm-admin audit verify failed": outcome.figures["crm_admin_audit_verify_exit_code"] != 0,
    }
    assert not any(failures.values()), f"{failures}\n{report(stack, outcome)}"

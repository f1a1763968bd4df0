"""The account list view over a million generated accounts: p50 and p99 per query shape,
next to a floor measured in the same run (one primary-key read on the same table and pool).

The dataset lives in its own database (crm_bench_accounts), generated once by PostgreSQL itself
and kept for later runs. Target: p99 under 50 ms for a filtered, sorted page.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from services.accounts.service import list_accounts
from services.common import replica
from services.common.db import create_pool, prepare_database
from services.common.settings import DEFAULT_PG_SERVER

DSN = f"{DEFAULT_PG_SERVER}/crm_bench_accounts"
MIGRATIONS = Path(__file__).resolve().parent.parent / "services" / "accounts" / "migrations"
RESULTS = Path(__file__).with_name("results")
TARGET_P99_MS = 50.0

# Generated in SQL from these pieces (deterministic: setseed).
GENERATE = """
SELECT setseed(0.42);
INSERT INTO accounts (id, name, account_type, industry, phone, email, street, postal_code, city,
                      siren, owner, employees, annual_revenue, created_by, updated_by,
                      created_at, updated_at)
SELECT gen_random_uuid(),
       (ARRAY['Boulangerie','Transports','Cabinet','Menuiserie','Éditions','Brasserie','Garage',
              'Pharmacie','Atelier','Société','Clinique','Imprimerie','Hôtel','Librairie',
              'Plomberie','Électricité','Agence','Laboratoire','Ferme','Domaine'])
              [1 + (random()*19)::int]
       || ' ' ||
       (ARRAY['Dupont','Martin','Bernard','Lefèvre','Moreau','Garnier','Rousseau','Fontaine',
              'Chevalier','Girard','Lambert','Bonnet','François','Mercier','Blanc','Guérin',
              'Boyer','Faure','André','Gauthier','Perrin','Morin','Clément','Nicolas','Roux',
              'Vincent','Fournier','Masson','Henry','Rivière'])[1 + (random()*29)::int]
       || ' ' || (i % 9973)::text,
       (ARRAY['prospect','client','client','partenaire','fournisseur',NULL])[1 + (random()*5)::int],
       chr(65 + (random()*20)::int),
       '+3314' || lpad((random()*9999999)::int::text, 7, '0'),
       'contact' || i || '@exemple.fr',
       (1 + (random()*120)::int)::text || ' rue de la République',
       c.postal, c.city,
       NULL,
       'commercial' || (1 + (random()*19)::int),
       CASE WHEN random() < 0.2 THEN NULL ELSE (random()*2000)::int END,
       CASE WHEN random() < 0.3 THEN NULL ELSE round((random()*5000000)::numeric, 2) END,
       'bench', 'bench',
       now() - (random() * interval '900 days'),
       now() - (random() * interval '300 days')
FROM generate_series(1, $1) AS i
JOIN LATERAL (
    SELECT * FROM (VALUES
        ('75008','Paris'),('75011','Paris'),('69003','Lyon'),('69007','Lyon'),('13001','Marseille'),
        ('31000','Toulouse'),('06000','Nice'),('44000','Nantes'),('67000','Strasbourg'),
        ('34000','Montpellier'),('33000','Bordeaux'),('59000','Lille'),('35000','Rennes'),
        ('51100','Reims'),('42000','Saint-Étienne'),('83000','Toulon'),('38000','Grenoble'),
        ('21000','Dijon'),('49000','Angers'),('69100','Villeurbanne'),('29200','Brest'),
        ('37000','Tours'),('87000','Limoges'),('63000','Clermont-Ferrand'),('74000','Annecy')
    ) AS v(postal, city) OFFSET (i::bigint * 7919) % 25 LIMIT 1
) c ON true
"""

SHAPES: dict[str, dict[str, str]] = {
    "first page by name": {},
    "first page by name, descending": {"sort": "-name"},
    "recently updated": {"sort": "-updated_at"},
    "type = client, by name": {"account_type": "client"},
    "industry = C, by employees desc": {"industry": "C", "sort": "-employees"},
    "city = lyon, by name": {"city": "lyon"},
    "postal code 69*, by name": {"postal_code": "69"},
    "owner + type, by name": {"owner": "commercial7", "account_type": "fournisseur"},
    "search 'fontaine', by name": {"q": "fontaine"},
    "search 'garage girard 12', by name": {"q": "garage girard 12"},
    "search 'ph' (prefix), by name": {"q": "ph"},
    "owner, by revenue": {"owner": "commercial7", "sort": "-annual_revenue"},
    "search 'electricite' + city, by revenue": {
        "q": "electricite",
        "city": "nantes",
        "sort": "-annual_revenue",
    },
    "updated in the last day (by updated_at)": {"updated_since": "{yesterday}"},
    "updated in the last day, by name": {"updated_since": "{yesterday}", "sort": "name"},
}


async def ensure_dataset(pool: asyncpg.Pool, size: int) -> None:
    count = await pool.fetchval("SELECT count(*) FROM accounts")
    if count >= size:
        return
    print(f"generating {size - count:,} accounts (once; kept in crm_bench_accounts)...", flush=True)
    async with pool.acquire() as conn:
        async with conn.transaction():  # DDL is transactional: a failure leaves the indexes
            indexes = await conn.fetch(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'accounts' "
                "AND indexname <> 'accounts_pkey'"
            )
            for index in indexes:  # bulk load first, index after: much faster
                await conn.execute(f'DROP INDEX "{index["indexname"]}"')
            await conn.execute("SET LOCAL maintenance_work_mem = '512MB'")
            for statement in GENERATE.split(";\n", 1):
                await conn.execute(statement.replace("$1", str(size - count)), timeout=3600)
            for index in indexes:
                await conn.execute(index["indexdef"], timeout=3600)
        await conn.execute("VACUUM ANALYZE accounts", timeout=3600)


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def timed(run: Callable[[], Awaitable[Any]], iterations: int) -> dict[str, float]:
    for _ in range(min(20, iterations)):
        await run()
    samples = []
    for _ in range(iterations):
        started = time.perf_counter()
        await run()
        samples.append((time.perf_counter() - started) * 1000)
    return {
        "p50_ms": round(statistics.median(samples), 3),
        "p99_ms": round(percentile(samples, 0.99), 3),
        "mean_ms": round(statistics.fmean(samples), 3),
    }


async def main(accounts: int = 1_000_000, iterations: int = 200) -> None:
    await prepare_database(DSN, [replica.MIGRATIONS, ("accounts", MIGRATIONS)])
    pool = await create_pool(DSN, 2, 4, custom_plans=True)  # as the service's list pool
    try:
        await ensure_dataset(pool, accounts)
        total = await pool.fetchval("SELECT count(*) FROM accounts")
        some_id = await pool.fetchval("SELECT id FROM accounts LIMIT 1")
        floor = await timed(
            lambda: pool.fetchrow("SELECT * FROM accounts WHERE id = $1", some_id), iterations
        )
        yesterday = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0).isoformat()
        rows = []
        for label, query in SHAPES.items():
            query = {k: v.replace("{yesterday}", yesterday) for k, v in query.items()}
            page = await list_accounts(pool, query)
            deep = {**query, "cursor": page["next_cursor"]} if page["next_cursor"] else query
            first = await timed(_lister(pool, query), iterations)
            second = await timed(_lister(pool, deep), iterations)
            rows.append(
                {
                    "shape": label,
                    "query": query,
                    "first_page": first,
                    "next_page": second,
                    "items": len(page["items"]),
                    "meets_target": max(first["p99_ms"], second["p99_ms"]) < TARGET_P99_MS,
                    "p99_ratio_to_floor": round(first["p99_ms"] / floor["p99_ms"], 1),
                }
            )
        report = {
            "benchmark": "accounts-list",
            "at": datetime.now(UTC).isoformat(),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "accounts": total,
            "iterations": iterations,
            "target_p99_ms": TARGET_P99_MS,
            "floor": {"what": "one primary-key SELECT on the same table and pool", **floor},
            "shapes": rows,
        }
        print_table(report)
        RESULTS.mkdir(exist_ok=True)
        path = RESULTS / "accounts-list.json"
        path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        print(f"written to {path}")
    finally:
        await pool.close()


def _lister(pool: asyncpg.Pool, query: dict[str, str]) -> Callable[[], Awaitable[Any]]:
    return lambda: list_accounts(pool, query)


def print_table(report: dict[str, Any]) -> None:
    floor = report["floor"]
    print(
        f"\naccounts-list over {report['accounts']:,} accounts, "
        f"{report['iterations']} runs per shape"
    )
    print(f"floor (PK read): p50 {floor['p50_ms']:.2f} ms  p99 {floor['p99_ms']:.2f} ms")
    print(f"{'shape':44} {'p50':>8} {'p99':>8} {'next p99':>9} {'x floor':>8}  target")
    for row in report["shapes"]:
        first, second = row["first_page"], row["next_page"]
        print(
            f"{row['shape']:44} {first['p50_ms']:8.2f} {first['p99_ms']:8.2f} "
            f"{second['p99_ms']:9.2f} {row['p99_ratio_to_floor']:8.1f}  "
            f"{'ok' if row['meets_target'] else 'MISSED'}"
        )

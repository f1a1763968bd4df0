"""The demo dataset, created through the public API (so it is audited like any other change).

Seeding is skipped when accounts already exist, so `make run` can be repeated.
"""

from __future__ import annotations

import aiohttp

DEMO_ACCOUNTS = (
    "Boulangerie Dupont et Fils",
    "Transports Lefèvre SAS",
    "Cabinet Moreau Expertise Comptable",
    "Menuiserie Garnier SARL",
    "Éditions du Léman",
    "Brasserie Saint-Éloi",
    "Informatique Rhône-Alpes SA",
    "Clinique vétérinaire des Tilleuls",
    "Atelier Bérénice Couture",
    "Société Nantaise de Logistique",
)


async def seed_demo(
    session: aiohttp.ClientSession, gateway: str, username: str, password: str
) -> int:
    async with session.post(
        f"{gateway}/api/v1/auth/login", json={"username": username, "password": password}
    ) as response:
        if response.status != 200:
            raise RuntimeError(f"demo seed: login as {username} failed ({response.status})")
        token = (await response.json())["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    async with session.get(f"{gateway}/api/v1/accounts?limit=1", headers=headers) as response:
        response.raise_for_status()
        if (await response.json())["items"]:
            return 0
    for name in DEMO_ACCOUNTS:
        async with session.post(
            f"{gateway}/api/v1/accounts", json={"name": name}, headers=headers
        ) as response:
            response.raise_for_status()
    return len(DEMO_ACCOUNTS)

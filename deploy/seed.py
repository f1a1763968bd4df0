"""The demo dataset, created through the public API (so it is validated and audited like any
other change): accounts across France with their contacts, actions and opportunities.

Seeding is skipped when accounts already exist, so `make run` can be repeated.
"""

from __future__ import annotations

from typing import Any

import aiohttp

DEMO_ACCOUNTS: tuple[dict[str, Any], ...] = (
    {"name": "Boulangerie Dupont et Fils", "account_type": "client", "industry": "C", "phone": "01 42 68 53 00",
     "address": {"street": "12 rue de Charonne", "postal_code": "75011", "city": "Paris"}, "employees": 14},
    {"name": "Transports Lefèvre SAS", "account_type": "client", "industry": "H", "phone": "04 72 10 20 30",
     "address": {"street": "5 quai Perrache", "postal_code": "69002", "city": "Lyon"}, "employees": 120,
     "annual_revenue": "8500000.00", "siren": "732829320", "vat_number": "FR44732829320"},
    {"name": "Cabinet Moreau Expertise Comptable", "account_type": "prospect", "industry": "M",
     "address": {"postal_code": "33000", "city": "Bordeaux"}, "website": "https://www.cabinet-moreau.fr"},
    {"name": "Menuiserie Garnier SARL", "account_type": "fournisseur", "industry": "C",
     "address": {"postal_code": "44000", "city": "Nantes"}, "email": "contact@menuiserie-garnier.fr"},
    {"name": "Éditions du Léman", "account_type": "partenaire", "industry": "J",
     "address": {"postal_code": "74200", "city": "Thonon-les-Bains"}},
    {"name": "Brasserie Saint-Éloi", "account_type": "prospect", "industry": "I",
     "address": {"postal_code": "59000", "city": "Lille"}},
    {"name": "Informatique Rhône-Alpes SA", "account_type": "client", "industry": "J",
     "address": {"postal_code": "38000", "city": "Grenoble"}, "employees": 45},
    {"name": "Clinique vétérinaire des Tilleuls", "account_type": "prospect", "industry": "M",
     "address": {"postal_code": "31000", "city": "Toulouse"}},
    {"name": "Atelier Bérénice Couture", "account_type": "client", "industry": "C",
     "address": {"postal_code": "13001", "city": "Marseille"}},
    {"name": "Société Nantaise de Logistique", "account_type": "prospect", "industry": "H",
     "address": {"postal_code": "44800", "city": "Saint-Herblain"}},
)  # fmt: skip
DEMO_CONTACTS = (
    ("MME", "Claire", "Dupont", "Gérante", "06 12 34 56 78"),
    ("M", "Marc", "Lefèvre", "Directeur logistique", "06 98 76 54 32"),
)


class SeedSkipped(Exception):
    """The demo dataset was not created; the message (French) says why and what to do."""


def password_differs(username: str) -> str:
    return (
        f"L'utilisateur « {username} » existe déjà avec un autre mot de passe que celui de "
        ".run/secrets.env (ou de CRM_ADMIN_PASSWORD) : sa base a été créée par une autre copie "
        "du dépôt, ou avant un `make clean`. Le jeu de démonstration n'est pas créé ; le reste "
        "fonctionne.\n"
        "Pour lui donner un nouveau mot de passe (affiché une seule fois) :\n"
        f"  .venv/bin/crm-admin user reset-password {username}\n"
        "ou pour reprendre celui de .run/secrets.env (le jeu de démonstration sera créé au "
        "prochain `make run`) :\n"
        "  sed -n 's/^CRM_ADMIN_PASSWORD=//p' .run/secrets.env | "
        f".venv/bin/crm-admin user reset-password {username} --password-stdin"
    )


async def seed_demo(
    session: aiohttp.ClientSession, gateway: str, username: str, password: str
) -> int:
    """The number of accounts created (0 when some exist); SeedSkipped when ``username`` cannot
    log in with ``password``."""
    async with session.post(
        f"{gateway}/api/v1/auth/login", json={"username": username, "password": password}
    ) as response:
        if response.status == 401:
            raise SeedSkipped(password_differs(username))
        if response.status != 200:
            raise SeedSkipped(
                f"Connexion de « {username} » refusée ({response.status} : "
                f"{(await response.text())[:200]}) ; le jeu de démonstration n'est pas créé."
            )
        token = (await response.json())["access_token"]
    headers = {"Authorization": f"Bearer {token}"}

    async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        async with session.post(f"{gateway}{path}", json=body, headers=headers) as response:
            if response.status != 201:
                raise RuntimeError(
                    f"demo seed: {path} answered {response.status}: {await response.text()}"
                )
            return await response.json()  # type: ignore[no-any-return]

    async with session.get(f"{gateway}/api/v1/accounts?limit=1", headers=headers) as response:
        response.raise_for_status()
        if (await response.json())["items"]:
            return 0
    accounts = [await post("/api/v1/accounts", fields) for fields in DEMO_ACCOUNTS]
    for account, (civility, first, last, job, mobile) in zip(accounts, DEMO_CONTACTS, strict=False):
        contact = await post(
            "/api/v1/contacts",
            {"civility": civility, "first_name": first, "last_name": last, "job_title": job,
             "mobile": mobile, "account_id": account["id"]},
        )  # fmt: skip
        await post(
            "/api/v1/actions",
            {"type": "call", "subject": f"Premier contact avec {first} {last}", "direction": "out",
             "account_id": account["id"], "contact_id": contact["id"],
             "occurred_at": "2026-11-20T09:30:00Z", "duration_seconds": 420},
        )  # fmt: skip
        await post(
            "/api/v1/opportunities",
            {"name": f"Équipement {account['name']}", "account_id": account["id"],
             "stage": "proposition", "amount": "18500.00", "contact_id": contact["id"]},
        )  # fmt: skip
    return len(accounts)

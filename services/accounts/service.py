"""Accounts on the record kernel (services/common/crud.py): the hooks only accounts have.

Rules between fields (SIREN, SIRET, VAT number, French postal code), references checked against
the data (picklists, parent, owner), the owner by default, the location the geocoder derives
from the address, the list view's search and filters on their indexed keys, and what a
duplicate changes.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import asyncpg

from services.common import crud
from services.common.entities import Entity
from services.common.errors import FieldError
from services.common.identity import Identity
from services.common.pagination import ColumnKind
from services.common.replica import changed, uuid_filter

from . import domain, geocoding
from . import repository as sql
from .contacts import CONTACTS
from .entities import ACCOUNT

NOT_FOUND = "Aucun compte ne porte cet identifiant."
SEARCH_MAX_LENGTH = 200


def account_rules(values: Mapping[str, Any], bad: frozenset[str]) -> list[FieldError]:
    """SIRET within the SIREN, the VAT number of the SIREN, a French postal code in France; on
    a body that failed validation, the postal code alone when it and the country are readable."""
    address = values.get("address")
    if not bad:
        country = address["country"] if isinstance(address, Mapping) else domain.DEFAULT_COUNTRY
        postal_code = address["postal_code"] if isinstance(address, Mapping) else None
        problems = domain.account_consistency(
            values.get("siren"), values.get("siret"), values.get("vat_number"), country, postal_code
        )
        return [FieldError(field, message) for field, message in problems]
    if "address" in bad or not isinstance(address, dict):
        return []
    if {"address.postal_code", "address.country"} & bad:
        return []
    country = str(address.get("country") or domain.DEFAULT_COUNTRY).upper()
    postal_code = address.get("postal_code")
    if not (isinstance(postal_code, str) and postal_code.strip()):
        return []
    problems = domain.account_consistency(None, None, None, country, postal_code)
    return [FieldError(field, message) for field, message in problems]


async def check_account(
    conn: asyncpg.Connection,
    values: dict[str, Any],
    old: Mapping[str, Any] | None,
    identity: Identity,
) -> list[FieldError]:
    """Picklists, parent and owner checked against the data, for the values that changed."""
    errors: list[FieldError] = []
    for field in ("account_type", "industry"):
        code = values.get(field)
        if isinstance(code, str) and code and changed(values, old, field):
            active = await conn.fetchval(sql.ACTIVE_CODE, field, code)
            if not active:
                errors.append(
                    FieldError(field, f"Valeur inconnue ou désactivée de la liste {field}.")
                )
    parent = values.get("parent_account_id")
    if parent is not None and changed(values, old, "parent_account_id"):
        errors += await _parent_errors(conn, parent, None if old is None else old["id"])
    owner = values.get("owner")
    if (
        isinstance(owner, str)
        and owner
        and changed(values, old, "owner")
        and owner.lower() != identity.username.lower()
        and not await conn.fetchval(sql.USER_EXISTS, owner)
    ):
        errors.append(FieldError("owner", "Aucun utilisateur ne porte cet identifiant."))
    return errors


async def _parent_errors(
    conn: asyncpg.Connection, parent: Any, self_id: uuid.UUID | None
) -> list[FieldError]:
    try:
        parent_id = uuid.UUID(str(parent))
    except ValueError:
        return []  # already reported by the validation of the field
    if parent_id == self_id:
        return [FieldError("parent_account_id", "Un compte ne peut pas être son propre parent.")]
    if not await conn.fetchval(sql.LIVE_ACCOUNT_EXISTS, parent_id):
        return [FieldError("parent_account_id", "Aucun compte ne porte cet identifiant.")]
    if self_id is not None:
        ancestors = {row["id"] for row in await conn.fetch(sql.ANCESTORS, parent_id)}
        if self_id in ancestors:
            return [
                FieldError(
                    "parent_account_id", "Ce rattachement créerait une boucle de comptes parents."
                )
            ]
    return []


def owner_by_default(identity: Identity) -> dict[str, Any]:
    """An account created without an owner is its creator's."""
    return {"owner": identity.username}


def copy_of(fields: dict[str, Any]) -> dict[str, Any]:
    """A duplicate is named "… (copie)" and has no SIREN or SIRET (they identify one company)."""
    copy = {k: v for k, v in fields.items() if k not in ("siren", "siret")}
    copy["name"] = domain.copy_name(fields["name"])
    return copy


# The list view: search and filters on the indexed keys of migration 0002 (folded text).


def search_names(text: str, param: crud.Param) -> list[str]:
    """A short word: the names that start with it; else every word, anywhere in the name, city,
    SIREN or SIRET (trigram index)."""
    folded = domain.fold(text)
    words = folded.split()
    if len(folded) > SEARCH_MAX_LENGTH:
        raise ValueError("Recherche trop longue (200 caractères au plus).")
    if len(words) == 1 and len(folded) < 3:  # too short for trigrams
        return [f"sort_name LIKE {param(domain.like_escape(folded) + '%')}"]
    return [f"search_text LIKE {param('%' + domain.like_escape(word) + '%')}" for word in words]


def _stripped(text: str) -> str:
    return text.strip()


def _postal_prefix(text: str) -> str:
    prefix = text.strip()
    if not prefix.isdigit() or len(prefix) > 5:
        raise ValueError("Début de code postal attendu (chiffres).")
    return prefix + "%"


def _since(text: str) -> datetime:
    try:
        since = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if since.tzinfo is None:
            raise ValueError
        since.astimezone(UTC)  # OverflowError at the ends of the calendar
    except (ValueError, OverflowError) as exc:
        raise ValueError("Date et heure RFC 3339 attendues (ex. 2026-11-28T09:30:00Z).") from exc
    return since


def sort_of(query: Mapping[str, str]) -> str:
    """Asking for what changed since a moment reads best (and fastest) in the order it changed."""
    return "updated_at" if "updated_since" in query else "name"


FILTERS: dict[str, tuple[str, crud.FilterParser]] = {
    "account_type": ("sort_type =", _stripped),
    "industry": ("sort_industry =", _stripped),
    "owner": ("sort_owner =", domain.fold),
    "city": ("sort_city =", domain.fold),
    "postal_code": ("sort_postal LIKE", _postal_prefix),
    "updated_since": ("updated_at >=", _since),
    "phone": ("phone =", domain.clean_phone),
    "parent_account_id": ("parent_account_id =", uuid_filter),
}
# Sortable columns of the list: client name -> (SQL key, kind).
SORTABLE: dict[str, tuple[str, ColumnKind]] = {
    "name": ("sort_name", "text"),
    "city": ("sort_city", "text"),
    "postal_code": ("sort_postal", "text"),
    "account_type": ("sort_type", "text"),
    "industry": ("sort_industry", "text"),
    "owner": ("sort_owner", "text"),
    "employees": ("sort_employees", "int"),
    "annual_revenue": ("sort_revenue", "numeric"),
    "created_at": ("created_at", "timestamptz"),
    "updated_at": ("updated_at", "timestamptz"),
}


def account_spec(entity: Entity) -> crud.RecordSpec:
    """The kernel's spec of accounts as ``entity`` declares them (the declaration, or a changed
    copy of it in tests)."""
    return crud.spec_for(
        entity,
        "accounts",
        computed={"location": geocoding.location_of},
        hidden=geocoding.LOCATION_COLUMNS,
        rules=account_rules,
        check=check_account,
        check_raw=True,
        derive=geocoding.after_address_change,
        defaults=owner_by_default,
        copy=copy_of,
        search=search_names,
        sort_of=sort_of,
        sortable=SORTABLE,
        filters=FILTERS,
        not_found_text=NOT_FOUND,
        not_in_trash_text="Ce compte n'est pas dans la corbeille.",
    )


ACCOUNTS = account_spec(ACCOUNT)
account_record = ACCOUNTS.record  # the API shape of an account row


async def list_accounts(pool: asyncpg.Pool, query: Mapping[str, str]) -> dict[str, Any]:
    return await crud.list_records(pool, ACCOUNTS, query)


async def account_map(pool: asyncpg.Pool, account_id: str) -> dict[str, Any]:
    row = await crud.fetch_live(pool, ACCOUNTS, account_id)
    return geocoding.map_of(ACCOUNTS.record(row), row["location_status"])


async def account_view(
    conn: asyncpg.Connection, account_id: uuid.UUID, per_tab: int
) -> dict[str, Any]:
    """The accounts service's part of the 360° view: the account and its contacts."""
    row = await crud.fetch_live(conn, ACCOUNTS, account_id)
    return {
        "account": ACCOUNTS.record(row),
        "contacts": await crud.section(
            conn, CONTACTS, "account_id", account_id, per_tab, sort="-created_at"
        ),
    }

"""Contacts: the people of an account, on the common record conventions."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import asyncpg

from services.common import crud
from services.common.errors import FieldError
from services.common.identity import Identity
from services.common.replica import uuid_filter

from . import domain
from . import repository as sql
from .entities import CONTACT

# Contacts of an account in the trash are hidden with it, and come back with it.
OF_LIVE_ACCOUNTS = (
    "(account_id IS NULL OR EXISTS "
    "(SELECT 1 FROM accounts a WHERE a.id = contacts.account_id AND a.deleted_at IS NULL))"
)


def _phone(text: str) -> str:
    return domain.clean_phone(text)


def _name_prefix(text: str) -> str:
    return domain.like_escape(domain.fold(text)[:200]) + "%"


async def check_contact(
    conn: asyncpg.Connection,
    values: dict[str, Any],
    old: Mapping[str, Any] | None,
    _identity: Identity,
) -> list[FieldError]:
    """The civility is an active code; the account exists (when either changes)."""
    errors: list[FieldError] = []
    civility = values.get("civility")
    if (
        isinstance(civility, str)
        and civility
        and (old is None or civility != old.get("civility"))
        and not await conn.fetchval(sql.ACTIVE_CODE, "civility", civility)
    ):
        errors.append(FieldError("civility", "Valeur inconnue ou désactivée de la liste civility."))
    account_id = values.get("account_id")
    if account_id is not None and (old is None or str(account_id) != str(old.get("account_id"))):
        try:
            exists = await conn.fetchval(sql.LIVE_ACCOUNT_EXISTS, uuid.UUID(str(account_id)))
        except ValueError:
            exists = False
        if not exists:
            errors.append(FieldError("account_id", "Aucun compte ne porte cet identifiant."))
    return errors


def search_names(text: str, param: crud.Param) -> list[str]:
    """Contacts whose name starts with the text."""
    return [f"sort_name LIKE {param(_name_prefix(text))}"]


CONTACTS = crud.spec_for(
    CONTACT,
    "contacts",
    sortable={
        "name": ("sort_name", "text"),
        "created_at": ("created_at", "timestamptz"),
        "updated_at": ("updated_at", "timestamptz"),
    },
    filters={
        "account_id": ("account_id =", uuid_filter),
        # a phone or mobile number, as the telephony server gives it
        "phone": ("(phone = {p} OR mobile = {p})", _phone),
    },
    search=search_names,
    check=check_contact,
    check_raw=True,
    list_conditions=(OF_LIVE_ACCOUNTS,),
)

"""The public operations of the accounts service, for its OpenAPI fragment (/internal/meta): the
conventional ones of accounts and contacts, duplicate, map and the picklists."""

from __future__ import annotations

from typing import Any

from services.common.entities import CRUD_EVENTS
from services.common.event_schemas import record_schemas
from services.common.openapi import (
    Op,
    Open,
    Picklist,
    PicklistValue,
    crud_ops,
    picklist_read,
    record_model,
)

from .schemas import (
    AccountFields,
    Address,
    ContactFields,
    PicklistValueCreate,
    PicklistValueUpdate,
)

Money = str  # decimal strings: "1234.50"


class Location(Open):
    lat: float
    lon: float
    precision: str
    source: str


class MapPoint(Open):
    lat: float
    lon: float
    precision: str
    source: str
    address: Address
    map_url: str


Account = record_model(
    "Account",
    AccountFields,
    address=(Address, ...),
    annual_revenue=(Money | None, None),
    location=(Location | None, None),
)
Contact = record_model("Contact", ContactFields)
ACCOUNT_FILTERS = (
    "q",
    "account_type",
    "industry",
    "owner",
    "city",
    "postal_code",
    "updated_since",
    "parent_account_id",
    "phone",
    "trashed",
)


class PicklistValueRecord(Open):
    id: str
    list: str
    code: str
    label: str
    active: bool
    position: int
    version: int


def events() -> dict[str, dict[str, Any]]:
    """Event type -> schema, of the events the accounts service publishes."""
    return {
        **record_schemas("account", Account, (*CRUD_EVENTS, "located")),
        **record_schemas("contact", Contact, CRUD_EVENTS),
        **record_schemas("picklist_value", PicklistValueRecord, ("created", "updated")),
    }


def operations() -> list[Op]:
    a = "/api/v1/accounts/{id}"
    return [
        *crud_ops("accounts", "Comptes", AccountFields, Account, ACCOUNT_FILTERS),
        Op(
            "post",
            f"{a}/duplicate",
            "Dupliquer un compte",
            "Comptes",
            status=201,
            answer=Account,
            idempotent=True,
        ),
        Op("get", f"{a}/map", "Le compte sur une carte", "Comptes", answer=MapPoint),
        *crud_ops("contacts", "Contacts", ContactFields, Contact, ("account_id", "q", "phone")),
        picklist_read(),
        Op(
            "post",
            "/api/v1/picklists/{name}",
            "Ajouter une valeur (admin)",
            "Listes",
            PicklistValueCreate,
            201,
            PicklistValue,
        ),
        Op(
            "patch",
            "/api/v1/picklists/{name}/{code}",
            "Renommer, désactiver une valeur (admin)",
            "Listes",
            PicklistValueUpdate,
            answer=PicklistValue,
        ),
    ]


__all__ = ["Account", "Contact", "Picklist", "events", "operations"]

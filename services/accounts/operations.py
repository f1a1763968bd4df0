"""The public operations of the accounts service, for its OpenAPI fragment (/internal/meta): the
conventional ones of accounts and contacts, duplicate, map and the picklists."""

from __future__ import annotations

from typing import Any

from services.common.event_schemas import entity_schemas, record_schemas
from services.common.openapi import (
    Op,
    Open,
    Picklist,
    PicklistValue,
    crud_operations,
    entity_record,
    picklist_read,
)

from .entities import ACCOUNT, CONTACT, Address, Location
from .schemas import PicklistValueCreate, PicklistValueUpdate


class MapPoint(Open):
    lat: float
    lon: float
    precision: str
    source: str
    address: Address
    map_url: str


# Records as read, from their declarations: the address is always there, as one object.
Account = entity_record(ACCOUNT, address=(Address, ...), location=(Location | None, None))
Contact = entity_record(CONTACT)


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
        **entity_schemas(ACCOUNT, Account),
        **entity_schemas(CONTACT, Contact),
        **record_schemas("picklist_value", PicklistValueRecord, ("created", "updated")),
    }


def operations() -> list[Op]:
    a = "/api/v1/accounts/{id}"
    return [
        *crud_operations(ACCOUNT, Account),
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
        *crud_operations(CONTACT, Contact),
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

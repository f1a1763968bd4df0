"""The mail-merge vocabulary (GET /api/v1/templates/variables) says exactly what a merge gives a
template: every documented variable is in the context built for an account, and every value the
context holds beside the records' own fields is documented."""

from __future__ import annotations

from datetime import date
from typing import Any

from services.accounts.entities import ENTITIES as ACCOUNT_ENTITIES
from services.common.entities import ADDRESS_FIELDS, Entity
from services.documents import mailmerge
from services.documents.settings import DocumentsSettings

DECLARED = {entity.name: entity for entity in ACCOUNT_ENTITIES}
SAMPLES: dict[str, Any] = {
    "address": {
        "street": "3 quai de Rive",
        "postal_code": "74200",
        "city": "Thonon-les-Bains",
        "country": "France",
    },
    "money": "1234567.80",
    "number": 12,
    "location": {"lat": 46.37, "lon": 6.48},
}


def sample(entity: Entity, **values: Any) -> dict[str, Any]:
    """A record of ``entity`` as the replica keeps it: every declared field filled, and the
    record kernel's own."""
    record: dict[str, Any] = {
        "id": "6b8e5f7e-6d1f-4d7c-9a55-1f0c8f0d2a11",
        "version": 3,
        "created_at": "2026-11-02T09:15:00+00:00",
        "updated_at": "2026-11-20T16:40:00+00:00",
        "created_by": "alice",
        "updated_by": "bob",
    }
    for field in entity.fields:
        record[field.name] = SAMPLES.get(field.kind, f"{field.name} de test")
    return {**record, **values}


def context() -> dict[str, Any]:
    account = sample(DECLARED["account"], owner="alice")
    contacts = [sample(DECLARED["contact"], last_name=name) for name in ("Martin", "Petit")]
    seller = DocumentsSettings.model_construct().seller()
    return mailmerge.build_context(account, contacts, "bob", seller, date(2026, 11, 28))


def resolve(values: dict[str, Any], name: str) -> Any:
    """The value of ``compte.address.city`` in ``values``; KeyError when a template would get
    nothing."""
    value: Any = values
    for part in name.split("."):
        value = value[part]
    return value


def documented() -> list[str]:
    """Every variable name the vocabulary gives, the records' declared fields included."""
    names: list[str] = []
    for group in mailmerge.vocabulary()["groups"]:
        record = group.get("record")
        if record is not None:
            for field in DECLARED[record["entity"]].fields:
                parts = ADDRESS_FIELDS if field.kind == "address" else (None,)
                names += [
                    f"{record['prefix']}.{field.name}" + (f".{part}" if part else "")
                    for part in parts
                ]
        names += [variable["name"] for variable in group["variables"]]
    return names


def test_every_documented_variable_is_in_the_context() -> None:
    built = context()
    # A contact's variables are read in a table row: {%tr for c in contacts %}.
    scope = {**built, mailmerge.CONTACT_ROW: built["contacts"][0]}
    missing = []
    for name in documented():
        try:
            resolve(scope, name)
        except KeyError:
            missing.append(name)
    assert missing == []
    assert resolve(scope, "compte.adresse") == "3 quai de Rive, 74200 Thonon-les-Bains"
    assert resolve(scope, "compte.chiffre_affaires") == "1\u202f234\u202f567,80\xa0€"
    assert resolve(scope, "vendeur.name") == "Ma Société SAS"
    assert (scope["responsable"], scope["date"], scope["utilisateur"]) == (
        "alice",
        "28/11/2026",
        "bob",
    )


def test_the_context_holds_nothing_undocumented_beside_the_records_own_fields() -> None:
    built = context()
    vocabulary = mailmerge.vocabulary()
    names = documented()
    assert list(built) == vocabulary["names"]
    # What the merge adds to a record is documented, and only that (the record's own fields
    # are those of its declaration).
    for prefix, given, record in (
        ("compte", built["compte"], sample(DECLARED["account"], owner="alice")),
        ("c", built["contacts"][0], sample(DECLARED["contact"], last_name="Martin")),
    ):
        added = sorted(f"{prefix}.{key}" for key in given if key not in record)
        assert added == sorted(
            name
            for name in names
            if name.startswith(f"{prefix}.") and name.split(".")[1] not in record
        )
    assert "compte.chiffre_affaires" in names
    assert [f"vendeur.{key}" for key in built["vendeur"]] == [
        name for name in names if name.startswith("vendeur.")
    ]
    assert built["account"] is built["compte"]
    assert "« account »" in vocabulary["groups"][0]["hint"]
    # Every other top-level value is documented as it is.
    containers = {"compte", "account", "contacts", "vendeur"}
    assert [n for n in built if n not in containers] == [n for n in names if "." not in n]


def test_the_seller_documented_is_the_one_the_settings_give() -> None:
    seller = DocumentsSettings.model_construct().seller()
    assert list(seller) == [variable.name for variable in mailmerge.SELLER]


def test_the_vocabulary_is_served_as_its_schema_says() -> None:
    served = mailmerge.vocabulary()
    assert (
        mailmerge.TemplateVariables.model_validate(served).model_dump(exclude_none=True) == served
    )
    names = [v["name"] for group in served["groups"] for v in group["variables"]]
    assert len(names) == len(set(names))
    assert all(v["description"] for group in served["groups"] for v in group["variables"])

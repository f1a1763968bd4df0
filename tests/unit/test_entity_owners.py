"""Who may publish each entity's events comes from the services' own declarations: provisioning
reads services/<service>/entities.py (ENTITIES, PUBLISHED), grants the topic permissions from
them and hands every service the map (CRM_ENTITY_OWNERS); services/common keeps no list."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from pydantic import SecretStr, ValidationError

from deploy.provision import (
    Plan,
    broker_definitions,
    declared_owners,
    published_entities,
    service_environment,
)
from services.common import broker
from services.common.app import service_app
from services.common.broker import (
    ConflictingOwners,
    entity_owners,
    format_entity_owners,
    owned_entities,
    parse_entity_owners,
    publisher_refusal,
)
from services.common.consumer import EventConsumer
from services.common.entities import Entity, Field
from services.common.handlers import Handlers
from services.common.runtime import _consumer
from services.common.settings import SERVICES, ConfigError, ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
# The owners as services/common/broker.py listed them by hand before the declarations did.
FORMER_OWNERS = {
    "user": "gateway",
    "account": "accounts",
    "contact": "accounts",
    "picklist_value": "accounts",
    "action": "activities",
    "opportunity": "activities",
    "project": "activities",
    "quote": "documents",
    "invoice": "documents",
    "template": "documents",
}
# Each service's catalogue of the events it publishes (what /internal/meta serves).
EVENT_CATALOGUES = {
    "gateway": "services.gateway.event_schemas",
    "accounts": "services.accounts.operations",
    "activities": "services.activities.operations",
    "documents": "services.documents.operations",
}
VISIT = Entity(
    name="visit",
    collection="visits",
    label="Visite",
    plural="Visites",
    fields=(Field("name", "Nom", "text", required=True),),
)


class AccountsSettings(ServiceSettings):
    service = "accounts"


def plan() -> Plan:
    return Plan(
        db_passwords={s: "pg" for s in SERVICES},
        amqp_passwords={s: "mq" for s in SERVICES},
        prefix="crm_x_",
    )


def topic_write(service: str) -> re.Pattern[str]:
    """The routing keys ``service``'s broker user may publish, as provisioning grants them."""
    definitions = broker_definitions(plan())
    (granted,) = [t for t in definitions["topic_permissions"] if t["user"] == f"crm_x_{service}"]
    return re.compile(granted["write"])


def test_the_owners_are_the_union_of_the_services_declarations() -> None:
    union: dict[str, str] = {}
    for path in sorted((ROOT / "services").glob("*/entities.py")):
        service = path.parent.name
        if service == "common":
            continue
        module = importlib.import_module(f"services.{service}.entities")
        names = [e.name for e in module.ENTITIES] + list(getattr(module, "PUBLISHED", ()))
        for name in names:
            assert union.setdefault(name, service) == service, name
    assert declared_owners() == union
    assert declared_owners() == FORMER_OWNERS  # the same permissions as before
    assert not hasattr(broker, "ENTITY_OWNERS")  # nothing left to edit in services/common
    assert published_entities("audit") == ()


@pytest.mark.parametrize("service", sorted(EVENT_CATALOGUES))
def test_every_event_a_service_publishes_is_of_an_entity_it_declares(service: str) -> None:
    """An event type in a service's catalogue whose entity it forgot to declare (ENTITIES or
    PUBLISHED) would be refused by every consumer and by the broker."""
    catalogue: dict[str, Any] = importlib.import_module(EVENT_CATALOGUES[service]).events()
    entities = {event_type.split(".")[1] for event_type in catalogue}  # crm.<entity>.<change>.v1
    assert entities
    assert entities <= set(owned_entities(service, declared_owners()))


def test_each_broker_user_may_publish_its_own_entities_and_announcement_only() -> None:
    for service in SERVICES:
        write = topic_write(service)
        assert write.fullmatch(f"meta.{service}.announced")
        for entity, owner in FORMER_OWNERS.items():
            assert bool(write.fullmatch(f"{entity}.updated")) == (owner == service), entity
    assert topic_write("accounts").fullmatch("account.located")
    assert not topic_write("audit").fullmatch("account.created")


def test_an_entity_declared_in_a_service_package_gets_its_permissions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A new entity is declared in its service's package only: provisioning grants its routing
    keys to that service's user, and every service learns its owner from its environment."""
    activities = importlib.import_module("services.activities.entities")
    documents = importlib.import_module("services.documents.entities")
    assert not topic_write("activities").fullmatch("visit.created")
    monkeypatch.setattr(activities, "ENTITIES", (*activities.ENTITIES, VISIT))
    monkeypatch.setattr(documents, "PUBLISHED", ("signature",), raising=False)

    assert topic_write("activities").fullmatch("visit.created")
    assert topic_write("documents").fullmatch("signature.updated")
    assert not topic_write("accounts").fullmatch("visit.created")
    env = service_environment(plan())
    monkeypatch.setenv("CRM_INTERNAL_SECRET", "s" * 32)
    monkeypatch.setenv("CRM_ENTITY_OWNERS", env["CRM_ENTITY_OWNERS"])
    owners = AccountsSettings().owners()
    assert owners["visit"] == "activities"
    assert owners["signature"] == "documents"
    assert publisher_refusal("visit", "crm_x_activities", "crm_x_", owners) is None
    assert publisher_refusal("visit", "crm_x_documents", "crm_x_", owners) == (
        "événement visit publié par « crm_x_documents » : seul crm_x_activities peut le publier"
    )


def test_an_entity_declared_by_two_services_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConflictingOwners, match="'quote'"):
        entity_owners({"documents": ["quote"], "activities": ["action", "quote"]})
    accounts = importlib.import_module("services.accounts.entities")
    monkeypatch.setattr(accounts, "PUBLISHED", ("picklist_value", "invoice"))
    with pytest.raises(ConflictingOwners, match="'invoice'"):
        declared_owners()


def test_the_variable_carries_the_map_both_ways() -> None:
    text = format_entity_owners(FORMER_OWNERS)
    assert text.startswith("account=accounts,action=activities,contact=accounts,")
    assert parse_entity_owners(text) == FORMER_OWNERS
    assert parse_entity_owners(" account = accounts , user=gateway") == {
        "account": "accounts",
        "user": "gateway",
    }
    for bad in ("account", "account=", "account=accounts;user=gateway", "a=b,a=c", "A=b"):
        with pytest.raises(ValueError, match="entity"):
            parse_entity_owners(bad)


def test_a_consuming_service_without_the_owners_does_not_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without CRM_ENTITY_OWNERS a consumer would have to accept every publisher: the service
    stops at start instead, naming the variable."""
    monkeypatch.setenv("CRM_INTERNAL_SECRET", "s" * 32)
    monkeypatch.delenv("CRM_ENTITY_OWNERS", raising=False)
    settings = AccountsSettings()
    with pytest.raises(ConfigError, match="CRM_ENTITY_OWNERS"):
        settings.owners()
    with pytest.raises(ConfigError, match="CRM_ENTITY_OWNERS"):
        _consumer(None, settings, Handlers())
    monkeypatch.setenv("CRM_ENTITY_OWNERS", "")
    with pytest.raises(ConfigError, match="CRM_ENTITY_OWNERS"):
        AccountsSettings().owners()
    monkeypatch.setenv("CRM_ENTITY_OWNERS", "account:accounts")
    with pytest.raises(ValidationError, match="CRM_ENTITY_OWNERS"):
        AccountsSettings()
    with pytest.raises(TypeError, match="entity owners"):
        EventConsumer(
            None,
            "amqp://guest:guest@127.0.0.1:5672/",
            "crm.events",
            "accounts",
            Handlers(),
            publisher_prefix="crm_",
        )


async def test_the_service_stops_before_touching_its_database(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Started without CRM_ENTITY_OWNERS, a consuming service's app fails with ConfigError
    first: not on its (here unreachable) database, not once its relay runs."""
    monkeypatch.delenv("CRM_ENTITY_OWNERS", raising=False)
    settings = AccountsSettings(
        internal_secret=SecretStr("s" * 32),
        database_url="postgresql://nobody@127.0.0.1:1/unreachable",
    )
    app = service_app(settings, ROOT / "services" / "accounts" / "migrations", handlers=Handlers())
    runner = web.AppRunner(app)
    with pytest.raises(ConfigError, match="CRM_ENTITY_OWNERS"):
        await runner.setup()
    await runner.cleanup()

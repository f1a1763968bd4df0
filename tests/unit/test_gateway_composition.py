"""What the gateway composes from the services' declarations, read through its real Registry:
the 360° view's sections, the events that drop a cached view, and what Imprimer prints."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from services.accounts.entities import ENTITIES as ACCOUNTS
from services.activities.entities import ENTITIES as ACTIVITIES
from services.common.entities import Entity, Field, PrintLayout, Tab
from services.common.events import diff, encode, make_event
from services.documents.entities import ENTITIES as DOCUMENTS
from services.gateway.entities import public_entities
from services.gateway.printing import PrintSection, printable
from services.gateway.registry import Registry
from services.gateway.view_cache import (
    ViewCache,
    account_links,
    accounts_named,
    bindings,
)
from services.gateway.views import view_layout

DECLARED = {"accounts": ACCOUNTS, "activities": ACTIVITIES, "documents": DOCUMENTS}
A, B, X = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())


async def _never(service: str) -> Mapping[str, Any]:
    raise AssertionError(f"{service}: the test registry reads nothing over HTTP")


def registry_of(declared: Mapping[str, Sequence[Entity]]) -> Registry:
    """A real Registry that has learnt ``declared`` as each service's meta would give it."""
    registry = Registry(_never, services=tuple(declared), own=public_entities())
    for service, entities in declared.items():
        learn(registry, service, entities)
    return registry


def learn(registry: Registry, service: str, entities: Sequence[Entity], version: str = "1") -> None:
    public = [entity.public(service) for entity in entities]
    assert registry.learn({"service": service, "version": version, "entities": public})


def marketing(tab_order: int) -> Entity:
    """An entity a new service might declare: a campaign, shown as a tab of the account."""
    return Entity(
        name="campaign",
        collection="campaigns",
        label="Campagne",
        plural="Campagnes",
        fields=(
            Field("name", "Campagne", "text", required=True),
            Field("target_account_id", "Compte", "connection", target="account"),
        ),
        tab=Tab("Campagnes", "target_account_id", order=tab_order),
        events=("created", "updated", "sent"),
        derived_events=("scored",),
    )


# The 360° view


def test_the_view_asks_the_services_declaring_tabs_for_them_in_tab_order() -> None:
    layout = view_layout(registry_of(DECLARED).entities())
    assert layout.main == "accounts"  # the account and its contacts
    assert layout.others == {
        "activities": ("actions", "opportunities", "projects"),
        "documents": ("quotes", "invoices"),
    }
    assert list(layout.others) == ["activities", "documents"]


def test_a_service_declaring_a_tab_joins_the_view_where_its_first_tab_comes() -> None:
    registry = registry_of({**DECLARED, "marketing": ()})
    learn(registry, "marketing", [marketing(tab_order=0)], version="2")
    layout = view_layout(registry.entities())
    assert list(layout.others) == ["marketing", "activities", "documents"]
    assert layout.others["marketing"] == ("campaigns",)


def test_without_the_accounts_declarations_no_service_answers_the_account() -> None:
    layout = view_layout(registry_of({"activities": ACTIVITIES}).entities())
    assert layout.main is None
    assert layout.others["activities"] == ("actions", "opportunities", "projects")


# The cache of views: its bindings and what drops an entry


def test_the_feed_hears_every_event_of_the_account_and_of_each_tab_derived_ones_included() -> None:
    keys = bindings(registry_of(DECLARED).entities())
    assert len(keys) == len(set(keys))
    assert "account.located" in keys  # a geocoded address changes the view, not the version
    for key in ("account.updated", "account.deleted", "account.restored", "contact.created",
                "action.updated", "opportunity.deleted", "project.restored", "quote.accepted",
                "invoice.paid"):  # fmt: skip
        assert key in keys, key
    assert {key.split(".")[0] for key in keys} == {
        "account", "contact", "action", "opportunity", "project", "quote", "invoice",
    }  # fmt: skip


def test_a_new_tab_brings_its_events_and_its_link_to_the_account() -> None:
    registry = registry_of({**DECLARED, "marketing": ()})
    learn(registry, "marketing", [marketing(tab_order=7)], version="2")
    entities = registry.entities()
    assert {"campaign.created", "campaign.sent", "campaign.scored"} <= set(bindings(entities))
    links = account_links(entities)
    assert links["campaign"] == "target_account_id"
    assert links["contact"] == links["quote"] == "account_id"
    moved = event("campaign", {"id": X, "target_account_id": A}, {"id": X, "target_account_id": B})
    assert accounts_named(moved, links) == {A, B}


def event(entity: str, record: dict[str, Any], old: dict[str, Any] | None = None) -> bytes:
    record = {"version": 2 if old else 1, **record}
    return encode(
        make_event(
            source="/tests", entity=entity, change="updated" if old else "created",
            record=record, actor="t", changes=diff(old, record),
        )
    )  # fmt: skip


def test_an_event_of_an_entity_the_feed_does_not_know_drops_every_view() -> None:
    links = account_links(registry_of(DECLARED).entities())
    assert accounts_named(event("campaign", {"id": X, "account_id": A}), links) is None
    assert accounts_named(event("action", {"id": X, "account_id": A}), links) == {A}


def test_the_cache_serves_nothing_until_the_feed_is_bound_to_new_declarations() -> None:
    registry = registry_of(DECLARED)
    cache = ViewCache(1000, 60.0)
    cache.activate(True)
    cache.store(A, 20, b"{a}", cache.generation)
    assert cache.get(A, 20) == b"{a}"
    # Once following the registry, a change of the declarations makes the cache unusable until
    # the feed has bound itself to them (and dropped the views composed before).
    cache._registry, cache._bound_version = registry, registry.version  # as _bind leaves it
    assert cache.get(A, 20) == b"{a}"
    learn(registry, "documents", DOCUMENTS, version="2")
    assert not cache.usable
    assert cache.get(A, 20) is None
    cache.store(B, 20, b"{b}", cache.generation)
    cache._bound_version = registry.version
    assert cache.get(B, 20) is None


# Imprimer

FIELD_LABELS_BEFORE = {  # what the documents service printed before the declarations
    "account": [
        ("name", "Raison sociale"), ("account_type", "Type de compte"),
        ("industry", "Secteur d'activité"), ("phone", "Téléphone"), ("email", "E-mail"),
        ("website", "Site web"), ("address", "Adresse"), ("siren", "SIREN"), ("siret", "SIRET"),
        ("vat_number", "TVA intracommunautaire"), ("owner", "Responsable"),
        ("employees", "Effectif"), ("annual_revenue", "Chiffre d'affaires"),
        ("description", "Description"),
    ],
    "contact": [
        ("civility", "Civilité"), ("first_name", "Prénom"), ("last_name", "Nom"),
        ("job_title", "Fonction"), ("email", "E-mail"), ("phone", "Téléphone"),
        ("mobile", "Mobile"), ("description", "Description"),
    ],
    "opportunity": [
        ("name", "Affaire"), ("stage", "Étape"), ("amount", "Montant"),
        ("probability", "Probabilité (%)"), ("expected_close_date", "Clôture prévue"),
        ("source", "Origine"), ("closed_at", "Clôturée le"), ("description", "Description"),
    ],
    "project": [
        ("name", "Projet"), ("status", "Statut"), ("start_date", "Début"), ("end_date", "Fin"),
        ("budget", "Budget"), ("description", "Description"),
    ],
}  # fmt: skip


def test_the_printable_records_and_their_fields_are_those_declared() -> None:
    plans = printable(registry_of(DECLARED).entities())
    assert set(plans) == {"accounts", "contacts", "opportunities", "projects"}
    headings = {plan.kind: plan.heading for plan in plans.values()}
    assert headings == {
        "account": "Compte", "contact": "Contact", "opportunity": "Affaire", "project": "Projet",
    }  # fmt: skip
    for plan in plans.values():
        labels = [(field["name"], field["label"]) for field in plan.fields]
        assert labels == FIELD_LABELS_BEFORE[plan.kind], plan.kind
    kinds = {f["name"]: f["kind"] for f in plans["accounts"].fields}
    assert (kinds["address"], kinds["annual_revenue"]) == ("address", "money")
    assert {f["name"]: f["kind"] for f in plans["opportunities"].fields}["closed_at"] == "datetime"
    assert plans["contacts"].service == "accounts"
    assert plans["projects"].service == "activities"


def test_a_printed_record_shows_its_related_records_under_their_tab_label() -> None:
    plans = printable(registry_of(DECLARED).entities())
    assert plans["accounts"].sections == (
        PrintSection("contacts", "account_id", "Contacts", "accounts", "last_name"),
        PrintSection("actions", "account_id", "Actions", "activities", "subject"),
        PrintSection("opportunities", "account_id", "Affaires", "activities", "name"),
        PrintSection("projects", "account_id", "Projets", "activities", "name"),
        PrintSection("quotes", "account_id", "Devis", "documents", "number"),
        PrintSection("invoices", "account_id", "Factures", "documents", "number"),
    )
    assert plans["contacts"].sections == (
        PrintSection("actions", "contact_id", "Actions", "activities", "subject"),
    )
    assert [s.link for s in plans["opportunities"].sections] == ["opportunity_id"] * 2


def test_a_section_of_a_service_not_declared_yet_is_printed_as_unavailable() -> None:
    plans = printable(registry_of({"accounts": ACCOUNTS}).entities())
    actions = plans["contacts"].sections[0]
    assert (actions.service, actions.title) == (None, "actions")


def test_a_new_printable_entity_needs_no_gateway_change() -> None:
    campaign = marketing(tab_order=7)
    printed = Entity(**{
        **{f: getattr(campaign, f) for f in ("name", "collection", "label", "plural", "fields")},
        "printing": PrintLayout("Campagne", sections=(("actions", "account_id"),)),
    })  # fmt: skip
    registry = registry_of({**DECLARED, "marketing": ()})
    learn(registry, "marketing", [printed], version="2")
    plan = printable(registry.entities())["campaigns"]
    assert (plan.kind, plan.service, plan.heading) == ("campaign", "marketing", "Campagne")
    assert [f["label"] for f in plan.fields] == ["Campagne", "Compte"]
    assert plan.sections == (
        PrintSection("actions", "account_id", "Actions", "activities", "subject"),
    )
    assert orjson.loads(orjson.dumps(plan.fields))  # sent as JSON to the documents service


def test_a_new_tab_prints_on_the_account_with_its_rows_named_by_its_title_field() -> None:
    registry = registry_of({**DECLARED, "marketing": ()})
    learn(registry, "marketing", [marketing(tab_order=7)], version="2")
    sections = printable(registry.entities())["accounts"].sections
    assert sections[-1].collection == "campaigns"
    assert (sections[-1].link, sections[-1].service) == ("target_account_id", "marketing")
    assert sections[-1].title_field == "name"
    assert len(sections) == 7  # the six declared tabs, then the new one

"""Activities' declarations (services/activities/entities.py): the models derived from them
accept and refuse what the hand-written ones did, with the same messages; the public form
says what the guide says; the typed handlers bind what the queue needs."""

import uuid
from typing import Any, cast

import asyncpg
import pytest
from pydantic import BaseModel

from services.activities import domain
from services.activities.consumers import AcceptedQuote, ContactCopy, make_handlers
from services.activities.entities import ACTION, ENTITIES, OPPORTUNITY, PROJECT
from services.activities.schemas import ActionFields, OpportunityFields, ProjectFields
from services.activities.service import SPECS
from services.common.events import CloudEvent, make_event
from services.common.handlers import EventRefused, read_payload
from services.common.validation import try_validate

ACCOUNT = str(uuid.uuid4())


def errors(model: type[BaseModel], data: dict[str, Any]) -> dict[str, str]:
    fields, found = try_validate(model, data)
    assert fields is None, data
    return {e.field: e.message for e in found}


def valid(model: type[BaseModel], data: dict[str, Any]) -> dict[str, Any]:
    fields, found = try_validate(model, data)
    assert fields is not None, found
    return fields.model_dump()


def test_the_names_kept_importable_are_the_declared_models() -> None:
    assert ActionFields is ACTION.model
    assert OpportunityFields is OPPORTUNITY.model
    assert ProjectFields is PROJECT.model
    assert list(ActionFields.model_fields) == [
        "type", "subject", "account_id", "contact_id", "status", "occurred_at", "due_at",
        "direction", "duration_seconds", "opportunity_id", "project_id", "description",
    ]  # fmt: skip
    assert "closed_at" not in OpportunityFields.model_fields  # read-only, derived
    assert "call_id" not in ActionFields.model_fields


def test_an_action_is_cleaned_and_its_optional_fields_cleared_by_blanks() -> None:
    action = valid(
        ActionFields,
        {"type": "call", "subject": "  Rappeler   M. Martin ", "account_id": ACCOUNT,
         "contact_id": "", "description": "  ", "duration_seconds": 7 * 86400},
    )  # fmt: skip
    assert action["subject"] == "Rappeler M. Martin"
    assert action["account_id"] == uuid.UUID(ACCOUNT)
    assert action["contact_id"] is None
    assert action["description"] is None
    assert action["status"] is None  # derived from the dates by the service


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"subject": "x"}, "type", "Ce champ est obligatoire."),
        ({"type": "fax", "subject": "x"}, "type", "Valeur non autorisée"),
        ({"type": "call", "subject": "   "}, "subject", "Ce champ est obligatoire."),
        ({"type": "call", "subject": "x" * 256}, "subject", "Ne doit pas dépasser 255"),
        # An empty status or direction is refused, not cleared (null clears them).
        ({"type": "call", "subject": "x", "status": ""}, "status", "Valeur non autorisée"),
        ({"type": "call", "subject": "x", "direction": ""}, "direction", "Valeur non autorisée"),
        ({"type": "call", "subject": "x", "duration_seconds": 7 * 86400 + 1},
         "duration_seconds", "Doit être inférieur ou égal à 604800"),
        ({"type": "call", "subject": "x", "duration_seconds": "60"},
         "duration_seconds", "Doit être un nombre entier."),
        ({"type": "call", "subject": "x", "account_id": "42"},
         "account_id", "Doit être un identifiant (UUID)."),
        ({"type": "call", "subject": "x", "description": "x" * 10_001},
         "description", "Ne doit pas dépasser 10000"),
        ({"type": "call", "subject": "x", "call_id": "c1"}, "call_id", "Champ inconnu."),
    ],
)  # fmt: skip
def test_an_action_is_refused_as_before_naming_the_field(
    data: dict[str, Any], field: str, message: str
) -> None:
    assert errors(ActionFields, data)[field].startswith(message)


def test_an_opportunity_and_a_project_take_their_defaults() -> None:
    deal = valid(OpportunityFields, {"name": "Refonte", "account_id": ACCOUNT})
    assert deal["stage"] == "prospection"
    assert deal["probability"] is None  # the stage's, set by the service
    project = valid(ProjectFields, {"name": "Refonte", "account_id": ACCOUNT, "budget": "12.5"})
    assert project["status"] == "a_realiser"
    assert str(project["budget"]) == "12.5"


@pytest.mark.parametrize(
    ("model", "data", "field", "message"),
    [
        (OpportunityFields, {"name": "x"}, "account_id", "Ce champ est obligatoire."),
        (OpportunityFields, {"name": "x", "account_id": ACCOUNT, "stage": None},
         "stage", "Valeur non autorisée"),
        (OpportunityFields, {"name": "x", "account_id": ACCOUNT, "probability": 101},
         "probability", "Doit être inférieur ou égal à 100"),
        (OpportunityFields, {"name": "x", "account_id": ACCOUNT, "amount": "1.234"},
         "amount", "Au plus 2 décimales."),
        (OpportunityFields, {"name": "x", "account_id": ACCOUNT, "amount": "-1"},
         "amount", "Doit être supérieur ou égal à 0"),
        (OpportunityFields, {"name": "x", "account_id": ACCOUNT, "source": "x" * 101},
         "source", "Ne doit pas dépasser 100"),
        (OpportunityFields, {"name": "x", "account_id": ACCOUNT, "closed_at": None},
         "closed_at", "Champ inconnu."),
        (ProjectFields, {"name": "x", "account_id": ACCOUNT, "status": "fini"},
         "status", "Valeur non autorisée"),
        (ProjectFields, {"name": "x", "account_id": ACCOUNT, "end_date": "29/11/2026"},
         "end_date", "Date attendue au format AAAA-MM-JJ."),
        (ProjectFields, {"name": "x", "account_id": ACCOUNT, "contact_id": ACCOUNT},
         "contact_id", "Champ inconnu."),
    ],
)  # fmt: skip
def test_opportunities_and_projects_are_refused_as_before(
    model: type[BaseModel], data: dict[str, Any], field: str, message: str
) -> None:
    assert errors(model, data)[field].startswith(message)


def test_an_opportunity_source_keeps_its_spaces_as_typed() -> None:
    deal = valid(OpportunityFields, {"name": "x", "account_id": ACCOUNT, "source": " Salon  2026"})
    assert deal["source"] == " Salon  2026"


def test_the_lists_are_the_picklists_the_service_serves() -> None:
    for entity in ENTITIES:
        for field in entity.fields:
            if field.kind == "list":
                assert field.picklist is not None
                served = domain.picklist(field.picklist)
                assert [(v["code"], v["label"]) for v in served] == list(field.choices)


def test_the_public_declarations_give_tabs_connections_and_print_layouts() -> None:
    action, deal, project = (entity.public("activities") for entity in ENTITIES)
    assert [d["tab"] for d in (action, deal, project)] == [
        {"label": "Actions", "link": "account_id", "order": 2, "sort": "-occurred_at"},
        {"label": "Affaires", "link": "account_id", "order": 3, "sort": "-created_at"},
        {"label": "Projets", "link": "account_id", "order": 4, "sort": "-created_at"},
    ]
    assert (action["label"], deal["label"], project["label"]) == ("Action", "Affaire", "Projet")
    assert ACTION.connections == {
        "account_id": "account", "contact_id": "contact",
        "opportunity_id": "opportunity", "project_id": "project",
    }  # fmt: skip
    assert [f["name"] for f in action["filters"]] == [
        "account_id", "contact_id", "opportunity_id", "project_id", "type", "status", "direction"
    ]  # fmt: skip
    assert action["printing"] is None
    assert deal["printing"]["sections"] == [
        {"collection": "actions", "link": "opportunity_id"},
        {"collection": "projects", "link": "opportunity_id"},
    ]
    assert [(f["name"], f["label"]) for f in deal["printing"]["fields"]] == [
        ("name", "Affaire"), ("stage", "Étape"), ("amount", "Montant"),
        ("probability", "Probabilité (%)"), ("expected_close_date", "Clôture prévue"),
        ("source", "Origine"), ("closed_at", "Clôturée le"), ("description", "Description"),
    ]  # fmt: skip
    assert project["printing"]["sections"] == [{"collection": "actions", "link": "project_id"}]
    assert [f["name"] for f in project["printing"]["fields"]] == [
        "name", "status", "start_date", "end_date", "budget", "description"
    ]  # fmt: skip
    closed_at = next(f for f in deal["fields"] if f["name"] == "closed_at")
    assert closed_at["read_only"] is True


def event(entity: str, change: str, **record: Any) -> CloudEvent:
    return make_event(
        source="/tests",
        entity=entity,
        change=change,
        record={"id": uuid.uuid4(), "version": 1, **record},
        actor="marie",
        changes={},
    )


def test_the_queue_is_bound_to_what_the_handlers_take() -> None:
    handlers = make_handlers("/services/activities")
    assert handlers.bindings == ("account.*", "contact.*", "quote.accepted")
    assert handlers.wants(event("account", "deleted", name="Garnier"))
    assert handlers.wants(event("contact", "restored", last_name="Martin"))
    assert handlers.wants(event("quote", "accepted", number="D-1"))
    assert not handlers.wants(event("quote", "sent", number="D-1"))
    assert not handlers.wants(event("invoice", "created"))


def test_a_payload_is_read_at_the_edge_and_a_record_that_does_not_fit_is_refused() -> None:
    deal = uuid.uuid4()
    quote = read_payload(AcceptedQuote, event("quote", "accepted", opportunity_id=str(deal)))
    assert quote == AcceptedQuote(opportunity_id=deal, number=None)
    contact = read_payload(ContactCopy, event("contact", "created", last_name="Martin"))
    assert contact == ContactCopy(last_name="Martin", account_id=None)
    with pytest.raises(EventRefused):
        read_payload(AcceptedQuote, event("quote", "accepted", opportunity_id="D-1"))


async def test_an_account_event_without_a_name_is_refused_before_any_write() -> None:
    handlers = make_handlers("/services/activities")
    untouched = cast(asyncpg.Connection, object())  # any use of it would raise
    with pytest.raises(EventRefused):
        await handlers.handle(untouched, event("account", "updated"))


def test_the_record_specs_are_built_from_the_declarations_as_the_lists_offered() -> None:
    actions, deals, projects = (SPECS[e.collection] for e in ENTITIES)
    assert [s.declaration for s in (actions, deals, projects)] == list(ENTITIES)
    assert (actions.label, deals.label, projects.label) == ("action", "affaire", "projet")
    assert actions.sortable["occurred_at"] == ("sort_at", "timestamptz")
    assert actions.default_sort == "-occurred_at"
    assert list(deals.sortable) == ["created_at", "updated_at", "name"]
    assert actions.read_only_extra == ("call_id",)
    assert deals.derived == ("closed_at",)
    assert list(projects.filters) == ["account_id", "opportunity_id", "status"]
    column, parse = deals.filters["stage"]
    assert column == "stage ="
    assert parse("gagnee") == "gagnee"
    with pytest.raises(ValueError, match="Valeurs possibles : prospection, qualification"):
        parse("won")
    with pytest.raises(ValueError, match="UUID"):
        actions.filters["project_id"][1]("42")

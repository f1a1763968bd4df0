"""The entities of the activities service, declared once: actions, opportunities (Affaires) and
projects (Projets), the three tabs it adds to an account's 360° view.

Their writable models, the kernel's record specs (service.py), the OpenAPI fragment, the event
schemas and the public declarations all come from here. Codes and French labels of the fixed
lists come from domain.py, which also serves them as picklists.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field as PydanticField
from pydantic import StrictInt

from services.common.entities import Blank, Entity, Field, Filter, PrintLayout, Tab, choice_type

from . import domain

MAX_DURATION_SECONDS = 7 * 86400


def choices(options: tuple[domain.Choice, ...]) -> tuple[tuple[str, str], ...]:
    """(code, French label) pairs of a fixed list."""
    return tuple((option.code, option.label) for option in options)


def one_of(options: tuple[domain.Choice, ...]) -> Any:
    """The type of a list's code: no blank, no null (a default applies when it is left out)."""
    return choice_type((code, code) for code in domain.codes(options))


def one_of_or_null(options: tuple[domain.Choice, ...]) -> Any:
    """The type of an optional list's code: null clears it, an empty string is refused."""
    return one_of(options) | None


Duration = Annotated[StrictInt, PydanticField(ge=0, le=MAX_DURATION_SECONDS)]
# At most 100 characters, kept as typed (no folding of spaces).
Source = Annotated[Annotated[str, PydanticField(max_length=100)] | None, Blank]


def _connection(name: str, label: str, target: str, **options: Any) -> Field:
    return Field(name, label, "connection", target=target, printed=False, **options)


def _filter(name: str, label: str, target: str) -> Filter:
    return Filter(name, label, "connection", target=target)


def _list_filter(name: str, label: str, picklist: str) -> Filter:
    return Filter(name, label, "list", picklist=picklist)


DESCRIPTION = Field("description", "Description", "long_text")

ACTION = Entity(
    name="action",
    collection="actions",
    label="Action",
    feminine=True,
    plural="Actions",
    title_field="subject",
    fields=(
        Field(
            "type",
            "Type",
            "list",
            required=True,
            listed=True,
            picklist="action_type",
            choices=choices(domain.ACTION_TYPES),
        ),
        Field("subject", "Objet", "text", required=True, max_length=255, listed=True),
        _connection(
            "account_id",
            "Compte",
            "account",
            listed=True,
            help="Une action est liée à un compte, à un contact, ou aux deux.",
        ),
        _connection("contact_id", "Contact", "contact", listed=True),
        Field(
            "status",
            "Statut",
            "list",
            listed=True,
            picklist="action_status",
            choices=choices(domain.ACTION_STATUSES),
            annotation=one_of_or_null(domain.ACTION_STATUSES),
            help="Déduit des dates s'il n'est pas donné : réalisée si elle a eu lieu, "
            "planifiée sinon.",
        ),
        Field("occurred_at", "Date", "datetime", listed=True, help="Quand elle a eu lieu."),
        Field("due_at", "Échéance", "datetime", help="Quand elle est prévue."),
        Field(
            "direction",
            "Sens",
            "list",
            picklist="action_direction",
            choices=choices(domain.DIRECTIONS),
            annotation=one_of_or_null(domain.DIRECTIONS),
            help="Appels et e-mails seulement.",
        ),
        Field(
            "duration_seconds",
            "Durée (secondes)",
            "number",
            annotation=Duration | None,
            help="Appels et rendez-vous seulement.",
        ),
        _connection("opportunity_id", "Affaire", "opportunity"),
        _connection("project_id", "Projet", "project"),
        DESCRIPTION,
        Field(
            "call_id",
            "Appel téléphonique",
            "text",
            read_only=True,
            printed=False,
            help="L'appel dont cette action garde la trace.",
        ),
    ),
    sorts=("occurred_at", "created_at", "updated_at"),
    default_sort="-occurred_at",
    filters=(
        _filter("account_id", "Compte", "account"),
        _filter("contact_id", "Contact", "contact"),
        _filter("opportunity_id", "Affaire", "opportunity"),
        _filter("project_id", "Projet", "project"),
        _list_filter("type", "Type", "action_type"),
        _list_filter("status", "Statut", "action_status"),
        _list_filter("direction", "Sens", "action_direction"),
    ),
    # Newest first by when it happened or is due (created_at when it has neither date).
    tab=Tab("Actions", "account_id", order=2, sort="-occurred_at"),
)

OPPORTUNITY = Entity(
    name="opportunity",
    collection="opportunities",
    label="Affaire",
    feminine=True,
    plural="Affaires",
    fields=(
        Field("name", "Affaire", "text", required=True, max_length=255, listed=True),
        _connection("account_id", "Compte", "account", required=True, listed=True),
        _connection("contact_id", "Contact", "contact"),
        Field(
            "stage",
            "Étape",
            "list",
            listed=True,
            picklist="opportunity_stage",
            choices=choices(domain.OPPORTUNITY_STAGES),
            annotation=one_of(domain.OPPORTUNITY_STAGES),
            default=domain.OPPORTUNITY_STAGES[0].code,
        ),
        Field("amount", "Montant", "money", listed=True),
        Field(
            "probability",
            "Probabilité (%)",
            "percent",
            help="Celle de l'étape si elle n'est pas donnée ou si l'étape change.",
        ),
        Field("expected_close_date", "Clôture prévue", "date", listed=True),
        Field("source", "Origine", "text", max_length=100, annotation=Source),
        Field(
            "closed_at",
            "Clôturée le",
            "datetime",
            read_only=True,
            help="Quand l'affaire a été gagnée ou perdue.",
        ),
        DESCRIPTION,
    ),
    sorts=("created_at", "updated_at", "name"),
    filters=(
        _filter("account_id", "Compte", "account"),
        _filter("contact_id", "Contact", "contact"),
        _list_filter("stage", "Étape", "opportunity_stage"),
    ),
    tab=Tab("Affaires", "account_id", order=3),
    printing=PrintLayout(
        "Affaire", sections=(("actions", "opportunity_id"), ("projects", "opportunity_id"))
    ),
)

PROJECT = Entity(
    name="project",
    collection="projects",
    label="Projet",
    plural="Projets",
    fields=(
        Field("name", "Projet", "text", required=True, max_length=255, listed=True),
        _connection("account_id", "Compte", "account", required=True, listed=True),
        Field(
            "status",
            "Statut",
            "list",
            listed=True,
            picklist="project_status",
            choices=choices(domain.PROJECT_STATUSES),
            annotation=one_of(domain.PROJECT_STATUSES),
            default=domain.PROJECT_STATUSES[0].code,
        ),
        Field("start_date", "Début", "date", listed=True),
        Field("end_date", "Fin", "date", listed=True, help="Au plus tôt la date de début."),
        Field("budget", "Budget", "money"),
        _connection("opportunity_id", "Affaire", "opportunity", help="Une affaire du même compte."),
        DESCRIPTION,
    ),
    sorts=("created_at", "updated_at", "name"),
    filters=(
        _filter("account_id", "Compte", "account"),
        _filter("opportunity_id", "Affaire", "opportunity"),
        _list_filter("status", "Statut", "project_status"),
    ),
    tab=Tab("Projets", "account_id", order=4),
    printing=PrintLayout("Projet", sections=(("actions", "project_id"),)),
)

ENTITIES = (ACTION, OPPORTUNITY, PROJECT)

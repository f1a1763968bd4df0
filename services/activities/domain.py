"""Pure rules of actions, opportunities and projects. No I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class Choice:
    code: str
    label: str


@dataclass(frozen=True)
class Stage(Choice):
    probability: int
    closed: bool = False


ACTION_TYPES = (
    Choice("call", "Appel"), Choice("email", "E-mail"), Choice("meeting", "Rendez-vous"),
    Choice("task", "Tâche"), Choice("note", "Note"), Choice("web_lead", "Demande web"),
)  # fmt: skip
ACTION_STATUSES = (
    Choice("planned", "Planifiée"),
    Choice("done", "Réalisée"),
    Choice("cancelled", "Annulée"),
)
DIRECTIONS = (Choice("in", "Entrant"), Choice("out", "Sortant"))
DIRECTED_TYPES = frozenset({"call", "email"})
OPPORTUNITY_STAGES = (
    Stage("prospection", "Prospection", 10),
    Stage("qualification", "Qualification", 25),
    Stage("proposition", "Proposition", 50),
    Stage("negociation", "Négociation", 75),
    Stage("gagnee", "Gagnée", 100, closed=True),
    Stage("perdue", "Perdue", 0, closed=True),
)
PROJECT_STATUSES = (
    Choice("a_realiser", "À réaliser"), Choice("en_cours", "En cours"),
    Choice("termine", "Terminé"), Choice("annule", "Annulé"),
)  # fmt: skip
STAGES = {stage.code: stage for stage in OPPORTUNITY_STAGES}
WON = "gagnee"

# The lists this service owns, as GET /api/v1/picklists/{name} shows them.
PICKLISTS: dict[str, tuple[Choice, ...]] = {
    "action_type": ACTION_TYPES,
    "action_status": ACTION_STATUSES,
    "action_direction": DIRECTIONS,
    "opportunity_stage": OPPORTUNITY_STAGES,
    "project_status": PROJECT_STATUSES,
}


def picklist(name: str) -> list[dict[str, Any]]:
    return [
        {"code": c.code, "label": c.label, "active": True, "position": i, **_extra(c)}
        for i, c in enumerate(PICKLISTS[name], start=1)
    ]


def _extra(choice: Choice) -> dict[str, Any]:
    if isinstance(choice, Stage):
        return {"probability": choice.probability, "closed": choice.closed}
    return {}


def codes(choices: tuple[Choice, ...]) -> list[str]:
    return [c.code for c in choices]


def action_problems(values: dict[str, Any]) -> list[tuple[str, str]]:
    """Rules between an action's fields."""
    problems: list[tuple[str, str]] = []
    if values.get("account_id") is None and values.get("contact_id") is None:
        problems.append(
            ("account_id", "Une action est liée à un compte, à un contact, ou aux deux.")
        )
    if values.get("direction") is not None and values["type"] not in DIRECTED_TYPES:
        problems.append(
            ("direction", "Seuls les appels et les e-mails ont un sens (entrant ou sortant).")
        )
    if values.get("duration_seconds") is not None and values["type"] not in ("call", "meeting"):
        problems.append(("duration_seconds", "Seuls les appels et les rendez-vous ont une durée."))
    return problems


def opportunity_derived(
    values: dict[str, Any], old: dict[str, Any] | None, now: datetime | None = None
) -> dict[str, Any]:
    """Probability from the stage when not given or when the stage changes; closing time."""
    stage = STAGES[values["stage"]]
    stage_changed = old is None or old["stage"] != stage.code
    probability = values.get("probability")
    if probability is None or (
        stage_changed and old is not None and probability == old["probability"]
    ):
        probability = stage.probability
    if stage.closed:
        closed_at = (
            old["closed_at"] if old is not None and not stage_changed and old["closed_at"] else None
        )
        closed_at = closed_at or now or datetime.now(UTC)
    else:
        closed_at = None
    return {"probability": probability, "closed_at": closed_at}


def project_problems(values: dict[str, Any]) -> list[tuple[str, str]]:
    start, end = values.get("start_date"), values.get("end_date")
    if start is not None and end is not None and start > end:
        return [("end_date", "La date de fin doit suivre la date de début.")]
    return []

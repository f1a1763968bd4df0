"""Pydantic models at the edges of the activities service."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
)

from services.common.validation import IsoDate, IsoDatetime


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _required_text(value: str) -> str:
    cleaned = " ".join(value.split())
    if not cleaned:
        raise ValueError("Ce champ est obligatoire.")
    if len(cleaned) > 255:
        raise ValueError("Ne doit pas dépasser 255 caractères.")
    return cleaned


Blank = BeforeValidator(_blank_to_none)
Title = Annotated[str, AfterValidator(_required_text)]
LongText = Annotated[Annotated[str, Field(max_length=10_000)] | None, Blank]
Money = Annotated[
    Decimal | None, Field(ge=0, le=Decimal("999999999999999.99"), max_digits=17, decimal_places=2)
]
OptionalId = Annotated[uuid.UUID | None, Blank]

ActionType = Literal["call", "email", "meeting", "task", "note", "web_lead"]
ActionStatus = Literal["planned", "done", "cancelled"]
Direction = Literal["in", "out"]
OpportunityStage = Literal[
    "prospection", "qualification", "proposition", "negociation", "gagnee", "perdue"
]
ProjectStatus = Literal["a_realiser", "en_cours", "termine", "annule"]


class ActionFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: ActionType
    subject: Title
    account_id: OptionalId = None
    contact_id: OptionalId = None
    status: ActionStatus | None = None  # from the dates when not given
    occurred_at: IsoDatetime | None = None
    due_at: IsoDatetime | None = None
    direction: Direction | None = None
    duration_seconds: Annotated[StrictInt | None, Field(ge=0, le=7 * 86400)] = None
    opportunity_id: OptionalId = None
    project_id: OptionalId = None
    description: LongText = None


class OpportunityFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Title
    account_id: uuid.UUID
    contact_id: OptionalId = None
    stage: OpportunityStage = "prospection"
    amount: Money = None
    probability: Annotated[StrictInt | None, Field(ge=0, le=100)] = None
    expected_close_date: IsoDate | None = None
    source: Annotated[Annotated[str, Field(max_length=100)] | None, Blank] = None
    description: LongText = None


class ProjectFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Title
    account_id: uuid.UUID
    status: ProjectStatus = "a_realiser"
    start_date: IsoDate | None = None
    end_date: IsoDate | None = None
    budget: Money = None
    opportunity_id: OptionalId = None
    description: LongText = None


class CallRecord(BaseModel):
    """A finished telephone call, as the gateway hands it over (internal)."""

    model_config = ConfigDict(extra="forbid")

    direction: Direction
    account_id: uuid.UUID | None = None
    contact_id: uuid.UUID | None = None
    number: Annotated[str, Field(max_length=40)]
    occurred_at: IsoDatetime
    duration_seconds: Annotated[StrictInt, Field(ge=0, le=7 * 86400)]

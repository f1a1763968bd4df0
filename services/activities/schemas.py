"""Pydantic models at the edges of the activities service.

What clients write on actions, opportunities and projects is derived from their declarations
(entities.py); the names below stay importable."""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from services.common.validation import IsoDatetime

from . import domain
from .entities import ACTION, OPPORTUNITY, PROJECT, Duration, one_of

ActionFields = ACTION.model
OpportunityFields = OPPORTUNITY.model
ProjectFields = PROJECT.model
Direction = one_of(domain.DIRECTIONS)


class CallRecord(BaseModel):
    """A finished telephone call, as the gateway hands it over (internal)."""

    model_config = ConfigDict(extra="forbid")

    direction: Direction  # type: ignore[valid-type]
    account_id: uuid.UUID | None = None
    contact_id: uuid.UUID | None = None
    number: Annotated[str, Field(max_length=40)]
    occurred_at: IsoDatetime
    duration_seconds: Duration

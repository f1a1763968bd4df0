"""The models of the gateway's own answers (users, sessions, tokens, telephony). The services'
records are described by the services themselves (their OpenAPI fragments)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.common.openapi import Open, record_model

from .schemas import ProfileFields, UserFields

User = record_model(
    "User",
    ProfileFields,
    username=(str, ...),
    phone_extension=(UserFields.model_fields["phone_extension"].annotation, None),
    role=(Literal["admin", "user", "readonly"], ...),
    active=(bool, ...),
)


class DirectoryEntry(BaseModel):
    """Who a username is: what any signed-in user may know of another (nothing more)."""

    model_config = ConfigDict(extra="forbid")

    username: str
    display_name: str = Field(description="Le nom affiché ; vide s'il n'a pas été donné")
    active: bool


class UserDirectory(Open):
    items: list[DirectoryEntry] = Field(
        description="Tous les utilisateurs, triés par nom affiché (à défaut, identifiant)"
    )


class Token(Open):
    access_token: str
    token_type: Literal["bearer"]
    expires_in: int


class Session(Open):
    """An open sign-in session (each bearer token names one)."""

    id: uuid.UUID
    created_at: datetime
    expires_at: datetime
    client_address: str | None = None
    user_agent: str | None = None
    current: bool = Field(description="La session du jeton utilisé pour cette requête")


class SessionList(Open):
    items: list[Session]


class CallPlaced(Open):
    call_id: uuid.UUID
    status: Literal["requested"]
    to: str
    from_: str = Field(alias="from")


class CallbackResult(Open):
    status: Literal["noted", "recorded", "unmatched"]
    action_id: uuid.UUID | None = None


class CallProgress(Open):
    """A call placed with ClickToCall, as the telephony server's callbacks told its progress:
    requested (asked of the telephony server), ringing, answered, ended."""

    call_id: str
    status: Literal["requested", "ringing", "answered", "ended"]
    to: str = Field(description="Le numéro appelé (E.164)")
    from_: str = Field(alias="from", description="Le poste de l'utilisateur")
    account_id: uuid.UUID
    contact_id: uuid.UUID | None = None
    placed_by: str
    placed_at: datetime
    ringing_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    duration_seconds: int | None = Field(None, description="Durée de l'appel, à la fin")

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from services.common.entities import Blank, clean_email
from services.common.validation import IsoDatetime

from .domain import password_problem

Email = Annotated[
    str | None, Blank, AfterValidator(lambda v: None if v is None else clean_email(v))
]
Extension = Annotated[
    # An empty string clears it, like null.
    Annotated[str, Field(pattern=r"^([0-9*#+]{1,20})?$")] | None,
    Blank,
]
DisplayName = Annotated[str, Field(max_length=150)]


def _password_policy(value: str) -> str:
    problem = password_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


# A new password: long enough, and not one of the most common ones (domain.password_problem).
Password = Annotated[str, Field(min_length=1, max_length=1024), AfterValidator(_password_policy)]
Role = Literal["admin", "user", "readonly"]


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=150)
    password: str = Field(min_length=1, max_length=1024)


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{1,149}$")]
    password: Password
    role: Role = "user"
    display_name: DisplayName = ""
    email: Email = None
    phone_extension: Extension = None


class ProfileFields(BaseModel):
    """What users change on their own profile (their phone extension is set by an admin)."""

    model_config = ConfigDict(extra="forbid")

    display_name: DisplayName = ""
    email: Email = None


class UserFields(ProfileFields):
    """What an admin changes on any user."""

    phone_extension: Extension = None
    role: Role
    active: bool


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str | None = Field(None, max_length=1024)
    new_password: Password


class CallRequest(BaseModel):
    """ClickToCall: whom to call; by default the contact's number, else the account's."""

    model_config = ConfigDict(extra="forbid")

    contact_id: uuid.UUID | None = None
    number: Annotated[Annotated[str, Field(max_length=40)] | None, Blank] = None


class TelephonyEvent(BaseModel):
    """A callback of the telephony server."""

    model_config = ConfigDict(populate_by_name=True)

    call_id: Annotated[str, Field(min_length=1, max_length=200)]
    event: Literal["ringing", "answered", "hangup"]
    direction: Literal["inbound", "outbound"]
    from_: Annotated[str, Field(alias="from", max_length=100)]
    to: Annotated[str, Field(max_length=100)]
    timestamp: IsoDatetime
    duration_seconds: Annotated[int, Field(ge=0, le=7 * 86400)] = 0

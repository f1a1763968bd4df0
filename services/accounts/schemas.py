"""Pydantic models at the edges of the accounts service: what a client may write (records: from
their declarations; picklist values)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt

from . import domain
from .entities import ACCOUNT, CONTACT, Address

# Derived from the declarations (entities.py): the names stay for the code that imports them.
if TYPE_CHECKING:  # what the type checker sees: a model whose fields are only known at run time

    class AccountFields(BaseModel):
        def __getattr__(self, name: str) -> Any: ...

    class ContactFields(BaseModel):
        def __getattr__(self, name: str) -> Any: ...

else:
    AccountFields = ACCOUNT.model
    ContactFields = CONTACT.model
__all__ = [
    "AccountFields",
    "Address",
    "ContactFields",
    "PicklistValueCreate",
    "PicklistValueUpdate",
]


class PicklistValueCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[A-Za-z0-9_.-]+$")]
    label: Annotated[str, AfterValidator(lambda v: domain.clean_name(v, "Le libellé"))]
    position: Annotated[StrictInt, Field(ge=0, le=10_000)] = 0


class PicklistValueUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: Annotated[str, AfterValidator(lambda v: domain.clean_name(v, "Le libellé"))] | None = (
        None
    )
    active: bool | None = None
    position: Annotated[StrictInt, Field(ge=0, le=10_000)] | None = None

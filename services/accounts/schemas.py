"""Pydantic models at the edges of the accounts service: what a client may write."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictInt

from . import domain


def _blank_to_none(value: Any) -> Any:
    """An empty or all-blank string clears an optional field."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _opt(clean: Callable[[str], str | None]) -> Any:
    """Apply ``clean`` to a value that may be absent (None)."""
    return AfterValidator(lambda value: None if value is None else clean(value))


def _text(max_length: int) -> Any:
    return _opt(lambda value: domain.clean_text(value, max_length))


Blank = BeforeValidator(_blank_to_none)
Name = Annotated[str, AfterValidator(domain.clean_name)]
LastName = Annotated[str, AfterValidator(lambda v: domain.clean_name(v, "Le nom"))]
Text100 = Annotated[str | None, Blank, _text(100)]
Text255 = Annotated[str | None, Blank, _text(255)]
LongText = Annotated[Annotated[str, Field(max_length=10_000)] | None, Blank]
Code = Annotated[Annotated[str, Field(max_length=50)] | None, Blank]
Email = Annotated[str | None, Blank, _opt(domain.clean_email)]
Website = Annotated[str | None, Blank, _opt(domain.clean_website)]
Phone = Annotated[Annotated[str, Field(max_length=40)] | None, Blank, _opt(domain.clean_phone)]
Siren = Annotated[Annotated[str, Field(max_length=20)] | None, Blank, _opt(domain.clean_siren)]
Siret = Annotated[Annotated[str, Field(max_length=30)] | None, Blank, _opt(domain.clean_siret)]
Vat = Annotated[Annotated[str, Field(max_length=30)] | None, Blank, _opt(domain.clean_vat_number)]
Country = Annotated[
    str,
    BeforeValidator(lambda v: domain.DEFAULT_COUNTRY if v is None else v),
    AfterValidator(domain.clean_country),
]
Username = Annotated[Annotated[str, Field(max_length=150)] | None, Blank]


class Address(BaseModel):
    model_config = ConfigDict(extra="forbid")

    street: Annotated[str | None, Blank, _text(500)] = None
    postal_code: Annotated[str | None, Blank, _text(20)] = None
    city: Text100 = None
    country: Country = domain.DEFAULT_COUNTRY

    @property
    def is_empty(self) -> bool:
        return not (self.street or self.postal_code or self.city)


class AccountFields(BaseModel):
    """Every field a user may write on an account; also validates a merged PATCH."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    account_type: Code = None
    industry: Code = None
    phone: Phone = None
    email: Email = None
    website: Website = None
    address: Annotated[Address, BeforeValidator(lambda v: {} if v is None else v)] = Field(
        default_factory=Address
    )
    siren: Siren = None
    siret: Siret = None
    vat_number: Vat = None
    parent_account_id: uuid.UUID | None = None
    owner: Username = None
    employees: Annotated[StrictInt | None, Field(ge=0, le=100_000_000)] = None
    annual_revenue: Annotated[
        Decimal | None, Field(ge=0, le=domain.MAX_REVENUE, max_digits=17, decimal_places=2)
    ] = None
    description: LongText = None


class ContactFields(BaseModel):
    """Every field a user may write on a contact."""

    model_config = ConfigDict(extra="forbid")

    last_name: LastName
    first_name: Text100 = None
    civility: Code = None
    job_title: Text255 = None
    email: Email = None
    phone: Phone = None
    mobile: Phone = None
    account_id: uuid.UUID | None = None
    description: LongText = None


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

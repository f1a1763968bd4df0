"""The models of the public API's answers, derived from the very models that validate what
clients write (the records are those fields, read back, plus what the system adds)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from services.accounts.schemas import AccountFields, Address, ContactFields
from services.activities.schemas import ActionFields, OpportunityFields, ProjectFields
from services.documents.schemas import InvoiceFields, QuoteFields

from .schemas import ProfileFields, UserFields

Money = str  # decimal strings: "1234.50"


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class SystemFields(Open):
    id: uuid.UUID
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str
    version: int


def record_model(name: str, written: type[BaseModel], **extra: Any) -> type[BaseModel]:
    """A record as read: the written fields (each may be null) plus the system's."""
    fields: dict[str, Any] = {
        field: (Any if info.annotation is None else info.annotation | None, None)
        for field, info in written.model_fields.items()
    }
    fields.update(extra)
    model: type[BaseModel] = create_model(name, __base__=SystemFields, **fields)
    return model


def patch_model(name: str, written: type[BaseModel]) -> type[BaseModel]:
    """A JSON merge patch of ``written``: any subset of its fields; null clears one."""
    fields: dict[str, Any] = {
        field: (Any if info.annotation is None else info.annotation | None, None)
        for field, info in written.model_fields.items()
    }
    model: type[BaseModel] = create_model(name, __config__=ConfigDict(extra="forbid"), **fields)
    return model


class Location(Open):
    lat: float
    lon: float
    precision: str
    source: str


class LineOut(Open):
    description: str
    quantity: Money
    unit_price: Money
    vat_rate: Money
    discount_percent: Money
    net: Money


class VatRate(Open):
    rate: Money
    base: Money
    vat: Money


Account = record_model(
    "Account",
    AccountFields,
    address=(Address, ...),
    annual_revenue=(Money | None, None),
    location=(Location | None, None),
)
Contact = record_model("Contact", ContactFields)
Action = record_model("Action", ActionFields, call_id=(str | None, None))
Opportunity = record_model(
    "Opportunity", OpportunityFields, amount=(Money | None, None), closed_at=(datetime | None, None)
)
Project = record_model("Project", ProjectFields, budget=(Money | None, None))
_totals: dict[str, Any] = {
    "lines": (list[LineOut], ...),
    "total_net": (Money, ...),
    "total_vat": (Money, ...),
    "total_gross": (Money, ...),
    "vat_breakdown": (list[VatRate], ...),
}
Quote = record_model(
    "Quote",
    QuoteFields,
    number=(str, ...),
    status=(Literal["draft", "sent", "accepted", "refused", "expired"], ...),
    sent_at=(datetime | None, None),
    decided_at=(datetime | None, None),
    **_totals,
)
Invoice = record_model(
    "Invoice",
    InvoiceFields,
    kind=(Literal["invoice", "credit_note"], ...),
    number=(str | None, None),
    status=(Literal["draft", "issued", "paid", "cancelled"], ...),
    issue_date=(date | None, None),
    paid_at=(datetime | None, None),
    quote_id=(uuid.UUID | None, None),
    credited_invoice_id=(uuid.UUID | None, None),
    seller=(dict[str, str] | None, None),
    **_totals,
)
User = record_model(
    "User",
    ProfileFields,
    username=(str, ...),
    phone_extension=(UserFields.model_fields["phone_extension"].annotation, None),
    role=(Literal["admin", "user", "readonly"], ...),
    active=(bool, ...),
)


class Template(SystemFields):
    name: str
    kind: str
    filename: str
    size: int
    variables: list[str]


def page_model(item: type[BaseModel]) -> type[BaseModel]:
    model: type[BaseModel] = create_model(
        f"{item.__name__}Page",
        __base__=Open,
        items=(list[item], ...),  # type: ignore[valid-type]
        next_cursor=(str | None, None),
    )
    return model


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


class FieldProblem(Open):
    field: str
    message: str


class Problem(Open):
    """RFC 9457 problem details; `errors` lists every bad field of a 422."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] | None = None


class Change(Open):
    field: str
    old: Any = None
    new: Any = None


class AuditEntry(Open):
    at: datetime
    actor: str
    action: str
    changes: list[Change]
    version: int
    seq: int
    event_id: uuid.UUID
    hash: str
    context: dict[str, Any] | None = None


class RejectedEvent(Open):
    """An event the audit trail refused to chain (its version did not follow the last one)."""

    event_id: uuid.UUID
    version: int
    last_version: int | None = None
    action: str
    actor: str
    at: datetime
    reason: str
    recorded_at: datetime


class ChainCheck(Open):
    valid: bool
    entries: int
    first_broken_seq: int | None = None
    reason: str | None = None
    rejected: list[RejectedEvent] = []


class MapPoint(Open):
    lat: float
    lon: float
    precision: str
    source: str
    address: Address
    map_url: str


class CallPlaced(Open):
    call_id: uuid.UUID
    status: Literal["requested"]
    to: str
    from_: str = Field(alias="from")


class CallbackResult(Open):
    status: Literal["noted", "recorded", "unmatched"]
    action_id: uuid.UUID | None = None


class PicklistValue(Open):
    code: str
    label: str
    active: bool
    position: int


class Picklist(Open):
    name: str
    values: list[PicklistValue]


def _section(item: type[BaseModel]) -> Any:
    model = create_model(
        f"{item.__name__}Tab",
        __base__=Open,
        total=(int, ...),
        total_is_capped=(bool, ...),
        items=(list[item], ...),  # type: ignore[valid-type]
        href=(str, ...),
    )
    return (model | None, None)


View = create_model(
    "AccountView",
    __base__=Open,
    account=(Account, ...),
    contacts=_section(Contact),
    actions=_section(Action),
    opportunities=_section(Opportunity),
    projects=_section(Project),
    quotes=_section(Quote),
    invoices=_section(Invoice),
    unavailable=(list[str], ...),
)


class TemplateUpload(BaseModel):
    """multipart/form-data: the Word file, its name, and the kind of record it serves."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    kind: Literal["account", "contact", "opportunity", "project", "quote", "invoice"]
    file: bytes

"""One declaration per entity: what a record is, said once, beside the service that owns it.

A service declares each of its entities with an ``Entity``: collection and French labels, its
fields with their kind in the product guide's words (text, number, money, date, list, e-mail,
URL, phone, address, connection...), required, read-only, maximum length and help text, the
filters and sorts of its list, its search, its 360° tab, its events and its print layout.

Everything else is derived from it, never restated: the Pydantic model that validates what
clients write (``Entity.model``), the record as read (``Entity.record_schema``), the kernel's
SQL column lists (services.common.crud), the OpenAPI fragment and the event schemas
(services.common.meta), and the public JSON (``Entity.public``) that the gateway reads from
each service at run time and serves at ``/api/v1/meta/entities``. The gateway and the web
interface never import a service's code: they learn entities from that JSON.

A field's kind chooses its default validation; a service gives ``annotation`` where its rules
are its own (a SIREN, a phone number written in E.164, quote lines).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from typing import Annotated, Any, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StrictBool,
    StrictInt,
    create_model,
)
from pydantic import Field as PydanticField

from .validation import IsoDate, IsoDatetime

Kind = Literal[
    "text",  # one line
    "long_text",  # several lines (a description, a message)
    "number",  # a whole number
    "decimal",  # a number with decimals that is not money (a quantity, a rate)
    "money",  # euros, two decimals
    "percent",  # 0 to 100
    "date",  # AAAA-MM-JJ
    "datetime",  # RFC 3339, with its time zone
    "boolean",
    "list",  # a code of a picklist (``picklist``) or of fixed ``choices``
    "email",
    "url",
    "phone",
    "address",  # street, postal code, city, country (ADDRESS_FIELDS)
    "connection",  # the id of a record of ``target`` (an entity name)
    "identifier",  # a legal identifier: SIREN, SIRET, VAT number
    "lines",  # the lines of a quote or an invoice
    "location",  # coordinates computed by the system (derived data)
    "object",  # any other structure the system writes (read-only)
]
KINDS: tuple[str, ...] = Kind.__args__  # type: ignore[attr-defined]
CRUD_EVENTS = ("created", "updated", "deleted", "restored")
# Events a record's derived data sends: they never change the record's version.
SYSTEM_COLUMNS = ("created_at", "created_by", "updated_at", "updated_by", "version")
ADDRESS_FIELDS = ("street", "postal_code", "city", "country")
LONG_TEXT_LENGTH = 10_000
MAX_MONEY = Decimal("999999999999999.99")


def blank_to_none(value: Any) -> Any:
    """An empty or all-blank string clears an optional field."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


Blank = BeforeValidator(blank_to_none)
_EMAIL_SEPARATORS = re.compile(r"[;,\s]")


def clean_email(value: str) -> str:
    """One e-mail address, normalised (the one check of every e-mail field)."""
    raw = value.strip()
    if _EMAIL_SEPARATORS.search(raw):
        if raw.count("@") > 1:
            raise ValueError("Une seule adresse e-mail est acceptée.")
        raise ValueError(
            "Adresse e-mail invalide : une adresse ne contient ni espace, ni virgule, "
            "ni point-virgule."
        )
    try:
        return validate_email(raw, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"Adresse e-mail invalide : {_email_problem(raw, str(exc))}") from exc


def _email_problem(raw: str, english: str) -> str:
    """What is wrong with an address, in French (email-validator says it in English)."""
    local, at, domain = raw.rpartition("@") if "@" in raw else ("", "", raw)
    if not at:
        return "il manque le « @ » (exemple : prenom.nom@societe.fr)."
    if not local:
        return "il manque la partie avant le « @ »."
    if not domain:
        return "il manque le nom de domaine après le « @ »."
    if "@" in local:
        return "un seul « @ » est permis."
    if "." not in domain:
        return f"le nom de domaine « {domain} » doit comporter un point (exemple : societe.fr)."
    if "too long" in english:
        return "l'adresse est trop longue."
    if "consecutive" in english or "period" in english:
        return "les points sont mal placés (ni au début, ni à la fin, ni deux de suite)."
    part = domain if "after" in english else local
    return f"« {part} » contient des caractères non permis."


def one_line(max_length: int | None, required: bool) -> Callable[[str], str | None]:
    """Spaces folded; at most ``max_length`` characters; empty refused when required."""

    def clean(value: str) -> str | None:
        cleaned = " ".join(value.split())
        if not cleaned:
            if required:
                raise ValueError("Ce champ est obligatoire.")
            return None
        if max_length is not None and len(cleaned) > max_length:
            raise ValueError(f"Ne doit pas dépasser {max_length} caractères.")
        return cleaned

    return clean


def choice_type(choices: Iterable[tuple[str, str]]) -> Any:
    """The type of a fixed list's code: one of the choices' codes."""
    return Literal[tuple(code for code, _ in choices)]


@dataclass(frozen=True)
class Field:
    """A field of an entity, in the guide's terms."""

    name: str
    label: str  # French, as the form shows it
    kind: Kind = "text"
    required: bool = False
    read_only: bool = False  # shown, written by the system only
    max_length: int | None = None
    help: str = ""  # French, shown under the input
    picklist: str | None = None  # list: the picklist its codes come from
    choices: tuple[tuple[str, str], ...] = ()  # list: fixed (code, French label) pairs
    target: str | None = None  # connection: the entity it points to
    key: str = "id"  # connection: the target's field its value holds (a user's "username")
    annotation: Any = None  # the Pydantic type that validates it, when not the kind's default
    default: Any = None
    listed: bool = False  # a column of the default list view
    printed: bool = True  # on the record's printed PDF

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"{self.name}: unknown kind {self.kind!r}")
        if self.kind == "connection" and not self.target:
            raise ValueError(f"{self.name}: a connection names its target entity")
        if self.kind == "list" and not (self.picklist or self.choices or self.annotation):
            raise ValueError(f"{self.name}: a list names its picklist or its choices")

    @property
    def length(self) -> int | None:
        """The longest value accepted: declared, or the kind's default when the kind validates."""
        if self.max_length is not None:
            return self.max_length
        if self.kind == "long_text":
            return LONG_TEXT_LENGTH
        if self.annotation is None and self.kind in ("text", "url", "phone", "identifier"):
            return 255
        return None

    @property
    def columns(self) -> tuple[str, ...]:
        """The SQL columns that keep it (an address is four)."""
        return ADDRESS_FIELDS if self.kind == "address" else (self.name,)

    def validator(self) -> Any:
        """The Pydantic type of the field, from its kind unless the service gave one."""
        if self.annotation is not None:
            return self.annotation
        required, length = self.required, self.length
        match self.kind:
            case "email":
                email = Annotated[str, AfterValidator(clean_email)]
                return email if required else Annotated[email | None, Blank]
            case "text" | "url" | "phone" | "identifier":
                base = Annotated[str, AfterValidator(one_line(length, required))]
                return base if required else Annotated[base | None, Blank]
            case "long_text":
                text = Annotated[str, PydanticField(max_length=length)]
                return text if required else Annotated[text | None, Blank]
            case "number":
                number = Annotated[StrictInt, PydanticField(ge=0, le=2_000_000_000)]
                return number if required else number | None
            case "decimal" | "money":
                money = Annotated[
                    Decimal, PydanticField(ge=0, le=MAX_MONEY, max_digits=17, decimal_places=2)
                ]
                return money if required else money | None
            case "percent":
                percent = Annotated[StrictInt, PydanticField(ge=0, le=100)]
                return percent if required else percent | None
            case "date":
                return IsoDate if required else IsoDate | None
            case "datetime":
                return IsoDatetime if required else IsoDatetime | None
            case "boolean":
                return StrictBool if required else StrictBool | None
            case "list":
                if self.choices:
                    codes = choice_type(self.choices)
                    return codes if required else Annotated[codes | None, Blank]
                code = Annotated[str, PydanticField(max_length=50)]
                return code if required else Annotated[code | None, Blank]
            case "connection":
                return uuid.UUID if required else Annotated[uuid.UUID | None, Blank]
        raise ValueError(f"{self.name}: a {self.kind} field needs its annotation")

    def public(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "name": self.name,
            "label": self.label,
            "kind": self.kind,
            "required": self.required,
            "read_only": self.read_only,
            "max_length": self.length,
            "help": self.help,
            "listed": self.listed,
            "printed": self.printed,
        }
        if self.kind == "list":
            doc["picklist"] = self.picklist
            doc["choices"] = [{"code": c, "label": label} for c, label in self.choices]
        if self.kind == "connection":
            doc["target"] = self.target
            doc["key"] = self.key
        if self.kind == "address":
            doc["parts"] = list(ADDRESS_FIELDS)
        return doc


@dataclass(frozen=True)
class Filter:
    """A filter of the list: ``?name=value``."""

    name: str
    label: str
    kind: Kind = "text"
    help: str = ""
    target: str | None = None  # a connection filter: the entity its id names
    picklist: str | None = None

    def public(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "kind": self.kind,
            "help": self.help,
            "target": self.target,
            "picklist": self.picklist,
        }


@dataclass(frozen=True)
class Tab:
    """The entity's tab on the 360° view of an account."""

    label: str  # "Contacts"
    link: str  # the field that names the account: "account_id"
    order: int  # position among the tabs
    sort: str = "-created_at"  # newest first

    def public(self) -> dict[str, Any]:
        return {"label": self.label, "link": self.link, "order": self.order, "sort": self.sort}


@dataclass(frozen=True)
class PrintLayout:
    """What Imprimer puts on the page: the heading, the fields (all printed ones unless told)
    and the related collections shown as tabs, each with the field that points back here."""

    heading: str
    sections: tuple[tuple[str, str], ...] = ()  # (collection, link field on it)

    def public(self, fields: Iterable[Field]) -> dict[str, Any]:
        return {
            "heading": self.heading,
            "fields": [{"name": f.name, "label": f.label} for f in fields if f.printed],
            "sections": [{"collection": c, "link": link} for c, link in self.sections],
        }


@dataclass(frozen=True)
class Lock:
    """When a saved record may no longer change nor go to the trash: once ``field`` holds a
    value outside ``editable`` (a quote sent, an invoice issued). ``reason`` says why, in
    French: the kernel refuses with it (409) and the web interface shows the record read-only
    with it."""

    field: str
    editable: tuple[str, ...]
    reason: str

    def public(self) -> dict[str, Any]:
        return {"field": self.field, "editable": list(self.editable), "reason": self.reason}


@dataclass(frozen=True)
class Entity:
    """An entity as its service declares it."""

    name: str  # event entity: "account"
    collection: str  # URL: "accounts"
    label: str  # French, singular: "Compte"
    plural: str  # French, plural: "Comptes"
    fields: tuple[Field, ...]
    title_field: str = "name"  # the field that names a record in links and pickers
    sorts: tuple[str, ...] = ("created_at", "updated_at")
    default_sort: str = "-created_at"
    filters: tuple[Filter, ...] = ()
    search: str | None = None  # French: what ``?q=`` searches, when the list has a search
    tab: Tab | None = None
    events: tuple[str, ...] = CRUD_EVENTS
    derived_events: tuple[str, ...] = ()  # system changes that keep the version: "located"
    printing: PrintLayout | None = None
    rules: type[BaseModel] | None = None  # a base model with the rules between fields
    audited: bool = True
    lock: Lock | None = None  # when a saved record no longer changes
    feminine: bool = False  # the label's gender: "Nouvelle affaire", "Nouveau compte"

    def __post_init__(self) -> None:
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: a field is declared twice")
        if self.title_field not in names:
            raise ValueError(f"{self.name}: title field {self.title_field!r} is not a field")
        if self.default_sort.lstrip("-") not in self.sorts:
            raise ValueError(f"{self.name}: default sort {self.default_sort!r} is not a sort")
        if self.tab is not None and self.tab.link not in names:
            raise ValueError(f"{self.name}: tab link {self.tab.link!r} is not a field")
        if self.lock is not None and self.lock.field not in names:
            raise ValueError(f"{self.name}: lock field {self.lock.field!r} is not a field")

    def field(self, name: str) -> Field:
        for candidate in self.fields:
            if candidate.name == name:
                return candidate
        raise KeyError(name)

    @cached_property
    def writable(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if not f.read_only)

    @cached_property
    def read_only(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.read_only)

    @cached_property
    def connections(self) -> dict[str, str]:
        """Field name -> target entity, for every connection by id a client writes."""
        return {
            f.name: f.target
            for f in self.writable
            if f.kind == "connection" and f.target and f.key == "id"
        }

    @cached_property
    def model(self) -> type[BaseModel]:
        """Every field a client writes, validated; also validates a merged PATCH."""
        definitions: dict[str, Any] = {}
        for item in self.writable:
            kind_default = ... if item.required else item.default
            definitions[item.name] = (item.validator(), kind_default)
        base = self.rules or BaseModel
        model: type[BaseModel] = create_model(
            f"{_camel(self.name)}Fields",
            __base__=base,
            __doc__=f"Every field a client may write on {self.name} records.",
            **definitions,
        )
        model.model_config = ConfigDict({**base.model_config, "extra": "forbid"})
        model.model_rebuild(force=True)
        return model

    def public(self, service: str) -> dict[str, Any]:
        """The declaration as JSON, for the gateway, the web interface and integrators."""
        return {
            "name": self.name,
            "collection": self.collection,
            "service": service,
            "label": self.label,
            "plural": self.plural,
            "feminine": self.feminine,
            "title_field": self.title_field,
            "fields": [f.public() for f in self.fields],
            "sorts": list(self.sorts),
            "default_sort": self.default_sort,
            "filters": [f.public() for f in self.filters],
            "search": self.search,
            "tab": None if self.tab is None else self.tab.public(),
            "events": list(self.events),
            "derived_events": list(self.derived_events),
            "printing": None if self.printing is None else self.printing.public(self.fields),
            "audited": self.audited,
            "lock": None if self.lock is None else self.lock.public(),
            "path": f"/api/v1/{self.collection}",
        }


def _camel(name: str) -> str:
    return "".join(part.title() for part in name.split("_"))


def json_type(kind: str) -> type[Any]:
    """The Python type of a kind's value as read (for the record's schema)."""
    return {
        "number": int,
        "percent": int,
        "decimal": str,
        "money": str,
        "date": date,
        "datetime": datetime,
        "boolean": bool,
        "connection": uuid.UUID,
    }.get(kind, str)

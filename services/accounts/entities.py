"""The entities of the accounts service, declared once: accounts and their contacts.

The models that validate what clients write (``ACCOUNT.model``, ``CONTACT.model``), the kernel's
SQL columns, the OpenAPI fragment, the event schemas and the public declaration are derived from
these. The annotations below carry the rules of accounts where they are their own (a SIREN, a
phone number written in E.164, a name's French message), so validation answers as it always did.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, StrictInt
from pydantic import Field as PydanticField

from services.common.entities import Blank, Entity, Field, Filter, PrintLayout, Tab

from . import domain


def _opt(clean: Callable[[str], str | None]) -> Any:
    """Apply ``clean`` to a value that may be absent (None)."""
    return AfterValidator(lambda value: None if value is None else clean(value))


def _text(max_length: int) -> Any:
    return _opt(lambda value: domain.clean_text(value, max_length))


Name = Annotated[str, AfterValidator(domain.clean_name)]
LastName = Annotated[str, AfterValidator(lambda v: domain.clean_name(v, "Le nom"))]
Website = Annotated[str | None, Blank, _opt(domain.clean_website)]
Phone = Annotated[
    Annotated[str, PydanticField(max_length=40)] | None, Blank, _opt(domain.clean_phone)
]
Siren = Annotated[
    Annotated[str, PydanticField(max_length=20)] | None, Blank, _opt(domain.clean_siren)
]
Siret = Annotated[
    Annotated[str, PydanticField(max_length=30)] | None, Blank, _opt(domain.clean_siret)
]
Vat = Annotated[
    Annotated[str, PydanticField(max_length=30)] | None, Blank, _opt(domain.clean_vat_number)
]
Country = Annotated[
    str,
    BeforeValidator(lambda v: domain.DEFAULT_COUNTRY if v is None else v),
    AfterValidator(domain.clean_country),
]
Username = Annotated[Annotated[str, PydanticField(max_length=150)] | None, Blank]
# A connection written as null or an id (a blank string is refused, as it always was).
AccountId = uuid.UUID | None
Employees = Annotated[StrictInt | None, PydanticField(ge=0, le=100_000_000)]
Revenue = Annotated[
    Decimal | None,
    PydanticField(ge=0, le=domain.MAX_REVENUE, max_digits=17, decimal_places=2),
]


# An address as clients write and read it (kept as four columns of the account).
class Address(BaseModel):
    model_config = ConfigDict(extra="forbid")

    street: Annotated[str | None, Blank, _text(500)] = None
    postal_code: Annotated[str | None, Blank, _text(20)] = None
    city: Annotated[str | None, Blank, _text(100)] = None
    country: Country = domain.DEFAULT_COUNTRY

    @property
    def is_empty(self) -> bool:
        return not (self.street or self.postal_code or self.city)


# Where the geocoder placed an account's address (derived data, read-only).
class Location(BaseModel):
    lat: float
    lon: float
    precision: str  # address, street, locality, city, region
    source: str  # the geocoder that found it


# An absent or null address is an empty one (in France).
AddressField = Annotated[Address, BeforeValidator(lambda v: {} if v is None else v)]

ACCOUNT = Entity(
    name=domain.ENTITY,
    collection="accounts",
    label="Compte",
    plural="Comptes",
    fields=(
        Field(
            "name", "Raison sociale", required=True, max_length=255, annotation=Name, listed=True
        ),
        Field("account_type", "Type de compte", kind="list", picklist="account_type", listed=True),
        Field("industry", "Secteur d'activité", kind="list", picklist="industry", listed=True),
        Field(
            "phone",
            "Téléphone",
            kind="phone",
            max_length=40,
            annotation=Phone,
            listed=True,
            help="Numéro français ou international (+32…) ; enregistré au format E.164.",
        ),
        Field("email", "E-mail", kind="email", help="Une seule adresse e-mail."),
        Field(
            "website",
            "Site web",
            kind="url",
            max_length=2048,
            annotation=Website,
            help="Adresse http:// ou https://.",
        ),
        Field(
            "address",
            "Adresse",
            kind="address",
            annotation=AddressField,
            default=Address(),
            help="Pays : code ISO à deux lettres (FR par défaut).",
        ),
        Field(
            "siren", "SIREN", kind="identifier", max_length=20, annotation=Siren, help="9 chiffres."
        ),
        Field(
            "siret",
            "SIRET",
            kind="identifier",
            max_length=30,
            annotation=Siret,
            help="14 chiffres, commençant par le SIREN.",
        ),
        Field(
            "vat_number",
            "TVA intracommunautaire",
            kind="identifier",
            max_length=30,
            annotation=Vat,
            help="Préfixe pays suivi du numéro (ex. FR40303265045).",
        ),
        Field(
            "parent_account_id",
            "Compte parent",
            kind="connection",
            target="account",
            annotation=AccountId,
            printed=False,
        ),
        Field(
            "owner",
            "Responsable",
            kind="connection",
            target="user",
            key="username",
            max_length=150,
            annotation=Username,
            listed=True,
            help="Utilisateur responsable du compte, par son identifiant (vous par défaut).",
        ),
        Field("employees", "Effectif", kind="number", annotation=Employees),
        Field("annual_revenue", "Chiffre d'affaires", kind="money", annotation=Revenue),
        Field("description", "Description", kind="long_text", max_length=10_000),
        Field(
            "location",
            "Localisation",
            kind="location",
            read_only=True,
            annotation=Location,
            printed=False,
            help="Calculée à partir de l'adresse.",
        ),
    ),
    sorts=(
        "name",
        "city",
        "postal_code",
        "account_type",
        "industry",
        "owner",
        "employees",
        "annual_revenue",
        "created_at",
        "updated_at",
    ),
    default_sort="name",
    filters=(
        Filter("account_type", "Type de compte", kind="list", picklist="account_type"),
        Filter("industry", "Secteur d'activité", kind="list", picklist="industry"),
        Filter("owner", "Responsable"),
        Filter("city", "Ville"),
        Filter("postal_code", "Code postal", help="Début du code postal (chiffres)."),
        Filter(
            "updated_since",
            "Modifiés depuis",
            kind="datetime",
            help="Date et heure RFC 3339 ; la liste suit alors l'ordre des modifications.",
        ),
        Filter("parent_account_id", "Compte parent", kind="connection", target="account"),
        Filter("phone", "Téléphone", kind="phone"),
        Filter("trashed", "Corbeille", kind="boolean", help="true : les comptes de la corbeille."),
    ),
    search="Raison sociale, ville, SIREN ou SIRET (un mot court : début de la raison sociale)",
    derived_events=("located",),
    printing=PrintLayout(
        heading="Compte",
        sections=(
            ("contacts", "account_id"),
            ("actions", "account_id"),
            ("opportunities", "account_id"),
            ("projects", "account_id"),
            ("quotes", "account_id"),
            ("invoices", "account_id"),
        ),
    ),
)

CONTACT = Entity(
    name=domain.CONTACT_ENTITY,
    collection="contacts",
    label="Contact",
    plural="Contacts",
    fields=(
        Field("civility", "Civilité", kind="list", picklist="civility"),
        Field("first_name", "Prénom", max_length=100, listed=True),
        Field("last_name", "Nom", required=True, max_length=255, annotation=LastName, listed=True),
        Field("job_title", "Fonction", max_length=255, listed=True),
        Field(
            "email",
            "E-mail",
            kind="email",
            listed=True,
            help="Une seule adresse e-mail.",
        ),
        Field("phone", "Téléphone", kind="phone", max_length=40, annotation=Phone, listed=True),
        Field("mobile", "Mobile", kind="phone", max_length=40, annotation=Phone),
        Field(
            "account_id",
            "Compte",
            kind="connection",
            target="account",
            annotation=AccountId,
            printed=False,
        ),
        Field("description", "Description", kind="long_text", max_length=10_000),
    ),
    title_field="last_name",
    sorts=("name", "created_at", "updated_at"),
    default_sort="name",
    filters=(
        Filter("account_id", "Compte", kind="connection", target="account"),
        Filter("phone", "Téléphone ou mobile", kind="phone"),
    ),
    search="Début du nom",
    tab=Tab("Contacts", "account_id", order=1),
    printing=PrintLayout(heading="Contact", sections=(("actions", "contact_id"),)),
)

ENTITIES = (ACCOUNT, CONTACT)
# Other entities whose events this service publishes (deploy/provision.py: who may publish what).
PUBLISHED = ("picklist_value",)

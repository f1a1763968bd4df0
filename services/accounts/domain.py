"""Pure rules of accounts and contacts: French identifiers, phones, e-mails, URLs, addresses.

No I/O. Each ``clean_*`` returns the normalised value or raises ``ValueError`` with a message
a user can act on (in French).
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from urllib.parse import urlsplit, urlunsplit

import phonenumbers
import pycountry

NAME_MAX_LENGTH = 255
ENTITY = "account"
CONTACT_ENTITY = "contact"
DEFAULT_COUNTRY = "FR"
COPY_SUFFIX = " (copie)"
MAX_REVENUE = Decimal("999999999999999.99")

_SPACES = re.compile(r"[\s.\-]")
# EU VAT number shapes (after the two-letter prefix); FR is also checked with its key.
_VAT_SHAPES = {
    "AT": r"U\d{8}",
    "BE": r"[01]\d{9}",
    "BG": r"\d{9,10}",
    "CY": r"\d{8}[A-Z]",
    "CZ": r"\d{8,10}",
    "DE": r"\d{9}",
    "DK": r"\d{8}",
    "EE": r"\d{9}",
    "EL": r"\d{9}",
    "ES": r"[A-Z0-9]\d{7}[A-Z0-9]",
    "FI": r"\d{8}",
    "FR": r"[A-HJ-NP-Z0-9]{2}\d{9}",
    "HR": r"\d{11}",
    "HU": r"\d{8}",
    "IE": r"\d{7}[A-W][A-I]?|\d[A-Z+*]\d{5}[A-W]",
    "IT": r"\d{11}",
    "LT": r"\d{9}|\d{12}",
    "LU": r"\d{8}",
    "LV": r"\d{11}",
    "MT": r"\d{8}",
    "NL": r"\d{9}B\d{2}",
    "PL": r"\d{10}",
    "PT": r"\d{9}",
    "RO": r"\d{2,10}",
    "SE": r"\d{12}",
    "SI": r"\d{8}",
    "SK": r"\d{10}",
    "XI": r"\d{9}|\d{12}|GD\d{3}|HA\d{3}",
    "CH": r"E\d{9}(MWST|TVA|IVA)?",
    "GB": r"\d{9}|\d{12}|GD\d{3}|HA\d{3}",
    "NO": r"\d{9}(MVA)?",
}
_LA_POSTE_SIREN = "356000000"  # its SIRETs follow another key rule (digit sum multiple of 5)


def clean_name(value: str, label: str = "La raison sociale") -> str:
    """A required name: trimmed, inner runs of whitespace collapsed, never blank."""
    cleaned = " ".join(value.split())
    if not cleaned:
        raise ValueError(f"{label} est obligatoire.")
    if len(cleaned) > NAME_MAX_LENGTH:
        raise ValueError(f"Ne doit pas dépasser {NAME_MAX_LENGTH} caractères.")
    return cleaned


def clean_text(value: str, max_length: int) -> str | None:
    cleaned = " ".join(value.split())
    if len(cleaned) > max_length:
        raise ValueError(f"Ne doit pas dépasser {max_length} caractères.")
    return cleaned or None


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _digits(value: str, length: int, what: str) -> str:
    cleaned = _SPACES.sub("", value)
    if not cleaned.isascii() or not cleaned.isdigit() or len(cleaned) != length:
        raise ValueError(f"Un {what} compte exactement {length} chiffres.")
    return cleaned


def clean_siren(value: str) -> str:
    siren = _digits(value, 9, "SIREN")
    if not luhn_valid(siren):
        raise ValueError("Ce SIREN n'est pas valide (clé de contrôle incorrecte).")
    return siren


def clean_siret(value: str) -> str:
    siret = _digits(value, 14, "SIRET")
    if siret.startswith(_LA_POSTE_SIREN) and siret != _LA_POSTE_SIREN + "00012":
        valid = sum(int(c) for c in siret) % 5 == 0
    else:
        valid = luhn_valid(siret)
    if not valid:
        raise ValueError("Ce SIRET n'est pas valide (clé de contrôle incorrecte).")
    return siret


def french_vat_key(siren: str) -> str:
    return f"{(12 + 3 * (int(siren) % 97)) % 97:02d}"


def clean_vat_number(value: str) -> str:
    vat = _SPACES.sub("", value).upper()
    country, rest = vat[:2], vat[2:]
    shape = _VAT_SHAPES.get(country)
    if shape is None or not re.fullmatch(shape, rest):
        raise ValueError(
            "Numéro de TVA intracommunautaire invalide : attendu un préfixe pays suivi du "
            "numéro (ex. FR40303265045)."
        )
    if country == "FR" and rest[:2].isdigit():
        siren = rest[2:]
        if not luhn_valid(siren) or rest[:2] != french_vat_key(siren):
            raise ValueError("Ce numéro de TVA français n'est pas valide (clé incorrecte).")
    return vat


def clean_website(value: str) -> str:
    raw = value.strip()
    if len(raw) > 2048 or any(c.isspace() for c in raw):
        raise ValueError("Adresse web invalide.")
    parts = urlsplit(raw)
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError("Seules les adresses web http:// ou https:// sont acceptées.")
    host = parts.hostname or ""
    if not host or ("." not in host and host != "localhost") or parts.username is not None:
        raise ValueError("Adresse web invalide : le nom de domaine manque.")
    try:
        _ = parts.port
    except ValueError as exc:
        raise ValueError("Adresse web invalide : port incorrect.") from exc
    return urlunsplit(
        (parts.scheme.lower(), parts.netloc.lower(), parts.path, parts.query, parts.fragment)
    )


def clean_phone(value: str, region: str = DEFAULT_COUNTRY) -> str:
    """A phone number in E.164; national numbers are read in ``region`` (France by default)."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError("Numéro de téléphone illisible.") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError("Numéro de téléphone invalide.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def clean_country(value: str) -> str:
    code = value.strip().upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise ValueError("Code pays ISO 3166 à deux lettres attendu (ex. FR, BE, CH).")
    return code


def french_department(postal_code: str) -> str:
    """The département of a French postal code (2A/2B for Corsica, 97x overseas), written with
    or without spaces ("20 090")."""
    postal_code = postal_code.replace(" ", "")
    if postal_code.startswith("20"):
        return "2A" if int(postal_code) < 20200 else "2B"
    if postal_code[:2] in ("97", "98"):
        return postal_code[:3]
    return postal_code[:2]


def check_french_postal_code(value: str) -> str:
    code = value.replace(" ", "")
    if not (code.isascii() and code.isdigit() and len(code) == 5):
        raise ValueError("Un code postal français compte 5 chiffres.")
    prefix, third = code[:2], code[2]
    if (
        prefix in ("00", "96", "99")
        or (prefix == "97" and third not in "12345678")
        or (prefix == "98" and third not in "678")
    ):
        raise ValueError("Ce code postal ne correspond à aucun département français.")
    return code


def copy_name(name: str) -> str:
    """The name of a duplicate: `` (copie)`` appended, the original shortened to fit."""
    return name[: NAME_MAX_LENGTH - len(COPY_SUFFIX)].rstrip() + COPY_SUFFIX


def account_consistency(
    siren: str | None,
    siret: str | None,
    vat_number: str | None,
    country: str,
    postal_code: str | None,
) -> list[tuple[str, str]]:
    """Rules between fields: (field, message) for each one broken."""
    problems: list[tuple[str, str]] = []
    if siren and siret and siret[:9] != siren:
        problems.append(("siret", "Les 9 premiers chiffres du SIRET doivent être le SIREN."))
    own_siren = siren or (siret[:9] if siret else None)
    if own_siren and vat_number and vat_number.startswith("FR") and vat_number[4:] != own_siren:
        problems.append(("vat_number", "Ce numéro de TVA ne correspond pas au SIREN du compte."))
    if country == DEFAULT_COUNTRY and postal_code:
        try:
            check_french_postal_code(postal_code)
        except ValueError as exc:
            problems.append(("address.postal_code", str(exc)))
    return problems


def fold(text: str) -> str:
    """Lower case without accents, as the database's crm_fold() (for search and filters)."""
    decomposed = unicodedata.normalize("NFKD", text.strip().lower())
    folded = "".join(c for c in decomposed if not unicodedata.combining(c))
    return folded.replace("œ", "oe").replace("æ", "ae").replace("ß", "ss")


def like_escape(text: str) -> str:
    """A user's text taken literally inside a LIKE pattern."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

"""ClickToCall and the telephony callbacks: a click places a call through the telephony
server; its hangup becomes a `call` action on the right account and contact."""

from __future__ import annotations

import logging
import math
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import phonenumbers

from services.common.errors import (
    FieldError,
    NotFound,
    ProblemError,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
    ValidationFailed,
)
from services.common.identity import Identity
from services.common.records import parse_record_id

from . import repository as sql
from .proxy import Upstreams
from .schemas import CallRequest, TelephonyEvent
from .settings import GatewaySettings
from .telephony import Telephony, TelephonyRefused, TelephonyUnavailable, timestamp_fresh

log = logging.getLogger(__name__)
TELEPHONY_ACTOR = Identity("00000000-0000-0000-0000-000000000000", "telephonie", "user")


class BadGateway(ProblemError):
    status, title, type_suffix = (
        502,
        "Le serveur de téléphonie a refusé l'appel",
        "telephony-refused",
    )


# Calls a user placed in the last minute, counted under a lock of that user's own (the
# transaction's advisory lock) so that two gateway copies cannot both take the last place.
LOCK_USER_CALLS = "SELECT pg_advisory_xact_lock(hashtextextended('calls:' || $1::text, 0))"
RECENT_CALLS = """
SELECT count(*) AS placed, extract(epoch FROM min(placed_at) + interval '1 minute' - now()) AS wait
FROM calls WHERE user_id = $1 AND placed_at > now() - interval '1 minute'
"""
FORGET_CALL = "DELETE FROM calls WHERE call_id = $1"


def dialable(number: str, allowed: str) -> bool:
    """Whether ClickToCall may dial ``number`` (E.164) under the ``allowed`` pattern."""
    return re.fullmatch(allowed, number) is not None


def e164(number: str) -> str | None:
    """A dialable number in E.164 (French numbers without a country code), or None."""
    try:
        parsed = phonenumbers.parse(number, "FR")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


async def place_call(
    pool: asyncpg.Pool,
    upstreams: Upstreams,
    settings: GatewaySettings,
    telephony: Telephony | None,
    identity: Identity,
    account_id: str,
    request: CallRequest,
) -> dict[str, Any]:
    account_id = str(parse_record_id(account_id, "fiche compte"))
    status, account = await upstreams.call_json(
        "GET", settings.accounts_url, f"/api/v1/accounts/{account_id}", identity, "accounts"
    )
    if status == 404:
        raise NotFound("Aucun compte ne porte cet identifiant.")
    contact = None
    errors: list[FieldError] = []
    if request.contact_id is not None:
        status, contact = await upstreams.call_json(
            "GET",
            settings.accounts_url,
            f"/api/v1/contacts/{request.contact_id}",
            identity,
            "accounts",
        )
        if status != 200 or contact.get("account_id") != account["id"]:
            errors.append(
                FieldError("contact_id", "Aucun contact de ce compte ne porte cet identifiant.")
            )
            contact = None
    if request.number is not None:
        number = e164(request.number)
        if number is None:
            errors.append(FieldError("number", "Numéro de téléphone invalide."))
    else:
        candidates = [contact.get("phone"), contact.get("mobile")] if contact else []
        found = next((n for n in [*candidates, account.get("phone")] if n), None)
        number = found and (e164(found) or found)
        if number is None and "contact_id" not in {e.field for e in errors}:
            errors.append(
                FieldError("number", "Ni le contact ni le compte n'ont de numéro : indiquez-en un.")
            )
    if number is not None and not dialable(number, settings.call_allowed_numbers):
        errors.append(
            FieldError(
                "number",
                f"Le numéro {number} ne peut pas être appelé d'ici (numéros surtaxés, courts "
                "ou étrangers exclus).",
            )
        )
    extension = await pool.fetchval(sql.SELECT_EXTENSION, uuid.UUID(identity.user_id))
    if not extension:
        errors.append(
            FieldError("phone_extension", "Renseignez votre poste téléphonique dans votre profil.")
        )
    if errors:
        raise ValidationFailed(errors)
    assert number is not None
    if telephony is None:
        raise ServiceUnavailable("Aucun serveur de téléphonie n'est configuré.", retry_after=60)
    call_id = str(uuid.uuid4())
    user_id = uuid.UUID(identity.user_id)
    async with pool.acquire() as conn, conn.transaction():  # the call takes its place, or 429
        await conn.execute(LOCK_USER_CALLS, str(user_id))
        recent = await conn.fetchrow(RECENT_CALLS, user_id)
        if recent["placed"] >= settings.call_max_per_minute:
            wait = max(1, math.ceil(recent["wait"] or 1))
            raise TooManyRequests(
                f"Au plus {settings.call_max_per_minute} appels par minute : "
                f"réessayez dans {wait} s.",
                retry_after=wait,
            )
        await conn.execute(
            sql.INSERT_CALL, call_id, user_id, identity.username,
            uuid.UUID(str(account["id"])), contact and uuid.UUID(str(contact["id"])), number,
            extension, telephony.name,
        )  # fmt: skip
    try:
        await telephony.place_call(call_id, extension, number)
    except TelephonyUnavailable as exc:
        log.warning("telephony %s unreachable: %s", telephony.name, exc)
        await pool.execute(FORGET_CALL, call_id)
        raise ServiceUnavailable("Le serveur de téléphonie est injoignable ; réessayez.") from exc
    except TelephonyRefused as exc:
        log.warning("telephony %s refused call %s: %s", telephony.name, call_id, exc)
        await pool.execute(FORGET_CALL, call_id)
        raise BadGateway("Le serveur de téléphonie a refusé de passer l'appel.") from exc
    return {"call_id": call_id, "status": "requested", "to": number, "from": extension}


async def _match_number(
    upstreams: Upstreams, settings: GatewaySettings, number: str
) -> tuple[str | None, str | None]:
    """(account id, contact id) of a number: a contact's phone or mobile, then an account's."""
    _, contacts = await upstreams.call_json(
        "GET", settings.accounts_url, "/api/v1/contacts", TELEPHONY_ACTOR, "accounts",
        params={"phone": number, "limit": "1"},
    )  # fmt: skip
    if contacts.get("items"):
        contact = contacts["items"][0]
        return contact.get("account_id"), contact["id"]
    _, accounts = await upstreams.call_json(
        "GET", settings.accounts_url, "/api/v1/accounts", TELEPHONY_ACTOR, "accounts",
        params={"phone": number, "limit": "1"},
    )  # fmt: skip
    if accounts.get("items"):
        return accounts["items"][0]["id"], None
    return None, None


async def handle_event(
    pool: asyncpg.Pool, upstreams: Upstreams, settings: GatewaySettings, event: TelephonyEvent
) -> dict[str, Any]:
    if not timestamp_fresh(event.timestamp, datetime.now(UTC)):
        raise Unauthorized("Horodatage trop éloigné : rappel refusé.")
    outbound = event.direction == "outbound"
    if outbound:  # a call placed here: its progress, for the user who placed it
        await pool.execute(
            sql.CALL_PROGRESS, event.call_id, event.event, event.timestamp, event.duration_seconds
        )
    if event.event != "hangup":
        return {"status": "noted"}
    number = e164(event.to if outbound else event.from_) or (event.to if outbound else event.from_)
    placed = await pool.fetchrow(sql.SELECT_CALL, event.call_id) if outbound else None
    account_id: str | None
    if placed is not None:
        account_id = str(placed["account_id"])
        contact_id = str(placed["contact_id"]) if placed["contact_id"] else None
        actor = Identity(str(placed["user_id"]), placed["username"], "user")
    else:
        account_id, contact_id = await _match_number(upstreams, settings, number)
        actor = TELEPHONY_ACTOR
    if account_id is None and contact_id is None:
        return {"status": "unmatched"}
    started = event.timestamp - timedelta(seconds=event.duration_seconds)
    body = {
        "direction": "out" if outbound else "in",
        "account_id": account_id,
        "contact_id": contact_id,
        "number": number,
        "occurred_at": started.isoformat(),
        "duration_seconds": event.duration_seconds,
    }
    status, action = await upstreams.call_json(
        "PUT", settings.activities_url, f"/api/v1/calls/{event.call_id}/action", actor,
        "activities", body=body,
    )  # fmt: skip
    if status not in (200, 201):
        log.warning("call %s not recorded: activities answered %s", event.call_id, status)
        raise ServiceUnavailable("L'appel n'a pas pu être enregistré ; renvoyez l'événement.")
    return {"status": "recorded", "action_id": action["id"]}


async def call_progress(pool: asyncpg.Pool, identity: Identity, call_id: str) -> dict[str, Any]:
    """A call placed with ClickToCall, as far as the telephony server's callbacks told: for the
    user who placed it and for admins (anyone else: 404, as for a call that does not exist)."""
    row = await pool.fetchrow(sql.SELECT_CALL_PROGRESS, call_id) if len(call_id) <= 200 else None
    if row is None or (identity.role != "admin" and str(row["user_id"]) != identity.user_id):
        raise NotFound("Aucun appel de votre part ne porte cet identifiant.")

    def moment(value: datetime | None) -> str | None:
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None

    return {
        "call_id": row["call_id"],
        "status": row["status"],
        "to": row["number"],
        "from": row["extension"],
        "account_id": str(row["account_id"]),
        "contact_id": str(row["contact_id"]) if row["contact_id"] else None,
        "placed_by": row["username"],
        "placed_at": moment(row["placed_at"]),
        "ringing_at": moment(row["ringing_at"]),
        "answered_at": moment(row["answered_at"]),
        "ended_at": moment(row["ended_at"]),
        "duration_seconds": row["duration_seconds"],
    }

"""Finding an account's location from its address, after the write: derived data, kept beside
the record (never its version), located from the account's row whenever it no longer matches the
address (see ``relocate``, called for the account's events and by a periodic sweep).

Providers are chosen by configuration (``CRM_GEOCODER``, a comma-separated chain tried in order):
``offline`` (the default: city-level coordinates from the installed gazetteer, no network),
``ban`` (the French national address base, api-adresse.data.gouv.fr) and ``nominatim``
(OpenStreetMap). Every location records its precision and its source.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol

import aiohttp
import asyncpg

from services.common.entities import ADDRESS_FIELDS
from services.common.errors import Conflict, FieldError, ValidationFailed
from services.common.events import CloudEvent, diff, make_event
from services.common.outbox import enqueue
from services.common.supervisor import SupervisedTask

from . import domain
from .geodata.places import OVERSEAS, REGION_OF_DEPARTMENT, gazetteer

log = logging.getLogger(__name__)
GEOCODER_ACTOR = "geocodeur"
# The event of a location found (or not) for the current address: routing key account.located,
# type crm.account.located.v1, at the record's version (derived data does not change it).
LOCATED = "located"
# Marks the event as the system's computation about the record's current version (the audit
# trail chains it after that version's entry).
DERIVED_CONTEXT = {"derived": "location"}

# The derived location's columns, beside the record's (migrations 0002 and 0005): the coordinates,
# where they come from, the outcome, the address they were computed for and since when the
# current address has waited for them. None of them is a client's to write, and writing them
# never changes the account's version.
LOCATION_COLUMNS = (
    "lat", "lon", "location_precision", "location_source", "location_status",
    "located_address", "location_requested_at",
)  # fmt: skip


def address_of(values: Mapping[str, Any], old: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The address columns of ``values`` (flat, or nested under "address"), ``old``'s where
    ``values`` has none."""
    nested = values.get("address")
    source = nested if isinstance(nested, Mapping) else values
    fallback: Mapping[str, Any] = {} if old is None else address_of(old)
    return {f: source[f] if f in source else fallback.get(f) for f in ADDRESS_FIELDS}


def location_of(row: Mapping[str, Any]) -> dict[str, Any] | None:
    """The "location" of the API record: the coordinates once found, else None."""
    if row["location_status"] != "found":
        return None
    return {
        "lat": row["lat"],
        "lon": row["lon"],
        "precision": row["location_precision"],
        "source": row["location_source"],
    }


def after_address_change(
    values: Mapping[str, Any], old: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The location columns a write sets: none when the address stays as it was (``old`` is the
    row before the write, None for a creation); else the coordinates cleared and the address
    waiting for the geocoder ("pending"), or nothing to locate ("none") when it is empty."""
    address = address_of(values, old)
    if old is not None and address == address_of(old):
        return {}
    waiting = has_address(address)
    return {
        "lat": None,
        "lon": None,
        "location_precision": None,
        "location_source": None,
        "location_status": "pending" if waiting else "none",
        "located_address": None,
        "location_requested_at": datetime.now(UTC) if waiting else None,
    }


@dataclass(frozen=True)
class Location:
    lat: float
    lon: float
    precision: str  # address, street, locality, city, region
    source: str


class Geocoder(Protocol):
    name: str

    async def locate(self, address: Mapping[str, Any]) -> Location | None: ...


class OfflineGeocoder:
    """City-level coordinates from the installed gazetteer; a region's centre at worst."""

    name = "offline"

    async def locate(self, address: Mapping[str, Any]) -> Location | None:
        country = address.get("country") or domain.DEFAULT_COUNTRY
        city, postal_code = address.get("city"), address.get("postal_code")
        places = gazetteer()
        region = None
        if country == "FR" and postal_code:
            department = domain.french_department(postal_code)
            country = OVERSEAS.get(department, country)
            region = REGION_OF_DEPARTMENT.get(department)
        candidates = places.lookup(country, city) if city else []
        if region is not None:
            in_region = [p for p in candidates if p.region == region]
            candidates = in_region
        if candidates:
            best = max(candidates, key=lambda p: p.population)
            return Location(best.lat, best.lon, "city", self.name)
        if region is not None and (country, region) in places.region_centres:
            lat, lon = places.region_centres[(country, region)]
            return Location(round(lat, 5), round(lon, 5), "region", self.name)
        return None


class BanGeocoder:
    """The Base Adresse Nationale (France only)."""

    name = "ban"
    PRECISIONS: ClassVar[dict[str, str]] = {
        "housenumber": "address",
        "street": "street",
        "locality": "locality",
        "municipality": "city",
    }

    def __init__(self, session: aiohttp.ClientSession, base_url: str, timeout: float) -> None:
        self._session, self._base_url = session, base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def locate(self, address: Mapping[str, Any]) -> Location | None:
        if (address.get("country") or "FR") != "FR":
            return None
        text = " ".join(
            str(address[f]) for f in ("street", "postal_code", "city") if address.get(f)
        )
        params = {"q": text[:200], "limit": "1"}
        if address.get("postal_code"):
            params["postcode"] = str(address["postal_code"])
        async with self._session.get(
            f"{self._base_url}/search/", params=params, timeout=self._timeout
        ) as response:
            response.raise_for_status()
            body = await response.json()
        features = body.get("features") or []
        if not features:
            return None
        lon, lat = features[0]["geometry"]["coordinates"]
        kind = features[0].get("properties", {}).get("type", "")
        return Location(float(lat), float(lon), self.PRECISIONS.get(kind, "city"), self.name)


class NominatimGeocoder:
    """OpenStreetMap's Nominatim (any country); mind its usage policy on the public server."""

    name = "nominatim"
    PRECISIONS: ClassVar[dict[str, str]] = {
        "house": "address",
        "building": "address",
        "road": "street",
        "suburb": "locality",
    }

    def __init__(self, session: aiohttp.ClientSession, base_url: str, timeout: float) -> None:
        self._session, self._base_url = session, base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def locate(self, address: Mapping[str, Any]) -> Location | None:
        params = {"format": "jsonv2", "limit": "1"}
        for field, param in (("street", "street"), ("city", "city"), ("postal_code", "postalcode")):
            if address.get(field):
                params[param] = str(address[field])
        params["countrycodes"] = str(address.get("country") or "FR").lower()
        headers = {"User-Agent": "webleads-tracker/0.1 (CRM geocoder)"}
        async with self._session.get(
            f"{self._base_url}/search", params=params, headers=headers, timeout=self._timeout
        ) as response:
            response.raise_for_status()
            results = await response.json()
        if not results:
            return None
        first = results[0]
        precision = self.PRECISIONS.get(first.get("addresstype", ""), "city")
        return Location(float(first["lat"]), float(first["lon"]), precision, self.name)


class GeocoderUnavailable(Exception):
    """No provider of the chain answered (each one failed): the address stays pending."""


class GeocoderChain:
    """Tries each provider in turn; an unreachable provider is skipped, not fatal. None when the
    providers that answered found nothing; GeocoderUnavailable when none answered."""

    def __init__(self, providers: Sequence[Geocoder]) -> None:
        self.providers = list(providers)

    async def locate(self, address: Mapping[str, Any]) -> Location | None:
        answered = not self.providers
        for provider in self.providers:
            try:
                found = await provider.locate(address)
            except (aiohttp.ClientError, TimeoutError, ValueError, KeyError, TypeError) as exc:
                log.warning("geocoder %s failed: %s", provider.name, type(exc).__name__)
                continue
            if found is not None:
                return found
            answered = True
        if not answered:
            raise GeocoderUnavailable(", ".join(p.name for p in self.providers))
        return None


def has_address(address: Mapping[str, Any]) -> bool:
    return bool(address.get("street") or address.get("postal_code") or address.get("city"))


# The geocoder's own SQL. Rows are read whole (the record is built from them by the caller's
# ``to_record``); the location is written beside the record: never its version, updated_at or
# updated_by.
SELECT_ACCOUNT_ROW = "SELECT * FROM accounts WHERE id = $1"
LOCK_ACCOUNT_ROW = "SELECT * FROM accounts WHERE id = $1 FOR UPDATE"
SET_LOCATION = """
UPDATE accounts SET lat = $2, lon = $3, location_precision = $4, location_source = $5,
    location_status = $6, located_address = $7, location_requested_at = NULL
WHERE id = $1 RETURNING *
"""
# An address no provider could reach waits another sweep period (not retried in a loop).
POSTPONE_LOCATION = "UPDATE accounts SET location_requested_at = now() WHERE id = $1"
# Accounts left waiting for a location for more than $1 seconds, oldest first, $2 at most.
SELECT_WAITING = """
SELECT id FROM accounts
WHERE location_status = 'pending'
  AND coalesce(location_requested_at, updated_at) < now() - $1 * interval '1 second'
ORDER BY coalesce(location_requested_at, updated_at) LIMIT $2
"""

ToRecord = Callable[[Mapping[str, Any]], dict[str, Any]]


def needs_location(row: Mapping[str, Any]) -> bool:
    """Whether the row's location does not match its current address: an address never located
    (or located before it changed), or a location left behind by an address now empty."""
    address = address_of(row)
    if not has_address(address):
        return row["location_status"] != "none" or row["located_address"] is not None
    return row["located_address"] != address or row["location_status"] not in (
        "found",
        "not_found",
    )


def wants_location(event: CloudEvent) -> bool:
    """Whether an account event may leave its record to locate: an address without a location,
    or a location without an address (the row decides; a located record with its address, the
    usual case after the first event, is left alone)."""
    record = event.data.record
    address = record.get("address")
    located = record.get("location") is not None
    return not isinstance(address, Mapping) or has_address(address) != located


async def relocate(
    conn: asyncpg.Connection,
    source: str,
    chain: GeocoderChain,
    account_id: Any,
    to_record: ToRecord,
) -> bool:
    """Make the account's location match its current address, trashed or not; True when its
    record changed (a located event was enqueued). Locates from the row, not from an event: the
    provider is asked without the row locked, and the result stored under the lock only if the
    address is still the one located (one changed meanwhile is left pending: the write that
    changed it has its own event, and the sweep is there if that one is lost). Call inside a
    transaction."""
    row = await conn.fetchrow(SELECT_ACCOUNT_ROW, account_id)
    if row is None or not needs_location(row):
        return False
    address = address_of(row)
    try:
        found = await chain.locate(address) if has_address(address) else None
    except GeocoderUnavailable:
        await conn.execute(POSTPONE_LOCATION, row["id"])
        return False
    row = await conn.fetchrow(LOCK_ACCOUNT_ROW, account_id)
    if row is None or not needs_location(row) or address_of(row) != address:
        return False
    return await _store(conn, source, row, address, found, to_record)


async def _store(
    conn: asyncpg.Connection,
    source: str,
    row: Mapping[str, Any],
    address: dict[str, Any],
    found: Location | None,
    to_record: ToRecord,
) -> bool:
    """Write the location of ``address`` beside the locked ``row``, and its event."""
    if not has_address(address):
        values: tuple[Any, ...] = (None, None, None, None, "none", None)
    elif found is None:
        values = (None, None, None, None, "not_found", address)
    else:
        values = (found.lat, found.lon, found.precision, found.source, "found", address)
    new_row = await conn.fetchrow(SET_LOCATION, row["id"], *values)
    old, record = _event_record(row, to_record), _event_record(new_row, to_record)
    changes = diff(old, record)
    if changes:
        await enqueue(
            conn,
            make_event(
                source=source, entity=domain.ENTITY, change=LOCATED, record=record,
                actor=GEOCODER_ACTOR, changes=changes, context=DERIVED_CONTEXT,
            ),
        )  # fmt: skip
    return bool(changes)


def _event_record(row: Mapping[str, Any], to_record: ToRecord) -> dict[str, Any]:
    record = to_record(row)
    if row["deleted_at"] is not None:
        record["deleted_at"] = row["deleted_at"]
    return record


async def sweep(
    pool: asyncpg.Pool,
    source: str,
    chain: GeocoderChain,
    to_record: ToRecord,
    older_than: float,
    batch: int = 100,
) -> int:
    """Locate the accounts left pending for more than ``older_than`` seconds (an event lost,
    refused or still on its way); how many were located."""
    located = 0
    for account in await pool.fetch(SELECT_WAITING, older_than, batch):
        try:
            async with pool.acquire() as conn, conn.transaction():
                located += await relocate(conn, source, chain, account["id"], to_record)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
            raise  # the database: the supervisor retries the sweep
        except Exception:  # one account's surprise does not hold up the others
            log.exception("geocoder sweep: account %s not located", account["id"])
    return located


async def sweep_forever(
    task: SupervisedTask,
    pool: asyncpg.Pool,
    source: str,
    chain: GeocoderChain,
    to_record: ToRecord,
    period: float = 5.0,
) -> None:
    """The supervised sweep: every ``period`` seconds, the accounts pending longer than that."""
    while True:
        located = await sweep(pool, source, chain, to_record, older_than=period)
        task.mark_up()
        if located:
            log.info("geocoder sweep: %d account(s) left pending located", located)
        await asyncio.sleep(period)


def map_of(account: Mapping[str, Any], status: str) -> dict[str, Any]:
    """The account on a map: its coordinates and an OpenStreetMap link."""
    address = account["address"]
    if not has_address(address):
        raise ValidationFailed(
            [
                FieldError(
                    "address",
                    "Renseignez d'abord l'adresse du compte pour le placer sur une carte.",
                )
            ],
            detail="Ce compte n'a pas d'adresse.",
        )
    location = account["location"]
    if status == "not_found":
        raise ValidationFailed(
            [FieldError("address", "Cette adresse n'a pas pu être localisée ; vérifiez-la.")],
            detail="Adresse introuvable.",
        )
    if location is None:
        raise Conflict(
            "L'adresse de ce compte est en cours de localisation ; réessayez dans un instant."
        )
    lat, lon = location["lat"], location["lon"]
    zoom = {"address": 18, "street": 17, "locality": 15, "city": 13}.get(location["precision"], 9)
    return {
        "lat": lat,
        "lon": lon,
        "precision": location["precision"],
        "source": location["source"],
        "address": address,
        "map_url": f"https://www.openstreetmap.org/?mlat={lat:.5f}&mlon={lon:.5f}#map={zoom}/{lat:.5f}/{lon:.5f}",
    }

"""Finding an account's location from its address, after the write, from its events.

Providers are chosen by configuration (``CRM_GEOCODER``, a comma-separated chain tried in order):
``offline`` (the default: city-level coordinates from the installed gazetteer, no network),
``ban`` (the French national address base, api-adresse.data.gouv.fr) and ``nominatim``
(OpenStreetMap). Every location records its precision and its source.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol

import aiohttp
import asyncpg

from services.common.entities import ADDRESS_FIELDS
from services.common.errors import Conflict, FieldError, ValidationFailed
from services.common.events import CloudEvent
from services.common.outbox import record_change

from . import domain
from . import repository as sql
from .geodata.places import OVERSEAS, REGION_OF_DEPARTMENT, gazetteer

log = logging.getLogger(__name__)
GEOCODER_ACTOR = "geocodeur"
ADDRESS_CHANGES = ("address.street", "address.postal_code", "address.city", "address.country")

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


class GeocoderChain:
    """Tries each provider in turn; an unreachable provider is skipped, not fatal."""

    def __init__(self, providers: Sequence[Geocoder]) -> None:
        self.providers = list(providers)

    async def locate(self, address: Mapping[str, Any]) -> Location | None:
        for provider in self.providers:
            try:
                found = await provider.locate(address)
            except (aiohttp.ClientError, TimeoutError, ValueError, KeyError, TypeError) as exc:
                log.warning("geocoder %s failed: %s", provider.name, type(exc).__name__)
                continue
            if found is not None:
                return found
        return None


def has_address(address: Mapping[str, Any]) -> bool:
    return bool(address.get("street") or address.get("postal_code") or address.get("city"))


def address_changed(event: CloudEvent) -> bool:
    """Whether ``event`` gives an account an address to locate (any other is left alone)."""
    address = event.data.record.get("address")
    return (
        event.data.entity == domain.ENTITY
        and any(k in event.data.changes for k in ADDRESS_CHANGES)
        and isinstance(address, dict)
        and has_address(address)
    )


async def locate_account(
    conn: asyncpg.Connection,
    source: str,
    chain: GeocoderChain,
    event: CloudEvent,
    to_record: Callable[[Mapping[str, Any]], dict[str, Any]],
) -> None:
    """Event handler: (re)locate an account whose address was set or changed."""
    if not address_changed(event):
        return
    row = await conn.fetchrow(sql.LOCK_ACCOUNT, event.data.id)
    if row is None or row["deleted_at"] is not None:
        return
    address = {f: row[f] for f in ("street", "postal_code", "city", "country")}
    if address != event.data.record.get("address") or not has_address(address):
        return  # the address changed again since: its own event will locate it
    found = await chain.locate(address)
    status = "found" if found else "not_found"
    values = (
        (found.lat, found.lon, found.precision, found.source) if found else (None, None, None, None)
    )
    current = (row["lat"], row["lon"], row["location_precision"], row["location_source"])
    if status == row["location_status"] and values == current:
        return
    new_row = await conn.fetchrow(sql.SET_LOCATION, row["id"], *values, status, GEOCODER_ACTOR)
    await record_change(
        conn, source=source, entity=domain.ENTITY, change="updated", record=to_record(new_row),
        old=to_record(row), actor=GEOCODER_ACTOR,
    )  # fmt: skip


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

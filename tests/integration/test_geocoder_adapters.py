"""The BAN and Nominatim adapters, each against a local server answering as the real one does
(no network in tests), and the provider chain."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from services.accounts.geocoding import (
    BanGeocoder,
    GeocoderChain,
    GeocoderUnavailable,
    Location,
    NominatimGeocoder,
    OfflineGeocoder,
)

PARIS = {"street": "8 rue de la Paix", "postal_code": "75002", "city": "Paris", "country": "FR"}
seen: list[dict[str, str]] = []


async def ban_search(request: web.Request) -> web.Response:
    seen.append(dict(request.query))
    if "introuvable" in request.query["q"]:
        return web.json_response({"type": "FeatureCollection", "features": []})
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [2.331, 48.8686]},
        "properties": {
            "label": "8 Rue de la Paix 75002 Paris",
            "type": "housenumber",
            "score": 0.97,
        },
    }
    return web.json_response({"type": "FeatureCollection", "features": [feature]})


async def nominatim_search(request: web.Request) -> web.Response:
    seen.append(dict(request.query) | {"user-agent": request.headers.get("User-Agent", "")})
    return web.json_response([{"lat": "50.8465", "lon": "4.3517", "addresstype": "road"}])


async def broken(_request: web.Request) -> web.Response:
    return web.Response(status=503)


@pytest.fixture
async def http() -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    app = web.Application()
    app.router.add_get("/ban/search/", ban_search)
    app.router.add_get("/osm/search", nominatim_search)
    app.router.add_get("/down/search/", broken)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    async with aiohttp.ClientSession() as session:
        yield str(server.make_url("")).rstrip("/"), session
    await server.close()


async def test_ban_gives_the_address_precision(http: tuple[str, aiohttp.ClientSession]) -> None:
    base, session = http
    seen.clear()
    found = await BanGeocoder(session, f"{base}/ban", 5).locate(PARIS)
    assert found == Location(48.8686, 2.331, "address", "ban")
    assert seen[-1]["q"] == "8 rue de la Paix 75002 Paris"
    assert seen[-1]["postcode"] == "75002"
    assert (
        await BanGeocoder(session, f"{base}/ban", 5).locate({**PARIS, "city": "introuvable"})
        is None
    )
    # The BAN only knows France.
    assert await BanGeocoder(session, f"{base}/ban", 5).locate({**PARIS, "country": "BE"}) is None


async def test_nominatim_is_asked_field_by_field_with_a_user_agent(
    http: tuple[str, aiohttp.ClientSession],
) -> None:
    base, session = http
    seen.clear()
    address: dict[str, Any] = {
        "street": "Rue Neuve 1",
        "postal_code": "1000",
        "city": "Bruxelles",
        "country": "BE",
    }
    found = await NominatimGeocoder(session, f"{base}/osm", 5).locate(address)
    assert found == Location(50.8465, 4.3517, "street", "nominatim")
    query = seen[-1]
    assert (query["city"], query["postalcode"], query["countrycodes"]) == (
        "Bruxelles",
        "1000",
        "be",
    )
    assert query["user-agent"].startswith("webleads-tracker")


async def test_the_chain_skips_a_provider_that_fails(
    http: tuple[str, aiohttp.ClientSession],
) -> None:
    base, session = http
    chain = GeocoderChain([BanGeocoder(session, f"{base}/down", 5), OfflineGeocoder()])
    found = await chain.locate(PARIS)
    assert found is not None
    assert (found.source, found.precision) == ("offline", "city")
    unreachable = BanGeocoder(session, "http://127.0.0.1:9", 1)  # nothing listens there
    # No provider answered: not "not found" (the address stays pending, retried by the sweep).
    with pytest.raises(GeocoderUnavailable, match="ban"):
        await GeocoderChain([unreachable]).locate(PARIS)
    # One that answered without finding: not found.
    assert await GeocoderChain([unreachable, OfflineGeocoder()]).locate({"city": "Nulle"}) is None

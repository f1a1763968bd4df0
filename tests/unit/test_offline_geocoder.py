"""The offline geocoder: city-level coordinates from the installed gazetteer, no network."""

from __future__ import annotations

import pytest

from services.accounts.geocoding import Location, OfflineGeocoder, map_of
from services.common.errors import Conflict, ValidationFailed


async def locate(**address: str) -> Location | None:
    return await OfflineGeocoder().locate({"country": "FR", **address})


@pytest.mark.parametrize(
    ("address", "lat", "lon"),
    [
        ({"street": "8 rue de la Paix", "postal_code": "75002", "city": "Paris"}, 48.85, 2.35),
        ({"postal_code": "69003", "city": "LYON CEDEX 03"}, 45.75, 4.85),
        ({"postal_code": "42000", "city": "St-Etienne"}, 45.43, 4.39),
        ({"postal_code": "13001", "city": "marseille"}, 43.30, 5.38),
        ({"city": "Bordeaux"}, 44.84, -0.58),
        (
            {"postal_code": "97400", "city": "Saint-Denis"},
            -20.88,
            55.45,
        ),  # La Réunion, not Île-de-France
        ({"postal_code": "93200", "city": "Saint-Denis"}, 48.94, 2.36),
    ],
)
async def test_a_french_city_is_found(address: dict[str, str], lat: float, lon: float) -> None:
    found = await locate(**address)
    assert found is not None
    assert (found.precision, found.source) == ("city", "offline")
    assert found.lat == pytest.approx(lat, abs=0.1)
    assert found.lon == pytest.approx(lon, abs=0.1)


async def test_an_unknown_city_falls_back_to_its_region_by_postal_code() -> None:
    found = await locate(postal_code="29200", city="Lieu-dit inconnu")
    assert found is not None
    assert found.precision == "region"
    assert 47 < found.lat < 49  # Bretagne
    assert -5 < found.lon < -1


async def test_neighbouring_countries_and_nothing_found() -> None:
    brussels = await OfflineGeocoder().locate(
        {"country": "BE", "city": "Bruxelles", "postal_code": "1000"}
    )
    assert brussels is not None
    assert brussels.lat == pytest.approx(50.85, abs=0.1)
    assert await locate(city="Nulle-Part-Sur-Rien") is None
    assert await OfflineGeocoder().locate({"country": "JP", "city": "Tokyo"}) is None


def account(
    address: dict[str, str | None], location: dict[str, object] | None
) -> dict[str, object]:
    return {"address": address, "location": location}


def test_the_map_links_to_openstreetmap_at_the_coordinates() -> None:
    address = {"street": None, "postal_code": "75002", "city": "Paris", "country": "FR"}
    found = {"lat": 48.85341, "lon": 2.3488, "precision": "city", "source": "offline"}
    result = map_of(account(address, found), "found")
    assert (
        result["map_url"]
        == "https://www.openstreetmap.org/?mlat=48.85341&mlon=2.34880#map=13/48.85341/2.34880"
    )
    assert (result["lat"], result["lon"], result["address"]) == (48.85341, 2.3488, address)


def test_the_map_needs_an_address_then_a_location() -> None:
    empty = {"street": None, "postal_code": None, "city": None, "country": "FR"}
    with pytest.raises(ValidationFailed) as caught:
        map_of(account(empty, None), "none")
    assert caught.value.errors[0].field == "address"
    address = {**empty, "city": "Paris"}
    with pytest.raises(Conflict):
        map_of(account(address, None), "pending")
    with pytest.raises(ValidationFailed):
        map_of(account(address, None), "not_found")

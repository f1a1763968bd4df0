"""The offline gazetteer: city-level coordinates for France and its French-speaking neighbours,
from the data file installed with the project (GeoNames, CC BY 4.0)."""

from __future__ import annotations

import gzip
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA_FILE = Path(__file__).with_name("places.tsv.gz")
_SAINT = re.compile(r"\b(st|ste)\b")
_CEDEX = re.compile(r"\bcedex\b.*$")
_NOISE = re.compile(r"[^a-z0-9]+")

# INSEE region of each French département (GeoNames' admin1 code for France).
_REGIONS = {
    "11": "75 77 78 91 92 93 94 95",
    "24": "18 28 36 37 41 45",
    "27": "21 25 39 58 70 71 89 90",
    "28": "14 27 50 61 76",
    "32": "02 59 60 62 80",
    "44": "08 10 51 52 54 55 57 67 68 88",
    "52": "44 49 53 72 85",
    "53": "22 29 35 56",
    "75": "16 17 19 23 24 33 40 47 64 79 86 87",
    "76": "09 11 12 30 31 32 34 46 48 65 66 81 82",
    "84": "01 03 07 15 26 38 42 43 63 69 73 74",
    "93": "04 05 06 13 83 84",
    "94": "2A 2B",
}
REGION_OF_DEPARTMENT = {dep: region for region, deps in _REGIONS.items() for dep in deps.split()}
# French overseas postal prefixes, which GeoNames files under their own country codes.
OVERSEAS = {
    "971": "GP", "972": "MQ", "973": "GF", "974": "RE", "975": "PM", "976": "YT", "977": "BL",
    "978": "MF", "986": "WF", "987": "PF", "988": "NC",
}  # fmt: skip


def fold_place(name: str) -> str:
    """A place name reduced for matching: no accents, no case, Saint for St, no Cedex."""
    decomposed = unicodedata.normalize("NFKD", name.lower())
    text = "".join(c for c in decomposed if not unicodedata.combining(c))
    text = text.replace("œ", "oe").replace("æ", "ae")
    text = _CEDEX.sub("", text)
    text = _NOISE.sub(" ", text)
    text = _SAINT.sub(lambda m: "saint" if m.group(1) == "st" else "sainte", text)
    return " ".join(text.split())


@dataclass(frozen=True)
class Place:
    country: str
    region: str
    name: str
    lat: float
    lon: float
    population: int


@dataclass(frozen=True)
class Gazetteer:
    by_name: dict[tuple[str, str], list[Place]]
    region_centres: dict[tuple[str, str], tuple[float, float]]

    def lookup(self, country: str, city: str) -> list[Place]:
        return self.by_name.get((country, fold_place(city)), [])


@cache
def gazetteer() -> Gazetteer:
    """Loaded once per process, on first use (about 20,000 places)."""
    by_name: dict[tuple[str, str], list[Place]] = {}
    weights: dict[tuple[str, str], list[float]] = {}
    with gzip.open(DATA_FILE, "rt", encoding="utf-8") as lines:
        for line in lines:
            country, region, folded, name, lat, lon, population = line.rstrip("\n").split("\t")
            place = Place(country, region, name, float(lat), float(lon), int(population))
            by_name.setdefault((country, folded), []).append(place)
    seen: set[tuple[str, str, float, float]] = set()
    for places in by_name.values():
        for p in places:
            if (p.country, p.name, p.lat, p.lon) in seen:
                continue
            seen.add((p.country, p.name, p.lat, p.lon))
            w = weights.setdefault((p.country, p.region), [0.0, 0.0, 0.0])
            w[0] += p.lat * p.population
            w[1] += p.lon * p.population
            w[2] += p.population
    centres = {key: (w[0] / w[2], w[1] / w[2]) for key, w in weights.items() if w[2]}
    return Gazetteer(by_name, centres)

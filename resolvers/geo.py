"""Distances: airports by great circle, sea ports by a real sea route.

Airport coordinates come from the `airportsdata` package and sea lanes and
ports from the `searoute` package; both are public reference data shared by
every caller, so they are loaded once per process.
"""

from __future__ import annotations

import difflib
import math
from functools import lru_cache
from typing import Any, TypedDict

MEAN_EARTH_RADIUS_KM = 6371.0088  # IUGG mean radius R1


class Airport(TypedDict):
    """What the engine reads of an airport (reference_data.FIELDS)."""

    iata: str
    lat: float
    lon: float
    country: str


class PlaceError(ValueError):
    """An airport or port code we cannot place; carries close matches."""

    def __init__(self, message: str, suggestions: list[str]) -> None:
        super().__init__(message)
        self.suggestions = suggestions


@lru_cache(maxsize=1)
def _airports() -> dict[str, Airport]:
    """IATA code → the airport's iata, lat, lon and country (reference_data.FIELDS): the table
    the build prepared from the installed airportsdata release, or else airportsdata's own."""
    import airportsdata

    from .reference_data import airport_table, read_airports

    prepared = read_airports(airportsdata.__version__)
    table = prepared if prepared is not None else airport_table(airportsdata.load("IATA"))
    return table  # type: ignore[return-value]  # dicts of exactly Airport's fields


@lru_cache(maxsize=1)
def _ports() -> dict[str, tuple[float, float]]:
    from searoute.data.ports_dict import node_list

    # A few codes stand twice in searoute's list: the terminal entry (t = 1) wins, else the
    # first one.
    ports: dict[str, tuple[float, float]] = {}
    terminal: set[str] = set()
    for props in node_list.values():
        code = props.get("port")
        if not code or code in terminal:
            continue
        if code not in ports or props.get("t"):
            ports[code] = (props["x"], props["y"])
            if props.get("t"):
                terminal.add(code)
    return ports


def find_airport(code: str) -> Airport | None:
    """The airport of an IATA code, or None; cheap, unlike airport()'s close matches for a miss."""
    return _airports().get(code.strip().upper())


def airport(code: str) -> Airport:
    found = find_airport(code)
    if found is None:
        code = code.strip().upper()
        raise PlaceError(f"unknown IATA airport code {code!r}", close_matches(code, _airports()))
    return found


def port(code: str) -> tuple[float, float]:
    """(lon, lat) of a UN/LOCODE port known to the sea-route network."""
    code = code.strip().upper().replace(" ", "")
    found = _ports().get(code)
    if found is None:
        raise PlaceError(f"unknown UN/LOCODE port {code!r}", close_matches(code, _ports()))
    return found


def close_matches(word: str, choices: Any, n: int = 5) -> list[str]:
    return difflib.get_close_matches(word, list(choices), n=n, cutoff=0.5)


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance on a sphere of the mean Earth radius."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * MEAN_EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def airport_distance_km(origin: str, destination: str) -> float:
    a, b = airport(origin), airport(destination)
    return great_circle_km(a["lat"], a["lon"], b["lat"], b["lon"])


def prepare() -> None:
    """Load the airport table and the sea-route network now rather than on first use (a Lambda
    instance initialised ahead of its requests, gateway/serverless.py)."""
    _airports()
    _ports()
    sea_route_km("CNSHA", "NLRTM")  # searoute builds its graphs on the first route


@lru_cache(maxsize=4096)
def sea_route_km(origin: str, destination: str) -> float:
    """Shortest path over the searoute maritime network between two ports."""
    import searoute

    route = searoute.searoute(list(port(origin)), list(port(destination)), units="km")
    return float(route["properties"]["length"])

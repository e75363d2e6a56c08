"""Flights: Scope 3 category 6, passengers × great-circle km at a DESNZ passenger.km factor.

Each activity is one direct leg; its haul band picks the factor set, and the cabin class the row
(with DESNZ's own stand-in where it publishes no row for a class on a haul).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .. import geo
from .core import CALCULATED, EngineError, Factor, FlightActivity, Gas, Line, provenance
from .quantities import _n
from .records import Answer, Need, _Memo, _query

CABIN_CLASSES = ("average", "economy", "premium_economy", "business", "first")
# DESNZ counts the Crown Dependencies with the UK for haul bands (methodology §3.2).
UK_TERRITORIES = frozenset({"GB", "GG", "JE", "IM"})
SHORT_HAUL_LIMIT_KM = 3700.0  # DESNZ: short-haul to/from the UK is up to 3,700 km
# Where DESNZ publishes no row for a class on a haul (methodology §3.3).
CABIN_FALLBACK = {("domestic", c): "average" for c in CABIN_CLASSES} | {
    ("short_haul", "first"): "business"
}


def haul_band(origin: Mapping[str, Any], destination: Mapping[str, Any], km: float) -> str:
    """DESNZ haul bands: domestic (UK–UK), short/long-haul to or from the UK (≤/> 3,700 km, the
    2019 methodology paper's proxy for the 2023 "Haul definition" sheet), international."""
    in_uk = (origin["country"] in UK_TERRITORIES, destination["country"] in UK_TERRITORIES)
    if all(in_uk):
        return "domestic"
    if any(in_uk):
        return "short_haul" if km <= SHORT_HAUL_LIMIT_KM else "long_haul"
    return "international"


def needs(activities: Iterable[FlightActivity]) -> Iterator[Need]:
    """The airline channel's factor rows: every cabin class of each haul band flown."""
    bands: dict[tuple[str, str], str | None] = {}
    for fl in activities:
        route = (fl.origin, fl.destination)
        if route not in bands:
            bands[route] = _band(fl)
        band = bands[route]
        if band is not None:  # otherwise line() refuses the flight before it asks for a factor
            yield _need(band)


def line(i: int, fl: FlightActivity, answer: Answer, memo: _Memo) -> Line:
    """Scope 3 cat. 6: passengers × great-circle km × kg CO2e per passenger.km, from the DESNZ
    2023 flat file, "Business travel- air" (WTT from "WTT- business travel- air", shown only)."""
    path = f"flights[{i}]"
    if fl.cabin_class not in CABIN_CLASSES:
        raise EngineError(
            f"{path}.cabinClass", f"{fl.cabin_class!r} is not one of {', '.join(CABIN_CLASSES)}"
        )
    if isinstance(fl.passengers, bool) or not isinstance(fl.passengers, int) or fl.passengers < 1:
        raise EngineError(
            f"{path}.passengers", f"must be a whole number ≥ 1, got {fl.passengers!r}"
        )
    places = []
    for name, code in (("origin", fl.origin), ("destination", fl.destination)):
        try:
            places.append(geo.airport(code))
        except geo.PlaceError as exc:
            hint = f"; close matches: {', '.join(exc.suggestions)}" if exc.suggestions else ""
            raise EngineError(f"{path}.{name}", f"{exc}{hint}") from None
    a, b = places
    if a["iata"] == b["iata"]:
        raise EngineError(path, "origin and destination are the same airport")
    km = geo.great_circle_km(a["lat"], a["lon"], b["lat"], b["lon"])
    haul = haul_band(a, b, km)
    by_class = memo.get(
        ("flights", haul, fl.radiative_forcing),
        lambda: {
            r["payload"]["cabin_class"]: r
            for r in answer("airline", _need(haul))
            if r["payload"]["radiative_forcing"] == fl.radiative_forcing
        },
    )
    applied = fl.cabin_class
    record = by_class.get(applied)
    if record is None and (haul, fl.cabin_class) in CABIN_FALLBACK:
        applied = CABIN_FALLBACK[(haul, fl.cabin_class)]
        record = by_class.get(applied)
    if record is None:
        offered = sorted(by_class)
        raise EngineError(
            f"{path}.cabinClass",
            f"DESNZ has no {fl.cabin_class} factor for {haul.replace('_', '-')} flights; "
            f"classes: {', '.join(offered) or 'none on the channel'}",
        )
    p = record["payload"]
    pkm = fl.passengers * km
    kg = pkm * p["kg_co2e"]
    wtt = pkm * p["wtt_kg_co2e"] if p.get("wtt_kg_co2e") is not None else None
    source = provenance("airline", record)
    rf = "with RF" if fl.radiative_forcing else "without RF"
    passengers = f"{fl.passengers} passenger{'s' if fl.passengers != 1 else ''}"
    stand_in = f" (DESNZ {applied} factor)" if applied != fl.cabin_class else ""
    return Line(
        kg_co2e=kg,
        channel="airline",
        activity=f"{passengers} {a['iata']}→{b['iata']} {_n(round(km, 2))} km (great circle), "
        f"{haul.replace('_', '-')} {fl.cabin_class.replace('_', ' ')}{stand_in}, {rf}",
        basis=CALCULATED,
        scope=3,
        category=6,
        source=source,
        factor=Factor(p["kg_co2e"], f"kg CO2e/passenger.km ({rf})", source),
        quantity=float(fl.passengers),
        quantity_unit="passengers",
        distance_km=km,
        distance_method="great circle between airports",
        ttw_kg_co2e=kg,
        wtt_kg_co2e=wtt,
        gases=tuple(Gas(g.upper(), pkm * v) for g, v in (p.get("gases") or {}).items()),
    )  # DESNZ gas rows are kg CO2e of each gas, so the parts add up to the factor


def _band(fl: FlightActivity) -> str | None:
    """The DESNZ haul band of a flight, or None when an airport is not known (line() then says
    which, with close matches, for the first such flight only: those are costly to find)."""
    a, b = geo.find_airport(fl.origin), geo.find_airport(fl.destination)
    if a is None or b is None:
        return None
    return haul_band(a, b, geo.great_circle_km(a["lat"], a["lon"], b["lat"], b["lon"]))


def _need(band: str) -> Need:
    """Every cabin class of one haul band (the fallbacks for unpublished classes are among them)."""
    return _query("flight_factor", [band])

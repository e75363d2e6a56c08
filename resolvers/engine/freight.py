"""Freight: Scope 3 category 4, tonnes × km at a DESNZ tonne.km factor, well-to-wheel by default.

The factor is the DESNZ row of the named vehicle (or the mode's default vehicle), narrowed by its
class (size, load, refrigerated); the distance is given, or worked out between ports or airports.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from .. import geo, units
from .core import CALCULATED, EngineError, Factor, FreightActivity, Gas, Line, provenance
from .flights import haul_band
from .quantities import _n, _positive
from .records import Answer, Need, _Memo, _norm, _query

FREIGHT_MODES = ("road", "rail", "sea", "air", "inland_waterway")
# DESNZ names of the default vehicle for each freight mode (docs/methodology.md, "Freight").
DEFAULT_VEHICLE = {"road": "All HGVs", "rail": "Freight train", "sea": "Container ship"}
# Air freight's vehicle is its haul band, worked out from the airports when none is named.
_AIR_FREIGHT_VEHICLE = {
    "domestic": "Domestic, to/from UK",
    "short_haul": "Short-haul, to/from UK",
    "long_haul": "Long-haul, to/from UK",
    "international": "International, to/from non-UK",
}


def needs(activities: Iterable[FreightActivity]) -> Iterator[Need]:
    """The shipping channel's factor rows for these activities (none for an unknown mode)."""
    for f in activities:
        if f.mode in FREIGHT_MODES and f.mode != "inland_waterway":
            yield _need(f)


def line(i: int, f: FreightActivity, answer: Answer, memo: _Memo) -> Line:
    """Scope 3 cat. 4: tonnes × km × kg CO2e per tonne.km, TTW plus WTT, from the DESNZ 2023 flat
    file, "Freighting goods" (TTW) and "WTT- delivery vehs & freight" (WTT)."""
    path = f"freight[{i}]"
    if f.mode not in FREIGHT_MODES:
        raise EngineError(f"{path}.mode", f"{f.mode!r} is not one of {', '.join(FREIGHT_MODES)}")
    if (f.tonnes is None) == (f.short_tons is None):
        raise EngineError(path, "give tonnes or shortTons (exactly one)")
    tonnes = (
        _positive(f.tonnes, f"{path}.tonnes")
        if f.tonnes is not None
        else units.short_tons_to_tonnes(_positive(f.short_tons, f"{path}.shortTons"))
    )
    km, method, places = _distance(path, f)
    if f.mode == "inland_waterway":
        raise EngineError(
            f"{path}.mode",
            "DESNZ 2023 publishes no inland-waterway freight factor; "
            "none is on the shipping channel (methodology §2)",
        )
    vehicle = f.vehicle
    if vehicle is None:
        if f.mode == "air":
            if places is None:
                raise EngineError(
                    f"{path}.vehicle",
                    "air freight given by km needs a vehicle (the DESNZ haul band, one of: "
                    f"{', '.join(_AIR_FREIGHT_VEHICLE.values())}), "
                    "or origin and destination airports",
                )
            vehicle = _AIR_FREIGHT_VEHICLE[haul_band(places[0], places[1], km)]
        else:
            vehicle = DEFAULT_VEHICLE[f.mode]
    record = memo.get(
        ("freight", f.mode, _norm(vehicle), f.vehicle_class, f.radiative_forcing),
        lambda: _pick_factor(path, f, vehicle, answer),
    )
    p = record["payload"]
    tkm = tonnes * km
    ttw = tkm * p["ttw_kg_co2e"]
    wtt = tkm * p["wtt_kg_co2e"] if p.get("wtt_kg_co2e") is not None else None
    if f.well_to_wheel and wtt is None:
        raise EngineError(
            path,
            f"{p['vehicle']} has no well-to-tank factor on the channel; set wellToWheel: false",
        )
    kg = ttw + (wtt or 0.0) if f.well_to_wheel else ttw
    value = p["ttw_kg_co2e"] + (p["wtt_kg_co2e"] if f.well_to_wheel else 0.0)
    variant = ", ".join(x for x in (p.get("load"), p.get("variant")) if x)
    where = f" {places[2]}→{places[3]}" if places else ""
    description = (
        f"{_n(tonnes)} t × {_n(round(km, 3))} km{where} by {f.mode} ({method}), "
        f"{p['vehicle']}{' (' + variant + ')' if variant else ''}, "
        f"{'WTW' if f.well_to_wheel else 'TTW'}"
    )
    gases = tuple(Gas(g.upper(), tkm * v) for g, v in (p.get("ttw_gases") or {}).items())
    return Line(
        kg_co2e=kg,
        channel="shipping",
        activity=description,
        basis=CALCULATED,
        scope=3,
        category=4,
        source=provenance("shipping", record),
        factor=Factor(
            value,
            f"kg CO2e/tonne.km ({'TTW + WTT' if f.well_to_wheel else 'TTW'})",
            provenance("shipping", record),
        ),
        quantity=tonnes,
        quantity_unit="t",
        distance_km=km,
        distance_method=method,
        ttw_kg_co2e=ttw,
        wtt_kg_co2e=wtt,
        gases=gases,
    )


def _distance(path: str, f: FreightActivity) -> tuple[float, str, tuple[Any, Any, str, str] | None]:
    """km, how they were found, and (when found between places) the two places and their codes."""
    if f.km is not None and f.miles is not None:
        raise EngineError(path, "give km or miles, not both")
    if f.km is not None:
        return _positive(f.km, f"{path}.km"), "distance given", None
    if f.miles is not None:
        return (
            units.miles_to_km(_positive(f.miles, f"{path}.miles")),
            "distance given in miles",
            None,
        )
    if not (f.origin and f.destination):
        needs_km = (
            "road and rail freight need km (or miles)"
            if f.mode in ("road", "rail")
            else "give km, or origin and destination"
        )
        raise EngineError(f"{path}.km", needs_km)
    if f.mode in ("road", "rail"):
        raise EngineError(
            f"{path}.km",
            f"{f.mode} freight needs km (or miles): no route network for {f.mode} here",
        )
    try:
        if f.mode == "air":
            a, b = geo.airport(f.origin), geo.airport(f.destination)
            gcd = geo.great_circle_km(a["lat"], a["lon"], b["lat"], b["lon"])
            return gcd, "great circle between airports", (a, b, a["iata"], b["iata"])
        origin, destination = f.origin.strip().upper(), f.destination.strip().upper()
        return (
            geo.sea_route_km(origin, destination),
            "searoute sea route",
            (None, None, origin, destination),
        )
    except geo.PlaceError as exc:
        field_name = "origin" if f.origin.strip().upper() in str(exc) else "destination"
        hint = f"; close matches: {', '.join(exc.suggestions)}" if exc.suggestions else ""
        raise EngineError(f"{path}.{field_name}", f"{exc}{hint}") from None


def _need(f: FreightActivity) -> Need:
    """The vehicle's rows when the request names it (or the mode has a default); else the mode's."""
    vehicle = f.vehicle if f.vehicle is not None else DEFAULT_VEHICLE.get(f.mode)
    if vehicle is None or not vehicle.strip():
        return _query("freight_factor", [f.mode])
    return _query("freight_factor", [f.mode], matches={"vehicle": vehicle})


def _pick_factor(path: str, f: FreightActivity, vehicle: str, answer: Answer) -> dict[str, Any]:
    """The one DESNZ row of the vehicle that the activity's class, RF and defaults leave."""
    records = answer("shipping", _need(f))
    matching = [r for r in records if _norm(r["payload"]["vehicle"]) == _norm(vehicle)]
    if not matching:
        # Every vehicle of the mode, for the close matches.
        records = answer("shipping", _query("freight_factor", [f.mode]))
        names = sorted({r["payload"]["vehicle"].strip() for r in records})
        close = geo.close_matches(vehicle, names) or names[:8]
        raise EngineError(
            f"{path}.vehicle",
            f"{vehicle!r} is not a DESNZ {f.mode} vehicle; close matches: {', '.join(close)}",
        )
    if f.mode == "air":
        matching = [
            r for r in matching if r["payload"].get("radiative_forcing") == f.radiative_forcing
        ]
    chosen = matching
    if f.vehicle_class:
        # Comma-separated parts, each naming the row's load, variant or category
        # ("refrigerated, 50% Laden"). A whole class may hold commas itself
        # ("10,000–59,999 dwt"), so it is tried first.
        whole = [r for r in matching if _class_part_matches(_norm(f.vehicle_class), r["payload"])]
        parts = [_norm(part) for part in f.vehicle_class.split(",") if part.strip()]
        chosen = whole or [
            r for r in matching if all(_class_part_matches(part, r["payload"]) for part in parts)
        ]
    if len(chosen) > 1:  # the ordinary (not refrigerated) category unless asked for
        chosen = [
            r for r in chosen if "refrigerated" not in _norm(r["payload"]["category"])
        ] or chosen
    if len(chosen) > 1 and not f.vehicle_class:  # then the average row
        chosen = [
            r
            for r in chosen
            if _norm(r["payload"].get("load")).startswith("average")
            or _norm(r["payload"].get("variant")).startswith("average")
        ]
    if len(chosen) != 1:
        classes = sorted(
            {
                ", ".join(x for x in (r["payload"].get("load"), r["payload"].get("variant")) if x)
                for r in matching
            }
        )
        raise EngineError(
            f"{path}.vehicleClass",
            f"choose one class of {vehicle!r}: {'; '.join(c for c in classes if c)}"
            " (add 'refrigerated, …' for refrigerated HGVs)",
        )
    return chosen[0]


def _class_part_matches(part: str, payload: dict[str, Any]) -> bool:
    if part == "refrigerated":
        return "refrigerated" in _norm(payload["category"])
    return part in (
        _norm(payload.get("load")),
        _norm(payload.get("variant")),
        _norm(payload.get("category")),
    )

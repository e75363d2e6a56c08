"""The footprint engine: pure functions from activities and channel records to lines.

No I/O and no factor literals: `needs()` says which records a request needs
from which channel, the resolvers fetch them (one call per channel), and
`compute()` turns activities and records into lines with their provenance.
docs/methodology.md gives every formula with its source table.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from . import geo, units

METHODOLOGY_VERSION = "datachannels-methodology/2026.1"

CALCULATED = "CALCULATED"
AUDITED = "AUDITED"

FREIGHT_MODES = ("road", "rail", "sea", "air", "inland_waterway")
CABIN_CLASSES = ("average", "economy", "premium_economy", "business", "first")
# DESNZ names of the default vehicle for each freight mode (docs/methodology.md, "Freight").
DEFAULT_VEHICLE = {"road": "All HGVs", "rail": "Freight train", "sea": "Container ship"}
DEFAULT_PRODUCTION = "Primary material production"
# DESNZ counts the Crown Dependencies with the UK for haul bands (methodology §3.2).
UK_TERRITORIES = frozenset({"GB", "GG", "JE", "IM"})
SHORT_HAUL_LIMIT_KM = 3700.0  # DESNZ: short-haul to/from the UK is up to 3,700 km
# Where DESNZ publishes no row for a class on a haul (methodology §3.3).
CABIN_FALLBACK = {("domestic", c): "average" for c in CABIN_CLASSES} | {
    ("short_haul", "first"): "business"
}


class EngineError(ValueError):
    """Bad input, named by field; becomes BAD_INPUT."""

    def __init__(self, field_path: str, message: str) -> None:
        super().__init__(f"{field_path}: {message}")
        self.field = field_path
        self.message = message


# ----------------------------------------------------------------- activities


@dataclass(frozen=True)
class ElectricityActivity:
    kwh: float
    year: int | None = None
    utility_id: str | None = None
    grid_region: str | None = None
    country: str | None = None
    include_losses: bool = False


@dataclass(frozen=True)
class FreightActivity:
    mode: str
    tonnes: float | None = None
    short_tons: float | None = None
    km: float | None = None
    miles: float | None = None
    origin: str | None = None
    destination: str | None = None
    vehicle: str | None = None
    vehicle_class: str | None = None
    well_to_wheel: bool = True
    radiative_forcing: bool = True


@dataclass(frozen=True)
class FlightActivity:
    origin: str
    destination: str
    cabin_class: str = "average"
    passengers: int = 1
    radiative_forcing: bool = True


@dataclass(frozen=True)
class PurchaseActivity:
    tonnes: float | None = None
    amount_usd: float | None = None
    commodity: str | None = None
    naics: str | None = None
    production: str | None = None


@dataclass(frozen=True)
class UpstreamFootprint:
    footprint_id: str
    share: float


@dataclass(frozen=True)
class FootprintRequest:
    electricity: tuple[ElectricityActivity, ...] = ()
    freight: tuple[FreightActivity, ...] = ()
    flights: tuple[FlightActivity, ...] = ()
    purchases: tuple[PurchaseActivity, ...] = ()
    upstream: tuple[UpstreamFootprint, ...] = ()
    from_channels: bool = False

    def canonical(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    def inputs_hash(self) -> str:
        return hashlib.sha256(self.canonical().encode()).hexdigest()


# ---------------------------------------------------------------------- lines


# Line types are plain slotted dataclasses, not frozen ones: frozen ones are slow to build,
# and a footprint may have 10,000 lines.
@dataclass(slots=True)
class Provenance:
    """The channel record a number rests on."""

    channel: str
    record_key: str
    tx_id: str
    dataset: str
    edition: str
    source_row: str
    source_sha256: str


@dataclass(slots=True)
class Factor:
    value: float
    unit: str
    provenance: Provenance


@dataclass(slots=True)
class Gas:
    gas: str
    kg: float


@dataclass(slots=True)
class Line:
    kg_co2e: float
    channel: str
    activity: str
    basis: str
    scope: int
    category: int | None
    source: Provenance
    factor: Factor | None = None
    quantity: float | None = None
    quantity_unit: str | None = None
    distance_km: float | None = None
    distance_method: str | None = None
    ttw_kg_co2e: float | None = None
    wtt_kg_co2e: float | None = None
    gases: tuple[Gas, ...] = ()


@dataclass(frozen=True)
class ScopeTotal:
    scope: int
    category: int | None
    kg_co2e: float


@dataclass(frozen=True)
class Footprint:
    total_kg_co2e: float
    by_scope: tuple[ScopeTotal, ...]
    lines: tuple[Line, ...]
    methodology_version: str = METHODOLOGY_VERSION

    def record_tx_ids(self) -> dict[str, list[str]]:
        out: dict[str, set[str]] = {}
        for line in self.lines:
            out.setdefault(line.source.channel, set()).add(line.source.tx_id)
        return {channel: sorted(ids) for channel, ids in sorted(out.items())}


def totals(lines: Iterable[Line]) -> Footprint:
    """Totals are exact (correctly rounded) sums of the lines."""
    lines = tuple(lines)
    groups: dict[tuple[int, int | None], list[float]] = {}
    for line in lines:
        groups.setdefault((line.scope, line.category), []).append(line.kg_co2e)
    by_scope = tuple(
        ScopeTotal(scope, category, math.fsum(values))
        for (scope, category), values in sorted(
            groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)
        )
    )
    return Footprint(math.fsum(line.kg_co2e for line in lines), by_scope, lines)


# ---------------------------------------------------------------------- needs

# A need is ("key", record key) or ("query", canonical JSON of a query) on one channel;
# for the footprint channel, ("id", footprint id).
Need = tuple[str, str]


def _query(
    kind: str,
    attributes: Iterable[str] = (),
    where: dict[str, Any] | None = None,
    starts_with: dict[str, str] | None = None,
    matches: dict[str, str] | None = None,
) -> Need:
    return _query_need(
        kind,
        tuple(attributes),
        tuple(sorted((where or {}).items())),
        tuple(sorted((starts_with or {}).items())),
        tuple(sorted((matches or {}).items())),
    )


@lru_cache(maxsize=4096)
def _query_need(
    kind: str,
    attributes: tuple[str, ...],
    where: tuple[tuple[str, Any], ...],
    starts_with: tuple[tuple[str, str], ...],
    matches: tuple[tuple[str, str], ...] = (),
) -> Need:
    body: dict[str, Any] = {"kind": kind, "attributes": list(attributes)}
    if where:
        body["where"] = dict(where)
    if starts_with:
        body["startsWith"] = dict(starts_with)
    if matches:
        body["matches"] = dict(matches)
    return query_need(body)


def query_need(body: dict[str, Any]) -> Need:
    """A query as a need: canonical JSON, so equal queries in one request are one need."""
    return ("query", json.dumps(body, sort_keys=True, separators=(",", ":")))


AUDITED_KINDS = {
    "utility": "invoice",
    "shipping": "shipment",
    "airline": "ticket",
    "commodity": "purchase",
}


def own_records(kind: str, owner: str, where: dict[str, Any] | None = None) -> Need:
    """A query for the caller's own audited records: its MSP id leads their keys.

    Always confined by the caller's organisation, even for a writer (an auditor may read every
    customer's records, but "your own" must not pull them into the auditor's footprint).
    """
    return _query(kind, [owner or "-"], where=where)


def needs(request: FootprintRequest, owners: dict[str, str] | None = None) -> dict[str, list[Need]]:
    """Which records the request needs, per channel (deduplicated, in a stable order).

    `owners` maps a channel to the caller's MSP id there (from its wallet credential).
    """
    owners = owners or {}
    out: dict[str, list[Need]] = {}

    def add(channel: str, need: Need) -> None:
        bucket = out.setdefault(channel, [])
        if need not in bucket:
            bucket.append(need)

    for i, e in enumerate(request.electricity):
        if e.utility_id is not None:
            add(
                "utility",
                own_records(
                    "invoice",
                    owners.get("utility", ""),
                    {"utility_id": _utility_number(e.utility_id, f"electricity[{i}].utilityId")},
                ),
            )
        if e.grid_region:
            add("utility", _query("grid_rate", ["egrid_subregion", e.grid_region.strip().upper()]))
        elif e.country:
            add("utility", _query("grid_rate", ["eu_country", e.country.strip().upper()]))
    for f in request.freight:
        if f.mode in FREIGHT_MODES and f.mode != "inland_waterway":
            add("shipping", _freight_need(f))
    bands: dict[tuple[str, str], str | None] = {}
    for fl in request.flights:
        route = (fl.origin, fl.destination)
        if route not in bands:
            bands[route] = _flight_band(fl)
        if (
            bands[route] is not None
        ):  # otherwise compute() refuses the flight before it asks for a factor
            add("airline", _flight_need(bands[route]))
    for p in request.purchases:
        if p.naics:
            add("commodity", ("key", _spend_key(p.naics)))
        elif p.commodity:
            add("commodity", _material_need(p.commodity))
    for u in request.upstream:
        add("footprint", ("id", u.footprint_id))
    if request.from_channels:
        for channel, kind in AUDITED_KINDS.items():
            add(channel, own_records(kind, owners.get(channel, "")))
    return out


# -------------------------------------------------------------------- compute

# What the resolvers hand back: the answer to a need (records, or a ChannelError raised).
Answer = Callable[[str, Need], Any]


class Unfetched(LookupError):
    """Raised by an answer function for a need that `needs()` did not list.

    `needs()` asks for the narrowest records that serve a well-formed request (the one
    vehicle, haul band, NAICS key or material); only when those miss does `compute()`
    ask for a wider need (a mode's vehicles, a subsector's codes) to find a fallback
    or name the close matches.  The caller fetches that need and calls `compute()` again.
    """

    def __init__(self, channel: str, need: Need) -> None:
        super().__init__(f"{channel}: {need[1]}")
        self.channel = channel
        self.need = need


class _Memo:
    """Choices already made within one `compute()` call, so 10,000 alike activities cost one lookup.

    It lives for one call only: nothing here outlives the request it serves.
    """

    def __init__(self) -> None:
        self._done: dict[tuple[Any, ...], Any] = {}

    def get(self, key: tuple[Any, ...], make: Callable[[], Any]) -> Any:
        if key not in self._done:
            self._done[key] = make()
        return self._done[key]


def compute(
    request: FootprintRequest, answer: Answer, owners: dict[str, str] | None = None
) -> Footprint:
    owners = owners or {}
    memo = _Memo()
    lines: list[Line] = []
    used: set[str] = set()  # audited record keys already on a line
    for i, activity in enumerate(request.electricity):
        lines.extend(_electricity(i, activity, answer, used, owners.get("utility", "")))
    for i, activity in enumerate(request.freight):
        lines.append(_freight(i, activity, answer, memo))
    for i, activity in enumerate(request.flights):
        lines.append(_flight(i, activity, answer, memo))
    for i, activity in enumerate(request.purchases):
        lines.append(_purchase(i, activity, answer, memo))
    for i, activity in enumerate(request.upstream):
        lines.append(_upstream(i, activity, answer))
    if request.from_channels:
        for channel, kind in AUDITED_KINDS.items():
            for record in answer(channel, own_records(kind, owners.get(channel, ""))):
                if record["key"] not in used:
                    lines.append(audited_line(channel, record))
                    used.add(record["key"])
    return totals(lines)


def provenance(channel: str, record: dict[str, Any]) -> Provenance:
    source = record.get("source") or {}
    return Provenance(
        channel=channel,
        record_key=record["key"],
        tx_id=record["txId"],
        dataset=str(source.get("dataset", "")),
        edition=str(source.get("edition", "")),
        source_row=str(source.get("row", "")),
        source_sha256=str(source.get("sha256", "")),
    )


_AUDITED_SCOPE = {"invoice": (2, None), "shipment": (3, 4), "ticket": (3, 6), "purchase": (3, 1)}


def audited_line(channel: str, record: dict[str, Any]) -> Line:
    """A line whose figure the auditor stated on the caller's own record."""
    p = record["payload"]
    scope, category = _AUDITED_SCOPE[record["kind"]]
    descriptions = {
        "invoice": lambda: (
            f"utility invoice {p['invoice_id']}: {_n(p['kwh'])} kWh, {p['period_start']} to "
            f"{p['period_end']}, grid {p['grid_region']}"
        ),
        "shipment": lambda: (
            f"shipment {p['shipment_id']}: {_n(p['tonnes'])} t × {_n(p['km'])} km by {p['mode']}"
        ),
        "ticket": lambda: (
            f"ticket {p['ticket_id']}: {p['passengers']} × {p['origin']}→{p['destination']} "
            f"{p['cabin_class']}"
        ),
        "purchase": lambda: (
            f"purchase {p['purchase_id']}: "
            + (
                f"{_n(p['tonnes'])} t {p.get('commodity')}"
                if p.get("tonnes") is not None
                else f"USD {_n(p['amount_usd'])} NAICS {p.get('naics')}"
            )
        ),
    }
    return Line(
        kg_co2e=float(p["kg_co2e"]),
        channel=channel,
        activity=descriptions[record["kind"]]() + " (audited)",
        basis=AUDITED,
        scope=scope,
        category=category,
        source=provenance(channel, record),
    )


def _n(value: float) -> str:
    return f"{value:,.10g}"


def _positive(value: float | None, path: str, *, allow_zero: bool = True) -> float:
    if (
        value is None
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value < 0
        or (value == 0 and not allow_zero)
    ):
        raise EngineError(
            path,
            f"must be a {'non-negative' if allow_zero else 'positive'} finite number, got "
            f"{value!r}",
        )
    return float(value)


def _utility_number(value: str, path: str) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise EngineError(path, f"must be an EIA utility number, got {value!r}") from None
    if number <= 0:
        raise EngineError(path, f"must be an EIA utility number, got {value!r}")
    return number


# ---------------------------------------------------------------- electricity


def _electricity(
    i: int, e: ElectricityActivity, answer: Answer, used: set[str], owner: str
) -> list[Line]:
    path = f"electricity[{i}]"
    kwh = _positive(e.kwh, f"{path}.kwh")
    if e.utility_id is not None:
        number = _utility_number(e.utility_id, f"{path}.utilityId")
        invoices = [
            r
            for r in answer("utility", own_records("invoice", owner, {"utility_id": number}))
            if e.year is None or r["payload"]["period_start"][:4] == str(e.year)
        ]
        if invoices:  # the caller's audited invoices take precedence over a calculation
            used.update(r["key"] for r in invoices)
            lines = [audited_line("utility", r) for r in invoices]
            note = f" (audited; stands in for the {_n(kwh)} kWh given for utility {number})"
            return [
                dataclasses.replace(line, activity=line.activity.removesuffix(" (audited)") + note)
                for line in lines
            ]
        if not (e.grid_region or e.country):
            raise EngineError(
                path,
                f"no audited invoice of utility {number} on the utility channel for you; "
                "give gridRegion (eGRID subregion) or country (EU, ISO 3166 alpha-2) to calculate",
            )
    if e.grid_region and e.country:
        raise EngineError(path, "give gridRegion or country, not both")
    if e.grid_region:
        region_type, region = "egrid_subregion", e.grid_region.strip().upper()
    elif e.country:
        region_type, region = "eu_country", e.country.strip().upper()
    else:
        raise EngineError(
            path,
            "needs gridRegion (an eGRID subregion such as CAMX) or country (an EU country such as "
            "DE)",
        )
    rates = answer("utility", _query("grid_rate", [region_type, region]))
    if not rates:
        what = (
            "eGRID subregion"
            if region_type == "egrid_subregion"
            else "EU country (ISO 3166 alpha-2) with an EEA rate"
        )
        raise EngineError(
            f"{path}.{'gridRegion' if e.grid_region else 'country'}",
            f"{region!r} is not an {what} on the utility channel",
        )
    by_year = {r["payload"]["year"]: r for r in rates}
    year = e.year if e.year is not None else max(by_year)
    if year not in by_year:
        raise EngineError(
            f"{path}.year",
            f"{year} is not on the utility channel for {region}; years: {', '.join(str(y) for y in sorted(by_year))}",
        )
    return electricity_line(kwh, by_year[year], e.include_losses)


def electricity_line(kwh: float, rate: dict[str, Any], include_losses: bool = False) -> list[Line]:
    """Scope 2, location-based: kWh × grid rate (eGRID lb/MWh with AR5 GWPs, or EEA g CO2/kWh).

    With `include_losses`, a second line of Scope 3 category 3 for the electricity lost in the grid:
    kWh × loss ÷ (1 − loss) at the same rate (EPA Hub 2025, notes to Table 6).
    """
    p = rate["payload"]
    source = provenance("utility", rate)
    if p["unit"] == "lb/MWh":
        gwp = p.get("gwp") or {}
        if "ch4" not in gwp or "n2o" not in gwp:
            raise EngineError(
                "electricity", f"the {p['region']} rate carries no GWPs to combine its gases"
            )
        per_kwh = {
            "CO2": units.lb_per_mwh_to_kg_per_kwh(p["co2_lb_per_mwh"]),
            "CH4": units.lb_per_mwh_to_kg_per_kwh(p["ch4_lb_per_mwh"]) * gwp["ch4"],
            "N2O": units.lb_per_mwh_to_kg_per_kwh(p["n2o_lb_per_mwh"]) * gwp["n2o"],
        }
        rate_lb = (
            p["co2_lb_per_mwh"]
            + p["ch4_lb_per_mwh"] * gwp["ch4"]
            + p["n2o_lb_per_mwh"] * gwp["n2o"]
        )
        factor = Factor(
            rate_lb,
            f"lb CO2e/MWh ({gwp.get('basis', 'GWP')}: CH4 {gwp['ch4']}, N2O {gwp['n2o']})",
            source,
        )
        label = f"eGRID {p['region']} {p['year']}"
    else:
        per_kwh = {"CO2": units.g_per_kwh_to_kg_per_kwh(p["co2_g_per_kwh"])}
        factor = Factor(p["co2_g_per_kwh"], "g CO2/kWh (CO2 only, gross generation)", source)
        label = f"EEA {p['region_name']} {p['year']}"

    def line(quantity: float, activity: str, scope: int, category: int | None) -> Line:
        gases = tuple(Gas(gas, quantity * value) for gas, value in per_kwh.items())
        return Line(
            kg_co2e=math.fsum(g.kg for g in gases),
            channel="utility",
            activity=activity,
            basis=CALCULATED,
            scope=scope,
            category=category,
            source=source,
            factor=factor,
            quantity=quantity,
            quantity_unit="kWh",
            gases=gases,
        )

    lines = [line(kwh, f"{_n(kwh)} kWh, {label}", 2, None)]
    if include_losses:
        loss = p.get("grid_gross_loss")
        if loss is None:
            raise EngineError(
                "electricity.includeLosses", f"{p['region']} has no grid gross loss on the channel"
            )
        lost = kwh * loss / (1 - loss)
        lines.append(
            line(
                lost,
                f"{_n(round(lost, 6))} kWh lost in T&D ({loss:.1%} grid gross loss) for "
                f"{_n(kwh)} kWh, {label}",
                3,
                3,
            )
        )
    return lines


# -------------------------------------------------------------------- freight


def haul_band(origin: dict[str, Any], destination: dict[str, Any], km: float) -> str:
    """DESNZ haul bands: domestic (UK–UK), short/long-haul to or from the UK (≤/> 3,700 km),
    international.
    """
    in_uk = (origin["country"] in UK_TERRITORIES, destination["country"] in UK_TERRITORIES)
    if all(in_uk):
        return "domestic"
    if any(in_uk):
        return "short_haul" if km <= SHORT_HAUL_LIMIT_KM else "long_haul"
    return "international"


_AIR_FREIGHT_VEHICLE = {
    "domestic": "Domestic, to/from UK",
    "short_haul": "Short-haul, to/from UK",
    "long_haul": "Long-haul, to/from UK",
    "international": "International, to/from non-UK",
}


@lru_cache(maxsize=8192)
def _norm(text: str | None) -> str:
    """Names as the engine compares them: the contract's `matches` folds text alike (fold_text)."""
    return " ".join((text or "").split()).casefold()


def _freight(i: int, f: FreightActivity, answer: Answer, memo: _Memo) -> Line:
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
    km, method, places = _freight_distance(path, f)
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
                    "air freight given by km needs a vehicle (the DESNZ haul band, "
                    f"one of: {', '.join(_AIR_FREIGHT_VEHICLE.values())}), or origin and "
                    "destination airports",
                )
            vehicle = _AIR_FREIGHT_VEHICLE[haul_band(places[0], places[1], km)]
        else:
            vehicle = DEFAULT_VEHICLE[f.mode]
    record = memo.get(
        ("freight", f.mode, _norm(vehicle), f.vehicle_class, f.radiative_forcing),
        lambda: _pick_freight_factor(path, f, vehicle, answer),
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
        f"{p['vehicle']}{' (' + variant + ')' if variant else ''}, {'WTW' if f.well_to_wheel else 'TTW'}"
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


def _freight_distance(
    path: str, f: FreightActivity
) -> tuple[float, str, tuple[Any, Any, str, str] | None]:
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


def _freight_need(f: FreightActivity) -> Need:
    """The vehicle's rows when the request names it (or the mode has a default); else the mode's."""
    vehicle = f.vehicle if f.vehicle is not None else DEFAULT_VEHICLE.get(f.mode)
    if vehicle is None or not vehicle.strip():
        return _query("freight_factor", [f.mode])
    return _query("freight_factor", [f.mode], matches={"vehicle": vehicle})


def _pick_freight_factor(
    path: str, f: FreightActivity, vehicle: str, answer: Answer
) -> dict[str, Any]:
    records = answer("shipping", _freight_need(f))
    matching = [r for r in records if _norm(r["payload"]["vehicle"]) == _norm(vehicle)]
    if not matching:
        records = answer(
            "shipping", _query("freight_factor", [f.mode])
        )  # every vehicle: the close matches
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
        # Comma-separated parts, each naming the row's load, variant or category ("refrigerated, 50%
        # Laden").
        # A whole class may hold commas itself ("10,000–59,999 dwt"), so it is tried first.
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


# -------------------------------------------------------------------- flights


def _flight(i: int, fl: FlightActivity, answer: Answer, memo: _Memo) -> Line:
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
            for r in answer("airline", _flight_need(haul))
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
    return Line(
        kg_co2e=kg,
        channel="airline",
        activity=f"{fl.passengers} passenger{'s' if fl.passengers != 1 else ''} {a['iata']}→{b['iata']} "
        f"{_n(round(km, 2))} km (great circle), {haul.replace('_', '-')} "
        f"{fl.cabin_class.replace('_', ' ')}"
        f"{' (DESNZ ' + applied + ' factor)' if applied != fl.cabin_class else ''}, {rf}",
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


# ------------------------------------------------------------------ purchases


def _purchase(i: int, pu: PurchaseActivity, answer: Answer, memo: _Memo) -> Line:
    path = f"purchases[{i}]"
    if pu.naics:
        if pu.amount_usd is None or pu.tonnes is not None:
            raise EngineError(
                path,
                "a purchase by NAICS code needs amountUsd (and no tonnes): EPA factors are per USD",
            )
        usd = _positive(pu.amount_usd, f"{path}.amountUsd")
        found = answer("commodity", ("key", _spend_key(pu.naics)))
        if found is None:
            near = [
                f"{r['payload']['naics']} {r['payload']['title']}"
                for r in answer("commodity", _naics_neighbours(pu.naics))
            ]
            raise EngineError(
                f"{path}.naics",
                f"{pu.naics!r} is not a NAICS-6 code on the commodity channel; "
                f"close matches: {'; '.join(near[:8]) or 'none in its subsector'}",
            )
        p = found["payload"]
        source = provenance("commodity", found)
        return Line(
            kg_co2e=usd * p["kg_co2e_per_usd"],
            channel="commodity",
            activity=f"USD {_n(usd)} ({p['price_year']} USD, purchaser price) of NAICS {p['naics']} {p['title']}",
            basis=CALCULATED,
            scope=3,
            category=1,
            source=source,
            factor=Factor(
                p["kg_co2e_per_usd"], f"kg CO2e/{p['price_year']} USD (with margins)", source
            ),
            quantity=usd,
            quantity_unit="USD",
        )
    if pu.commodity:
        if pu.tonnes is None or pu.amount_usd is not None:
            raise EngineError(
                path,
                "a purchase by commodity needs tonnes (and no amountUsd): DESNZ material factors "
                "are per tonne",
            )
        tonnes = _positive(pu.tonnes, f"{path}.tonnes")
        wanted, production = _norm(pu.commodity), _norm(pu.production or DEFAULT_PRODUCTION)

        def named(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [
                r
                for r in records
                if _norm(r["payload"]["material"]) == wanted
                or r["attributes"][0] == wanted.replace(" ", "_")
            ]

        same = memo.get(
            ("material", wanted),
            lambda: (
                named(answer("commodity", _material_need(pu.commodity)))
                or named(answer("commodity", _query("material_factor")))
            ),
        )  # then by name, among all
        if not same:
            materials = answer("commodity", _query("material_factor"))
            names = sorted({r["payload"]["material"] for r in materials})
            close = (
                geo.close_matches(pu.commodity, names)
                or [n for n in names if wanted.split(":")[0] in _norm(n)][:8]
            )
            raise EngineError(
                f"{path}.commodity",
                f"{pu.commodity!r} is not a DESNZ material; close matches: {', '.join(close) or 'none'}",
            )
        record = next((r for r in same if _norm(r["payload"]["production"]) == production), None)
        if record is None:
            offered = sorted(r["payload"]["production"] for r in same)
            raise EngineError(
                f"{path}.production",
                f"{same[0]['payload']['material']} has no {pu.production or DEFAULT_PRODUCTION!r} "
                "factor; "
                f"it has: {', '.join(offered)}",
            )
        p = record["payload"]
        source = provenance("commodity", record)
        return Line(
            kg_co2e=tonnes * p["kg_co2e_per_tonne"],
            channel="commodity",
            activity=f"{_n(tonnes)} t {p['material']} ({p['production'].lower()})",
            basis=CALCULATED,
            scope=3,
            category=1,
            source=source,
            factor=Factor(p["kg_co2e_per_tonne"], "kg CO2e/tonne", source),
            quantity=tonnes,
            quantity_unit="t",
        )
    raise EngineError(path, "needs commodity (with tonnes) or naics (with amountUsd)")


def _spend_key(naics: str) -> str:
    code = naics.strip()
    return f"spend_factor/{code[:3]}/{code}"


def _flight_band(fl: FlightActivity) -> str | None:
    """The DESNZ haul band of a flight, or None when an airport is not known (compute() then says
    which, with close matches, for the first such flight only: those are costly to find)."""
    a, b = geo.find_airport(fl.origin), geo.find_airport(fl.destination)
    if a is None or b is None:
        return None
    return haul_band(a, b, geo.great_circle_km(a["lat"], a["lon"], b["lat"], b["lon"]))


def _flight_need(band: str) -> Need:
    """Every cabin class of one haul band (the fallbacks for unpublished classes are among them)."""
    return _query("flight_factor", [band])


def _material_need(commodity: str) -> Need:
    """The rows whose key is the material's slug; compute() widens to every material when none is."""
    return _query("material_factor", [_slug(commodity) or "-"])


def _slug(text: str) -> str:
    """The contract's key slug (chaincode.validation.slug, not imported: the engine stays free of
    the chaincode library; a test keeps the two alike)."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _naics_neighbours(naics: str) -> Need:
    """The codes of the same NAICS subsector (first three digits): the close matches for a miss."""
    subsector = naics.strip()[:3] or "-"
    return _query("spend_factor", [subsector])


# ------------------------------------------------------------------- upstream


def _upstream(i: int, u: UpstreamFootprint, answer: Answer) -> Line:
    path = f"upstream[{i}]"
    if not (0 < u.share <= 1) or not math.isfinite(u.share):
        raise EngineError(f"{path}.share", f"must be in (0, 1], got {u.share!r}")
    record = answer("footprint", ("id", u.footprint_id))
    if record is None:
        raise EngineError(
            f"{path}.footprintId",
            f"no published footprint {u.footprint_id!r} on the footprint channel",
        )
    total = float(record["footprint"]["totalKgCO2e"])
    owner = record["owner"]
    source = Provenance(
        "footprint",
        record["id"],
        record["txId"],
        "published footprint",
        str(record.get("methodologyVersion", "")),
        record["id"],
        str(record.get("inputsHash", "")),
    )
    return Line(
        kg_co2e=u.share * total,
        channel="footprint",
        activity=f"{u.share:.6g} × footprint {record['id'][:12]}… of {owner.get('mspId')} ({_n(total)} kg CO2e)",
        basis=CALCULATED,
        scope=3,
        category=1,
        source=source,
        factor=Factor(total, "kg CO2e (supplier's published total)", source),
        quantity=u.share,
        quantity_unit="share",
    )


# ------------------------------------------------------------------ documents


def footprint_document(request: FootprintRequest, footprint: Footprint) -> dict[str, Any]:
    """What `publishFootprint` stores on the footprint channel."""

    def line_json(line: Line) -> dict[str, Any]:
        body = asdict(line)
        body["kgCO2e"] = body.pop("kg_co2e")
        return body

    return {
        "footprint": {
            "totalKgCO2e": footprint.total_kg_co2e,
            "byScope": [
                {"scope": s.scope, "category": s.category, "kgCO2e": s.kg_co2e}
                for s in footprint.by_scope
            ],
            "lines": [line_json(line) for line in footprint.lines],
        },
        "methodologyVersion": footprint.methodology_version,
        "inputsHash": request.inputs_hash(),
        "inputs": json.loads(request.canonical()),
        "recordTxIds": footprint.record_tx_ids(),
    }


def footprint_from_document(document: dict[str, Any]) -> Footprint:
    """A published footprint read back into engine types."""
    body = document["footprint"]
    lines = []
    for raw in body["lines"]:
        raw = dict(raw)
        kg = raw.pop("kgCO2e")
        source = Provenance(**raw.pop("source"))
        factor = raw.pop("factor")
        gases = tuple(Gas(**g) for g in raw.pop("gases", ()))
        lines.append(
            Line(
                kg_co2e=kg,
                source=source,
                gases=gases,
                factor=Factor(factor["value"], factor["unit"], Provenance(**factor["provenance"]))
                if factor
                else None,
                **raw,
            )
        )
    return Footprint(
        body["totalKgCO2e"],
        tuple(
            ScopeTotal(s["scope"], s.get("category"), s["kgCO2e"]) for s in body.get("byScope", [])
        ),
        tuple(lines),
        document.get("methodologyVersion", ""),
    )

"""Electricity: Scope 2, location-based, from a grid rate; or the caller's audited invoices.

An activity that names a utility stands for the caller's audited invoices of it when there are
any (methodology §6); otherwise it is calculated from the rate of the grid region or country.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Iterator
from typing import Any

from .. import units
from .core import CALCULATED, ElectricityActivity, EngineError, Factor, Gas, Line, provenance
from .quantities import _n, _positive
from .records import Answer, Need, _query, audited_line, own_records


def needs(activities: Iterable[ElectricityActivity], owner: str) -> Iterator[Need]:
    """The utility channel's records for these activities: invoices, then each one's grid rate."""
    for i, e in enumerate(activities):
        if e.utility_id is not None:
            number = _utility_number(e.utility_id, f"electricity[{i}].utilityId")
            yield _invoice_need(owner, number)
        if e.grid_region or e.country:
            yield _rate_need(*_region(e))


def lines(i: int, e: ElectricityActivity, answer: Answer, used: set[str], owner: str) -> list[Line]:
    """The lines of one activity; `used` collects the audited invoices that stand in for it."""
    path = f"electricity[{i}]"
    kwh = _positive(e.kwh, f"{path}.kwh")
    if e.utility_id is not None:
        number = _utility_number(e.utility_id, f"{path}.utilityId")
        invoices = [
            r
            for r in answer("utility", _invoice_need(owner, number))
            if e.year is None or r["payload"]["period_start"][:4] == str(e.year)
        ]
        if invoices:  # the caller's audited invoices take precedence over a calculation
            used.update(r["key"] for r in invoices)
            note = f" (audited; stands in for the {_n(kwh)} kWh given for utility {number})"
            return [
                dataclasses.replace(line, activity=line.activity.removesuffix(" (audited)") + note)
                for line in (audited_line("utility", r) for r in invoices)
            ]
        if not (e.grid_region or e.country):
            raise EngineError(
                path,
                f"no audited invoice of utility {number} on the utility channel for you; "
                "give gridRegion (eGRID subregion) or country (EU, ISO 3166 alpha-2) to calculate",
            )
    if e.grid_region and e.country:
        raise EngineError(path, "give gridRegion or country, not both")
    if not (e.grid_region or e.country):
        raise EngineError(
            path,
            "needs gridRegion (an eGRID subregion such as CAMX) "
            "or country (an EU country such as DE)",
        )
    region_type, region = _region(e)
    rates = answer("utility", _rate_need(region_type, region))
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
        years = ", ".join(str(y) for y in sorted(by_year))
        raise EngineError(
            f"{path}.year", f"{year} is not on the utility channel for {region}; years: {years}"
        )
    return electricity_line(kwh, by_year[year], e.include_losses)


def electricity_line(kwh: float, rate: dict[str, Any], include_losses: bool = False) -> list[Line]:
    """Scope 2, location-based: kWh × grid rate, from EPA GHG Emission Factors Hub 2025 Table 6
    (eGRID2023 total output, lb/MWh, gases combined with AR5 GWPs) or EEA co2-emission-intensity-6
    (g CO2/kWh, CO2 only).

    With `include_losses`, a second line of Scope 3 category 3 for the electricity lost in the grid:
    kWh × loss ÷ (1 − loss) at the same rate (Table 6's grid gross loss; Hub notes to Table 6).
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

    out = [line(kwh, f"{_n(kwh)} kWh, {label}", 2, None)]
    if include_losses:
        loss = p.get("grid_gross_loss")
        if loss is None:
            raise EngineError(
                "electricity.includeLosses", f"{p['region']} has no grid gross loss on the channel"
            )
        lost = kwh * loss / (1 - loss)
        out.append(
            line(
                lost,
                f"{_n(round(lost, 6))} kWh lost in T&D ({loss:.1%} grid gross loss) for "
                f"{_n(kwh)} kWh, {label}",
                3,
                3,
            )
        )
    return out


def _region(e: ElectricityActivity) -> tuple[str, str]:
    """The rate's region type and code: the eGRID subregion when given, else the EU country."""
    if e.grid_region:
        return "egrid_subregion", e.grid_region.strip().upper()
    return "eu_country", (e.country or "").strip().upper()


def _invoice_need(owner: str, utility_number: int) -> Need:
    """The caller's own audited invoices of one utility."""
    return own_records("invoice", owner, {"utility_id": utility_number})


def _rate_need(region_type: str, region: str) -> Need:
    return _query("grid_rate", [region_type, region])


def _utility_number(value: str, path: str) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise EngineError(path, f"must be an EIA utility number, got {value!r}") from None
    if number <= 0:
        raise EngineError(path, f"must be an EIA utility number, got {value!r}")
    return number

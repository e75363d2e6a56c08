"""Purchases: Scope 3 category 1, by spend (EPA, per NAICS-6 code) or by mass (DESNZ materials).

A purchase gives exactly one of the two: a NAICS code with an amount in 2022 USD, or a material
with tonnes (and, optionally, its production route).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from .. import geo
from .core import CALCULATED, EngineError, Factor, Line, PurchaseActivity, provenance
from .quantities import _n, _positive
from .records import Answer, Need, _Memo, _norm, _query, _slug

DEFAULT_PRODUCTION = "Primary material production"


def needs(activities: Iterable[PurchaseActivity]) -> Iterator[Need]:
    """The commodity channel's records: the NAICS code's key, or the material's rows."""
    for p in activities:
        if p.naics:
            yield ("key", _spend_key(p.naics))
        elif p.commodity:
            yield _material_need(p.commodity)


def line(i: int, pu: PurchaseActivity, answer: Answer, memo: _Memo) -> Line:
    path = f"purchases[{i}]"
    if pu.naics:
        return _by_spend(path, pu.naics, pu, answer)
    if pu.commodity:
        return _by_mass(path, pu.commodity, pu, answer, memo)
    raise EngineError(path, "needs commodity (with tonnes) or naics (with amountUsd)")


def _by_spend(path: str, naics: str, pu: PurchaseActivity, answer: Answer) -> Line:
    """USD (2022, purchaser price) × kg CO2e per USD with margins, from the EPA Supply Chain GHG
    Emission Factors v1.3 by NAICS-6 (SupplyChainGHGEmissionFactors_v1.3.0_NAICS_CO2e_USD2022)."""
    if pu.amount_usd is None or pu.tonnes is not None:
        raise EngineError(
            path,
            "a purchase by NAICS code needs amountUsd (and no tonnes): EPA factors are per USD",
        )
    usd = _positive(pu.amount_usd, f"{path}.amountUsd")
    found = answer("commodity", ("key", _spend_key(naics)))
    if found is None:
        near = [
            f"{r['payload']['naics']} {r['payload']['title']}"
            for r in answer("commodity", _naics_neighbours(naics))
        ]
        raise EngineError(
            f"{path}.naics",
            f"{naics!r} is not a NAICS-6 code on the commodity channel; "
            f"close matches: {'; '.join(near[:8]) or 'none in its subsector'}",
        )
    p = found["payload"]
    source = provenance("commodity", found)
    return Line(
        kg_co2e=usd * p["kg_co2e_per_usd"],
        channel="commodity",
        activity=f"USD {_n(usd)} ({p['price_year']} USD, purchaser price) "
        f"of NAICS {p['naics']} {p['title']}",
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


def _by_mass(path: str, commodity: str, pu: PurchaseActivity, answer: Answer, memo: _Memo) -> Line:
    """Tonnes × kg CO2e per tonne of the material and production route, from the DESNZ 2023 flat
    file, "Material use"."""
    if pu.tonnes is None or pu.amount_usd is not None:
        raise EngineError(
            path,
            "a purchase by commodity needs tonnes (and no amountUsd): "
            "DESNZ material factors are per tonne",
        )
    tonnes = _positive(pu.tonnes, f"{path}.tonnes")
    wanted, production = _norm(commodity), _norm(pu.production or DEFAULT_PRODUCTION)

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
            named(answer("commodity", _material_need(commodity)))
            or named(answer("commodity", _query("material_factor")))
        ),
    )  # then by name, among all
    if not same:
        materials = answer("commodity", _query("material_factor"))
        names = sorted({r["payload"]["material"] for r in materials})
        close = (
            geo.close_matches(commodity, names)
            or [n for n in names if wanted.split(":")[0] in _norm(n)][:8]
        )
        raise EngineError(
            f"{path}.commodity",
            f"{commodity!r} is not a DESNZ material; close matches: {', '.join(close) or 'none'}",
        )
    record = next((r for r in same if _norm(r["payload"]["production"]) == production), None)
    if record is None:
        offered = sorted(r["payload"]["production"] for r in same)
        raise EngineError(
            f"{path}.production",
            f"{same[0]['payload']['material']} has no "
            f"{pu.production or DEFAULT_PRODUCTION!r} factor; it has: {', '.join(offered)}",
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


def _spend_key(naics: str) -> str:
    code = naics.strip()
    return f"spend_factor/{code[:3]}/{code}"


def _naics_neighbours(naics: str) -> Need:
    """The codes of the same NAICS subsector (first three digits): the close matches for a miss."""
    subsector = naics.strip()[:3] or "-"
    return _query("spend_factor", [subsector])


def _material_need(commodity: str) -> Need:
    """The rows whose key is the material's slug; line() widens to every material when none is."""
    return _query("material_factor", [_slug(commodity) or "-"])

"""Upstream footprints: Scope 3 category 1, a share of a supplier's published footprint.

The engine cannot see inside the supplier's footprint: the line rests on its published total and
cites the footprint channel's record of it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

from .core import CALCULATED, EngineError, Factor, Line, Provenance, UpstreamFootprint
from .quantities import _n
from .records import Answer, Need


def needs(activities: Iterable[UpstreamFootprint]) -> Iterator[Need]:
    """The footprint channel's published footprints, by id."""
    for u in activities:
        yield _need(u)


def line(i: int, u: UpstreamFootprint, answer: Answer) -> Line:
    """Share × the supplier's published totalKgCO2e, read from the footprint channel (the
    supplier's footprint is the source; no factor table)."""
    path = f"upstream[{i}]"
    if not (0 < u.share <= 1) or not math.isfinite(u.share):
        raise EngineError(f"{path}.share", f"must be in (0, 1], got {u.share!r}")
    record = answer("footprint", _need(u))
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
        activity=f"{u.share:.6g} × footprint {record['id'][:12]}… of {owner.get('mspId')} "
        f"({_n(total)} kg CO2e)",
        basis=CALCULATED,
        scope=3,
        category=1,
        source=source,
        factor=Factor(total, "kg CO2e (supplier's published total)", source),
        quantity=u.share,
        quantity_unit="share",
    )


def _need(u: UpstreamFootprint) -> Need:
    return ("id", u.footprint_id)

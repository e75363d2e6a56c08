"""The engine's nouns: the activities a request holds, the lines and totals it comes to, and the
channel record each number rests on."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

METHODOLOGY_VERSION = "datachannels-methodology/2026.1"

CALCULATED = "CALCULATED"
AUDITED = "AUDITED"


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


# --------------------------------------------------------------------- totals


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

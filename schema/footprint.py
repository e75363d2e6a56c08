"""Footprint inputs and results: what `footprint` computes and `publishFootprint` stores."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Mapping
from enum import Enum
from typing import Any

import strawberry
from strawberry.types import Info
from strawberry.utils.str_converters import to_camel_case

from ..resolvers import engine
from .airline import CabinClass
from .common import Provenance
from .shipping import FreightMode


@strawberry.input(description="Electricity consumed (Scope 2, location-based).")
class ElectricityActivity:
    kwh: float
    year: int | None = strawberry.field(
        default=None, description="Default: the latest year on the channel."
    )
    utility_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="EIA utility number: your audited invoices of it take precedence over a "
        "calculation.",
    )
    grid_region: str | None = strawberry.field(
        default=None, description="eGRID subregion acronym, e.g. CAMX."
    )
    country: str | None = strawberry.field(
        default=None, description="EU country, ISO 3166 alpha-2, e.g. DE."
    )
    include_losses: bool = strawberry.field(
        default=False, description="Add grid transmission and distribution losses."
    )


@strawberry.input(description="Goods moved (Scope 3 category 4).")
class FreightActivity:
    mode: FreightMode
    tonnes: float | None = None
    short_tons: float | None = None
    km: float | None = None
    miles: float | None = None
    origin: str | None = strawberry.field(
        default=None, description="UN/LOCODE port (sea) or IATA airport (air)."
    )
    destination: str | None = None
    vehicle: str | None = strawberry.field(
        default=None, description="DESNZ vehicle name, any case, e.g. 'container ship'."
    )
    vehicle_class: str | None = strawberry.field(
        default=None, description="DESNZ size or load, e.g. '8000+ TEU', '50% Laden'."
    )
    well_to_wheel: bool = True
    radiative_forcing: bool = strawberry.field(default=True, description="Air freight only.")


@strawberry.input(description="Business flights (Scope 3 category 6).")
class FlightActivity:
    origin: str = strawberry.field(description="IATA airport code.")
    destination: str
    cabin_class: CabinClass | None = CabinClass.AVERAGE
    passengers: int | None = 1
    radiative_forcing: bool | None = True


@strawberry.input(
    description="Purchased goods (Scope 3 category 1): tonnes of a material or USD of an industry."
)
class PurchaseActivity:
    tonnes: float | None = None
    amount_usd: float | None = None
    commodity: str | None = strawberry.field(
        default=None, description="DESNZ material, e.g. 'Plastics: PET (incl. forming)'."
    )
    naics: str | None = strawberry.field(
        default=None, description="NAICS-6 industry code, e.g. 331110."
    )
    production: str | None = strawberry.field(
        default=None, description="DESNZ production route; default primary production."
    )


@strawberry.input(description="A share of a supplier's published footprint (Scope 3 category 1).")
class UpstreamFootprint:
    footprint_id: strawberry.ID
    share: float


@strawberry.input
class FootprintInput:
    electricity: list[ElectricityActivity] | None = None
    freight: list[FreightActivity] | None = None
    flights: list[FlightActivity] | None = None
    purchases: list[PurchaseActivity] | None = None
    upstream: list[UpstreamFootprint] | None = None
    from_channels: bool | None = strawberry.field(
        default=False, description="Also include your own audited records."
    )


# What a footprint's input becomes: the engine's request, built straight from the input value
# graphql-core has already coerced and checked (strawberry's `from_input` hook).  Strawberry
# would otherwise convert it field by field into the input classes above, which cost about a
# fifth of a 100-activity footprint's CPU, only for `to_engine` to copy it all again.  The
# engine's activity classes have the input classes' fields under the same names (a test keeps
# them alike), so one rule converts each: the value given (an enum as its value), or for a null
# the engine's default (`cabinClass: null` is an average cabin, `passengers: null` one
# passenger).
_ACTIVITIES: dict[str, type] = {
    "electricity": engine.ElectricityActivity,
    "freight": engine.FreightActivity,
    "flights": engine.FlightActivity,
    "purchases": engine.PurchaseActivity,
    "upstream": engine.UpstreamFootprint,
}
# Per engine class: (input field name, engine field name, default for a null) for each field.
_FIELDS: dict[type, tuple[tuple[str, str, Any], ...]] = {
    cls: tuple(
        (
            to_camel_case(spec.name),
            spec.name,
            None if spec.default is dataclasses.MISSING else spec.default,
        )
        for spec in dataclasses.fields(cls)
    )
    for cls in _ACTIVITIES.values()
}


def footprint_request(value: Mapping[str, Any]) -> engine.FootprintRequest:
    """The engine's request for a coerced `FootprintInput` value (GraphQL field names)."""
    lists: dict[str, tuple[Any, ...]] = {}
    for name, cls in _ACTIVITIES.items():
        fields = _FIELDS[cls]
        lists[name] = tuple(
            cls(
                **{
                    python: _plain(item.get(graphql), default)
                    for graphql, python, default in fields
                }
            )
            for item in value.get(name) or ()
        )
    return engine.FootprintRequest(**lists, from_channels=bool(value.get("fromChannels")))


def _plain(given: Any, default: Any) -> Any:
    """An input field's value as the engine takes it: an enum member as its value (strawberry's
    enums parse to their Python members), a null as the engine's default."""
    if given is None:
        return default
    return given.value if isinstance(given, Enum) else given


def _from_input(cls: type, value: Mapping[str, Any], context: object) -> engine.FootprintRequest:
    return footprint_request(value)


FootprintInput.__strawberry_definition__.from_input = _from_input  # type: ignore[attr-defined]


def as_request(given: object) -> engine.FootprintRequest:
    """A resolver's `input: FootprintInput` argument, which `_from_input` made a request."""
    assert isinstance(given, engine.FootprintRequest), type(given)
    return given


@strawberry.type
class Factor:
    value: float
    unit: str
    provenance: Provenance
    # Copies of the provenance's, set when the factor is made (`of`): plain fields cost
    # strawberry no resolver call, and a 100-line footprint has 300 of them.
    record_key: str = strawberry.field(description="Shortcut for provenance.recordKey.")
    tx_id: str = strawberry.field(description="Shortcut for provenance.txId.")
    dataset: str = strawberry.field(description="Shortcut for provenance.dataset.")

    @classmethod
    def of(cls, value: float, unit: str, provenance: Provenance) -> Factor:
        return cls(
            value=value,
            unit=unit,
            provenance=provenance,
            record_key=provenance.record_key,
            tx_id=provenance.tx_id,
            dataset=provenance.dataset,
        )


@strawberry.type(
    description="One gas's share of a line, in kg CO2e (the parts add up to the line)."
)
class GasAmount:
    gas: str
    kg_co2e: float = strawberry.field(name="kgCO2e")


@strawberry.type
class FootprintLine:
    kg_co2e: float = strawberry.field(name="kgCO2e")
    channel: str
    activity: str
    basis: str = strawberry.field(
        description="CALCULATED from a factor, or AUDITED: the caller's own audited record."
    )
    scope: int
    category: int | None = strawberry.field(description="Scope 3 category number.")
    factor: Factor | None
    source: Provenance = strawberry.field(
        description="The record the line rests on (factor, audited record or footprint)."
    )
    quantity: float | None
    quantity_unit: str | None
    distance_km: float | None
    distance_method: str | None
    ttw_kg_co2e: float | None = strawberry.field(name="ttwKgCO2e")
    wtt_kg_co2e: float | None = strawberry.field(name="wttKgCO2e")
    gases: list[GasAmount]

    @classmethod
    def from_engine(cls, line: engine.Line) -> FootprintLine:
        factor = (
            Factor.of(
                line.factor.value,
                line.factor.unit,
                Provenance.from_engine(line.factor.provenance),
            )
            if line.factor
            else None
        )
        return cls(
            kg_co2e=line.kg_co2e,
            channel=line.channel,
            activity=line.activity,
            basis=line.basis,
            scope=line.scope,
            category=line.category,
            factor=factor,
            source=Provenance.from_engine(line.source),
            quantity=line.quantity,
            quantity_unit=line.quantity_unit,
            distance_km=line.distance_km,
            distance_method=line.distance_method,
            ttw_kg_co2e=line.ttw_kg_co2e,
            wtt_kg_co2e=line.wtt_kg_co2e,
            gases=[GasAmount(gas=g.gas, kg_co2e=g.kg) for g in line.gases],
        )


@strawberry.type
class ScopeTotal:
    scope: int
    category: int | None
    kg_co2e: float = strawberry.field(name="kgCO2e")


@strawberry.type
class Footprint:
    total_kg_co2e: float = strawberry.field(name="totalKgCO2e")
    by_scope: list[ScopeTotal]
    lines: list[FootprintLine]
    methodology_version: str

    @classmethod
    def from_engine(cls, footprint: engine.Footprint) -> Footprint:
        return cls(
            total_kg_co2e=footprint.total_kg_co2e,
            by_scope=[
                ScopeTotal(scope=s.scope, category=s.category, kg_co2e=s.kg_co2e)
                for s in footprint.by_scope
            ],
            lines=[FootprintLine.from_engine(line) for line in footprint.lines],
            methodology_version=footprint.methodology_version,
        )


@strawberry.type
class PublishedFootprint:
    id: strawberry.ID
    tx_id: str
    owner: str = strawberry.field(description="The publisher's MSP id, from the signature.")
    owner_name: str
    published_at: str
    inputs_hash: str
    footprint: Footprint
    committed_block: strawberry.Private[int | None] = None  # known when we just published it

    @strawberry.field
    async def block_number(self, info: Info) -> int:
        if self.committed_block is not None:
            return self.committed_block
        number = info.context.block_number("footprint", self.tx_id)
        if inspect.isawaitable(number):
            number = await number
        return -1 if number is None else number

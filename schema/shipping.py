"""The `shipping` channel: freight factors per tonne.km and the caller's shipments."""

from __future__ import annotations

from enum import Enum

import strawberry
from strawberry.types import Info

from .common import Page, Provenance


@strawberry.enum
class FreightMode(Enum):
    ROAD = "road"
    RAIL = "rail"
    SEA = "sea"
    AIR = "air"
    INLAND_WATERWAY = "inland_waterway"


@strawberry.type(
    description="A DESNZ freight factor per tonne.km: tank-to-wheel, and well-to-tank beside it."
)
class FreightFactor:
    mode: str
    category: str
    vehicle: str
    load: str | None
    variant: str | None
    unit: str
    ttw_kg_co2e: float = strawberry.field(name="ttwKgCO2e")
    wtt_kg_co2e: float | None = strawberry.field(name="wttKgCO2e")
    radiative_forcing: bool | None
    provenance: Provenance


@strawberry.type(description="The caller's own audited shipment.")
class Shipment:
    shipment_id: str
    mode: str
    vehicle: str | None
    tonnes: float
    km: float
    origin: str | None
    destination: str | None
    date: str
    kg_co2e: float = strawberry.field(name="kgCO2e")
    provenance: Provenance


@strawberry.type(description="Browse the shipping channel as the caller.")
class ShippingChannel:
    @strawberry.field
    async def freight_factors(
        self,
        info: Info,
        mode: FreightMode | None = None,
        vehicle: str | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> Page[FreightFactor] | None:
        attributes = [mode.value] if mode else []
        where = {"vehicle": vehicle} if vehicle else {}
        return await info.context.browse(
            "shipping", "freight_factor", FreightFactor, attributes, where, first, after
        )

    @strawberry.field(description="Your organisation's audited shipments.")
    async def shipments(
        self, info: Info, first: int = 50, after: str | None = None
    ) -> Page[Shipment] | None:
        return await info.context.browse("shipping", "shipment", Shipment, [], {}, first, after)

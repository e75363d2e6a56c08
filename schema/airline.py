"""The `airline` channel: passenger.km factors and the caller's tickets."""

from __future__ import annotations

from enum import Enum

import strawberry
from strawberry.types import Info

from .common import Page, Provenance


@strawberry.enum
class CabinClass(Enum):
    AVERAGE = "average"
    ECONOMY = "economy"
    PREMIUM_ECONOMY = "premium_economy"
    BUSINESS = "business"
    FIRST = "first"


@strawberry.enum
class Haul(Enum):
    DOMESTIC = "domestic"
    SHORT_HAUL = "short_haul"
    LONG_HAUL = "long_haul"
    INTERNATIONAL = "international"


@strawberry.type(description="A DESNZ passenger.km factor by haul band and cabin class.")
class FlightFactor:
    haul: str
    cabin_class: str
    radiative_forcing: bool
    unit: str
    kg_co2e: float = strawberry.field(name="kgCO2e")
    wtt_kg_co2e: float | None = strawberry.field(name="wttKgCO2e")
    provenance: Provenance


@strawberry.type(description="The caller's own audited ticket.")
class Ticket:
    ticket_id: str
    origin: str
    destination: str
    cabin_class: str
    passengers: int
    date: str
    kg_co2e: float = strawberry.field(name="kgCO2e")
    provenance: Provenance


@strawberry.type(description="Browse the airline channel as the caller.")
class AirlineChannel:
    @strawberry.field
    async def flight_factors(
        self, info: Info, haul: Haul | None = None, first: int = 50, after: str | None = None
    ) -> Page[FlightFactor] | None:
        attributes = [haul.value] if haul else []
        return await info.context.browse(
            "airline", "flight_factor", FlightFactor, attributes, {}, first, after
        )

    @strawberry.field(description="Your organisation's audited tickets.")
    async def tickets(
        self, info: Info, first: int = 50, after: str | None = None
    ) -> Page[Ticket] | None:
        return await info.context.browse("airline", "ticket", Ticket, [], {}, first, after)

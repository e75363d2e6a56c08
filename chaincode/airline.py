"""The `airline` channel: passenger.km factors by haul and class, customers' tickets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from .records import SourceChannelContract
from .validation import IATA, IDENTIFIER, MSP_ID, RECORD_KEY, Field, RecordSchema, number, text

HAULS = ("domestic", "short_haul", "long_haul", "international")
CABIN_CLASSES = ("average", "economy", "premium_economy", "business", "first")

FLIGHT_FACTOR = RecordSchema(
    kind="flight_factor",
    fields=(
        text("haul", choices=HAULS),
        text("cabin_class", choices=CABIN_CLASSES),
        Field("radiative_forcing", "boolean"),
        text("unit", choices=("passenger.km",)),
        number("kg_co2e", maximum=5),
        Field("gases", "object", required=False),
        number("wtt_kg_co2e", maximum=5, nullable=True),
        text("wtt_id", pattern=IDENTIFIER, nullable=True),
        text("desnz_id", pattern=IDENTIFIER),
        text("desnz_level3"),
        text("desnz_level4"),
    ),
    key=lambda p: (p["haul"], p["cabin_class"], "rf" if p["radiative_forcing"] else "no_rf"),
)

TICKET = RecordSchema(
    kind="ticket",
    audited=True,
    fields=(
        text("customer", pattern=MSP_ID),
        text("ticket_id", pattern=IDENTIFIER),
        text("origin", pattern=IATA),
        text("destination", pattern=IATA),
        text("cabin_class", choices=CABIN_CLASSES),
        Field("passengers", "integer", minimum=1, maximum=100000),
        Field("date", "date"),
        number("km", maximum=25000, required=False, nullable=True),
        number("kg_co2e", maximum=1e12),
        text("factor", pattern=RECORD_KEY, required=False, nullable=True),
    ),
    key=lambda p: (p["customer"], p["ticket_id"]),
)


class AirlineContract(SourceChannelContract):
    Name = "airline"
    schemas: ClassVar[Mapping[str, RecordSchema]] = {s.kind: s for s in (FLIGHT_FACTOR, TICKET)}

"""The `shipping` channel: freight factors per tonne.km, customers' shipments."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from .records import SourceChannelContract
from .validation import IDENTIFIER, MSP_ID, RECORD_KEY, Field, RecordSchema, number, text

FREIGHT_MODES = ("road", "rail", "sea", "air", "inland_waterway")

FREIGHT_FACTOR = RecordSchema(
    kind="freight_factor",
    fields=(
        text("mode", choices=FREIGHT_MODES),
        text("category"),
        text("vehicle"),
        text("load", required=False, nullable=True),
        text("variant", required=False, nullable=True),
        text("unit", choices=("tonne.km",)),
        number("ttw_kg_co2e", maximum=50),
        Field("ttw_gases", "object", required=False),
        number("wtt_kg_co2e", maximum=50, nullable=True),
        text("ttw_id", pattern=IDENTIFIER),
        text("wtt_id", pattern=IDENTIFIER, nullable=True),
        Field("radiative_forcing", "boolean", required=False, nullable=True),
    ),
    key=lambda p: (p["mode"], p["ttw_id"]),
    # The engine asks for a mode's rows of one vehicle (53 sea rows, 7 a vehicle's).
    match_index=("vehicle",),
)

SHIPMENT = RecordSchema(
    kind="shipment",
    audited=True,
    fields=(
        text("customer", pattern=MSP_ID),
        text("shipment_id", pattern=IDENTIFIER),
        text("mode", choices=FREIGHT_MODES),
        text("vehicle", required=False, nullable=True),
        number("tonnes", maximum=1e9),
        number("km", maximum=1e6),
        text("origin", required=False, nullable=True),
        text("destination", required=False, nullable=True),
        Field("date", "date"),
        number("kg_co2e", maximum=1e12),
        text("factor", pattern=RECORD_KEY, required=False, nullable=True),
    ),
    key=lambda p: (p["customer"], p["shipment_id"]),
)


class ShippingContract(SourceChannelContract):
    Name = "shipping"
    schemas: ClassVar[Mapping[str, RecordSchema]] = {s.kind: s for s in (FREIGHT_FACTOR, SHIPMENT)}

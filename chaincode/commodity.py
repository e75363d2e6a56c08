"""The `commodity` channel: cradle-to-gate factors per tonne and per USD, customers' purchases."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from .records import SourceChannelContract
from .validation import (
    IDENTIFIER,
    MSP_ID,
    NAICS6,
    RECORD_KEY,
    Field,
    RecordSchema,
    number,
    one_of_required,
    slug,
    text,
)

MATERIAL_FACTOR = RecordSchema(
    kind="material_factor",
    fields=(
        text("material"),
        text("group"),
        text("production"),
        text("unit", choices=("tonnes",)),
        number("kg_co2e_per_tonne", maximum=1e6),
        text("desnz_id", pattern=IDENTIFIER),
    ),
    key=lambda p: (slug(p["material"]), slug(p["production"])),
)

SPEND_FACTOR = RecordSchema(
    kind="spend_factor",
    fields=(
        text("naics", pattern=NAICS6),
        text("title"),
        number("kg_co2e_per_usd_without_margins", maximum=100),
        number("margins", minimum=None, maximum=100),
        number("kg_co2e_per_usd", maximum=100),
        text("unit", choices=("kg CO2e/2022 USD, purchaser price",)),
        Field("price_year", "integer", minimum=1990, maximum=2100),
        text("useeio_code", required=False, nullable=True),
    ),
    key=lambda p: (
        p["naics"][:3],
        p["naics"],
    ),  # subsector first: neighbours are one partial-key query
)

PURCHASE = RecordSchema(
    kind="purchase",
    audited=True,
    fields=(
        text("customer", pattern=MSP_ID),
        text("purchase_id", pattern=IDENTIFIER),
        text("commodity", required=False, nullable=True),
        text("production", required=False, nullable=True),
        text("naics", pattern=NAICS6, required=False, nullable=True),
        number("tonnes", maximum=1e9, required=False, nullable=True),
        number("amount_usd", maximum=1e13, required=False, nullable=True),
        Field("date", "date"),
        number("kg_co2e", maximum=1e12),
        text("factor", pattern=RECORD_KEY, required=False, nullable=True),
    ),
    key=lambda p: (p["customer"], p["purchase_id"]),
    checks=(one_of_required("commodity", "naics"), one_of_required("tonnes", "amount_usd")),
)


class CommodityContract(SourceChannelContract):
    Name = "commodity"
    schemas: ClassVar[Mapping[str, RecordSchema]] = {
        s.kind: s for s in (MATERIAL_FACTOR, SPEND_FACTOR, PURCHASE)
    }

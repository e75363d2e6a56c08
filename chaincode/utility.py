"""The `utility` channel: grid emission rates, the utility list, customers' invoices."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from .records import SourceChannelContract
from .validation import (
    IDENTIFIER,
    MSP_ID,
    RECORD_KEY,
    Field,
    RecordSchema,
    number,
    period_in_order,
    text,
)

GRID_RATE = RecordSchema(
    kind="grid_rate",
    fields=(
        text("region_type", choices=("egrid_subregion", "eu_country")),
        text("region", pattern=r"^[A-Z0-9_]{2,10}$"),
        text("region_name"),
        Field("year", "integer", minimum=1990, maximum=2100),
        number("co2_lb_per_mwh", maximum=5000, required=False),
        number("ch4_lb_per_mwh", maximum=100, required=False),
        number("n2o_lb_per_mwh", maximum=100, required=False),
        number("nonbaseload_co2_lb_per_mwh", maximum=5000, required=False, nullable=True),
        number("nonbaseload_ch4_lb_per_mwh", maximum=100, required=False, nullable=True),
        number("nonbaseload_n2o_lb_per_mwh", maximum=100, required=False, nullable=True),
        number("grid_gross_loss", maximum=0.5, required=False, nullable=True),
        number("co2_g_per_kwh", maximum=2500, required=False),
        text("unit", choices=("lb/MWh", "g CO2/kWh")),
        Field("gwp", "object", required=False),
    ),
    key=lambda p: (p["region_type"], p["region"], str(p["year"])),
    checks=(
        lambda p: (
            None
            if (p["unit"] == "lb/MWh") == ("co2_lb_per_mwh" in p)
            and (p["unit"] == "g CO2/kWh") == ("co2_g_per_kwh" in p)
            else "an lb/MWh rate needs co2_lb_per_mwh, a g CO2/kWh rate needs co2_g_per_kwh"
        ),
    ),
)

UTILITY = RecordSchema(
    kind="utility",
    fields=(
        Field("utility_id", "integer", minimum=1, maximum=999999),
        text("name"),
        text("state", pattern=r"^[A-Z]{2}$"),
        text("ownership", required=False, nullable=True),
        text("nerc_region", required=False, nullable=True),
        Field("data_year", "integer", minimum=1990, maximum=2100),
    ),
    key=lambda p: (str(p["utility_id"]), p["state"]),
)

INVOICE = RecordSchema(
    kind="invoice",
    audited=True,
    fields=(
        text("customer", pattern=MSP_ID),
        text("invoice_id", pattern=IDENTIFIER),
        Field("utility_id", "integer", minimum=1, maximum=999999),
        text("grid_region", pattern=r"^[A-Z0-9_]{2,10}$"),
        Field("period_start", "date"),
        Field("period_end", "date"),
        number("kwh", maximum=1e12),
        number("kg_co2e", maximum=1e12),
        text("factor", pattern=RECORD_KEY, required=False, nullable=True),
    ),
    key=lambda p: (p["customer"], p["invoice_id"]),
    checks=(period_in_order("period_start", "period_end"),),
)


class UtilityContract(SourceChannelContract):
    Name = "utility"
    schemas: ClassVar[Mapping[str, RecordSchema]] = {
        s.kind: s for s in (GRID_RATE, UTILITY, INVOICE)
    }

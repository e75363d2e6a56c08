"""The `utility` channel: grid emission rates, utilities, the caller's invoices."""

from __future__ import annotations

from enum import Enum

import strawberry
from strawberry.types import Info

from .common import Page, Provenance


@strawberry.enum
class GridRegionType(Enum):
    EGRID_SUBREGION = "egrid_subregion"
    EU_COUNTRY = "eu_country"


@strawberry.type(
    description="A grid's emission rate: eGRID subregion (lb/MWh, by gas) or EU country "
    "(g CO2/kWh)."
)
class GridRate:
    region_type: str
    region: str
    region_name: str
    year: int
    unit: str
    co2_lb_per_mwh: float | None
    ch4_lb_per_mwh: float | None
    n2o_lb_per_mwh: float | None
    grid_gross_loss: float | None = strawberry.field(
        description="Fraction of generation lost in transmission and distribution."
    )
    co2_g_per_kwh: float | None
    provenance: Provenance


@strawberry.type(description="An electric utility from EIA-861.")
class UtilityCompany:
    utility_id: int
    name: str
    state: str
    ownership: str | None
    nerc_region: str | None
    data_year: int
    provenance: Provenance


@strawberry.type(description="The caller's own audited utility invoice.")
class UtilityInvoice:
    invoice_id: str
    utility_id: int
    grid_region: str
    period_start: str
    period_end: str
    kwh: float
    kg_co2e: float = strawberry.field(name="kgCO2e")
    provenance: Provenance


@strawberry.type(description="Browse the utility channel as the caller.")
class UtilityChannel:
    @strawberry.field
    async def grid_rates(
        self,
        info: Info,
        region_type: GridRegionType | None = None,
        region: str | None = None,
        year: int | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> Page[GridRate] | None:
        attributes = [region_type.value] if region_type else []
        where: dict[str, object] = {}
        if region and region_type:
            attributes.append(region.upper())
        elif region:
            where["region"] = region.upper()
        if year is not None:
            where["year"] = year
        return await info.context.browse(
            "utility", "grid_rate", GridRate, attributes, where, first, after
        )

    @strawberry.field
    async def utilities(
        self, info: Info, state: str | None = None, first: int = 50, after: str | None = None
    ) -> Page[UtilityCompany] | None:
        where = {"state": state.upper()} if state else {}
        return await info.context.browse(
            "utility", "utility", UtilityCompany, [], where, first, after
        )

    @strawberry.field(
        description="Your organisation's audited invoices (the channel shows you no one else's)."
    )
    async def invoices(
        self, info: Info, first: int = 50, after: str | None = None
    ) -> Page[UtilityInvoice] | None:
        return await info.context.browse("utility", "invoice", UtilityInvoice, [], {}, first, after)


__all__ = ["GridRate", "UtilityChannel", "UtilityCompany", "UtilityInvoice"]

"""The `commodity` channel: material factors per tonne, spend factors per USD, the caller's
purchases."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from .common import Page, Provenance


@strawberry.type(description="A DESNZ material-use factor per tonne.")
class MaterialFactor:
    material: str
    group: str
    production: str
    unit: str
    kg_co2e_per_tonne: float = strawberry.field(name="kgCO2ePerTonne")
    provenance: Provenance


@strawberry.type(
    description="An EPA supply-chain factor per USD (purchaser price) of a NAICS-6 industry."
)
class SpendFactor:
    naics: str
    title: str
    unit: str
    price_year: int
    kg_co2e_per_usd: float = strawberry.field(name="kgCO2ePerUsd", description="With margins.")
    kg_co2e_per_usd_without_margins: float = strawberry.field(name="kgCO2ePerUsdWithoutMargins")
    margins: float
    provenance: Provenance


@strawberry.type(description="The caller's own audited purchase.")
class Purchase:
    purchase_id: str
    commodity: str | None
    naics: str | None
    tonnes: float | None
    amount_usd: float | None
    date: str
    kg_co2e: float = strawberry.field(name="kgCO2e")
    provenance: Provenance


@strawberry.type(description="Browse the commodity channel as the caller.")
class CommodityChannel:
    @strawberry.field
    async def material_factors(
        self, info: Info, first: int = 50, after: str | None = None
    ) -> Page[MaterialFactor] | None:
        return await info.context.browse(
            "commodity", "material_factor", MaterialFactor, [], {}, first, after
        )

    @strawberry.field
    async def spend_factors(
        self, info: Info, naics: str | None = None, first: int = 50, after: str | None = None
    ) -> Page[SpendFactor] | None:
        attributes = [naics[:3], naics] if naics and len(naics) == 6 else [naics] if naics else []
        return await info.context.browse(
            "commodity", "spend_factor", SpendFactor, attributes, {}, first, after
        )

    @strawberry.field(description="Your organisation's audited purchases.")
    async def purchases(
        self, info: Info, first: int = 50, after: str | None = None
    ) -> Page[Purchase] | None:
        return await info.context.browse("commodity", "purchase", Purchase, [], {}, first, after)

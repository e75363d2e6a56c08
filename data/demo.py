"""Invented audited customer records for the demo organisations AcmeMSP and GlobexMSP."""

from __future__ import annotations

import hashlib
from typing import Any

from .records import SourceRecord, canonical_json

__all__ = ["LB_TO_KG", "demo_audited_records"]

LB_TO_KG = 0.45359237  # exact, by definition


def _demo(channel: str, kind: str, payload: dict[str, Any], record_id: str) -> SourceRecord:
    return SourceRecord(
        channel=channel,
        kind=kind,
        attributes=(payload["customer"], record_id),
        payload=payload,
        source={
            "dataset": "demo audit",
            "edition": "2025",
            "file": None,
            "sha256": hashlib.sha256(canonical_json(payload)).hexdigest(),
            "row": record_id,
            "sheet": None,
        },
    )


def demo_audited_records() -> dict[str, list[SourceRecord]]:
    """A few audited customer records for the demo organisations AcmeMSP and GlobexMSP.

    **These records are invented** for the demo: no real invoice, shipment,
    ticket or purchase lies behind them. Utility ids, grid regions, airports
    and ports are real, and each ``kg_co2e`` is the figure the (fictional)
    auditor states, worked out from the real factors in this folder and
    rounded to the gram:

    * invoice:  kWh x (CO2 + 28 CH4 + 265 N2O) lb/MWh (Hub Table 6, AR5 GWPs
      from the Hub) x 0.45359237 / 1000.
    * shipment: tonnes x km x DESNZ tank-to-wheel kg CO2e per tonne.km (WTT
      not included). Sea km from the searoute network, road/rail km as stated.
    * ticket:   passengers x great-circle km (haversine, R = 6371.0088 km,
      airportsdata coordinates, no uplift) x DESNZ kg CO2e per passenger.km
      with radiative forcing.
    * purchase: tonnes x DESNZ kg CO2e per tonne, or USD x EPA kg CO2e per
      2022 USD with margins.

    Each payload's ``factor`` is the key of the factor record used on the
    same channel (``kind/attribute/…``), as the contracts name records.
    """
    utility = [
        _demo("utility", "invoice", {
            "customer": "AcmeMSP", "invoice_id": "INV-2024-0001", "utility_id": 14328,
            "grid_region": "CAMX", "period_start": "2024-01-01", "period_end": "2024-01-31",
            "kwh": 12500, "kg_co2e": 2484.269,  # 12,500 kWh x 438.15 lb/MWh CO2e
            "factor": "grid_rate/egrid_subregion/CAMX/2023",
        }, "INV-2024-0001"),
        _demo("utility", "invoice", {
            "customer": "AcmeMSP", "invoice_id": "INV-2024-0002", "utility_id": 14328,
            "grid_region": "CAMX", "period_start": "2024-02-01", "period_end": "2024-02-29",
            "kwh": 11800, "kg_co2e": 2345.15,  # 11,800 kWh x 438.15 lb/MWh CO2e
            "factor": "grid_rate/egrid_subregion/CAMX/2023",
        }, "INV-2024-0002"),
        _demo("utility", "invoice", {
            "customer": "GlobexMSP", "invoice_id": "INV-2024-0101", "utility_id": 1015,
            "grid_region": "ERCT", "period_start": "2024-01-01", "period_end": "2024-01-31",
            "kwh": 48000, "kg_co2e": 16129.716,  # 48,000 kWh x 740.832 lb/MWh CO2e
            "factor": "grid_rate/egrid_subregion/ERCT/2023",
        }, "INV-2024-0101"),
        _demo("utility", "invoice", {
            "customer": "GlobexMSP", "invoice_id": "INV-2024-0102", "utility_id": 13573,
            "grid_region": "NYUP", "period_start": "2024-01-01", "period_end": "2024-01-31",
            "kwh": 9600, "kg_co2e": 1051.883,  # 9,600 kWh x 241.563 lb/MWh CO2e
            "factor": "grid_rate/egrid_subregion/NYUP/2023",
        }, "INV-2024-0102"),
    ]  # fmt: skip
    shipping = [
        _demo("shipping", "shipment", {
            "customer": "AcmeMSP", "shipment_id": "SHP-2024-0001", "mode": "sea",
            "vehicle": "Container ship", "tonnes": 5, "km": 19610,
            "origin": "CNSHA", "destination": "NLRTM", "date": "2024-03-04",
            "kg_co2e": 1580.426,  # 5 t x 19,610 km x 0.016118569798...
            "factor": "freight_factor/sea/27_320_3235_14_1",
        }, "SHP-2024-0001"),
        _demo("shipping", "shipment", {
            "customer": "AcmeMSP", "shipment_id": "SHP-2024-0002", "mode": "road",
            "vehicle": "All HGVs", "tonnes": 20, "km": 300,
            "origin": "GBFXT", "destination": "GBBHM", "date": "2024-04-11",
            "kg_co2e": 581.745,  # 20 t x 300 km x 0.096957467114...
            "factor": "freight_factor/road/27_304_3140_14_1",
        }, "SHP-2024-0002"),
        _demo("shipping", "shipment", {
            "customer": "GlobexMSP", "shipment_id": "SHP-2024-0101", "mode": "sea",
            "vehicle": "Bulk carrier", "tonnes": 1200, "km": 15521,
            "origin": "SGSIN", "destination": "NLRTM", "date": "2024-02-19",
            "kg_co2e": 65817.817,  # 1,200 t x 15,521 km x 0.003533804563...
            "factor": "freight_factor/sea/27_320_3221_14_1",
        }, "SHP-2024-0101"),
        _demo("shipping", "shipment", {
            "customer": "GlobexMSP", "shipment_id": "SHP-2024-0102", "mode": "rail",
            "vehicle": "Freight train", "tonnes": 40, "km": 350,
            "origin": "GBFXT", "destination": "GBMNC", "date": "2024-05-02",
            "kg_co2e": 389.033,  # 40 t x 350 km x 0.027788071140...
            "factor": "freight_factor/rail/27_315_3151_14_1",
        }, "SHP-2024-0102"),
    ]  # fmt: skip
    airline = [
        _demo("airline", "ticket", {
            "customer": "AcmeMSP", "ticket_id": "TKT-2024-0001", "origin": "LHR",
            "destination": "JFK", "cabin_class": "economy", "passengers": 1,
            "date": "2024-03-12", "km": 5539.63,
            "kg_co2e": 1108.526,  # 5,539.63 km x 0.200108280536...
            "factor": "flight_factor/long_haul/economy/rf",
        }, "TKT-2024-0001"),
        _demo("airline", "ticket", {
            "customer": "AcmeMSP", "ticket_id": "TKT-2024-0002", "origin": "LHR",
            "destination": "CDG", "cabin_class": "business", "passengers": 2,
            "date": "2024-03-20", "km": 347.17,
            "kg_co2e": 190.459,  # 2 x 347.17 km x 0.274302877852...
            "factor": "flight_factor/short_haul/business/rf",
        }, "TKT-2024-0002"),
        _demo("airline", "ticket", {
            "customer": "GlobexMSP", "ticket_id": "TKT-2024-0101", "origin": "SFO",
            "destination": "NRT", "cabin_class": "business", "passengers": 1,
            "date": "2024-06-03", "km": 8227.54,
            "kg_co2e": 3212.387,  # 8,227.54 km x 0.390443205369...
            "factor": "flight_factor/international/business/rf",
        }, "TKT-2024-0101"),
        _demo("airline", "ticket", {
            "customer": "GlobexMSP", "ticket_id": "TKT-2024-0102", "origin": "LHR",
            "destination": "EDI", "cabin_class": "average", "passengers": 3,
            "date": "2024-06-17", "km": 533.53,
            "kg_co2e": 436.284,  # 3 x 533.53 km x 0.272576785234...
            "factor": "flight_factor/domestic/average/rf",
        }, "TKT-2024-0102"),
    ]  # fmt: skip
    commodity = [
        _demo("commodity", "purchase", {
            "customer": "AcmeMSP", "purchase_id": "PO-2024-0001", "naics": "331110",
            "amount_usd": 250000, "date": "2024-01-15",
            "kg_co2e": 196750.0,  # USD 250,000 x 0.787
            "factor": "spend_factor/331/331110",
        }, "PO-2024-0001"),
        _demo("commodity", "purchase", {
            "customer": "AcmeMSP", "purchase_id": "PO-2024-0002",
            "commodity": "Plastics: PET (incl. forming)",
            "production": "Primary material production", "tonnes": 12, "date": "2024-02-08",
            "kg_co2e": 48221.801,  # 12 t x 4018.483406071...
            "factor": "material_factor/plastics_pet_incl_forming/primary_material_production",
        }, "PO-2024-0002"),
        _demo("commodity", "purchase", {
            "customer": "GlobexMSP", "purchase_id": "PO-2024-0101", "naics": "484121",
            "amount_usd": 40000, "date": "2024-03-01",
            "kg_co2e": 23800.0,  # USD 40,000 x 0.595
            "factor": "spend_factor/484/484121",
        }, "PO-2024-0101"),
        _demo("commodity", "purchase", {
            "customer": "GlobexMSP", "purchase_id": "PO-2024-0102",
            "commodity": "Metal: aluminium cans and foil (excl. forming)",
            "production": "Primary material production", "tonnes": 3, "date": "2024-04-22",
            "kg_co2e": 27326.182,  # 3 t x 9108.727308510...
            "factor": "material_factor/metal_aluminium_cans_and_foil_excl_forming"
                      "/primary_material_production",
        }, "PO-2024-0102"),
    ]  # fmt: skip
    return {"utility": utility, "shipping": shipping, "airline": airline, "commodity": commodity}

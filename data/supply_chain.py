"""US EPA Supply Chain GHG Emission Factors v1.3.0: spend factors by NAICS-6 code.

Records made here: ``commodity`` - ``spend_factor`` in kg CO2e per 2022 USD.
"""

from __future__ import annotations

from .records import Source, SourceFile, SourceRecord, expect

__all__ = ["SOURCE", "spend_records"]

SOURCE = Source(
    "SupplyChainGHGEmissionFactors_v1.3.0_NAICS_CO2e_USD2022.csv",
    "US EPA Supply Chain GHG Emission Factors",
    "v1.3.0",
)


_SUPPLY_CHAIN_HEADER = [
    "2017 NAICS Code", "2017 NAICS Title", "GHG", "Unit",
    "Supply Chain Emission Factors without Margins",
    "Margins of Supply Chain Emission Factors",
    "Supply Chain Emission Factors with Margins",
    "Reference USEEIO Code",
]  # fmt: skip
_SPEND_UNIT = "kg CO2e/2022 USD, purchaser price"


def spend_records(src: SourceFile) -> list[SourceRecord]:
    """commodity / spend_factor, one per NAICS-6 code."""
    reader = src.csv_rows()
    expect(next(reader) == _SUPPLY_CHAIN_HEADER, "EPA supply chain header changed")
    records = []
    for naics, title, ghg, unit, without_margins, margins, with_margins, useeio in reader:
        expect(ghg == "All GHGs" and unit == _SPEND_UNIT, f"EPA supply chain {naics}: {unit}")
        payload = {
            "naics": naics,
            "title": title,
            "kg_co2e_per_usd_without_margins": float(without_margins),
            "margins": float(margins),
            "kg_co2e_per_usd": float(with_margins),
            "unit": _SPEND_UNIT,
            "price_year": 2022,
            "useeio_code": useeio,
        }
        records.append(
            SourceRecord(
                channel="commodity",
                kind="spend_factor",
                # The NAICS subsector (first three digits) leads the key, so the codes
                # near a code are one partial-key query away.
                attributes=(naics[:3], naics),
                payload=payload,
                source=src.source(naics, None),
            )
        )
    return records

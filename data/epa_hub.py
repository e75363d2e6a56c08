"""US EPA GHG Emission Factors Hub 2025, Table 6: eGRID2023 subregion grid rates.

Records made here: ``utility`` - ``grid_rate`` for the 27 eGRID subregions and
the US average, in lb/MWh with the Hub's own GWPs.
"""

from __future__ import annotations

import re
from typing import Any

from .records import Source, SourceFile, SourceRecord, cell_text, expect, is_number

__all__ = ["SOURCE", "grid_rate_records"]

SOURCE = Source("ghg-emission-factors-hub-2025.xlsx", "US EPA GHG Emission Factors Hub", "2025")


_HUB_SHEET = "Emission Factors Hub"
_HUB_TABLE6_HEADER = (
    "eGRID Subregion Acronym", "eGRID Subregion Name",
    "CO2 Factor", "CH4 Factor", "N2O Factor",
    "CO2 Factor", "CH4 Factor", "N2O Factor",
    "Grid Gross Loss (%)",
)  # fmt: skip


def grid_rate_records(src: SourceFile) -> list[SourceRecord]:
    """utility / grid_rate for the 27 eGRID subregions and the US average.

    The GWPs come from the Hub's own GWP block at the top of the sheet: labels
    in C8:C9 ("CH4", "N2O"), values in D8:D9, and the AR basis from the note in
    C10. The eGRID data year comes from Table 6's source note ("EPA
    eGRID2023 ..."). Reading stops at the end of Table 6 (row 367 of ~1,000).
    """
    workbook = src.workbook()
    try:
        rows = workbook[_HUB_SHEET].iter_rows(min_col=1, max_col=11, values_only=True)
        gwp: dict[str, Any] = {}
        table_row: int | None = None
        year: int | None = None
        data: list[tuple[int, tuple[Any, ...]]] = []
        for number, cells in enumerate(rows, start=1):
            if number == 7:
                expect(cells[3] == "100-Year GWP", f"Hub D7 is {cells[3]!r}")
            elif number in (8, 9):
                gas = {8: "CH4", 9: "N2O"}[number]
                expect(cells[2] == gas and is_number(cells[3]), f"Hub C{number}:D{number}")
                gwp[gas.lower()] = cells[3]
            elif number == 10:
                basis = re.search(r"\((AR\d)\)", str(cells[2]))
                expect(basis is not None, "Hub C10: no AR basis in the GWP note")
                gwp["basis"] = basis.group(1) if basis else ""
            elif cells[1] == "Table 6":
                table_row = number
            elif table_row is not None and number == table_row + 3:
                expect(tuple(cells[2:11]) == _HUB_TABLE6_HEADER, f"Hub Table 6 header: {cells}")
            elif table_row is not None and number >= table_row + 5:
                label = cell_text(cells[2]) or ""
                if label.startswith("Source:"):
                    found = re.search(r"eGRID(\d{4})", label)
                    expect(found is not None, f"Hub Table 6 source note: {label!r}")
                    year = int(found.group(1)) if found else 0
                    break
                data.append((number, cells))
    finally:
        workbook.close()
    expect(table_row is not None and year is not None, "Hub: Table 6 not found")
    expect(set(gwp) == {"ch4", "n2o", "basis"}, f"Hub: GWPs not found ({gwp})")

    records = []
    for number, cells in data:
        acronym, name = cell_text(cells[2]), cell_text(cells[3])
        expect(bool(acronym and name), f"Hub Table 6 row {number} has no subregion")
        expect(all(map(is_number, cells[4:10])), f"Hub Table 6 row {number}: missing rate")
        region = "US" if acronym == "US Average" else acronym or ""
        payload = {
            "region_type": "egrid_subregion",
            "region": region,
            "region_name": name,
            "year": year,
            "co2_lb_per_mwh": cells[4],
            "ch4_lb_per_mwh": cells[5],
            "n2o_lb_per_mwh": cells[6],
            "nonbaseload_co2_lb_per_mwh": cells[7],
            "nonbaseload_ch4_lb_per_mwh": cells[8],
            "nonbaseload_n2o_lb_per_mwh": cells[9],
            "grid_gross_loss": cells[10] if is_number(cells[10]) else None,
            "unit": "lb/MWh",
            "gwp": dict(gwp),
        }
        records.append(
            SourceRecord(
                channel="utility",
                kind="grid_rate",
                attributes=("egrid_subregion", region, str(year)),
                payload=payload,
                source=src.source(f"Table 6 row {number}", _HUB_SHEET),
            )
        )
    return records

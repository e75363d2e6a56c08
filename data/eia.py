"""US EIA Form EIA-861 (2020): the list of US electric utilities.

Records made here: ``utility`` - ``utility``, one per utility number and state.
"""

from __future__ import annotations

from .records import Source, SourceFile, SourceRecord, cell_text, expect

__all__ = ["SOURCE", "utility_records"]

SOURCE = Source("Utility_Data_2020.xlsx", "US EIA Form EIA-861 utility data", "2020")


_EIA_SHEETS = ("States", "Territories")
_EIA_HEADER = (
    "Data Year",
    "Utility Number",
    "Utility Name",
    "State",
    "Ownership Type",
    "NERC Region",
)
_EIA_WITHHELD = 88888  # placeholder number for utilities whose identity EIA withholds


def utility_records(src: SourceFile) -> list[SourceRecord]:
    """utility / utility from both sheets; the 'Withheld' placeholder rows are left out."""
    workbook = src.workbook()
    records = []
    try:
        for sheet in _EIA_SHEETS:
            rows = workbook[sheet].iter_rows(min_row=2, max_col=len(_EIA_HEADER), values_only=True)
            expect(tuple(next(rows)) == _EIA_HEADER, f"EIA {sheet}: header changed")
            for data_year, number, name, state, ownership, nerc in rows:
                if number is None:
                    continue
                expect(isinstance(number, int), f"EIA {sheet}: utility number {number!r}")
                if number == _EIA_WITHHELD:
                    continue
                expect(bool(cell_text(state)), f"EIA {sheet}: utility {number} has no state")
                payload = {
                    "utility_id": number,
                    "name": cell_text(name),
                    "state": cell_text(state),
                    "ownership": cell_text(ownership),
                    "nerc_region": cell_text(nerc),
                    "data_year": data_year,
                }
                records.append(
                    SourceRecord(
                        channel="utility",
                        kind="utility",
                        attributes=(str(number), cell_text(state) or ""),
                        payload=payload,
                        source=src.source(str(number), sheet),
                    )
                )
    finally:
        workbook.close()
    return records

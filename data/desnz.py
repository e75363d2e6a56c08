"""UK DESNZ greenhouse-gas conversion factors 2023 (flat file): freight, flights, materials.

Records made here:

* ``shipping``  - ``freight_factor``: freight factors per tonne.km, tank-to-wheel
  with the gas split and the matching well-to-tank factor.
* ``airline``   - ``flight_factor``: business-travel flight factors per
  passenger.km by haul, cabin class and radiative forcing.
* ``commodity`` - ``material_factor``: material-use factors per tonne.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .records import Source, SourceFile, SourceRecord, cell_text, expect, is_number, slug

__all__ = [
    "SOURCE",
    "DesnzTables",
    "flight_records",
    "freight_records",
    "material_records",
    "read_tables",
]

SOURCE = Source(
    "ghg-conversion-factors-2023-flat-file-update.xlsx",
    "UK DESNZ GHG conversion factors",
    "2023 (flat file v1.1)",
)

_DESNZ_SHEET = "Factors by Category"
_DESNZ_HEADER = (
    "ID", "Scope", "Level 1", "Level 2", "Level 3", "Level 4",
    "Column Text", "UOM", "GHG/Unit", "GHG Conversion Factor 2023",
)  # fmt: skip
_DESNZ_SECTIONS = frozenset(
    {
        "Material use",
        "Business travel- air",
        "WTT- business travel- air",
        "Freighting goods",
        "WTT- delivery vehs & freight",
    }
)
_TOTAL = "kg CO2e"
_GAS_OF_UNIT = {
    "kg CO2e of CO2 per unit": "co2",
    "kg CO2e of CH4 per unit": "ch4",
    "kg CO2e of N2O per unit": "n2o",
}
_WTT_PREFIX = "wtt- "


@dataclass(frozen=True)
class _DesnzRow:
    id: str
    level1: str
    level2: str
    level3: str | None
    level4: str | None
    column_text: str | None
    uom: str
    ghg_unit: str
    value: Any

    @property
    def factor_id(self) -> str:
        """The ID without its last part: the same for a total and its gas rows."""
        return self.id.rsplit("_", 1)[0]

    @property
    def item(self) -> str:
        """The third part of the ID: the item code a TTW row shares with its WTT row."""
        return self.id.split("_")[2]

    def match_key(self) -> tuple[str, ...]:
        """Key that pairs a factor with its well-to-tank row (see ``DesnzTables``)."""
        return (
            _fold(self.level2).removeprefix(_WTT_PREFIX),
            _fold(self.level3),
            _fold(self.level4),
            _fold(self.column_text),
            self.uom,
            self.item,
        )


def _fold(text: str | None) -> str:
    return " ".join(text.split()).casefold() if text else ""


class DesnzTables:
    """The DESNZ rows this module needs, with totals, gas split and WTT paired up.

    How the flat file ties rows together (checked on every row of the 2023 file):

    * **Gas split.** An ID has five parts, ``L1_L2_item_uom_ghg``, e.g.
      ``27_320_3235_14_1``. The ``kg CO2e`` total ends in ``_1``; the rows
      ``_2``, ``_3``, ``_4`` with the same first four parts are its CO2, CH4 and
      N2O shares (``GHG/Unit`` "kg CO2e of CO2/CH4/N2O per unit"), with identical
      Levels, Column Text and UOM. The three shares add up to the total. This
      module pairs them by the first four parts and by ``GHG/Unit``, not by the
      last digit.
    * **Well-to-tank.** A WTT set (``Level 1`` "WTT- delivery vehs & freight",
      "WTT- business travel- air") repeats its factor set with ``Level 2``
      prefixed by "WTT- " (e.g. "Cargo ship" -> "WTT- cargo ship", "Flights" ->
      "WTT- flights"; the case differs), the same Level 3, Level 4, Column Text
      and UOM, and the same *item* code (third ID part). Its IDs use other L1/L2
      codes (``27_320_3235_14_1`` -> ``28_916_3235_14_1``) and it has only a
      ``kg CO2e`` total, no gas split. The item code alone is not unique: both
      "HGV (all diesel)" and "HGV refrigerated (all diesel)" use 3109-3140, so
      the pairing key is (Level 2 without "WTT- ", Level 3, Level 4, Column
      Text, UOM, item), compared case-insensitively with whitespace collapsed
      ("LPG Tanker" vs "LPG tanker", "Products tanker " with a trailing space).
      Every 2023 freight and flight factor has exactly one WTT partner; if a
      future file lacks one the record gets ``wtt_kg_co2e = None``.
    """

    def __init__(self, rows: Iterable[_DesnzRow]) -> None:
        self.totals: list[_DesnzRow] = []
        self.gases: dict[str, dict[str, Any]] = {}
        self.wtt: dict[tuple[str, ...], _DesnzRow] = {}
        for row in rows:
            if row.level1.startswith("WTT- "):
                if row.ghg_unit == _TOTAL:
                    expect(row.match_key() not in self.wtt, f"DESNZ: two WTT rows like {row.id}")
                    self.wtt[row.match_key()] = row
            elif row.ghg_unit == _TOTAL:
                self.totals.append(row)
            elif row.ghg_unit in _GAS_OF_UNIT:
                self.gases.setdefault(row.factor_id, {})[_GAS_OF_UNIT[row.ghg_unit]] = row.value

    def totals_in(self, level1: str, uom: str) -> Iterator[_DesnzRow]:
        """Total (kg CO2e) rows of one Level 1 and unit that carry a number."""
        for row in self.totals:
            if row.level1 == level1 and row.uom == uom and is_number(row.value):
                yield row

    def gas_split(self, row: _DesnzRow) -> dict[str, Any]:
        split = self.gases.get(row.factor_id, {})
        return {gas: split.get(gas) for gas in ("co2", "ch4", "n2o")}

    def wtt_of(self, row: _DesnzRow) -> _DesnzRow | None:
        partner = self.wtt.get(row.match_key())
        return partner if partner is not None and is_number(partner.value) else None


def read_tables(src: SourceFile) -> DesnzTables:
    """Read the needed Level 1 sections of 'Factors by Category', then stop.

    The sheet is sorted by Level 1 in contiguous blocks, so reading ends at the
    first row after the last needed block (about row 6,900 of 8,046).
    """
    workbook = src.workbook()
    try:
        rows = workbook[_DESNZ_SHEET].iter_rows(max_col=len(_DESNZ_HEADER), values_only=True)
        for header in rows:
            if header[0] == "ID":
                expect(tuple(header) == _DESNZ_HEADER, f"DESNZ header changed: {header}")
                break
        else:
            raise ValueError("DESNZ: header row not found")

        picked: list[_DesnzRow] = []
        seen: set[str] = set()
        for cells in rows:
            level1 = cell_text(cells[2])
            if level1 not in _DESNZ_SECTIONS:
                if seen == _DESNZ_SECTIONS:
                    break
                continue
            seen.add(level1)
            picked.append(
                _DesnzRow(
                    id=str(cells[0]).strip(),
                    level1=level1,
                    level2=cell_text(cells[3]) or "",
                    level3=cell_text(cells[4]),
                    level4=cell_text(cells[5]),
                    column_text=cell_text(cells[6]),
                    uom=cell_text(cells[7]) or "",
                    ghg_unit=cell_text(cells[8]) or "",
                    value=cells[9],
                )
            )
        expect(seen == _DESNZ_SECTIONS, f"DESNZ: missing sections {_DESNZ_SECTIONS - seen}")
        return DesnzTables(picked)
    finally:
        workbook.close()


_FREIGHT_MODE = {
    "Vans": "road",
    "HGV (all diesel)": "road",
    "HGV refrigerated (all diesel)": "road",
    "Rail": "rail",
    "Cargo ship": "sea",
    "Sea tanker": "sea",
    "Freight flights": "air",
    # DESNZ 2023 has no inland-waterway freight factor; "inland_waterway" is
    # therefore never produced from this file.
}
_RADIATIVE_FORCING = {"With RF": True, "Without RF": False}


def freight_records(src: SourceFile, desnz: DesnzTables) -> list[SourceRecord]:
    """shipping / freight_factor: every 'Freighting goods' tonne.km total with a value."""
    records = []
    for row in desnz.totals_in("Freighting goods", "tonne.km"):
        expect(row.level2 in _FREIGHT_MODE, f"DESNZ: unknown freight Level 2 {row.level2!r}")
        mode = _FREIGHT_MODE[row.level2]
        flight_rf = _RADIATIVE_FORCING.get(row.column_text or "")
        radiative_forcing = flight_rf if mode == "air" else None
        wtt = desnz.wtt_of(row)
        payload = {
            "mode": mode,
            "category": row.level2,
            "vehicle": row.level3,
            "load": row.level4,
            "variant": row.column_text,
            "unit": "tonne.km",
            "ttw_kg_co2e": row.value,
            "ttw_gases": desnz.gas_split(row),
            "wtt_kg_co2e": wtt.value if wtt else None,
            "ttw_id": row.id,
            "wtt_id": wtt.id if wtt else None,
            "radiative_forcing": radiative_forcing,
        }
        records.append(
            SourceRecord(
                channel="shipping",
                kind="freight_factor",
                attributes=(mode, row.id),
                payload=payload,
                source=src.source(row.id, _DESNZ_SHEET),
            )
        )
    return records


_HAUL = {
    "Domestic, to/from UK": "domestic",
    "Short-haul, to/from UK": "short_haul",
    "Long-haul, to/from UK": "long_haul",
    "International, to/from non-UK": "international",
}
_CABIN_CLASS = {
    "Average passenger": "average",
    "Economy class": "economy",
    "Premium economy class": "premium_economy",
    "Business class": "business",
    "First class": "first",
}


def flight_records(src: SourceFile, desnz: DesnzTables) -> list[SourceRecord]:
    """airline / flight_factor: 'Business travel- air' passenger.km totals."""
    records = []
    for row in desnz.totals_in("Business travel- air", "passenger.km"):
        expect(row.level3 in _HAUL, f"DESNZ: unknown haul {row.level3!r} in {row.id}")
        expect(row.level4 in _CABIN_CLASS, f"DESNZ: unknown class {row.level4!r} in {row.id}")
        expect(row.column_text in _RADIATIVE_FORCING, f"DESNZ: no RF flag in {row.id}")
        haul = _HAUL[row.level3 or ""]
        cabin_class = _CABIN_CLASS[row.level4 or ""]
        radiative_forcing = _RADIATIVE_FORCING[row.column_text or ""]
        wtt = desnz.wtt_of(row)
        payload = {
            "haul": haul,
            "cabin_class": cabin_class,
            "radiative_forcing": radiative_forcing,
            "unit": "passenger.km",
            "kg_co2e": row.value,
            "gases": desnz.gas_split(row),
            "wtt_kg_co2e": wtt.value if wtt else None,
            "wtt_id": wtt.id if wtt else None,
            "desnz_id": row.id,
            "desnz_level3": row.level3,
            "desnz_level4": row.level4,
        }
        attributes = (haul, cabin_class, "rf" if radiative_forcing else "no_rf")
        records.append(
            SourceRecord(
                channel="airline",
                kind="flight_factor",
                attributes=attributes,
                payload=payload,
                source=src.source(row.id, _DESNZ_SHEET),
            )
        )
    return records


def material_records(src: SourceFile, desnz: DesnzTables) -> list[SourceRecord]:
    """commodity / material_factor: 'Material use' per tonne; empty cells are skipped."""
    records = []
    for row in desnz.totals_in("Material use", "tonnes"):
        expect(bool(row.level3 and row.column_text), f"DESNZ: unnamed material in {row.id}")
        material, production = row.level3 or "", row.column_text or ""
        payload = {
            "material": material,
            "group": row.level2,
            "production": production,
            "unit": "tonnes",
            "kg_co2e_per_tonne": row.value,
            "desnz_id": row.id,
        }
        records.append(
            SourceRecord(
                channel="commodity",
                kind="material_factor",
                attributes=(slug(material), slug(production)),
                payload=payload,
                source=src.source(row.id, _DESNZ_SHEET),
            )
        )
    return records

"""Turn the emissions-factor files in this folder into factor records for the ledger.

Every file read here is an unmodified copy of a published source (see
``SOURCES.md`` beside this module). The loader never rounds: each payload holds
the cell values exactly as the source stores them, and each record's ``source``
names the file, its sha256 (computed from the bytes that were parsed), the
sheet and the source's own row identifier, so an auditor can find the cell.

Records by channel and kind:

* ``utility``   - ``grid_rate``: eGRID2023 subregion rates (EPA GHG Emission
  Factors Hub 2025, Table 6) and EEA CO2 intensity per EU country and year;
  ``utility``: the EIA-861 (2020) list of US electric utilities.
* ``shipping``  - ``freight_factor``: DESNZ 2023 freight factors per tonne.km,
  tank-to-wheel with the gas split and the matching well-to-tank factor.
* ``airline``   - ``flight_factor``: DESNZ 2023 business-travel flight factors
  per passenger.km by haul, cabin class and radiative forcing.
* ``commodity`` - ``material_factor``: DESNZ 2023 material-use factors per
  tonne; ``spend_factor``: EPA supply-chain factors per 2022 USD by NAICS code.

The key of a record on its channel is ``(kind, *attributes)``; it is unique
per channel, and every attribute is a non-empty string without NUL.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

__all__ = [
    "CHANNELS",
    "DATA_DIR",
    "LB_TO_KG",
    "SOURCE_FILES",
    "SourceRecord",
    "canonical_json",
    "demo_audited_records",
    "load_factor_records",
    "slug",
]

DATA_DIR = Path(__file__).resolve().parent
CHANNELS = ("utility", "shipping", "airline", "commodity")

DESNZ_FILE = "ghg-conversion-factors-2023-flat-file-update.xlsx"
HUB_FILE = "ghg-emission-factors-hub-2025.xlsx"
SUPPLY_CHAIN_FILE = "SupplyChainGHGEmissionFactors_v1.3.0_NAICS_CO2e_USD2022.csv"
EEA_FILE = "co2-emission-intensity-6.csv"
EIA_FILE = "Utility_Data_2020.xlsx"
SOURCE_FILES = (DESNZ_FILE, HUB_FILE, SUPPLY_CHAIN_FILE, EEA_FILE, EIA_FILE)


# --------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceRecord:
    """One record for a source channel.

    ``payload`` is JSON-serialisable and holds exact source values. ``source``
    is ``{"dataset", "edition", "file", "sha256", "row", "sheet"}``. Records
    compare equal when all fields are equal; the hash uses channel, kind and
    attributes only, because dicts are not hashable.
    """

    channel: str
    kind: str
    attributes: tuple[str, ...]
    payload: dict[str, Any] = field(hash=False)
    source: dict[str, Any] = field(hash=False)

    def __post_init__(self) -> None:
        if self.channel not in CHANNELS:
            raise ValueError(f"unknown channel {self.channel!r}")
        _check_key_part(self.kind, "kind")
        if not isinstance(self.attributes, tuple) or not self.attributes:
            raise ValueError("attributes must be a non-empty tuple of strings")
        for part in self.attributes:
            _check_key_part(part, "attribute")

    @property
    def key(self) -> tuple[str, ...]:
        """The composite key on the channel: ``(kind, *attributes)``."""
        return (self.kind, *self.attributes)


def _check_key_part(value: object, what: str) -> None:
    if not isinstance(value, str) or not value or "\x00" in value:
        raise ValueError(f"{what} must be a non-empty string without NUL, got {value!r}")


def slug(text: str) -> str:
    """Lower-case ``text`` and collapse every run of non-alphanumerics to ``_``.

    >>> slug("Plastics: HDPE (incl. forming)")
    'plastics_hdpe_incl_forming'
    """
    result = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    if not result:
        raise ValueError(f"{text!r} has no letters or digits to make a slug from")
    return result


def canonical_json(payload: dict[str, Any]) -> bytes:
    """The canonical JSON of a payload: sorted keys, no spaces, UTF-8, no NaN."""
    return json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


# --------------------------------------------------------------------------
# Source files
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _SourceFile:
    """A source file read into memory once, so the hash covers the parsed bytes."""

    name: str
    content: bytes
    sha256: str
    dataset: str
    edition: str

    def source(self, row: str, sheet: str | None) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "edition": self.edition,
            "file": self.name,
            "sha256": self.sha256,
            "row": row,
            "sheet": sheet,
        }

    def text(self) -> str:
        return self.content.decode("utf-8-sig")


def _read(data_dir: Path, name: str, dataset: str, edition: str) -> _SourceFile:
    content = (data_dir / name).read_bytes()
    return _SourceFile(name, content, hashlib.sha256(content).hexdigest(), dataset, edition)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _text(value: object) -> str | None:
    """A cell's text exactly as stored, or None for an empty or blank cell."""
    if value is None:
        return None
    text = str(value)
    return text if text.strip() else None


def _expect(condition: bool, message: str) -> None:
    """Fail loudly when a source file does not have the layout this loader reads."""
    if not condition:
        raise ValueError(message)


# --------------------------------------------------------------------------
# UK DESNZ conversion factors 2023 (flat file)
# --------------------------------------------------------------------------

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
        """Key that pairs a factor with its well-to-tank row (see ``_DesnzTables``)."""
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


class _DesnzTables:
    """The DESNZ rows this loader needs, with totals, gas split and WTT paired up.

    How the flat file ties rows together (checked on every row of the 2023 file):

    * **Gas split.** An ID has five parts, ``L1_L2_item_uom_ghg``, e.g.
      ``27_320_3235_14_1``. The ``kg CO2e`` total ends in ``_1``; the rows
      ``_2``, ``_3``, ``_4`` with the same first four parts are its CO2, CH4 and
      N2O shares (``GHG/Unit`` "kg CO2e of CO2/CH4/N2O per unit"), with identical
      Levels, Column Text and UOM. The three shares add up to the total. The
      loader pairs them by the first four parts and by ``GHG/Unit``, not by the
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
                    _expect(row.match_key() not in self.wtt, f"DESNZ: two WTT rows like {row.id}")
                    self.wtt[row.match_key()] = row
            elif row.ghg_unit == _TOTAL:
                self.totals.append(row)
            elif row.ghg_unit in _GAS_OF_UNIT:
                self.gases.setdefault(row.factor_id, {})[_GAS_OF_UNIT[row.ghg_unit]] = row.value

    def totals_in(self, level1: str, uom: str) -> Iterator[_DesnzRow]:
        """Total (kg CO2e) rows of one Level 1 and unit that carry a number."""
        for row in self.totals:
            if row.level1 == level1 and row.uom == uom and _is_number(row.value):
                yield row

    def gas_split(self, row: _DesnzRow) -> dict[str, Any]:
        split = self.gases.get(row.factor_id, {})
        return {gas: split.get(gas) for gas in ("co2", "ch4", "n2o")}

    def wtt_of(self, row: _DesnzRow) -> _DesnzRow | None:
        partner = self.wtt.get(row.match_key())
        return partner if partner is not None and _is_number(partner.value) else None


def _read_desnz(src: _SourceFile) -> _DesnzTables:
    """Read the needed Level 1 sections of 'Factors by Category', then stop.

    The sheet is sorted by Level 1 in contiguous blocks, so reading ends at the
    first row after the last needed block (about row 6,900 of 8,046).
    """
    workbook = load_workbook(io.BytesIO(src.content), read_only=True, data_only=True)
    try:
        rows = workbook[_DESNZ_SHEET].iter_rows(max_col=len(_DESNZ_HEADER), values_only=True)
        for header in rows:
            if header[0] == "ID":
                _expect(tuple(header) == _DESNZ_HEADER, f"DESNZ header changed: {header}")
                break
        else:
            raise ValueError("DESNZ: header row not found")

        picked: list[_DesnzRow] = []
        seen: set[str] = set()
        for cells in rows:
            level1 = _text(cells[2])
            if level1 not in _DESNZ_SECTIONS:
                if seen == _DESNZ_SECTIONS:
                    break
                continue
            seen.add(level1)
            picked.append(
                _DesnzRow(
                    id=str(cells[0]).strip(),
                    level1=level1,
                    level2=_text(cells[3]) or "",
                    level3=_text(cells[4]),
                    level4=_text(cells[5]),
                    column_text=_text(cells[6]),
                    uom=_text(cells[7]) or "",
                    ghg_unit=_text(cells[8]) or "",
                    value=cells[9],
                )
            )
        _expect(seen == _DESNZ_SECTIONS, f"DESNZ: missing sections {_DESNZ_SECTIONS - seen}")
        return _DesnzTables(picked)
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


def _freight_records(src: _SourceFile, desnz: _DesnzTables) -> list[SourceRecord]:
    """shipping / freight_factor: every 'Freighting goods' tonne.km total with a value."""
    records = []
    for row in desnz.totals_in("Freighting goods", "tonne.km"):
        _expect(row.level2 in _FREIGHT_MODE, f"DESNZ: unknown freight Level 2 {row.level2!r}")
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


def _flight_records(src: _SourceFile, desnz: _DesnzTables) -> list[SourceRecord]:
    """airline / flight_factor: 'Business travel- air' passenger.km totals."""
    records = []
    for row in desnz.totals_in("Business travel- air", "passenger.km"):
        _expect(row.level3 in _HAUL, f"DESNZ: unknown haul {row.level3!r} in {row.id}")
        _expect(row.level4 in _CABIN_CLASS, f"DESNZ: unknown class {row.level4!r} in {row.id}")
        _expect(row.column_text in _RADIATIVE_FORCING, f"DESNZ: no RF flag in {row.id}")
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


def _material_records(src: _SourceFile, desnz: _DesnzTables) -> list[SourceRecord]:
    """commodity / material_factor: 'Material use' per tonne; empty cells are skipped."""
    records = []
    for row in desnz.totals_in("Material use", "tonnes"):
        _expect(bool(row.level3 and row.column_text), f"DESNZ: unnamed material in {row.id}")
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


# --------------------------------------------------------------------------
# US EPA GHG Emission Factors Hub 2025, Table 6 (eGRID2023 subregions)
# --------------------------------------------------------------------------

_HUB_SHEET = "Emission Factors Hub"
_HUB_TABLE6_HEADER = (
    "eGRID Subregion Acronym", "eGRID Subregion Name",
    "CO2 Factor", "CH4 Factor", "N2O Factor",
    "CO2 Factor", "CH4 Factor", "N2O Factor",
    "Grid Gross Loss (%)",
)  # fmt: skip


def _egrid_records(src: _SourceFile) -> list[SourceRecord]:
    """utility / grid_rate for the 27 eGRID subregions and the US average.

    The GWPs come from the Hub's own GWP block at the top of the sheet: labels
    in C8:C9 ("CH4", "N2O"), values in D8:D9, and the AR basis from the note in
    C10. The eGRID data year comes from Table 6's source note ("EPA
    eGRID2023 ..."). Reading stops at the end of Table 6 (row 367 of ~1,000).
    """
    workbook = load_workbook(io.BytesIO(src.content), read_only=True, data_only=True)
    try:
        rows = workbook[_HUB_SHEET].iter_rows(min_col=1, max_col=11, values_only=True)
        gwp: dict[str, Any] = {}
        table_row: int | None = None
        year: int | None = None
        data: list[tuple[int, tuple[Any, ...]]] = []
        for number, cells in enumerate(rows, start=1):
            if number == 7:
                _expect(cells[3] == "100-Year GWP", f"Hub D7 is {cells[3]!r}")
            elif number in (8, 9):
                gas = {8: "CH4", 9: "N2O"}[number]
                _expect(cells[2] == gas and _is_number(cells[3]), f"Hub C{number}:D{number}")
                gwp[gas.lower()] = cells[3]
            elif number == 10:
                basis = re.search(r"\((AR\d)\)", str(cells[2]))
                _expect(basis is not None, "Hub C10: no AR basis in the GWP note")
                gwp["basis"] = basis.group(1) if basis else ""
            elif cells[1] == "Table 6":
                table_row = number
            elif table_row is not None and number == table_row + 3:
                _expect(tuple(cells[2:11]) == _HUB_TABLE6_HEADER, f"Hub Table 6 header: {cells}")
            elif table_row is not None and number >= table_row + 5:
                label = _text(cells[2]) or ""
                if label.startswith("Source:"):
                    found = re.search(r"eGRID(\d{4})", label)
                    _expect(found is not None, f"Hub Table 6 source note: {label!r}")
                    year = int(found.group(1)) if found else 0
                    break
                data.append((number, cells))
    finally:
        workbook.close()
    _expect(table_row is not None and year is not None, "Hub: Table 6 not found")
    _expect(set(gwp) == {"ch4", "n2o", "basis"}, f"Hub: GWPs not found ({gwp})")

    records = []
    for number, cells in data:
        acronym, name = _text(cells[2]), _text(cells[3])
        _expect(bool(acronym and name), f"Hub Table 6 row {number} has no subregion")
        _expect(all(map(_is_number, cells[4:10])), f"Hub Table 6 row {number}: missing rate")
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
            "grid_gross_loss": cells[10] if _is_number(cells[10]) else None,
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


# --------------------------------------------------------------------------
# EEA CO2 emission intensity of electricity generation
# --------------------------------------------------------------------------

# ISO 3166-1 alpha-2 codes. EU usage writes Greece "EL" and the United Kingdom
# "UK"; ISO (used here) has "GR" and "GB". The two EU aggregates get "EU27"/"EU28".
_EEA_REGION = {
    "Austria": "AT", "Belgium": "BE", "Bulgaria": "BG", "Croatia": "HR",
    "Cyprus": "CY", "Czechia": "CZ", "Denmark": "DK", "Estonia": "EE",
    "Finland": "FI", "France": "FR", "Germany": "DE", "Greece": "GR",
    "Hungary": "HU", "Ireland": "IE", "Italy": "IT", "Latvia": "LV",
    "Lithuania": "LT", "Luxembourg": "LU", "Malta": "MT", "Netherlands": "NL",
    "Norway": "NO", "Poland": "PL", "Portugal": "PT", "Romania": "RO",
    "Slovakia": "SK", "Slovenia": "SI", "Spain": "ES", "Sweden": "SE",
    "United Kingdom": "GB",
    "European Union - 27 countries (from 2020)": "EU27",
    "European Union - 28 countries (2013-2020)": "EU28",
}  # fmt: skip
_EEA_HEADER = [
    "Date:year", "Member State:text", "index:number",
    "Indicative level - high:number", "Indicative level - low:number",
]  # fmt: skip


def _eea_records(src: _SourceFile) -> list[SourceRecord]:
    """utility / grid_rate per EU country and year, from rows with a value in ``index``.

    Rows without an ``index`` carry only the indicative high/low band: the 2030
    projection and a repeated 2019 EU-27 row. Both are left out.
    """
    reader = csv.reader(io.StringIO(src.text(), newline=""))
    _expect(next(reader) == _EEA_HEADER, "EEA header changed")
    records = []
    for year_text, name, index, _high, _low in reader:
        if not index.strip():
            continue
        _expect(name in _EEA_REGION, f"EEA: no code for {name!r}")
        region, year = _EEA_REGION[name], int(year_text)
        payload = {
            "region_type": "eu_country",
            "region": region,
            "region_name": name,
            "year": year,
            "co2_g_per_kwh": float(index),
            "unit": "g CO2/kWh",
        }
        records.append(
            SourceRecord(
                channel="utility",
                kind="grid_rate",
                attributes=("eu_country", region, str(year)),
                payload=payload,
                source=src.source(f"{name} {year}", None),
            )
        )
    return records


# --------------------------------------------------------------------------
# EIA-861 utility list, 2020
# --------------------------------------------------------------------------

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


def _utility_records(src: _SourceFile) -> list[SourceRecord]:
    """utility / utility from both sheets; the 'Withheld' placeholder rows are left out."""
    workbook = load_workbook(io.BytesIO(src.content), read_only=True, data_only=True)
    records = []
    try:
        for sheet in _EIA_SHEETS:
            rows = workbook[sheet].iter_rows(min_row=2, max_col=len(_EIA_HEADER), values_only=True)
            _expect(tuple(next(rows)) == _EIA_HEADER, f"EIA {sheet}: header changed")
            for data_year, number, name, state, ownership, nerc in rows:
                if number is None:
                    continue
                _expect(isinstance(number, int), f"EIA {sheet}: utility number {number!r}")
                if number == _EIA_WITHHELD:
                    continue
                _expect(bool(_text(state)), f"EIA {sheet}: utility {number} has no state")
                payload = {
                    "utility_id": number,
                    "name": _text(name),
                    "state": _text(state),
                    "ownership": _text(ownership),
                    "nerc_region": _text(nerc),
                    "data_year": data_year,
                }
                records.append(
                    SourceRecord(
                        channel="utility",
                        kind="utility",
                        attributes=(str(number), _text(state) or ""),
                        payload=payload,
                        source=src.source(str(number), sheet),
                    )
                )
    finally:
        workbook.close()
    return records


# --------------------------------------------------------------------------
# US EPA Supply Chain GHG Emission Factors v1.3.0 (NAICS-6)
# --------------------------------------------------------------------------

_SUPPLY_CHAIN_HEADER = [
    "2017 NAICS Code", "2017 NAICS Title", "GHG", "Unit",
    "Supply Chain Emission Factors without Margins",
    "Margins of Supply Chain Emission Factors",
    "Supply Chain Emission Factors with Margins",
    "Reference USEEIO Code",
]  # fmt: skip
_SPEND_UNIT = "kg CO2e/2022 USD, purchaser price"


def _spend_records(src: _SourceFile) -> list[SourceRecord]:
    """commodity / spend_factor, one per NAICS-6 code."""
    reader = csv.reader(io.StringIO(src.text(), newline=""))
    _expect(next(reader) == _SUPPLY_CHAIN_HEADER, "EPA supply chain header changed")
    records = []
    for naics, title, ghg, unit, without_margins, margins, with_margins, useeio in reader:
        _expect(ghg == "All GHGs" and unit == _SPEND_UNIT, f"EPA supply chain {naics}: {unit}")
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


# --------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------


def load_factor_records(data_dir: Path | None = None) -> dict[str, list[SourceRecord]]:
    """Read the five source files and return the factor records per channel.

    ``data_dir`` defaults to this package's folder. The result has one list per
    channel in ``CHANNELS`` order, records in source order. Raises
    ``ValueError`` if a file's layout is not the one described in SOURCES.md
    or if two records would share a key.
    """
    folder = Path(data_dir) if data_dir is not None else DATA_DIR
    desnz_file = _read(
        folder, DESNZ_FILE, "UK DESNZ GHG conversion factors", "2023 (flat file v1.1)"
    )
    hub_file = _read(folder, HUB_FILE, "US EPA GHG Emission Factors Hub", "2025")
    eea_file = _read(
        folder, EEA_FILE, "EEA CO2 emission intensity of electricity generation", "1990-2019"
    )
    eia_file = _read(folder, EIA_FILE, "US EIA Form EIA-861 utility data", "2020")
    spend_file = _read(
        folder, SUPPLY_CHAIN_FILE, "US EPA Supply Chain GHG Emission Factors", "v1.3.0"
    )

    desnz = _read_desnz(desnz_file)
    by_channel: dict[str, list[SourceRecord]] = {
        "utility": [
            *_egrid_records(hub_file),
            *_eea_records(eea_file),
            *_utility_records(eia_file),
        ],
        "shipping": _freight_records(desnz_file, desnz),
        "airline": _flight_records(desnz_file, desnz),
        "commodity": [*_material_records(desnz_file, desnz), *_spend_records(spend_file)],
    }
    _check_unique(by_channel)
    return by_channel


def _check_unique(by_channel: dict[str, list[SourceRecord]]) -> None:
    for channel, records in by_channel.items():
        keys: set[tuple[str, ...]] = set()
        for record in records:
            _expect(record.key not in keys, f"{channel}: duplicate key {record.key}")
            keys.add(record.key)


# --------------------------------------------------------------------------
# Demo audited records
# --------------------------------------------------------------------------

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
            "factor": "material_factor/metal_aluminium_cans_and_foil_excl_forming/primary_material_production",
        }, "PO-2024-0102"),
    ]  # fmt: skip
    return {"utility": utility, "shipping": shipping, "airline": airline, "commodity": commodity}

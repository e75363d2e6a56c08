"""Assemble the factor records of the five source files in this folder, per channel.

Each source has its own reader module; this one reads them all and checks keys:

* ``utility``   - ``grid_rate``: eGRID2023 subregion rates (``epa_hub``: EPA GHG
  Emission Factors Hub 2025, Table 6) and EEA CO2 intensity per EU country and
  year (``eea``); ``utility``: the EIA-861 (2020) list of US electric utilities
  (``eia``).
* ``shipping``  - ``freight_factor``: DESNZ 2023 freight factors per tonne.km,
  tank-to-wheel with the gas split and the matching well-to-tank factor (``desnz``).
* ``airline``   - ``flight_factor``: DESNZ 2023 business-travel flight factors
  per passenger.km by haul, cabin class and radiative forcing (``desnz``).
* ``commodity`` - ``material_factor``: DESNZ 2023 material-use factors per
  tonne (``desnz``); ``spend_factor``: EPA supply-chain factors per 2022 USD by
  NAICS code (``supply_chain``).

The key of a record on its channel is ``(kind, *attributes)``; it is unique
per channel, and every attribute is a non-empty string without NUL.
"""

from __future__ import annotations

from pathlib import Path

from . import desnz, eea, eia, epa_hub, supply_chain
from .records import DATA_DIR, SourceRecord, expect

__all__ = ["SOURCE_FILES", "load_factor_records"]

SOURCE_FILES = tuple(
    source.file
    for source in (desnz.SOURCE, epa_hub.SOURCE, supply_chain.SOURCE, eea.SOURCE, eia.SOURCE)
)


def load_factor_records(data_dir: Path | None = None) -> dict[str, list[SourceRecord]]:
    """Read the five source files and return the factor records per channel.

    ``data_dir`` defaults to this package's folder. The result has one list per
    channel in ``CHANNELS`` order, records in source order. Raises
    ``ValueError`` if a file's layout is not the one described in SOURCES.md
    or if two records would share a key.
    """
    folder = Path(data_dir) if data_dir is not None else DATA_DIR
    # Every file is read before any is parsed, so a missing file is reported first.
    desnz_file = desnz.SOURCE.read(folder)
    hub_file = epa_hub.SOURCE.read(folder)
    eea_file = eea.SOURCE.read(folder)
    eia_file = eia.SOURCE.read(folder)
    spend_file = supply_chain.SOURCE.read(folder)

    tables = desnz.read_tables(desnz_file)
    by_channel: dict[str, list[SourceRecord]] = {
        "utility": [
            *epa_hub.grid_rate_records(hub_file),
            *eea.grid_rate_records(eea_file),
            *eia.utility_records(eia_file),
        ],
        "shipping": desnz.freight_records(desnz_file, tables),
        "airline": desnz.flight_records(desnz_file, tables),
        "commodity": [
            *desnz.material_records(desnz_file, tables),
            *supply_chain.spend_records(spend_file),
        ],
    }
    _check_unique(by_channel)
    return by_channel


def _check_unique(by_channel: dict[str, list[SourceRecord]]) -> None:
    for channel, records in by_channel.items():
        keys: set[tuple[str, ...]] = set()
        for record in records:
            expect(record.key not in keys, f"{channel}: duplicate key {record.key}")
            keys.add(record.key)

"""EEA CO2 emission intensity of electricity generation, per EU country and year.

Records made here: ``utility`` - ``grid_rate`` in g CO2/kWh, 1990-2019.
"""

from __future__ import annotations

from .records import Source, SourceFile, SourceRecord, expect

__all__ = ["SOURCE", "grid_rate_records"]

SOURCE = Source(
    "co2-emission-intensity-6.csv",
    "EEA CO2 emission intensity of electricity generation",
    "1990-2019",
)


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


def grid_rate_records(src: SourceFile) -> list[SourceRecord]:
    """utility / grid_rate per EU country and year, from rows with a value in ``index``.

    Rows without an ``index`` carry only the indicative high/low band: the 2030
    projection and a repeated 2019 EU-27 row. Both are left out.
    """
    reader = src.csv_rows()
    expect(next(reader) == _EEA_HEADER, "EEA header changed")
    records = []
    for year_text, name, index, _high, _low in reader:
        if not index.strip():
            continue
        expect(name in _EEA_REGION, f"EEA: no code for {name!r}")
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

"""The factor files in ``data/`` and the records the loader makes from them.

Expected values are the check values of the data's SOURCES.md, read by hand
from the cells named in each comment. They are written out here so the tests
stand alone.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import time
from pathlib import Path

import pytest
from datachannels.data.demo import LB_TO_KG, demo_audited_records
from datachannels.data.loader import SOURCE_FILES, load_factor_records
from datachannels.data.records import CHANNELS, DATA_DIR, SourceRecord, canonical_json, slug

# sha256 of each file as published (byte-for-byte copies).
EXPECTED_SHA256 = {
    "ghg-conversion-factors-2023-flat-file-update.xlsx":
        "804885cb9d8f02bbb97dcd92b79ca294080ba892ba67e3c95fcfbae52af359a6",
    "ghg-emission-factors-hub-2025.xlsx":
        "db9085f182e50c7fd9106a902986434fb41ef0426afc953acb40f61a495e8a76",
    "SupplyChainGHGEmissionFactors_v1.3.0_NAICS_CO2e_USD2022.csv":
        "c7f508646ee091cb2218be65dec0e2bdb6143ba8511773d486c9e87f6df84177",
    "co2-emission-intensity-6.csv":
        "3a1d8f8b4a64173b285ee5c4428b680c97c0a3faaa68d5732a1cd393738ef7f2",
    "Utility_Data_2020.xlsx":
        "6aa0298968bcd6b36a3f0c233c23759cad21717fa6d1b881090dbf80669b30a1",
}  # fmt: skip
EXPECTED_SIZE = {
    "ghg-conversion-factors-2023-flat-file-update.xlsx": 512_052,
    "ghg-emission-factors-hub-2025.xlsx": 1_013_674,
    "SupplyChainGHGEmissionFactors_v1.3.0_NAICS_CO2e_USD2022.csv": 117_623,
    "co2-emission-intensity-6.csv": 22_288,
    "Utility_Data_2020.xlsx": 257_680,
}

Records = dict[str, list[SourceRecord]]
Index = dict[tuple[str, ...], SourceRecord]


@pytest.fixture(scope="module")
def records() -> Records:
    return load_factor_records()


@pytest.fixture(scope="module")
def index(records: Records) -> Index:
    """(channel, kind, *attributes) -> record."""
    return {(r.channel, *r.key): r for rs in records.values() for r in rs}


def freight(index: Index, mode: str, desnz_id: str) -> dict:
    return index[("shipping", "freight_factor", mode, desnz_id)].payload


def flight(index: Index, haul: str, cabin: str, rf: str) -> dict:
    return index[("airline", "flight_factor", haul, cabin, rf)].payload


def grid(index: Index, region_type: str, region: str, year: int) -> dict:
    return index[("utility", "grid_rate", region_type, region, str(year))].payload


# ---------------------------------------------------------------- the files


@pytest.mark.parametrize("name", sorted(EXPECTED_SHA256))
def test_copied_file_is_byte_identical_to_the_published_one(name: str) -> None:
    content = (DATA_DIR / name).read_bytes()
    assert len(content) == EXPECTED_SIZE[name]
    assert hashlib.sha256(content).hexdigest() == EXPECTED_SHA256[name]


def test_loader_reads_exactly_the_documented_files() -> None:
    assert set(SOURCE_FILES) == set(EXPECTED_SHA256)
    sources_md = (DATA_DIR / "SOURCES.md").read_text(encoding="utf-8")
    for name, digest in EXPECTED_SHA256.items():
        assert name in sources_md and digest in sources_md


def test_every_record_cites_its_file_and_the_sha256_of_that_file(records: Records) -> None:
    for record in (r for rs in records.values() for r in rs):
        source = record.source
        assert set(source) == {"dataset", "edition", "file", "sha256", "row", "sheet"}
        assert source["sha256"] == EXPECTED_SHA256[source["file"]]
        assert isinstance(source["row"], str) and source["row"]


def test_sha256_is_computed_from_the_file_at_load_time(tmp_path: Path) -> None:
    for name in SOURCE_FILES:
        shutil.copyfile(DATA_DIR / name, tmp_path / name)
    # Same data, different bytes: CRLF -> LF in the supply-chain CSV.
    csv_path = tmp_path / "SupplyChainGHGEmissionFactors_v1.3.0_NAICS_CO2e_USD2022.csv"
    lf_bytes = csv_path.read_bytes().replace(b"\r\n", b"\n")
    csv_path.write_bytes(lf_bytes)

    loaded = load_factor_records(tmp_path)
    spend = [r for r in loaded["commodity"] if r.kind == "spend_factor"]
    assert spend[0].source["sha256"] == hashlib.sha256(lf_bytes).hexdigest()
    assert spend[0].source["sha256"] != EXPECTED_SHA256[csv_path.name]


# ---------------------------------------------------------------- shape of every record


def test_every_channel_is_present_and_nothing_else(records: Records) -> None:
    assert list(records) == list(CHANNELS)


def test_record_counts_per_channel_and_kind(records: Records) -> None:
    counts = {
        (channel, kind): sum(1 for r in rs if r.kind == kind)
        for channel, rs in records.items()
        for kind in {r.kind for r in rs}
    }
    assert counts == {
        # 27 eGRID subregions + US average (Hub Table 6 rows 339-366)
        # + 901 EEA rows with an index: 28 countries + EU27 + EU28, each 1990-2019
        #   (30 x 30 = 900), + Norway, which appears for 2019 only
        ("utility", "grid_rate"): 28 + 901,
        # EIA-861: 1,694 'States' rows minus 3 'Withheld' (88888) rows, + 5 territories
        ("utility", "utility"): 1691 + 5,
        # DESNZ 'Freighting goods' tonne.km totals: 154, of which 29 are empty
        # (0% laden HGVs, van fuels DESNZ does not publish)
        ("shipping", "freight_factor"): 125,
        # 'Business travel- air': 2 + 6 + 10 + 10 haul/class/RF combinations
        ("airline", "flight_factor"): 28,
        # 'Material use': 168 rows (42 materials x 4 production routes), 71 with a number
        ("commodity", "material_factor"): 71,
        # EPA supply chain v1.3.0: one per NAICS-6 code
        ("commodity", "spend_factor"): 1016,
    }


def test_attributes_are_non_empty_strings_without_nul(records: Records) -> None:
    for record in (r for rs in records.values() for r in rs):
        assert isinstance(record.attributes, tuple) and record.attributes
        for part in record.attributes:
            assert isinstance(part, str) and part and "\x00" not in part


def test_keys_are_unique_per_channel_and_kind(records: Records) -> None:
    for channel, rs in records.items():
        keys = [r.key for r in rs]
        assert len(keys) == len(set(keys)), channel


def test_every_payload_is_json_serialisable(records: Records) -> None:
    for record in (r for rs in records.values() for r in rs):
        json.dumps(record.payload, allow_nan=False)
        json.dumps(record.source, allow_nan=False)


def test_a_record_with_an_empty_or_nul_attribute_is_refused() -> None:
    source = {"dataset": "t", "edition": "t", "file": None, "sha256": "", "row": "1", "sheet": None}
    with pytest.raises(ValueError):
        SourceRecord("utility", "grid_rate", ("",), {}, source)
    with pytest.raises(ValueError):
        SourceRecord("utility", "grid_rate", ("a\x00b",), {}, source)
    with pytest.raises(ValueError):
        SourceRecord("utility", "grid_rate", (), {}, source)
    with pytest.raises(ValueError):
        SourceRecord("footprint", "grid_rate", ("x",), {}, source)


def test_slug_lowercases_and_collapses_non_alphanumerics() -> None:
    assert slug("Plastics: HDPE (incl. forming)") == "plastics_hdpe_incl_forming"
    assert slug("Re-used") == "re_used"


def test_loading_stays_well_inside_the_first_start_budget() -> None:
    # The whole first start (load, sign, write) must take under 5 s; the loader
    # itself takes about 0.8-1.0 s on the 2-core build machine.
    start = time.perf_counter()
    load_factor_records()
    assert time.perf_counter() - start < 5.0


# ---------------------------------------------------------------- 1. DESNZ 2023: freight


def test_container_ship_factor_and_its_wtt_partner(index: Index) -> None:
    # Factors by Category, 27_320_3235_14_1: Cargo ship / Container ship / Average, tonne.km
    p = freight(index, "sea", "27_320_3235_14_1")
    assert p["ttw_kg_co2e"] == 0.01611856979865772
    # 28_916_3235_14_1: WTT- cargo ship / Container ship / Average
    assert p["wtt_id"] == "28_916_3235_14_1"
    assert p["wtt_kg_co2e"] == 0.0036545727968278255
    assert (p["category"], p["vehicle"], p["load"], p["variant"]) == (
        "Cargo ship", "Container ship", "Average", None,
    )  # fmt: skip
    assert p["unit"] == "tonne.km" and p["radiative_forcing"] is None
    # 5 t shipped 5,000 km
    assert round(25_000 * p["ttw_kg_co2e"], 3) == 402.964
    assert round(25_000 * p["wtt_kg_co2e"], 3) == 91.364


def test_road_rail_and_air_freight_factors(index: Index) -> None:
    # 27_304_3140_14_1: HGV (all diesel) / All HGVs / Average laden
    hgv = freight(index, "road", "27_304_3140_14_1")
    assert hgv["ttw_kg_co2e"] == 0.09695746711409396
    assert (hgv["vehicle"], hgv["variant"]) == ("All HGVs", "Average laden")
    assert round(20 * 300 * hgv["ttw_kg_co2e"], 3) == 581.745
    # 27_315_3151_14_1: Rail / Freight train
    assert freight(index, "rail", "27_315_3151_14_1")["ttw_kg_co2e"] == 0.027788071140939598
    # 27_317_3156_14_1 / 3157: Freight flights / Long-haul, to/from UK / With, Without RF
    with_rf = freight(index, "air", "27_317_3156_14_1")
    without_rf = freight(index, "air", "27_317_3157_14_1")
    assert with_rf["ttw_kg_co2e"] == 1.0990316040268457 and with_rf["radiative_forcing"] is True
    assert round(without_rf["ttw_kg_co2e"], 6) == 0.648742
    assert without_rf["radiative_forcing"] is False


def test_freight_modes_are_road_rail_sea_and_air_only(records: Records) -> None:
    # DESNZ 2023 has no inland-waterway freight factor.
    modes = {r.payload["mode"] for r in records["shipping"]}
    assert modes == {"road", "rail", "sea", "air"}
    for record in records["shipping"]:
        assert record.attributes == (record.payload["mode"], record.payload["ttw_id"])
        assert record.source["row"] == record.payload["ttw_id"]


def test_every_freight_factor_has_gas_split_and_wtt_partner_with_same_item_code(
    records: Records,
) -> None:
    for record in records["shipping"]:
        p = record.payload
        gases = p["ttw_gases"]
        assert math.isclose(
            gases["co2"] + gases["ch4"] + gases["n2o"], p["ttw_kg_co2e"], rel_tol=1e-12
        )
        assert p["wtt_id"].startswith("28_") and isinstance(p["wtt_kg_co2e"], float)
        assert p["wtt_id"].split("_")[2:] == p["ttw_id"].split("_")[2:]


def test_refrigerated_hgvs_pair_with_refrigerated_wtt_although_item_codes_repeat(
    index: Index,
) -> None:
    # HGV (all diesel) and HGV refrigerated share item codes 3109-3140.
    assert freight(index, "road", "27_304_3140_14_1")["wtt_id"] == "28_907_3140_14_1"
    assert freight(index, "road", "27_306_3140_14_1")["wtt_id"] == "28_908_3140_14_1"


# ---------------------------------------------------------------- 1. DESNZ 2023: flights


def test_long_haul_economy_flight_factors(index: Index) -> None:
    # 21_316_3170_11_1 / 21_316_3171_11_1: Flights / Long-haul, to/from UK / Economy class
    rf = flight(index, "long_haul", "economy", "rf")
    no_rf = flight(index, "long_haul", "economy", "no_rf")
    assert rf["kg_co2e"] == 0.20010828053691276 and rf["desnz_id"] == "21_316_3170_11_1"
    assert no_rf["kg_co2e"] == 0.11811828053691276 and no_rf["desnz_id"] == "21_316_3171_11_1"
    assert rf["radiative_forcing"] is True and no_rf["radiative_forcing"] is False
    assert rf["unit"] == "passenger.km"
    assert (rf["desnz_level3"], rf["desnz_level4"]) == ("Long-haul, to/from UK", "Economy class")
    # 22_912_3170_11_1: WTT- flights / Long-haul / Economy class / With RF
    assert rf["wtt_id"] == "22_912_3170_11_1" and rf["wtt_kg_co2e"] == 0.02461
    # LHR -> JFK, 5,539.63 km great circle, one economy passenger
    assert round(5539.63 * rf["kg_co2e"], 2) == 1108.53
    assert round(5539.63 * no_rf["kg_co2e"], 2) == 654.33


def test_domestic_average_passenger_flight_factor(index: Index) -> None:
    # 21_316_3160_11_1: Flights / Domestic, to/from UK / Average passenger / With RF
    assert flight(index, "domestic", "average", "rf")["kg_co2e"] == 0.2725767852348993


def test_flight_factors_cover_the_published_haul_and_class_combinations(
    records: Records,
) -> None:
    combos = {r.attributes[:2] for r in records["airline"]}
    assert combos == {
        ("domestic", "average"),
        *(("short_haul", c) for c in ("average", "economy", "business")),
        *(
            (haul, c)
            for haul in ("long_haul", "international")
            for c in ("average", "economy", "premium_economy", "business", "first")
        ),
    }
    for record in records["airline"]:
        p = record.payload
        assert math.isclose(sum(p["gases"].values()), p["kg_co2e"], rel_tol=1e-12)
        assert p["wtt_id"].split("_")[2:] == p["desnz_id"].split("_")[2:]


# ---------------------------------------------------------------- 1. DESNZ 2023: materials


def test_material_factors_are_keyed_by_material_and_production_slug(index: Index) -> None:
    # 19_505_5140_15_1: Material use / Plastic / Plastics: PET (incl. forming) / Primary
    p = index[
        ("commodity", "material_factor", "plastics_pet_incl_forming", "primary_material_production")
    ].payload
    assert p == {
        "material": "Plastics: PET (incl. forming)",
        "group": "Plastic",
        "production": "Primary material production",
        "unit": "tonnes",
        "kg_co2e_per_tonne": 4018.4834060710423,
        "desnz_id": "19_505_5140_15_1",
    }
    # 19_500_5000_15_1 / 5001: Construction / Aggregates
    assert (
        index[("commodity", "material_factor", "aggregates", "re_used")].payload[
            "kg_co2e_per_tonne"
        ]
        == 2.21
    )


def test_material_cells_without_a_number_are_left_out(index: Index) -> None:
    # 19_500_5002_15_1: Aggregates / Open-loop source is empty in the source
    assert ("commodity", "material_factor", "aggregates", "open_loop_source") not in index


# ---------------------------------------------------------------- 2. EPA Hub 2025, Table 6


def test_camx_grid_rate_from_hub_table_6(index: Index) -> None:
    # Emission Factors Hub, row 342: CAMX WECC California
    p = grid(index, "egrid_subregion", "CAMX", 2023)
    assert p["region_name"] == "WECC California" and p["year"] == 2023
    assert (p["co2_lb_per_mwh"], p["ch4_lb_per_mwh"], p["n2o_lb_per_mwh"]) == (
        436.655,
        0.025,
        0.003,
    )
    assert (
        p["nonbaseload_co2_lb_per_mwh"],
        p["nonbaseload_ch4_lb_per_mwh"],
        p["nonbaseload_n2o_lb_per_mwh"],
    ) == (1033.985, 0.051, 0.007)
    assert p["grid_gross_loss"] == 0.041  # 4.1 %, stored as a fraction
    assert p["unit"] == "lb/MWh"
    # GWPs from the Hub's own cells C8:D9 (AR5)
    assert p["gwp"] == {"ch4": 28, "n2o": 265, "basis": "AR5"}
    # 1,000 kWh in CAMX
    assert round(1000 * p["co2_lb_per_mwh"] * LB_TO_KG / 1000, 3) == 198.063
    co2e = p["co2_lb_per_mwh"] + p["ch4_lb_per_mwh"] * 28 + p["n2o_lb_per_mwh"] * 265
    assert round(co2e, 2) == 438.15
    assert round(1000 * co2e * LB_TO_KG / 1000, 3) == 198.741


def test_other_egrid_co2_rates_and_the_empty_prms_grid_loss(index: Index) -> None:
    # Hub Table 6 rows 366 (US Average), 343 (ERCT), 353 (NYUP), 362 (SRMW), 354 (PRMS)
    assert grid(index, "egrid_subregion", "US", 2023)["co2_lb_per_mwh"] == 771.523
    assert grid(index, "egrid_subregion", "US", 2023)["region_name"] == "US Average"
    assert grid(index, "egrid_subregion", "ERCT", 2023)["co2_lb_per_mwh"] == 738.038
    assert grid(index, "egrid_subregion", "NYUP", 2023)["co2_lb_per_mwh"] == 240.99
    assert grid(index, "egrid_subregion", "SRMW", 2023)["co2_lb_per_mwh"] == 1238.311
    assert grid(index, "egrid_subregion", "PRMS", 2023)["grid_gross_loss"] is None


def test_egrid_records_cite_their_hub_row(index: Index, records: Records) -> None:
    camx = index[("utility", "grid_rate", "egrid_subregion", "CAMX", "2023")]
    assert camx.source["row"] == "Table 6 row 342"
    assert camx.source["sheet"] == "Emission Factors Hub"
    egrid = [r for r in records["utility"] if r.attributes[0] == "egrid_subregion"]
    assert [r.source["row"] for r in egrid] == [f"Table 6 row {n}" for n in range(339, 367)]


# ---------------------------------------------------------------- 3. EPA supply chain v1.3.0


def test_iron_and_steel_spend_factor(index: Index) -> None:
    # NAICS 331110 row of the CSV
    p = index[("commodity", "spend_factor", "331", "331110")].payload
    assert p["title"] == "Iron and Steel Mills and Ferroalloy Manufacturing"
    assert p["kg_co2e_per_usd_without_margins"] == 0.769
    assert p["margins"] == 0.018
    assert p["kg_co2e_per_usd"] == 0.787
    assert p["unit"] == "kg CO2e/2022 USD, purchaser price" and p["price_year"] == 2022
    assert round(1000 * p["kg_co2e_per_usd"], 6) == 787  # USD 1,000 (2022)


@pytest.mark.parametrize(
    ("naics", "with_margins"),
    [("483111", 0.816), ("484121", 0.595), ("211130", 0.405)],  # CSV rows by NAICS code
)
def test_other_spend_factors(index: Index, naics: str, with_margins: float) -> None:
    record = index[("commodity", "spend_factor", naics[:3], naics)]
    assert record.payload["kg_co2e_per_usd"] == with_margins
    assert record.source["row"] == naics


# ---------------------------------------------------------------- 4. EEA CO2 intensity


@pytest.mark.parametrize(
    ("region", "name", "g_per_kwh"),
    [  # rows "2019,<Member State>,<index>" of co2-emission-intensity-6.csv
        ("PL", "Poland", 719.0),
        ("DE", "Germany", 338.0),
        ("FR", "France", 52.0),
        ("SE", "Sweden", 8.0),
        ("EU27", "European Union - 27 countries (from 2020)", 275.0),
    ],
)
def test_eea_2019_intensities(index: Index, region: str, name: str, g_per_kwh: float) -> None:
    record = index[("utility", "grid_rate", "eu_country", region, "2019")]
    assert record.payload == {
        "region_type": "eu_country",
        "region": region,
        "region_name": name,
        "year": 2019,
        "co2_g_per_kwh": g_per_kwh,
        "unit": "g CO2/kWh",
    }
    assert record.source["row"] == f"{name} 2019"


def test_eea_poland_1000_kwh_is_719_kg_co2(index: Index) -> None:
    assert 1000 * grid(index, "eu_country", "PL", 2019)["co2_g_per_kwh"] / 1000 == 719.0


def test_eea_uses_iso_codes_and_leaves_out_the_2030_projection(records: Records) -> None:
    eea = [r.payload for r in records["utility"] if r.attributes[0] == "eu_country"]
    regions = {p["region"] for p in eea}
    assert {"GR", "GB", "EU27", "EU28"} <= regions and not {"EL", "UK"} & regions
    assert all(len(r) == 2 for r in regions - {"EU27", "EU28"})
    assert {p["year"] for p in eea} == set(range(1990, 2020))


# ---------------------------------------------------------------- 6. EIA-861 utilities


def test_eia_utilities(index: Index) -> None:
    # Utility_Data_2020.xlsx, sheet States
    assert index[("utility", "utility", "14328", "CA")].payload == {
        "utility_id": 14328,
        "name": "Pacific Gas & Electric Co.",
        "state": "CA",
        "ownership": "Investor Owned",
        "nerc_region": "WECC",
        "data_year": 2020,
    }
    aberdeen = index[("utility", "utility", "55", "MS")]
    assert aberdeen.payload["name"] == "City of Aberdeen - (MS)"
    assert aberdeen.payload["ownership"] == "Municipal"
    assert aberdeen.payload["nerc_region"] == "SERC"
    assert (aberdeen.source["row"], aberdeen.source["sheet"]) == ("55", "States")


def test_eia_territories_are_loaded_and_withheld_placeholders_are_not(index: Index) -> None:
    # sheet Territories: Puerto Rico Electric Pwr Authority
    prepa = index[("utility", "utility", "15497", "PR")]
    assert prepa.source["sheet"] == "Territories"
    assert ("utility", "utility", "88888", "TX") not in index


# ---------------------------------------------------------------- demo audited records


@pytest.fixture(scope="module")
def demo() -> Records:
    return demo_audited_records()


def test_demo_records_cover_every_channel_for_both_customers(demo: Records) -> None:
    expected_kind = {
        "utility": "invoice", "shipping": "shipment", "airline": "ticket", "commodity": "purchase",
    }  # fmt: skip
    assert list(demo) == list(CHANNELS)
    for channel, rs in demo.items():
        assert 3 <= len(rs) <= 4
        assert {r.kind for r in rs} == {expected_kind[channel]}
        assert {r.attributes[0] for r in rs} == {"AcmeMSP", "GlobexMSP"}
        assert len({r.key for r in rs}) == len(rs)
        for r in rs:
            assert r.payload["customer"] == r.attributes[0]


def test_demo_source_hashes_the_canonical_json_of_the_payload(demo: Records) -> None:
    for record in (r for rs in demo.values() for r in rs):
        assert record.source == {
            "dataset": "demo audit",
            "edition": "2025",
            "file": None,
            "sha256": hashlib.sha256(canonical_json(record.payload)).hexdigest(),
            "row": record.attributes[1],
            "sheet": None,
        }


def test_demo_payloads_have_the_documented_fields(demo: Records) -> None:
    required = {
        "invoice": {"customer", "invoice_id", "utility_id", "grid_region", "period_start",
                    "period_end", "kwh", "kg_co2e"},
        "shipment": {"customer", "shipment_id", "mode", "vehicle", "tonnes", "km", "origin",
                     "destination", "date", "kg_co2e"},
        "ticket": {"customer", "ticket_id", "origin", "destination", "cabin_class",
                   "passengers", "date", "kg_co2e"},
        "purchase": {"customer", "purchase_id", "date", "kg_co2e"},
    }  # fmt: skip
    for record in (r for rs in demo.values() for r in rs):
        assert required[record.kind] <= set(record.payload)
        json.dumps(record.payload, allow_nan=False)
        if record.kind == "purchase":
            assert {"commodity", "tonnes"} <= set(record.payload) or {
                "naics", "amount_usd",
            } <= set(record.payload)  # fmt: skip


def _recompute(record: SourceRecord, factor: dict) -> float:
    p = record.payload
    if record.kind == "invoice":
        lb_per_mwh = (
            factor["co2_lb_per_mwh"]
            + factor["ch4_lb_per_mwh"] * factor["gwp"]["ch4"]
            + factor["n2o_lb_per_mwh"] * factor["gwp"]["n2o"]
        )
        return p["kwh"] * lb_per_mwh * LB_TO_KG / 1000
    if record.kind == "shipment":
        return p["tonnes"] * p["km"] * factor["ttw_kg_co2e"]
    if record.kind == "ticket":
        return p["passengers"] * p["km"] * factor["kg_co2e"]
    if "tonnes" in p:
        return p["tonnes"] * factor["kg_co2e_per_tonne"]
    return p["amount_usd"] * factor["kg_co2e_per_usd"]


def test_demo_figures_agree_with_the_real_factors_to_the_gram(demo: Records, index: Index) -> None:
    for record in (r for rs in demo.values() for r in rs):
        factor = index[(record.channel, *record.payload["factor"].split("/"))]
        assert abs(_recompute(record, factor.payload) - record.payload["kg_co2e"]) <= 0.0005


def test_demo_records_refer_to_real_utilities_regions_and_factors(
    demo: Records, index: Index
) -> None:
    utility_ids = {k[2] for k in index if k[:2] == ("utility", "utility")}
    for record in demo["utility"]:
        assert str(record.payload["utility_id"]) in utility_ids
        assert (
            "utility",
            "grid_rate",
            "egrid_subregion",
            record.payload["grid_region"],
            "2023",
        ) in index
    for record in demo["shipping"]:
        factor = index[(record.channel, *record.payload["factor"].split("/"))].payload
        assert (record.payload["mode"], record.payload["vehicle"]) == (
            factor["mode"],
            factor["vehicle"],
        )
    for record in demo["airline"]:
        factor = index[(record.channel, *record.payload["factor"].split("/"))].payload
        assert record.payload["cabin_class"] == factor["cabin_class"]

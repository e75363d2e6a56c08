"""Footprint lines against values worked out by hand from the source files (to 0.1 %).

Each expected value is computed in the test from the source cells it cites
(sheet and row), never taken from the engine.  The footprint is computed by
the real gateway on a real ledger loaded from data/.
"""

from __future__ import annotations

import pytest

from tests.conftest import graphql, wallet_for

LB = 0.45359237  # kg per lb, exact
MILE = 1.609344  # km, exact
SHORT_TON = 0.90718474  # t, exact
REL = 1e-3  # 0.1 %

QUERY = """query($i: FootprintInput!) { footprint(input: $i) {
  totalKgCO2e byScope { scope category kgCO2e }
  lines { kgCO2e channel activity basis scope category distanceKm ttwKgCO2e wttKgCO2e
          gases { gas kgCO2e } factor { value recordKey provenance { sourceRow dataset } } } } }"""

# (activity input, expected kg CO2e, scope, category, source row): the expected values by hand.
ELECTRICITY = [
    # EPA Hub 2025, sheet "Emission Factors Hub", Table 6 row 342 (CAMX): CO2 436.655, CH4 0.025,
    # N2O 0.003 lb/MWh; AR5 GWPs 28, 265.
    (
        {"kwh": 1000, "gridRegion": "CAMX"},
        1000 * (436.655 + 28 * 0.025 + 265 * 0.003) * LB / 1000,
        2,
        None,
        "Table 6 row 342",
    ),
    # Table 6 row 343 (ERCT): 738.038, 0.043, 0.006 lb/MWh.
    (
        {"kwh": 1000, "gridRegion": "erct"},
        1000 * (738.038 + 28 * 0.043 + 265 * 0.006) * LB / 1000,
        2,
        None,
        "Table 6 row 343",
    ),
    # Table 6 row 353 (NYUP): 240.99, 0.011, 0.001 lb/MWh.
    (
        {"kwh": 2500, "gridRegion": "NYUP", "year": 2023},
        2500 * (240.99 + 28 * 0.011 + 265 * 0.001) * LB / 1000,
        2,
        None,
        "Table 6 row 353",
    ),
    # EEA co2-emission-intensity-6.csv, Poland 2019: 719 g CO2/kWh.
    ({"kwh": 1000, "country": "PL", "year": 2019}, 719.0, 2, None, "Poland 2019"),
    # EEA, Germany 2019: 338 g CO2/kWh (2019 is the latest year in the file, so the default).
    ({"kwh": 500, "country": "DE"}, 500 * 338 / 1000, 2, None, "Germany 2019"),
]
FREIGHT = [
    # DESNZ 2023 flat file, "Factors by Category", 27_320_3235_14_1 container ship
    # 0.01611856979865772 (TTW) and 28_916_3235_14_1 WTT 0.0036545727968278255 per tonne.km:
    # 5 t × 5,000 km, WTW.
    (
        {"mode": "SEA", "tonnes": 5, "km": 5000, "vehicle": "Container Ship"},
        25000 * (0.01611856979865772 + 0.0036545727968278255),
        3,
        4,
        "27_320_3235_14_1",
    ),
    # 27_304_3140_14_1 All HGVs average laden 0.09695746711409396, WTT 28_907_3140_14_1 0.02346:
    # 20 t × 300 km.
    (
        {"mode": "ROAD", "tonnes": 20, "km": 300},
        6000 * (0.09695746711409396 + 0.02346),
        3,
        4,
        "27_304_3140_14_1",
    ),
    # 27_315_3151_14_1 freight train 0.027788071140939598, TTW only: 10 t × 100 km.
    (
        {"mode": "RAIL", "tonnes": 10, "km": 100, "wellToWheel": False},
        1000 * 0.027788071140939598,
        3,
        4,
        "27_315_3151_14_1",
    ),
    # The same train in US units: 1 short ton × 100 miles, WTW (WTT 28_911_3151_14_1
    # 0.006911679946862659).
    (
        {"mode": "RAIL", "shortTons": 1, "miles": 100},
        SHORT_TON * 100 * MILE * (0.027788071140939598 + 0.006911679946862659),
        3,
        4,
        "27_315_3151_14_1",
    ),
]
FLIGHTS = [
    # 21_316_3170_11_1 long-haul economy with RF 0.20010828053691276 per passenger.km;
    # LHR→JFK 5,539.63 km (airportsdata coordinates, haversine R = 6371.0088 km; shared
    # SOURCES.md check value 1,108.53 kg).
    (
        {"origin": "LHR", "destination": "JFK", "cabinClass": "ECONOMY"},
        5539.63 * 0.20010828053691276,
        3,
        6,
        "21_316_3170_11_1",
    ),
    # 21_316_3171_11_1 the same without RF, 0.11811828053691276.
    (
        {"origin": "LHR", "destination": "JFK", "cabinClass": "ECONOMY", "radiativeForcing": False},
        5539.63 * 0.11811828053691276,
        3,
        6,
        "21_316_3171_11_1",
    ),
    # 21_316_3166_11_1 short-haul business with RF 0.274302877852349; LHR→CDG 347.17 km,
    # 2 passengers.
    (
        {"origin": "LHR", "destination": "CDG", "cabinClass": "BUSINESS", "passengers": 2},
        2 * 347.17 * 0.274302877852349,
        3,
        6,
        "21_316_3166_11_1",
    ),
    # 21_316_3184_11_1 international (non-UK) business with RF 0.3904432053691275;
    # SFO→NRT 8,227.54 km.
    (
        {"origin": "SFO", "destination": "NRT", "cabinClass": "BUSINESS"},
        8227.54 * 0.3904432053691275,
        3,
        6,
        "21_316_3184_11_1",
    ),
]
PURCHASES = [
    # EPA Supply Chain GHG Emission Factors v1.3.0, NAICS 331110, with margins
    # 0.787 kg CO2e/2022 USD.
    ({"naics": "331110", "amountUsd": 1000}, 787.0, 3, 1, "331110"),
    # NAICS 484121, with margins 0.595.
    ({"naics": "484121", "amountUsd": 40000}, 40000 * 0.595, 3, 1, "484121"),
    # NAICS 211130, with margins 0.405.
    ({"naics": "211130", "amountUsd": 1000}, 405.0, 3, 1, "211130"),
    # DESNZ 2023, Material use, 19_505_5140_15_1 Plastics: PET (incl. forming), primary:
    # 4018.4834060710423 kg/t.
    (
        {"commodity": "Plastics: PET (incl. forming)", "tonnes": 12},
        12 * 4018.4834060710423,
        3,
        1,
        "19_505_5140_15_1",
    ),
    # 19_504_5104_15_1 Metal: aluminium cans and foil (excl. forming), primary:
    # 9108.727308510066 kg/t.
    (
        {"commodity": "metal: aluminium cans and foil (excl. forming)", "tonnes": 3},
        3 * 9108.727308510066,
        3,
        1,
        "19_504_5104_15_1",
    ),
]


@pytest.fixture
def lines(client, data_dir):
    variables = {
        "i": {
            "electricity": [a for a, *_ in ELECTRICITY],
            "freight": [a for a, *_ in FREIGHT],
            "flights": [a for a, *_ in FLIGHTS],
            "purchases": [a for a, *_ in PURCHASES],
        }
    }
    answer = graphql(client, QUERY, wallet_for(data_dir, "acme"), variables)
    assert "errors" not in answer, answer.get("errors")
    return answer["data"]["footprint"]


def _check(line, expected, scope, category, row):
    assert line["kgCO2e"] == pytest.approx(expected, rel=REL), line["activity"]
    assert (line["scope"], line["category"]) == (scope, category)
    assert line["factor"]["provenance"]["sourceRow"] == row
    assert line["basis"] == "CALCULATED"


def test_every_line_matches_the_value_worked_out_by_hand(lines):
    cases = ELECTRICITY + FREIGHT + FLIGHTS + PURCHASES
    assert len(lines["lines"]) == len(cases)
    for line, (_, expected, scope, category, row) in zip(lines["lines"], cases):
        _check(line, expected, scope, category, row)


def test_totals_are_the_sums_of_the_lines(lines):
    import math

    assert lines["totalKgCO2e"] == math.fsum(line["kgCO2e"] for line in lines["lines"])
    assert math.fsum(s["kgCO2e"] for s in lines["byScope"]) == pytest.approx(
        lines["totalKgCO2e"], rel=1e-12
    )
    assert [(s["scope"], s["category"]) for s in lines["byScope"]] == [
        (2, None),
        (3, 1),
        (3, 4),
        (3, 6),
    ]


def test_an_egrid_line_shows_its_gases_adding_up_to_the_line(lines):
    camx = lines["lines"][0]
    gases = {g["gas"]: g["kgCO2e"] for g in camx["gases"]}
    assert gases["CO2"] == pytest.approx(436.655 * LB, rel=1e-9)  # 198.063 kg
    assert gases["CH4"] == pytest.approx(28 * 0.025 * LB, rel=1e-9)
    assert gases["N2O"] == pytest.approx(265 * 0.003 * LB, rel=1e-9)
    assert sum(gases.values()) == pytest.approx(camx["kgCO2e"], rel=1e-12)


def test_freight_lines_show_ttw_and_wtt_that_add_up_to_wtw(lines):
    sea = lines["lines"][len(ELECTRICITY)]
    assert sea["ttwKgCO2e"] == pytest.approx(402.964, rel=1e-6)  # shared SOURCES.md check value
    assert sea["wttKgCO2e"] == pytest.approx(91.364, rel=1e-5)
    assert sea["ttwKgCO2e"] + sea["wttKgCO2e"] == pytest.approx(sea["kgCO2e"], rel=1e-12)


def test_grid_losses_are_a_separate_scope_3_category_3_line(client, data_dir):
    answer = graphql(
        client,
        QUERY,
        wallet_for(data_dir, "acme"),
        {"i": {"electricity": [{"kwh": 1000, "gridRegion": "CAMX", "includeLosses": True}]}},
    )
    scope2, losses = answer["data"]["footprint"]["lines"]
    rate = 436.655 + 28 * 0.025 + 265 * 0.003
    assert scope2["kgCO2e"] == pytest.approx(198.741, rel=REL) and (
        scope2["scope"],
        scope2["category"],
    ) == (2, None)
    # Table 6 row 342 grid gross loss 0.041:
    # kWh lost = 1000 × 0.041 / 0.959 = 42.753 kWh → 8.497 kg.
    assert losses["kgCO2e"] == pytest.approx(1000 * 0.041 / 0.959 * rate * LB / 1000, rel=REL)
    assert (losses["scope"], losses["category"]) == (3, 3)


def test_a_class_desnz_does_not_publish_for_a_domestic_flight_uses_the_average_factor(
    client, data_dir
):
    answer = graphql(
        client,
        QUERY,
        wallet_for(data_dir, "acme"),
        {"i": {"flights": [{"origin": "LHR", "destination": "EDI", "cabinClass": "BUSINESS"}]}},
    )
    [line] = answer["data"]["footprint"]["lines"]
    assert line["factor"]["recordKey"] == "flight_factor/domestic/average/rf"  # 21_316_3160_11_1
    assert "(DESNZ average factor)" in line["activity"]


def test_unknown_names_are_refused_with_close_matches(client, data_dir):
    wallet = wallet_for(data_dir, "acme")
    cases = [
        ({"purchases": [{"naics": "331119", "amountUsd": 1}]}, "purchases[0].naics", "331110"),
        (
            {"purchases": [{"commodity": "Plastics: PET", "tonnes": 1}]},
            "purchases[0].commodity",
            "Plastics: PET (incl. forming)",
        ),
        (
            {"flights": [{"origin": "JFX", "destination": "LHR"}]},
            "flights[0].origin",
            "close matches",
        ),
        (
            {"freight": [{"mode": "SEA", "tonnes": 1, "origin": "NLRTX", "destination": "CNSHA"}]},
            "freight[0].origin",
            "NLRTM",
        ),
        (
            {"freight": [{"mode": "INLAND_WATERWAY", "tonnes": 1, "km": 5}]},
            "freight[0].mode",
            "no inland-waterway",
        ),
    ]
    for variables, field, hint in cases:
        [error] = graphql(client, QUERY, wallet, {"i": variables})["errors"]
        assert error["extensions"] == {"code": "BAD_INPUT", "field": field}, error
        assert hint in error["message"], error["message"]


def test_footprints_chain_from_supplier_to_customer(client, data_dir):
    publish = """mutation($i: FootprintInput!) { publishFootprint(input: $i) {
                 id txId blockNumber owner inputsHash footprint { totalKgCO2e } } }"""
    supplier = graphql(
        client,
        publish,
        wallet_for(data_dir, "acme"),
        {
            "i": {
                "electricity": [{"kwh": 1000, "gridRegion": "CAMX"}],
                "purchases": [{"naics": "331110", "amountUsd": 1000}],
            }
        },
    )
    published = supplier["data"]["publishFootprint"]
    assert published["owner"] == "AcmeMSP" and published["blockNumber"] >= 1
    acme_total = published["footprint"]["totalKgCO2e"]
    assert acme_total == pytest.approx(198.741 + 787.0, rel=REL)

    query = """query($i: FootprintInput!) { footprint(input: $i) { totalKgCO2e lines {
               kgCO2e channel basis scope category activity
               factor { value provenance { recordKey txId } }
               source { channel recordKey txId blockNumber } } } }"""
    customer = graphql(
        client,
        query,
        wallet_for(data_dir, "globex"),
        {
            "i": {
                "upstream": [{"footprintId": published["id"], "share": 0.3}],
                "flights": [{"origin": "LHR", "destination": "JFK", "cabinClass": "ECONOMY"}],
            }
        },
    )
    assert "errors" not in customer, customer.get("errors")
    upstream, flight = (
        customer["data"]["footprint"]["lines"][1],
        customer["data"]["footprint"]["lines"][0],
    )
    assert upstream["kgCO2e"] == pytest.approx(0.3 * acme_total, rel=1e-12)
    assert (upstream["channel"], upstream["scope"], upstream["category"]) == ("footprint", 3, 1)
    assert upstream["source"]["recordKey"] == published["id"]
    assert upstream["source"]["txId"] == published["txId"]
    assert upstream["source"]["blockNumber"] == published["blockNumber"]
    assert "AcmeMSP" in upstream["activity"]
    assert customer["data"]["footprint"]["totalKgCO2e"] == pytest.approx(
        upstream["kgCO2e"] + flight["kgCO2e"], rel=1e-12
    )


def test_recomputing_a_published_footprint_reproduces_its_inputs_hash(client, data_dir):
    variables = {"i": {"electricity": [{"kwh": 1000, "gridRegion": "CAMX"}]}}
    publish = (
        "mutation($i: FootprintInput!) { publishFootprint(input: $i) "
        "{ id inputsHash footprint { totalKgCO2e } } }"
    )
    first = graphql(client, publish, wallet_for(data_dir, "acme"), variables)["data"][
        "publishFootprint"
    ]
    second = graphql(client, publish, wallet_for(data_dir, "acme"), variables)["data"][
        "publishFootprint"
    ]
    assert first["id"] != second["id"]
    assert first["inputsHash"] == second["inputsHash"]
    assert first["footprint"] == second["footprint"]
    read = (
        "query($id: ID!) { publishedFootprint(id: $id) { inputsHash footprint { totalKgCO2e } } }"
    )
    assert graphql(client, read, wallet_for(data_dir, "globex"), {"id": first["id"]})["data"][
        "publishedFootprint"
    ] == {"inputsHash": first["inputsHash"], "footprint": first["footprint"]}


def test_a_missing_upstream_footprint_is_bad_input(client, data_dir):
    query = "query($i: FootprintInput!) { footprint(input: $i) { totalKgCO2e } }"
    [error] = graphql(
        client,
        query,
        wallet_for(data_dir, "acme"),
        {"i": {"upstream": [{"footprintId": "nope", "share": 0.5}]}},
    )["errors"]
    assert error["extensions"] == {"code": "BAD_INPUT", "field": "upstream[0].footprintId"}

"""The engine is pure: these tests feed it what the real contracts, run in memory over the real
records, answer.
"""

from __future__ import annotations

import math
from functools import lru_cache

import pytest
from datachannels.channel_connectors.memory import engine_answer, factor_channels
from datachannels.resolvers import engine, geo
from hypothesis import given, settings
from hypothesis import strategies as st


@lru_cache(maxsize=1)
def _channels():
    """The real contracts, in memory, holding the real factor records (they validate every one on
    the way in).
    """
    return factor_channels()


def answer(channel: str, need: engine.Need):
    return _answer()(channel, need)


@lru_cache(maxsize=1)
def _answer():
    return engine_answer(_channels())


def footprint(**activities) -> engine.Footprint:
    return engine.compute(engine.FootprintRequest(**activities), answer)


# ------------------------------------------------------------------ haul bands


def _airport(country: str) -> dict:
    return {"country": country}


@pytest.mark.parametrize(
    ("a", "b", "km", "haul"),
    [
        ("GB", "GB", 900.0, "domestic"),
        ("JE", "GB", 200.0, "domestic"),  # the Crown Dependencies count with the UK
        ("GB", "FR", 3700.0, "short_haul"),  # up to and including 3,700 km
        ("GB", "US", 3700.000001, "long_haul"),  # just beyond
        ("US", "GB", 3699.99, "short_haul"),  # either direction
        ("FR", "DE", 500.0, "international"),
        ("US", "JP", 9000.0, "international"),
    ],
)
def test_desnz_haul_bands_at_their_edges(a, b, km, haul):
    assert engine.haul_band(_airport(a), _airport(b), km) == haul


def test_real_airports_fall_in_their_bands():
    lines = footprint(
        flights=(
            engine.FlightActivity("LHR", "EDI"),
            engine.FlightActivity("LHR", "CDG"),
            engine.FlightActivity("LHR", "JFK"),
            engine.FlightActivity("CDG", "FRA"),
        )
    ).lines
    assert [line.factor.provenance.record_key.split("/")[1] for line in lines] == [
        "domestic",
        "short_haul",
        "long_haul",
        "international",
    ]


# ------------------------------------------------------------------- distances


@pytest.mark.parametrize(
    ("origin", "destination"), [("CNSHA", "NLRTM"), ("SGSIN", "NLRTM"), ("NLRTM", "USNYC")]
)
def test_a_sea_route_is_longer_than_the_great_circle_between_the_same_ports(origin, destination):
    (lon1, lat1), (lon2, lat2) = geo.port(origin), geo.port(destination)
    assert geo.sea_route_km(origin, destination) > geo.great_circle_km(lat1, lon1, lat2, lon2)


def test_great_circle_check_values_from_the_airport_coordinates():
    # shared SOURCES.md, airports.csv check values (R = 6371.0088 km)
    assert geo.airport_distance_km("LHR", "JFK") == pytest.approx(5539.63, abs=0.01)
    assert geo.airport_distance_km("LHR", "CDG") == pytest.approx(347.17, abs=0.01)
    assert geo.airport_distance_km("SFO", "NRT") == pytest.approx(8227.54, abs=0.01)


# ----------------------------------------------------------------- freight WTW


def test_wtw_is_ttw_plus_wtt_for_every_freight_factor():
    factors = _channels()["shipping"].read({"queries": [{"kind": "freight_factor"}]})["queries"][0][
        "records"
    ]
    assert len(factors) == 125
    for record in factors:
        p = record["payload"]
        parts = [x for x in (p.get("load"), p.get("variant")) if x and p["mode"] != "air"]
        if "refrigerated" in p["category"].lower():
            parts.insert(0, "refrigerated")
        line = footprint(
            freight=(
                engine.FreightActivity(
                    p["mode"],
                    tonnes=2.0,
                    km=150.0,
                    vehicle=p["vehicle"],
                    vehicle_class=", ".join(parts) or None,
                    radiative_forcing=bool(p.get("radiative_forcing"))
                    if p["mode"] == "air"
                    else True,
                ),
            )
        ).lines[0]
        assert line.source.record_key == record["key"]  # every row can be chosen
        assert line.ttw_kg_co2e == pytest.approx(300.0 * p["ttw_kg_co2e"], rel=1e-12)
        assert line.wtt_kg_co2e == pytest.approx(300.0 * p["wtt_kg_co2e"], rel=1e-12)
        assert line.kg_co2e == pytest.approx(line.ttw_kg_co2e + line.wtt_kg_co2e, rel=1e-12)


# ---------------------------------------------------------------- properties

quantities = st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_infinity=False)
activity = st.one_of(
    st.builds(
        lambda q, r: ("electricity", engine.ElectricityActivity(q, grid_region=r)),
        quantities,
        st.sampled_from(["CAMX", "ERCT", "NYUP", "SRMW", "US"]),
    ),
    st.builds(
        lambda q, c: ("electricity", engine.ElectricityActivity(q, country=c)),
        quantities,
        st.sampled_from(["PL", "DE", "FR"]),
    ),
    st.builds(
        lambda t, km, m: ("freight", engine.FreightActivity(m, tonnes=t, km=km)),
        quantities,
        st.floats(min_value=0, max_value=30000),
        st.sampled_from(["road", "rail", "sea"]),
    ),
    st.builds(
        lambda n, route, c: ("flights", engine.FlightActivity(route[0], route[1], c, n)),
        st.integers(1, 500),
        st.sampled_from([("LHR", "JFK"), ("LHR", "CDG"), ("SFO", "NRT"), ("LHR", "EDI")]),
        st.sampled_from(["average", "economy", "business"]),
    ),
    st.builds(
        lambda usd, code: ("purchases", engine.PurchaseActivity(amount_usd=usd, naics=code)),
        quantities,
        st.sampled_from(["331110", "484121", "211130"]),
    ),
    st.builds(
        lambda t: (
            "purchases",
            engine.PurchaseActivity(tonnes=t, commodity="Plastics: PET (incl. forming)"),
        ),
        quantities,
    ),
)


def _request(items) -> engine.FootprintRequest:
    grouped: dict[str, list] = {"electricity": [], "freight": [], "flights": [], "purchases": []}
    for kind, item in items:
        grouped[kind].append(item)
    return engine.FootprintRequest(**{k: tuple(v) for k, v in grouped.items()})


def _scaled(item, k: float):
    import dataclasses

    kind, a = item
    if kind == "electricity":
        return kind, dataclasses.replace(a, kwh=a.kwh * k)
    if kind == "freight":
        return kind, dataclasses.replace(a, tonnes=a.tonnes * k)
    if kind == "purchases":
        field = "amount_usd" if a.amount_usd is not None else "tonnes"
        return kind, dataclasses.replace(a, **{field: getattr(a, field) * k})
    return kind, dataclasses.replace(a, passengers=a.passengers * int(k))


@settings(max_examples=60, deadline=None)
@given(st.lists(activity, min_size=1, max_size=20))
def test_totals_equal_line_sums_and_are_never_negative(items):
    result = engine.compute(_request(items), answer)
    assert result.total_kg_co2e == math.fsum(line.kg_co2e for line in result.lines)
    assert result.total_kg_co2e >= 0 and all(line.kg_co2e >= 0 for line in result.lines)
    assert math.fsum(s.kg_co2e for s in result.by_scope) == pytest.approx(
        result.total_kg_co2e, rel=1e-12, abs=1e-9
    )


@settings(max_examples=60, deadline=None)
@given(st.lists(activity, min_size=1, max_size=20), st.sampled_from([2, 3, 10]))
def test_totals_scale_linearly_with_quantity(items, k):
    base = engine.compute(_request(items), answer)
    scaled = engine.compute(_request([_scaled(i, k) for i in items]), answer)
    assert scaled.total_kg_co2e == pytest.approx(k * base.total_kg_co2e, rel=1e-9, abs=1e-9)


def test_the_inputs_hash_is_stable_and_changes_with_the_inputs():
    a = _request([("electricity", engine.ElectricityActivity(1000.0, grid_region="CAMX"))])
    b = _request([("electricity", engine.ElectricityActivity(1000.0, grid_region="CAMX"))])
    c = _request([("electricity", engine.ElectricityActivity(1001.0, grid_region="CAMX"))])
    assert a.inputs_hash() == b.inputs_hash() != c.inputs_hash()

"""Unit conversions are exact by definition and live in one place."""

from __future__ import annotations

import pytest
from datachannels.resolvers import units


def test_pounds_per_mwh_to_kg_per_kwh():
    # 1 lb = 0.45359237 kg exactly; 1 MWh = 1000 kWh
    assert units.lb_per_mwh_to_kg_per_kwh(1000.0) == pytest.approx(0.45359237, rel=1e-15)
    assert units.lb_per_mwh_to_kg_per_kwh(436.655) * 1000 == pytest.approx(198.0633, rel=1e-6)


def test_grams_per_kwh_to_kg_per_kwh():
    assert units.g_per_kwh_to_kg_per_kwh(719.0) == pytest.approx(0.719, rel=1e-15)


def test_miles_and_short_tons():
    assert units.miles_to_km(1.0) == 1.609344
    assert units.short_tons_to_tonnes(1.0) == 0.90718474
    # 1 short ton-mile = 0.90718474 t × 1.609344 km = 1.45997231821056 t.km
    assert units.short_tons_to_tonnes(1.0) * units.miles_to_km(1.0) == pytest.approx(
        1.45997231821056, rel=1e-15
    )

"""Unit conversions, in one place, each exact by definition."""

from __future__ import annotations

KG_PER_LB = 0.45359237  # international avoirdupois pound (exact)
KM_PER_MILE = 1.609344  # international mile (exact)
TONNES_PER_SHORT_TON = 0.90718474  # 2,000 lb (exact)
KWH_PER_MWH = 1000.0
GRAMS_PER_KG = 1000.0


def lb_per_mwh_to_kg_per_kwh(lb_per_mwh: float) -> float:
    return lb_per_mwh * KG_PER_LB / KWH_PER_MWH


def g_per_kwh_to_kg_per_kwh(g_per_kwh: float) -> float:
    return g_per_kwh / GRAMS_PER_KG


def miles_to_km(miles: float) -> float:
    return miles * KM_PER_MILE


def short_tons_to_tonnes(short_tons: float) -> float:
    return short_tons * TONNES_PER_SHORT_TON

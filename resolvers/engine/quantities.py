"""How the engine takes numbers in from a request and writes them into a line's text.

Unit conversions are not here: they live in `resolvers/units.py`, the one place for them.
"""

from __future__ import annotations

import math

from .core import EngineError


def _n(value: float) -> str:
    return f"{value:,.10g}"


def _positive(value: float | None, path: str, *, allow_zero: bool = True) -> float:
    if (
        value is None
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value < 0
        or (value == 0 and not allow_zero)
    ):
        kind = "non-negative" if allow_zero else "positive"
        raise EngineError(path, f"must be a {kind} finite number, got {value!r}")
    return float(value)

"""The airport table the build prepares (resolvers/reference_data.py) is airportsdata's own."""

from __future__ import annotations

import json
from pathlib import Path

import airportsdata
from datachannels.resolvers import geo, reference_data


def test_the_installed_package_carries_the_table_of_the_installed_airportsdata() -> None:
    prepared = reference_data.read_airports(airportsdata.__version__)
    assert prepared is not None, f"no prepared table at {reference_data.AIRPORTS} (build it)"
    assert prepared == reference_data.airport_table(airportsdata.load("IATA"))
    assert geo._airports() == prepared


def test_a_table_of_another_release_or_a_broken_one_is_not_used(tmp_path: Path) -> None:
    other = tmp_path / "airports.json"
    other.write_text(json.dumps({"airportsdata": "19990101", "airports": {"LHR": {}}}))
    assert reference_data.read_airports(airportsdata.__version__, other) is None
    other.write_text("{not json")
    assert reference_data.read_airports(airportsdata.__version__, other) is None
    assert reference_data.read_airports(airportsdata.__version__, tmp_path / "none.json") is None
    written = reference_data.write(tmp_path / "fresh.json")
    table = reference_data.read_airports(airportsdata.__version__, written)
    assert table is not None and table["JFK"]["country"] == "US"

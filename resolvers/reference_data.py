"""Reference data prepared when the package is built, so that a fresh process need not.

A cold start (a Lambda instance, a new worker) spends about 0.1 s in `airportsdata.load()`,
which parses the package's CSV of some 28,000 airports on every start.  The engine needs four
facts of the 7,900 with an IATA code (the code, latitude, longitude and country), so the build
(setup.py) writes just those to `airports.json` beside this file, with the airportsdata release
they came from; loading that takes about 4 ms.  At run time the table is used only if it came
from the airportsdata release installed now; otherwise `geo` reads airportsdata itself, as it
always may.  Standard library only at import: setup.py loads this file by path before anything
is installed (airportsdata is a build requirement, pyproject.toml).

    python resolvers/reference_data.py        # write it into a source tree by hand
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

AIRPORTS = Path(__file__).resolve().parent / "airports.json"
FIELDS = ("iata", "lat", "lon", "country")  # what the engine reads of an airport


def airport_table(airports: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The engine's view of `airportsdata.load("IATA")`: the four fields of each airport."""
    return {code: {name: airport[name] for name in FIELDS} for code, airport in airports.items()}


def write(path: Path = AIRPORTS) -> Path:
    import airportsdata  # a build requirement

    table = airport_table(airportsdata.load("IATA"))
    document = {"airportsdata": airportsdata.__version__, "airports": table}
    path.write_text(json.dumps(document, separators=(",", ":"), sort_keys=True))
    return path


def read_airports(release: str, path: Path = AIRPORTS) -> dict[str, dict[str, Any]] | None:
    """The prepared table if it is there and of airportsdata `release`, else None."""
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or document.get("airportsdata") != release:
        return None
    table = document.get("airports")
    return table if isinstance(table, dict) else None


if __name__ == "__main__":
    print(write())

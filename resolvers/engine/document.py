"""The published footprint: what `publishFootprint` stores on the footprint channel, and how a
stored one is read back into engine types."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from .core import Factor, Footprint, FootprintRequest, Gas, Line, Provenance, ScopeTotal


def footprint_document(request: FootprintRequest, footprint: Footprint) -> dict[str, Any]:
    """What `publishFootprint` stores on the footprint channel."""

    def line_json(line: Line) -> dict[str, Any]:
        body = asdict(line)
        body["kgCO2e"] = body.pop("kg_co2e")
        return body

    return {
        "footprint": {
            "totalKgCO2e": footprint.total_kg_co2e,
            "byScope": [
                {"scope": s.scope, "category": s.category, "kgCO2e": s.kg_co2e}
                for s in footprint.by_scope
            ],
            "lines": [line_json(line) for line in footprint.lines],
        },
        "methodologyVersion": footprint.methodology_version,
        "inputsHash": request.inputs_hash(),
        "inputs": json.loads(request.canonical()),
        "recordTxIds": footprint.record_tx_ids(),
    }


def footprint_from_document(document: dict[str, Any]) -> Footprint:
    """A published footprint read back into engine types."""
    body = document["footprint"]
    lines = []
    for raw in body["lines"]:
        raw = dict(raw)
        kg = raw.pop("kgCO2e")
        source = Provenance(**raw.pop("source"))
        factor = raw.pop("factor")
        gases = tuple(Gas(**g) for g in raw.pop("gases", ()))
        lines.append(
            Line(
                kg_co2e=kg,
                source=source,
                gases=gases,
                factor=Factor(factor["value"], factor["unit"], Provenance(**factor["provenance"]))
                if factor
                else None,
                **raw,
            )
        )
    return Footprint(
        body["totalKgCO2e"],
        tuple(
            ScopeTotal(s["scope"], s.get("category"), s["kgCO2e"]) for s in body.get("byScope", [])
        ),
        tuple(lines),
        document.get("methodologyVersion", ""),
    )

"""The footprint engine: pure functions from activities and channel records to lines.

No I/O and no factor literals: `needs()` says which records a request needs
from which channel, the resolvers fetch them (one call per channel), and
`compute()` turns activities and records into lines with their provenance.
docs/methodology.md gives every formula with its source table.

`core` holds the nouns (activities, lines, totals), `records` what the engine asks of the
channels, `compute` the two passes over a request, one module per activity kind its needs and
formula, and `document` the published form of a footprint.
"""

from __future__ import annotations

from .compute import compute, needs
from .core import (
    AUDITED,
    CALCULATED,
    METHODOLOGY_VERSION,
    ElectricityActivity,
    EngineError,
    Factor,
    FlightActivity,
    Footprint,
    FootprintRequest,
    FreightActivity,
    Gas,
    Line,
    Provenance,
    PurchaseActivity,
    ScopeTotal,
    UpstreamFootprint,
    provenance,
)
from .document import footprint_document, footprint_from_document
from .flights import haul_band
from .records import AUDITED_KINDS, Answer, Need, Unfetched, query_need

__all__ = [
    "AUDITED",
    "AUDITED_KINDS",
    "CALCULATED",
    "METHODOLOGY_VERSION",
    "Answer",
    "ElectricityActivity",
    "EngineError",
    "Factor",
    "FlightActivity",
    "Footprint",
    "FootprintRequest",
    "FreightActivity",
    "Gas",
    "Line",
    "Need",
    "Provenance",
    "PurchaseActivity",
    "ScopeTotal",
    "Unfetched",
    "UpstreamFootprint",
    "compute",
    "footprint_document",
    "footprint_from_document",
    "haul_band",
    "needs",
    "provenance",
    "query_need",
]

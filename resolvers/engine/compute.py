"""The engine's two passes over a request: which records it needs, then the lines they give.

The resolvers call `needs()`, fetch every need with one call per channel, and hand `compute()` an
answer function over what came back.  Each activity kind's module knows its own needs and lines;
this module only walks the request in its fixed order (so needs and lines come out stable).
"""

from __future__ import annotations

from collections.abc import Iterable

from . import electricity, flights, freight, purchases, upstream
from .core import Footprint, FootprintRequest, Line, totals
from .records import AUDITED_KINDS, Answer, Need, _Memo, audited_line, own_records


def needs(request: FootprintRequest, owners: dict[str, str] | None = None) -> dict[str, list[Need]]:
    """Which records the request needs, per channel (deduplicated, in a stable order).

    `owners` maps a channel to the caller's MSP id there (from its wallet credential).
    """
    owners = owners or {}
    out: dict[str, list[Need]] = {}

    def add(channel: str, wanted: Iterable[Need]) -> None:
        for need in wanted:
            bucket = out.setdefault(channel, [])
            if need not in bucket:
                bucket.append(need)

    add("utility", electricity.needs(request.electricity, owners.get("utility", "")))
    add("shipping", freight.needs(request.freight))
    add("airline", flights.needs(request.flights))
    add("commodity", purchases.needs(request.purchases))
    add("footprint", upstream.needs(request.upstream))
    if request.from_channels:
        for channel, kind in AUDITED_KINDS.items():
            add(channel, [own_records(kind, owners.get(channel, ""))])
    return out


def compute(
    request: FootprintRequest, answer: Answer, owners: dict[str, str] | None = None
) -> Footprint:
    owners = owners or {}
    memo = _Memo()
    lines: list[Line] = []
    used: set[str] = set()  # audited record keys already on a line
    for i, power in enumerate(request.electricity):
        lines.extend(electricity.lines(i, power, answer, used, owners.get("utility", "")))
    for i, shipment in enumerate(request.freight):
        lines.append(freight.line(i, shipment, answer, memo))
    for i, flight in enumerate(request.flights):
        lines.append(flights.line(i, flight, answer, memo))
    for i, purchase in enumerate(request.purchases):
        lines.append(purchases.line(i, purchase, answer, memo))
    for i, share in enumerate(request.upstream):
        lines.append(upstream.line(i, share, answer))
    if request.from_channels:
        for channel, kind in AUDITED_KINDS.items():
            for record in answer(channel, own_records(kind, owners.get(channel, ""))):
                if record["key"] not in used:
                    lines.append(audited_line(channel, record))
                    used.add(record["key"])
    return totals(lines)

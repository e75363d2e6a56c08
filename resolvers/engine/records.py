"""What the engine asks of the channels, and the caller's own audited records among the answers.

A need names records on one channel; the resolvers fetch every need of a request in one call per
channel and answer the engine from those.  The engine keeps its own copies of the two contract
rules it relies on to ask narrowly (how names are folded and how keys are slugged), so that it
need not import the chaincode library; a test keeps the copies alike.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

from .core import AUDITED, Line, provenance
from .quantities import _n

# A need is ("key", record key) or ("query", canonical JSON of a query) on one channel;
# for the footprint channel, ("id", footprint id).
Need = tuple[str, str]

# What the resolvers hand back: the answer to a need (records, or a ChannelError raised).
Answer = Callable[[str, Need], Any]


def _query(
    kind: str,
    attributes: Iterable[str] = (),
    where: dict[str, Any] | None = None,
    starts_with: dict[str, str] | None = None,
    matches: dict[str, str] | None = None,
) -> Need:
    return _query_need(
        kind,
        tuple(attributes),
        tuple(sorted((where or {}).items())),
        tuple(sorted((starts_with or {}).items())),
        tuple(sorted((matches or {}).items())),
    )


@lru_cache(maxsize=4096)
def _query_need(
    kind: str,
    attributes: tuple[str, ...],
    where: tuple[tuple[str, Any], ...],
    starts_with: tuple[tuple[str, str], ...],
    matches: tuple[tuple[str, str], ...] = (),
) -> Need:
    body: dict[str, Any] = {"kind": kind, "attributes": list(attributes)}
    if where:
        body["where"] = dict(where)
    if starts_with:
        body["startsWith"] = dict(starts_with)
    if matches:
        body["matches"] = dict(matches)
    return query_need(body)


def query_need(body: dict[str, Any]) -> Need:
    """A query as a need: canonical JSON, so equal queries in one request are one need."""
    return ("query", json.dumps(body, sort_keys=True, separators=(",", ":")))


class Unfetched(LookupError):
    """Raised by an answer function for a need that `needs()` did not list.

    `needs()` asks for the narrowest records that serve a well-formed request (the one
    vehicle, haul band, NAICS key or material); only when those miss does `compute()`
    ask for a wider need (a mode's vehicles, a subsector's codes) to find a fallback
    or name the close matches.  The caller fetches that need and calls `compute()` again.
    """

    def __init__(self, channel: str, need: Need) -> None:
        super().__init__(f"{channel}: {need[1]}")
        self.channel = channel
        self.need = need


class _Memo:
    """Choices already made within one `compute()` call, so 10,000 alike activities cost one lookup.

    It lives for one call only: nothing here outlives the request it serves.
    """

    def __init__(self) -> None:
        self._done: dict[tuple[Any, ...], Any] = {}

    def get(self, key: tuple[Any, ...], make: Callable[[], Any]) -> Any:
        if key not in self._done:
            self._done[key] = make()
        return self._done[key]


# ------------------------------------------------------- the contracts' rules


@lru_cache(maxsize=8192)
def _norm(text: str | None) -> str:
    """Names as the engine compares them: the contract's `matches` folds text alike (fold_text)."""
    return " ".join((text or "").split()).casefold()


def _slug(text: str) -> str:
    """The contract's key slug (chaincode.validation.slug, not imported: the engine stays free of
    the chaincode library; a test keeps the two alike)."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


# ---------------------------------------------------- the caller's own records

AUDITED_KINDS = {
    "utility": "invoice",
    "shipping": "shipment",
    "airline": "ticket",
    "commodity": "purchase",
}

_AUDITED_SCOPE = {"invoice": (2, None), "shipment": (3, 4), "ticket": (3, 6), "purchase": (3, 1)}


def own_records(kind: str, owner: str, where: dict[str, Any] | None = None) -> Need:
    """A query for the caller's own audited records: its MSP id leads their keys.

    Always confined by the caller's organisation, even for a writer (an auditor may read every
    customer's records, but "your own" must not pull them into the auditor's footprint).
    """
    return _query(kind, [owner or "-"], where=where)


def audited_line(channel: str, record: dict[str, Any]) -> Line:
    """A line whose figure the auditor stated on the caller's own record."""
    p = record["payload"]
    scope, category = _AUDITED_SCOPE[record["kind"]]
    descriptions = {
        "invoice": lambda: (
            f"utility invoice {p['invoice_id']}: {_n(p['kwh'])} kWh, "
            f"{p['period_start']} to {p['period_end']}, grid {p['grid_region']}"
        ),
        "shipment": lambda: (
            f"shipment {p['shipment_id']}: {_n(p['tonnes'])} t × {_n(p['km'])} km by {p['mode']}"
        ),
        "ticket": lambda: (
            f"ticket {p['ticket_id']}: {p['passengers']} × "
            f"{p['origin']}→{p['destination']} {p['cabin_class']}"
        ),
        "purchase": lambda: (
            f"purchase {p['purchase_id']}: "
            + (
                f"{_n(p['tonnes'])} t {p.get('commodity')}"
                if p.get("tonnes") is not None
                else f"USD {_n(p['amount_usd'])} NAICS {p.get('naics')}"
            )
        ),
    }
    return Line(
        kg_co2e=float(p["kg_co2e"]),
        channel=channel,
        activity=descriptions[record["kind"]]() + " (audited)",
        basis=AUDITED,
        scope=scope,
        category=category,
        source=provenance(channel, record),
    )

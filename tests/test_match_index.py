"""A `matches` query on an indexed field (RecordSchema.match_index) reads the field's index,
and answers exactly as a scan of every record would: the same records, in the same order, page
by page, superseded ones left out unless asked for.  A ledger whose records were written before
the index existed keeps scanning them all."""

from __future__ import annotations

import dataclasses
import sqlite3
from typing import Any

import pytest
from datachannels.chaincode import records, shipping
from datachannels.chaincode.records import MATCH_INDEX, MATCH_INDEX_STATE, fold_text
from datachannels.channel_connectors.embedded_stub import EmbeddedStub

NS = "\x00"  # composite keys: U+0000 before and after each part


def factor(mode: str, ttw_id: str, vehicle: str, kg: float = 0.01) -> dict[str, Any]:
    return {
        "kind": "freight_factor",
        "payload": {
            "mode": mode,
            "category": "Cargo ship",
            "vehicle": vehicle,
            "load": None,
            "variant": None,
            "unit": "tonne.km",
            "ttw_kg_co2e": kg,
            "wtt_kg_co2e": None,
            "ttw_id": ttw_id,
            "wtt_id": None,
        },
        "source": {
            "dataset": "test factors",
            "edition": "2023",
            "file": None,
            "sha256": "2" * 64,
            "row": ttw_id,
        },
    }


# Vehicles alike once folded, different ones, and texts a composite key cannot hold as such.
VEHICLES = [
    ("sea", "s1", "Container ship"),
    ("sea", "s2", "container  SHIP"),
    ("sea", "s3", "Bulk carrier"),
    ("sea", "s4", " Container ship "),
    ("road", "r1", "Container ship"),
    ("sea", "s5", "Ro-Ro \x00 ferry"),
    ("sea", "s6", 'Tank "Straße" \\ ship'),
    ("sea", "s7", "Container ship – large"),
]
ASKED = [
    "container ship",
    "CONTAINER   SHIP",
    "bulk carrier",
    "ro-ro \x00 ferry",
    'tank "strasse" \\ ship',
    "container",
    "nothing like it",
]


def stored(network, object_type: str) -> dict[str, bytes]:
    """The shipping ledger's state under an object type: state key -> value."""
    with sqlite3.connect(network.ledger("shipping").path) as connection:
        rows = connection.execute("SELECT key, value FROM state ORDER BY key").fetchall()
    prefix = f"{NS}{object_type}{NS}"
    return {bytes(k).decode(): bytes(v) for k, v in rows if bytes(k).decode().startswith(prefix)}


def index_states(network) -> dict[tuple[str, ...], bytes]:
    return {
        tuple(key.split(NS)[2:-1]): value
        for key, value in stored(network, MATCH_INDEX_STATE).items()
    }


class Ranges:
    """The object types whose keys the embedded stub's range reads open (a spy: each read is
    still the stub's own)."""

    def __init__(self, monkeypatch) -> None:
        self.opened: list[str] = []
        real = EmbeddedStub._range

        def spied(stub: EmbeddedStub, start: str, end: str) -> Any:
            self.opened.append(start.split(NS)[1])
            return real(stub, start, end)

        monkeypatch.setattr(EmbeddedStub, "_range", spied)


def pages(read, query: dict[str, Any], limit: int) -> list[str]:
    """Every key a query answers, page by page."""
    keys: list[str] = []
    after = None
    for _ in range(len(VEHICLES) + 2):  # more pages than records: a cursor that does not move
        page = {**query, "limit": limit, **({"after": after} if after else {})}
        answer = read("shipping", "acme", {"queries": [page]})["queries"][0]
        keys += [r["key"] for r in answer["records"]]
        after = answer.get("next")
        if not after:
            return keys
    raise AssertionError(f"paging {query} did not end")


def expected(read, attributes: list[str], asked: str, include_superseded: bool) -> list[str]:
    """The scan's answer worked out here: every record of the kind, filtered by its value."""
    query = {"kind": "freight_factor", "attributes": attributes, "limit": 1000}
    if include_superseded:
        query["includeSuperseded"] = True
    answer = read("shipping", "acme", {"queries": [query]})["queries"][0]
    return [
        r["key"]
        for r in answer["records"]
        if fold_text(r["payload"]["vehicle"]) == fold_text(asked)
    ]


def check_every_query(read) -> int:
    checked = 0
    for attributes in ([], ["sea"], ["road"]):
        for asked in ASKED:
            for include in (False, True):
                query: dict[str, Any] = {
                    "kind": "freight_factor",
                    "attributes": attributes,
                    "matches": {"vehicle": asked},
                }
                if include:
                    query["includeSuperseded"] = True
                want = expected(read, attributes, asked, include)
                for limit in (1, 2, 1000):
                    assert pages(read, query, limit) == want, (attributes, asked, include)
                checked += bool(want)
    return checked


def test_an_indexed_matches_query_answers_as_a_scan_of_every_record(
    network, put, read, monkeypatch
):
    ranges = Ranges(monkeypatch)
    put("shipping", [factor(*v) for v in VEHICLES[:4]])  # the kind's first records start it
    assert ranges.opened.count("freight_factor") == 1  # whether the kind had records yet
    correction = factor("sea", "s2b", "Container ship", kg=0.02)
    correction["supersedes"] = "freight_factor/sea/s2"
    ranges.opened.clear()
    put("shipping", [correction, *(factor(*v) for v in VEHICLES[4:])])
    assert "freight_factor" not in ranges.opened  # decided: a point read, no range read

    version = records.MATCH_INDEX_VERSION
    assert index_states(network) == {("freight_factor", "vehicle", version): b'{"complete":true}'}
    # One entry per record, the correction's too.
    assert len(stored(network, MATCH_INDEX)) == len(VEHICLES) + 1
    ranges.opened.clear()
    assert check_every_query(read) >= 10
    # Each matches query read the index, not the kind.
    matched = 3 * len(ASKED) * 2 * 3
    assert ranges.opened.count(MATCH_INDEX) >= matched


def test_records_written_before_the_index_keep_their_queries_scanning(
    network, put, read, monkeypatch
):
    # As the contract was before the index: the same kind, no match index.
    unindexed = dataclasses.replace(shipping.FREIGHT_FACTOR, match_index=())
    schemas = {**shipping.ShippingContract.schemas, "freight_factor": unindexed}
    with monkeypatch.context() as before:
        before.setattr(shipping.ShippingContract, "schemas", schemas)
        put("shipping", [factor(*v) for v in VEHICLES[:4]])
    put("shipping", [factor(*v) for v in VEHICLES[4:]])  # today's contract, the kind not new

    version = records.MATCH_INDEX_VERSION
    assert index_states(network) == {("freight_factor", "vehicle", version): b'{"complete":false}'}
    # The index is incomplete, so it is neither written nor read.
    assert stored(network, MATCH_INDEX) == {}
    ranges = Ranges(monkeypatch)
    assert check_every_query(read) >= 10
    assert MATCH_INDEX not in ranges.opened


def test_an_index_of_another_version_is_not_read(network, put, read, monkeypatch):
    """Another Python may fold some text otherwise: an index written under another version
    (Unicode tables, entry form) is left alone, and the kind's queries scan."""
    put("shipping", [factor(*v) for v in VEHICLES[:4]])
    monkeypatch.setattr(records, "MATCH_INDEX_VERSION", "2-unicode-other")
    put("shipping", [factor(*v) for v in VEHICLES[4:]])
    assert index_states(network) == {
        ("freight_factor", "vehicle", "2-unicode-other"): b'{"complete":false}',
        ("freight_factor", "vehicle", f"1-unicode-{records.unicodedata.unidata_version}"): (
            b'{"complete":true}'
        ),
    }
    ranges = Ranges(monkeypatch)
    assert check_every_query(read) >= 10
    assert MATCH_INDEX not in ranges.opened


def test_a_match_index_is_of_text_fields_of_a_public_kind():
    with pytest.raises(ValueError, match="audited"):
        dataclasses.replace(shipping.SHIPMENT, match_index=("vehicle",))
    with pytest.raises(ValueError, match="text fields"):
        dataclasses.replace(shipping.FREIGHT_FACTOR, match_index=("ttw_kg_co2e",))

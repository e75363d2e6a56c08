"""A running gateway never goes on serving world state that disagrees with the chain.

Real embedded ledgers in temp dirs, changed behind the ledger's back with sqlite3 as an
intruder with file access would; the real app, in-process.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

import pytest
from datachannels.channel_connectors.embedded import EmbeddedNetwork
from datachannels.channel_connectors.ledger import ChainCheck
from datachannels.gateway.app import create_app
from datachannels.gateway.settings import Settings
from starlette.testclient import TestClient

from tests.conftest import graphql, invoice, wallet_for

RATE = (
    '{ utility { gridRates(regionType: EGRID_SUBREGION, region: "CAMX", year: 2023, first: 1) '
    "{ items { co2LbPerMwh } } } }"
)
SHIPPING = "{ shipping { freightFactors(mode: SEA, first: 1) { items { vehicle } } } }"


def _tamper_rate(data_dir: Path) -> None:
    """Raise CAMX's stored rate in the utility channel's world state, as an intruder would."""
    key = b"\x00grid_rate\x00egrid_subregion\x00CAMX\x002023\x00"
    with sqlite3.connect(EmbeddedNetwork(data_dir).ledger_path("utility")) as db:
        (value,) = db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        changed = value.replace(b'"co2_lb_per_mwh":', b'"co2_lb_per_mwh":1', 1)
        assert changed != value
        db.execute("UPDATE state SET value = ? WHERE key = ?", (changed, key))


def _code(answer: dict) -> str | None:
    errors = answer.get("errors") or []
    return errors[0]["extensions"]["code"] if errors else None


def test_state_changed_while_serving_takes_only_that_channel_out_of_service(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    wallet = wallet_for(data_dir, "acme")
    settings = Settings(data_dir=data_dir, integrity_interval_s=0.2)
    with TestClient(create_app(settings)) as client:
        before = graphql(client, RATE, wallet)
        assert _code(before) is None, before
        [item] = before["data"]["utility"]["gridRates"]["items"]
        _tamper_rate(data_dir)
        deadline = time.monotonic() + 20
        while True:
            answer = graphql(client, RATE, wallet)
            if _code(answer) is not None:
                break
            # Until the next check the old value may still be served, never the changed one
            # without notice for longer than the interval.
            assert time.monotonic() < deadline, "the change was never noticed"
            time.sleep(0.1)
        [error] = answer["errors"]
        assert error["extensions"]["code"] == "CHANNEL_UNAVAILABLE"
        assert "out of service" in error["message"] and "utility" in error["message"]
        assert "CAMX" not in error["message"]  # what failed is for the operator's log
        # It stays out of service, and every other channel goes on answering.
        assert _code(graphql(client, RATE, wallet)) == "CHANNEL_UNAVAILABLE"
        assert _code(graphql(client, SHIPPING, wallet)) is None
    assert item["co2LbPerMwh"] > 0
    [record] = [r for r in caplog.records if r.name == "datachannels.integrity"]
    assert "utility" in record.getMessage() and "CAMX" in record.getMessage()


def test_state_changed_before_start_is_never_served(data_dir: Path) -> None:
    _tamper_rate(data_dir)
    settings = Settings(data_dir=data_dir, integrity_interval_s=0)  # the check at start only
    with TestClient(create_app(settings)) as client:
        answer = graphql(client, RATE, wallet_for(data_dir, "acme"))
        assert _code(answer) == "CHANNEL_UNAVAILABLE", answer
        assert _code(graphql(client, SHIPPING, wallet_for(data_dir, "acme"))) is None


def test_the_gateways_own_publishes_pass_the_checks(data_dir: Path) -> None:
    import json

    example = json.loads(
        (Path(__file__).resolve().parent.parent / "docs/examples/footprint.json").read_text()
    )
    publish = "mutation($input: FootprintInput!) { publishFootprint(input: $input) { id } }"
    wallet = wallet_for(data_dir, "acme")
    settings = Settings(data_dir=data_dir, integrity_interval_s=0.1)
    with TestClient(create_app(settings)) as client:
        ids = []
        for _ in range(4):
            answer = graphql(client, publish, wallet, example["variables"])
            assert _code(answer) is None, answer
            ids.append(answer["data"]["publishFootprint"]["id"])
            time.sleep(0.25)  # a check runs between publishes
        read = graphql(client, f'{{ publishedFootprint(id: "{ids[0]}") {{ id }} }}', wallet)
        assert _code(read) is None, read


def test_a_chain_check_goes_on_from_where_it_stopped_and_notices_lost_blocks(
    network: EmbeddedNetwork, put, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    ledger = network.ledger("utility")
    check = ChainCheck(ledger)
    first = check.run()
    assert first.ok and first.blocks == ledger.height()
    put("utility", [invoice("AcmeMSP", "A-1")])
    put("utility", [invoice("AcmeMSP", "A-2")])
    second = check.run()
    assert second.ok and second.blocks == ledger.height() == first.blocks + 2
    assert check.height == ledger.height()
    with sqlite3.connect(network.ledger_path("utility")) as db:
        db.execute("DELETE FROM blocks WHERE number = ?", (ledger.height() - 1,))
    third = check.run()
    assert third.problems == ["channel utility: 1 block(s) that were on the chain are gone"]

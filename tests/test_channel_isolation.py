"""One locked channel never holds up another, and a caller waiting on it gets a clean code.

A real embedded ledger whose footprint database another process-level connection holds
locked (as a stuck writer would); the real app, driven concurrently in one event loop.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import httpx
import pytest
from datachannels.channel_connectors.embedded import EmbeddedNetwork
from datachannels.gateway.app import create_app
from datachannels.gateway.settings import Settings

from tests.conftest import delegation_wallet_for

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = json.loads((ROOT / "docs" / "examples" / "footprint.json").read_text())
PUBLISH = "mutation($input: FootprintInput!) { publishFootprint(input: $input) { id } }"
RATE = "{ utility { gridRates(regionType: EGRID_SUBREGION, first: 1) { items { region } } } }"


async def _race(data_dir: Path, wallet: str) -> list[tuple[str, dict]]:
    """Eight publishes to the locked footprint channel, then one utility read: in the order
    they finish."""
    app = create_app(Settings.from_env(data_dir=data_dir, channel_timeout_s=6, channel_workers=2))
    transport = httpx.ASGITransport(app=app)
    finished: list[tuple[str, dict]] = []
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:

        async def post(label: str, query: str, variables: dict) -> None:
            response = await client.post(
                "/graphql",
                json={"query": query, "variables": variables},
                headers={"X-Wallet": wallet},
                timeout=60,
            )
            finished.append((label, response.json()))

        publishes = [post(f"publish {n}", PUBLISH, EXAMPLE["variables"]) for n in range(8)]
        tasks = [asyncio.create_task(p) for p in publishes]
        # By now the publishes have read their factors and wait to write on the footprint
        # channel's threads (well within the 6 s channel timeout).
        await asyncio.sleep(2)
        tasks.append(asyncio.create_task(post("utility read", RATE, {})))
        await asyncio.gather(*tasks)
    return finished


def test_a_locked_footprint_channel_holds_up_no_utility_read_and_answers_unavailable(
    data_dir: Path,
):
    wallet = delegation_wallet_for(data_dir, "acme", publishes=10)
    network = EmbeddedNetwork(data_dir)
    height = network.ledger("footprint").height()
    lock = sqlite3.connect(network.ledger_path("footprint"), isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")  # a stuck writer: nobody else may write
    try:
        finished = asyncio.run(_race(data_dir, wallet))
    finally:
        lock.execute("ROLLBACK")
        lock.close()

    assert finished[0][0] == "utility read", [label for label, _ in finished]
    assert finished[0][1]["data"]["utility"]["gridRates"]["items"]
    for label, answer in finished[1:]:
        [error] = answer["errors"]
        assert error["extensions"] == {"code": "CHANNEL_UNAVAILABLE", "channel": "footprint"}
        assert "may still commit" in error["message"] or "locked" in error["message"], label
    assert EmbeddedNetwork(data_dir).ledger("footprint").height() == height


def test_channel_timeouts_are_settings_with_clear_errors(data_dir: Path):
    for value, message in (("soon", "a number of seconds"), ("0", "above 0 and at most 600")):
        with pytest.raises(ValueError, match=message):
            Settings.from_env(data_dir=data_dir, channel_timeout_s=value)
    assert Settings.from_env(data_dir=data_dir, channel_timeout_s="2.5").channel_timeout_s == 2.5

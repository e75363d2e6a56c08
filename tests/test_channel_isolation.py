"""One locked channel never holds up another, and a caller waiting on it gets a clean code.

A real embedded ledger whose footprint database another process-level connection holds
locked (as a stuck writer would); the real app, driven concurrently in one event loop.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import pytest
from datachannels.channel_connectors.embedded import (
    INLINE_ARGS_BYTES,
    EmbeddedConnector,
    EmbeddedNetwork,
)
from datachannels.channel_connectors.errors import ChannelError
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


READ_RATES = json.dumps({"queries": [{"kind": "grid_rate", "attributes": ["egrid_subregion"]}]})


def _threads_of(connector: EmbeddedConnector) -> list[str]:
    """The names of the threads the network's evaluate calls run on, as they run."""
    seen: list[str] = []
    evaluate = connector.network.evaluate

    def recording(*args, **kwargs):
        seen.append(threading.current_thread().name)
        return evaluate(*args, **kwargs)

    connector.network.evaluate = recording  # type: ignore[method-assign]
    return seen


def test_small_reads_run_on_the_event_loop_and_large_ones_on_the_channel_pool(data_dir: Path):
    connector = EmbeddedConnector(data_dir)
    seen = _threads_of(connector)
    acme = connector.network.identities.signing_identity("acme")
    large = json.dumps({"keys": [f"grid_rate/egrid_subregion/R{n}" for n in range(400)]})
    assert len(large) > INLINE_ARGS_BYTES > len(READ_RATES)

    async def reads() -> None:
        await connector.evaluate("utility", acme, "read", [READ_RATES])
        await connector.evaluate("utility", acme, "read", [large])
        await connector.aclose()

    asyncio.run(reads())
    assert seen[0] == threading.main_thread().name
    assert seen[1].startswith("ledger-utility")


def test_a_read_answers_while_a_stuck_writer_holds_its_channel(data_dir: Path):
    # WAL: readers never wait for a writer, so the read on the loop is not held up.
    connector = EmbeddedConnector(data_dir, timeout_s=5)
    acme = connector.network.identities.signing_identity("acme")
    lock = sqlite3.connect(connector.network.ledger_path("utility"), isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        started = time.perf_counter()
        answer = asyncio.run(connector.evaluate("utility", acme, "read", [READ_RATES]))
        took = time.perf_counter() - started
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert json.loads(answer)["queries"][0]["records"]
    assert took < 2, took


def test_a_read_that_meets_a_lock_on_the_loop_moves_to_the_pool_and_holds_up_nobody(
    data_dir: Path,
):
    # An exclusive-mode connection that has written keeps even WAL readers out: the read on the
    # loop gives up within INLINE_BUSY_MS and waits on the channel's pool, to its deadline,
    # while a read of another channel answers at once.
    connector = EmbeddedConnector(data_dir, timeout_s=2)
    acme = connector.network.identities.signing_identity("acme")
    seen = _threads_of(connector)
    finished: list[str] = []
    lock = sqlite3.connect(connector.network.ledger_path("utility"), isolation_level=None)

    async def race() -> BaseException | None:
        # Every channel passes its integrity check first; a check leaves no connection open
        # (exclusive mode needs the file to itself).
        assert set((await connector.integrity()).values()) == {None}
        lock.execute("PRAGMA locking_mode = EXCLUSIVE")
        lock.execute("BEGIN IMMEDIATE")
        lock.execute("CREATE TABLE IF NOT EXISTS held (x)")
        lock.execute("COMMIT")  # exclusive mode keeps the lock after the write

        async def utility() -> BaseException | None:
            try:
                await connector.evaluate("utility", acme, "read", [READ_RATES])
            except ChannelError as error:
                finished.append("utility")
                return error
            finished.append("utility")
            return None

        async def shipping() -> None:
            await asyncio.sleep(0.2)
            query = json.dumps({"queries": [{"kind": "freight_factor", "attributes": ["sea"]}]})
            await connector.evaluate("shipping", acme, "read", [query])
            finished.append("shipping")

        outcome, _ = await asyncio.gather(utility(), shipping())
        await connector.aclose()
        return outcome

    try:
        error = asyncio.run(race())
    finally:
        lock.execute("DROP TABLE held")
        lock.close()
    assert finished == ["shipping", "utility"]
    assert isinstance(error, ChannelError) and error.code == "CHANNEL_UNAVAILABLE"
    # utility on the loop, where it met the lock; again on its pool; shipping on the loop
    assert seen[0] == seen[2] == threading.main_thread().name, seen
    assert seen[1].startswith("ledger-utility"), seen

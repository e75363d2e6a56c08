"""Does one request block another?  The README footprint's latency, alone and beside heavy ones.

Run: python bench/fairness.py [--probes N] [--heavy K] [--activities A]

Serves the gateway (`datachannels serve`, one uvicorn worker, the embedded default on a fresh
data dir in a temporary directory) on a loopback port, then in one run:

1. alone: N README footprints (docs/examples/footprint.json) one after another;
2. loaded: the same N while K clients each post, back to back, a footprint of A electricity
   activities (default 8 clients at the 1,000-activity bound).

Prints p50, p99 and max of each phase, the heavy requests' own latency, and the ratio.
Target (issue 14): loaded p99 <= 100 ms.  Latency is measured from the client side, so it
includes everything the caller waits for.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import delegation_wallet_for, served  # after the path: a sibling tree


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _probe(client: httpx.AsyncClient, body: dict, wallet: str, n: int) -> list[float]:
    latencies = []
    for _ in range(n):
        started = time.perf_counter()
        response = await client.post("/graphql", json=body, headers={"X-Wallet": wallet})
        latencies.append(time.perf_counter() - started)
        assert response.status_code == 200 and "errors" not in response.json(), response.text
    return latencies


async def _run(url: str, wallet: str, probes: int, heavy: int, activities: int) -> None:
    example = json.loads((ROOT / "docs" / "examples" / "footprint.json").read_text())
    big = {
        "query": "query($i: FootprintInput!) { footprint(input: $i) { totalKgCO2e } }",
        "variables": {
            "i": {
                "electricity": [{"kwh": 1000 + n, "gridRegion": "CAMX"} for n in range(activities)]
            }
        },
    }
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        await _probe(client, example, wallet, 5)  # warm: caches, connections
        alone = await _probe(client, example, wallet, probes)

        stop = asyncio.Event()
        heavy_latencies: list[float] = []

        async def hammer() -> None:
            async with httpx.AsyncClient(base_url=url, timeout=120) as own:
                while not stop.is_set():
                    started = time.perf_counter()
                    response = await own.post("/graphql", json=big, headers={"X-Wallet": wallet})
                    assert response.status_code == 200, response.text
                    heavy_latencies.append(time.perf_counter() - started)

        hammers = [asyncio.create_task(hammer()) for _ in range(heavy)]
        await asyncio.sleep(1.0)  # let every heavy client have a request in flight
        loaded = await _probe(client, example, wallet, probes)
        stop.set()
        await asyncio.gather(*hammers)

    def line(label: str, values: list[float]) -> str:
        return (
            f"{label:34} p50 {statistics.median(values) * 1000:8.1f} ms   "
            f"p99 {_percentile(values, 0.99) * 1000:8.1f} ms   max {max(values) * 1000:8.1f} ms"
            f"   [{len(values)}]"
        )

    print(line("README footprint, alone", alone))
    print(line(f"README footprint, beside {heavy} heavy", loaded))
    print(line(f"heavy ({activities} activities)", heavy_latencies))
    ratio = _percentile(loaded, 0.99) / _percentile(alone, 0.99)
    print(f"loaded p99 / alone p99: {ratio:.1f}x   target: loaded p99 <= 100 ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probes", type=int, default=100)
    parser.add_argument("--heavy", type=int, default=8)
    parser.add_argument("--activities", type=int, default=1000)
    args = parser.parse_args()
    from datachannels.channel_connectors.embedded import init_data_dir

    with tempfile.TemporaryDirectory() as scratch:
        data_dir = Path(scratch) / "data"
        init_data_dir(data_dir, lambda _: None)
        wallet = delegation_wallet_for(data_dir, "acme", actions=("read",))
        with served(data_dir) as url:
            asyncio.run(_run(url, wallet, args.probes, args.heavy, args.activities))


if __name__ == "__main__":
    main()

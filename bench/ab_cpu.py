"""CPU per request of two gateway builds side by side: what a change bought, measured so that
the machine's drift hits both alike.

Run: python bench/ab_cpu.py --base /tmp/base-venv/bin/datachannels [--new datachannels]
                            [--requests 100] [--rounds 5]

Make the base build from any revision first, in a virtual environment of its own:

    git worktree add /tmp/base <revision>
    python -m venv /tmp/base-venv && /tmp/base-venv/bin/pip install /tmp/base

Both builds serve one fresh data dir (made by the new build's `init`; the base build must read
that format) on loopback ports, one uvicorn worker each.  One client posts the same body to
each in turn, request by request, for --rounds rounds of --requests each, and reads each
server's CPU time (user + system, all its threads and child processes: `serve`'s heavy lane
too) before and after every round.
This VM's speed drifts by tens of percent within minutes (docs/performance.md), which swamps
a change of 10 % between two runs taken one after another; requests that alternate one by one
see the same machine.  Bodies: the README footprint and 100 activities over four channels, as
in bench/throughput.py, with acme's delegations.  The figure is a sequential client's: each
server also pays an idle event loop's wake-ups, so it is higher than 1/RPS under wrk.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from throughput import README_BODY, _tree_cpu_seconds, hundred_activities, serving


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the base build's `datachannels`")
    parser.add_argument("--new", default=shutil.which("datachannels") or "datachannels")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    from tests.conftest import delegation_wallet_for

    bodies = {"README footprint": README_BODY, "100 activities": hundred_activities()}
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        subprocess.run(
            [args.new, "init", "--data-dir", str(data_dir)], check=True, capture_output=True
        )
        wallet = delegation_wallet_for(data_dir, "acme")
        builds = {"base": args.base, "new": args.new}
        env = {"DATACHANNELS_DATA_DIR": str(data_dir), "DATACHANNELS_LOG_LEVEL": "warning"}
        with contextlib.ExitStack() as stack:
            servers = {  # name -> (url, pid)
                name: stack.enter_context(serving([exe, "serve"], env, "/healthz"))
                for name, exe in builds.items()
            }
            client = stack.enter_context(httpx.Client(timeout=60, headers={"X-Wallet": wallet}))

            def post(name: str, body: dict) -> None:
                answer = client.post(f"{servers[name][0]}/graphql", json=body)
                if answer.status_code != 200 or "errors" in answer.json():
                    raise SystemExit(f"{name}: {answer.status_code} {answer.text[:300]}")

            print(f"base: {args.base}\nnew:  {args.new}")
            for label, body in bodies.items():
                for name in builds:  # warm-up: airports, sea routes, block numbers
                    for _ in range(20):
                        post(name, body)
                per: dict[str, list[float]] = {name: [] for name in builds}
                for _ in range(args.rounds):
                    before = {n: _tree_cpu_seconds(pid) for n, (_, pid) in servers.items()}
                    for _ in range(args.requests):
                        for name in builds:
                            post(name, body)
                    for name, (_, pid) in servers.items():
                        used = _tree_cpu_seconds(pid) - before[name]
                        per[name].append(used / args.requests * 1000)
                base, new = (statistics.median(per[n]) for n in builds)
                print(
                    f"{label}: base {base:.2f} ms, new {new:.2f} ms of server CPU per "
                    f"request ({100 * (new - base) / base:+.1f} %); rounds: base "
                    + " ".join(f"{v:.2f}" for v in per["base"])
                    + ", new "
                    + " ".join(f"{v:.2f}" for v in per["new"])
                )


if __name__ == "__main__":
    main()

"""What a Lambda cold start costs: process start to the first answered footprint.

Run: python bench/cold_start.py [--runs N] [--target S] [--fabric]

Makes an embedded data dir in a temporary directory (with --fabric: a local Fabric network
brought up there and loaded, the connector a serverless deployment uses), then N times spawns
a fresh Python that imports `datachannels.gateway.serverless` and invokes `handler` once with
the footprint of docs/examples/footprint.json as an API Gateway HTTP API event (acme's
delegation in X-Wallet), then once more (warm, for contrast).  Timestamps, on the machine's
monotonic clock (one clock for all processes, so the parent's spawn and the child's marks
compare):

* spawn -> interpreter: Python itself starting;
* spawn -> import done: the handler module and everything it imports;
* spawn -> first answer: that plus building the app and answering one footprint.

Each run is made twice, interleaved: on demand (the app built by the first invocation) and
prewarmed (`DATACHANNELS_PREWARM=true`, as Lambda's provisioned concurrency and SnapStart
initialise an instance before its first request: the import builds the app and loads the
airport table and the sea-route graph), where the first answer after the import is what a
request waits for.  Prints the median and max of each over the runs.  Target: the first
answer within 1 s of the spawn.  This machine's figures are a floor: a Lambda instance starts
with a cold page cache and, at small memory sizes, a fraction of a CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The child: as little as possible before the import, so its marks are the handler's cost.
_CHILD = """
import time
interpreter = time.clock_gettime(time.CLOCK_MONOTONIC)
from datachannels.gateway.serverless import handler
imported = time.clock_gettime(time.CLOCK_MONOTONIC)
import json, sys
event = json.loads(open(sys.argv[1]).read())
response = handler(event, None)
answered = time.clock_gettime(time.CLOCK_MONOTONIC)
handler(event, None)
warm = time.clock_gettime(time.CLOCK_MONOTONIC) - answered
body = json.loads(response["body"])
total = body.get("data", {}).get("footprint", {}).get("totalKgCO2e") if "data" in body else None
print(json.dumps({"interpreter": interpreter, "imported": imported, "answered": answered,
                  "warm": warm, "status": response["statusCode"], "total": total}))
"""


def _footprint_event(data_dir: Path) -> dict[str, object]:
    """The footprint as API Gateway HTTP API hands it to Lambda (payload format 2.0)."""
    from datachannels.chaincode import CHANNELS
    from datachannels.chaincode.delegation import fingerprint
    from datachannels.channel_connectors.identities import IdentityStore
    from datachannels.gateway.wallet import delegation_wallet

    store = IdentityStore(data_dir)
    msp, cert, key = store.pem_pair("acme")
    audience = fingerprint(store.relay().identity.certificate)
    # Read only, like the footprint; its ten-minute life outlasts the runs.
    wallet = delegation_wallet(
        cert, key, msp, audience=audience, channels=CHANNELS, actions=("read",)
    )
    body = (ROOT / "docs/examples/footprint.json").read_text()
    return {
        "version": "2.0",
        "routeKey": "POST /graphql",
        "rawPath": "/graphql",
        "rawQueryString": "",
        "headers": {
            "host": "abc123.execute-api.eu-west-1.amazonaws.com",
            "content-type": "application/json",
            "x-wallet": wallet,
        },
        "requestContext": {
            "http": {"method": "POST", "path": "/graphql", "sourceIp": "203.0.113.7"},
            "stage": "$default",
        },
        "body": body,
        "isBase64Encoded": False,
    }


def _samples(
    runs: int, data_dir: Path, connector: str, scratch: Path
) -> dict[str, list[dict[str, float]]]:
    """`runs` cold starts of each kind, interleaved so that machine noise hits both alike."""
    event_file = scratch / "event.json"
    event_file.write_text(json.dumps(_footprint_event(data_dir)))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATACHANNELS_", "AWS_"))}
    env |= {"DATACHANNELS_DATA_DIR": str(data_dir), "DATACHANNELS_CONNECTOR": connector}
    samples: dict[str, list[dict[str, float]]] = {"on demand": [], "prewarmed": []}
    for _ in range(runs):
        samples["on demand"].append(_run_once(event_file, env))
        samples["prewarmed"].append(_run_once(event_file, env | {"DATACHANNELS_PREWARM": "true"}))
    return samples


def _run_once(event_file: Path, env: dict[str, str]) -> dict[str, float]:
    spawned = time.clock_gettime(time.CLOCK_MONOTONIC)
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, str(event_file)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if child.returncode != 0:
        raise SystemExit(f"the child failed:\n{child.stderr[-2000:]}")
    marks = json.loads(child.stdout.strip().splitlines()[-1])
    if marks["status"] != 200 or not marks["total"]:
        raise SystemExit(f"the first invocation did not answer a footprint: {marks}")
    return {
        "interpreter": marks["interpreter"] - spawned,
        "import done": marks["imported"] - spawned,
        "first answer": marks["answered"] - spawned,
        "warm answer": marks["warm"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--target", type=float, default=1.0, help="seconds to the first answer")
    parser.add_argument(
        "--fabric", action="store_true", help="on a local Fabric network, as a deployment runs"
    )
    args = parser.parse_args()

    from datachannels.channel_connectors.embedded import init_data_dir

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        connector = "fabric" if args.fabric else "embedded"
        if args.fabric:
            sys.path.insert(0, str(ROOT))
            from datachannels.channel_connectors.loading import load_fabric
            from datachannels.network.local import network_down, network_up

            from tests.conftest import free_fabric_base_port

            network_up(data_dir, base_port=free_fabric_base_port())
        try:
            if args.fabric:
                load_fabric(data_dir)
            else:
                init_data_dir(data_dir)
            samples = _samples(args.runs, data_dir, connector, Path(tmp))
        finally:
            if args.fabric:
                network_down(data_dir)
    print(f"connector: {connector}")

    for mode, runs in samples.items():
        print(
            "on demand (the app built by the first invocation):"
            if mode == "on demand"
            else "prewarmed at initialisation (provisioned concurrency, SnapStart, "
            "DATACHANNELS_PREWARM): the import builds the app and loads the reference data",
            flush=True,
        )
        for name in runs[0]:
            values = [r[name] * 1000 for r in runs]
            print(
                f"  {name:<13} median {statistics.median(values):7.1f} ms | "
                f"max {max(values):7.1f} ms",
                flush=True,
            )
        if mode == "prewarmed":
            after = [(r["first answer"] - r["import done"]) * 1000 for r in runs]
            print(f"  first answer after initialisation: median {statistics.median(after):.1f} ms")
    firsts = [r["first answer"] for r in samples["on demand"]]
    median, worst = statistics.median(firsts), max(firsts)

    def verdict(seconds: float) -> str:
        return "within" if seconds <= args.target else "over"

    print(
        f"[{args.runs} runs of each; spawn -> mark, warm = a second invocation in the same "
        f"process]\ntarget: process start to first answer <= {args.target:.1f} s, on demand: "
        f"median {median:.2f} s ({verdict(median)}), max {worst:.2f} s ({verdict(worst)})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What delegations cost: the README footprint through the gateway with acme's delegation,
against the same footprint with acme's identity (its private key in the wallet).

Run: python bench/delegation_latency.py [--rounds N] [--fabric] [--base-port P]

In one process, on the embedded ledger (a fresh data dir in a temporary directory) and, with
`--fabric`, on a local Fabric network brought up for the run, it posts the four-channel
footprint of docs/examples/footprint.json into the gateway's ASGI app, interleaving three
wallets round by round so machine noise hits all alike:

* identity: acme's certificate and private key; the connector signs as acme;
* delegation (reused): one delegation for all channels, signed once, as a caller reuses it
  for its ten-minute life; the relay signs, each contract verifies it (from its cache after
  the first use, keyed by the token's hash);
* delegation (fresh): a new delegation signed for every request, so every contract verifies
  a token it has never seen (the worst case: signature and certificate chain each time).

Prints the median of each and the ratios to identity.  Target (issue 12): a footprint read
through delegations costs at most 1.2x the same read with the caller's identity.
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fabric_latency import asgi_post  # a sibling script


async def _measure(label: str, data_dir: Path, connector: str, rounds: int) -> dict[str, float]:
    from datachannels.chaincode import CHANNELS
    from datachannels.chaincode.delegation import fingerprint
    from datachannels.channel_connectors.identities import IdentityStore
    from datachannels.gateway.app import create_app
    from datachannels.gateway.settings import Settings
    from datachannels.gateway.wallet import delegation_wallet, encode_wallet

    store = IdentityStore(data_dir)
    msp, cert, key = store.pem_pair("acme")
    audience = fingerprint(store.relay().identity.certificate)

    def fresh() -> str:
        return delegation_wallet(
            cert, key, msp, audience=audience, channels=CHANNELS, actions=("read",)
        )

    identity = encode_wallet({c: (msp, cert, key) for c in CHANNELS})
    reused = fresh()
    app = create_app(Settings(data_dir=data_dir, connector=connector))
    example = json.loads((ROOT / "docs/examples/footprint.json").read_text())
    body = json.dumps(example).encode()

    async def post(wallet: str) -> tuple[float, dict]:
        started = time.perf_counter()
        status, raw = await asgi_post(app, "/graphql", body, {"X-Wallet": wallet})
        elapsed = time.perf_counter() - started
        answer = json.loads(raw)
        if status != 200 or answer.get("errors"):
            raise SystemExit(f"{label}: the footprint failed: {raw[:400]!r}")
        return elapsed, answer

    samples: dict[str, list[float]] = {"identity": [], "reused": [], "fresh": []}
    lifespan_started = asyncio.Event()

    async def lifespan_receive() -> dict:
        if not lifespan_started.is_set():
            lifespan_started.set()
            return {"type": "lifespan.startup"}
        await asyncio.Event().wait()
        return {"type": "lifespan.shutdown"}

    async def lifespan_send(message: dict) -> None:
        return None

    lifespan = asyncio.create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}}, lifespan_receive, lifespan_send)
    )
    # Warm-up: connections, caches and the first verification of the reused delegation.
    _, expected = await post(identity)
    for wallet in (reused, fresh()):
        _, answer = await post(wallet)
        if answer != expected:
            raise SystemExit(f"{label}: the delegated answer differs from the identity answer")
    for _ in range(rounds):
        samples["identity"].append((await post(identity))[0])
        samples["reused"].append((await post(reused))[0])
        wallet = fresh()  # signing happens in the caller's wallet: not the gateway's time
        samples["fresh"].append((await post(wallet))[0])
    lifespan.cancel()
    medians = {name: statistics.median(values) * 1000 for name, values in samples.items()}
    base = medians["identity"]
    print(
        f"{label:<9} identity {base:7.2f} ms | delegation reused {medians['reused']:7.2f} ms "
        f"({medians['reused'] / base:4.2f}x) | delegation fresh {medians['fresh']:7.2f} ms "
        f"({medians['fresh'] / base:4.2f}x)   [{rounds} rounds, medians]",
        flush=True,
    )
    return medians


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--fabric", action="store_true", help="also on a local Fabric network")
    parser.add_argument("--base-port", type=int, default=7350)
    args = parser.parse_args()

    from datachannels.channel_connectors.embedded import init_data_dir

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "embedded"
        init_data_dir(data_dir)
        asyncio.run(_measure("embedded", data_dir, "embedded", args.rounds))
        if args.fabric:
            from datachannels.channel_connectors.loading import load_fabric
            from datachannels.network.local import network_down, network_up

            fabric_dir = Path(tmp) / "fabric"
            network_up(fabric_dir, base_port=args.base_port, progress=lambda _: None)
            try:
                load_fabric(fabric_dir)
                asyncio.run(_measure("fabric", fabric_dir, "fabric", max(args.rounds // 4, 20)))
            finally:
                network_down(fabric_dir)
    print("target: delegation <= 1.2x identity")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Latency on a real Fabric network: the gateway against a direct Fabric Gateway evaluate.

Run: python bench/fabric_latency.py [--rounds N] [--base-port P]

Brings a local network up in a temporary data dir (timing `network up` from
nothing, with the binaries already built and cached, and again after
`network down`), loads the data, then measures in one Python process, side by
side and interleaved so machine noise hits both alike:

* direct: `FabricConnector.evaluate` of the exact `read` call the gateway makes
  for a one-channel footprint (airline), signed as acme;
* gateway: the same footprint as a GraphQL query through the app (in-process
  ASGI, no socket), which makes that same call plus its own work;
* the four-channel README footprint through the gateway, against the slowest
  of the four channels' direct reads.

Targets (issue): gateway ≤ 1.1 × direct; four channels ≤ 1.3 × the slowest single channel.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
FLIGHT = {"flights": [{"origin": "LHR", "destination": "JFK", "cabinClass": "ECONOMY"}]}
QUERY = "query($i: FootprintInput!) { footprint(input: $i) { totalKgCO2e lines { kgCO2e activity factor { recordKey txId } } } }"


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


async def _measure(data_dir: Path, rounds: int) -> None:
    from datachannels.channel_connectors.fabric import FabricConnector
    from datachannels.channel_connectors.identities import IdentityStore
    from datachannels.chaincode import SOURCE_CHANNELS
    from datachannels.gateway.app import create_app
    from datachannels.gateway.settings import Settings
    from datachannels.gateway.wallet import encode_wallet
    from datachannels.resolvers import engine

    store = IdentityStore(data_dir)
    acme = store.signing_identity("acme")
    msp, cert, key = store.pem_pair("acme")
    wallet = encode_wallet({c: (msp, cert, key) for c in (*SOURCE_CHANNELS, "footprint")})
    direct = FabricConnector.from_data_dir(data_dir)
    app = create_app(Settings(data_dir=data_dir, connector="fabric"))
    example = json.loads((ROOT / "docs/examples/footprint.json").read_text())

    def read_args(request: engine.FootprintRequest, channel: str) -> str:
        needs = engine.needs(request)[channel]
        return json.dumps({"keys": [v for k, v in needs if k == "key"],
                           "queries": [json.loads(v) for k, v in needs if k == "query"]})

    four = example["variables"]["input"]
    four_request = engine.FootprintRequest(
        electricity=(engine.ElectricityActivity(1000, grid_region="CAMX"),),
        freight=(engine.FreightActivity("sea", tonnes=5, origin="CNSHA", destination="NLRTM", vehicle="container ship"),),
        flights=(engine.FlightActivity("LHR", "JFK", "economy"),),
        purchases=(engine.PurchaseActivity(amount_usd=1000, naics="331110"),),
    )
    one_args = read_args(engine.FootprintRequest(flights=(engine.FlightActivity("LHR", "JFK", "economy"),)), "airline")

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway",
                                 headers={"X-Wallet": wallet}) as client:
        async def gateway(variables: dict) -> None:
            body = (await client.post("/graphql", json={"query": QUERY, "variables": {"i": variables}})).json()
            assert "errors" not in body, body

        await gateway(four)  # warm-up: airports, sea-route graph, gRPC channel
        await direct.evaluate("airline", acme, "read", [one_args])
        samples: dict[str, list[float]] = {"direct": [], "gateway": [], "four": []}
        cpu = {"direct": 0.0, "gateway": 0.0}  # CPU of this process (client and gateway), per kind of call
        per_channel: dict[str, list[float]] = {c: [] for c in SOURCE_CHANNELS}
        for _ in range(rounds):
            t, c = time.perf_counter(), time.process_time()
            await direct.evaluate("airline", acme, "read", [one_args])
            samples["direct"].append(time.perf_counter() - t)
            cpu["direct"] += time.process_time() - c
            t, c = time.perf_counter(), time.process_time()
            await gateway(FLIGHT)
            samples["gateway"].append(time.perf_counter() - t)
            cpu["gateway"] += time.process_time() - c
            for channel in SOURCE_CHANNELS:
                t = time.perf_counter()
                await direct.evaluate(channel, acme, "read", [read_args(four_request, channel)])
                per_channel[channel].append(time.perf_counter() - t)
            t = time.perf_counter()
            await gateway(four)
            samples["four"].append(time.perf_counter() - t)
    await direct.aclose()
    d, g, f = (_median_ms(samples[k]) for k in ("direct", "gateway", "four"))
    slowest = max(per_channel, key=lambda c: _median_ms(per_channel[c]))
    s = _median_ms(per_channel[slowest])
    print(f"one-channel footprint (airline), p50 over {rounds}: direct evaluate {d:.2f} ms, gateway {g:.2f} ms "
          f"→ {g / d:.2f}× (target ≤ 1.1×)")
    print(f"CPU of this process per call: direct {cpu['direct'] / rounds * 1000:.2f} ms, "
          f"gateway {cpu['gateway'] / rounds * 1000:.2f} ms (GraphQL, engine, JSON, signing)")
    print("direct read per channel, p50: " + ", ".join(f"{c} {_median_ms(v):.2f} ms" for c, v in per_channel.items()))
    print(f"four-channel footprint through the gateway, p50: {f:.2f} ms → {f / s:.2f}× the slowest channel "
          f"({slowest}, {s:.2f} ms) (target ≤ 1.3×)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--base-port", type=int, default=37050)
    args = parser.parse_args()
    from datachannels.channel_connectors.loading import load_fabric
    from datachannels.network.local import network_down, network_up

    def quiet(_: str) -> None:
        pass

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        t = time.perf_counter()
        network_up(data_dir, base_port=args.base_port, progress=quiet)
        print(f"network up from nothing (Fabric binaries cached): {time.perf_counter() - t:.1f} s")
        network_down(data_dir)
        t = time.perf_counter()
        network_up(data_dir, base_port=args.base_port, progress=quiet)
        print(f"network up again on the same data dir: {time.perf_counter() - t:.1f} s")
        try:
            t = time.perf_counter()
            written = load_fabric(data_dir)
            print(f"loading {sum(written.values())} records on Fabric: {time.perf_counter() - t:.1f} s")
            asyncio.run(_measure(data_dir, args.rounds))
        finally:
            network_down(data_dir)


if __name__ == "__main__":
    main()

"""A read under a provider's grant against a member's read of the same data, embedded ledger.

Run: python bench/token_latency.py [--rounds N] [--fabric]

On a fresh data dir in a temporary directory, the auditor issues and records a grant for
outsider on the utility channel (no cap). Then, through the gateway's ASGI app in-process and
interleaved so that machine noise hits both alike, N times each:

* member: acme's delegation, one grid rate (`utility.gridRates`, one record);
* grant: outsider's delegation with the grant, the same query. Its read is submitted and
  committed (one block: the metering entry and the grant's counter), where the member's is only
  evaluated.

With --fabric the same runs against a local Fabric network brought up in the temporary
directory (`network up`, the data loaded), through the Fabric connector: there the grant's read
waits for its block to be ordered and committed.

Prints p50 and p90 of each and the ratio of the p50s. Target (issue 13): grant <= 2x member on
the embedded ledger; the Fabric figure is reported beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RATE = (
    '{ utility { gridRates(regionType: EGRID_SUBREGION, region: "CAMX", year: 2023, first: 1) '
    "{ items { co2LbPerMwh } } } }"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--fabric", action="store_true", help="on a local Fabric network")
    args = parser.parse_args()

    from datachannels.channel_connectors.embedded import init_data_dir

    data_dir = Path(tempfile.mkdtemp(prefix="datachannels-token-")) / "data"
    if args.fabric:
        from datachannels.channel_connectors.loading import load_fabric
        from datachannels.network.local import network_down, network_up

        from tests.conftest import free_fabric_base_port

        network_up(data_dir, base_port=free_fabric_base_port())
        try:
            load_fabric(data_dir)
            measure(args, data_dir, "fabric")
        finally:
            network_down(data_dir)
        return
    init_data_dir(data_dir)
    measure(args, data_dir, "embedded")


def measure(args: argparse.Namespace, data_dir: Path, connector: str) -> None:
    from datachannels.gateway.app import create_app
    from datachannels.gateway.settings import Settings

    from tests.conftest import delegation_wallet_for, recorded_grant

    settings = Settings(data_dir=data_dir, log_level="warning", connector=connector)
    token = recorded_grant(data_dir, connector, max_uses=None, expires=_in_a_day())
    member = delegation_wallet_for(data_dir, "acme", channels=("utility",), actions=("read",))
    granted = delegation_wallet_for(
        data_dir, "outsider", channels=("utility",), actions=("read",), token=token
    )
    app = create_app(settings)

    async def run() -> dict[str, list[float]]:
        times: dict[str, list[float]] = {"member": [], "grant": []}
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

                async def one(wallet: str) -> float:
                    started = time.perf_counter()
                    answer = await client.post(
                        "/graphql", json={"query": RATE}, headers={"X-Wallet": wallet}
                    )
                    elapsed = time.perf_counter() - started
                    assert "errors" not in answer.json(), answer.text
                    return elapsed

                for _ in range(10):  # warm both paths
                    await one(member)
                    await one(granted)
                for _ in range(args.rounds):
                    times["member"].append(await one(member))
                    times["grant"].append(await one(granted))
        return times

    times = asyncio.run(run())

    def p(values: list[float], q: int) -> float:
        return statistics.quantiles(values, n=100)[q - 1] * 1000

    print(f"{connector}, {args.rounds} rounds each, interleaved:")
    for label, values in times.items():
        print(f"{label:7} p50 {p(values, 50):7.2f} ms   p90 {p(values, 90):7.2f} ms")
    ratio = p(times["grant"], 50) / p(times["member"], 50)
    print(f"grant / member (p50): {ratio:.2f}x   target: <= 2x")


def _in_a_day() -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(days=1)


if __name__ == "__main__":
    main()

"""A read under a provider's grant against a member's read of the same data, embedded ledger.

Run: python bench/token_latency.py [--rounds N]

On a fresh data dir in a temporary directory, the auditor issues and records a grant for
outsider on the utility channel (no cap). Then, through the gateway's ASGI app in-process and
interleaved so that machine noise hits both alike, N times each:

* member: acme's delegation, one grid rate (`utility.gridRates`, one record);
* grant: outsider's delegation with the grant, the same query. Its read is submitted and
  committed (one block: the metering entry and the grant's counter), where the member's is only
  evaluated.

Prints p50 and p90 of each and the ratio of the p50s. Target (issue 13): grant <= 2x member.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import json
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
    args = parser.parse_args()

    from datachannels.chaincode import grants
    from datachannels.channel_connectors.embedded import EmbeddedNetwork, init_data_dir
    from datachannels.gateway.app import create_app
    from datachannels.gateway.settings import Settings

    from tests.conftest import delegation_wallet_for

    data_dir = Path(tempfile.mkdtemp(prefix="datachannels-token-")) / "data"
    init_data_dir(data_dir)
    network = EmbeddedNetwork(data_dir)
    _, _, key = network.identities.pem_pair("auditor")
    token = grants.issue(
        key,
        "utility",
        ["grid_rate"],
        dt.datetime.now(dt.UTC) + dt.timedelta(days=1),
        consumer_org="OutsiderMSP",
        consumer_ca_pem=network.identities.organisation("OutsiderMSP").ca_certificate_pem,
        fee="0.002",
    )
    network.submit(
        "utility",
        network.identities.signing_identity("auditor"),
        "grant_issue",
        [json.dumps({"token": token})],
    )
    member = delegation_wallet_for(data_dir, "acme", channels=("utility",), actions=("read",))
    plain = delegation_wallet_for(data_dir, "outsider", channels=("utility",), actions=("read",))
    entries = json.loads(base64.urlsafe_b64decode(plain + "=" * (-len(plain) % 4)))
    entries["utility"]["token"] = token
    granted = base64.urlsafe_b64encode(json.dumps(entries).encode()).decode().rstrip("=")
    app = create_app(Settings(data_dir=data_dir, log_level="warning"))

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

    for label, values in times.items():
        print(f"{label:7} p50 {p(values, 50):7.2f} ms   p90 {p(values, 90):7.2f} ms")
    ratio = p(times["grant"], 50) / p(times["member"], 50)
    print(f"grant / member (p50): {ratio:.2f}x   target: <= 2x")


if __name__ == "__main__":
    main()

"""Fixtures build real objects: real keys, real ledgers in temporary directories."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from datachannels.channel_connectors.embedded import EmbeddedNetwork, init_data_dir

CAMX = {
    "kind": "grid_rate",
    "payload": {
        "region_type": "egrid_subregion",
        "region": "CAMX",
        "region_name": "WECC California",
        "year": 2023,
        "co2_lb_per_mwh": 436.655,
        "ch4_lb_per_mwh": 0.025,
        "n2o_lb_per_mwh": 0.003,
        "grid_gross_loss": 0.041,
        "unit": "lb/MWh",
    },
    "source": {
        "dataset": "EPA GHG Emission Factors Hub",
        "edition": "2025",
        "file": "hub.xlsx",
        "sha256": "0" * 64,
        "row": "Table 6 row 342",
    },
}


def footprint_line(kg: float) -> dict:
    """A line as the gateway publishes it (the footprint contract checks the shape)."""
    return {
        "kgCO2e": kg,
        "channel": "utility",
        "activity": f"{kg} kg test line",
        "basis": "CALCULATED",
        "scope": 2,
        "source": {
            "channel": "utility",
            "record_key": "grid_rate/egrid_subregion/CAMX/2023",
            "tx_id": "0" * 64,
        },
    }


def invoice(customer: str, invoice_id: str, kwh: float = 1000.0) -> dict:
    return {
        "kind": "invoice",
        "payload": {
            "customer": customer,
            "invoice_id": invoice_id,
            "utility_id": 14328,
            "grid_region": "CAMX",
            "period_start": "2025-01-01",
            "period_end": "2025-01-31",
            "kwh": kwh,
            "kg_co2e": kwh * 0.198,
        },
        "source": {
            "dataset": "test audit",
            "edition": "2025",
            "file": None,
            "sha256": "1" * 64,
            "row": invoice_id,
        },
    }


@pytest.fixture
def network(tmp_path: Path) -> EmbeddedNetwork:
    """Identities and five empty channels, no factor data (fast)."""
    net = EmbeddedNetwork(tmp_path / "data")
    net.ensure_channels()
    return net


@pytest.fixture
def put(network: EmbeddedNetwork):
    def _put(channel: str, records: list[dict], as_: str = "auditor"):
        return network.submit(
            channel, network.identities.signing_identity(as_), "put_records", [json.dumps(records)]
        )

    return _put


@pytest.fixture
def read(network: EmbeddedNetwork):
    def _read(channel: str, as_: str, request: dict) -> dict:
        raw = network.evaluate(
            channel, network.identities.signing_identity(as_), "read", [json.dumps(request)]
        )
        return json.loads(raw)

    return _read


@pytest.fixture(scope="session")
def loaded_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir after `datachannels init`: real factor data on the ledger (made once per run)."""
    data_dir = tmp_path_factory.mktemp("loaded") / "data"
    init_data_dir(data_dir)
    return data_dir


@pytest.fixture
def data_dir(loaded_data_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the loaded data dir, so a test's writes stay its own."""
    import shutil

    copy = tmp_path / "data"
    shutil.copytree(loaded_data_dir, copy)
    return copy


def wallet_for(data_dir: Path, name: str, channels: tuple[str, ...] | None = None) -> str:
    from datachannels.chaincode import CHANNELS
    from datachannels.channel_connectors.identities import IdentityStore
    from datachannels.gateway.wallet import encode_wallet

    msp_id, cert, key = IdentityStore(data_dir).pem_pair(name)
    return encode_wallet({c: (msp_id, cert, key) for c in (channels or CHANNELS)})


def delegation_wallet_for(
    data_dir: Path,
    name: str,
    channels: tuple[str, ...] | None = None,
    actions: tuple[str, ...] = ("read", "publish"),
    publishes: int = 1,
    token: str | None = None,
) -> str:
    """NAME's delegations for the data dir's relay, as `wallet --delegate` prints them (with
    a provider's grant beside each, given `token`)."""
    from datachannels.chaincode import CHANNELS
    from datachannels.chaincode.delegation import fingerprint
    from datachannels.channel_connectors.identities import IdentityStore
    from datachannels.gateway.wallet import delegation_wallet

    store = IdentityStore(data_dir)
    msp_id, cert, key = store.pem_pair(name)
    return delegation_wallet(
        cert,
        key,
        msp_id,
        audience=fingerprint(store.relay().identity.certificate),
        channels=channels or CHANNELS,
        actions=actions,
        publishes=publishes,
        token=token,
    )


@pytest.fixture
def client(data_dir: Path):
    """The gateway app on the copy, driven in-process."""
    from datachannels.gateway.app import create_app
    from datachannels.gateway.settings import Settings
    from starlette.testclient import TestClient

    with TestClient(create_app(Settings(data_dir=data_dir))) as test_client:
        yield test_client


def graphql(client, query: str, wallet: str | None, variables: dict | None = None) -> dict:
    headers = {"X-Wallet": wallet} if wallet else {}
    response = client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()


def post_graphql(url: str, query: str, wallet: str, variables: dict | None = None) -> dict:
    """One GraphQL POST to a gateway served at URL (a real HTTP request); the answer's JSON."""
    import httpx

    response = httpx.post(
        f"{url}/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"X-Wallet": wallet},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()


def connector_calls(client) -> dict[tuple[str, str], float]:
    """datachannels_connector_calls_total by (channel, operation), read from /metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    counts: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            if sample.name == "datachannels_connector_calls_total":
                counts[(sample.labels["channel"], sample.labels["operation"])] = sample.value
    return counts


def free_fabric_base_port() -> int:
    """The first block of 25 free loopback ports from 27050 on (for a test network)."""
    import socket

    def free(base: int) -> bool:
        for port in range(base, base + 25):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    return False
        return True

    for base in range(27050, 40000, 100):
        if free(base):
            return base
    raise RuntimeError("no free block of 25 loopback ports")


def free_port() -> int:
    """A free loopback port (free when asked; good enough for a test server)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def served(data_dir: Path, log: Path | None = None, **env: str) -> Iterator[str]:
    """`datachannels serve` over DATA_DIR on a free loopback port, until the block ends.

    Yields the base URL once /healthz answers; output goes to LOG (or nowhere); `env` adds
    DATACHANNELS_* variables."""
    import subprocess
    import sys
    import time

    import httpx

    port = free_port()
    with open(log or os.devnull, "w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "datachannels.gateway.cli", "serve", "--port", str(port)]
            + ["--data-dir", str(data_dir)],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, log.read_text() if log else "the server exited"
            try:
                httpx.get(f"{url}/healthz", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "no /healthz within 60 s"
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)


def issued_grant(store, issuer: str = "auditor", **overrides: object) -> str:
    """A provider's grant (chaincode/grants.py): by default the auditor's, for outsider, grid
    rates on utility, 0.002 USD a read, 10 reads, for 30 days from now."""
    import datetime as dt

    from datachannels.chaincode import grants

    _, _, key = store.pem_pair(issuer)
    arguments: dict = {
        "channel": "utility",
        "kinds": ["grid_rate"],
        "expires": dt.datetime.now(dt.UTC) + dt.timedelta(days=30),
        "consumer_org": "OutsiderMSP",
        "consumer_ca_pem": store.organisation("OutsiderMSP").ca_certificate_pem,
        "fee": "0.002",
        "currency": "USD",
        "max_uses": 10,
    }
    arguments.update(overrides)
    return grants.issue(key, **arguments)


def recorded_grant(data_dir: Path, connector: str = "embedded", **overrides: object) -> str:
    """`issued_grant`, recorded on its channel by the auditor through CONNECTOR."""
    import asyncio
    import json

    from datachannels.channel_connectors.base import network
    from datachannels.channel_connectors.identities import IdentityStore
    from datachannels.gateway.app import make_connector
    from datachannels.gateway.settings import Settings

    store = IdentityStore(data_dir)
    token = issued_grant(store, **overrides)

    async def record() -> None:
        ledger = make_connector(Settings(data_dir=data_dir, connector=connector))
        try:
            await (
                network(ledger, str(overrides.get("channel", "utility")))
                .contract()
                .submit(
                    store.signing_identity("auditor"), "grant_issue", json.dumps({"token": token})
                )
            )
        finally:
            await ledger.aclose()

    asyncio.run(record())
    return token


def concurrent_answers(app, query: str, wallet: str, count: int) -> list[dict]:
    """COUNT copies of one GraphQL POST through APP at once (in-process): their answers."""
    import asyncio

    import httpx

    async def race() -> list[dict]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:

                async def one() -> dict:
                    answer = await http.post(
                        "/graphql", json={"query": query}, headers={"X-Wallet": wallet}, timeout=120
                    )
                    return answer.json()

                return await asyncio.gather(*(one() for _ in range(count)))

    return asyncio.run(race())

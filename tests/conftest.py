"""Fixtures build real objects: real keys, real ledgers in temporary directories."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from datachannels.channel_connectors.embedded import EmbeddedNetwork, init_data_dir

CAMX = {
    "kind": "grid_rate",
    "payload": {
        "region_type": "egrid_subregion", "region": "CAMX", "region_name": "WECC California", "year": 2023,
        "co2_lb_per_mwh": 436.655, "ch4_lb_per_mwh": 0.025, "n2o_lb_per_mwh": 0.003,
        "grid_gross_loss": 0.041, "unit": "lb/MWh",
    },
    "source": {"dataset": "EPA GHG Emission Factors Hub", "edition": "2025", "file": "hub.xlsx",
               "sha256": "0" * 64, "row": "Table 6 row 342"},
}


def invoice(customer: str, invoice_id: str, kwh: float = 1000.0) -> dict:
    return {
        "kind": "invoice",
        "payload": {"customer": customer, "invoice_id": invoice_id, "utility_id": 14328, "grid_region": "CAMX",
                    "period_start": "2025-01-01", "period_end": "2025-01-31", "kwh": kwh, "kg_co2e": kwh * 0.198},
        "source": {"dataset": "test audit", "edition": "2025", "file": None, "sha256": "1" * 64, "row": invoice_id},
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
        return network.submit(channel, network.identities.signing_identity(as_), "put_records", [json.dumps(records)])

    return _put


@pytest.fixture
def read(network: EmbeddedNetwork):
    def _read(channel: str, as_: str, request: dict) -> dict:
        raw = network.evaluate(channel, network.identities.signing_identity(as_), "read", [json.dumps(request)])
        return json.loads(raw)

    return _read


@pytest.fixture(scope="session")
def loaded_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir after `datachannels init`: the real factor data on the ledger (made once per run)."""
    data_dir = tmp_path_factory.mktemp("loaded") / "data"
    init_data_dir(data_dir)
    return data_dir

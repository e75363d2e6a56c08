"""When several channels refuse the same caller, the errors come in a stable order.

The README shows what `outsider` gets; it must get that every time, however the channels'
answers happen to interleave. A connector that holds the utility channel's answers back
makes the "wrong" order the likely one, so these tests fail where the order is left to timing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from datachannels.channel_connectors.base import Credential
from datachannels.channel_connectors.embedded import EmbeddedConnector
from datachannels.gateway.app import create_app
from datachannels.gateway.settings import Settings
from starlette.testclient import TestClient

from .conftest import delegation_wallet_for, wallet_for

EXAMPLE = json.loads((Path(__file__).parents[1] / "docs/examples/footprint.json").read_text())


class SlowUtility(EmbeddedConnector):
    """The embedded connector, with the utility channel answering last."""

    async def evaluate(
        self, channel: str, credential: Credential, function: str, args: Sequence[str] = ()
    ) -> bytes:
        if channel == "utility":
            await asyncio.sleep(0.05)
        return await super().evaluate(channel, credential, function, args)


@pytest.fixture
def slow_utility_client(data_dir: Path):
    app = create_app(Settings(data_dir=data_dir), connector=SlowUtility(data_dir))
    with TestClient(app) as client:
        yield client


@pytest.mark.parametrize(
    ("kind", "code"), [("identity", "ACCESS_DENIED"), ("delegation", "DELEGATION_INVALID")]
)
def test_outsider_footprint_names_the_first_activity_channel_every_time(
    slow_utility_client: TestClient, data_dir: Path, kind: str, code: str
) -> None:
    wallet = (
        wallet_for(data_dir, "outsider")
        if kind == "identity"
        else delegation_wallet_for(data_dir, "outsider")
    )
    for _ in range(10):
        body = slow_utility_client.post("/graphql", json=EXAMPLE, headers={"X-Wallet": wallet})
        errors = body.json()["errors"]
        assert [(e["path"], e["extensions"]["channel"]) for e in errors] == [
            (["footprint"], "utility")
        ]
        assert errors[0]["extensions"]["code"] == code


def test_errors_of_several_fields_follow_the_order_of_the_query(
    slow_utility_client: TestClient, data_dir: Path
) -> None:
    query = """{
      utility { gridRates(first: 1) { items { region } } }
      shipping { freightFactors(first: 1) { items { mode } } }
      airline { flightFactors(first: 1) { items { haul } } }
    }"""
    wallet = wallet_for(data_dir, "outsider")
    body = slow_utility_client.post(
        "/graphql", json={"query": query}, headers={"X-Wallet": wallet}
    ).json()
    assert [e["extensions"]["channel"] for e in body["errors"]] == [
        "utility",
        "shipping",
        "airline",
    ]

"""The gateway on a real Fabric network (built from the Fabric Go module, no Docker), loopback only.

Run with `pytest -m fabric`. The first run builds Fabric's binaries (a few
minutes, cached afterwards).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path

import pytest
from datachannels.channel_connectors.errors import ChannelError

from tests.conftest import delegation_wallet_for, free_fabric_base_port, graphql, wallet_for

pytestmark = pytest.mark.fabric

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = json.loads((ROOT / "docs/examples/footprint.json").read_text())


@pytest.fixture(scope="module")
def fabric_dir(tmp_path_factory: pytest.TempPathFactory):
    from datachannels.channel_connectors.loading import load_fabric
    from datachannels.network.local import network_down, network_up

    data_dir = tmp_path_factory.mktemp("fabric") / "data"
    network_up(data_dir, base_port=free_fabric_base_port())
    try:
        written = load_fabric(data_dir)
        assert sum(written.values()) > 3000
        yield data_dir
    finally:
        network_down(data_dir)
        shutil.rmtree(data_dir.parent, ignore_errors=True)  # Raft preallocates ~0.6 GB of log


def _app_client(data_dir: Path):
    from datachannels.gateway.app import create_app
    from datachannels.gateway.settings import Settings
    from starlette.testclient import TestClient

    return TestClient(create_app(Settings(data_dir=data_dir, connector="fabric")))


@pytest.fixture
def fabric_client(fabric_dir: Path):
    with _app_client(fabric_dir) as test_client:
        yield test_client


def test_the_same_footprint_has_the_same_totals_on_embedded_and_on_fabric(
    fabric_client, fabric_dir, client, data_dir
):
    on_fabric = graphql(
        fabric_client, EXAMPLE["query"], wallet_for(fabric_dir, "acme"), EXAMPLE["variables"]
    )
    embedded = graphql(client, EXAMPLE["query"], wallet_for(data_dir, "acme"), EXAMPLE["variables"])
    assert "errors" not in on_fabric, on_fabric.get("errors")
    f, e = on_fabric["data"]["footprint"], embedded["data"]["footprint"]
    assert f["totalKgCO2e"] == e["totalKgCO2e"]
    assert f["byScope"] == e["byScope"]
    for line in f["lines"]:
        assert (
            len(line["factor"]["txId"]) == 64 and line["factor"]["provenance"]["blockNumber"] >= 1
        )


def test_the_outsider_is_refused_by_the_peer_itself(fabric_client, fabric_dir):
    answer = graphql(
        fabric_client,
        "{ utility { gridRates(first: 1) { items { region } } } }",
        wallet_for(fabric_dir, "outsider"),
    )
    [error] = answer["errors"]
    assert error["extensions"]["code"] == "ACCESS_DENIED"
    assert error["extensions"]["channel"] == "utility"


def test_acme_cannot_read_globex_audited_records_on_fabric(fabric_client, fabric_dir):
    query = "{ utility { invoices { items { invoiceId } } } }"
    acme = graphql(fabric_client, query, wallet_for(fabric_dir, "acme"))["data"]["utility"][
        "invoices"
    ]["items"]
    assert {i["invoiceId"] for i in acme} == {"INV-2024-0001", "INV-2024-0002"}

    import asyncio

    from datachannels.channel_connectors.fabric import FabricConnector
    from datachannels.channel_connectors.identities import IdentityStore

    async def read_globex_invoice() -> dict:
        connector = FabricConnector.from_data_dir(fabric_dir)
        try:
            acme_id = IdentityStore(fabric_dir).signing_identity("acme")
            raw = await connector.evaluate(
                "utility",
                acme_id,
                "read",
                [json.dumps({"keys": ["invoice/GlobexMSP/INV-2024-0101"]})],
            )
            return json.loads(raw)
        finally:
            await connector.aclose()

    result = asyncio.run(read_globex_invoice())["results"][0]
    assert result["error"]["code"] == "ACCESS_DENIED" and "record" not in result


def test_a_customer_write_to_a_source_channel_is_rejected(fabric_dir):
    import asyncio

    from datachannels.channel_connectors.fabric import FabricConnector
    from datachannels.channel_connectors.identities import IdentityStore

    from tests.conftest import CAMX

    async def write_as_acme() -> None:
        connector = FabricConnector.from_data_dir(fabric_dir)
        try:
            await connector.submit(
                "utility",
                IdentityStore(fabric_dir).signing_identity("acme"),
                "put_records",
                [json.dumps([{**CAMX, "payload": {**CAMX["payload"], "region": "TEST"}}])],
            )
        finally:
            await connector.aclose()

    with pytest.raises(ChannelError) as refused:
        asyncio.run(write_as_acme())
    assert refused.value.code == "ACCESS_DENIED"
    assert "only AuditorsMSP may write to channel utility" in refused.value.message


def test_a_published_footprint_is_committed_and_read_back_after_the_gateway_restarts(fabric_dir):
    publish = (
        "mutation($input: FootprintInput!) { publishFootprint(input: $input) "
        "{ id txId blockNumber owner footprint { totalKgCO2e } } }"
    )
    read = (
        "query($id: ID!) { publishedFootprint(id: $id) "
        "{ id txId blockNumber owner footprint { totalKgCO2e } } }"
    )
    with _app_client(fabric_dir) as first:
        published = graphql(first, publish, wallet_for(fabric_dir, "acme"), EXAMPLE["variables"])[
            "data"
        ]["publishFootprint"]
    assert published["owner"] == "AcmeMSP" and published["blockNumber"] >= 1
    with _app_client(fabric_dir) as second:
        again = graphql(second, read, wallet_for(fabric_dir, "globex"), {"id": published["id"]})[
            "data"
        ]["publishedFootprint"]
    assert again == published


def test_a_killed_peer_is_unavailable_then_recovers_without_restarting_the_gateway(
    fabric_client, fabric_dir
):
    from datachannels.network.local import network_status, network_up

    query = (
        '{ utility { gridRates(regionType: EGRID_SUBREGION, region: "CAMX") '
        "{ items { co2LbPerMwh } } } }"
    )
    wallet = wallet_for(fabric_dir, "acme")
    assert (
        graphql(fabric_client, query, wallet)["data"]["utility"]["gridRates"]["items"][0][
            "co2LbPerMwh"
        ]
        == 436.655
    )
    peer = next(p for p in network_status(fabric_dir).processes if p.name.startswith("peer"))
    os.kill(peer.pid, signal.SIGKILL)
    started = time.monotonic()
    answer = graphql(fabric_client, query, wallet)
    assert answer["errors"][0]["extensions"]["code"] == "CHANNEL_UNAVAILABLE"
    assert time.monotonic() - started < 15  # within the connector's timeout, not hanging
    from datachannels.network.layout import Layout

    network_up(
        fabric_dir, base_port=Layout.existing(fabric_dir).base_port
    )  # restarts what is not running
    deadline = time.monotonic() + 60
    while True:
        answer = graphql(fabric_client, query, wallet)
        if "errors" not in answer or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert answer["data"]["utility"]["gridRates"]["items"][0]["co2LbPerMwh"] == 436.655


# ------------------------------------------------------------------------------ delegations


def test_the_relay_alone_is_refused_by_every_chaincode(fabric_dir):
    import asyncio

    from datachannels.chaincode import CHANNELS
    from datachannels.channel_connectors.fabric import FabricConnector
    from datachannels.channel_connectors.identities import IdentityStore

    relay = IdentityStore(fabric_dir).relay()

    async def read_as_relay() -> dict[str, ChannelError]:
        connector = FabricConnector.from_data_dir(fabric_dir)
        refusals = {}
        try:
            for channel in CHANNELS:
                request = {"ids": []} if channel == "footprint" else {"keys": []}
                try:
                    await connector.evaluate(channel, relay, "read", [json.dumps(request)])
                except ChannelError as error:
                    refusals[channel] = error
        finally:
            await connector.aclose()
        return refusals

    refusals = asyncio.run(read_as_relay())
    assert sorted(refusals) == sorted(CHANNELS)
    for error in refusals.values():
        assert error.code == "ACCESS_DENIED"
        assert "a relay must carry a caller's delegation" in error.message


def test_a_footprint_through_delegations_equals_the_one_with_acmes_identity_on_fabric(
    fabric_client, fabric_dir
):
    delegated = graphql(
        fabric_client,
        EXAMPLE["query"],
        delegation_wallet_for(fabric_dir, "acme"),
        EXAMPLE["variables"],
    )
    direct = graphql(
        fabric_client, EXAMPLE["query"], wallet_for(fabric_dir, "acme"), EXAMPLE["variables"]
    )
    assert "errors" not in delegated, delegated.get("errors")
    assert delegated == direct


def test_the_outsiders_delegation_is_refused_by_the_chaincode_on_fabric(fabric_client, fabric_dir):
    answer = graphql(
        fabric_client,
        "{ utility { gridRates(first: 1) { items { region } } } }",
        delegation_wallet_for(fabric_dir, "outsider"),
    )
    [error] = answer["errors"]
    assert error["extensions"] == {"code": "DELEGATION_INVALID", "channel": "utility"}
    assert "no member organisation of this channel" in error["message"]


def test_a_delegated_publish_is_owned_by_the_delegator_and_used_only_once_on_fabric(
    fabric_client, fabric_dir
):
    publish = "mutation($input: FootprintInput!) { publishFootprint(input: $input) { id owner } }"
    wallet = delegation_wallet_for(fabric_dir, "acme", publishes=1)
    first = graphql(fabric_client, publish, wallet, EXAMPLE["variables"])
    assert "errors" not in first, first.get("errors")
    assert first["data"]["publishFootprint"]["owner"] == "AcmeMSP"
    second = graphql(fabric_client, publish, wallet, EXAMPLE["variables"])
    [error] = second["errors"]
    assert error["extensions"]["code"] == "DELEGATION_REPLAYED"
    assert second["data"] is None or second["data"]["publishFootprint"] is None


def test_reads_under_a_grant_are_metered_and_capped_on_fabric(fabric_client, fabric_dir):
    """The same contract code as on the embedded ledger: outsider, no member, reads grid rates
    under the auditor's grant; each read commits its metering entry; the cap holds under
    concurrent reads (the MVCC losers simulated again by the relay; this needed the chaincode
    server's one-write-at-a-time fix, chaincode/server.py); the bill adds up."""
    from datachannels.gateway.app import create_app
    from datachannels.gateway.settings import Settings

    from tests.conftest import concurrent_answers, recorded_grant
    from tests.test_grants import RATE, _error_code, _token_wallet

    token = recorded_grant(fabric_dir, "fabric", fee="0.25", max_uses=3)
    wallet = _token_wallet(fabric_dir, "outsider", token)
    first = graphql(fabric_client, RATE, wallet)
    assert "errors" not in first, first.get("errors")
    assert first["data"]["utility"]["gridRates"]["items"][0]["co2LbPerMwh"] > 0

    app = create_app(Settings(data_dir=fabric_dir, connector="fabric"))
    answers = concurrent_answers(app, RATE, wallet, 6)
    codes = [_error_code(answer) for answer in answers]
    # Two uses left, six concurrent reads: two answers, four TOKEN_EXHAUSTED, none lost.
    assert codes.count(None) == 2 and codes.count("TOKEN_EXHAUSTED") == 4, answers
    # Without the grant the chaincode refuses outsider's delegation, as before.
    plain = delegation_wallet_for(fabric_dir, "outsider", channels=("utility",), actions=("read",))
    [refused] = graphql(fabric_client, RATE, plain)["errors"]
    assert refused["extensions"]["code"] == "DELEGATION_INVALID"
    bill = '{ usage(channel: "utility") { grants { accesses fees } totals { fees } } }'
    mine = graphql(fabric_client, bill, wallet)["data"]["usage"]
    assert mine["grants"] == [{"accesses": 3, "fees": "0.75"}]


def test_the_reads_of_one_request_meter_once_on_fabric(fabric_dir):
    """The relay's access id reaches the chaincode in the transient data: the request's first
    read commits the metering entry, its second is evaluated and finds it paid; the next
    request (a wallet parsed again) is an access of its own."""
    import asyncio

    from datachannels.channel_connectors.identities import IdentityStore
    from datachannels.gateway.app import make_connector
    from datachannels.gateway.settings import Settings
    from datachannels.gateway.wallet import parse_wallet

    from tests.conftest import recorded_grant
    from tests.test_grants import _token_wallet

    token = recorded_grant(fabric_dir, "fabric", fee="0.5", max_uses=None)
    wallet = _token_wallet(fabric_dir, "outsider", token)
    body = json.dumps({"keys": ["grid_rate/egrid_subregion/CAMX/2023"]})

    auditor = IdentityStore(fabric_dir).signing_identity("auditor")

    async def request(reads: int) -> dict:
        relay = IdentityStore(fabric_dir).relay()
        credential = parse_wallet(wallet, ("utility",), relay).credential("utility")
        connector = make_connector(Settings(data_dir=fabric_dir, connector="fabric"))
        try:
            heights = []
            for _ in range(reads):
                found = await connector.evaluate("utility", credential, "read", [body])
                assert "record" in json.loads(found)["results"][0]
                heights.append((await connector.chain_info("utility", auditor)).height)
            assert len(set(heights)) == 1, heights  # only the first read made a block
            bill = await connector.evaluate("utility", credential, "usage", ["{}"])
            return json.loads(bill)
        finally:
            await connector.aclose()

    assert [g["accesses"] for g in asyncio.run(request(3))["grants"]] == [1]
    assert asyncio.run(request(2))["totals"] == [{"accesses": 2, "currency": "USD", "fees": "1.0"}]


def test_what_a_grant_refuses_and_the_bill_from_the_blocks_on_fabric(fabric_client, fabric_dir):
    """The embedded ledger's refusals, on Fabric: expired, revoked, unrecorded, another
    identity's, another channel's, a kind outside the grant, a forgery, and a grant that a
    non-writer tries to record; none writes a block.  Then the bill equals what the chain's
    blocks, fetched from the peer (qscc GetBlockByNumber), add up to."""
    import asyncio
    import datetime as dt
    from decimal import Decimal

    from datachannels.chaincode import grants
    from datachannels.channel_connectors.base import network
    from datachannels.channel_connectors.fabric import FabricConnector
    from datachannels.channel_connectors.identities import IdentityStore
    from datachannels.gateway.app import make_connector
    from datachannels.gateway.settings import Settings

    from tests.conftest import issued_grant, recorded_grant
    from tests.test_grants import RATE, UTILITIES, _error_code, _token_wallet, fees_in_blocks

    store = IdentityStore(fabric_dir)
    auditor = store.signing_identity("auditor")
    token = recorded_grant(fabric_dir, "fabric", fee="0.1")
    expired = recorded_grant(
        fabric_dir, "fabric", expires=dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    )
    revoked = recorded_grant(fabric_dir, "fabric", fee="0.3")

    async def on_fabric(call):
        connector = make_connector(Settings(data_dir=fabric_dir, connector="fabric"))
        try:
            return await call(connector)
        finally:
            await connector.aclose()

    async def revoke(connector):
        body = json.dumps({"grantId": grants.grant_id(revoked)})
        await network(connector, "utility").contract().submit(auditor, "grant_revoke", body)

    async def height(connector) -> int:
        return (await network(connector, "utility").chain_info(auditor)).height

    async def record_as_acme(connector):
        body = json.dumps({"token": issued_grant(store, "acme")})
        acme = store.signing_identity("acme")
        await network(connector, "utility").contract().submit(acme, "grant_issue", body)

    asyncio.run(on_fabric(revoke))
    before = asyncio.run(on_fabric(height))
    with pytest.raises(ChannelError) as refused:
        asyncio.run(on_fabric(record_as_acme))
    assert refused.value.code == "ACCESS_DENIED"
    unrecorded = issued_grant(store, fee="0.5")
    cases = [
        (RATE, _token_wallet(fabric_dir, "outsider", expired), "TOKEN_EXPIRED"),
        (RATE, _token_wallet(fabric_dir, "outsider", revoked), "TOKEN_REVOKED"),
        (RATE, _token_wallet(fabric_dir, "outsider", unrecorded), "TOKEN_INVALID"),
        (RATE, _token_wallet(fabric_dir, "globex", token), "TOKEN_INVALID"),
        (UTILITIES, _token_wallet(fabric_dir, "outsider", token), "TOKEN_SCOPE"),
        (RATE, _token_wallet(fabric_dir, "outsider", token[:-8] + "AAAAAAA="), "TOKEN_INVALID"),
        (
            "{ airline { flightFactors(first: 1) { items { haul } } } }",
            _token_wallet(fabric_dir, "outsider", token, channel="airline"),
            "TOKEN_INVALID",
        ),
    ]
    for query, wallet, code in cases:
        assert _error_code(graphql(fabric_client, query, wallet)) == code, code
    assert asyncio.run(on_fabric(height)) == before  # no refusal wrote a block

    # Two reads under the good grant, then the bill against the blocks.
    for _ in range(2):
        assert "errors" not in graphql(
            fabric_client, RATE, _token_wallet(fabric_dir, "outsider", token)
        )

    async def bill_and_blocks(connector: FabricConnector):
        raw = await network(connector, "utility").contract().evaluate(auditor, "usage", "{}")
        top = await height(connector)
        blocks = [
            await connector._evaluate(
                "utility", auditor, "qscc", "GetBlockByNumber", ["utility", str(n)]
            )
            for n in range(top)
        ]
        return json.loads(raw), blocks

    bill, blocks = asyncio.run(on_fabric(bill_and_blocks))
    lines = {g["grantId"]: g for g in bill["grants"]}
    assert lines[grants.grant_id(token)]["accesses"] == 2
    assert fees_in_blocks(blocks) == {
        gid: (line["accesses"], Decimal(line["fees"])) for gid, line in lines.items()
    }

"""`datachannels network up | down | status` and the chaincode server.

The tests marked `fabric` run a real network on loopback (orderer, peer,
five chaincode servers) in a temporary data directory: `pytest -m fabric`.
The unmarked ones need no Fabric: the chaincode server's workaround for the
shim's ERROR replies, the chaincode packages, the channel configuration and
the PID-file bookkeeping.
"""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from datachannels.chaincode import CHANNELS, chaincode_for
from datachannels.chaincode.server import CheckedHandler, install_checked_handler
from datachannels.channel_connectors.identities import IdentityStore
from datachannels.channel_connectors.proposals import build_proposal
from datachannels.network.configtx import configtx, to_yaml
from datachannels.network.layout import Layout
from datachannels.network.lifecycle import ensure_package
from datachannels.network.local import FabricNetwork, network_down, network_status, network_up
from datachannels.network.processes import ProcessRecord, ProcessTable, is_running
from fabric_chaincode_python.fabric_shim import server as shim_server
from fabric_chaincode_python.fabric_shim.handler import STATES, Handler
from fabric_chaincode_python.fabric_shim.msg_queue_handler import MsgQueueHandler
from fabric_chaincode_python.fabric_shim.stub import ChaincodeStub
from fabric_protos.peer import chaincode_pb2, chaincode_shim_pb2, proposal_pb2

from tests.conftest import CAMX, free_fabric_base_port

Message = chaincode_shim_pb2.ChaincodeMessage


# ------------------------------------------------- the ERROR-reply workaround


class FakePeer:
    """The peer's side of the shim stream: answers state requests, ERROR for types in `refuse`."""

    def __init__(self, handler: Handler, refuse: set[int], range_page: bytes = b"") -> None:
        self.handler = handler
        self.refuse = refuse
        self.range_page = range_page  # the QueryResponse a range query gets
        self.requests: list[int] = []

    async def write(self, msg: chaincode_shim_pb2.ChaincodeMessage) -> None:
        self.requests.append(msg.type)
        if msg.type in self.refuse:
            reply = Message(
                type=Message.ERROR,
                payload=b"ledger unavailable",
                txid=msg.txid,
                channel_id=msg.channel_id,
            )
        elif msg.type == Message.GET_STATE_BY_RANGE and self._records_range(msg):
            reply = Message(
                type=Message.RESPONSE,
                payload=self.range_page,
                txid=msg.txid,
                channel_id=msg.channel_id,
            )
        else:  # an empty RESPONSE: "no such key" for GetState, "done" for PutState, an empty range
            reply = Message(
                type=Message.RESPONSE, payload=b"", txid=msg.txid, channel_id=msg.channel_id
            )
        asyncio.get_running_loop().create_task(self.handler.handle_message_ready(reply))

    @staticmethod
    def _records_range(msg: chaincode_shim_pb2.ChaincodeMessage) -> bool:
        """A range over records, not over the supersession index (which stays empty here)."""
        return not chaincode_shim_pb2.GetStateByRange.FromString(msg.payload).startKey.startswith(
            "\x00superseded_by\x00"
        )


def _run_transaction(
    handler_class: type[Handler],
    function: str,
    argument: str,
    refuse: set[int],
    sent: list[int] | None = None,
    range_page: bytes = b"",
) -> tuple[int, str, bytes]:
    """Run a utility-contract transaction as the auditor on a FakePeer: (status, message, payload).

    `sent`, when given, receives the types of the messages the chaincode sent the peer.
    """
    data_dir = Path(os.environ["DC_TEST_DATA_DIR"])
    auditor = IdentityStore(data_dir).signing_identity("auditor").identity
    proposal, tx_id = build_proposal(auditor, "utility", "utility", function, [argument])
    signed = proposal_pb2.SignedProposal(proposal_bytes=proposal.SerializeToString(), signature=b"")
    chaincode = chaincode_for("utility")

    async def run() -> tuple[int, str, bytes]:
        handler = handler_class("utility_1:test", chaincode)
        peer = FakePeer(handler, refuse, range_page)
        handler.context = peer
        handler.msg_queue_handler = MsgQueueHandler(handler)
        handler.state = STATES.READY
        cc_input = chaincode_pb2.ChaincodeInput(args=[function.encode(), argument.encode()])
        stub = ChaincodeStub(handler, "utility", tx_id, cc_input, signed)
        response = await chaincode.invoke(stub)
        if sent is not None:
            sent.extend(peer.requests)
        return response.status, response.message, response.payload

    return asyncio.run(run())


@pytest.fixture
def auditor_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    IdentityStore(tmp_path).ensure()
    monkeypatch.setenv("DC_TEST_DATA_DIR", str(tmp_path))
    return tmp_path


def test_a_refused_write_fails_the_transaction(auditor_data_dir: Path) -> None:
    records = json.dumps([CAMX])

    status, message, _ = _run_transaction(
        CheckedHandler, "put_records", records, {Message.PUT_STATE}
    )

    assert status == 500
    assert "the peer refused PutState: ledger unavailable" in message
    # The package's own handler drops the refusal: the write is lost, the transaction "succeeds".
    status, _, _ = _run_transaction(Handler, "put_records", records, {Message.PUT_STATE})
    assert status == 200


def test_a_refused_read_fails_instead_of_returning_the_error_text_as_the_value(
    auditor_data_dir: Path,
) -> None:
    request = json.dumps({"keys": ["grid_rate/egrid_subregion/CAMX/2023"]})

    status, message, _ = _run_transaction(CheckedHandler, "read", request, {Message.GET_STATE})

    assert status == 500
    assert "the peer refused GetState: ledger unavailable" in message
    # The package's own handler returns b"ledger unavailable" as the stored value, which the
    # contract then refuses as a bad record instead of reporting a failed read.
    status, _, payload = _run_transaction(Handler, "read", request, {Message.GET_STATE})
    assert status == 200
    assert json.loads(payload)["results"][0]["error"]["code"] == "BAD_INPUT"


def test_a_refused_range_query_fails_the_transaction(auditor_data_dir: Path) -> None:
    request = json.dumps({"queries": [{"kind": "grid_rate", "attributes": []}]})

    status, message, _ = _run_transaction(
        CheckedHandler, "read", request, {Message.GET_STATE_BY_RANGE}
    )

    assert status == 500
    assert "the peer refused GetStateByRange" in message


def _range_page(*, has_more: bool, records: list[dict]) -> bytes:
    from fabric_protos.ledger.queryresult import kv_query_result_pb2

    results = [
        chaincode_shim_pb2.QueryResultBytes(
            resultBytes=kv_query_result_pb2.KV(
                key="\x00grid_rate\x00egrid_subregion\x00"
                + r["payload"]["region"]
                + "\x00"
                + str(r["payload"]["year"])
                + "\x00",
                value=json.dumps(
                    {
                        "key": "grid_rate/egrid_subregion/"
                        + r["payload"]["region"]
                        + "/"
                        + str(r["payload"]["year"]),
                        **r,
                    }
                ).encode(),
            ).SerializeToString()
        )
        for r in records
    ]
    return chaincode_shim_pb2.QueryResponse(
        results=results, has_more=has_more, id="range-1"
    ).SerializeToString()


def test_a_finished_range_is_not_closed_again(auditor_data_dir: Path) -> None:
    # The peer drops an iterator once it has sent the last page (has_more false): the library's
    # closing round trip after that costs both processes for nothing, so the contract skips it.
    request = json.dumps({"queries": [{"kind": "grid_rate", "attributes": []}]})
    sent: list[int] = []

    status, message, payload = _run_transaction(
        CheckedHandler, "read", request, set(), sent, _range_page(has_more=False, records=[CAMX])
    )

    assert status == 200, message
    assert [r["key"] for r in json.loads(payload)["queries"][0]["records"]] == [
        "grid_rate/egrid_subregion/CAMX/2023"
    ]
    assert sent == [
        Message.GET_STATE_BY_RANGE,
        Message.GET_STATE_BY_RANGE,
    ]  # supersession index, then the records


def test_a_range_left_with_pages_to_come_is_closed(auditor_data_dir: Path) -> None:
    # A page of one record with more to come on the peer: the contract stops at the limit and
    # must close it.
    request = json.dumps({"queries": [{"kind": "grid_rate", "attributes": [], "limit": 1}]})
    second = {**CAMX, "payload": {**CAMX["payload"], "region": "ERCT"}}
    sent: list[int] = []

    status, message, payload = _run_transaction(
        CheckedHandler,
        "read",
        request,
        set(),
        sent,
        _range_page(has_more=True, records=[CAMX, second]),
    )

    assert status == 200, message
    assert json.loads(payload)["queries"][0]["next"] == "grid_rate/egrid_subregion/CAMX/2023"
    assert sent == [
        Message.GET_STATE_BY_RANGE,
        Message.GET_STATE_BY_RANGE,
        Message.QUERY_STATE_CLOSE,
    ]


def test_answered_requests_pass_through_the_checked_handler(auditor_data_dir: Path) -> None:
    status, message, _ = _run_transaction(CheckedHandler, "put_records", json.dumps([CAMX]), set())

    assert status == 200, message


def test_the_chaincode_server_uses_the_checked_handler() -> None:
    original = shim_server.Handler
    try:
        install_checked_handler()
        assert shim_server.Handler is CheckedHandler
        install_checked_handler()  # idempotent
        assert shim_server.Handler is CheckedHandler
    finally:
        shim_server.Handler = original


# ------------------------------------------------- packages, config, processes


def _untar(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]


def test_chaincode_packages_are_reproducible_ccaas_packages(tmp_path: Path) -> None:
    layout = Layout(tmp_path, 9000)

    path, package_id = ensure_package(layout, "shipping")
    again_path, again_id = ensure_package(layout, "shipping")

    assert (again_path, again_id) == (path, package_id)
    assert package_id.startswith("shipping_1:") and len(package_id.split(":")[1]) == 64
    outer = _untar(path.read_bytes())
    assert json.loads(outer["metadata.json"]) == {"type": "ccaas", "label": "shipping_1"}
    connection = json.loads(_untar(outer["code.tar.gz"])["connection.json"])
    assert connection == {
        "address": f"127.0.0.1:{layout.chaincode_port('shipping')}",
        "dial_timeout": "10s",
        "tls_required": False,
    }


def test_every_channel_admits_the_three_members_and_the_operator_and_needs_the_auditors_endorsement(
    tmp_path: Path,
) -> None:
    document = configtx(Layout(tmp_path))

    assert sorted(document["Profiles"]) == sorted(CHANNELS)
    for profile in document["Profiles"].values():
        application = profile["Application"]
        assert [org["Name"] for org in application["Organizations"]] == [
            "AuditorsMSP",
            "AcmeMSP",
            "GlobexMSP",
            "OperatorMSP",  # its relay carries delegations; the contracts refuse it alone
        ]
        for policy in ("Endorsement", "LifecycleEndorsement"):
            assert application["Policies"][policy] == {
                "Type": "Signature",
                "Rule": "OR('AuditorsMSP.peer')",
            }
        assert profile["Orderer"]["OrdererType"] == "etcdraft"
        assert [org["Name"] for org in profile["Orderer"]["Organizations"]] == ["OperatorMSP"]
    assert "OutsiderMSP" not in to_yaml(document)


def test_yaml_is_written_block_style_with_quoted_strings() -> None:
    text = to_yaml({"A": {"B": [{"Host": "127.0.0.1", "Port": 7050}], "C": True, "D": []}})

    assert text == 'A:\n  B:\n    - Host: "127.0.0.1"\n      Port: 7050\n  C: true\n  D: []\n'


def test_ports_of_a_layout_are_distinct(tmp_path: Path) -> None:
    layout = Layout(tmp_path, 20000)
    peer = layout.gateway_peer
    ports = [
        layout.orderer_port,
        layout.orderer_admin_port,
        layout.orderer_operations_port,
        peer.port,
        peer.chaincode_port,
        peer.operations_port,
        *(layout.chaincode_port(channel) for channel in CHANNELS),
    ]

    assert len(set(ports)) == len(ports)


def test_process_table_stops_what_it_started_and_never_a_recycled_pid(tmp_path: Path) -> None:
    table = ProcessTable(tmp_path / "run", tmp_path / "logs")
    argv = [sys.executable, "-c", "import time; time.sleep(60)"]

    record = table.start("sleeper", argv, dict(os.environ), 1)

    assert table.running("sleeper") == record
    # A PID file whose pid now belongs to another program is not ours to signal.
    stranger = ProcessRecord(
        "stranger", os.getpid(), ("not", "this", "program"), 2, tmp_path / "x.log"
    )
    (tmp_path / "run" / "stranger.json").write_text(stranger.to_json())
    assert not is_running(stranger)
    assert table.stop("stranger") is False
    assert table.stop("sleeper") is True
    assert not is_running(record)
    assert table.records() == []


def test_network_commands_on_a_directory_without_a_network(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from datachannels.gateway.cli import main

    assert main(["network", "status", "--data-dir", str(tmp_path)]) == 1
    assert "no Fabric network" in capsys.readouterr().out
    assert main(["network", "down", "--data-dir", str(tmp_path)]) == 0
    assert "nothing was running" in capsys.readouterr().out


# ------------------------------------------------------- a real network


@pytest.fixture(scope="module")
def fabric_network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FabricNetwork]:
    data_dir = tmp_path_factory.mktemp("fabric") / "data"
    started = time.monotonic()
    network = network_up(data_dir, base_port=free_fabric_base_port())
    print(f"\nnetwork up from nothing: {time.monotonic() - started:.1f} s", file=sys.stderr)
    try:
        yield network
    finally:
        network_down(data_dir)
        # etcd preallocates 2 x 64 MB of Raft WAL per channel: do not leave 0.6 GB in /tmp.
        shutil.rmtree(data_dir / "fabric" / "ledgers", ignore_errors=True)


def _invoke(
    network: FabricNetwork, user: str, msp_id: str, function: str, *args: str
) -> tuple[int, str]:
    result = network.tools().chaincode(
        "invoke", "utility", function, args, user=user, msp_id=msp_id
    )
    return result.returncode, result.output


def _query(
    network: FabricNetwork, user: str, msp_id: str, function: str, *args: str
) -> tuple[int, str]:
    result = network.tools().chaincode("query", "utility", function, args, user=user, msp_id=msp_id)
    return result.returncode, result.output


@pytest.mark.fabric
def test_every_process_runs_on_its_port(fabric_network: FabricNetwork) -> None:
    status = network_status(fabric_network.data_dir)

    assert status.all_running, status.describe()
    names = [p.name for p in status.processes]
    assert names == ["orderer0", "peer0.auditors", *(f"chaincode-{c}" for c in CHANNELS)]
    base = fabric_network.layout.base_port
    assert [p.port for p in status.processes] == [base, base + 10, *range(base + 20, base + 25)]
    profile = json.loads(fabric_network.connection_profile.read_text())
    assert profile["channels"] == list(CHANNELS)
    assert profile["chaincodes"] == {c: c for c in CHANNELS}
    assert profile["peers"][0]["mspId"] == "AuditorsMSP"
    assert profile["peers"][0]["endpoint"] == f"127.0.0.1:{base + 10}"
    assert Path(profile["peers"][0]["tlsRootCert"]).exists()


@pytest.mark.fabric
def test_the_auditor_puts_a_record_and_members_read_it_back(fabric_network: FabricNetwork) -> None:
    code, output = _invoke(
        fabric_network, "auditor", "AuditorsMSP", "put_records", json.dumps([CAMX])
    )
    assert code == 0, output

    request = json.dumps({"keys": ["grid_rate/egrid_subregion/CAMX/2023"]})
    for user, msp_id in (("auditor", "AuditorsMSP"), ("acme", "AcmeMSP")):
        code, output = _query(fabric_network, user, msp_id, "read", request)
        assert code == 0, output
        (result,) = json.loads(output)["results"]
        assert result["record"]["payload"]["co2_lb_per_mwh"] == 436.655
        assert result["record"]["auditor"]["mspId"] == "AuditorsMSP"


@pytest.mark.fabric
def test_a_customers_put_is_refused_by_the_contract(fabric_network: FabricNetwork) -> None:
    code, output = _invoke(fabric_network, "acme", "AcmeMSP", "put_records", json.dumps([CAMX]))

    assert code != 0
    assert "ACCESS_DENIED: only AuditorsMSP may write to channel utility" in output


@pytest.mark.fabric
def test_an_outsider_is_refused_by_the_channel(fabric_network: FabricNetwork) -> None:
    code, output = _query(
        fabric_network, "outsider", "OutsiderMSP", "read", json.dumps({"keys": []})
    )

    assert code != 0
    assert "access denied" in output


@pytest.mark.fabric
def test_the_chaincode_command_reaches_fabric_with_the_same_identities(
    fabric_network: FabricNetwork,
) -> None:
    request = json.dumps({"keys": ["grid_rate/egrid_subregion/CAMX/2023"]})

    def chaincode(user: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "datachannels.gateway.cli", "chaincode", "query",
             "--connector", "fabric", "--data-dir", str(fabric_network.data_dir),
             "--channel", "utility", "--as", user, "read", request],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    acme = chaincode("acme")
    assert acme.returncode == 0, acme.stderr
    (result,) = json.loads(acme.stdout)["results"]
    assert result["key"] == "grid_rate/egrid_subregion/CAMX/2023"
    assert "on the fabric connector" in acme.stderr
    outsider = chaincode("outsider")
    assert outsider.returncode == 1
    assert "ACCESS_DENIED" in outsider.stderr and "Traceback" not in outsider.stderr


@pytest.mark.fabric
def test_up_again_is_quick_and_down_leaves_no_process(fabric_network: FabricNetwork) -> None:
    data_dir = fabric_network.data_dir
    started = time.monotonic()
    network_up(data_dir, base_port=fabric_network.layout.base_port)
    assert time.monotonic() - started < 2.0  # everything already runs

    pids = [p.pid for p in network_status(data_dir).processes]
    stopped = network_down(data_dir)

    assert sorted(stopped) == sorted(p.name for p in network_status(data_dir).processes)
    assert not network_status(data_dir).any_running
    for pid in pids:
        assert pid is not None and not Path(f"/proc/{pid}").exists()
    assert network_down(data_dir) == []

    # Up again on the same ledgers: only the processes start; the record is still there.
    said: list[str] = []
    started = time.monotonic()
    network_up(data_dir, base_port=fabric_network.layout.base_port, progress=said.append)
    restart = time.monotonic() - started
    print(f"\nnetwork up on existing ledgers: {restart:.1f} s", file=sys.stderr)
    assert restart < 30 or any(
        "restarting the orderer" in line for line in said
    )  # see the next test
    code, output = _query(
        fabric_network,
        "acme",
        "AcmeMSP",
        "read",
        json.dumps({"keys": ["grid_rate/egrid_subregion/CAMX/2023"]}),
    )
    assert code == 0 and "436.655" in output, output


@pytest.mark.fabric
def test_an_orderer_whose_raft_elects_no_leader_is_restarted(
    fabric_network: FabricNetwork, monkeypatch
) -> None:
    # Fabric issue #4199 (this build predates its fix): at random, a restarted orderer's channel
    # deadlocks replaying its WAL and never elects a leader.  Here the first wait reports it.
    from datachannels.network import local

    real_wait = local._wait_for_raft_leaders
    waits: list[float] = []

    def first_wait_stuck(layout: Layout, timeout: float) -> list[str]:
        waits.append(timeout)
        return ["utility"] if len(waits) == 1 else real_wait(layout, timeout)

    monkeypatch.setattr(local, "_wait_for_raft_leaders", first_wait_stuck)
    table = ProcessTable(fabric_network.layout.run_dir, fabric_network.layout.log_dir)
    table.stop("orderer0")
    said: list[str] = []
    network_up(
        fabric_network.data_dir, base_port=fabric_network.layout.base_port, progress=said.append
    )

    starts = [line for line in said if "orderer0 started" in line]
    assert len(starts) == 2, said  # started, found leaderless, started again
    assert any("no Raft leader for utility" in line and "#4199" in line for line in said), said
    assert len(waits) == 2 and table.running("orderer0") is not None
    code, output = _invoke(
        fabric_network,
        "auditor",
        "AuditorsMSP",
        "put_records",
        json.dumps([{**CAMX, "payload": {**CAMX["payload"], "region": "RFCE"}}]),
    )
    assert code == 0, output  # the restarted orderer orders transactions again


def test_a_leaderless_wait_names_the_channels_it_gave_up_on(tmp_path: Path) -> None:
    from datachannels.network.local import _wait_for_raft_leaders

    layout = Layout(tmp_path, base_port=free_fabric_base_port())  # nothing serves its metrics
    assert _wait_for_raft_leaders(layout, timeout=0.3) == sorted(CHANNELS)


@pytest.mark.fabric
def test_customer_peers_keep_a_copy_of_the_ledger_and_run_the_contract(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    network = network_up(data_dir, base_port=free_fabric_base_port(), customer_peers=True)
    try:
        assert [p.name for p in network.peers] == ["peer0.auditors", "peer0.acme", "peer0.globex"]
        assert network_status(data_dir).all_running
        code, output = _invoke(network, "auditor", "AuditorsMSP", "put_records", json.dumps([CAMX]))
        assert code == 0, output

        tools = network.tools()
        request = json.dumps(
            {"Args": ["read", json.dumps({"keys": ["grid_rate/egrid_subregion/CAMX/2023"]})]}
        )
        for peer in network.peers[1:]:  # each customer's own peer answers from its own ledger copy
            deadline = time.monotonic() + 10
            while True:
                result = tools.run(
                    "peer",
                    ["chaincode", "query", "-C", "utility", "-n", "utility", "-c", request],
                    tools.peer_env(peer, "AcmeMSP", "acme"),
                )
                if "436.655" in result.output or time.monotonic() > deadline:
                    break
                time.sleep(0.2)  # the block may still be on its way to this peer
            assert result.returncode == 0 and "436.655" in result.output, (peer.name, result.output)
        profile = json.loads(network.connection_profile.read_text())
        assert [p["name"] for p in profile["peers"]] == [
            "peer0.auditors",
            "peer0.acme",
            "peer0.globex",
        ]
    finally:
        network_down(data_dir)
        shutil.rmtree(data_dir / "fabric" / "ledgers", ignore_errors=True)

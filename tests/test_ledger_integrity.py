"""The chain is tamper-evident, commits are atomic and durable, writers are serialised."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from datachannels.channel_connectors.embedded import EmbeddedNetwork
from datachannels.channel_connectors.errors import ChannelError
from datachannels.channel_connectors.proposals import build_proposal, sign_envelope, sign_proposal
from fabric_protos.common import common_pb2

from tests.conftest import CAMX, invoice


def _problems(network: EmbeddedNetwork) -> list[str]:
    return [p for report in network.verify() for p in report.problems]


def test_a_fresh_ledger_with_records_verifies(network, put):
    put("utility", [CAMX])
    put("utility", [invoice("AcmeMSP", "A-1")])
    assert _problems(network) == []


def test_changing_one_byte_of_a_stored_block_fails_verification_and_names_the_block(network, put):
    first = network.ledger("utility").height()  # after block 0 and the membership record
    for i in range(3):
        put("utility", [invoice("AcmeMSP", f"A-{i}", kwh=1000 + i)])
    path = network.ledger_path("utility")
    second = first + 1
    with sqlite3.connect(path) as db:
        raw = bytearray(
            db.execute("SELECT block FROM blocks WHERE number = ?", (second,)).fetchone()[0]
        )
        at = raw.find(b"1001")
        assert at > 0
        raw[at] = ord("9")  # 1001 kWh becomes 9001 kWh inside the transaction
        db.execute("UPDATE blocks SET block = ? WHERE number = ?", (bytes(raw), second))
    problems = _problems(network)
    assert problems == [
        f"channel utility: block {second}: data hash does not match its transactions"
    ]


def test_changing_the_world_state_fails_verification(network, put):
    written = network.ledger("utility").height()
    put("utility", [invoice("AcmeMSP", "A-1", kwh=1000)])
    with sqlite3.connect(network.ledger_path("utility")) as db:
        db.execute("UPDATE state SET value = replace(value, '1000', '9000')")
    problems = _problems(network)
    assert len(problems) == 1
    assert problems[0].startswith("channel utility: world state key 'invoice/AcmeMSP/A-1' differs")
    assert f"(block {written})" in problems[0]


def test_rewriting_a_block_and_its_hash_still_fails_on_the_node_signature(network, put):
    from datachannels.channel_connectors import blocks

    number = network.ledger("utility").height()
    put("utility", [CAMX])
    with sqlite3.connect(network.ledger_path("utility")) as db:
        block = common_pb2.Block.FromString(
            db.execute("SELECT block FROM blocks WHERE number = ?", (number,)).fetchone()[0]
        )
        block.data.data[0] = block.data.data[0].replace(b"436.655", b"136.655")
        block.header.data_hash = blocks.data_hash(list(block.data.data))
        db.execute(
            "UPDATE blocks SET block = ?, hash = ? WHERE number = ?",
            (block.SerializeToString(), blocks.header_hash(block.header), number),
        )
    assert _problems(network) == [
        f"channel utility: block {number}: orderer signature does not verify"
    ]


def test_a_stale_read_makes_the_later_transaction_invalid_and_it_changes_nothing(network):
    ledger = network.ledger("utility")
    auditor = network.identities.signing_identity("auditor")
    endorsed = []
    for kwh in (1000, 2000):  # both endorsed before either commits: both saw the key absent
        proposal, _ = build_proposal(
            auditor.identity,
            "utility",
            "utility",
            "put_records",
            [json.dumps([invoice("AcmeMSP", "A-1", kwh=kwh)])],
        )
        endorsed.append(ledger.endorse(sign_proposal(proposal, auditor.signer).SerializeToString()))
    first = ledger.submit(
        sign_envelope(
            common_pb2.Payload.FromString(endorsed[0].payload), auditor.signer
        ).SerializeToString()
    )
    second = ledger.submit(
        sign_envelope(
            common_pb2.Payload.FromString(endorsed[1].payload), auditor.signer
        ).SerializeToString()
    )
    assert first.valid and not second.valid
    assert (
        second.block_number == first.block_number + 1
    )  # recorded, as Fabric records invalid transactions
    record = json.loads(
        network.evaluate(
            "utility", auditor, "read", [json.dumps({"keys": ["invoice/AcmeMSP/A-1"]})]
        )
    )
    assert record["results"][0]["record"]["payload"]["kwh"] == 1000
    assert _problems(network) == []


def test_readers_run_while_a_writer_commits(network, put):
    put("utility", [CAMX])
    acme = network.identities.signing_identity("acme")
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            try:
                answer = json.loads(
                    network.evaluate(
                        "utility",
                        acme,
                        "read",
                        [json.dumps({"keys": ["grid_rate/egrid_subregion/CAMX/2023"]})],
                    )
                )
                assert "record" in answer["results"][0]
            except BaseException as exc:  # noqa: BLE001 - surfaced below
                errors.append(exc)
                return

    threads = [threading.Thread(target=reader) for _ in range(3)]
    before = network.ledger("utility").height()
    for t in threads:
        t.start()
    for i in range(15):
        put("utility", [invoice("AcmeMSP", f"A-{i}")])
    stop.set()
    for t in threads:
        t.join()
    assert errors == []
    assert network.ledger("utility").height() == before + 15
    assert _problems(network) == []


def test_concurrent_writers_are_serialised_and_every_commit_lands(network):
    auditor = network.identities.signing_identity("auditor")
    results: list[int] = []
    lock = threading.Lock()

    def writer(n: int) -> None:
        for i in range(5):
            submitted = network.submit(
                "utility", auditor, "put_records", [json.dumps([invoice("AcmeMSP", f"W{n}-{i}")])]
            )
            with lock:
                results.append(submitted.block_number)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    first = network.ledger("utility").height()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == list(range(first, first + 20))
    assert _problems(network) == []


_SUBMITTER = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from datachannels.channel_connectors.embedded import EmbeddedNetwork
    network = EmbeddedNetwork(Path(sys.argv[1]))
    auditor = network.identities.signing_identity("auditor")
    i = 0
    while True:
        payload = {"customer": "AcmeMSP", "invoice_id": f"K-{i}", "utility_id": 1,
                   "grid_region": "CAMX", "period_start": "2025-01-01", "period_end": "2025-01-31",
                   "kwh": 1.0, "kg_co2e": 0.2}
        source = {"dataset": "t", "edition": "1", "file": None, "sha256": "0" * 64, "row": str(i)}
        record = {"kind": "invoice", "payload": payload, "source": source}
        done = network.submit("utility", auditor, "put_records", [json.dumps([record])])
        print(done.tx_id, flush=True)
        i += 1
    """
)


def test_sigkill_during_a_stream_of_submits_loses_no_acknowledged_transaction(network):
    process = subprocess.Popen(
        [sys.executable, "-c", _SUBMITTER, str(network.data_dir)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    acknowledged: list[str] = []
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    while len(acknowledged) < 40 and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        acknowledged.append(line.strip())
    process.send_signal(signal.SIGKILL)  # mid-stream: it is submitting the next one
    process.wait()
    assert len(acknowledged) >= 40, "the submitter did not get going"
    reopened = EmbeddedNetwork(network.data_dir)
    assert _problems(reopened) == []
    ledger = reopened.ledger("utility")
    assert set(ledger.transaction_blocks(acknowledged)) == set(acknowledged)


def test_a_missing_ledger_is_reported_as_unavailable(tmp_path: Path):
    with pytest.raises(ChannelError) as missing:
        EmbeddedNetwork(tmp_path).ledger("utility")
    assert missing.value.code == "CHANNEL_UNAVAILABLE"

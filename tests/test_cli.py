"""The command line a newcomer uses: init, wallet, chaincode query|invoke, ledger verify."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import footprint_line


def run(*args: str, data_dir: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "datachannels.gateway.cli", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,  # checked below, with the command's stderr in the message
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{args} exited {result.returncode}: {result.stderr}")
    return result


def _heights(data_dir: Path) -> dict[str, int]:
    heights = {}
    for path in sorted((data_dir / "ledger").glob("*.sqlite")):
        with sqlite3.connect(path) as db:
            heights[path.stem] = db.execute("SELECT COUNT(*) FROM blocks").fetchone()[0]
    return heights


def test_init_a_second_time_changes_nothing(loaded_data_dir: Path):
    before = _heights(loaded_data_dir)
    keys_before = {p: p.read_bytes() for p in loaded_data_dir.rglob("*.pem")}
    result = run("init", data_dir=loaded_data_dir)
    assert "already initialised: nothing to write" in result.stdout
    assert _heights(loaded_data_dir) == before
    assert {p: p.read_bytes() for p in loaded_data_dir.rglob("*.pem")} == keys_before


def test_init_from_nothing_is_fast_and_shows_progress(tmp_path: Path):
    started = time.perf_counter()
    result = run("init", data_dir=tmp_path / "fresh")
    elapsed = time.perf_counter() - started
    assert "wrote" in result.stdout and "records" in result.stdout
    assert "utility:" in result.stderr  # progress lines
    # The target is 5 s on the developer machine; this bound only catches a gross regression.
    assert elapsed < 30


def test_private_keys_are_owner_only(loaded_data_dir: Path):
    keys = list(loaded_data_dir.rglob("key.pem"))
    assert len(keys) >= 10  # five CAs, four demo users and the node
    for key in keys:
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
    assert stat.S_IMODE(loaded_data_dir.stat().st_mode) == 0o700


def test_query_as_a_customer_prints_a_real_egrid_record_with_its_transaction(loaded_data_dir: Path):
    request = json.dumps({"keys": ["grid_rate/egrid_subregion/CAMX/2023"]})
    result = run(
        "chaincode",
        "query",
        "--channel",
        "utility",
        "--as",
        "acme",
        "read",
        request,
        data_dir=loaded_data_dir,
    )
    record = json.loads(result.stdout)["results"][0]["record"]
    # EPA GHG Emission Factors Hub 2025, Table 6, row 342 (CAMX, WECC California), lb/MWh
    assert record["payload"]["co2_lb_per_mwh"] == 436.655
    assert record["payload"]["ch4_lb_per_mwh"] == 0.025
    assert record["payload"]["n2o_lb_per_mwh"] == 0.003
    assert record["payload"]["grid_gross_loss"] == 0.041
    assert record["source"]["row"] == "Table 6 row 342"
    assert (
        record["source"]["sha256"]
        == "db9085f182e50c7fd9106a902986434fb41ef0426afc953acb40f61a495e8a76"
    )
    assert len(record["txId"]) == 64
    assert "evaluated, not committed" in result.stderr


def test_the_same_query_as_the_outsider_is_refused_by_the_channel(loaded_data_dir: Path):
    request = json.dumps({"keys": ["grid_rate/egrid_subregion/CAMX/2023"]})
    result = run(
        "chaincode",
        "query",
        "--channel",
        "utility",
        "--as",
        "outsider",
        "read",
        request,
        data_dir=loaded_data_dir,
        check=False,
    )
    assert result.returncode == 1
    assert "ACCESS_DENIED on channel utility" in result.stderr
    assert "OutsiderMSP' is not a member" in result.stderr
    assert result.stdout == ""


def test_invoke_commits_and_prints_the_transaction_id(loaded_data_dir: Path, tmp_path: Path):
    document = {
        "footprint": {"totalKgCO2e": 1.5, "lines": [footprint_line(1.5)]},
        "methodologyVersion": "cli-test",
        "inputsHash": "3" * 64,
    }
    result = run(
        "chaincode",
        "invoke",
        "--channel",
        "footprint",
        "--as",
        "globex",
        "publish",
        json.dumps(document),
        data_dir=loaded_data_dir,
    )
    answer = json.loads(result.stdout)
    assert answer["owner"]["mspId"] == "GlobexMSP"
    assert f"txId {answer['txId']} committed in block" in result.stderr


def test_wallet_lists_identities_and_prints_a_base64url_wallet(loaded_data_dir: Path):
    listing = run("wallet", "--list", data_dir=loaded_data_dir).stdout
    assert [line.split()[0] for line in listing.splitlines()] == [
        "auditor",
        "acme",
        "globex",
        "outsider",
    ]
    value = run("wallet", "--identity", "acme", data_dir=loaded_data_dir).stdout.strip()
    body = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    assert sorted(body) == ["airline", "commodity", "footprint", "shipping", "utility"]
    assert body["utility"]["mspId"] == "AcmeMSP"
    assert body["utility"]["certificate"].startswith("-----BEGIN CERTIFICATE-----")
    assert "PRIVATE KEY" in body["utility"]["privateKey"]


def test_an_unknown_identity_gets_a_clear_error(loaded_data_dir: Path):
    result = run("wallet", "--identity", "mallory", data_dir=loaded_data_dir, check=False)
    assert result.returncode != 0
    assert "no identity 'mallory'" in result.stderr and "acme" in result.stderr


def test_commands_on_an_uninitialised_data_dir_say_to_run_init(tmp_path: Path):
    result = run("ledger", "verify", data_dir=tmp_path / "empty", check=False)
    assert result.returncode != 0
    assert "datachannels init" in result.stderr


def test_ledger_verify_passes_and_fails_after_tampering_naming_the_block(
    tmp_path: Path, loaded_data_dir: Path
):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(loaded_data_dir, copy)
    assert run("ledger", "verify", data_dir=copy).stdout.startswith("ledger ok:")
    with sqlite3.connect(copy / "ledger" / "shipping.sqlite") as db:
        number, block = next(
            (n, b)
            for n, b in db.execute("SELECT number, block FROM blocks ORDER BY number")
            if b"Container ship" in b
        )
        raw = bytearray(block)
        at = raw.find(b"Container ship")
        raw[at] = ord("K")
        db.execute("UPDATE blocks SET block = ? WHERE number = ?", (bytes(raw), number))
    result = run("ledger", "verify", data_dir=copy, check=False)
    assert result.returncode == 1
    assert (
        f"channel shipping: block {number}: data hash does not match its transactions"
        in result.stderr
    )


@pytest.mark.parametrize(
    ("channel", "key", "field", "expected", "cited"),
    [
        # DESNZ 2023 flat file, Factors by Category, ID 27_320_3235_14_1 (container ship, average)
        (
            "shipping",
            "freight_factor/sea/27_320_3235_14_1",
            "ttw_kg_co2e",
            0.01611856979865772,
            "27_320_3235_14_1",
        ),
        # DESNZ 2023, ID 21_316_3170_11_1 (long-haul, economy, with RF)
        (
            "airline",
            "flight_factor/long_haul/economy/rf",
            "kg_co2e",
            0.20010828053691276,
            "21_316_3170_11_1",
        ),
        # EPA supply chain factors v1.3.0, NAICS 331110, with margins
        ("commodity", "spend_factor/331/331110", "kg_co2e_per_usd", 0.787, "331110"),
        # EEA CO2 intensity of electricity, Poland 2019, g CO2/kWh
        ("utility", "grid_rate/eu_country/PL/2019", "co2_g_per_kwh", 719.0, "Poland 2019"),
        # EIA-861 2020, utility 14328
        ("utility", "utility/14328/CA", "name", "Pacific Gas & Electric Co.", "14328"),
    ],
)
def test_records_on_the_ledger_equal_the_source_cells(
    loaded_data_dir, channel, key, field, expected, cited
):
    result = run(
        "chaincode",
        "query",
        "--channel",
        channel,
        "--as",
        "globex",
        "read",
        json.dumps({"keys": [key]}),
        data_dir=loaded_data_dir,
    )
    record = json.loads(result.stdout)["results"][0]["record"]
    assert record["payload"][field] == expected
    assert record["source"]["row"] == cited
    assert record["auditor"]["mspId"] == "AuditorsMSP"


def test_serve_says_plainly_when_its_port_is_taken(loaded_data_dir: Path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "datachannels.gateway.cli",
                "serve",
                "--port",
                str(port),
                "--data-dir",
                str(loaded_data_dir),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr and "--port" in result.stderr


def test_a_bad_log_level_is_a_clear_error(loaded_data_dir: Path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "datachannels.gateway.cli",
            "serve",
            "--data-dir",
            str(loaded_data_dir),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "DATACHANNELS_LOG_LEVEL": "bogus"},
        check=False,
    )
    assert result.returncode == 2
    assert "log level must be one of" in result.stderr and "Traceback" not in result.stderr


def test_wallet_names_are_not_case_sensitive(loaded_data_dir: Path):
    assert (
        run("wallet", "--identity", "ACME", data_dir=loaded_data_dir).stdout.strip()
        == run("wallet", "--identity", "acme", data_dir=loaded_data_dir).stdout.strip()
    )


def test_a_data_dir_made_before_delegations_gets_a_clear_error_not_a_traceback(tmp_path: Path):
    from datachannels.chaincode import CHANNELS
    from datachannels.channel_connectors.embedded import channel_config
    from datachannels.channel_connectors.identities import OPERATOR_MSP, IdentityStore
    from datachannels.channel_connectors.ledger import ChannelConfig, ChannelLedger

    # Channels as earlier versions made them: the operator's organisation is no member, and the
    # embedded ledger has no configuration update that could add it.
    old = tmp_path / "old"
    store = IdentityStore(old)
    store.ensure()
    for channel in CHANNELS:
        config = channel_config(store, channel)
        before = ChannelConfig(
            channel=channel,
            members=tuple(m for m in config.members if m.msp_id != OPERATOR_MSP),
            writers=tuple(w for w in config.writers if w != OPERATOR_MSP),
            node=config.node,
        )
        ChannelLedger.create(old / "ledger" / f"{channel}.sqlite", before, store.node())
    for command in (["init"], ["serve", "--port", "0"]):
        result = run(*command, data_dir=old, check=False)
        assert result.returncode == 1, (command, result.stderr)
        assert "Traceback" not in result.stderr
        assert "predates delegations" in result.stderr
        assert "datachannels init --data-dir DIR" in result.stderr

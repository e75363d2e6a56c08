"""`chaincode query|invoke` reaches either connector and says which one it used.

The Fabric side (a real network) is in tests/test_fabric_network.py; these are the embedded
side and the messages that point a user at the right connector.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_cli import run

CAMX = json.dumps({"keys": ["grid_rate/egrid_subregion/CAMX/2023"]})


def test_query_says_it_used_the_embedded_connector(loaded_data_dir: Path) -> None:
    result = run(
        "chaincode", "query", "--channel", "utility", "--as", "acme", "read", CAMX,
        data_dir=loaded_data_dir,
    )  # fmt: skip
    assert json.loads(result.stdout)["results"][0]["record"]["payload"]["region"] == "CAMX"
    assert "on the embedded connector" in result.stderr


def test_fabric_without_a_network_says_to_run_network_up(loaded_data_dir: Path) -> None:
    result = run(
        "chaincode", "query", "--connector", "fabric", "--channel", "utility", "--as", "acme",
        "read", CAMX, data_dir=loaded_data_dir, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "datachannels network up" in result.stderr


def test_embedded_on_a_fabric_data_dir_points_at_the_fabric_connector(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    (data_dir / "fabric").mkdir(parents=True)
    (data_dir / "fabric" / "connection.json").write_text("{}")
    result = run(
        "chaincode", "query", "--channel", "utility", "--as", "acme", "read", CAMX,
        data_dir=data_dir, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "--connector fabric" in result.stderr


def test_an_unknown_channel_is_a_clear_error(loaded_data_dir: Path) -> None:
    result = run(
        "chaincode", "query", "--channel", "electricity", "--as", "acme", "read", CAMX,
        data_dir=loaded_data_dir, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "unknown channel 'electricity'" in result.stderr
    assert "Traceback" not in result.stderr

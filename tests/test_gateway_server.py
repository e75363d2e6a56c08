"""The real server, started as the README says, on a loopback port."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import post_graphql

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bin_dir() -> str:
    return str(Path(sys.executable).parent)


class Server:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[str] | None = None
        self.env = {
            **os.environ,
            "DATACHANNELS_DATA_DIR": str(data_dir),
            "PATH": f"{_bin_dir()}:{os.environ['PATH']}",
        }

    def start(self) -> float:
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "datachannels.gateway.cli", "serve", "--port", str(self.port)],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"server exited: {self.process.stdout.read() if self.process.stdout else ''}"
                )
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError("server did not answer /healthz within 60 s")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def wallet(self, name: str) -> str:
        return subprocess.run(
            ["datachannels", "wallet", "--identity", name],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    def graphql(self, query: str, wallet: str, variables: dict | None = None) -> dict:
        return post_graphql(self.url, query, wallet, variables)


@pytest.fixture
def server(tmp_path: Path):
    running = Server(tmp_path / "data")
    yield running
    running.stop()


def _readme_example() -> str:
    readme = (ROOT / "README.md").read_text()
    block = re.search(
        r"<!-- example:start -->\s*```sh\n(.*?)```\s*<!-- example:end -->", readme, re.DOTALL
    )
    assert block, "the README has lost its example block"
    return block.group(1)


def test_the_readme_example_answers_on_a_fresh_data_dir(server: Server):
    server.start()  # the first start initialises the data dir
    script = _readme_example().replace("127.0.0.1:8000", f"127.0.0.1:{server.port}")
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        env=server.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,  # asserted below, with the script's stderr
    )
    assert result.returncode == 0, result.stderr
    footprint = json.loads(result.stdout)["data"]["footprint"]
    assert [line["channel"] for line in footprint["lines"]] == [
        "utility",
        "shipping",
        "airline",
        "commodity",
    ]
    assert footprint["totalKgCO2e"] == pytest.approx(
        sum(line["kgCO2e"] for line in footprint["lines"]), rel=1e-12
    )
    # Worked by hand in docs/methodology.md:
    # 198.741 kg (CAMX), 1108.53 kg (LHR→JFK), 787 kg (NAICS 331110).
    by_channel = {line["channel"]: line for line in footprint["lines"]}
    assert by_channel["utility"]["kgCO2e"] == pytest.approx(198.741, rel=1e-3)
    assert by_channel["airline"]["kgCO2e"] == pytest.approx(1108.53, rel=1e-3)
    assert by_channel["commodity"]["kgCO2e"] == pytest.approx(787.0, rel=1e-9)
    for line in footprint["lines"]:
        assert len(line["factor"]["txId"]) == 64
        assert line["factor"]["provenance"]["blockNumber"] >= 1
        assert line["factor"]["recordKey"]


def test_a_published_footprint_survives_a_sigkill_of_the_server(
    server: Server, loaded_data_dir: Path
):
    shutil.copytree(loaded_data_dir, server.data_dir)
    server.start()
    acme, globex = server.wallet("acme"), server.wallet("globex")
    example = json.loads((ROOT / "docs/examples/footprint.json").read_text())
    publish = (
        "mutation($input: FootprintInput!) { publishFootprint(input: $input) "
        "{ id txId blockNumber owner footprint { totalKgCO2e lines { kgCO2e } } } }"
    )
    published = server.graphql(publish, acme, example["variables"])["data"]["publishFootprint"]
    assert published["owner"] == "AcmeMSP"
    read_back = (
        "query($id: ID!) { publishedFootprint(id: $id) "
        "{ id txId blockNumber owner footprint { totalKgCO2e lines { kgCO2e } } } }"
    )
    assert (
        server.graphql(read_back, globex, {"id": published["id"]})["data"]["publishedFootprint"]
        == published
    )

    server.kill()
    server.start()
    again = server.graphql(read_back, globex, {"id": published["id"]})["data"]["publishedFootprint"]
    assert again == published
    assert (
        server.graphql(read_back, server.wallet("outsider"), {"id": published["id"]})["errors"][0][
            "extensions"
        ]["code"]
        == "ACCESS_DENIED"
    )

"""The heavy lane (gateway/lane.py): large requests answered by a second, lower-priority process.

Real `datachannels serve` processes on loopback; which process answered is read from the JSON
log lines (each names its pid and the request id).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
from datachannels.gateway.app import create_app
from datachannels.gateway.settings import Settings
from datachannels.network.processes import command_line, exited
from starlette.testclient import TestClient

from tests.conftest import free_port, served, wallet_for

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = json.loads((ROOT / "docs" / "examples" / "footprint.json").read_text())


def _heavy() -> dict:
    """A footprint of 250 electricity activities: over the lane's 200 items."""
    activities = [{"kwh": 100 + n, "gridRegion": "CAMX"} for n in range(250)]
    return {"query": EXAMPLE["query"], "variables": {"input": {"electricity": activities}}}


def _request_lines(log: Path, request_id: str) -> list[dict]:
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    return [
        line
        for line in lines
        if line.get("requestId") == request_id and line["message"] == "request"
    ]


def _lines_when_logged(log: Path, request_id: str, count: int = 1) -> list[dict]:
    """The request's log lines, once `count` are there: a line is written as its response
    finishes, so it may follow the response by a moment."""
    deadline = time.monotonic() + 10
    while len(lines := _request_lines(log, request_id)) < count:
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    return lines


def _lane_socket(log: Path) -> Path:
    """The lane's socket, from the line uvicorn logs when the lane starts listening."""
    for line in log.read_text().splitlines():
        if line.startswith("{") and "unix socket" in json.loads(line)["message"]:
            return Path(json.loads(line)["message"].split("unix socket ")[1].split()[0])
    raise AssertionError(f"the lane never listened:\n{log.read_text()}")


def _post(url: str, body: dict, wallet: str, request_id: str) -> httpx.Response:
    return httpx.post(
        f"{url}/graphql",
        json=body,
        headers={"X-Wallet": wallet, "X-Request-Id": request_id},
        timeout=60,
    )


def _until_forwarded(url: str, log: Path, wallet: str) -> tuple[httpx.Response, list[dict]]:
    """Post the heavy body until the lane (started alongside the gateway) answers it."""
    deadline = time.monotonic() + 60
    for n in range(1000):
        response = _post(url, _heavy(), wallet, f"heavy-{n}")
        assert response.status_code == 200, response.text
        time.sleep(0.3)  # the lane's line may follow the gateway's
        lines = _request_lines(log, f"heavy-{n}")
        if any(line.get("lane") for line in lines):
            return response, _lines_when_logged(log, f"heavy-{n}", 2)  # the lane's line too
        assert time.monotonic() < deadline, log.read_text()
    raise AssertionError("never forwarded")


def test_a_large_request_is_answered_by_the_lane_as_the_gateway_would(
    data_dir: Path, tmp_path: Path
) -> None:
    wallet = wallet_for(data_dir, "acme")
    with TestClient(create_app(Settings(data_dir=data_dir))) as client:
        here = client.post("/graphql", json=_heavy(), headers={"X-Wallet": wallet}).json()
    log = tmp_path / "serve.log"
    with served(data_dir, log) as url:
        response, lines = _until_forwarded(url, log, wallet)
        # The same answer as the gateway computes in-process.
        assert response.json() == here
        gateway, lane = sorted(lines, key=lambda line: not line.get("lane"))
        assert gateway["lane"] is True and gateway["operation"] == "(lane)"
        assert lane["pid"] != gateway["pid"] and lane["operation"] == "Footprint"
        assert lane["status"] == 200
        # The lane runs at a lower CPU priority (nice 10).
        assert psutil.Process(lane["pid"]).nice() == 10
        # A small request stays in the gateway: one line, no lane.
        small = _post(url, EXAMPLE, wallet, "small-1")
        assert small.status_code == 200 and "errors" not in small.json()
        [only] = _lines_when_logged(log, "small-1")
        assert only["pid"] == gateway["pid"] and "lane" not in only
        # A refusal made in the lane comes back as the lane made it.
        refused = _post(url, _heavy(), wallet_for(data_dir, "outsider"), "heavy-outsider")
        [error] = refused.json()["errors"]
        assert error["extensions"]["code"] in ("ACCESS_DENIED", "MISSING_CREDENTIALS"), error

        # The lane killed: large requests are answered by the gateway itself.
        os.kill(lane["pid"], signal.SIGKILL)
        time.sleep(0.5)
        after = _post(url, _heavy(), wallet, "heavy-after")
        assert after.json() == here
        [itself] = _lines_when_logged(log, "heavy-after")
        assert itself["pid"] == gateway["pid"] and "lane" not in itself
        assert "the heavy lane did not answer" in log.read_text()
    # The gateway stopped (SIGTERM): the lane's private directory went with it.
    assert not _lane_socket(log).parent.exists()


def test_the_lane_stops_when_its_gateway_is_killed(data_dir: Path, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    port = free_port()
    with open(log, "w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "datachannels.gateway.cli", "serve", "--port", str(port)]
            + ["--data-dir", str(data_dir)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        lanes: list[int] = []
        while not lanes or "unix socket" not in log.read_text():  # until the lane listens
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
            lanes = [
                child.pid
                for child in psutil.Process(server.pid).children()
                if "gateway.lane" in " ".join(command_line(child.pid) or ())
            ]
    finally:
        server.kill()
        server.wait()
    deadline = time.monotonic() + 20
    while not exited(lanes[0]):  # a zombie until init reaps it counts as exited
        assert time.monotonic() < deadline, "the lane outlived its gateway"
        time.sleep(0.2)
    # It stopped gracefully: its socket and private directory are gone.
    deadline = time.monotonic() + 10
    while _lane_socket(log).parent.exists():
        assert time.monotonic() < deadline, "the lane left its directory behind"
        time.sleep(0.2)


def test_without_the_lane_everything_runs_in_the_gateway(data_dir: Path, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    wallet = wallet_for(data_dir, "acme")
    with served(data_dir, log, DATACHANNELS_LANE="false") as url:
        time.sleep(3)  # a lane, had one started, would be up by now
        response = _post(url, _heavy(), wallet, "heavy-here")
        assert response.status_code == 200 and "errors" not in response.json()
    [line] = _lines_when_logged(log, "heavy-here")
    assert "lane" not in line and "gateway.lane" not in log.read_text()


def _metric(text: str, name: str, **labels: str) -> float:
    """One sample's value from Prometheus text (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        series, _, value = line.rpartition(" ")
        if series.split("{")[0] == name and (
            not labels or ",".join(sorted(series[len(name) + 1 : -1].split(","))) == wanted
        ):
            return float(value)
    return 0.0


def test_metrics_count_what_the_lane_answered(data_dir: Path, tmp_path: Path) -> None:
    """The gateway's /metrics sum its own series and the lane's: every heavy footprint's
    channel read is counted, whichever process made it; the shared directory goes at exit."""
    import tempfile

    before = set(Path(tempfile.gettempdir()).glob("datachannels-metrics-*"))
    wallet = wallet_for(data_dir, "acme")
    log = tmp_path / "serve.log"
    with served(data_dir, log) as url:
        _until_forwarded(url, log, wallet)
        posts = len({line["requestId"] for line in _graphql_lines(log)})
        text = httpx.get(f"{url}/metrics").text
        reads = _metric(
            text,
            "datachannels_connector_calls_total",
            channel="utility",
            operation="evaluate",
        )
        assert reads == posts, (reads, posts)
        # Each request is counted once, by the gateway that took it (the lane counts none).
        requests = _metric(text, "datachannels_requests_total", route="/graphql", status="200")
        assert requests == posts, (requests, posts)
        # This scrape is the one request in flight, over both processes.
        assert _metric(text, "datachannels_requests_in_flight") == 1.0
    assert set(Path(tempfile.gettempdir()).glob("datachannels-metrics-*")) == before


def _graphql_lines(log: Path) -> list[dict]:
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    return [line for line in lines if line["message"] == "request" and line["path"] == "/graphql"]

"""Request ids, request metrics and JSON logs (gateway/observe.py), free of credentials.

In-process against the real app with the real JSON formatter on the `datachannels` loggers, and
once through `datachannels serve`, whose every stderr line must be one JSON object.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from datachannels.channel_connectors.identities import IdentityStore
from datachannels.gateway.app import create_app
from datachannels.gateway.observe import MAX_OPERATION_NAMES, JsonLogs
from datachannels.gateway.settings import Settings
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from tests.conftest import served, wallet_for

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = json.loads((ROOT / "docs" / "examples" / "footprint.json").read_text())


@pytest.fixture
def logged() -> Iterator[io.StringIO]:
    """What the `datachannels` loggers write, as the JSON lines `serve` writes."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonLogs())
    logger = logging.getLogger("datachannels")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield out
    logger.removeHandler(handler)
    logger.setLevel(level)


def _lines(out: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def _secrets(data_dir: Path) -> list[str]:
    """Pieces of acme's private key as they would show if any part of it leaked."""
    _, _, key = IdentityStore(data_dir).pem_pair("acme")
    body = [line for line in key.decode().splitlines() if not line.startswith("-----")]
    return [piece for line in body for piece in (line[:20], line[-20:]) if len(piece) == 20]


def _samples(client: TestClient, name: str) -> list:
    families = text_string_to_metric_families(client.get("/metrics").text)
    return [s for f in families for s in f.samples if s.name == name]


def test_each_request_has_an_id_a_log_line_and_a_latency_by_operation(
    data_dir: Path, logged: io.StringIO
) -> None:
    wallet = wallet_for(data_dir, "acme")  # an identity wallet: its key must show nowhere
    with TestClient(create_app(Settings(data_dir=data_dir))) as client:
        answer = client.post(
            "/graphql", json=EXAMPLE, headers={"X-Wallet": wallet, "X-Request-Id": "trace-42"}
        )
        assert answer.status_code == 200 and "errors" not in answer.json(), answer.text
        assert answer.headers["x-request-id"] == "trace-42"
        # A refused wallet, and a request id that is not a plain token (replaced, not echoed).
        refused = client.post(
            "/graphql",
            json={"query": "{ __typename }"},
            headers={"X-Wallet": "not-a-wallet", "X-Request-Id": "bad id\twith tab"},
        )
        assert refused.status_code == 400
        new_id = refused.headers["x-request-id"]
        assert new_id != "bad id\twith tab" and len(new_id) == 16
        # A query that does not parse.
        client.post("/graphql", json={"query": "{ utility {"}, headers={"X-Wallet": wallet})

        [seconds] = [
            s
            for s in _samples(client, "datachannels_request_seconds_count")
            if s.labels == {"operation": "Footprint", "type": "query"}
        ]
        assert seconds.value == 1
        [in_flight] = _samples(client, "datachannels_requests_in_flight")
        assert in_flight.value == 1  # this /metrics request itself
        statuses = {
            s.labels["status"]: s.value
            for s in _samples(client, "datachannels_requests_total")
            if s.labels["route"] == "/graphql"
        }
        assert statuses == {"200": 2, "400": 1}
        metrics_text = client.get("/metrics").text

    lines = _lines(logged)
    requests = [line for line in lines if line["message"] == "request"]
    first, second, third = requests[:3]
    assert first["requestId"] == "trace-42" and first["operation"] == "Footprint"
    assert first["status"] == 200 and first["operationType"] == "query"
    assert first["durationMs"] > 0 and "errorCodes" not in first
    assert second["requestId"] == new_id and second["status"] == 400
    assert second["errorCodes"] == ["BAD_INPUT"]
    assert third["errorCodes"] == ["BAD_INPUT"] and third["operation"] == "anonymous"
    everything = logged.getvalue() + metrics_text
    for piece in _secrets(data_dir):
        assert piece not in everything
    assert "not-a-wallet" not in everything


def test_an_internal_error_is_logged_with_its_error_id_and_the_request_id(
    data_dir: Path, logged: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datachannels.resolvers import engine

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom inside the engine")

    monkeypatch.setattr(engine, "compute", explode)
    with TestClient(create_app(Settings(data_dir=data_dir))) as client:
        answer = client.post(
            "/graphql",
            json=EXAMPLE,
            headers={"X-Wallet": wallet_for(data_dir, "acme"), "X-Request-Id": "req-internal"},
        ).json()
    error_id = answer["errors"][0]["extensions"]["errorId"]
    lines = _lines(logged)
    [internal] = [line for line in lines if error_id in line["message"]]
    assert internal["requestId"] == "req-internal" and internal["level"] == "error"
    assert "boom inside the engine" in internal["exc_info"]
    [request] = [line for line in lines if line["message"] == "request"]
    assert request["requestId"] == "req-internal" and request["errorCodes"] == ["INTERNAL"]


def test_invented_operation_names_cannot_grow_the_metrics(data_dir: Path) -> None:
    with TestClient(create_app(Settings(data_dir=data_dir))) as client:
        for n in range(MAX_OPERATION_NAMES + 50):
            client.post("/graphql", json={"query": f"query Op{n} {{ __typename }}"})
        labels = {
            s.labels["operation"] for s in _samples(client, "datachannels_request_seconds_count")
        }
    assert len(labels) == MAX_OPERATION_NAMES + 1 and "other" in labels
    assert "Op0" in labels and f"Op{MAX_OPERATION_NAMES + 10}" not in labels


def test_serve_writes_one_json_object_per_log_line(data_dir: Path, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    wallet = wallet_for(data_dir, "acme")
    with served(data_dir, log) as url:
        response = httpx.post(
            f"{url}/graphql",
            json=EXAMPLE,
            headers={"X-Wallet": wallet, "X-Request-Id": "served-1"},
            timeout=30,
        )
        assert response.headers["x-request-id"] == "served-1"
    lines = log.read_text().splitlines()
    assert lines[0].startswith("GraphiQL: ")  # the one line for a person at the terminal
    objects = [json.loads(line) for line in lines[1:]]
    messages = [o["message"] for o in objects]
    assert any(m.startswith("Uvicorn running on") for m in messages)
    [request] = [o for o in objects if o.get("requestId") == "served-1"]
    assert request["message"] == "request" and request["status"] == 200
    # uvicorn's access log is off: our line replaces it rather than doubling it.
    assert not [o for o in objects if o["logger"] == "uvicorn.access"]
    for piece in _secrets(data_dir):
        assert piece not in log.read_text()

"""The Lambda handler answers API Gateway HTTP API events (payload format 2.0) as the server does.

Each test builds the handler from `DATACHANNELS_*` variables over its own copy of a loaded data
dir and invokes it with events written out as API Gateway sends them; nothing of ours is mocked.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mangum")

from datachannels.gateway import serverless
from datachannels.gateway.app import create_app
from datachannels.gateway.settings import Settings
from starlette.testclient import TestClient

from tests.conftest import delegation_wallet_for, wallet_for

EXAMPLE = json.loads(
    (Path(__file__).resolve().parent.parent / "docs/examples/footprint.json").read_text()
)
# API Gateway HTTP API refuses larger requests before Lambda sees them (a quota that cannot be
# raised): "total combined size of request line and header values".
HTTP_API_HEADER_QUOTA = 10240


def http_api_event(
    method: str,
    path: str,
    body: str | None = None,
    headers: dict[str, str] | None = None,
    query: str = "",
    base64_body: bool = False,
) -> dict[str, Any]:
    """An event as API Gateway HTTP API sends it to Lambda, payload format 2.0."""
    all_headers = {
        "host": "abc123.execute-api.eu-west-1.amazonaws.com",
        "user-agent": "pytest",
        "x-forwarded-for": "203.0.113.7",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
        **(headers or {}),
    }
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": query,
        "headers": all_headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": all_headers["host"],
            "domainPrefix": "abc123",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "pytest",
            },
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "time": "12/Mar/2026:19:03:58 +0000",
            "timeEpoch": 1773342238000,
        },
        "isBase64Encoded": base64_body,
    }
    if body is not None:
        event["body"] = base64.b64encode(body.encode()).decode() if base64_body else body
    return event


def footprint_event(wallet: str, base64_body: bool = False) -> dict[str, Any]:
    body = json.dumps(EXAMPLE)
    headers = {
        "content-type": "application/json",
        "content-length": str(len(body.encode())),
        "accept": "application/json",
        "x-wallet": wallet,
    }
    return http_api_event("POST", "/graphql", body, headers, "", base64_body)


def answer(response: dict[str, Any]) -> Any:
    """The JSON body of a handler's response, decoded as API Gateway would."""
    body = response.get("body", "")
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    return json.loads(body)


@pytest.fixture
def environment(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Only this test's settings in the environment: the embedded ledger on its own copy."""
    for name in list(os.environ):
        if name.startswith("DATACHANNELS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DATACHANNELS_DATA_DIR", str(data_dir))
    monkeypatch.setenv("DATACHANNELS_CONNECTOR", "embedded")
    return data_dir


def in_process_footprint(wallet: str) -> dict[str, Any]:
    """The same request through the server's app, driven by Starlette's test client."""
    with TestClient(create_app(Settings.from_env())) as client:
        response = client.post("/graphql", json=EXAMPLE, headers={"X-Wallet": wallet})
    assert response.status_code == 200, response.text
    return response.json()


def test_a_footprint_event_answers_as_the_server_does(environment: Path) -> None:
    wallet = delegation_wallet_for(environment, "acme")
    response = serverless.make_handler()(footprint_event(wallet), None)
    assert response["statusCode"] == 200, response
    assert response["headers"]["content-type"].startswith("application/json")
    assert response["headers"]["cache-control"] == "no-store"
    result = answer(response)
    assert "errors" not in result, result["errors"]
    expected = in_process_footprint(wallet)
    assert result["data"]["footprint"]["totalKgCO2e"] > 0
    assert (
        result["data"]["footprint"]["totalKgCO2e"] == expected["data"]["footprint"]["totalKgCO2e"]
    )
    assert result == expected


def test_a_base64_encoded_body_is_decoded_before_graphql_reads_it(environment: Path) -> None:
    wallet = delegation_wallet_for(environment, "acme")
    response = serverless.make_handler()(footprint_event(wallet, base64_body=True), None)
    assert response["statusCode"] == 200, response
    total = answer(response)["data"]["footprint"]["totalKgCO2e"]
    assert total == in_process_footprint(wallet)["data"]["footprint"]["totalKgCO2e"]


def test_healthz_answers_json_naming_the_connector(environment: Path) -> None:
    response = serverless.make_handler()(http_api_event("GET", "/healthz"), None)
    assert response["statusCode"] == 200, response
    assert response["headers"]["content-type"] == "application/json"
    health = answer(response)
    assert health["status"] == "ok"
    assert health["connector"] == "embedded"
    assert health["production"] is False
    assert health["relay"]["fingerprint"]


def test_a_query_in_the_query_string_is_answered(environment: Path) -> None:
    event = http_api_event("GET", "/graphql", query="query=%7B__typename%7D")
    response = serverless.make_handler()(event, None)
    assert response["statusCode"] == 200, response
    assert answer(response) == {"data": {"__typename": "Query"}}


def test_a_malformed_wallet_is_a_coded_400_that_does_not_echo_the_header(
    environment: Path,
) -> None:
    secret = "%%%not-base64-sekr1t-wallet%%%"
    response = serverless.make_handler()(footprint_event(secret), None)
    assert response["statusCode"] == 400, response
    (error,) = answer(response)["errors"]
    assert error["extensions"]["code"] == "BAD_INPUT"
    assert error["extensions"]["field"] == "X-Wallet"
    assert "sekr1t" not in response["body"]
    assert "sekr1t" not in json.dumps(response["headers"])


def test_production_mode_refuses_an_identity_wallet(
    environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATACHANNELS_PRODUCTION", "true")
    response = serverless.make_handler()(footprint_event(wallet_for(environment, "acme")), None)
    assert response["statusCode"] == 400, response
    (error,) = answer(response)["errors"]
    assert error["extensions"]["code"] == "BAD_INPUT"
    assert "production mode" in error["message"]
    assert "BEGIN" not in response["body"]


def test_production_mode_answers_a_delegation_wallet(
    environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATACHANNELS_PRODUCTION", "true")
    wallet = delegation_wallet_for(environment, "acme")
    response = serverless.make_handler()(footprint_event(wallet), None)
    assert response["statusCode"] == 200, response
    assert answer(response)["data"]["footprint"]["totalKgCO2e"] > 0


def test_the_relay_key_can_be_given_as_pem_text_in_the_environment(
    environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As a secret manager injects it: the PEM itself, with no relay files in the data dir.
    relay = environment / "identities" / "relay"
    monkeypatch.setenv("DATACHANNELS_RELAY_CERTIFICATE", (relay / "cert.pem").read_text())
    monkeypatch.setenv("DATACHANNELS_RELAY_KEY", (relay / "key.pem").read_text())
    wallet = delegation_wallet_for(environment, "acme")
    for pem in relay.iterdir():
        pem.unlink()
    response = serverless.make_handler()(footprint_event(wallet), None)
    assert response["statusCode"] == 200, response
    assert answer(response)["data"]["footprint"]["totalKgCO2e"] > 0


def test_a_relay_key_that_is_neither_pem_nor_a_path_is_refused_without_its_value(
    environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key passed as base64 of its PEM (a common way to fit a secret into a variable) is no
    path: the error says so and never holds the value, even where the OS refuses the name."""
    import base64

    relay = environment / "identities" / "relay"
    encoded = base64.b64encode((relay / "key.pem").read_bytes()).decode()
    for value in (encoded, encoded * 40, "not-a-file"):
        monkeypatch.setenv("DATACHANNELS_RELAY_CERTIFICATE", (relay / "cert.pem").read_text())
        monkeypatch.setenv("DATACHANNELS_RELAY_KEY", value)
        with pytest.raises(ValueError) as refused:
            Settings.from_env().relay()
        assert value not in str(refused.value) and value[:20] not in str(refused.value)
        assert "neither PEM text" in str(refused.value)


def test_the_entry_point_builds_one_app_and_reuses_it_between_invocations(
    environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(serverless, "_handler", None)  # a fresh process, as far as it knows
    wallet = delegation_wallet_for(environment, "acme")
    assert serverless.handler(footprint_event(wallet), None)["statusCode"] == 200
    # Metrics live in the app: the second invocation sees the first one's connector calls.
    metrics = serverless.handler(http_api_event("GET", "/metrics"), None)
    assert metrics["statusCode"] == 200
    calls = [
        line
        for line in metrics["body"].splitlines()
        if line.startswith("datachannels_connector_calls_total{")
    ]
    assert calls and all(float(line.rsplit(" ", 1)[1]) >= 1 for line in calls)


def test_a_delegation_wallet_for_every_channel_fits_the_http_api_header_quota(
    environment: Path,
) -> None:
    event = footprint_event(delegation_wallet_for(environment, "acme"))
    # Counted generously: names, separators and line ends as well as the values.
    size = len(f"POST {event['rawPath']} HTTP/1.1\r\n")
    size += sum(len(f"{name}: {value}\r\n") for name, value in event["headers"].items())
    assert size <= HTTP_API_HEADER_QUOTA, f"{size} bytes of request line and headers"


def test_the_entry_point_logs_json_lines_with_the_request_id_and_no_wallet(
    environment: Path,
) -> None:
    """In a fresh process, as Lambda starts one: the handler's log lines are JSON on stderr,
    the request line carries the event's request id, and nothing of the wallet is there."""
    import subprocess
    import sys

    wallet = delegation_wallet_for(environment, "acme", actions=("read",))
    event = footprint_event(wallet)
    event["headers"]["x-request-id"] = "lambda-req-1"
    program = (
        "import json, sys\n"
        "from datachannels.gateway.serverless import handler\n"
        "print(handler(json.load(sys.stdin), None)['statusCode'])"
    )
    child = subprocess.run(
        [sys.executable, "-c", program],
        input=json.dumps(event),
        capture_output=True,
        text=True,
        env={**os.environ},
        timeout=120,
        check=False,
    )
    assert child.returncode == 0 and child.stdout.strip() == "200", child.stderr
    lines = [json.loads(line) for line in child.stderr.splitlines() if line.startswith("{")]
    [request] = [line for line in lines if line["message"] == "request"]
    assert request["requestId"] == "lambda-req-1" and request["status"] == 200
    assert request["operation"] == "Footprint"
    assert wallet not in child.stderr and wallet[:40] not in child.stderr
    # uvicorn's trace level, which Settings allows, works without uvicorn too.
    traced = subprocess.run(
        [sys.executable, "-c", program],
        input=json.dumps(event),
        capture_output=True,
        text=True,
        env={**os.environ, "DATACHANNELS_LOG_LEVEL": "trace"},
        timeout=120,
        check=False,
    )
    assert traced.returncode == 0 and traced.stdout.strip() == "200", traced.stderr


def test_an_instance_initialised_ahead_of_requests_prewarms_at_import(environment: Path) -> None:
    """Provisioned concurrency and SnapStart initialise an instance before its first request
    (Lambda says so in AWS_LAMBDA_INITIALIZATION_TYPE): the import then builds the app, loads
    the reference data and runs the embedded ledger's first integrity checks; on demand it
    does none of that, and both answer alike."""
    import subprocess
    import sys

    wallet = delegation_wallet_for(environment, "acme", actions=("read",))
    program = (
        "import json, sys\n"
        "from datachannels.gateway import serverless\n"
        "from datachannels.resolvers import geo\n"
        "ready = serverless._app is not None\n"
        "checked = sorted(serverless._app.state.connector.inner._checks) if ready else []\n"
        "loaded = geo._airports.cache_info().currsize\n"
        "answer = serverless.handler(json.load(sys.stdin), None)\n"
        "print(json.dumps([ready, checked, loaded, answer['statusCode'], answer['body']]))"
    )
    runs = {}
    for kind in ("provisioned-concurrency", "snap-start", "on-demand"):
        child = subprocess.run(
            [sys.executable, "-c", program],
            input=json.dumps(footprint_event(wallet)),
            capture_output=True,
            text=True,
            env={**os.environ, "AWS_LAMBDA_INITIALIZATION_TYPE": kind},
            timeout=120,
            check=False,
        )
        assert child.returncode == 0, child.stderr
        runs[kind] = json.loads(child.stdout.strip().splitlines()[-1])
    from datachannels.chaincode import CHANNELS

    for kind in ("provisioned-concurrency", "snap-start"):
        ready, checked, loaded, status, _ = runs[kind]
        assert ready and checked == sorted(CHANNELS) and loaded == 1 and status == 200, kind
    ready, checked, loaded, status, _ = runs["on-demand"]
    assert not ready and loaded == 0 and status == 200
    bodies = {kind: json.loads(run[4])["data"] for kind, run in runs.items()}
    assert bodies["on-demand"] == bodies["snap-start"] == bodies["provisioned-concurrency"]

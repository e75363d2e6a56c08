"""The HTTP edge of the gateway: bounds, bodies no parser should see, media types, browsers.

The real app over a real embedded ledger, in process; the GraphQL-over-HTTP audit of npm's
`graphql-http` runs against a real server on a loopback port.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from datachannels.gateway.app import create_app
from datachannels.gateway.settings import Settings
from starlette.testclient import TestClient

from tests.conftest import (
    connector_calls,
    delegation_wallet_for,
    graphql,
    served,
    wallet_for,
)

ROOT = Path(__file__).resolve().parent.parent
CHANNELS_QUERY = {"query": "{ channels { name } }"}


def _client(data_dir: Path, **settings: object) -> TestClient:
    app = create_app(Settings.from_env(data_dir=data_dir, **settings))
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def edge(data_dir: Path) -> Iterator[TestClient]:
    with _client(data_dir, max_body_bytes=4096, cors_origins="https://app.example") as client:
        yield client


def _error(response: httpx.Response) -> dict:
    [error] = response.json()["errors"]
    return error


# ------------------------------------------------------------------------------ bodies


BAD_BODIES = [
    ("invalid UTF-8", b'{"query": "\xff"}', "the request body is not UTF-8"),
    ("null", b"null", "must be a JSON object with a `query` string"),
    ("a string", b'"{ channels { name } }"', "must be a JSON object with a `query` string"),
    ("an array", b"[]", "must be a JSON object with a `query` string"),
    ("not JSON", b"{query", "the request body is not JSON"),
    ("no query", b'{"variables": {}}', "must have a `query` string"),
    ("a number for a query", b'{"query": 1}', "must have a `query` string"),
    ("variables a list", b'{"query": "{ a }", "variables": []}', "`variables` must be an object"),
    ("operationName a number", b'{"query": "{ a }", "operationName": 2}', "`operationName` must"),
]


@pytest.mark.parametrize(
    ("body", "message"), [c[1:] for c in BAD_BODIES], ids=[c[0] for c in BAD_BODIES]
)
def test_a_body_that_is_no_graphql_request_is_a_coded_400(
    edge: TestClient, body: bytes, message: str
):
    response = edge.post("/graphql", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    error = _error(response)
    assert error["extensions"] == {"code": "BAD_INPUT", "field": "body"}
    assert message in error["message"]


def test_bodies_that_broke_the_parser_are_coded_400s_however_big_the_bound(data_dir: Path):
    with _client(data_dir, max_body_bytes=10 * 1024 * 1024) as client:
        deep = b"[" * 100_000 + b"]" * 100_000
        digits = b'{"query": "{ channels { name } }", "variables": {"n": ' + b"9" * 5001 + b"}}"
        for body, message in ((deep, "nests deeper"), (digits, "too many digits")):
            response = client.post(
                "/graphql", content=body, headers={"Content-Type": "application/json"}
            )
            assert response.status_code == 400, response.text
            assert message in _error(response)["message"]
            assert "Traceback" not in response.text


def test_a_body_over_the_bound_is_a_413_declared_or_streamed(edge: TestClient):
    big = json.dumps({"query": "{ channels { name } }", "variables": {"x": "y" * 5000}})
    declared = edge.post("/graphql", content=big, headers={"Content-Type": "application/json"})

    def chunks() -> Iterator[bytes]:  # no Content-Length: the guard counts what arrives
        for start in range(0, len(big), 1000):
            yield big[start : start + 1000].encode()

    streamed = edge.post("/graphql", content=chunks(), headers={"Content-Type": "application/json"})
    for response in (declared, streamed):
        assert response.status_code == 413, response.text
        error = _error(response)
        assert error["extensions"] == {"code": "LIMIT_EXCEEDED", "limit": "max_body_bytes"}
        assert "larger than 4096 bytes" in error["message"]
    # Just under the bound is an ordinary request.
    assert edge.post("/graphql", json=CHANNELS_QUERY).status_code == 200


def test_only_json_is_accepted_so_no_form_can_post_across_origins(edge: TestClient):
    for content_type, body in (
        ("application/x-www-form-urlencoded", b"query=%7Bchannels%7Bname%7D%7D"),
        ("text/plain", b'{"query": "{ channels { name } }"}'),
        ("multipart/form-data; boundary=x", b"--x--"),
    ):
        response = edge.post("/graphql", content=body, headers={"Content-Type": content_type})
        assert response.status_code == 415, (content_type, response.text)
        assert _error(response)["extensions"] == {"code": "BAD_INPUT", "field": "Content-Type"}


def test_the_body_bound_is_a_setting_with_a_clear_error(data_dir: Path, monkeypatch):
    monkeypatch.setenv("DATACHANNELS_MAX_BODY_BYTES", "lots")
    with pytest.raises(ValueError, match="max_body_bytes must be a whole number, got 'lots'"):
        Settings.from_env(data_dir=data_dir)
    monkeypatch.setenv("DATACHANNELS_MAX_BODY_BYTES", "2048")
    assert Settings.from_env(data_dir=data_dir).max_body_bytes == 2048


# ---------------------------------------------------------------- activities per request

ELECTRICITY = {"kwh": 10, "gridRegion": "CAMX"}
TOTAL = "query($i: FootprintInput!) { footprint(input: $i) { totalKgCO2e } }"
PUBLISH = "mutation($i: FootprintInput!) { publishFootprint(input: $i) { id } }"


@pytest.fixture
def capped(data_dir: Path) -> Iterator[TestClient]:
    with _client(data_dir, max_activities=6) as client:
        yield client


def _refused_before_running(client: TestClient, query: str, wallet: str, variables: dict) -> dict:
    before = connector_calls(client)
    answer = graphql(client, query, wallet, variables)
    [error] = answer["errors"]
    assert error["extensions"] == {"code": "LIMIT_EXCEEDED", "limit": "max_activities"}
    assert "more than the 6 one request may" in error["message"]
    assert answer.get("data") is None
    assert connector_calls(client) == before  # no channel was asked anything
    return error


def test_activities_over_the_bound_are_refused_before_any_channel_is_read(
    capped: TestClient, data_dir: Path
):
    wallet = wallet_for(data_dir, "acme")
    at_bound = {"i": {"electricity": [ELECTRICITY] * 4, "flights": [{"origin": "LHR",
                "destination": "JFK", "cabinClass": "ECONOMY"}] * 2}}  # fmt: skip
    assert graphql(capped, TOTAL, wallet, at_bound)["data"]["footprint"]["totalKgCO2e"] > 0
    over = {"i": {"electricity": [ELECTRICITY] * 7}}
    error = _refused_before_running(capped, TOTAL, wallet, over)
    assert "asks for 7 activities" in error["message"]


def test_aliased_footprints_and_literal_lists_count_every_activity(
    capped: TestClient, data_dir: Path
):
    wallet = wallet_for(data_dir, "acme")
    aliased = (
        "query($i: FootprintInput!) { "
        + " ".join(f"f{n}: footprint(input: $i) {{ totalKgCO2e }}" for n in range(4))
        + " }"
    )
    error = _refused_before_running(
        capped, aliased, wallet, {"i": {"electricity": [ELECTRICITY] * 2}}
    )
    assert "asks for 8 activities" in error["message"]
    literal = (
        "{ footprint(input: {electricity: ["
        + ", ".join('{kwh: 1, gridRegion: "CAMX"}' for _ in range(7))
        + "]}) { totalKgCO2e } }"
    )
    _refused_before_running(capped, literal, wallet, {})
    mixed = (
        "query($e: [ElectricityActivity!]) { footprint(input: {electricity: $e}) { totalKgCO2e } }"
    )
    _refused_before_running(capped, mixed, wallet, {"e": [ELECTRICITY] * 7})
    in_fragments = (
        "query($i: FootprintInput!) { ...F ... on Query { b: footprint(input: $i) "
        "{ totalKgCO2e } } } fragment F on Query { a: footprint(input: $i) { totalKgCO2e } }"
    )
    error = _refused_before_running(
        capped, in_fragments, wallet, {"i": {"electricity": [ELECTRICITY] * 4}}
    )
    assert "asks for 8 activities" in error["message"]
    seven = ", ".join('{kwh: 1, gridRegion: "CAMX"}' for _ in range(7))
    whole = f"query($i: FootprintInput! = {{electricity: [{seven}]}}) "
    listed = f"query($e: [ElectricityActivity!] = [{seven}]) "
    by_whole = whole + "{ footprint(input: $i) { totalKgCO2e } }"
    by_list = listed + "{ footprint(input: {electricity: $e}) { totalKgCO2e } }"
    for defaulted in (by_whole, by_list):  # an absent variable takes its default: it counts
        error = _refused_before_running(capped, defaulted, wallet, {})
        assert "asks for 7 activities" in error["message"]
    # A variable given overrides its default.
    answer = graphql(capped, by_list, wallet, {"e": [ELECTRICITY]})
    assert answer["data"]["footprint"]["totalKgCO2e"] > 0


def test_a_publish_over_the_bound_writes_nothing(capped: TestClient, data_dir: Path):
    from datachannels.channel_connectors.embedded import EmbeddedNetwork

    height = EmbeddedNetwork(data_dir).ledger("footprint").height()
    _refused_before_running(
        capped, PUBLISH, wallet_for(data_dir, "acme"), {"i": {"electricity": [ELECTRICITY] * 7}}
    )
    assert EmbeddedNetwork(data_dir).ledger("footprint").height() == height


# ------------------------------------------------------------------ GraphQL's own errors


def test_a_document_that_does_not_parse_has_a_code(edge: TestClient):
    response = edge.post("/graphql", json={"query": "{ channels { name "})
    assert response.status_code == 200
    error = _error(response)
    assert error["extensions"]["code"] == "BAD_INPUT" and "Syntax Error" in error["message"]


def test_graphql_response_json_makes_request_errors_400s_without_data(edge: TestClient):
    accept = {"Accept": "application/graphql-response+json, application/json"}
    ok = edge.post("/graphql", json=CHANNELS_QUERY, headers=accept)
    assert ok.status_code == 200
    assert ok.headers["content-type"] == "application/graphql-response+json; charset=utf-8"
    assert ok.json()["data"]["channels"][0]["name"] == "utility"
    for query in ("{ channels { name ", "{ nosuchfield }"):
        refused = edge.post("/graphql", json={"query": query}, headers=accept)
        assert refused.status_code == 400, refused.text
        assert refused.headers["content-type"].startswith("application/graphql-response+json")
        assert "data" not in refused.json() and refused.json()["errors"]
    # A legacy client (application/json) keeps the 200 and the data entry.
    legacy = edge.post("/graphql", json={"query": "{ nosuchfield }"})
    assert legacy.status_code == 200 and legacy.headers["content-type"].startswith(
        "application/json"
    )


def test_a_field_error_is_not_a_request_error(edge: TestClient, data_dir: Path):
    accept = {"Accept": "application/graphql-response+json"}
    query = "{ utility { invoices { items { invoiceId } } } }"
    response = edge.post(
        "/graphql",
        json={"query": query},
        headers={**accept, "X-Wallet": wallet_for(data_dir, "outsider")},
    )
    assert response.status_code == 200, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "ACCESS_DENIED"


# ------------------------------------------------------------------- browsers and headers


def test_every_answer_carries_the_security_headers_and_graphql_answers_are_not_cached(
    edge: TestClient,
):
    for method, path in (("POST", "/graphql"), ("GET", "/healthz"), ("GET", "/static/graphiql.js")):
        response = edge.request(method, path, json=CHANNELS_QUERY if method == "POST" else None)
        assert response.status_code == 200, (path, response.text)
        policy = response.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
        assert "script-src 'self'" in policy
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert (response.headers.get("cache-control") == "no-store") == (path == "/graphql")


def test_cors_admits_the_configured_origin_with_x_wallet_and_no_other(
    edge: TestClient, data_dir: Path
):
    preflight = {"Access-Control-Request-Method": "POST"}
    wanted = {**preflight, "Access-Control-Request-Headers": "content-type, x-wallet"}
    allowed = edge.options("/graphql", headers={"Origin": "https://app.example", **wanted})
    assert allowed.status_code == 200, allowed.text
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert "x-wallet" in allowed.headers["access-control-allow-headers"].lower()
    assert "POST" in allowed.headers["access-control-allow-methods"]
    assert "access-control-allow-credentials" not in allowed.headers

    refused = edge.options("/graphql", headers={"Origin": "https://evil.example", **wanted})
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers

    wallet = delegation_wallet_for(data_dir, "acme")
    for origin, admitted in (("https://app.example", True), ("https://evil.example", False)):
        answer = edge.post(
            "/graphql", json=CHANNELS_QUERY, headers={"Origin": origin, "X-Wallet": wallet}
        )
        assert answer.status_code == 200
        assert ("access-control-allow-origin" in answer.headers) is admitted


def test_without_configured_origins_no_cross_origin_call_is_admitted(data_dir: Path):
    with _client(data_dir) as client:
        preflight = client.options(
            "/graphql",
            headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
        )
        assert preflight.status_code == 400
        assert "access-control-allow-origin" not in preflight.headers


def test_production_turns_off_graphiql_introspection_and_metrics(data_dir: Path):
    introspection = {"query": "{ __schema { queryType { name } } }"}
    with _client(data_dir, production=True) as production:
        page = production.get("/graphql", headers={"Accept": "text/html"})
        assert "GraphiQL" not in page.text
        refused = production.post("/graphql", json=introspection).json()
        assert refused["errors"] and "data" in refused
        for error in refused["errors"]:
            assert error["extensions"]["code"] == "BAD_INPUT"
            assert "introspection has been disabled" in error["message"]
        assert production.get("/metrics").status_code == 404
        assert production.post("/graphql", json=CHANNELS_QUERY).status_code == 200
    with _client(data_dir, production=True, metrics=True, introspection=True) as opted_in:
        assert opted_in.get("/metrics").status_code == 200
        assert "errors" not in opted_in.post("/graphql", json=introspection).json()
    with _client(data_dir) as development:
        assert "GraphiQL" in development.get("/graphql", headers={"Accept": "text/html"}).text
        assert "errors" not in development.post("/graphql", json=introspection).json()
        assert development.get("/metrics").status_code == 200


# ------------------------------------------------------------- the GraphQL-over-HTTP audit


def _graphql_http() -> Path | None:
    """Where npm installed `graphql-http` (.ci/run does, into DATACHANNELS_NODE_MODULES)."""
    configured = os.environ.get("DATACHANNELS_NODE_MODULES")
    for candidate in filter(None, (configured, str(ROOT / "node_modules"))):
        if (Path(candidate) / "graphql-http").is_dir():
            return Path(candidate)
    return None


def test_a_client_that_sends_half_a_body_gets_a_408_and_the_connection_back(data_dir: Path):
    with served(data_dir, DATACHANNELS_BODY_TIMEOUT_S="1") as url:
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=15) as slow:
            slow.sendall(
                b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 100\r\n\r\n" + b'{"query": "'
            )
            started = time.monotonic()
            answer = slow.recv(65536).decode()
            waited = time.monotonic() - started
            head, _, body = answer.partition("\r\n\r\n")
            length = int(head.lower().split("content-length: ")[1].split("\r\n")[0])
            while len(body.encode()) < length:
                body += slow.recv(65536).decode()
            answer = head + "\r\n\r\n" + body
        assert answer.startswith("HTTP/1.1 408"), answer
        assert '"code": "LIMIT_EXCEEDED"' in answer and '"limit": "body_timeout_s"' in answer
        assert waited < 10  # the 1 s bound, not a client's patience
        # Meanwhile and after, everyone else is served.
        assert httpx.post(f"{url}/graphql", json=CHANNELS_QUERY).status_code == 200


def test_the_graphql_http_audit_passes_with_no_failure_and_no_warning(
    loaded_data_dir: Path, tmp_path: Path
):
    modules = _graphql_http()
    if modules is None or shutil.which("node") is None:
        message = "needs node and npm's graphql-http (DATACHANNELS_NODE_MODULES; .ci/run has it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    data_dir = tmp_path / "data"
    shutil.copytree(loaded_data_dir, data_dir)
    with served(data_dir) as url:
        audit = subprocess.run(
            ["node", str(ROOT / "tests" / "js" / "graphql_http_audit.mjs"), f"{url}/graphql"],
            env={**os.environ, "NODE_PATH": str(modules)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert audit.returncode == 0, audit.stderr
    results = json.loads(audit.stdout)
    assert len(results) > 40  # the whole audit ran
    failed = [(r["status"], r["name"], r["reason"]) for r in results if r["status"] != "ok"]
    assert failed == []

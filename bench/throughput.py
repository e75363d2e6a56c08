"""Throughput: the gateway beside bare graphql-core and plain Starlette, in one run.

Run: python bench/throughput.py [--duration S] [--rounds N] [--connections C] [--memory S]
                               [--skip-scale] [--fabric]

Needs `wrk` (Debian: `apt-get install wrk`).  On a fresh data dir in a temporary directory it
serves three servers at once on loopback ports, each with uvicorn and one worker, and they take
turns under the same load, body by body, for --rounds rounds (a drift of the machine's speed
then hits all three alike):

* the gateway (`datachannels serve`, the embedded default);
* **bare graphql-core**: the gateway's own schema (printed to SDL and built again by
  graphql-core, so no strawberry) with parse and validation cached per query text, whose
  `footprint` resolver returns the gateway's answer to the same request from memory: what
  GraphQL execution alone costs for that answer (encoded with orjson, as the gateway encodes);
* **plain Starlette** returning the gateway's response bytes: what HTTP alone costs.

For the README footprint (docs/examples/footprint.json, 4 activities) and for 100 activities
over four channels, `wrk -t1 -cC -dS` posts the same body to each; a response that is not 200 or
holds "errors" is counted and fails the run.  Each round's ratio is printed, with the
gateway's time per request and the part of it spent in channel calls (its /metrics
histogram; on the embedded default the ledger and the contracts run inline in the gateway
process) and any socket errors wrk met (a connection that could not open, broke or timed
out), then each body's median ratio.  Each round also times the gateway on `{ __typename }`
with the same wallet (what any request costs it before a channel is asked), and for each body
the run prints what 0.5x leaves per request beside that and the channel calls, which together
bound the ratio from above.  Then it prints the connector calls per footprint
(from the gateway's /metrics), the RPS of `serve --workers 2` against one worker (with, each
round, what two processes of plain Python work get on this machine against one, a rough
reference for it taken beside it, and any worker restart the servers logged), and RSS of
one worker after C=32 connections for --memory seconds against after its first 5 s.  Between
them, the signature floor: the P-256 signs and verifies one footprint makes (counted with
cProfile in-process), timed here, and the best ratio that floor leaves.

Targets (issue 15): gateway >= 0.5x bare graphql-core for both bodies; one connector call per
channel, plus one when provenance { blockNumber } is asked (printed for a fresh gateway's first
footprint and for a later one); 2 workers >= 1.8x one; RSS within
10 %; with --fabric, then bench/fabric_latency.py, whose last line is the gateway's CPU per
four-channel footprint on a local Fabric network (target <= 2 ms).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

README_BODY = json.loads((ROOT / "docs" / "examples" / "footprint.json").read_text())
# What every request costs the gateway before any channel is asked: HTTP, the middleware, the
# wallet and strawberry's request machinery.
FIXED_BODY = {"query": "{ __typename }"}

_REGIONS = ("CAMX", "ERCT", "NWPP", "RFCE", "SRSO", "NYCW", "MROW", "FRCC", "AZNM", "NEWE")
_ROUTES = (("CNSHA", "NLRTM"), ("SGSIN", "DEHAM"), ("USLAX", "JPTYO"), ("BRSSZ", "ESALG"))
_FLIGHTS = (("LHR", "JFK"), ("SFO", "ORD"), ("CDG", "FRA"), ("SIN", "SYD"), ("DXB", "BOM"))
_NAICS = ("331110", "325110", "324110", "322299", "323111")


def hundred_activities() -> dict:
    """25 activities on each source channel: the issue's second workload."""
    return {
        "query": README_BODY["query"],
        "variables": {
            "input": {
                "electricity": [
                    {"kwh": 1000 + n, "gridRegion": _REGIONS[n % len(_REGIONS)]} for n in range(25)
                ],
                "freight": [
                    {
                        "mode": "SEA",
                        "tonnes": 5 + n,
                        "origin": _ROUTES[n % len(_ROUTES)][0],
                        "destination": _ROUTES[n % len(_ROUTES)][1],
                        "vehicle": "container ship",
                    }
                    for n in range(25)
                ],
                "flights": [
                    {
                        "origin": _FLIGHTS[n % len(_FLIGHTS)][0],
                        "destination": _FLIGHTS[n % len(_FLIGHTS)][1],
                        "cabinClass": "ECONOMY",
                    }
                    for n in range(25)
                ],
                "purchases": [
                    {"naics": _NAICS[n % len(_NAICS)], "amountUsd": 1000 + n} for n in range(25)
                ],
            }
        },
    }


# ---------------------------------------------------------------- the two baselines


def baseline_app(answers_file: Path):
    """Bare graphql-core over the gateway's SDL, answering `footprint` from memory."""
    from datachannels.schema import schema as gateway_schema
    from graphql import build_schema, execute, parse, validate
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    schema = build_schema(gateway_schema.as_str())
    answers = json.loads(answers_file.read_text())  # variables' JSON text → footprint answer
    documents: dict[str, object] = {}  # the same caching the gateway does: parse + validate

    async def graphql(request: Request) -> Response:
        body = json.loads(await request.body())
        query = body["query"]
        document = documents.get(query)
        if document is None:
            document = parse(query)
            errors = validate(schema, document)
            if errors:
                return JSONResponse({"errors": [e.formatted for e in errors]}, status_code=400)
            documents[query] = document
        answer = answers[json.dumps(body.get("variables"), sort_keys=True)]
        result = execute(
            schema,
            document,  # type: ignore[arg-type]
            root_value={"footprint": lambda info, **args: answer},
            variable_values=body.get("variables"),
        )
        out: dict[str, object] = {"data": result.data}  # type: ignore[union-attr]
        if result.errors:  # type: ignore[union-attr]
            out["errors"] = [e.formatted for e in result.errors]  # type: ignore[union-attr]
        # The gateway's own encoder (gateway/app.py), so that neither side is slowed by its JSON.
        return Response(orjson.dumps(out), media_type="application/json")

    return Starlette(routes=[Route("/graphql", graphql, methods=["POST"])])


def bytes_app(answers_file: Path):
    """Plain Starlette: the gateway's response bytes for the posted variables."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    answers = {
        key: orjson.dumps({"data": {"footprint": value}})
        for key, value in json.loads(answers_file.read_text()).items()
    }

    async def graphql(request: Request) -> Response:
        body = json.loads(await request.body())
        key = json.dumps(body.get("variables"), sort_keys=True)
        return Response(answers[key], media_type="application/json")

    return Starlette(routes=[Route("/graphql", graphql, methods=["POST"])])


# ---------------------------------------------------------------- servers and load


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, process: subprocess.Popen[bytes], path: str) -> None:
    deadline = time.monotonic() + 120
    while True:
        if process.poll() is not None:
            raise SystemExit(f"the server for {url} exited")
        try:
            httpx.get(url + path, timeout=1)
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise SystemExit(f"{url} did not answer within 120 s") from None
            time.sleep(0.1)


@contextmanager
def serving(
    command: list[str], env: dict[str, str], probe: str, log: Path | None = None
) -> Iterator[tuple[str, int]]:
    """A server on a free loopback port, its output appended to `log` (else dropped)."""
    port = _port()
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(log.open("ab")) if log else subprocess.DEVNULL
        process = subprocess.Popen(
            [*command, "--port", str(port)], env={**os.environ, **env}, stdout=out, stderr=out
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait(url, process, probe)
            yield url, process.pid
        finally:
            process.terminate()
            process.wait(timeout=30)


_LUA = """
wrk.method = "POST"
wrk.body = io.open(os.getenv("BENCH_BODY")):read("*a")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Wallet"] = os.getenv("BENCH_WALLET")
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) bad = 0 end
function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then bad = bad + 1 end
end
function done(summary, latency, requests)
  local n = 0
  for _, t in ipairs(threads) do n = n + t:get("bad") end
  io.write(string.format("BAD %d\\n", n))
end
"""


def wrk(url: str, body: Path, wallet: str, seconds: float, connections: int, work: Path) -> dict:
    script = work / "post.lua"
    script.write_text(_LUA)
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s", str(script)]
        + [f"{url}/graphql"],
        env={**os.environ, "BENCH_BODY": str(body), "BENCH_WALLET": wallet},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}
    bad = int(re.search(r"BAD (\d+)", out).group(1))  # type: ignore[union-attr]
    if bad:
        raise SystemExit(f"{bad} bad responses from {url}:\n{out}")
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    # Connections wrk could not open, or that broke or timed out (2 s): a server that stalls
    # or loses a worker shows here, not in the status counts.
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "rps": rps,
        "p50_ms": float(p50.group(1)) * scale[p50.group(2)] if p50 else None,
        "requests": requests,
        "socket_errors": sum(map(int, errors.groups())) if errors else 0,
    }


def rss_mb(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / (1024 * 1024)


def connector_calls(url: str, body: dict, wallet: str) -> dict[str, float]:
    """Connector calls by operation that one request makes, from /metrics."""

    def counts() -> dict[str, float]:
        text = httpx.get(f"{url}/metrics").text
        out: dict[str, float] = {}
        for match in re.finditer(
            r'^datachannels_connector_calls_total\{channel="(\w+)",operation="(\w+)"\} ([\d.]+)',
            text,
            re.MULTILINE,
        ):
            out[f"{match[2]} {match[1]}"] = out.get(f"{match[2]} {match[1]}", 0) + float(match[3])
        return out

    before = counts()
    httpx.post(f"{url}/graphql", json=body, headers={"X-Wallet": wallet}).raise_for_status()
    after = counts()
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


def connector_seconds(url: str) -> float:
    """Seconds the gateway has spent in channel calls so far (its /metrics histogram's sum).
    On the embedded default the ledger and the contract run inline in the gateway process, so
    this is the part of its time a gateway in front of Fabric leaves to the peer."""
    text = httpx.get(f"{url}/metrics").text
    return sum(
        float(m[1])
        for m in re.finditer(
            r"^datachannels_connector_call_seconds_sum\{[^}]*\} ([\d.e+-]+)$", text, re.MULTILINE
        )
    )


def print_budget(results: dict[str, list[dict[str, dict]]], fixed: list[dict]) -> None:
    """What 0.5x bare graphql-core leaves the gateway per request, against two parts of its
    time measured in the same rounds: `{ __typename }` (what any request costs it before a
    channel is asked) and its channel calls.  A footprint does both, so the two alone bound
    its ratio from above, whatever the rest of it (engine, execution, answer) costs."""
    typename = statistics.median(1000 / f["rps"] for f in fixed)
    print(
        "\nwhat 0.5x leaves per request, medians of the rounds (`{ __typename }` through the "
        f"gateway with the same wallet: {typename:.2f} ms)"
    )
    broken = [f["socket_errors"] for f in fixed if f.get("socket_errors")]
    if broken:
        print(f"  wrk socket errors on `{{ __typename }}`: {broken}")
    for label, turns in results.items():
        baseline = statistics.median(1000 / by["graphql-core"]["rps"] for by in turns)
        gateway = statistics.median(1000 / by["gateway"]["rps"] for by in turns)
        channel = statistics.median(by["gateway"]["channel_ms"] for by in turns)
        print(
            f"  {label}: budget {2 * baseline:.2f} ms (2 x bare graphql-core's {baseline:.2f}); "
            f"the gateway {gateway:.2f} ms, of which channel calls {channel:.2f} ms; "
            f"`{{ __typename }}` and the channel calls alone allow at most "
            f"{baseline / (typename + channel):.2f}x"
        )


# ---------------------------------------------------------------- the signature floor


def signature_floor(data_dir: Path, wallet: str, body: dict) -> dict[str, float]:
    """What one footprint's ECDSA signing and verifying alone costs here, in ms.

    Counts the P-256 sign and verify calls of 50 in-process footprints (cProfile sees each
    call into cryptography), and times that many of each on a fresh key.  Those are real
    signatures (the relay's proposals, the ledger's checks of them and of the delegation, the
    endorsements), so no code of ours can go below this floor.
    """
    import asyncio
    import cProfile
    import pstats
    import timeit

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from datachannels.gateway.app import create_app
    from datachannels.gateway.settings import Settings

    app = create_app(Settings(data_dir=data_dir, log_level="warning"))
    rounds = 50

    async def run() -> cProfile.Profile:
        profile = cProfile.Profile()
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                for n in range(rounds + 5):
                    if n == 5:
                        profile.enable()
                    answer = await client.post("/graphql", json=body, headers={"X-Wallet": wallet})
                    assert "errors" not in answer.json(), answer.text
                profile.disable()
        return profile

    stats = pstats.Stats(asyncio.run(run())).stats  # type: ignore[attr-defined]
    calls = {"sign": 0, "verify": 0}
    for (_, _, name), (_, ncalls, *_rest) in stats.items():
        for kind in calls:
            # e.g. "<method 'sign' of '…._rust.openssl.ec.ECPrivateKey' objects>"
            if name.startswith(f"<method '{kind}' of '") and ".ec.EC" in name:
                calls[kind] += ncalls
    key = ec.generate_private_key(ec.SECP256R1())
    message = b"x" * 200
    signature = key.sign(message, ec.ECDSA(hashes.SHA256()))
    n = 2000
    sign_ms = timeit.timeit(lambda: key.sign(message, ec.ECDSA(hashes.SHA256())), number=n)
    verify_ms = timeit.timeit(
        lambda: key.public_key().verify(signature, message, ec.ECDSA(hashes.SHA256())), number=n
    )
    signs, verifies = calls["sign"] / rounds, calls["verify"] / rounds
    return {
        "signs": signs,
        "verifies": verifies,
        "sign_ms": sign_ms / n * 1000,
        "verify_ms": verify_ms / n * 1000,
        "floor_ms": signs * sign_ms / n * 1000 + verifies * verify_ms / n * 1000,
    }


# ---------------------------------------------------------------- the run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--memory", type=float, default=60, help="seconds of the RSS run (0: no)")
    parser.add_argument("--skip-scale", action="store_true", help="no 2-worker run")
    parser.add_argument("--rounds", type=int, default=3, help="turns of the three servers")
    parser.add_argument(
        "--fabric",
        action="store_true",
        help="then bench/fabric_latency.py on a local Fabric network (about two minutes)",
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("bench/throughput.py needs wrk: apt-get install wrk")

    from datachannels.channel_connectors.embedded import init_data_dir

    from tests.conftest import delegation_wallet_for

    work = Path(tempfile.mkdtemp(prefix="datachannels-throughput-"))
    data_dir = work / "data"
    init_data_dir(data_dir)
    bodies = {
        "README footprint (4 activities)": README_BODY,
        "100 activities": hundred_activities(),
    }
    files = {}
    for n, (label, body) in enumerate(bodies.items()):
        files[label] = work / f"body{n}.json"
        files[label].write_text(json.dumps(body))
    fixed_file = work / "fixed.json"
    fixed_file.write_text(json.dumps(FIXED_BODY))
    # The default log level: the gateway writes its JSON request line per request, as deployed.
    env = {"DATACHANNELS_DATA_DIR": str(data_dir)}
    gateway = [sys.executable, "-m", "datachannels.gateway.cli", "serve"]

    def wallet() -> str:  # fresh for each phase: a delegation lives ten minutes
        return delegation_wallet_for(data_dir, "acme")

    # Per body, one dict per round: server name -> that round's wrk result.
    results: dict[str, list[dict[str, dict]]] = {label: [] for label in bodies}
    fixed: list[dict] = []  # the gateway's `{ __typename }`, one wrk run per round
    answers: dict[str, object] = {}
    with serving(gateway, env, "/healthz") as (url, _):
        w = wallet()
        first_calls = connector_calls(url, README_BODY, w)  # a fresh gateway's first footprint
        for label, body in bodies.items():
            answer = httpx.post(
                f"{url}/graphql", json=body, headers={"X-Wallet": w}, timeout=60
            ).json()
            assert "errors" not in answer, answer
            answers[json.dumps(body["variables"], sort_keys=True)] = answer["data"]["footprint"]
        calls = connector_calls(url, README_BODY, w)
        answers_file = work / "answers.json"
        answers_file.write_text(json.dumps(answers))
        urls = {"gateway": url}
        with contextlib.ExitStack() as servers:
            for name, mode in (("graphql-core", "--baseline"), ("starlette", "--bytes")):
                command = [sys.executable, __file__, mode, str(answers_file)]
                urls[name] = servers.enter_context(serving(command, {}, "/graphql"))[0]
            # The servers take turns, body by body and round by round, so a drift of the
            # machine's speed hits each of them alike; an idle server costs the others nothing.
            for label in bodies:
                for name, server in urls.items():
                    # The wallet goes to the gateway only; the baselines never see one.
                    held = w if name == "gateway" else ""
                    wrk(server, files[label], held, 2, args.connections, work)  # warm-up
            for _ in range(args.rounds):
                w = wallet()
                for label in bodies:
                    turn: dict[str, dict] = {}
                    for name, server in urls.items():
                        before = connector_seconds(url) if name == "gateway" else 0.0
                        held = w if name == "gateway" else ""
                        turn[name] = wrk(
                            server, files[label], held, args.duration, args.connections, work
                        )
                        if name == "gateway":
                            spent = connector_seconds(url) - before
                            turn[name]["channel_ms"] = spent / turn[name]["requests"] * 1000
                    results[label].append(turn)
                fixed.append(wrk(url, fixed_file, w, args.duration, args.connections, work))

    print(
        f"\nwrk -t1 -c{args.connections} -d{args.duration:g}s, one uvicorn worker each, "
        f"{args.rounds} rounds taking turns"
    )
    print(
        f"{'body':31} {'round':>5} {'gateway':>16} {'graphql-core':>16} {'starlette':>16} "
        f"{'ratio':>6}  gateway ms/request (of it in channel calls)"
    )
    medians = {}
    for label, turns in results.items():
        ratios = []
        for n, by in enumerate(turns, 1):
            cells = [
                f"{by[k]['rps']:7.0f} RPS {by[k]['p50_ms'] or 0:4.0f}ms"
                for k in ("gateway", "graphql-core", "starlette")
            ]
            ratio = by["gateway"]["rps"] / by["graphql-core"]["rps"]
            ratios.append(ratio)
            gateway_ms = 1000 / by["gateway"]["rps"]
            print(
                f"{label:31} {n:5d} {cells[0]:>16} {cells[1]:>16} {cells[2]:>16} "
                f"{ratio:5.2f}x  {gateway_ms:5.2f} ({by['gateway']['channel_ms']:.2f})"
            )
            broken = {k: v["socket_errors"] for k, v in by.items() if v.get("socket_errors")}
            if broken:
                print(f"{'':37}wrk socket errors: {broken}")
        medians[label] = statistics.median(ratios)
    for label, ratio in medians.items():
        print(f"{label}: median ratio {ratio:.2f}x (target >= 0.5)")
    print("(ratio: gateway RPS / bare graphql-core RPS in the same round)")
    print_budget(results, fixed)
    print("\nconnector calls for one README footprint (it asks provenance { blockNumber }):")
    print(f"  {'':32} {'first':>6} {'later':>6}")
    for key in sorted({*first_calls, *calls}):
        print(f"  {key:32} {first_calls.get(key, 0):6g} {calls.get(key, 0):6g}")
    print(
        "  (later: the block numbers of transactions already seen are known, resolvers/context.py)"
    )

    floor = signature_floor(data_dir, wallet(), README_BODY)
    per_request = statistics.median(
        1000 / by["graphql-core"]["rps"] for by in results["README footprint (4 activities)"]
    )
    best = per_request / (per_request + floor["floor_ms"])
    print(
        f"\nsignatures per README footprint: {floor['signs']:g} P-256 signs "
        f"({floor['sign_ms'] * 1000:.0f} us each) and {floor['verifies']:g} verifies "
        f"({floor['verify_ms'] * 1000:.0f} us each): {floor['floor_ms']:.2f} ms that no code of "
        f"ours avoids.\nbare graphql-core spends {per_request:.2f} ms per request (1/RPS), so "
        f"the best ratio this floor allows is {best:.2f}x"
    )

    if not args.skip_scale:
        scale_out(gateway, env, files["README footprint (4 activities)"], wallet, args, work)

    if args.memory:
        readme = files["README footprint (4 activities)"]
        with serving(gateway, env, "/healthz") as (url, pid):
            w = wallet()
            wrk(url, readme, w, 5, 32, work)
            early = rss_mb(pid)
            wrk(url, readme, w, args.memory, 32, work)
            late = rss_mb(pid)
        print(
            f"\nRSS at 32 connections: {early:.1f} MB after 5 s, {late:.1f} MB after "
            f"{args.memory:g} s more: {100 * (late - early) / early:+.1f} % (target within 10 %)"
        )
    shutil.rmtree(work, ignore_errors=True)
    if args.fabric:
        # Target 4, the gateway's CPU per four-channel footprint on Fabric, in its own process:
        # it brings a local network up and down (network/README.md).
        print("\nbench/fabric_latency.py --rounds 50:", flush=True)
        subprocess.run(
            [sys.executable, str(ROOT / "bench" / "fabric_latency.py"), "--rounds", "50"],
            check=True,
        )


def _tree_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and all its living descendants."""
    root = psutil.Process(pid)
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:  # exited since it was listed
            continue
        total += times.user + times.system
    return total


def _machine_cpu_seconds() -> tuple[float, float, float]:
    """(busy, steal, all) CPU seconds of every core so far."""
    t = psutil.cpu_times()
    busy = t.user + t.nice + t.system + t.irq + t.softirq
    return busy, t.steal, busy + t.idle + t.iowait + t.steal


def scale_out(
    gateway: list[str],
    env: dict[str, str],
    body: Path,
    wallet: Callable[[], str],
    args: Any,
    work: Path,
) -> None:
    """`serve --workers 2` against one worker, both up at once and taking turns for --rounds
    rounds (which goes first alternates), with where the machine's cores went in each: the
    gateway's processes, everything else (wrk, the kernel's loopback TCP), and the
    hypervisor's steal."""
    print(f"\nserve --workers 2 against one worker, README footprint, {args.rounds} rounds:")
    ratios: list[float] = []
    machine: list[float] = []  # what two processes of plain CPU work get, round by round
    logs = {workers: work / f"serve-{workers}.log" for workers in (1, 2)}
    with contextlib.ExitStack() as stack:
        servers = {
            workers: stack.enter_context(
                serving([*gateway, "--workers", str(workers)], env, "/healthz", logs[workers])
            )
            for workers in (1, 2)
        }
        for url, _ in servers.values():
            wrk(url, body, wallet(), 2, args.connections, work)
        for round_number in range(1, args.rounds + 1):
            rps = {}
            w = wallet()  # a delegation lives ten minutes; a round takes 2 x --duration
            order = (1, 2) if round_number % 2 else (2, 1)
            for workers in order:
                url, pid = servers[workers]
                busy, steal, every = _machine_cpu_seconds()
                mine, began = _tree_cpu_seconds(pid), time.monotonic()
                run = wrk(url, body, w, args.duration, args.connections, work)
                rps[workers] = run["rps"]
                busy2, steal2, every2 = _machine_cpu_seconds()
                took = time.monotonic() - began
                ours = (_tree_cpu_seconds(pid) - mine) / took
                rest = (busy2 - busy) / took - ours
                errors = run["socket_errors"]
                print(
                    f"  round {round_number}, {workers} worker{'s' if workers > 1 else ''}: "
                    f"{rps[workers]:.0f} RPS; of {(every2 - every) / took:.1f} cores, the "
                    f"gateway {ours:.2f}, the rest {rest:.2f}, steal {(steal2 - steal) / took:.2f}"
                    + (f"; wrk socket errors: {errors}" if errors else ""),
                    flush=True,
                )
            ratios.append(rps[2] / rps[1])
            machine.append(_machine_speedup())
            print(
                f"  round {round_number}, the machine itself: two processes of pure Python do "
                f"{machine[-1]:.2f}x the work of one in the same time",
                flush=True,
            )
    for workers, log in logs.items():  # a worker that exited is restarted, and says so
        for line in log.read_text(errors="replace").splitlines():
            if "exited" in line or "Traceback" in line:
                print(f"  serve --workers {workers}: {line.strip()[:200]}")
    print(
        f"serve --workers 2: {statistics.median(ratios):.2f}x one worker's RPS, median of "
        f"{len(ratios)} rounds ({', '.join(f'{r:.2f}x' for r in ratios)}) (target >= 1.8); "
        f"the machine's own two-process speed-up: {statistics.median(machine):.2f}x"
    )


def _spin(units: int) -> float:
    """Seconds of a fixed piece of pure-Python work (arithmetic and small objects)."""
    began = time.perf_counter()
    total = 0
    for i in range(units):
        total += len(str(i * i % 7919))
    return time.perf_counter() - began


def _machine_speedup(units: int = 1_500_000) -> float:
    """How much more work two processes do than one in the same time, on this machine now:
    the work alone, twice at once, and alone again, the two lone runs averaged so that a drift
    of the machine's speed during the measure counts less (two vCPUs may share a host's core
    or be slowed by its other tenants, which no steal figure shows).  What `--workers 2` can
    reach at best."""
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_spin, [units // 10] * 2)  # both started before the clock
        before = _spin(units)
        began = time.perf_counter()
        pool.map(_spin, [units, units], chunksize=1)
        both = time.perf_counter() - began
        after = _spin(units)
    return (before + after) / both


def _serve_baseline(mode: str, answers: str, port: str) -> None:
    import uvicorn

    app = (baseline_app if mode == "--baseline" else bytes_app)(Path(answers))
    uvicorn.run(app, host="127.0.0.1", port=int(port), log_level="warning")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] in ("--baseline", "--bytes") and sys.argv[3] == "--port":
        _serve_baseline(sys.argv[1], sys.argv[2], sys.argv[4])
    else:
        main()

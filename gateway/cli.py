"""The `datachannels` command line."""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..channel_connectors.base import Connector
from ..channel_connectors.errors import ChannelError
from .settings import Settings, default_data_dir

if TYPE_CHECKING:
    from ..channel_connectors.embedded import EmbeddedNetwork
    from ..channel_connectors.identities import IdentityStore


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        data_dir=getattr(args, "data_dir", None),
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        connector=getattr(args, "connector", None),
        production=getattr(args, "production", None) or None,
        workers=getattr(args, "workers", None),
    )


def _fabric_profile(settings: Settings) -> Path:
    """Where `network up` leaves the connection profile; its presence means a Fabric network."""
    return settings.data_dir / "fabric" / "connection.json"


def _require_fabric(settings: Settings) -> None:
    if not _fabric_profile(settings).exists():
        raise SystemExit(
            f"error: no Fabric network in {settings.data_dir}; run `datachannels network up` first"
        )


def _network(settings: Settings) -> EmbeddedNetwork:
    from ..channel_connectors.embedded import EmbeddedNetwork

    return _initialised(EmbeddedNetwork(settings.data_dir), settings)


def _initialised(network: EmbeddedNetwork, settings: Settings) -> EmbeddedNetwork:
    """The embedded network, or exit saying how to make it (or that it is a Fabric data dir)."""
    if not network.is_initialised():
        fabric_hint = (
            "; it holds a Fabric network: add --connector fabric"
            if _fabric_profile(settings).exists()
            else ""
        )
        raise SystemExit(
            f"error: {settings.data_dir} has no embedded ledger; run `datachannels init` first"
            + fabric_hint
        )
    return network


def cmd_init(args: argparse.Namespace) -> int:
    from ..channel_connectors.embedded import init_data_dir

    settings = _settings(args)
    started = time.perf_counter()
    _progress(f"{'checking' if settings.data_dir.exists() else 'initialising'} {settings.data_dir}")
    written = init_data_dir(settings.data_dir, _progress)
    total = sum(written.values())
    if total:
        summary = ", ".join(f"{channel} {n}" for channel, n in written.items())
        print(f"wrote {total} records ({summary}) in {time.perf_counter() - started:.1f} s")
    else:
        print(f"{settings.data_dir} was already initialised: nothing to write")
    return 0


def cmd_wallet(args: argparse.Namespace) -> int:
    from ..chaincode import CHANNELS
    from ..chaincode.delegation import ACTIONS, DEFAULT_TTL_S
    from ..channel_connectors.identities import CHANNEL_MEMBERS, DEMO_USERS, IdentityStore
    from .wallet import delegation_wallet, encode_wallet

    settings = _settings(args)
    store = IdentityStore(settings.data_dir)
    if args.list:
        names = set(store.names())
        if not names:
            raise SystemExit(
                f"error: no identities in {settings.data_dir}; run `datachannels init` first"
            )
        for user in DEMO_USERS:
            if user.name in names:
                print(f"{user.name:<10} {user.msp_id:<12} {user.description}")
        return 0
    name = args.identity.strip().lower()  # demo names are lower case
    try:
        msp_id, cert, key = store.pem_pair(name)
    except KeyError as exc:
        raise SystemExit(f"error: {exc.args[0]}") from None
    if msp_id not in CHANNEL_MEMBERS:
        if args.token:
            _progress(
                f"note: {name} ({msp_id}) is a member of no channel; it reads "
                f"{args.channels} under the provider's grant its token carries"
            )
        elif args.channels:
            _progress(
                f"note: {name} ({msp_id}) is a member of no channel: {args.channels} will "
                "refuse it (a provider's grant, --token, opens a channel's factors to it)"
            )
        else:
            _progress(
                f"note: {name} ({msp_id}) is a member of no channel; its wallet holds a "
                "credential for every channel so you can see each channel refuse it"
            )
    if not args.delegate:
        if any(
            v is not None
            for v in (args.ttl, args.channels, args.actions, args.publishes, args.token)
        ):
            raise SystemExit(
                "error: --ttl, --channels, --actions, --publishes and --token need --delegate"
            )
        _progress(
            "note: this wallet holds the private key, for local use only; "
            "`--delegate` prints one that does not"
        )
        print(encode_wallet({channel: (msp_id, cert, key) for channel in CHANNELS}))
        return 0
    if args.token and not args.channels:
        raise SystemExit("error: --token needs --channels: the channel its grant opens")
    channels = _names(args.channels, CHANNELS, "channel") if args.channels else list(CHANNELS)
    actions = _names(args.actions, ACTIONS, "action") if args.actions else ["read", "publish"]
    audience = args.audience or _relay_fingerprint(store)
    try:
        wallet = delegation_wallet(
            cert,
            key,
            msp_id,
            audience=audience,
            channels=channels,
            actions=actions,
            ttl_s=_duration(args.ttl) if args.ttl else DEFAULT_TTL_S,
            publishes=args.publishes if args.publishes is not None else 1,
            token=args.token,
        )
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    print(wallet)
    return 0


def _names(text: str, allowed: Sequence[str], what: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in allowed]
    if unknown or not names:
        raise SystemExit(
            f"error: unknown {what} {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(allowed)}"
        )
    return names


def _duration(text: str) -> int:
    """Seconds in "90", "90s", "10m" or "1h"."""
    import re

    match = re.fullmatch(r"\s*(\d+)\s*([smh]?)\s*", text)
    if not match:
        raise SystemExit(f"error: --ttl {text!r} is not a duration like 90s, 10m or 1h")
    seconds = int(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]
    if seconds <= 0:
        raise SystemExit("error: --ttl must be positive")
    return seconds


def _relay_fingerprint(store: IdentityStore) -> str:
    from ..chaincode.delegation import fingerprint

    try:
        return fingerprint(store.relay().identity.certificate)
    except KeyError:
        raise SystemExit(
            f"error: no relay identity in {store.data_dir}; run `datachannels init`, or give the "
            "remote gateway's relay with --audience (its /healthz shows the fingerprint)"
        ) from None


def cmd_ledger_verify(args: argparse.Namespace) -> int:
    network = _network(_settings(args))
    reports = network.verify(_progress)
    failed = [p for r in reports for p in r.problems]
    for problem in failed:
        print(problem, file=sys.stderr)
    if failed:
        return 1
    blocks = sum(r.blocks for r in reports)
    transactions = sum(r.transactions for r in reports)
    print(f"ledger ok: {blocks} blocks, {transactions} transactions on {len(reports)} channels")
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    """`token issue|revoke|list`: a data provider's access grants (chaincode/grants.py).

    `issue` signs a grant with the provider's own key and records it on the channel (the
    contract checks the provider is a writer and the kinds are factors), then prints the token
    for the consumer, who reads with it beside its delegation (`wallet --delegate --token`).
    """
    import datetime as dt

    from ..chaincode import grants
    from ..chaincode.delegation import fingerprint
    from ..channel_connectors.base import network
    from ..channel_connectors.identities import IdentityStore

    settings = _settings(args)
    store = IdentityStore(settings.data_dir)
    try:
        credential = store.signing_identity(args.provider)
        _, _, key = store.pem_pair(args.provider)
    except KeyError as exc:
        raise SystemExit(f"error: {exc.args[0]}") from None
    token = None
    revoked = None
    if args.token_command == "revoke":
        # The grant's id (as `issue` and `list` print it), or the token itself.
        revoked = args.grant_id
        if len(revoked) > 200:
            try:
                revoked = grants.grant_id(revoked)
            except grants.GrantError as refused:
                raise SystemExit(f"error: {refused.message}") from None
    if args.token_command == "issue":
        # The consumer: a demo identity, whose organisation's CA the grant carries.
        try:
            consumer = store.signing_identity(args.consumer)
        except KeyError:
            raise SystemExit(
                f"error: --consumer must be a demo identity ({', '.join(store.names())})"
            ) from None
        consumer_org = consumer.identity.msp_id
        consumer_ca = store.organisation(consumer_org).ca_certificate_pem
        consumer_cert = (
            fingerprint(consumer.identity.certificate) if args.bind == "certificate" else None
        )
        try:
            expires = dt.datetime.fromisoformat(args.expires)
        except ValueError:
            raise SystemExit(f"error: --expires must be an ISO date or time, got {args.expires!r}")
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=dt.UTC)
        try:
            token = grants.issue(
                key,
                args.channel,
                [k.strip() for k in args.kinds.split(",") if k.strip()],
                expires,
                consumer_org=consumer_org,
                consumer_ca_pem=consumer_ca,
                consumer_cert=consumer_cert,
                fee=args.fee,
                currency=args.currency,
                max_uses=args.max_uses,
            )
        except ValueError as exc:
            raise SystemExit(f"error: {exc}") from None

    async def call(connector: Connector) -> bytes:
        contract = network(connector, args.channel).contract()
        if args.token_command == "issue":
            body = json.dumps({"token": token})
            return (await contract.submit(credential, "grant_issue", body)).result
        if args.token_command == "revoke":
            body = json.dumps({"grantId": revoked})
            return (await contract.submit(credential, "grant_revoke", body)).result
        return await contract.evaluate(credential, "grants")

    answer = _on_channel(settings, call)
    if answer is None:
        return 1
    result = json.loads(answer)
    if args.token_command == "issue":
        _progress(f"grant {result['grantId']} recorded on {args.channel} (txId {result['txId']})")
        print(token)
    elif args.token_command == "revoke":
        _progress(f"grant {result['grantId']} revoked (txId {result['txId']})")
    else:
        print(json.dumps(result["grants"], indent=2))
    return 0


def cmd_usage(args: argparse.Namespace) -> int:
    """`usage`: the bill of a channel's grants, as the channel shows it to NAME.

    The provider (`--as auditor`) and the operator (`--as operator`) see every grant's; a
    consumer sees its own, reading under its grant (`--as outsider --token T`: signed as a
    delegation for the relay, as the gateway would carry it).
    """

    from ..chaincode import CHANNELS
    from ..chaincode.delegation import fingerprint
    from ..channel_connectors.base import Credential, network
    from ..channel_connectors.identities import IdentityStore
    from .wallet import delegation_wallet, parse_wallet

    settings = _settings(args)
    store = IdentityStore(settings.data_dir)
    try:
        signing = store.signing_identity(args.as_)
        msp_id, cert, key = store.pem_pair(args.as_)
    except KeyError as exc:
        raise SystemExit(f"error: {exc.args[0]}") from None
    credential: Credential = signing
    if args.token:
        # The consumer's wallet entry, as the gateway would receive and carry it.
        relay = store.relay()
        header = delegation_wallet(
            cert,
            key,
            msp_id,
            audience=fingerprint(relay.identity.certificate),
            channels=[args.channel],
            actions=("read",),
            token=args.token,
        )
        try:
            found = parse_wallet(header, CHANNELS, relay).credential(args.channel)
        except ValueError as exc:  # WalletError: an unknown channel name
            raise SystemExit(f"error: {exc}") from None
        assert found is not None
        credential = found
    request = {k: v for k, v in (("from", args.from_), ("to", args.to)) if v}
    if args.per != "month":  # the contract's default, and all an older contract reads
        request["per"] = args.per
    body = json.dumps(request)

    async def call(connector: Connector) -> bytes:
        return await network(connector, args.channel).contract().evaluate(credential, "usage", body)

    answer = _on_channel(settings, call)
    if answer is None:
        return 1
    print(json.dumps(json.loads(answer), indent=2))
    return 0


def cmd_chaincode(args: argparse.Namespace) -> int:
    """`chaincode query|invoke`: one contract call as a demo identity, like `peer chaincode`.

    Goes through the same `Connector` the gateway uses, so `--connector fabric` reaches the
    network `network up` started, signed with the same identity as on the embedded ledger.
    """
    import asyncio

    from ..channel_connectors.base import Submitted, network
    from ..channel_connectors.identities import IdentityStore

    settings = _settings(args)
    connector = _connector(settings)
    try:
        credential = IdentityStore(settings.data_dir).signing_identity(args.as_)
    except KeyError as exc:
        raise SystemExit(f"error: {exc.args[0]}") from None

    async def call() -> bytes | Submitted:
        try:
            contract = network(connector, args.channel).contract()
            if args.action == "query":
                return await contract.evaluate(credential, args.function, *args.args)
            return await contract.submit(credential, args.function, *args.args)
        finally:
            await connector.aclose()

    try:
        outcome = asyncio.run(call())
    except ChannelError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # an unknown channel name
        raise SystemExit(f"error: {exc}") from None
    if isinstance(outcome, Submitted):
        result = outcome.result
        tx_note = f"txId {outcome.tx_id} committed in block {outcome.block_number}"
    else:
        result, tx_note = outcome, "(evaluated, not committed)"
    text = result.decode()
    try:
        text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except json.JSONDecodeError:
        pass
    print(text)
    _progress(f"{tx_note} on the {connector.kind} connector")
    return 0


def _on_channel(settings: Settings, call: Callable[[Connector], Awaitable[bytes]]) -> bytes | None:
    """`call` on the command's connector, closed afterwards; None after printing a refusal."""
    import asyncio

    connector = _connector(settings)

    async def run() -> bytes:
        try:
            return await call(connector)
        finally:
            await connector.aclose()

    try:
        return asyncio.run(run())
    except ChannelError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return None
    except ValueError as exc:  # an unknown channel name
        raise SystemExit(f"error: {exc}") from None


def _connector(settings: Settings) -> Connector:
    """The connector a command names, checked to be set up, with a message that says how."""
    if settings.connector == "fabric":
        from ..channel_connectors.fabric import FabricConnector

        _require_fabric(settings)
        return FabricConnector.from_data_dir(settings.data_dir)
    from ..channel_connectors.embedded import EmbeddedConnector

    connector = EmbeddedConnector(settings.data_dir)
    _initialised(connector.network, settings)
    return connector


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    # Before prometheus_client is imported (it picks where values live at import): with more
    # than one process serving, every one writes its series to one directory, and /metrics
    # shows their sum (gateway/metrics.py).
    shared_metrics = _share_metrics() if settings.lane or settings.workers > 1 else None
    try:
        return _serve(settings)
    finally:
        if shared_metrics is not None:
            import shutil

            shutil.rmtree(shared_metrics, ignore_errors=True)


def _share_metrics() -> str | None:
    """A private directory for prometheus_client's multiprocess mode, set in the environment
    that the lane and the workers inherit; None when the operator set one already."""
    import os
    import tempfile

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR") or "prometheus_client" in sys.modules:
        return None  # the operator's own directory, or too late for this process (in-process use)
    directory = tempfile.mkdtemp(prefix="datachannels-metrics-")  # mode 0700
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    return directory


def _serve(settings: Settings) -> int:
    import uvicorn

    from .app import create_app
    from .observe import log_config

    if settings.connector == "embedded":
        from ..channel_connectors.embedded import EmbeddedNetwork, init_data_dir

        embedded = EmbeddedNetwork(settings.data_dir)
        if not embedded.is_initialised():
            _progress(f"first start: initialising {settings.data_dir}")
            init_data_dir(settings.data_dir, _progress)
        else:
            embedded.check_current()
    else:
        _require_fabric(settings)
    _check_port_free(settings.host, settings.port)
    wallet_hint = "datachannels wallet --identity acme --delegate" + (
        "" if settings.data_dir == default_data_dir() else f" --data-dir {settings.data_dir}"
    )
    _progress(
        f"GraphiQL: http://{settings.host}:{settings.port}/graphql  "
        f"(X-Wallet header: the output of `{wallet_hint}`)"
    )
    if settings.workers > 1:
        from . import workers

        if not workers.supported():
            raise SystemExit("error: --workers above 1 needs Linux (SO_REUSEPORT); run one worker")
        if settings.port == 0:
            raise SystemExit("error: --workers above 1 needs a fixed --port (0 gives each its own)")
    # uvicorn stops gracefully on SIGTERM and then raises the signal again; as SystemExit here,
    # it runs the clean-up below (the lane's stop) instead of killing the process outright.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    lane = None
    if settings.lane:
        from .lane import LaneProcess

        # Not waited for: until it answers, large requests run here (gateway/lane.py).
        lane = LaneProcess(_as_environment(settings))
        settings = dataclasses.replace(settings, lane_socket=lane.socket_path)
    try:
        if settings.workers == 1:
            uvicorn.run(
                create_app(settings),
                host=settings.host,
                port=settings.port,
                log_level=settings.log_level,
                log_config=log_config(settings.log_level, settings.log_format),
                access_log=False,  # our own `request` line replaces it (gateway/observe.py)
            )
            return 0
        from . import workers

        # Several processes: each builds its own app from the environment, so what the command
        # line set travels there (gateway/workers.py says why not uvicorn's own --workers).
        return workers.run(
            settings.workers,
            _as_environment(settings),
            settings.host,
            settings.port,
            settings.log_level,
        )
    finally:
        if lane is not None:
            lane.stop()


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _as_environment(settings: Settings) -> dict[str, str]:
    """The DATACHANNELS_* variables that make Settings.from_env() give `settings` again."""
    out = {}
    for spec in dataclasses.fields(settings):
        value = getattr(settings, spec.name)
        if value is not None:
            out[f"DATACHANNELS_{spec.name.upper()}"] = (
                str(value).lower() if isinstance(value, bool) else str(value)
            )
    return out


def _check_port_free(host: str, port: int) -> None:
    """Say so plainly, before start-up, when another server already has the port."""
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise SystemExit(
                f"error: cannot listen on {host}:{port} ({exc.strerror}); is another "
                "`datachannels serve` running? Choose another with --port or DATACHANNELS_PORT"
            ) from None


def _load_fabric(data_dir: Path) -> None:
    from ..channel_connectors.loading import load_fabric

    written = load_fabric(data_dir, _progress)
    total = sum(written.values())
    _progress(
        f"loaded {total} records on Fabric"
        if total
        else "the factor data was already on the Fabric channels"
    )


def cmd_load(args: argparse.Namespace) -> int:
    """`load`: put the factor data and demo records on the channels (skips what is there)."""
    settings = _settings(args)
    try:
        if settings.connector == "fabric":
            _load_fabric(settings.data_dir)
        else:
            cmd_init(args)
    except ChannelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_network(args: argparse.Namespace) -> int:
    """`network up | down | status`: a local Fabric network (see network/local.py)."""
    from ..network.layout import Layout
    from ..network.local import network_down, network_status, network_up

    data_dir = _settings(args).data_dir
    try:
        if args.network_command == "up":
            made = Layout.existing(data_dir)
            network_up(
                data_dir,
                base_port=args.base_port or made.base_port,
                customer_peers=args.customer_peers or made.customer_peers,
                progress=_progress,
            )
            _load_fabric(data_dir)
            print(network_status(data_dir).describe())
        elif args.network_command == "down":
            stopped = network_down(data_dir)
            print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
        else:
            status = network_status(data_dir)
            print(status.describe())
            return 0 if status.all_running else 1
    except (
        RuntimeError,
        ChannelError,
    ) as exc:  # a step failed: the message says which (with a log tail)
        print(f"error: {exc}", file=sys.stderr)
        if args.network_command == "up":
            print(
                "(what did start keeps running: see `datachannels network status`; "
                "`datachannels network down` stops it)",
                file=sys.stderr,
            )
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="datachannels", description="Carbon footprints from audited data channels."
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where identities and the embedded ledger live (default: $DATACHANNELS_DATA_DIR, "
        "else ~/.local/share/datachannels)",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve",
        parents=[common],
        help="run the GraphQL gateway (initialises the data dir on first start)",
    )
    serve.add_argument("--host", default=None, help="interface to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (default 8000)")
    serve.add_argument(
        "--connector", choices=("embedded", "fabric"), default=None, help="default embedded"
    )
    serve.add_argument(
        "--production",
        action="store_true",
        default=None,
        help="accept delegations only: refuse any X-Wallet entry holding a private key "
        "(also DATACHANNELS_PRODUCTION=true)",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=None,
        help="server processes (default 1; also DATACHANNELS_WORKERS); they share the data dir",
    )
    serve.set_defaults(run=cmd_serve)

    load = commands.add_parser(
        "load", parents=[common], help="put the factor data on the channels (skips what is there)"
    )
    load.add_argument(
        "--connector", choices=("embedded", "fabric"), default=None, help="default embedded"
    )
    load.set_defaults(run=cmd_load)

    init = commands.add_parser(
        "init", parents=[common], help="create demo identities and channels, load the factor data"
    )
    init.set_defaults(run=cmd_init)

    wallet = commands.add_parser(
        "wallet", parents=[common], help="list demo identities or print an X-Wallet value"
    )
    group = wallet.add_mutually_exclusive_group(required=True)
    group.add_argument("--list", action="store_true", help="list the demo identities")
    group.add_argument("--identity", metavar="NAME", help="print NAME's X-Wallet header value")
    wallet.add_argument(
        "--delegate",
        action="store_true",
        help="print delegations signed by NAME (no private key): what production gateways take",
    )
    wallet.add_argument("--ttl", help="how long the delegation lives: 90s, 10m (default), 1h")
    wallet.add_argument("--channels", help="comma-separated channels (default: all)")
    wallet.add_argument("--actions", help="comma-separated: read, publish (default: read,publish)")
    wallet.add_argument(
        "--publishes", type=int, help="how many footprints it may publish (default 1)"
    )
    wallet.add_argument(
        "--token",
        help="with --delegate: a provider's grant (`token issue`) to carry on --channels",
    )
    wallet.add_argument(
        "--audience",
        metavar="FINGERPRINT",
        help="the relay it is for, sha256:… (default: this data dir's relay)",
    )
    wallet.set_defaults(run=cmd_wallet)

    ledger = commands.add_parser("ledger", help="inspect the embedded ledger")
    ledger_commands = ledger.add_subparsers(dest="ledger_command", required=True)
    verify = ledger_commands.add_parser(
        "verify",
        parents=[common],
        help="check every channel's hash chain, signatures and world state",
    )
    verify.set_defaults(run=cmd_ledger_verify)

    chaincode = commands.add_parser(
        "chaincode", help="call a channel's contract as a demo identity"
    )
    chaincode_commands = chaincode.add_subparsers(dest="action", required=True)
    for action, text in (
        ("query", "evaluate (nothing is written)"),
        ("invoke", "submit and commit"),
    ):
        sub = chaincode_commands.add_parser(action, parents=[common], help=text)
        sub.add_argument(
            "--channel", required=True, help="utility, shipping, airline, commodity or footprint"
        )
        sub.add_argument(
            "--as", dest="as_", required=True, metavar="NAME", help="the demo identity that signs"
        )
        sub.add_argument(
            "--connector",
            choices=("embedded", "fabric"),
            default=None,
            help="the embedded ledger (default) or the network `network up` started",
        )
        sub.add_argument("function")
        sub.add_argument("args", nargs="*")
        sub.set_defaults(run=cmd_chaincode)

    token = commands.add_parser(
        "token", help="a data provider's access grants: issue, revoke, list (issue 13)"
    )
    token_commands = token.add_subparsers(dest="token_command", required=True)
    for name, text in (
        ("issue", "sign a grant for a consumer, record it on the channel, print the token"),
        ("revoke", "record a grant's revocation on the channel"),
        ("list", "the channel's grants (for its writers)"),
    ):
        sub = token_commands.add_parser(name, parents=[common], help=text)
        sub.add_argument("--provider", required=True, metavar="NAME", help="a writer, e.g. auditor")
        sub.add_argument("--channel", required=True, help="utility, shipping, airline or commodity")
        sub.add_argument("--connector", choices=("embedded", "fabric"), default=None)
        if name == "issue":
            sub.add_argument("--consumer", required=True, help="a demo identity, e.g. outsider")
            sub.add_argument(
                "--kinds", required=True, help="comma-separated factor kinds, e.g. grid_rate"
            )
            sub.add_argument("--expires", required=True, help="ISO date or time (UTC if no zone)")
            sub.add_argument("--fee", default="0", help="per access (decimal; default 0)")
            sub.add_argument("--currency", default="USD")
            sub.add_argument("--max-uses", type=int, default=None, help="the cap (default none)")
            sub.add_argument(
                "--bind",
                choices=("organisation", "certificate"),
                default="organisation",
                help="who may use it: the consumer's organisation (default) or its certificate",
            )
        if name == "revoke":
            sub.add_argument(
                "grant_id",
                metavar="GRANT",
                help="the grant's id (from `token list`, or as `token issue` said) or the token",
            )
        sub.set_defaults(run=cmd_token)

    usage = commands.add_parser(
        "usage", parents=[common], help="the bill: accesses and fees under a channel's grants"
    )
    usage.add_argument("--channel", required=True, help="utility, shipping, airline or commodity")
    usage.add_argument(
        "--as", dest="as_", required=True, metavar="NAME", help="auditor, operator, or a consumer"
    )
    usage.add_argument("--token", default=None, help="a consumer's grant (its own usage only)")
    usage.add_argument("--from", dest="from_", default=None, help="ISO date or time (included)")
    usage.add_argument("--to", default=None, help="ISO date or time (excluded)")
    usage.add_argument(
        "--per", choices=("day", "month"), default="month", help="totals per calendar period (UTC)"
    )
    usage.add_argument("--connector", choices=("embedded", "fabric"), default=None)
    usage.set_defaults(run=cmd_usage)

    network = commands.add_parser("network", help="a local Hyperledger Fabric network (no Docker)")
    network_commands = network.add_subparsers(dest="network_command", required=True)
    up = network_commands.add_parser(
        "up", parents=[common], help="start it (idempotent: completes what is missing)"
    )
    up.add_argument(
        "--base-port",
        type=int,
        default=None,
        help="first of the loopback ports it uses (default: the one it was made with, else 7050)",
    )
    up.add_argument(
        "--customer-peers",
        action="store_true",
        help="also run a peer for AcmeMSP and one for GlobexMSP (when the network is first made)",
    )
    network_commands.add_parser(
        "down", parents=[common], help="stop the processes `network up` started"
    )
    network_commands.add_parser(
        "status", parents=[common], help="each process: pid, running, port (exit 1 unless all run)"
    )
    network.set_defaults(run=cmd_network)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except ValueError as exc:  # settings errors
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ChannelError as exc:  # e.g. a data directory this version cannot use
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

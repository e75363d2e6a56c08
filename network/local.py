"""`datachannels network up | down | status`: a local Fabric network without Docker.

One etcdraft orderer (OperatorMSP), one peer of the auditors (AuditorsMSP)
joined to the five channels (optionally one peer each for AcmeMSP and
GlobexMSP too), and one chaincode-as-a-service server per channel serving that
channel's contract; all on 127.0.0.1, all under `<data dir>/fabric/` (see
`layout.py` for the folders and ports).

`network_up` is idempotent: every step checks what is already there (MSP
material, genesis blocks, running processes, joined channels, installed and
committed chaincode) and does only what is missing, so a second call on a
running network returns at once, and a call after `network_down` restarts the
processes on their existing ledgers.  `network_down` stops exactly the
processes whose PID files it wrote.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..chaincode import CHANNELS
from ..channel_connectors.identities import OPERATOR_MSP, IdentityStore
from .admin import FabricTools
from .configtx import ensure_channel_blocks
from .crypto import ensure_fabric_crypto
from .fabric_build import FabricInstall, ensure_fabric_binaries
from .layout import DEFAULT_BASE_PORT, HOST, ORDERER_NAME, Layout, PeerNode
from .lifecycle import ensure_builder, ensure_committed, ensure_installed, installed_package_ids
from .processes import (
    ProcessError,
    ProcessRecord,
    ProcessTable,
    ensure_port_free,
    exclusive_lock,
    healthz_ok,
    is_running,
    port_open,
    rss_kib,
    wait_until_ready,
)

Progress = Callable[[str], None]


def print_to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ------------------------------------------------------------------- results


@dataclass(frozen=True)
class ProcessStatus:
    name: str
    pid: int | None
    running: bool
    port: int
    rss_kib: int | None = None
    log: Path | None = None


@dataclass(frozen=True)
class NetworkStatus:
    data_dir: Path
    processes: tuple[ProcessStatus, ...]

    @property
    def all_running(self) -> bool:
        return bool(self.processes) and all(p.running for p in self.processes)

    @property
    def any_running(self) -> bool:
        return any(p.running for p in self.processes)

    def describe(self) -> str:
        if not self.processes:
            return (
                f"no Fabric network in {self.data_dir / 'fabric'} (run `datachannels network up`)"
            )
        lines = [f"{'process':<22} {'pid':>8}  {'state':<8} {'port':>6}  {'memory':>9}"]
        for p in self.processes:
            memory = f"{p.rss_kib / 1024:.0f} MiB" if p.rss_kib else "-"
            lines.append(
                f"{p.name:<22} {p.pid or '-':>8}  {'running' if p.running else 'stopped':<8} "
                f"{p.port:>6}  {memory:>9}"
            )
        return "\n".join(lines)


@dataclass(frozen=True)
class FabricNetwork:
    data_dir: Path
    layout: Layout
    install: FabricInstall
    connection_profile: Path
    package_ids: dict[str, str]
    started: tuple[str, ...] = field(default=())  # processes this call started
    seconds: float = 0.0

    @property
    def peers(self) -> tuple[PeerNode, ...]:
        return self.layout.peers

    @property
    def orderer_endpoint(self) -> str:
        return self.layout.orderer_endpoint

    def tools(self) -> FabricTools:
        return FabricTools(self.install, self.layout)


# --------------------------------------------------------------- process names


def _chaincode_process(channel: str) -> str:
    return f"chaincode-{channel}"


def _process_ports(layout: Layout) -> dict[str, dict[str, int]]:
    """Every process a complete network runs, in start order, with the ports it listens on."""
    ports = {
        ORDERER_NAME: {
            "gRPC": layout.orderer_port,
            "admin": layout.orderer_admin_port,
            "operations": layout.orderer_operations_port,
        }
    }
    for peer in layout.peers:
        ports[peer.name] = {
            "gRPC": peer.port,
            "chaincode": peer.chaincode_port,
            "operations": peer.operations_port,
        }
    for channel in CHANNELS:
        ports[_chaincode_process(channel)] = {"gRPC": layout.chaincode_port(channel)}
    return ports


def _expected_processes(layout: Layout) -> list[tuple[str, int]]:
    """(name, main port) of every process a complete network runs, in start order."""
    return [(name, next(iter(ports.values()))) for name, ports in _process_ports(layout).items()]


def _check_ports_free(layout: Layout, table: ProcessTable) -> None:
    """Before anything starts: every port a process of ours would take must be free."""
    for name, ports in _process_ports(layout).items():
        if table.running(name) is None:
            for what, port in ports.items():
                ensure_port_free(port, f"{name} ({what})")


# ---------------------------------------------------------------------- up


def network_up(
    data_dir: Path,
    *,
    base_port: int = DEFAULT_BASE_PORT,
    customer_peers: bool = False,
    progress: Progress = print_to_stderr,
) -> FabricNetwork:
    """Bring the local network up (or complete it); returns what runs and where.

    `customer_peers` also runs a peer for AcmeMSP and one for GlobexMSP (gossip
    through anchor peers); the auditors' peer still endorses everything.
    """
    started_at = time.monotonic()
    layout = Layout(Path(data_dir).expanduser().resolve(), base_port, customer_peers)
    install = ensure_fabric_binaries(progress=progress)
    with exclusive_lock(layout.root / ".lock"):
        layout.check_settings()
        return _up(layout, install, started_at, progress)


def _up(
    layout: Layout, install: FabricInstall, started_at: float, progress: Progress
) -> FabricNetwork:
    table = ProcessTable(layout.run_dir, layout.log_dir)

    if _already_up(layout, table):
        network = FabricNetwork(
            layout.data_dir, layout, install, layout.connection_profile, _saved_package_ids(layout)
        )
        progress(
            f"Fabric network in {layout.root} is already running "
            f"(connection profile: {layout.connection_profile})"
        )
        return network

    progress(f"Starting a local Fabric network (Fabric {install.version}) in {layout.root}")
    _check_ports_free(layout, table)
    _step(progress, "identities and MSP folders")
    store = IdentityStore(layout.data_dir)
    store.ensure()
    ensure_fabric_crypto(layout, store, progress)

    _step(progress, "node configuration, chaincode builder and channel genesis blocks")
    _write_node_config(layout, install)
    builder = ensure_builder(layout)
    ensure_channel_blocks(layout, install.path("configtxgen"), progress)

    tools = FabricTools(install, layout)
    started: list[str] = []
    _step(progress, "orderer")
    if _start_orderer(layout, install, table, progress):
        started.append(ORDERER_NAME)
    _join_orderer(tools, progress)
    for attempt in range(ORDERER_RESTARTS + 1):
        stuck = _wait_for_raft_leaders(
            layout, LEADER_WAIT_S if attempt < ORDERER_RESTARTS else 60.0
        )
        if not stuck:
            break
        if attempt == ORDERER_RESTARTS:
            raise ProcessError(
                f"the orderer elected no Raft leader for {', '.join(stuck)} "
                f"after {ORDERER_RESTARTS} restarts; see {layout.log_dir / (ORDERER_NAME + '.log')}"
            )
        # Fabric issue #4199: replaying a Raft configuration change from the WAL at start-up can
        # deadlock a channel (its run loop and its node wait on each other), and this Fabric
        # build predates the fix.  It strikes at random, so a restart clears it.
        progress(
            f"  no Raft leader for {', '.join(stuck)} after {LEADER_WAIT_S:.0f} s "
            "(Fabric issue #4199, a start-up deadlock); restarting the orderer"
        )
        table.stop(ORDERER_NAME)
        if _start_orderer(layout, install, table, progress) and ORDERER_NAME not in started:
            started.append(ORDERER_NAME)

    _step(progress, "peers" if len(layout.peers) > 1 else "peer")
    for peer in layout.peers:
        if _start_peer(layout, install, table, peer, builder, progress):
            started.append(peer.name)
    _join_peers(tools, progress)

    _step(progress, "chaincode (as a service) on every channel")
    package_ids = _ensure_chaincode(tools, table, started, progress)

    _write_connection_profile(layout)
    _save_package_ids(layout, package_ids)
    _step(progress, "membership records (what delegations are checked against)")
    ensure_membership_records(layout.data_dir, store, progress)
    seconds = time.monotonic() - started_at
    progress(
        f"Fabric network up in {seconds:.1f} s; connection profile: {layout.connection_profile}"
    )
    return FabricNetwork(
        layout.data_dir,
        layout,
        install,
        layout.connection_profile,
        package_ids,
        tuple(started),
        seconds,
    )


def _step(progress: Progress, what: str) -> None:
    progress(f"- {what}")


def _already_up(layout: Layout, table: ProcessTable) -> bool:
    return layout.connection_profile.exists() and all(
        table.running(name) is not None for name, _ in _expected_processes(layout)
    )


# --------------------------------------------------------------- node config


def _write_node_config(layout: Layout, install: FabricInstall) -> None:
    """core.yaml and orderer.yaml from the build's sampleconfig; our settings come as env vars."""
    layout.config_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    shutil.copyfile(install.config_dir / "orderer.yaml", layout.config_dir / "orderer.yaml")
    core = (install.config_dir / "core.yaml").read_text()
    # An empty CORE_VM_ENDPOINT counts as unset for the peer's configuration reader, so the
    # Docker endpoint is emptied in the file itself: no Docker builder, no Docker health check.
    docker = "endpoint: unix:///var/run/docker.sock"
    if docker not in core:
        raise RuntimeError(
            f"{install.config_dir / 'core.yaml'} has no `vm.{docker}` line to disable Docker"
        )
    (layout.config_dir / "core.yaml").write_text(core.replace(docker, 'endpoint: ""', 1))


def _base_env(layout: Layout) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "FABRIC_CFG_PATH": str(layout.config_dir),
        "FABRIC_LOGGING_SPEC": "INFO",
        # Fabric's default format colours its output even into a file; a log's tail goes into error
        # messages.
        "FABRIC_LOGGING_FORMAT": "%{time:2006-01-02 15:04:05.000 MST} %{level:.4s} [%{module}] "
        "%{shortfunc} -> %{message}",
    }


def _orderer_env(layout: Layout) -> dict[str, str]:
    node = layout.node_dir(OPERATOR_MSP, ORDERER_NAME)
    admin_ca = layout.ca_cert(OPERATOR_MSP)
    ledger = layout.ledgers / ORDERER_NAME
    return {
        **_base_env(layout),
        "ORDERER_GENERAL_LISTENADDRESS": HOST,
        "ORDERER_GENERAL_LISTENPORT": str(layout.orderer_port),
        "ORDERER_GENERAL_LOCALMSPID": OPERATOR_MSP,
        "ORDERER_GENERAL_LOCALMSPDIR": str(node / "msp"),
        "ORDERER_GENERAL_TLS_ENABLED": "true",
        "ORDERER_GENERAL_TLS_CERTIFICATE": str(node / "tls" / "server.crt"),
        "ORDERER_GENERAL_TLS_PRIVATEKEY": str(node / "tls" / "server.key"),
        "ORDERER_GENERAL_TLS_ROOTCAS": f"[{node / 'tls' / 'ca.crt'}]",
        # Fabric 3.x style: no system channel; channels are joined through the admin API.
        "ORDERER_GENERAL_BOOTSTRAPMETHOD": "none",
        "ORDERER_CHANNELPARTICIPATION_ENABLED": "true",
        "ORDERER_FILELEDGER_LOCATION": str(ledger / "chains"),
        "ORDERER_CONSENSUS_WALDIR": str(ledger / "etcdraft" / "wal"),
        "ORDERER_CONSENSUS_SNAPDIR": str(ledger / "etcdraft" / "snapshot"),
        "ORDERER_OPERATIONS_LISTENADDRESS": f"{HOST}:{layout.orderer_operations_port}",
        # /metrics tells when each channel's Raft has a leader (see _wait_for_raft_leaders).
        "ORDERER_METRICS_PROVIDER": "prometheus",
        # The admin API (osnadmin) wants mutual TLS: only the operator's admin may join channels.
        "ORDERER_ADMIN_LISTENADDRESS": f"{HOST}:{layout.orderer_admin_port}",
        "ORDERER_ADMIN_TLS_ENABLED": "true",
        "ORDERER_ADMIN_TLS_CERTIFICATE": str(node / "tls" / "server.crt"),
        "ORDERER_ADMIN_TLS_PRIVATEKEY": str(node / "tls" / "server.key"),
        "ORDERER_ADMIN_TLS_CLIENTAUTHREQUIRED": "true",
        "ORDERER_ADMIN_TLS_CLIENTROOTCAS": f"[{admin_ca}]",
    }


def _peer_env(layout: Layout, peer: PeerNode, builder: Path) -> dict[str, str]:
    node = layout.node_dir(peer.msp_id, peer.name)
    ledger = layout.ledgers / peer.name
    return {
        **_base_env(layout),
        "CORE_PEER_ID": peer.name,
        "CORE_PEER_ADDRESS": peer.endpoint,
        "CORE_PEER_LISTENADDRESS": peer.endpoint,
        "CORE_PEER_CHAINCODEADDRESS": f"{HOST}:{peer.chaincode_port}",
        "CORE_PEER_CHAINCODELISTENADDRESS": f"{HOST}:{peer.chaincode_port}",
        "CORE_PEER_GOSSIP_BOOTSTRAP": peer.endpoint,
        "CORE_PEER_GOSSIP_EXTERNALENDPOINT": peer.endpoint,
        "CORE_PEER_LOCALMSPID": peer.msp_id,
        "CORE_PEER_MSPCONFIGPATH": str(node / "msp"),
        "CORE_PEER_TLS_ENABLED": "true",
        "CORE_PEER_TLS_CERT_FILE": str(node / "tls" / "server.crt"),
        "CORE_PEER_TLS_KEY_FILE": str(node / "tls" / "server.key"),
        "CORE_PEER_TLS_ROOTCERT_FILE": str(node / "tls" / "ca.crt"),
        "CORE_OPERATIONS_LISTENADDRESS": f"{HOST}:{peer.operations_port}",
        "CORE_PEER_FILESYSTEMPATH": str(ledger),
        "CORE_LEDGER_SNAPSHOTS_ROOTDIR": str(ledger / "snapshots"),
        "CORE_VM_ENDPOINT": "",
        "CORE_CHAINCODE_EXTERNALBUILDERS": f'[{{name: ccaas, path: "{builder}"}}]',
    }


# ------------------------------------------------------------------ orderer


def _start_node(
    layout: Layout,
    table: ProcessTable,
    name: str,
    argv: list[str],
    env: dict[str, str],
    progress: Progress,
) -> bool:
    """Start a node unless it runs; wait for its /healthz. True if started now."""
    ports = _process_ports(layout)[name]
    running = table.running(name)
    if running is None:
        for what, port in ports.items():
            ensure_port_free(port, f"{name} ({what})")
        running = table.start(name, argv, env, ports["gRPC"])
        started = True
    else:
        started = False
    seconds = wait_until_ready(running, lambda: healthz_ok(ports["operations"]), name)
    if started:
        progress(
            f"  {name} started (pid {running.pid}, ready in {seconds:.1f} s); log: {running.log}"
        )
    else:
        progress(f"  {name} already running (pid {running.pid})")
    return started


def _start_orderer(
    layout: Layout, install: FabricInstall, table: ProcessTable, progress: Progress
) -> bool:
    return _start_node(
        layout, table, ORDERER_NAME, [str(install.path("orderer"))], _orderer_env(layout), progress
    )


def _join_orderer(tools: FabricTools, progress: Progress) -> None:
    joined = tools.orderer_channels()
    for channel in CHANNELS:
        if channel not in joined:
            tools.osnadmin(
                [
                    "channel",
                    "join",
                    "--channelID",
                    channel,
                    "--config-block",
                    str(tools.layout.channel_block(channel)),
                ],
                f"joining the orderer to {channel}",
                retries=3,
            )
            progress(f"  orderer joined channel {channel}")


# A restarted orderer elects its leaders within about 10 s here (election timeout plus jitter).
LEADER_WAIT_S = 30.0
ORDERER_RESTARTS = 2


def _wait_for_raft_leaders(layout: Layout, timeout: float) -> list[str]:
    """Until every channel's Raft has a leader, the orderer refuses transactions (UNAVAILABLE).

    Returns the channels still without a leader when `timeout` ran out (none: all is well).
    """
    import re
    import urllib.request

    url = f"http://{HOST}:{layout.orderer_operations_port}/metrics"
    deadline = time.monotonic() + timeout
    waiting: set[str] = set(CHANNELS)
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                text = response.read().decode()
            leaders = set(
                re.findall(
                    r'^consensus_etcdraft_is_leader\{channel="([^"]+)"\} 1(?:\.0)?$',
                    text,
                    re.MULTILINE,
                )
            )
            waiting = set(CHANNELS) - leaders
        except OSError:
            pass
        if not waiting or time.monotonic() > deadline:
            return sorted(waiting)
        time.sleep(0.2)


# --------------------------------------------------------------------- peer


def _start_peer(
    layout: Layout,
    install: FabricInstall,
    table: ProcessTable,
    peer: PeerNode,
    builder: Path,
    progress: Progress,
) -> bool:
    return _start_node(
        layout,
        table,
        peer.name,
        [str(install.path("peer")), "node", "start"],
        _peer_env(layout, peer, builder),
        progress,
    )


def _peer_channels(tools: FabricTools, peer: PeerNode) -> set[str]:
    output = tools.peer(
        ["channel", "list"], f"listing the channels of {peer.name}", peer=peer, retries=5
    )
    # "Channels peers has joined:" followed by one name a line.
    return {line.strip() for line in output.splitlines()[1:] if line.strip() in CHANNELS}


def _join_peers(tools: FabricTools, progress: Progress) -> None:
    for peer in tools.layout.peers:
        joined = _peer_channels(tools, peer)
        for channel in CHANNELS:
            if channel not in joined:
                tools.peer(
                    ["channel", "join", "--blockpath", str(tools.layout.channel_block(channel))],
                    f"joining {peer.name} to {channel}",
                    peer=peer,
                    retries=5,
                )
                progress(f"  {peer.name} joined channel {channel}")


# ---------------------------------------------------------------- chaincode


def _chaincode_argv(channel: str, address: str, package_id: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "datachannels.chaincode.server",
        "--channel",
        channel,
        "--address",
        address,
        "--chaincode-id",
        package_id,
    ]


def _start_chaincode_server(
    layout: Layout, table: ProcessTable, channel: str, package_id: str
) -> bool:
    name = _chaincode_process(channel)
    port = layout.chaincode_port(channel)
    argv = _chaincode_argv(channel, f"{HOST}:{port}", package_id)
    running = table.running(name)
    if running is not None and running.argv == tuple(argv):
        return False
    if running is not None:  # an older package id: replace it
        table.stop(name)
    ensure_port_free(port, f"the {channel} chaincode server")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "PYTHONUNBUFFERED": "1",
    }
    if "PYTHONPATH" in os.environ:  # run the same code as this process
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    record = table.start(name, argv, env, port)
    wait_until_ready(record, lambda: port_open(port), f"the {channel} chaincode server", timeout=30)
    return True


def _ensure_chaincode(
    tools: FabricTools, table: ProcessTable, started: list[str], progress: Progress
) -> dict[str, str]:
    """Install each channel's package, start its server (before any invoke), approve and commit."""
    layout = tools.layout
    package_ids: dict[str, str] = {}
    for peer in layout.peers:
        installed = installed_package_ids(tools, peer)
        for channel in CHANNELS:
            package_ids[channel] = ensure_installed(tools, peer, channel, installed, progress)
    for channel, package_id in package_ids.items():
        if _start_chaincode_server(layout, table, channel, package_id):
            started.append(_chaincode_process(channel))
            progress(
                f"  chaincode server for {channel} listening on "
                f"{HOST}:{layout.chaincode_port(channel)}"
            )
    # Each definition waits for its block: the five channels go in parallel.
    with ThreadPoolExecutor(max_workers=len(CHANNELS)) as pool:
        for done in [
            pool.submit(ensure_committed, tools, channel, package_ids[channel], progress)
            for channel in CHANNELS
        ]:
            done.result()
    return package_ids


def ensure_membership_records(data_dir: Path, store: IdentityStore, progress: Progress) -> None:
    """Write each channel's membership record once, as the operator's admin, through the Gateway.

    The same record the embedded ledger writes at set-up (`IdentityStore.membership`): the
    member organisations' CAs that a delegation's certificate must chain to.
    """
    import asyncio

    from ..channel_connectors.errors import ChannelError
    from ..channel_connectors.fabric import FabricConnector
    from ..channel_connectors.identities import OPERATOR

    operator = store.signing_identity(OPERATOR)
    record = store.membership()

    async def write_all() -> list[str]:
        connector = FabricConnector.from_data_dir(data_dir, timeout=30.0)
        written = []
        try:
            for channel in CHANNELS:
                try:
                    await connector.evaluate(channel, operator, "membership")
                except ChannelError as error:
                    if error.code != "NOT_FOUND":
                        raise
                    await connector.submit(channel, operator, "set_membership", [record])
                    written.append(channel)
        finally:
            await connector.aclose()
        return written

    written = asyncio.run(write_all())
    progress(
        f"  membership record written on {', '.join(written)}"
        if written
        else "  every channel has its membership record"
    )


# ------------------------------------------------------- connection profile


def connection_profile(layout: Layout) -> dict[str, object]:
    """What the Fabric connector needs: peers (Gateway endpoints), channels, chaincode names."""
    return {
        "peers": [
            {
                "name": peer.name,
                "mspId": peer.msp_id,
                "endpoint": peer.endpoint,
                "tlsRootCert": str(layout.ca_cert(peer.msp_id)),
            }
            for peer in layout.peers
        ],
        "orderers": [
            {
                "name": ORDERER_NAME,
                "mspId": OPERATOR_MSP,
                "endpoint": layout.orderer_endpoint,
                "tlsRootCert": str(layout.ca_cert(OPERATOR_MSP)),
            }
        ],
        "channels": list(CHANNELS),
        "chaincodes": {channel: channel for channel in CHANNELS},
    }


def _write_connection_profile(layout: Layout) -> None:
    staged = layout.connection_profile.with_suffix(".tmp")
    staged.write_text(json.dumps(connection_profile(layout), indent=2) + "\n")
    staged.replace(layout.connection_profile)


def _save_package_ids(layout: Layout, package_ids: dict[str, str]) -> None:
    (layout.root / "chaincode" / "package-ids.json").write_text(
        json.dumps(package_ids, indent=2) + "\n"
    )


def _saved_package_ids(layout: Layout) -> dict[str, str]:
    try:
        return dict(json.loads((layout.root / "chaincode" / "package-ids.json").read_text()))
    except (FileNotFoundError, ValueError):
        return {}


# ---------------------------------------------------------- status and down


def network_status(data_dir: Path) -> NetworkStatus:
    layout = Layout.existing(Path(data_dir).expanduser().resolve())
    table = ProcessTable(layout.run_dir, layout.log_dir)
    if not layout.settings_file.exists():
        return NetworkStatus(layout.data_dir, ())
    statuses = []
    for name, port in _expected_processes(layout):
        record = table.record(name)
        running = record is not None and is_running(record)
        statuses.append(
            ProcessStatus(
                name,
                record.pid if record else None,
                running,
                port,
                rss_kib(record.pid) if running and record else None,
                record.log if record else None,
            )
        )
    return NetworkStatus(layout.data_dir, tuple(statuses))


def network_down(data_dir: Path) -> list[str]:
    """Stop what `network_up` started (chaincode servers, peers, orderer); returns their names."""
    layout = Layout.existing(Path(data_dir).expanduser().resolve())
    if not layout.root.exists():
        return []
    with exclusive_lock(layout.root / ".lock"):
        return _down(layout)


def _down(layout: Layout) -> list[str]:
    table = ProcessTable(layout.run_dir, layout.log_dir)
    stopped = []
    order = [name for name, _ in reversed(_expected_processes(layout))]
    others = [
        r.name for r in table.records() if r.name not in order
    ]  # from an older layout, if any
    for name in [*order, *others]:
        if table.stop(name):
            stopped.append(name)
    leftovers: list[ProcessRecord] = [r for r in table.records() if is_running(r)]
    if leftovers:
        raise ProcessError(
            "still running after stop: " + ", ".join(f"{r.name} (pid {r.pid})" for r in leftovers)
        )
    return stopped


__all__ = [
    "FabricNetwork",
    "NetworkStatus",
    "ProcessStatus",
    "connection_profile",
    "network_down",
    "network_status",
    "network_up",
    "print_to_stderr",
]

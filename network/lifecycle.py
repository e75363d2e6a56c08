"""Chaincode as a service: the peer's external builder, the packages, and the lifecycle.

The peer runs no chaincode itself.  Each channel's package holds only a
`connection.json` naming where our chaincode server listens; the external
builder (three tiny shell scripts written here) hands that file to the peer,
which then dials the server (several peers may share one server).  The
chaincode on each channel is named after the channel, version 1, sequence 1,
approved by the auditors (the channel's LifecycleEndorsement policy names only
their peer) and by every other organisation that runs a peer, and committed.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path

from ..channel_connectors.identities import AUDITORS_MSP
from .admin import FabricCommandError, FabricTools
from .layout import CHAINCODE_SEQUENCE, CHAINCODE_VERSION, HOST, Layout, PeerNode

BUILDER_NAME = "ccaas"

# Arguments, per Fabric's external builder contract:
#   detect  CHAINCODE_SOURCE_DIR CHAINCODE_METADATA_DIR
#   build   CHAINCODE_SOURCE_DIR CHAINCODE_METADATA_DIR BUILD_OUTPUT_DIR
#   release BUILD_OUTPUT_DIR RELEASE_OUTPUT_DIR
_BUILDER_SCRIPTS = {
    "detect": """#!/bin/sh
# Ours when the package's metadata.json says "type": "ccaas".
grep -Eq '"type"[[:space:]]*:[[:space:]]*"ccaas"' "$2/metadata.json"
""",
    "build": """#!/bin/sh
# Nothing to compile: keep the package's connection.json.
set -e
cp "$1/connection.json" "$3/connection.json"
""",
    "release": """#!/bin/sh
# Tell the peer where the chaincode server listens.
set -e
mkdir -p "$2/chaincode/server"
cp "$1/connection.json" "$2/chaincode/server/connection.json"
""",
}


def label(channel: str) -> str:
    return f"{channel}_{CHAINCODE_VERSION}"


def ensure_builder(layout: Layout) -> Path:
    """Write the ccaas external builder; returns its folder (for chaincode.externalBuilders)."""
    folder = layout.builders_dir / BUILDER_NAME
    for name, text in _BUILDER_SCRIPTS.items():
        script = folder / "bin" / name
        script.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not script.exists() or script.read_text() != text:
            script.write_text(text)
        script.chmod(0o755)
    return folder


def _tar_gz(files: dict[str, bytes]) -> bytes:
    """A reproducible .tar.gz: fixed order, owner, mode and times, so the package id is stable."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    packed = io.BytesIO()
    with gzip.GzipFile(fileobj=packed, mode="wb", mtime=0) as gz:
        gz.write(raw.getvalue())
    return packed.getvalue()


def package_bytes(layout: Layout, channel: str) -> bytes:
    connection = {
        "address": f"{HOST}:{layout.chaincode_port(channel)}",
        "dial_timeout": "10s",
        "tls_required": False,
    }
    code = _tar_gz({"connection.json": json.dumps(connection, indent=2).encode()})
    metadata = {"type": BUILDER_NAME, "label": label(channel)}
    return _tar_gz({"metadata.json": json.dumps(metadata).encode(), "code.tar.gz": code})


def ensure_package(layout: Layout, channel: str) -> tuple[Path, str]:
    """Write the channel's package; returns (path, package id) — the id is label:sha256(package)."""
    data = package_bytes(layout, channel)
    path = layout.chaincode_package(channel)
    if not path.exists() or path.read_bytes() != data:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.write_bytes(data)
    return path, f"{label(channel)}:{hashlib.sha256(data).hexdigest()}"


def installed_package_ids(tools: FabricTools, peer: PeerNode) -> set[str]:
    output = tools.peer(
        ["lifecycle", "chaincode", "queryinstalled", "--output", "json"],
        f"listing the chaincode installed on {peer.name}",
        peer=peer,
        retries=3,
    )
    listing = json.loads(output or "{}")
    return {entry["package_id"] for entry in listing.get("installed_chaincodes") or []}


def ensure_installed(
    tools: FabricTools,
    peer: PeerNode,
    channel: str,
    installed: set[str],
    progress: Callable[[str], None],
) -> str:
    path, package_id = ensure_package(tools.layout, channel)
    if package_id not in installed:
        tools.peer(
            ["lifecycle", "chaincode", "install", str(path)],
            f"installing chaincode {label(channel)} on {peer.name}",
            peer=peer,
            retries=3,
        )
        progress(f"  installed chaincode package {package_id[:24]}… on {peer.name}")
    return package_id


def is_committed(tools: FabricTools, channel: str) -> bool:
    env = tools.peer_env(tools.layout.gateway_peer, AUDITORS_MSP)
    result = tools.run(
        "peer",
        [
            "lifecycle",
            "chaincode",
            "querycommitted",
            "--channelID",
            channel,
            "--name",
            channel,
            "--output",
            "json",
        ],
        env,
    )
    if result.returncode != 0:
        return False
    definition = json.loads(result.output)
    return bool(
        definition.get("sequence") == CHAINCODE_SEQUENCE
        and definition.get("version") == CHAINCODE_VERSION
    )


def _is_approved(tools: FabricTools, peer: PeerNode, channel: str) -> bool:
    env = tools.peer_env(peer, peer.msp_id)
    result = tools.run(
        "peer",
        [
            "lifecycle",
            "chaincode",
            "queryapproved",
            "--channelID",
            channel,
            "--name",
            channel,
            "--sequence",
            str(CHAINCODE_SEQUENCE),
            "--output",
            "json",
        ],
        env,
    )
    return result.returncode == 0


def ensure_committed(
    tools: FabricTools, channel: str, package_id: str, progress: Callable[[str], None]
) -> None:
    """Approve the channel's chaincode definition for each organisation with a peer, then commit it.

    The auditors' approval alone satisfies the LifecycleEndorsement policy; a
    customer's organisation approves too when it runs a peer, since a peer runs
    only the package its own organisation approved.
    """
    definition = [
        "--channelID",
        channel,
        "--name",
        channel,
        "--version",
        CHAINCODE_VERSION,
        "--sequence",
        str(CHAINCODE_SEQUENCE),
    ]
    for peer in tools.layout.peers:  # one peer per organisation; the auditors' first
        if not _is_approved(tools, peer, channel):
            tools.peer(
                [
                    "lifecycle",
                    "chaincode",
                    "approveformyorg",
                    *tools.orderer_args(),
                    *definition,
                    "--package-id",
                    package_id,
                ],
                f"approving chaincode {channel} for {peer.msp_id}",
                peer=peer,
                retries=6,
            )
    if is_committed(tools, channel):
        return
    auditors = tools.layout.gateway_peer
    try:
        tools.peer(
            [
                "lifecycle",
                "chaincode",
                "commit",
                *tools.orderer_args(),
                *definition,
                "--peerAddresses",
                auditors.endpoint,
                "--tlsRootCertFiles",
                str(tools.layout.ca_cert(auditors.msp_id)),
            ],
            f"committing chaincode {channel} on channel {channel}",
            retries=6,
        )
    except FabricCommandError:
        if not is_committed(tools, channel):  # a retried commit may find the first one landed
            raise
    progress(f"  chaincode {channel} approved and committed on channel {channel}")

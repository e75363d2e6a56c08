"""Running Fabric's command-line tools (`peer`, `osnadmin`) as a given identity."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..channel_connectors.identities import OPERATOR_MSP
from .fabric_build import FabricInstall
from .layout import Layout, PeerNode

# Errors a freshly started orderer or peer gives while it settles (no Raft leader
# yet, the channel's first blocks not delivered yet): worth a few more tries.
_TRANSIENT = (
    "SERVICE_UNAVAILABLE",
    "no Raft leader",
    "connection refused",
    "not found",
    "Unavailable",
    "failed to connect",
    "could not be reached",
    "context deadline exceeded",
    "not yet",
    "access denied",  # a peer that has not yet received the channel's config
)


class FabricCommandError(RuntimeError):
    """A Fabric command failed; the message ends with its output."""


@dataclass(frozen=True)
class CommandResult:
    returncode: int
    output: str


class FabricTools:
    """`peer` and `osnadmin` of one build, pointed at one network."""

    def __init__(self, install: FabricInstall, layout: Layout) -> None:
        self.install = install
        self.layout = layout

    # ------------------------------------------------------------ identities
    def msp_dir(self, msp_id: str, user: str = "Admin") -> Path:
        return self.layout.user_msp(msp_id, user)

    def peer_env(self, peer: PeerNode, msp_id: str, user: str = "Admin") -> dict[str, str]:
        """Environment for the `peer` CLI: talk to `peer` as `user` of `msp_id`."""
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/tmp"),
            "FABRIC_CFG_PATH": str(self.layout.config_dir),
            "FABRIC_LOGGING_SPEC": "WARNING",
            "CORE_PEER_LOCALMSPID": msp_id,
            "CORE_PEER_MSPCONFIGPATH": str(self.msp_dir(msp_id, user)),
            "CORE_PEER_ADDRESS": peer.endpoint,
            "CORE_PEER_TLS_ENABLED": "true",
            "CORE_PEER_TLS_ROOTCERT_FILE": str(self.layout.ca_cert(peer.msp_id)),
        }

    def orderer_args(self) -> list[str]:
        """`-o … --tls --cafile …` for commands that submit to the orderer."""
        return [
            "-o",
            self.layout.orderer_endpoint,
            "--tls",
            "--cafile",
            str(self.layout.ca_cert(OPERATOR_MSP)),
        ]

    # -------------------------------------------------------------- running
    def run(
        self, binary: str, args: Sequence[str], env: dict[str, str], timeout: float = 120.0
    ) -> CommandResult:
        completed = subprocess.run(
            [str(self.install.path(binary)), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return CommandResult(completed.returncode, (completed.stdout + completed.stderr).strip())

    def check(
        self,
        binary: str,
        args: Sequence[str],
        env: dict[str, str],
        what: str,
        retries: int = 0,
        timeout: float = 120.0,
    ) -> str:
        """Run; on failure retry transient errors (with back-off), then raise with the output."""
        delay = 0.5
        for attempt in range(retries + 1):
            result = self.run(binary, args, env, timeout)
            if result.returncode == 0:
                return result.output
            transient = any(marker in result.output for marker in _TRANSIENT)
            if attempt == retries or not transient:
                break
            time.sleep(delay)
            delay = min(delay * 2, 4.0)
        tail = "\n".join(result.output.splitlines()[-20:])
        raise FabricCommandError(
            f"{what} failed (`{binary} {' '.join(args[:3])} …` exited {result.returncode}):\n{tail}"
        )

    def peer(
        self,
        args: Sequence[str],
        what: str,
        *,
        as_msp: str | None = None,
        user: str = "Admin",
        peer: PeerNode | None = None,
        retries: int = 0,
    ) -> str:
        node = peer or self.layout.gateway_peer
        return self.check(
            "peer", args, self.peer_env(node, as_msp or node.msp_id, user), what, retries
        )

    def chaincode(
        self,
        action: str,
        channel: str,
        function: str,
        args: Sequence[str],
        *,
        user: str,
        msp_id: str,
    ) -> CommandResult:
        """`peer chaincode query|invoke` on the channel's chaincode, signed by `user` of `msp_id`.

        `invoke` is endorsed by the auditors' peer and waits for the commit.
        """
        if action not in ("query", "invoke"):
            raise ValueError(f"action must be query or invoke, not {action!r}")
        peer = self.layout.gateway_peer
        spec = json.dumps({"Args": [function, *args]})
        command = ["chaincode", action, "--channelID", channel, "--name", channel, "--ctor", spec]
        if action == "invoke":
            command += [
                *self.orderer_args(),
                "--peerAddresses",
                peer.endpoint,
                "--tlsRootCertFiles",
                str(self.layout.ca_cert(peer.msp_id)),
                "--waitForEvent",
            ]
        return self.run("peer", command, self.peer_env(peer, msp_id, user))

    # ------------------------------------------------------------- osnadmin
    def osnadmin(self, args: Sequence[str], what: str, retries: int = 0) -> str:
        tls = self.layout.admin_tls(OPERATOR_MSP)
        connection = [
            "-o",
            f"127.0.0.1:{self.layout.orderer_admin_port}",
            "--ca-file",
            str(self.layout.ca_cert(OPERATOR_MSP)),
            "--client-cert",
            str(tls / "client.crt"),
            "--client-key",
            str(tls / "client.key"),
        ]
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/tmp"),
        }
        return self.check("osnadmin", [*args, *connection], env, what, retries)

    def orderer_channels(self) -> set[str]:
        output = self.osnadmin(["channel", "list"], "listing the orderer's channels", retries=5)
        return {channel["name"] for channel in _json_after_status(output).get("channels") or []}


def _json_after_status(output: str) -> dict[str, Any]:
    """osnadmin prints `Status: 200` and then the JSON body."""
    start = output.find("{")
    if start < 0:
        return {}
    decoded, _ = json.JSONDecoder().raw_decode(output[start:])
    return decoded if isinstance(decoded, dict) else {}

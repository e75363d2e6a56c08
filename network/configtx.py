"""The channels' configuration: a configtx.yaml of our own, and one genesis block per channel.

Every channel has the same shape:

* orderer: single-node etcdraft run by `OperatorMSP` on loopback, TLS on;
* members: `AuditorsMSP`, `AcmeMSP`, `GlobexMSP` (`OutsiderMSP` is on no channel), and
  `OperatorMSP`, so that the gateway's relay can carry delegations and the operator's admin
  can write the membership record (the contracts refuse it anything else);
* Readers / Writers: any member's; Admins: a majority of the members' admins;
* `Endorsement` and `LifecycleEndorsement`: `OR('AuditorsMSP.peer')`, so no
  transaction and no chaincode definition is valid without the auditors' peer;
* capabilities: Channel V3_0, Orderer V2_0, Application V2_5 (the newest this
  Fabric build knows).

The YAML is written from Python data here (no template file, no PyYAML):
every string is emitted JSON-quoted, which YAML reads as-is.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..chaincode import CHANNELS
from ..channel_connectors.identities import AUDITORS_MSP, OPERATOR_MSP
from .layout import CHANNEL_ORGS, HOST, ORDERER_NAME, Layout

BATCH_TIMEOUT = "200ms"


class ConfigtxError(RuntimeError):
    """configtxgen refused the configuration."""


# ------------------------------------------------------------------ YAML


def to_yaml(value: Any, indent: int = 0) -> str:
    """Block-style YAML for dicts, lists and scalars (strings JSON-quoted)."""
    pad = " " * indent
    if isinstance(value, dict):
        if not value:
            return pad + "{}\n"
        lines = []
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                lines.append(f"{pad}{key}:\n{to_yaml(item, indent + 2)}")
            else:
                lines.append(f"{pad}{key}: {_scalar(item)}\n")
        return "".join(lines)
    if isinstance(value, list):
        if not value:
            return pad + "[]\n"
        lines = []
        for item in value:
            body = to_yaml(item, indent + 2)
            lines.append(f"{pad}- {body.lstrip()}")
        return "".join(lines)
    return pad + _scalar(value) + "\n"


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):  # empty ones
        return json.dumps(value)
    return json.dumps(str(value))


# ------------------------------------------------------------ the config


def _signature(rule: str) -> dict[str, str]:
    return {"Type": "Signature", "Rule": rule}


def _implicit(rule: str) -> dict[str, str]:
    return {"Type": "ImplicitMeta", "Rule": rule}


def _application_org(layout: Layout, msp_id: str) -> dict[str, Any]:
    org: dict[str, Any] = {
        "Name": msp_id,
        "ID": msp_id,
        "MSPDir": str(layout.org_msp(msp_id)),
        "Policies": {
            "Readers": _signature(f"OR('{msp_id}.admin', '{msp_id}.peer', '{msp_id}.client')"),
            "Writers": _signature(f"OR('{msp_id}.admin', '{msp_id}.client')"),
            "Admins": _signature(f"OR('{msp_id}.admin')"),
            "Endorsement": _signature(f"OR('{msp_id}.peer')"),
        },
    }
    anchors = [{"Host": HOST, "Port": peer.port} for peer in layout.peers if peer.msp_id == msp_id]
    if anchors:
        org["AnchorPeers"] = anchors
    return org


def _orderer_org(layout: Layout) -> dict[str, Any]:
    return {
        "Name": OPERATOR_MSP,
        "ID": OPERATOR_MSP,
        "MSPDir": str(layout.org_msp(OPERATOR_MSP)),
        "OrdererEndpoints": [layout.orderer_endpoint],
        "Policies": {
            "Readers": _signature(f"OR('{OPERATOR_MSP}.member')"),
            "Writers": _signature(f"OR('{OPERATOR_MSP}.member')"),
            "Admins": _signature(f"OR('{OPERATOR_MSP}.admin')"),
        },
    }


RAFT_SNAPSHOT_INTERVAL = "1 KB"


def _orderer_section(layout: Layout) -> dict[str, Any]:
    tls = layout.node_dir(OPERATOR_MSP, ORDERER_NAME) / "tls" / "server.crt"
    return {
        "OrdererType": "etcdraft",
        "BatchTimeout": BATCH_TIMEOUT,
        "BatchSize": {
            "MaxMessageCount": 100,
            "AbsoluteMaxBytes": "10 MB",
            "PreferredMaxBytes": "2 MB",
        },
        "EtcdRaft": {
            "Consenters": [
                {
                    "Host": HOST,
                    "Port": layout.orderer_port,
                    "ClientTLSCert": str(tls),
                    "ServerTLSCert": str(tls),
                }
            ],
            # A Raft snapshot after every block: a restarted orderer then starts from the snapshot
            # and never replays the channel's first configuration change from its WAL, the step
            # that can deadlock this Fabric build (issue #4199; see network/local.py).
            "Options": {"SnapshotIntervalSize": RAFT_SNAPSHOT_INTERVAL},
        },
        "Organizations": [_orderer_org(layout)],
        "Policies": {
            "Readers": _implicit("ANY Readers"),
            "Writers": _implicit("ANY Writers"),
            "Admins": _implicit("MAJORITY Admins"),
            "BlockValidation": _implicit("ANY Writers"),
        },
        "Capabilities": {"V2_0": True},
    }


def _application_section(layout: Layout) -> dict[str, Any]:
    auditors_peer = f"OR('{AUDITORS_MSP}.peer')"
    return {
        "Organizations": [
            _application_org(layout, msp_id) for msp_id in (*CHANNEL_ORGS, OPERATOR_MSP)
        ],
        "Policies": {
            "Readers": _implicit("ANY Readers"),
            "Writers": _implicit("ANY Writers"),
            "Admins": _implicit("MAJORITY Admins"),
            # The auditors' peer alone endorses chaincode definitions and transactions.
            "LifecycleEndorsement": _signature(auditors_peer),
            "Endorsement": _signature(auditors_peer),
        },
        "Capabilities": {"V2_5": True},
    }


def configtx(layout: Layout) -> dict[str, Any]:
    """The whole configtx.yaml document: one profile per channel, all alike."""
    profile = {
        "Policies": {
            "Readers": _implicit("ANY Readers"),
            "Writers": _implicit("ANY Writers"),
            "Admins": _implicit("MAJORITY Admins"),
        },
        "Capabilities": {"V3_0": True},
        "Orderer": _orderer_section(layout),
        "Application": _application_section(layout),
    }
    return {"Profiles": {channel: profile for channel in CHANNELS}}


# ------------------------------------------------------------- configtxgen


def ensure_channel_blocks(
    layout: Layout, configtxgen: Path, progress: Callable[[str], None]
) -> None:
    """Write configtx.yaml and each channel's genesis block, unless the block exists."""
    missing = [channel for channel in CHANNELS if not layout.channel_block(channel).exists()]
    if not missing:
        return
    layout.configtx_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    (layout.configtx_dir / "configtx.yaml").write_text(
        "# Written by `datachannels network up`: the channels of the local Fabric network.\n"
        + to_yaml(configtx(layout))
    )
    for channel in missing:
        block = layout.channel_block(channel)
        block.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        staged = block.with_suffix(".tmp")
        result = subprocess.run(
            [
                str(configtxgen),
                "-configPath",
                str(layout.configtx_dir),
                "-profile",
                channel,
                "-channelID",
                channel,
                "-outputBlock",
                str(staged),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-20:])
            raise ConfigtxError(f"configtxgen failed for channel {channel}:\n{tail}")
        staged.replace(block)
        progress(f"  genesis block for channel {channel}: {block}")

"""Where a local Fabric network keeps its files, and which loopback ports it uses.

Everything lives under `<data dir>/fabric/`; nothing is written into the
source tree.  Ports are fixed offsets from one base port, so a network is
reproducible and two networks on one machine only need different bases::

    base+0   orderer (gRPC: broadcast, deliver, Raft cluster)   TLS
    base+1   orderer admin (osnadmin: channel participation)    mutual TLS
    base+2   orderer operations (/healthz, /metrics)            plain HTTP
    base+10  peer0.auditors (gRPC: endorser, Gateway, gossip)   TLS
    base+11  peer0.auditors chaincode listener                  TLS
    base+12  peer0.auditors operations                          plain HTTP
    base+20… one chaincode-as-a-service server per channel      plain gRPC
    base+30… peer0.acme, base+40… peer0.globex (only with customer peers)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..chaincode import CHANNELS
from ..channel_connectors.identities import AUDITORS_MSP, CHANNEL_MEMBERS, OPERATOR_MSP

HOST = "127.0.0.1"
DEFAULT_BASE_PORT = 7050
ORDERER_NAME = "orderer0"
# Every channel's chaincode carries the channel's name, at this version.
CHAINCODE_VERSION = "1"
CHAINCODE_SEQUENCE = 1


@dataclass(frozen=True)
class PeerNode:
    """A peer: its organisation, name and ports."""

    msp_id: str
    name: str  # e.g. "peer0.auditors"
    port: int
    chaincode_port: int
    operations_port: int

    @property
    def endpoint(self) -> str:
        return f"{HOST}:{self.port}"


def org_domain(msp_id: str) -> str:
    """An organisation's DNS-like name, as `IdentityStore` names its CA (`auditors.example`)."""
    return msp_id.removesuffix("MSP").lower() + ".example"


# Optional peers of the customers (with `customer_peers`): name and first port offset.
CUSTOMER_PEERS = (("AcmeMSP", "peer0.acme", 30), ("GlobexMSP", "peer0.globex", 40))


@dataclass(frozen=True)
class Layout:
    data_dir: Path
    base_port: int = DEFAULT_BASE_PORT
    customer_peers: bool = False  # also run a peer for AcmeMSP and one for GlobexMSP

    # ------------------------------------------------------------- folders
    @property
    def root(self) -> Path:
        return self.data_dir / "fabric"

    @property
    def organizations(self) -> Path:
        return self.root / "organizations"

    def org_dir(self, msp_id: str) -> Path:
        return self.organizations / msp_id

    def org_msp(self, msp_id: str) -> Path:
        """The organisation's verifying MSP (CA certificates only), as channel configs hold it."""
        return self.org_dir(msp_id) / "msp"

    def ca_cert(self, msp_id: str) -> Path:
        """The organisation's CA certificate: its identity root and its TLS root alike."""
        return self.org_msp(msp_id) / "cacerts" / "ca.pem"

    def user_msp(self, msp_id: str, user: str) -> Path:
        return self.org_dir(msp_id) / "users" / user / "msp"

    def admin_msp(self, msp_id: str) -> Path:
        return self.user_msp(msp_id, "Admin")

    def admin_tls(self, msp_id: str) -> Path:
        return self.org_dir(msp_id) / "users" / "Admin" / "tls"

    def node_dir(self, msp_id: str, name: str) -> Path:
        kind = "orderers" if msp_id == OPERATOR_MSP else "peers"
        return self.org_dir(msp_id) / kind / name

    @property
    def config_dir(self) -> Path:
        """FABRIC_CFG_PATH: core.yaml and orderer.yaml copied from the build's sampleconfig."""
        return self.root / "config"

    @property
    def configtx_dir(self) -> Path:
        return self.root / "configtx"

    def channel_block(self, channel: str) -> Path:
        return self.root / "channel-artifacts" / f"{channel}.block"

    @property
    def builders_dir(self) -> Path:
        return self.root / "builders"

    def chaincode_package(self, channel: str) -> Path:
        return self.root / "chaincode" / f"{channel}.tar.gz"

    @property
    def run_dir(self) -> Path:
        return self.root / "run"

    @property
    def log_dir(self) -> Path:
        return self.root / "logs"

    @property
    def ledgers(self) -> Path:
        return self.root / "ledgers"

    @property
    def connection_profile(self) -> Path:
        return self.root / "connection.json"

    @property
    def settings_file(self) -> Path:
        return self.root / "network.json"

    # --------------------------------------------------------------- ports
    @property
    def orderer_port(self) -> int:
        return self.base_port

    @property
    def orderer_admin_port(self) -> int:
        return self.base_port + 1

    @property
    def orderer_operations_port(self) -> int:
        return self.base_port + 2

    @property
    def orderer_endpoint(self) -> str:
        return f"{HOST}:{self.orderer_port}"

    @property
    def peers(self) -> tuple[PeerNode, ...]:
        """The auditors' peer first: it endorses everything and serves the gateway."""
        nodes = [(AUDITORS_MSP, "peer0.auditors", 10)]
        if self.customer_peers:
            nodes += CUSTOMER_PEERS
        return tuple(
            PeerNode(
                msp_id,
                name,
                self.base_port + offset,
                self.base_port + offset + 1,
                self.base_port + offset + 2,
            )
            for msp_id, name, offset in nodes
        )

    @property
    def gateway_peer(self) -> PeerNode:
        return self.peers[0]

    def chaincode_port(self, channel: str) -> int:
        return self.base_port + 20 + int(CHANNELS.index(channel))

    # ------------------------------------------------------------ settings
    def check_settings(self) -> None:
        """A network keeps the ports and peers it was made with: its channel configs name them."""
        settings = {"basePort": self.base_port, "customerPeers": self.customer_peers}
        try:
            saved = json.loads(self.settings_file.read_text())
        except FileNotFoundError:
            self.settings_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.settings_file.write_text(json.dumps(settings) + "\n")
            return
        saved.setdefault("customerPeers", False)
        if saved != settings and not any(
            self.channel_block(channel).exists() for channel in CHANNELS
        ):
            self.settings_file.write_text(
                json.dumps(settings) + "\n"
            )  # nothing names the old ports yet
        elif saved != settings:
            made = f"base port {saved.get('basePort')}" + (
                " and customer peers" if saved["customerPeers"] else ""
            )
            raise ValueError(
                f"the Fabric network in {self.root} was made with {made}; bring it up the same "
                f"way, or stop it and remove {self.root} to start afresh"
            )

    @classmethod
    def existing(cls, data_dir: Path) -> Layout:
        """The layout of a network already made in `data_dir` (default ports if none)."""
        settings = Path(data_dir) / "fabric" / "network.json"
        try:
            saved = json.loads(settings.read_text())
            return cls(
                Path(data_dir), int(saved["basePort"]), bool(saved.get("customerPeers", False))
            )
        except (FileNotFoundError, KeyError, ValueError):
            return cls(Path(data_dir))


CHANNEL_ORGS = CHANNEL_MEMBERS  # AuditorsMSP, AcmeMSP, GlobexMSP; OutsiderMSP is on no channel

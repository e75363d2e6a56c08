"""The demo organisations and identities of a data directory.

First start creates, once, one CA per organisation and one identity per demo
user, in the same shape a Fabric MSP uses, so the very same identities serve
the embedded ledger and a local Fabric network.  Keys are written with
owner-only permissions and never leave the data directory except through
`datachannels wallet`, which prints them for their owner.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ..chaincode.access import OPERATOR_MSP as CONTRACTS_OPERATOR_MSP
from ..chaincode.access import membership_record
from .identity import CredentialError, SigningIdentity
from .msp import Organisation, certificate_pem, create_ca, issue_certificate, private_key_pem


@dataclass(frozen=True)
class DemoUser:
    name: str
    msp_id: str
    description: str


# The organisation that runs the embedded ledger's node (and, on Fabric, the orderer); the
# contracts know it by this name (chaincode.access).
OPERATOR_MSP = CONTRACTS_OPERATOR_MSP
AUDITORS_MSP = "AuditorsMSP"

DEMO_USERS = (
    DemoUser("auditor", AUDITORS_MSP, "the auditing company: writes the source channels"),
    DemoUser(
        "acme",
        "AcmeMSP",
        "a customer: reads factors and its own audited records, publishes footprints",
    ),
    DemoUser("globex", "GlobexMSP", "another customer, like acme"),
    DemoUser("outsider", "OutsiderMSP", "a member of no channel: every channel refuses it"),
)
ORGANISATIONS = (OPERATOR_MSP, *(u.msp_id for u in DEMO_USERS))
CHANNEL_MEMBERS = (AUDITORS_MSP, "AcmeMSP", "GlobexMSP")

# The neutral operator's own identities, admitted to every channel.  `relay` is the gateway's:
# it signs proposals only to carry a caller's delegation, and every contract refuses it alone.
# `operator` (OU admin) writes each channel's membership record when the channel is set up.
RELAY = "relay"
OPERATOR = "operator"
SERVICE_IDENTITIES = ((RELAY, "client"), (OPERATOR, "admin"))


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, 0o600)


def _write_public(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_bytes(data)


class IdentityStore:
    """Organisations (CAs) and identities under `<data dir>/organizations` and `identities`."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.organizations_dir = self.data_dir / "organizations"
        self.identities_dir = self.data_dir / "identities"

    # -- creation (idempotent)
    def ensure(self) -> bool:
        """Create whatever organisation or identity is missing; True if anything was created."""
        created = False
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.data_dir, 0o700)  # it holds private keys
        for msp_id in ORGANISATIONS:
            created |= self._ensure_ca(msp_id)
        for user in DEMO_USERS:
            created |= self._ensure_identity(user.name, user.msp_id, "client")
        for name, unit in SERVICE_IDENTITIES:
            created |= self._ensure_identity(name, OPERATOR_MSP, unit)
        created |= self._ensure_identity("node", OPERATOR_MSP, "peer")
        return created

    def _ca_paths(self, msp_id: str) -> tuple[Path, Path]:
        base = self.organizations_dir / msp_id / "ca"
        return base / "cert.pem", base / "key.pem"

    def _ensure_ca(self, msp_id: str) -> bool:
        cert_path, key_path = self._ca_paths(msp_id)
        if cert_path.exists() and key_path.exists():
            return False
        key, certificate = create_ca(msp_id.removesuffix("MSP").lower() + ".example")
        _write_private(key_path, private_key_pem(key))
        _write_public(cert_path, certificate_pem(certificate))
        return True

    def _ensure_identity(self, name: str, msp_id: str, unit: str) -> bool:
        base = self.identities_dir / name
        if (base / "cert.pem").exists() and (base / "key.pem").exists():
            return False
        cert_path, key_path = self._ca_paths(msp_id)
        ca_key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
            raise CredentialError(f"the CA key of {msp_id} ({key_path}) is not an ECDSA key")
        from cryptography import x509

        ca_certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key, certificate = issue_certificate(ca_key, ca_certificate, name, unit=unit)
        _write_private(base / "key.pem", private_key_pem(key))
        _write_public(base / "cert.pem", certificate_pem(certificate))
        _write_public(base / "identity.json", json.dumps({"name": name, "mspId": msp_id}).encode())
        return True

    # -- reading
    def organisation(self, msp_id: str) -> Organisation:
        cert_path, _ = self._ca_paths(msp_id)
        return Organisation(msp_id, cert_path.read_bytes())

    def names(self) -> list[str]:
        return [u.name for u in DEMO_USERS if (self.identities_dir / u.name / "cert.pem").exists()]

    def signing_identity(self, name: str) -> SigningIdentity:
        base = self.identities_dir / name
        try:
            info = json.loads((base / "identity.json").read_text())
            return SigningIdentity.from_pem(
                info["mspId"], (base / "cert.pem").read_bytes(), (base / "key.pem").read_bytes()
            )
        except FileNotFoundError:
            known = ", ".join(self.names()) or "none (run `datachannels init`)"
            raise KeyError(
                f"no identity {name!r} in {self.data_dir}; identities: {known}"
            ) from None

    def node(self) -> SigningIdentity:
        return self.signing_identity("node")

    def relay(self) -> SigningIdentity:
        return self.signing_identity(RELAY)

    def membership(self) -> str:
        """The membership record every channel gets at set-up: the members' CAs (JSON text)."""
        record = membership_record(
            {msp: [self.organisation(msp).ca_certificate_pem] for msp in CHANNEL_MEMBERS}
        )
        return json.dumps(record, sort_keys=True, separators=(",", ":"))

    def pem_pair(self, name: str) -> tuple[str, bytes, bytes]:
        """(MSP id, certificate PEM, private key PEM) of a demo identity, for its wallet."""
        identity = self.signing_identity(name)
        return (
            identity.identity.msp_id,
            identity.identity.certificate_pem,
            (self.identities_dir / name / "key.pem").read_bytes(),
        )

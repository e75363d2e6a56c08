"""Fabric MSP folders for the demo organisations, issued by their existing CAs.

`IdentityStore` already holds one CA per organisation and the demo users
(`auditor`, `acme`, `globex`, `outsider`, OU `client`).  Fabric needs more:
an admin per organisation, the orderer and peer nodes, and TLS certificates.
All of it is issued here by the same organisation CAs (`msp.issue_certificate`),
so the demo users are valid Fabric client identities unchanged.

TLS: each organisation's CA also issues its TLS certificates (SAN 127.0.0.1
and localhost), so one root per organisation serves as `cacerts` and
`tlscacerts`.  A separate TLS CA would add nothing on a loopback-only
network.  TLS certificates carry no NodeOU, so with NodeOUs enabled they are
not valid signing identities of the MSP.

Layout under `<data dir>/fabric/organizations/<MSP>/`::

    msp/                         cacerts/ca.pem, tlscacerts/ca.pem, config.yaml (NodeOUs)
    users/Admin/msp/             OU admin; signcerts/, keystore/ (0600), cacerts/, config.yaml
    users/Admin/tls/             (OperatorMSP) client.crt / client.key for osnadmin's mutual TLS
    users/<demo user>/msp/       links to <data dir>/identities/<user>/{cert,key}.pem
    peers/<name>/{msp,tls}/      OU peer;    tls/server.crt, server.key, ca.crt
    orderers/orderer0/{msp,tls}/ OU orderer (OperatorMSP)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ..chaincode import CHANNELS
from ..channel_connectors.identities import DEMO_USERS, OPERATOR_MSP, ORGANISATIONS, IdentityStore
from ..channel_connectors.msp import certificate_pem, issue_certificate, private_key_pem
from .layout import ORDERER_NAME, Layout, org_domain

TLS_NAMES = ("127.0.0.1", "localhost")

_NODE_OUS = """\
NodeOUs:
  Enable: true
  ClientOUIdentifier:
    Certificate: cacerts/ca.pem
    OrganizationalUnitIdentifier: client
  PeerOUIdentifier:
    Certificate: cacerts/ca.pem
    OrganizationalUnitIdentifier: peer
  AdminOUIdentifier:
    Certificate: cacerts/ca.pem
    OrganizationalUnitIdentifier: admin
  OrdererOUIdentifier:
    Certificate: cacerts/ca.pem
    OrganizationalUnitIdentifier: orderer
"""


class CryptoMismatchError(RuntimeError):
    """The Fabric material was issued by CAs other than the data directory's current ones."""


class _OrgCA:
    """One organisation's CA, loaded from the identity store."""

    def __init__(self, store: IdentityStore, msp_id: str) -> None:
        base = store.organizations_dir / msp_id / "ca"
        self.msp_id = msp_id
        self.cert_pem = (base / "cert.pem").read_bytes()
        self.certificate = x509.load_pem_x509_certificate(self.cert_pem)
        key = serialization.load_pem_private_key((base / "key.pem").read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise TypeError(f"the CA key of {msp_id} is not an ECDSA key")
        self.key = key

    def issue(self, common_name: str, unit: str, tls: bool = False) -> tuple[bytes, bytes]:
        """(certificate PEM, private key PEM); `tls` adds loopback SANs and server/client EKU."""
        key, certificate = issue_certificate(
            self.key,
            self.certificate,
            common_name,
            unit=unit,
            subject_alt_names=TLS_NAMES if tls else (),
        )
        return certificate_pem(certificate), private_key_pem(key)


def _mkdir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)


def _write_public(path: Path, data: bytes) -> None:
    _mkdir(path.parent)
    path.write_bytes(data)


def _write_private(path: Path, data: bytes) -> None:
    _mkdir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, 0o600)


def _link(target: Path, link: Path) -> None:
    """A relative symlink, so the data directory can be moved as a whole."""
    _mkdir(link.parent)
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(os.path.relpath(target, link.parent))


def _write_verifying_msp(msp_dir: Path, ca: _OrgCA) -> None:
    _write_public(msp_dir / "cacerts" / "ca.pem", ca.cert_pem)
    _write_public(msp_dir / "tlscacerts" / "ca.pem", ca.cert_pem)
    _write_public(msp_dir / "config.yaml", _NODE_OUS.encode())


def _signing_msp_complete(msp_dir: Path) -> bool:
    return (msp_dir / "signcerts" / "cert.pem").exists() and (
        msp_dir / "keystore" / "key.pem"
    ).exists()


def _ensure_signing_msp(msp_dir: Path, ca: _OrgCA, common_name: str, unit: str) -> bool:
    if _signing_msp_complete(msp_dir):
        return False
    cert, key = ca.issue(common_name, unit)
    _write_verifying_msp(msp_dir, ca)
    _write_private(msp_dir / "keystore" / "key.pem", key)
    _write_public(msp_dir / "signcerts" / "cert.pem", cert)
    return True


def _ensure_tls(tls_dir: Path, ca: _OrgCA, common_name: str, cert_name: str, key_name: str) -> bool:
    if (tls_dir / cert_name).exists() and (tls_dir / key_name).exists():
        return False
    cert, key = ca.issue(common_name, unit="", tls=True)
    _write_public(tls_dir / "ca.crt", ca.cert_pem)
    _write_private(tls_dir / key_name, key)
    _write_public(tls_dir / cert_name, cert)
    return True


def _ensure_node(layout: Layout, ca: _OrgCA, name: str, unit: str) -> bool:
    node = layout.node_dir(ca.msp_id, name)
    common_name = f"{name.split('.')[0]}.{org_domain(ca.msp_id)}"  # peer0.auditors.example
    created = _ensure_signing_msp(node / "msp", ca, common_name, unit)
    created |= _ensure_tls(node / "tls", ca, common_name, "server.crt", "server.key")
    return created


def _link_demo_user(layout: Layout, store: IdentityStore, ca: _OrgCA, user: str) -> None:
    msp_dir = layout.user_msp(ca.msp_id, user)
    _write_verifying_msp(msp_dir, ca)
    source = store.identities_dir / user
    _link(source / "cert.pem", msp_dir / "signcerts" / "cert.pem")
    _link(source / "key.pem", msp_dir / "keystore" / "key.pem")


def _check_same_ca(layout: Layout, ca: _OrgCA) -> None:
    issued_by = layout.ca_cert(ca.msp_id)
    if issued_by.exists() and issued_by.read_bytes() != ca.cert_pem:
        raise CryptoMismatchError(
            f"{layout.org_dir(ca.msp_id)} was issued by another {ca.msp_id} CA than the one in "
            f"{layout.data_dir / 'organizations'}; stop the network and remove {layout.root} "
            "to start afresh"
        )


def _check_consenter_tls(layout: Layout) -> None:
    """The orderer's TLS certificate is written into every channel's config (its Raft consenter)."""
    tls = layout.node_dir(OPERATOR_MSP, ORDERER_NAME) / "tls"
    blocks_made = any(layout.channel_block(channel).exists() for channel in CHANNELS)
    if blocks_made and not ((tls / "server.crt").exists() and (tls / "server.key").exists()):
        raise CryptoMismatchError(
            f"the orderer's TLS pair in {tls} is missing, but the channels' configuration names "
            "its certificate as their Raft consenter: a new one cannot replace it; stop the "
            f"network and remove {layout.root} to start afresh"
        )


def ensure_fabric_crypto(
    layout: Layout, store: IdentityStore, progress: Callable[[str], None]
) -> bool:
    """Issue whatever Fabric MSP material is missing; True if anything was issued."""
    created = False
    for msp_id in ORGANISATIONS:
        ca = _OrgCA(store, msp_id)
        _check_same_ca(layout, ca)
        _write_verifying_msp(layout.org_msp(msp_id), ca)
        created |= _ensure_signing_msp(
            layout.admin_msp(msp_id), ca, f"Admin@{org_domain(msp_id)}", "admin"
        )
        for user in DEMO_USERS:
            if user.msp_id == msp_id:
                _link_demo_user(layout, store, ca, user.name)
        if msp_id == OPERATOR_MSP:
            _check_consenter_tls(layout)
            created |= _ensure_node(layout, ca, ORDERER_NAME, "orderer")
            created |= _ensure_tls(
                layout.admin_tls(msp_id),
                ca,
                f"Admin@{org_domain(msp_id)}",
                "client.crt",
                "client.key",
            )
        for peer in layout.peers:
            if peer.msp_id == msp_id:
                created |= _ensure_node(layout, ca, peer.name, "peer")
    if created:
        progress(f"  issued Fabric MSP material under {layout.organizations}")
    return created

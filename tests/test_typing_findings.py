"""What type-checking chaincode/ and channel_connectors/ turned up: refusals, not crashes.

A certificate the channel cannot use, or a tampered ledger row, must end in the channel's own
answer (ACCESS_DENIED, a verify problem), never in an exception from `cryptography` or `bytes()`.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID
from datachannels.channel_connectors import blocks
from datachannels.channel_connectors.embedded import EmbeddedNetwork
from datachannels.channel_connectors.errors import ChannelError
from datachannels.channel_connectors.identity import Identity
from datachannels.channel_connectors.msp import certificate_pem
from datachannels.channel_connectors.proposals import (
    build_proposal,
    sign_envelope,
    sign_proposal,
    timestamp_now,
)
from fabric_protos.common import common_pb2

from tests.conftest import CAMX

READ_NOTHING = json.dumps({"keys": []})


def _refusal(network: EmbeddedNetwork, certificate: x509.Certificate) -> ChannelError:
    """How the utility channel refuses a read by `certificate` as AcmeMSP, signed by acme."""
    identity = Identity("AcmeMSP", certificate_pem(certificate))
    proposal, _ = build_proposal(identity, "utility", "utility", "read", [READ_NOTHING])
    signer = network.identities.signing_identity("acme").signer
    with pytest.raises(ChannelError) as refused:
        network.ledger("utility").evaluate(sign_proposal(proposal, signer).SerializeToString())
    return refused.value


def _certificate(
    issuer: x509.Name,
    public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey,
    signing_key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mallory")]))
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(
            signing_key,
            None if isinstance(signing_key, ed25519.Ed25519PrivateKey) else hashes.SHA256(),
        )
    )


def _acme_ca(network: EmbeddedNetwork) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    ca_dir = network.identities.organizations_dir / "AcmeMSP" / "ca"
    key = serialization.load_pem_private_key((ca_dir / "key.pem").read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key, x509.load_pem_x509_certificate((ca_dir / "cert.pem").read_bytes())


def test_a_member_certificate_holding_an_rsa_key_is_refused_as_access_denied(network):
    # verify_signature was typed for EC keys only; an RSA key reached RSAPublicKey.verify with
    # ECDSA's arguments and the call ended in a TypeError.
    ca_key, ca_certificate = _acme_ca(network)
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    certificate = _certificate(ca_certificate.subject, rsa_key.public_key(), ca_key)
    refused = _refusal(network, certificate)
    assert refused.code == "ACCESS_DENIED"
    assert "signature does not match" in refused.message


def test_a_certificate_signed_with_ed25519_in_a_member_cas_name_is_refused(network):
    # Anyone can write a member CA's name as issuer. Ed25519 certificates have no signature hash:
    # issued_by passed None to ec.ECDSA (a type: ignore hid it) and the call ended in a TypeError.
    acme = network.identities.signing_identity("acme")
    _, ca_certificate = _acme_ca(network)
    certificate = _certificate(
        ca_certificate.subject, acme.signer.public_key(), ed25519.Ed25519PrivateKey.generate()
    )
    assert certificate.signature_hash_algorithm is None
    refused = _refusal(network, certificate)
    assert refused.code == "ACCESS_DENIED"
    assert "not issued by AcmeMSP's CA" in refused.message


def test_a_certificate_with_an_unknown_signature_algorithm_is_refused(network):
    acme = network.identities.signing_identity("acme")
    der = acme.identity.certificate.public_bytes(serialization.Encoding.DER)
    ecdsa_with_sha256 = bytes.fromhex("06082a8648ce3d040302")  # OID 1.2.840.10045.4.3.2
    unknown = x509.load_der_x509_certificate(
        der.replace(ecdsa_with_sha256, ecdsa_with_sha256[:-1] + b"\x09")
    )
    refused = _refusal(network, unknown)
    assert refused.code == "ACCESS_DENIED"
    assert "not issued by AcmeMSP's CA" in refused.message


def _problems(network: EmbeddedNetwork) -> list[str]:
    return [p for report in network.verify() for p in report.problems]


@pytest.mark.parametrize("stored", [1.5, 10**15, "not bytes"])
def test_ledger_verify_reports_a_state_value_of_the_wrong_type(network, put, stored):
    # bytes(value) on whatever SQLite returned: a REAL raised TypeError and a large INTEGER asked
    # for that many zero bytes.
    put("utility", [CAMX])
    with sqlite3.connect(network.ledger_path("utility")) as db:
        db.execute("UPDATE state SET value = ?", (stored,))
    problems = _problems(network)
    assert len(problems) == 1
    assert problems[0].startswith(
        "channel utility: world state key 'grid_rate/egrid_subregion/CAMX/2023' differs"
    )


# The catches in verify were narrowed from `except Exception`: each still reports its problem.


@pytest.mark.parametrize("stored", [b"\xff\xff not a block", "text where bytes belong", 7])
def test_ledger_verify_reports_a_block_that_does_not_decode(network, put, stored):
    put("utility", [CAMX])
    with sqlite3.connect(network.ledger_path("utility")) as db:
        db.execute("UPDATE blocks SET block = ? WHERE number = 1", (stored,))
    assert _problems(network) == ["channel utility: block 1: does not decode as a block"]


@pytest.mark.parametrize(
    "metadata", [[b""] * 5, [b"\xff\xff"], []], ids=["empty", "undecodable", "missing"]
)
def test_ledger_verify_reports_a_block_without_its_orderer_signature(network, put, metadata):
    put("utility", [CAMX])
    with sqlite3.connect(network.ledger_path("utility")) as db:
        raw = db.execute("SELECT block FROM blocks WHERE number = 1").fetchone()[0]
        block = common_pb2.Block.FromString(raw)
        del block.metadata.metadata[:]
        block.metadata.metadata.extend(metadata)
        db.execute("UPDATE blocks SET block = ? WHERE number = 1", (block.SerializeToString(),))
    assert _problems(network) == ["channel utility: block 1: has no orderer signature"]


def test_ledger_verify_reports_a_node_signed_block_0_that_holds_no_configuration(network):
    ledger = network.ledger("utility")  # opened while block 0 is still good
    node = network.identities.node()
    header = common_pb2.Header(
        channel_header=common_pb2.ChannelHeader(
            type=common_pb2.HeaderType.CONFIG, channel_id="utility", timestamp=timestamp_now()
        ).SerializeToString(),
        signature_header=common_pb2.SignatureHeader(
            creator=node.identity.serialize()
        ).SerializeToString(),
    )
    payload = common_pb2.Payload(header=header, data=json.dumps({"channel": "utility"}).encode())
    envelope = sign_envelope(payload, node.signer)
    block = blocks.new_block(0, b"", [envelope.SerializeToString()], bytes([0]))
    blocks.sign_block(block, node.identity, node.signer)
    with sqlite3.connect(network.ledger_path("utility")) as db:
        db.execute(
            "UPDATE blocks SET block = ?, hash = ? WHERE number = 0",
            (block.SerializeToString(), blocks.header_hash(block.header)),
        )
    assert ledger.verify().problems == [
        "channel utility: block 0: is not a valid configuration block"
    ]

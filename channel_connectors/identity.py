"""Who a caller is, and how their proposals are signed.

As in the Fabric Gateway client API, an *identity* (MSP id and X.509
certificate) is kept apart from a *signer* (what holds the private key), so
the same code signs for the embedded ledger and for a Fabric peer.  Fabric
clients sign the SHA-256 digest with ECDSA P-256 and normalise the signature
to low-S before DER encoding; peers reject high-S signatures, so we do too.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from fabric_protos.msp import identities_pb2

# Order of the P-256 group: a signature's S must be at most half of it.
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_HALF_ORDER = P256_ORDER >> 1


class CredentialError(ValueError):
    """A certificate or key that cannot be used; the message never holds the secret."""


@dataclass(frozen=True)
class Identity:
    """The public half of a caller: MSP id and PEM certificate."""

    msp_id: str
    certificate_pem: bytes

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.certificate_pem)

    def serialize(self) -> bytes:
        """Fabric's `msp.SerializedIdentity`, the `creator` of every proposal."""
        return identities_pb2.SerializedIdentity(
            mspid=self.msp_id, id_bytes=self.certificate_pem
        ).SerializeToString()


class Signer:
    """Signs digests the way Fabric clients do: ECDSA P-256, SHA-256, low-S, DER."""

    def __init__(self, private_key: ec.EllipticCurvePrivateKey) -> None:
        if not isinstance(private_key, ec.EllipticCurvePrivateKey) or not isinstance(
            private_key.curve, ec.SECP256R1
        ):
            raise CredentialError("private key is not an ECDSA P-256 key")
        self._key = private_key

    @classmethod
    def from_pem(cls, pem: bytes) -> Signer:
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise CredentialError(
                "private key is not a valid unencrypted PEM key of a supported kind"
            ) from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise CredentialError("private key is not an ECDSA key")
        return cls(key)

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._key.public_key()

    def sign(self, message: bytes) -> bytes:
        der = self._key.sign(message, ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        if s > _HALF_ORDER:
            s = P256_ORDER - s
        return encode_dss_signature(r, s)

    def __repr__(self) -> str:  # never show key material, even in a debugger
        return "Signer(<P-256 key>)"


@dataclass(frozen=True)
class SigningIdentity:
    """An identity and the signer for it: what a wallet credential becomes."""

    identity: Identity
    signer: Signer

    @classmethod
    def from_pem(
        cls, msp_id: str, certificate_pem: bytes, private_key_pem: bytes
    ) -> SigningIdentity:
        certificate = load_certificate(certificate_pem)
        signer = Signer.from_pem(private_key_pem)
        try:
            public_key = certificate.public_key()
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise CredentialError("certificate holds a public key of an unsupported kind") from exc
        if not _same_public_key(public_key, signer.public_key()):
            raise CredentialError("private key does not match the certificate")
        # The certificate as it encodes, not the text given: a careless paste may carry more
        # after it (a private key, say), which must not ride in proposals or certificate caches.
        return cls(Identity(msp_id, certificate.public_bytes(serialization.Encoding.PEM)), signer)

    def __repr__(self) -> str:
        return f"SigningIdentity(msp_id={self.identity.msp_id!r})"


def load_certificate(pem: bytes) -> x509.Certificate:
    """A certificate whose every field a channel reads parses; CredentialError otherwise.

    `cryptography` parses names and extensions lazily, so a certificate with a corrupted
    issuer loads and only fails later, deep in a membership check: read them all now.
    """
    try:
        certificate = x509.load_pem_x509_certificate(pem)
        certificate.issuer.rfc4514_string()
        certificate.subject.rfc4514_string()
        list(certificate.extensions)
        _ = (certificate.not_valid_before_utc, certificate.not_valid_after_utc)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise CredentialError("certificate is not a valid PEM X.509 certificate") from exc
    return certificate


def certificate_fingerprint(certificate: x509.Certificate) -> str:
    der = certificate.public_bytes(serialization.Encoding.DER)
    return "sha256:" + hashlib.sha256(der).hexdigest()


def verify_signature(
    public_key: CertificatePublicKeyTypes, message: bytes, signature: bytes
) -> bool:
    """True when `signature` is a valid low-S ECDSA-SHA256 signature of `message`.

    Takes any key a certificate may hold: one that is not an EC key (RSA, Ed25519 …) cannot have
    made a Fabric signature, so it verifies nothing.
    """
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        return False
    try:
        _, s = decode_dss_signature(signature)
    except ValueError:
        return False
    if s > _HALF_ORDER:
        return False
    try:
        public_key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def _same_public_key(a: object, b: ec.EllipticCurvePublicKey) -> bool:
    if not isinstance(a, ec.EllipticCurvePublicKey):
        return False
    encoding, fmt = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return a.public_bytes(encoding, fmt) == b.public_bytes(encoding, fmt)

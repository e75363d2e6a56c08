"""Membership as a Fabric MSP does it: one CA per organisation.

An organisation is known to a channel by its CA certificate.  A caller is a
member when their certificate was issued (signed) by that CA and is valid now.
The CAs and identities here are plain ECDSA P-256 X.509, made with
`cryptography`, in the same shape `cryptogen` gives Fabric, so the demo
identities can later be handed to a real Fabric network unchanged.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..chaincode.bounded import Bounded
from .identity import certificate_fingerprint

_VALIDITY = dt.timedelta(days=3650)


@dataclass(frozen=True)
class Organisation:
    """An MSP: its id and CA certificate (the key stays with whoever runs the CA)."""

    msp_id: str
    ca_certificate_pem: bytes

    @functools.cached_property
    def ca_certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.ca_certificate_pem)

    def to_json(self) -> dict[str, str]:
        return {"mspId": self.msp_id, "caCertificate": self.ca_certificate_pem.decode()}

    @classmethod
    def from_json(cls, data: dict[str, str]) -> Organisation:
        return cls(data["mspId"], data["caCertificate"].encode())


def new_private_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def private_key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def certificate_pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _name(common_name: str, organisation: str, unit: str | None = None) -> x509.Name:
    attributes = [
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ]
    if unit:
        attributes.insert(1, x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    return x509.Name(attributes)


def _key_usage(signs_certificates: bool) -> x509.KeyUsage:
    """Digital signatures always; certificate and CRL signing for a CA only."""
    return x509.KeyUsage(
        digital_signature=True,
        key_cert_sign=signs_certificates,
        crl_sign=signs_certificates,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        encipher_only=False,
        decipher_only=False,
    )


def create_ca(
    organisation: str, now: dt.datetime | None = None
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A self-signed CA for one organisation (like cryptogen's `ca.<org>`)."""
    now = now or dt.datetime.now(dt.UTC)
    key = new_private_key()
    name = _name(f"ca.{organisation}", organisation)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(signs_certificates=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, certificate


def issue_certificate(
    ca_key: ec.EllipticCurvePrivateKey,
    ca_certificate: x509.Certificate,
    common_name: str,
    unit: str = "client",
    now: dt.datetime | None = None,
    subject_alt_names: tuple[str, ...] = (),
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """An end-entity certificate signed by the organisation's CA.

    `unit` is the Fabric NodeOU (`client`, `peer`, `orderer`, `admin`).
    """
    now = now or dt.datetime.now(dt.UTC)
    organisation = ca_certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
    key = new_private_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, str(organisation), unit))
        .issuer_name(ca_certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(signs_certificates=False), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if subject_alt_names:
        import ipaddress

        sans: list[x509.GeneralName] = []
        for name in subject_alt_names:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                sans.append(x509.DNSName(name))
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        builder = builder.add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
    return key, builder.sign(ca_key, hashes.SHA256())


class MembershipError(Exception):
    """A certificate that no member organisation vouches for."""


def issued_by(certificate: x509.Certificate, ca_certificate: x509.Certificate) -> bool:
    """True when `ca_certificate`'s key signed `certificate`."""
    if certificate.issuer != ca_certificate.subject:
        return False
    public_key = ca_certificate.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        return False
    try:
        algorithm = certificate.signature_hash_algorithm
    except UnsupportedAlgorithm:  # a signature algorithm cryptography does not know
        return False
    if algorithm is None:  # Ed25519 and Ed448 sign without a hash: no ECDSA key signed it
        return False
    try:
        public_key.verify(
            certificate.signature, certificate.tbs_certificate_bytes, ec.ECDSA(algorithm)
        )
    except InvalidSignature:
        return False
    return True


def validate_member(
    msp_id: str,
    certificate: x509.Certificate,
    members: dict[str, Organisation],
    at: dt.datetime | None = None,
) -> Organisation:
    """The member organisation that vouches for `certificate`, as MSP validation does.

    The claimed MSP id must be a member, its CA must have signed the
    certificate, the certificate must be in its validity period and not a CA.
    """
    organisation = _vouching(msp_id, certificate, members)
    _check_validity(certificate, at)
    return organisation


def _vouching(
    msp_id: str, certificate: x509.Certificate, members: dict[str, Organisation]
) -> Organisation:
    """The checks that depend on the two certificates alone: who issued it, and not a CA."""
    organisation = members.get(msp_id)
    if organisation is None:
        raise MembershipError(f"organisation {msp_id!r} is not a member")
    if not issued_by(certificate, organisation.ca_certificate):
        raise MembershipError(
            f"certificate {certificate_fingerprint(certificate)[:19]}… was not issued by "
            f"{msp_id}'s CA"
        )
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is not None and constraints.ca:
        raise MembershipError("a CA certificate cannot sign proposals")
    return organisation


def _check_validity(certificate: x509.Certificate, at: dt.datetime | None) -> None:
    at = at or dt.datetime.now(dt.UTC)
    if not certificate.not_valid_before_utc <= at <= certificate.not_valid_after_utc:
        raise MembershipError("certificate is outside its validity period")


class MemberCertificates:
    """A channel's creator check (`validate_member`), with what never changes done once.

    Whether a member's CA signed a certificate, and whether it is a CA itself, are facts about
    two immutable certificates, so a certificate that passed is kept, keyed by its MSP id and
    exact PEM bytes, and later proposals by it skip the ECDSA verification of the chain.  The
    validity period is checked on every call, since time moves.  Bounded (oldest out) and
    per process; a certificate that failed is not kept, so refusals cannot fill it.  Holds only
    certificates, which are public.
    """

    def __init__(self, members: dict[str, Organisation], size: int = 1024) -> None:
        self._members = members
        self._passed: Bounded[tuple[str, bytes], x509.Certificate] = Bounded(size)

    def check(
        self, msp_id: str, certificate_pem: bytes, at: dt.datetime | None = None
    ) -> x509.Certificate:
        """The creator's certificate, if a member vouches for it and it is valid at `at`.

        Raises ValueError when the PEM does not decode, MembershipError when it is refused.
        """
        pem = bytes(certificate_pem)
        certificate = self._passed.get_or_make((msp_id, pem), lambda: self._vouched(msp_id, pem))
        _check_validity(certificate, at)
        return certificate

    def _vouched(self, msp_id: str, pem: bytes) -> x509.Certificate:
        certificate = x509.load_pem_x509_certificate(pem)
        _vouching(msp_id, certificate, self._members)
        return certificate

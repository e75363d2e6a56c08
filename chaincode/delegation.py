"""Delegations: a caller's short-lived, signed permission for the relay to act as it.

A delegation is a compact JWS (RFC 7515) signed ES256 with the delegator's own Fabric identity
key, carrying the delegator's certificate in `x5c` and these claims (RFC 7519 names where one
exists):

    aud        the relay's certificate fingerprint, "sha256:<hex>" (who may carry it)
    sub        the delegator's MSP id
    channels   the channels it opens
    actions    "read" and/or "publish"
    publishes  how many footprints it may publish (with "publish"; default 1)
    nbf, exp   validity, seconds since the epoch; iat when it was signed
    jti        a unique id: publish uses are counted against it

Why JWS: WebCrypto's ECDSA P-256 signature is exactly JWS ES256's (r || s), so a browser signs
a delegation with no library at all; `joserfc` signs and verifies it here. The format lives in
this one module, read by the contracts (`verify_delegation`) and by wallets (`sign_delegation`).

Verification never trusts the caller for membership: the member CAs come from the channel's
membership record, written when the channel was set up.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey
from joserfc.jws import JWSRegistry

from .bounded import Bounded

ACTIONS = ("read", "publish")
DEFAULT_TTL_S = 600
DEFAULT_MAX_LIFETIME_S = 3600
MAX_PUBLISHES = 1000
MAX_TOKEN_BYTES = 16 * 1024  # a certificate and a few claims; anything larger is not ours
TOKEN_TYPE = "datachannels-delegation+jwt"
_HOW_TO = "make a new one with `datachannels wallet --identity NAME --delegate`"


def _registry() -> JWSRegistry:
    # ES256 only; the header carries a certificate, so it is larger than joserfc's default bound.
    registry = JWSRegistry(algorithms=["ES256"])
    registry.max_header_length = 4096
    registry.max_payload_length = 4096
    return registry


_REGISTRY = _registry()


class DelegationError(Exception):
    """A delegation the contract refuses; the message says what to do and never quotes it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    def as_contract_error(self) -> Exception:
        """The same refusal as a contract returns it (a `shim.ContractError`)."""
        from .shim import ContractError

        return ContractError(self.code, self.message)


def _invalid(why: str, how_to: str = _HOW_TO) -> DelegationError:
    return DelegationError("DELEGATION_INVALID", f"the delegation {why}; {how_to}")


@dataclass(frozen=True)
class Delegation:
    """A verified delegation: who delegated what, to which relay, until when."""

    msp_id: str
    certificate: x509.Certificate
    audience: str
    channels: tuple[str, ...]
    actions: tuple[str, ...]
    publishes: int
    not_before: int
    expires: int
    token_id: str


# Fingerprints already worked out, by certificate (equal certificates have equal DER): every
# proposal names the relay's and its delegator's, about 12 us each to hash again.  Public.
_FINGERPRINTS: Bounded[x509.Certificate, str] = Bounded(1024)


def fingerprint(certificate: x509.Certificate) -> str:
    """How a delegation names a certificate (its audience): "sha256:" and the DER's hash."""
    return _FINGERPRINTS.get_or_make(
        certificate, lambda: "sha256:" + certificate.fingerprint(hashes.SHA256()).hex()
    )


# ------------------------------------------------------------------------------- signing


def sign_delegation(
    certificate_pem: bytes,
    private_key: ec.EllipticCurvePrivateKey,
    *,
    audience: str,
    channels: Iterable[str],
    actions: Iterable[str] = ("read",),
    ttl_s: int = DEFAULT_TTL_S,
    publishes: int = 1,
    msp_id: str,
    now: int | None = None,
) -> str:
    """A delegation signed in the caller's own wallet: the key never leaves it."""
    actions = tuple(actions)
    unknown = set(actions) - set(ACTIONS)
    if unknown or not actions:
        raise ValueError(f"actions must be some of {', '.join(ACTIONS)}, got {sorted(unknown)}")
    if ttl_s <= 0:
        raise ValueError("a delegation's lifetime must be positive")
    if not 1 <= publishes <= MAX_PUBLISHES:
        # The contracts refuse any other count, so a wallet must not sign one.
        raise ValueError(f"publishes must be from 1 to {MAX_PUBLISHES}")
    certificate = x509.load_pem_x509_certificate(certificate_pem)
    issued = int(time.time()) if now is None else now
    claims: dict[str, Any] = {
        "aud": audience,
        "sub": msp_id,
        "channels": sorted(set(channels)),
        "actions": list(actions),
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl_s,
        "jti": secrets.token_urlsafe(16),
    }
    if "publish" in actions:
        claims["publishes"] = publishes
    der = certificate.public_bytes(serialization.Encoding.DER)
    header = {"alg": "ES256", "typ": TOKEN_TYPE, "x5c": [base64.b64encode(der).decode()]}
    key = ECKey.import_key(private_key)
    return jwt.encode(header, claims, key, algorithms=["ES256"], registry=_REGISTRY)


# --------------------------------------------------------------------------- verifying


def verify_delegation(
    token: str,
    *,
    member_cas: Mapping[str, Sequence[x509.Certificate]],
    relay: x509.Certificate | str,
    channel: str,
    action: str,
    now: int,
    max_lifetime_s: int = DEFAULT_MAX_LIFETIME_S,
) -> Delegation:
    """Check a delegation as the contract of `channel` must, at transaction time `now`.

    `verify_signed` (what does not change with time or use) and then `check_grant`.  `relay` is
    the certificate of the proposal's creator, or its fingerprint.  Raises `DelegationError`
    with the first failure.
    """
    delegation = verify_signed(token, member_cas=member_cas)
    check_grant(
        delegation,
        relay=relay if isinstance(relay, str) else fingerprint(relay),
        channel=channel,
        action=action,
        now=now,
        max_lifetime_s=max_lifetime_s,
    )
    return delegation


def verify_signed(
    token: str, *, member_cas: Mapping[str, Sequence[x509.Certificate]]
) -> Delegation:
    """What holds for a delegation's whole life: well-formed, the certificate in `x5c` was
    issued by a member CA and is no CA itself, the signature is that certificate's key, and the
    claims are of the right types.  Its result may be cached by the token's hash."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_BYTES:
        raise _invalid("is missing or is not a compact JWS")
    certificate = _certificate_in(_compact(token).protected)
    msp_id = _member_issuing(certificate, member_cas)
    claims = _verified_claims(token, certificate)
    if claims.get("sub") != msp_id:
        raise _invalid(f"names organisation {claims.get('sub')!r}, not its certificate's")
    audience = claims.get("aud")
    if not isinstance(audience, str):
        raise _invalid("has no audience ('aud'): sign it for this gateway's relay")
    publishes = claims.get("publishes", 1)
    if (
        not isinstance(publishes, int)
        or isinstance(publishes, bool)
        or not 1 <= publishes <= MAX_PUBLISHES
    ):
        raise _invalid(f"has a bad 'publishes' claim (a whole number from 1 to {MAX_PUBLISHES})")
    token_id = claims.get("jti")
    if not isinstance(token_id, str) or not 8 <= len(token_id) <= 128 or "\x00" in token_id:
        raise _invalid("has no usable 'jti' claim")
    actions = _strings(claims, "actions")
    return Delegation(
        msp_id=msp_id,
        certificate=certificate,
        audience=audience,
        channels=_strings(claims, "channels"),
        actions=actions,
        publishes=publishes if "publish" in actions else 0,
        not_before=_number(claims, "nbf"),
        expires=_number(claims, "exp"),
        token_id=token_id,
    )


def check_grant(
    delegation: Delegation,
    *,
    relay: str,
    channel: str,
    action: str,
    now: int,
    max_lifetime_s: int = DEFAULT_MAX_LIFETIME_S,
) -> None:
    """What depends on the call: the carrier (`relay`, a fingerprint), the time, the scope."""
    if delegation.audience != relay:
        raise _invalid("is addressed to another relay: sign it for this gateway's relay")
    lifetime = delegation.expires - delegation.not_before
    if lifetime > max_lifetime_s:
        raise _invalid(f"lives {lifetime} s, longer than this channel allows ({max_lifetime_s} s)")
    certificate = delegation.certificate
    if not (
        certificate.not_valid_before_utc.timestamp()
        <= now
        <= certificate.not_valid_after_utc.timestamp()
    ):
        raise _invalid("is signed with a certificate that is not valid now")
    if now >= delegation.expires:
        raise DelegationError("DELEGATION_EXPIRED", f"the delegation has expired; {_HOW_TO}")
    if now < delegation.not_before:
        raise DelegationError(
            "DELEGATION_EXPIRED", "the delegation is not valid yet: check the signer's clock"
        )
    if channel not in delegation.channels:
        raise DelegationError(
            "DELEGATION_SCOPE",
            f"the delegation does not grant channel {channel}; sign one with --channels {channel}",
        )
    if action not in delegation.actions:
        raise DelegationError(
            "DELEGATION_SCOPE",
            f"the delegation does not grant {action!r}; sign one with --actions {action}",
        )


def peek(token: str) -> tuple[str, bytes]:
    """(claimed MSP id, certificate PEM) of a delegation, *unverified*: for a relay to route it.

    Checks only that it is a well-formed delegation; the channel's contract verifies it.
    """
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_BYTES:
        raise _invalid("is missing or is not a compact JWS")
    compact = _compact(token)  # once: the header gives the certificate, the payload the claims
    certificate = _certificate_in(compact.protected)
    try:
        claims = json.loads(compact.payload)
    except (ValueError, TypeError):
        raise _invalid("is not a compact JWS") from None
    sub = claims.get("sub") if isinstance(claims, dict) else None
    if not isinstance(sub, str) or not sub:
        raise _invalid("names no organisation ('sub')")
    return sub, certificate.public_bytes(serialization.Encoding.PEM)


def _compact(token: str) -> Any:
    """The token's parts, decoded but not verified."""
    try:
        return jws.extract_compact(token.encode(), registry=_REGISTRY)
    except (JoseError, ValueError, TypeError):
        raise _invalid("is not a compact JWS") from None


def _certificate_in(header: dict[str, Any]) -> x509.Certificate:
    if header.get("alg") != "ES256":
        raise _invalid("must be signed ES256 (ECDSA P-256, SHA-256)")
    chain = header.get("x5c")
    if not isinstance(chain, list) or not chain or not isinstance(chain[0], str):
        raise _invalid("carries no certificate (x5c)")
    try:
        return x509.load_der_x509_certificate(base64.b64decode(chain[0], validate=True))
    except ValueError:
        raise _invalid("carries a certificate that does not decode") from None


def _member_issuing(
    certificate: x509.Certificate, member_cas: Mapping[str, Sequence[x509.Certificate]]
) -> str:
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    except ValueError:
        raise _invalid("carries a certificate with malformed extensions") from None
    if constraints is not None and constraints.ca:
        raise _invalid("is signed with a CA certificate; sign it with your own identity")
    for msp_id, cas in member_cas.items():
        for ca in cas:
            if ca.subject != certificate.issuer:
                continue  # cheap: only a CA of the issuer's name can have signed it
            try:
                certificate.verify_directly_issued_by(ca)
            except (ValueError, TypeError, InvalidSignature):
                continue
            return msp_id
    raise _invalid(
        "is signed with a certificate from no member organisation of this channel",
        "only its members may delegate here (their CAs are in the channel's membership record)",
    )


def _verified_claims(token: str, certificate: x509.Certificate) -> dict[str, Any]:
    public_key = certificate.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or public_key.curve.name != (
        "secp256r1"
    ):
        raise _invalid("is signed with a key that is not ECDSA P-256")
    try:
        key = ECKey.import_key(public_key)
        decoded = jwt.decode(token, key, algorithms=["ES256"], registry=_REGISTRY)
    except (JoseError, ValueError, TypeError, json.JSONDecodeError):
        raise _invalid("has a signature that does not verify") from None
    if decoded.header.get("typ") != TOKEN_TYPE:
        raise _invalid(f"is not of type {TOKEN_TYPE}")
    return dict(decoded.claims)


def _number(claims: dict[str, Any], name: str) -> int:
    value = claims.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise _invalid(f"has no whole-number {name!r} claim")
    return value


def _strings(claims: dict[str, Any], name: str) -> tuple[str, ...]:
    value = claims.get(name)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _invalid(f"has no list of {name}")
    return tuple(value)

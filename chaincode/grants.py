"""Access grants (issue 13's tokens): a data provider's signed permission to read factors.

A grant is a Biscuit token (`biscuit-python`) whose authority block is signed with the private
key of a member of the channel's writer organisation (its Fabric identity, ECDSA P-256) and
holds these facts:

    grant_channel("utility");
    grant_kind("grid_rate");                 one per record kind it opens (factors only)
    grant_consumer_org("OutsiderMSP");       the organisation it is issued to,
    grant_consumer_ca(hex:3082…);            that organisation's CA certificate (DER): the
                                             provider vouches for it, since the channel's
                                             membership record does not hold a non-member's CA
    grant_consumer_cert("sha256:…");         optionally: the one certificate it is issued to
    grant_expires(2027-01-01T00:00:00Z);
    grant_fee("0.002"); grant_currency("USD"); grant_max_uses(10);

Why Biscuit rather than a JWS like the delegations: its holder can narrow it offline without
the issuer's private key, by appending a block of checks (`narrow`: an earlier expiry, fewer
kinds),
and nothing appended can widen it (facts of later blocks are not trusted by the checks here,
which read the authority block only).  A grant's id is the revocation id of its authority
block: it can be read before the signature is checked (`grant_id`), so the contract can look
up the grant it names and the issuer's certificate recorded with it, then check the signature
with that certificate's key.

The grant id is the authority block's signature (biscuit's revocation id). An ECDSA signature
can be re-encoded into another valid one for the same block, which gives another id; that is
harmless here because a token counts only under the id its provider recorded on the channel:
a re-encoded copy names no recorded grant and is refused.

`verify` answers the checks that have codes of their own, in this order: the signature and the
consumer (TOKEN_INVALID), expiry, also by a narrowing block (TOKEN_EXPIRED), channel and kind,
also by a narrowing block (TOKEN_SCOPE).  Revocation and the use cap are the ledger's to check
(they need state); this module is pure and shared by the CLI and the contracts.

The source contracts record grants (`grant_issue`, `grant_revoke`, `grants`), meter every read
under one and sum the bill (`usage`): chaincode/records.py and chaincode/access.py.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import biscuit_auth as biscuit
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from .bounded import Bounded

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MAX_KINDS = 16


class GrantError(Exception):
    """A grant that does not admit the read; `code` is one of the TOKEN_* codes."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Grant:
    grant_id: str
    channel: str
    kinds: tuple[str, ...]
    consumer_org: str
    consumer_ca: x509.Certificate
    consumer_cert: str | None
    expires: dt.datetime
    fee: Decimal
    currency: str
    max_uses: int | None


def _string(value: str, what: str) -> str:
    """A value to stand in a Datalog string: printable, no quote or backslash to escape."""
    if not value or not value.isprintable() or '"' in value or "\\" in value or len(value) > 200:
        raise ValueError(f"{what} must be 1 to 200 printable characters without quotes")
    return value


def issue(
    private_key_pem: bytes,
    channel: str,
    kinds: Iterable[str],
    expires: dt.datetime,
    *,
    consumer_org: str,
    consumer_ca_pem: bytes,
    consumer_cert: str | None = None,
    fee: str = "0",
    currency: str = "USD",
    max_uses: int | None = None,
) -> str:
    """A grant, signed with the issuer's P-256 key (PEM, PKCS#8); base64url text."""
    kinds = tuple(dict.fromkeys(kinds))
    if not 1 <= len(kinds) <= MAX_KINDS:
        raise ValueError(f"a grant opens 1 to {MAX_KINDS} record kinds")
    try:
        consumer_ca = x509.load_pem_x509_certificate(consumer_ca_pem)
    except ValueError:
        raise ValueError("consumer_ca_pem is not a PEM certificate") from None
    if expires.tzinfo is None:
        raise ValueError("expires must carry a time zone")
    try:
        amount = Decimal(fee)
    except InvalidOperation:
        raise ValueError(f"fee must be a decimal number, got {fee!r}") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError("fee must be zero or more")
    if max_uses is not None and max_uses < 1:
        raise ValueError("max_uses must be at least 1")
    facts = [f'grant_channel("{_string(channel, "channel")}");']
    facts += [f'grant_kind("{_string(kind, "kind")}");' for kind in kinds]
    facts.append(f'grant_consumer_org("{_string(consumer_org, "consumer_org")}");')
    ca_der = consumer_ca.public_bytes(serialization.Encoding.DER)
    facts.append(f"grant_consumer_ca(hex:{ca_der.hex()});")
    if consumer_cert is not None:
        facts.append(f'grant_consumer_cert("{_string(consumer_cert, "consumer_cert")}");')
    facts.append(f"grant_expires({_datalog_time(expires)});")
    facts.append(f'grant_fee("{amount}"); grant_currency("{_string(currency, "currency")}");')
    if max_uses is not None:
        facts.append(f"grant_max_uses({int(max_uses)});")
    # from_pem / from_der are in biscuit-python 0.4's module but not yet in its type stubs.
    key = biscuit.PrivateKey.from_pem(private_key_pem.decode())  # type: ignore[attr-defined]
    return biscuit.BiscuitBuilder("\n".join(facts)).build(key).to_base64()


def narrow(
    token: str,
    issuer_certificate_pem: bytes,
    *,
    expires: dt.datetime | None = None,
    kinds: Iterable[str] | None = None,
) -> str:
    """The same grant with an earlier expiry and/or fewer kinds: a block of checks appended.
    It needs the issuer's certificate (public), not any private key, and cannot widen it."""
    checks = []
    if expires is not None:
        checks.append(f"check if time($t), $t < {_datalog_time(expires)};")
    if kinds is not None:
        listed = ", ".join(f'"{_string(kind, "kind")}"' for kind in kinds)
        checks.append(f"check all kind($k), [{listed}].contains($k);")
    if not checks:
        raise ValueError("narrow needs an expiry or kinds")
    verified = _verified(token, issuer_certificate_pem)
    return verified.append(biscuit.BlockBuilder("\n".join(checks))).to_base64()


def _verified(token: str, issuer_certificate_pem: bytes) -> biscuit.Biscuit:
    public = x509.load_pem_x509_certificate(issuer_certificate_pem).public_key()
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    try:
        root = biscuit.PublicKey.from_der(der)  # type: ignore[attr-defined]
        return biscuit.Biscuit.from_base64(token, root)
    except Exception:  # noqa: BLE001  (a bad signature, a tampered or truncated token)
        raise GrantError(
            "TOKEN_INVALID", "the token's signature does not verify with its issuer's key"
        ) from None


def grant_id(token: str) -> str:
    """The grant's id (its authority block's revocation id), read before any signature check;
    TOKEN_INVALID if the text is not a grant at all."""
    try:
        return biscuit.UnverifiedBiscuit.from_base64(token).revocation_ids[0]
    except Exception:  # noqa: BLE001  (biscuit's own parse errors: not a grant)
        raise GrantError("TOKEN_INVALID", "the token is not a grant this gateway reads") from None


def read_signed(token: str, issuer_certificate_pem: bytes) -> Grant:
    """The grant, if its signature verifies with the issuer's certificate; no other check.
    What the contract records when a provider registers a grant it issued."""
    return _read(_verified(token, issuer_certificate_pem))


def as_record(grant: Grant) -> dict[str, object]:
    """A grant's facts as the contract stores them (JSON; the token itself is not stored)."""
    return {
        "grantId": grant.grant_id,
        "channel": grant.channel,
        "kinds": list(grant.kinds),
        "consumerOrg": grant.consumer_org,
        "consumerCa": grant.consumer_ca.public_bytes(serialization.Encoding.PEM).decode(),
        "consumerCert": grant.consumer_cert,
        "expires": _datalog_time(grant.expires),
        "fee": str(grant.fee),
        "currency": grant.currency,
        "maxUses": grant.max_uses,
    }


def verify(
    token: str,
    issuer_certificate_pem: bytes,
    channel: str,
    kinds: Iterable[str],
    consumer_org: str,
    consumer_cert: str,
    now: dt.datetime,
) -> Grant:
    """The grant, if it admits `consumer` reading `kinds` on `channel` at `now`."""
    key = hashlib.sha256(token.encode() + b"\n" + issuer_certificate_pem).hexdigest()
    grant = _PLAIN.get(key)
    token_ = None
    if grant is None:
        token_ = _verified(token, issuer_certificate_pem)
        grant = _read(token_)
        if token_.block_count() == 1 and "check" not in token_.block_source(0):
            _PLAIN.put(key, grant)  # nothing in it depends on the time or the kinds read
    wanted = tuple(kinds)
    if grant.consumer_org != consumer_org:
        raise GrantError(
            "TOKEN_INVALID", f"the token was issued to {grant.consumer_org}, not {consumer_org}"
        )
    if grant.consumer_cert is not None and grant.consumer_cert != consumer_cert:
        raise GrantError("TOKEN_INVALID", "the token was issued to another certificate")
    if now >= grant.expires:
        raise GrantError("TOKEN_EXPIRED", f"the token expired at {grant.expires.isoformat()}")
    if grant.channel != channel:
        raise GrantError("TOKEN_SCOPE", f"the token opens channel {grant.channel}, not {channel}")
    outside = sorted(set(wanted) - set(grant.kinds))
    if outside:
        raise GrantError(
            "TOKEN_SCOPE",
            f"the token does not open {', '.join(outside)}; it opens {', '.join(grant.kinds)}",
        )
    # The narrowing blocks' checks: run them at `now`, and again at the epoch to tell an
    # expiry (passes then) from a narrower scope (fails then too).
    if token_ is not None and not _authorized(token_, now, channel, wanted):
        if _authorized(token_, EPOCH, channel, wanted):
            raise GrantError("TOKEN_EXPIRED", "the token's holder narrowed it to an earlier expiry")
        raise GrantError("TOKEN_SCOPE", "the token's holder narrowed it to fewer kinds")
    return grant


# Grants whose signature was checked and whose facts were read, by the hash of token and
# issuer certificate: a grant is immutable, so each is verified once per process.  Only grants
# without checks of their own (not narrowed) are kept, since checks depend on the time and the
# kinds read.  Holds no token.
_PLAIN: Bounded[str, Grant] = Bounded(4096)


def _authorized(
    token: biscuit.Biscuit, at: dt.datetime, channel: str, kinds: tuple[str, ...]
) -> bool:
    code = [f"time({_datalog_time(at)});", f'channel("{_string(channel, "channel")}");']
    code += [f'kind("{_string(kind, "kind")}");' for kind in kinds]
    code.append("allow if true;")
    try:
        biscuit.AuthorizerBuilder("\n".join(code)).build(token).authorize()
    except biscuit.AuthorizationError:
        return False
    return True


def _read(token: biscuit.Biscuit) -> Grant:
    """The authority block's facts (facts of later blocks are not read: they cannot widen)."""
    authorizer = biscuit.AuthorizerBuilder("allow if true;").build(token)

    def terms(name: str, arity: int = 1) -> list[list[object]]:
        variables = ", ".join(f"$v{n}" for n in range(arity))
        rule = biscuit.Rule(f"out({variables}) <- {name}({variables}) trusting authority")
        return [fact.terms for fact in authorizer.query(rule)]

    def one(name: str) -> object | None:
        found = terms(name)
        if len(found) > 1:
            raise GrantError("TOKEN_INVALID", f"the token states {name} more than once")
        return found[0][0] if found else None

    channel, expires = one("grant_channel"), one("grant_expires")
    kinds = tuple(sorted(str(t[0]) for t in terms("grant_kind")))
    if not isinstance(channel, str) or not isinstance(expires, dt.datetime) or not kinds:
        raise GrantError("TOKEN_INVALID", "the token lacks a channel, kinds or an expiry")
    org, ca, cert = one("grant_consumer_org"), one("grant_consumer_ca"), one("grant_consumer_cert")
    if not isinstance(org, str) or not isinstance(ca, bytes):
        raise GrantError("TOKEN_INVALID", "the token names no consumer organisation and CA")
    try:
        consumer_ca = x509.load_der_x509_certificate(ca)
    except ValueError:
        raise GrantError("TOKEN_INVALID", "the token's consumer CA does not decode") from None
    fee, currency, uses = one("grant_fee"), one("grant_currency"), one("grant_max_uses")
    return Grant(
        grant_id=token.revocation_ids[0],
        channel=channel,
        kinds=kinds,
        consumer_org=org,
        consumer_ca=consumer_ca,
        consumer_cert=str(cert) if cert is not None else None,
        expires=expires if expires.tzinfo else expires.replace(tzinfo=dt.UTC),
        fee=Decimal(str(fee or "0")),
        currency=str(currency or "USD"),
        max_uses=int(uses) if isinstance(uses, int) else None,
    )


def _datalog_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")

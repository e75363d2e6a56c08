"""The `X-Wallet` header: one place that writes it and one that reads it.

`X-Wallet: <base64url of a JSON object>` maps a channel name to a credential
(DESIGN.md):

* `{"delegation": "<compact JWS>"}`: the normal case.  The caller signed it in its own wallet
  (`delegation_wallet` below, `datachannels wallet --delegate`, or `/static/delegation.js` in a
  browser); the gateway's relay carries it and the channel's contract verifies it.
* `{"token": "<grant>", "delegation": "<compact JWS>"}`: a consumer that is no member reads the
  channel under a provider's grant (chaincode/grants.py); the delegation proves it holds it.
  The relay submits a request's first read of the channel so that the contract's metering
  commits, and evaluates the rest (channel_connectors/base.py `metered_read`).
* `{"mspId", "certificate", "privateKey"}` in PEM, as in a Fabric wallet: for local use only;
  a gateway in production mode refuses it.

Errors name the channel and the problem, never the secret.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ..chaincode.delegation import DEFAULT_TTL_S, DelegationError, peek, sign_delegation
from ..channel_connectors.base import Credential, Delegated
from ..channel_connectors.identity import CredentialError, Identity, Signer, SigningIdentity
from . import jsontext

MAX_HEADER_BYTES = 64 * 1024
HOW_TO_DELEGATE = (
    "send a delegation instead: `datachannels wallet --identity NAME --delegate` prints one, "
    "and /static/delegation.js signs one in a browser; the private key stays in your wallet"
)


_FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")


class WalletError(ValueError):
    """A wallet header that cannot be used; safe to show the caller."""

    def __init__(self, message: str, channel: str | None = None, code: str = "BAD_INPUT") -> None:
        super().__init__(
            f"X-Wallet: {message}"
            if channel is None
            else f"X-Wallet, channel {channel!r}: {message}"
        )
        self.channel = channel
        self.code = code


def delegation_wallet(
    certificate_pem: bytes,
    private_key_pem: bytes,
    msp_id: str,
    *,
    audience: str,
    channels: Iterable[str],
    actions: Iterable[str] = ("read", "publish"),
    ttl_s: int = DEFAULT_TTL_S,
    publishes: int = 1,
    token: str | None = None,
) -> str:
    """An `X-Wallet` value of one delegation for `channels`, signed here, with no key in it.

    For Python callers: `audience` is the relay's fingerprint, which the gateway's `/healthz`
    shows.  The key is used to sign and is not kept.  `token`, a provider's grant, rides beside
    the delegation of each of `channels` (a grant opens one channel).
    """
    channels = sorted(set(channels))
    Signer.from_pem(private_key_pem)  # a clear CredentialError for a key that is no P-256 key
    key = serialization.load_pem_private_key(private_key_pem, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    delegation = sign_delegation(
        certificate_pem,
        key,
        audience=audience,
        channels=channels,
        actions=actions,
        ttl_s=ttl_s,
        publishes=publishes,
        msp_id=msp_id,
    )
    entry = (
        {"delegation": delegation} if token is None else {"delegation": delegation, "token": token}
    )
    raw = json.dumps({c: entry for c in channels}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def encode_wallet(entries: Mapping[str, tuple[str, bytes, bytes]]) -> str:
    """channel → (MSP id, certificate PEM, private key PEM) as an `X-Wallet` value."""
    body = {
        channel: {"mspId": msp_id, "certificate": cert.decode(), "privateKey": key.decode()}
        for channel, (msp_id, cert, key) in entries.items()
    }
    raw = json.dumps(body, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@dataclass(frozen=True)
class Wallet:
    """A parsed wallet: lives in one request's context only."""

    credentials: Mapping[str, Credential]

    def credential(self, channel: str) -> Credential | None:
        return self.credentials.get(channel)

    def channels(self) -> tuple[str, ...]:
        return tuple(sorted(self.credentials))

    def __repr__(self) -> str:  # a wallet printed by accident shows no key
        return f"Wallet(channels={list(self.channels())})"


EMPTY_WALLET = Wallet({})


def parse_wallet(
    header: str | None,
    known_channels: Iterable[str],
    relay: SigningIdentity | None = None,
    production: bool = False,
) -> Wallet:
    """Decode and check an `X-Wallet` header value; raises WalletError.

    `relay` carries delegations (without one, a delegation entry is refused); in `production`
    an entry holding a private key is refused.
    """
    if header is None or not header.strip():
        return EMPTY_WALLET
    if len(header) > MAX_HEADER_BYTES:
        raise WalletError(f"header is larger than {MAX_HEADER_BYTES} bytes")
    text = header.strip()
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise WalletError("not valid base64url") from None
    try:
        body = jsontext.loads(raw)  # orjson, about 4x the json module on a 7 KB wallet
    except (ValueError, RecursionError):  # not JSON or not UTF-8, too deep, too many digits
        raise WalletError("base64url does not decode to JSON this gateway reads") from None
    if not isinstance(body, dict):
        raise WalletError("must be a JSON object mapping channel names to credentials")
    channels = set(known_channels)
    credentials: dict[str, Credential] = {}
    # A wallet usually gives one credential for every channel: each distinct entry is parsed
    # once.  This lives for this call only; nothing parsed here outlives the request.
    parsed: dict[object, Credential] = {}
    for channel, entry in body.items():
        if channel not in channels:
            # Never quote the name: a careless wallet may put anything there, even a key.
            raise WalletError(
                "an entry names a channel this gateway does not have; channels are "
                + ", ".join(sorted(channels))
            )
        same = _same_entry(entry)
        if same not in parsed:
            parsed[same] = _credential(channel, entry, relay, production)
        credentials[channel] = parsed[same]
    return Wallet(credentials)


def _same_entry(entry: object) -> object:
    """A key equal for equal wallet entries: their fields, when all are text (a delegation
    entry, an identity: cheap to hash), else their canonical JSON."""
    if isinstance(entry, dict) and all(isinstance(v, str) for v in entry.values()):
        return tuple(sorted(entry.items()))
    return json.dumps(entry, sort_keys=True)


def _credential(
    channel: str, entry: object, relay: SigningIdentity | None, production: bool
) -> Credential:
    if not isinstance(entry, dict):
        raise WalletError("credential must be a JSON object", channel)
    if "privateKey" in entry and production:
        raise WalletError(
            "this gateway runs in production mode and accepts no private key; " + HOW_TO_DELEGATE,
            channel,
        )
    if "delegation" in entry or "token" in entry:
        return _delegated(channel, entry, relay)
    missing = [
        f
        for f in ("mspId", "certificate", "privateKey")
        if not isinstance(entry.get(f), str) or not entry.get(f)
    ]
    if missing:
        raise WalletError(f"credential needs {', '.join(missing)} (strings)", channel)
    try:
        return SigningIdentity.from_pem(
            entry["mspId"], entry["certificate"].encode(), entry["privateKey"].encode()
        )
    except CredentialError as exc:
        raise WalletError(str(exc), channel) from None


def _delegated(channel: str, entry: dict[str, object], relay: SigningIdentity | None) -> Delegated:
    extra = sorted(set(entry) - {"delegation", "token"})
    if extra:
        # Field names are quoted only when they look like field names.
        named = [name for name in extra if _FIELD_NAME.fullmatch(name)]
        others = len(extra) - len(named)
        listed = ", ".join(named + ([f"{others} other field(s)"] if others else []))
        raise WalletError(
            f"a delegation entry holds only 'delegation' (and 'token'), not {listed}", channel
        )
    if "delegation" not in entry:
        raise WalletError(
            'a token travels with its holder\'s delegation: {"token": …, "delegation": …}',
            channel,
        )
    grant = entry.get("token")
    if grant is not None and (not isinstance(grant, str) or not 1 <= len(grant) <= 8192):
        raise WalletError("token must be a string of at most 8 KiB (a grant)", channel)
    token = entry["delegation"]
    if relay is None:
        raise WalletError(
            "this gateway has no relay identity, so it cannot carry delegations; its operator "
            "sets DATACHANNELS_RELAY_CERTIFICATE and DATACHANNELS_RELAY_KEY (docs/deployment.md)",
            channel,
            code="CHANNEL_UNAVAILABLE",
        )
    if not isinstance(token, str):
        raise WalletError("delegation must be a string (a compact JWS)", channel)
    try:
        msp_id, certificate_pem = peek(token)
    except DelegationError as refused:
        raise WalletError(refused.message, channel, code=refused.code) from None
    return Delegated(
        relay=relay, delegation=token, identity=Identity(msp_id, certificate_pem), token=grant
    )

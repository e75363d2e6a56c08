"""The `X-Wallet` header: one place that writes it and one that reads it.

`X-Wallet: <base64url of a JSON object>` maps a channel name to a credential
(DESIGN.md).  An identity credential is `{"mspId", "certificate", "privateKey"}`
in PEM, as in a Fabric wallet.  Errors name the channel and the problem,
never the secret.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..channel_connectors.identity import CredentialError, SigningIdentity

MAX_HEADER_BYTES = 64 * 1024


class WalletError(ValueError):
    """A wallet header that cannot be used; safe to show the caller."""

    def __init__(self, message: str, channel: str | None = None) -> None:
        super().__init__(
            f"X-Wallet: {message}"
            if channel is None
            else f"X-Wallet, channel {channel!r}: {message}"
        )
        self.channel = channel


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

    credentials: Mapping[str, SigningIdentity]

    def credential(self, channel: str) -> SigningIdentity | None:
        return self.credentials.get(channel)

    def channels(self) -> tuple[str, ...]:
        return tuple(sorted(self.credentials))

    def __repr__(self) -> str:  # a wallet printed by accident shows no key
        return f"Wallet(channels={list(self.channels())})"


EMPTY_WALLET = Wallet({})


def parse_wallet(header: str | None, known_channels: Iterable[str]) -> Wallet:
    """Decode and check an `X-Wallet` header value; raises WalletError."""
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
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise WalletError("base64url does not decode to JSON") from None
    if not isinstance(body, dict):
        raise WalletError("must be a JSON object mapping channel names to credentials")
    channels = set(known_channels)
    credentials: dict[str, SigningIdentity] = {}
    # A wallet usually gives one identity for every channel: each distinct entry is parsed
    # once.  This lives for this call only; nothing parsed here outlives the request.
    parsed: dict[str, SigningIdentity] = {}
    for channel, entry in body.items():
        if channel not in channels:
            raise WalletError(
                f"unknown channel; channels are {', '.join(sorted(channels))}", channel
            )
        same = json.dumps(entry, sort_keys=True)
        if same not in parsed:
            parsed[same] = _credential(channel, entry)
        credentials[channel] = parsed[same]
    return Wallet(credentials)


def _credential(channel: str, entry: object) -> SigningIdentity:
    if not isinstance(entry, dict):
        raise WalletError("credential must be a JSON object", channel)
    if "token" in entry:
        raise WalletError(
            "access tokens are not supported yet; give mspId, certificate and privateKey", channel
        )
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

"""The errors a channel call can end in, each with the code clients see.

One mapping for the whole project: the GraphQL layer turns `ChannelError.code`
into `extensions.code`.  Messages are written to be shown to the caller: they
name the channel and the problem, never a key, token or certificate body.
"""

from __future__ import annotations

import re

from ..chaincode.shim import ERROR_CODES as CONTRACT_CODES

# The contracts' codes (a refusal's message starts with one), then the gateway's own.
CODES = (
    *CONTRACT_CODES,
    "CHANNEL_UNAVAILABLE",
    "MISSING_CREDENTIALS",
    # The gateway's own bounds on one request (never raised by a contract).
    "LIMIT_EXCEEDED",
)

_CONTRACT_MESSAGE = re.compile(
    rf"^({'|'.join(map(re.escape, CONTRACT_CODES))}): (.*)$",
    re.DOTALL,
)


class ChannelError(Exception):
    def __init__(self, code: str, channel: str, message: str) -> None:
        if code not in CODES:
            raise ValueError(f"unknown error code {code}")
        super().__init__(f"{code} on channel {channel}: {message}")
        self.code = code
        self.channel = channel
        self.message = message

    @property
    def extensions(self) -> dict[str, str]:
        """What a GraphQL error built from this one carries in `extensions`."""
        return {"code": self.code, "channel": self.channel}


def from_contract_message(channel: str, message: str) -> ChannelError:
    """A refused transaction's message (ours start with a code) as a ChannelError."""
    match = _CONTRACT_MESSAGE.match(message.strip())
    if match:
        return ChannelError(match.group(1), channel, match.group(2))
    # The contract API's own refusals (unknown function, wrong argument count).
    return ChannelError("BAD_INPUT", channel, message.strip() or "the contract refused the call")

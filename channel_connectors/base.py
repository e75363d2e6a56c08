"""The `Connector` protocol: how the gateway talks to channels.

Shaped after the Fabric Gateway client API (a network per channel, a
contract, evaluate and submit) with one difference that is the point of this
project: the gateway holds no identity of its own, so the caller's
credential is passed in with every call.  One class per kind of backend
(`embedded`, `fabric`) implements it.
"""

from __future__ import annotations

import asyncio
import json
import random
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from .errors import ChannelError
from .identity import Identity, SigningIdentity

DELEGATION_TRANSIENT_KEY = "delegation"  # where the contract looks (chaincode.access)
TOKEN_TRANSIENT_KEY = "token"
ACCESS_TRANSIENT_KEY = "access"  # the request's access to the channel (chaincode.records)
_JITTER = random.SystemRandom()
# A read under a grant that lost the race for the grant's counter is simulated again, at most
# this many times (each retry sees the counter the winner committed).
TOKEN_READ_ATTEMPTS = 50


class ChannelAccess:
    """One request's access to one channel under a grant: the id its reads meter under, and
    whether a read has been metered under it (then the others are evaluated: they write
    nothing)."""

    def __init__(self) -> None:
        self.id = secrets.token_hex(16)
        self.metered = False
        self.lock = asyncio.Lock()


class GrantAccess:
    """A request's accesses under a grant, one per channel.  Made afresh with each parsed
    wallet, so it never outlives its request (a wallet entry used for several channels is
    one credential, and still gets an access of its own on each)."""

    def __init__(self) -> None:
        self._channels: dict[str, ChannelAccess] = {}

    def of(self, channel: str) -> ChannelAccess:
        return self._channels.setdefault(channel, ChannelAccess())


@dataclass(frozen=True)
class Delegated:
    """A caller's delegation, carried by the gateway's relay identity.

    `identity` is the delegator as the delegation names it (MSP id and certificate, unverified
    here: the channel's contract verifies them); proposals are signed by `relay`.
    """

    relay: SigningIdentity
    delegation: str
    identity: Identity
    # A provider's grant (chaincode/grants.py) the consumer reads under, carried beside it.
    token: str | None = None
    access: GrantAccess = field(default_factory=GrantAccess, compare=False)

    def __repr__(self) -> str:  # a delegation is a bearer credential for its lifetime
        return f"Delegated(msp_id={self.identity.msp_id!r})"


# What a caller hands over for one channel: its identity with its signer (local use), or a
# delegation the relay carries.  Access tokens join with the fees feature.
Credential = SigningIdentity | Delegated


def proposer(credential: Credential, channel: str) -> tuple[SigningIdentity, dict[str, bytes]]:
    """Who signs a credential's proposals on `channel`, and the transient data they carry."""
    if isinstance(credential, Delegated):
        transient = {DELEGATION_TRANSIENT_KEY: credential.delegation.encode()}
        if credential.token is not None:
            transient[TOKEN_TRANSIENT_KEY] = credential.token.encode()
            transient[ACCESS_TRANSIENT_KEY] = credential.access.of(channel).id.encode()
        return credential.relay, transient
    return credential, {}


@dataclass(frozen=True)
class Submitted:
    """A committed transaction: the contract's result and where it landed."""

    result: bytes
    tx_id: str
    block_number: int


@dataclass(frozen=True)
class ChainInfo:
    channel: str
    height: int


@runtime_checkable
class Connector(Protocol):
    kind: str

    def channels(self) -> tuple[str, ...]:
        """The channels this connector can reach."""
        ...

    async def evaluate(
        self, channel: str, credential: Credential, function: str, args: Sequence[str] = ()
    ) -> bytes:
        """Run a query as the caller; nothing is written."""
        ...

    async def submit(
        self, channel: str, credential: Credential, function: str, args: Sequence[str] = ()
    ) -> Submitted:
        """Endorse, order and commit a transaction signed by the caller; wait for its commit."""
        ...

    async def chain_info(self, channel: str, credential: Credential) -> ChainInfo:
        """The channel's height, asked as the caller (the channel refuses non-members)."""
        ...

    async def transaction_blocks(
        self, channel: str, credential: Credential, tx_ids: Sequence[str]
    ) -> dict[str, int]:
        """Block number of each transaction the channel has, asked as the caller."""
        ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class Contract:
    """One channel's contract, as the Fabric Gateway API names it; each call takes a credential."""

    connector: Connector
    channel: str

    async def evaluate(self, credential: Credential, function: str, *args: str) -> bytes:
        return await self.connector.evaluate(self.channel, credential, function, args)

    async def submit(self, credential: Credential, function: str, *args: str) -> Submitted:
        return await self.connector.submit(self.channel, credential, function, args)


@dataclass(frozen=True)
class Network:
    """A channel reached through a connector.

    `network(connector, "utility").contract().evaluate(credential, "read", request)`
    """

    connector: Connector
    channel: str

    def contract(self) -> Contract:
        # Each channel runs one contract, named after the channel.
        return Contract(self.connector, self.channel)

    async def chain_info(self, credential: Credential) -> ChainInfo:
        return await self.connector.chain_info(self.channel, credential)


def network(connector: Connector, channel: str) -> Network:
    if channel not in connector.channels():
        raise ValueError(
            f"unknown channel {channel!r}; channels: {', '.join(connector.channels())}"
        )
    return Network(connector, channel)


# The contract calls that meter a read under a grant (chaincode/records.py); others, such as
# `usage`, are evaluated as usual.
METERED_FUNCTIONS = frozenset({"read", "query"})


def under_grant(credential: Credential, function: str) -> bool:
    """Whether this call is a read under a provider's grant, which the relay must meter."""
    return (
        isinstance(credential, Delegated)
        and credential.token is not None
        and function in METERED_FUNCTIONS
    )


def asks_nothing(function: str, args: Sequence[str]) -> bool:
    """A `read` of no keys and no queries (a channel probe): the contract meters nothing."""
    if function != "read" or len(args) != 1:
        return False
    try:
        body = json.loads(args[0])
    except ValueError:
        return False
    return isinstance(body, dict) and not body.get("keys") and not body.get("queries")


async def evaluate_or_meter(
    channel: str,
    credential: Credential,
    function: str,
    args: Sequence[str],
    evaluate: Callable[[], Awaitable[bytes]],
    submit: Callable[[str, Credential, str, Sequence[str]], Awaitable[Submitted]],
) -> bytes:
    """What a connector's `evaluate` does: `evaluate()`, or for a read under a grant that asks
    for something, the metered read the relay must make (`metered_read`)."""
    if (
        not isinstance(credential, Delegated)
        or not under_grant(credential, function)
        or asks_nothing(function, args)
    ):
        return await evaluate()
    return await metered_read(
        channel, credential, lambda: submit(channel, credential, function, args), evaluate
    )


async def metered_read(
    channel: str,
    credential: Delegated,
    submit: Callable[[], Awaitable[Submitted]],
    evaluate: Callable[[], Awaitable[bytes]],
) -> bytes:
    """A read under a grant, as the relay must make it.

    The request's first read of the channel is submitted, so that the contract's metering
    write commits (an evaluate commits nothing).  Its answer says the access is paid
    (`{"metered": "<access>", …}`, chaincode/records.py); from then on the request's reads of
    the channel name the same access and are evaluated, since the contract finds it paid and
    writes nothing.  A contract that does not say so (one older than access ids) has every
    read submitted, each metered as before.  Concurrent reads under one grant race for its
    counter; the losers are invalidated by MVCC and simulated again here, so no caller sees
    the race and the cap holds."""
    access = credential.access.of(channel)
    async with access.lock:  # a second read of the request waits for the first to commit
        if not access.metered:
            for attempt in range(TOKEN_READ_ATTEMPTS):
                try:
                    result = (await submit()).result
                except ChannelError as error:
                    if error.code != "CONFLICT" or not any(
                        reason in str(error)
                        for reason in ("MVCC_READ_CONFLICT", "PHANTOM_READ_CONFLICT")
                    ):
                        raise
                    # From the OS: instances restored from one snapshot must not retry alike.
                    await asyncio.sleep(_JITTER.uniform(0, 0.002 * (attempt + 1)))
                    continue
                access.metered = result.startswith(b'{"metered":"' + access.id.encode() + b'"')
                return result
            raise ChannelError(
                "CHANNEL_UNAVAILABLE",
                channel,
                f"{TOKEN_READ_ATTEMPTS} concurrent reads under this grant kept losing the race "
                "for its counter; try again",
            )
    return await evaluate()

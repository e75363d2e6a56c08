"""What every resolver of one request shares: the caller's wallet and the channel loaders.

Created per request by the gateway and dropped with it; nothing in here is
shared between callers but `known_blocks`, the app's record of where committed
transactions landed (`KnownBlocks`: public facts, answered only for records
the request's own reads returned).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

from strawberry.dataloader import DataLoader

from ..chaincode.bounded import Bounded
from ..channel_connectors.base import Connector, Delegated, network
from ..channel_connectors.errors import ChannelError
from ..gateway.wallet import Wallet
from . import engine
from .loaders import ChannelLoaders, MissingCredentials

MAX_PAGE = 500
KNOWN_BLOCKS = 20_000  # committed transactions' block numbers an app remembers (about 4 MB)
MAX_ROUNDS = 4  # of channel reads for one footprint: the narrow needs, then the rare wider ones


class BadInput(Exception):
    """Input the gateway refuses before any channel is asked; names the field."""

    def __init__(self, field_path: str, message: str) -> None:
        super().__init__(f"{field_path}: {message}")
        self.extensions = {"code": "BAD_INPUT", "field": field_path}


def bad_input_from(error: engine.EngineError) -> BadInput:
    return BadInput(error.field, error.message)


class KnownBlocks(Bounded[tuple[str, str], int]):
    """The block of each committed transaction already looked up, by (channel, txId).

    Where a transaction landed never changes once it is committed, and a block number is
    provenance of a record, not of who asked.  A request is answered from here only for the
    txIds of records its own reads returned in that request (`ChannelLoaders.shown`: the
    contract admitted it to them); any other txId, such as one quoted in a published
    footprint's provenance, is asked of the channel as the caller, as before.  So an app keeps
    the numbers it has seen, bounded, and `provenance { blockNumber }` costs a channel call only
    for transactions not seen yet.  Never a credential, never an answer that depends on the
    caller."""

    def __init__(self, size: int = KNOWN_BLOCKS) -> None:
        super().__init__(size)


@dataclass
class RequestContext:
    connector: Connector
    wallet: Wallet
    # Activities one request may ask for, over all its footprints (schema/limits.py).
    max_activities: int = 1000
    # Shared by the app's requests: public, immutable facts only (see KnownBlocks).
    known_blocks: KnownBlocks = field(default_factory=KnownBlocks)
    loaders: ChannelLoaders = field(init=False)
    _block_loaders: dict[str, DataLoader[str, int | None]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.loaders = ChannelLoaders(self.connector, self.wallet)

    # -- browsing one channel
    async def browse(
        self,
        channel: str,
        kind: str,
        cls: type,
        attributes: list[str],
        where: dict[str, Any],
        first: int,
        after: str | None,
    ) -> Any:
        from ..schema.common import Page, payload_fields

        if not 1 <= first <= MAX_PAGE:
            raise BadInput("first", f"must be from 1 to {MAX_PAGE}, got {first}")
        if kind in engine.AUDITED_KINDS.values():  # "your own records", for an auditor too
            attributes = [self.loaders.credential(channel).identity.msp_id, *attributes]
        query: dict[str, Any] = {"kind": kind, "attributes": attributes, "limit": first}
        if where:
            query["where"] = where
        if after:
            query["after"] = after
        answer = await self._load(channel, engine.query_need(query))
        return Page(
            items=[payload_fields(cls, r, channel) for r in answer["records"]],
            next_cursor=answer["next"],
        )

    async def _load(self, channel: str, need: engine.Need) -> Any:
        result = await self.loaders.load(channel, need)
        if isinstance(result, BaseException):
            raise result
        return result

    # -- provenance
    def block_number(self, channel: str, tx_id: str) -> int | None | Awaitable[int | None]:
        """The block holding `tx_id`: at once when this request's own reads returned it and the
        app knows where it landed, else an awaitable of a lookup batched per channel.

        Answering at once keeps a footprint's completion synchronous: graphql-core awaits only
        what is awaitable, so a 100-line answer whose numbers are all known builds no coroutine
        per line, factor and provenance."""
        if tx_id in self.loaders.shown.get(channel, ()):
            number = self.known_blocks.get((channel, tx_id))
            if number is not None:
                return number
        return self._block_loader(channel).load(tx_id)

    def _block_loader(self, channel: str) -> DataLoader[str, int | None]:
        loader = self._block_loaders.get(channel)
        if loader is None:

            async def batch(tx_ids: list[str]) -> list[int | None]:
                # Only for transactions this caller's own reads returned: any other txId (one in
                # a published document's provenance, say) is asked of the channel as the caller.
                shown = self.loaders.shown.get(channel, set())
                known = {
                    t: self.known_blocks.get((channel, t)) if t in shown else None for t in tx_ids
                }
                unknown = [t for t, number in known.items() if number is None]
                if unknown:
                    credential = self.loaders.credential(channel)
                    found = await self.connector.transaction_blocks(channel, credential, unknown)
                    for committed, number in found.items():  # a txId not found is not kept
                        self.known_blocks.put((channel, committed), number)
                        known[committed] = number
                return [known[t] for t in tx_ids]

            loader = DataLoader(load_fn=batch)
            self._block_loaders[channel] = loader
        return loader

    # -- footprints
    async def compute_footprint(self, request: engine.FootprintRequest) -> engine.Footprint:
        owners = {
            channel: credential.identity.msp_id
            for channel, credential in self.wallet.credentials.items()
        }
        try:
            wanted = engine.needs(request, owners)
        except engine.EngineError as error:
            raise bad_input_from(error) from None
        answers: dict[tuple[str, engine.Need], Any] = {}

        def answer(channel: str, need: engine.Need) -> Any:
            if (channel, need) not in answers:
                raise engine.Unfetched(channel, need)
            result = answers[(channel, need)]
            if isinstance(result, BaseException):
                raise result
            return result["records"] if need[0] == "query" else result

        # The narrow needs first, all channels at once; a wider one only when a narrow one missed
        # (a fallback or the close matches of a bad input), so rarely more than one round.
        for _ in range(MAX_ROUNDS):
            channels = list(wanted)
            fetched = await asyncio.gather(
                *(self.loaders.load_many(c, wanted[c]) for c in channels)
            )
            answers.update(
                {
                    (c, need): result
                    for c, results in zip(channels, fetched)
                    for need, result in zip(wanted[c], results)
                }
            )
            try:
                return engine.compute(request, answer, owners)
            except engine.EngineError as error:
                raise bad_input_from(error) from None
            except engine.Unfetched as more:
                wanted = {more.channel: [more.need]}
        raise RuntimeError(
            f"the footprint still needed more records after {MAX_ROUNDS} rounds of reads"
        )

    async def publish_footprint(
        self, request: engine.FootprintRequest
    ) -> tuple[engine.Footprint, dict[str, Any], Any]:
        footprint = await self.compute_footprint(request)
        document = engine.footprint_document(request, footprint)
        credential = self.loaders.credential("footprint")
        submitted = (
            await network(self.connector, "footprint")
            .contract()
            .submit(credential, "publish", json.dumps(document))
        )
        return footprint, json.loads(submitted.result), submitted

    async def published_footprint(self, footprint_id: str) -> dict[str, Any] | None:
        return await self._load("footprint", ("id", footprint_id))

    async def channel_info(self, channel: str) -> tuple[bool, int | None, str | None]:
        try:
            credential = self.loaders.credential(channel)
            if isinstance(credential, Delegated):
                # qscc runs no contract, so it cannot check a delegation and would answer the
                # relay itself: let the channel's contract check it first (an empty read; the
                # footprint contract reads by id, the source contracts by key).
                empty: dict[str, list[str]] = {"ids" if channel == "footprint" else "keys": []}
                await (
                    network(self.connector, channel)
                    .contract()
                    .evaluate(credential, "read", json.dumps(empty))
                )
            info = await network(self.connector, channel).chain_info(credential)
        except MissingCredentials:
            return False, None, "MISSING_CREDENTIALS"
        except ChannelError as error:
            # A refusal is an answer: the channel is up, it just does not admit this caller.
            refused = error.code == "ACCESS_DENIED" or error.code.startswith("DELEGATION_")
            return refused, None, error.code
        return True, info.height, None

"""Per-request DataLoaders: one connector call per channel, whatever is asked.

Every resolver that needs records from a channel asks that channel's loader
for a *need* (a record key, a query, or a footprint id).  Strawberry's
`DataLoader` collects the needs of one event-loop tick into one batch, and
the batch becomes one `read` call on that channel, signed with the caller's
own credential.  Loaders of different channels dispatch in the same tick, so
channels are called concurrently.  A loader lives for one request only: its
cache never serves another caller.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

from strawberry.dataloader import DataLoader

from ..channel_connectors.base import Connector, Credential, network
from ..channel_connectors.errors import ChannelError
from ..gateway import jsontext
from ..gateway.wallet import Wallet
from .engine import Need


class MissingCredentials(ChannelError):
    def __init__(self, channel: str) -> None:
        super().__init__(
            "MISSING_CREDENTIALS",
            channel,
            f"the X-Wallet header holds no credential for channel {channel} "
            "(print one with `datachannels wallet --identity NAME --delegate`)",
        )


def _item_error(channel: str, error: dict[str, Any]) -> ChannelError:
    return ChannelError(error.get("code", "BAD_INPUT"), channel, error.get("message", "refused"))


class ChannelLoaders:
    """The DataLoaders of one request, one per channel."""

    def __init__(self, connector: Connector, wallet: Wallet) -> None:
        self._connector = connector
        self._wallet = wallet
        self._loaders: dict[str, DataLoader[Need, Any]] = {}
        # The txIds of the records each channel's contract returned to this caller in this
        # request: the transactions it has been shown (resolvers/context.py `KnownBlocks`).
        self.shown: dict[str, set[str]] = {}

    def credential(self, channel: str) -> Credential:
        credential = self._wallet.credential(channel)
        if credential is None:
            raise MissingCredentials(channel)
        return credential

    def loader(self, channel: str) -> DataLoader[Need, Any]:
        loader = self._loaders.get(channel)
        if loader is None:

            async def batch(needs: Sequence[Need]) -> list[Any]:
                return await self._read(channel, list(needs))

            loader = DataLoader(load_fn=batch)
            self._loaders[channel] = loader
        return loader

    async def load(self, channel: str, need: Need) -> Any:
        return await self.loader(channel).load(need)

    async def load_many(self, channel: str, needs: Sequence[Need]) -> list[Any]:
        """Each need's answer, or its error as a value, never raised: a footprint then reports
        the error of the first activity that needs a refused channel, whichever channel
        answered first (the loader's own `load_many` raises the first error to arrive)."""
        loader = self.loader(channel)
        return list(await asyncio.gather(*(loader.load(n) for n in needs), return_exceptions=True))

    async def _read(self, channel: str, needs: list[Need]) -> list[Any]:
        """One `read` for the whole batch; each need gets its answer or its own error."""
        try:
            credential = self.credential(channel)
            contract = network(self._connector, channel).contract()
            if channel == "footprint":
                ids = [value for kind, value in needs]
                raw = await contract.evaluate(credential, "read", json.dumps({"ids": ids}))
                found = [_keyed_answer(channel, item) for item in jsontext.loads(raw)["results"]]
                self._shown(channel, found)
                return found
            keys = [value for kind, value in needs if kind == "key"]
            queries = [json.loads(value) for kind, value in needs if kind == "query"]
            raw = await contract.evaluate(
                credential, "read", json.dumps({"keys": keys, "queries": queries})
            )
        except ChannelError as failed:  # the whole channel failed: every need gets the error
            return [failed] * len(needs)
        # The contract's canonical JSON, about 20 KB for the README footprint (gateway/jsontext.py).
        body = jsontext.loads(raw)
        results, answers = iter(body["results"]), iter(body["queries"])
        out: list[Any] = []
        for kind, _ in needs:
            if kind == "key":
                record = _keyed_answer(channel, next(results))
                self._shown(channel, [record])
                out.append(record)
            else:
                answer = next(answers)
                if "error" in answer:
                    out.append(_item_error(channel, answer["error"]))
                else:
                    self._shown(channel, answer["records"])
                    out.append(answer)
        return out

    def _shown(self, channel: str, answers: list[Any]) -> None:
        """Note the txIds of the records among `answers` (None and errors are passed over)."""
        seen = self.shown.setdefault(channel, set())
        seen.update(
            r["txId"] for r in answers if isinstance(r, dict) and isinstance(r.get("txId"), str)
        )


def _keyed_answer(channel: str, item: dict[str, Any]) -> Any:
    """A record, None when there is none, or the error the channel gave for that key."""
    if "record" in item:
        return item["record"]
    if item["error"]["code"] == "NOT_FOUND":
        return None
    return _item_error(channel, item["error"])

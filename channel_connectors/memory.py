"""A channel's contract run in memory, over records handed to it: for the engine's tests and
benchmark.

Not a connector: there is no ledger and no membership check, only the real
contract code (validation on `put_records`, query semantics on `read`)
running through the embedded stub over a dict.  It lets the pure engine be
fed exactly what a channel would answer, without a data directory.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterator
from typing import Any

from ..chaincode import chaincode_for
from ..chaincode.shim import run_to_completion
from .embedded_stub import EmbeddedStub, Version
from .identity import Identity, Signer, SigningIdentity
from .msp import certificate_pem, create_ca, issue_certificate
from .proposals import build_proposal, parse_signed_proposal, sign_proposal


def _identity(msp_id: str, name: str) -> SigningIdentity:
    ca_key, ca_certificate = create_ca(msp_id.removesuffix("MSP").lower() + ".example")
    key, certificate = issue_certificate(ca_key, ca_certificate, name)
    return SigningIdentity(Identity(msp_id, certificate_pem(certificate)), Signer(key))


class InMemoryChannel:
    """One channel's state in a dict; calls run the channel's contract as `caller`."""

    def __init__(
        self, channel: str, records: list[dict[str, Any]], caller_msp: str = "AcmeMSP"
    ) -> None:
        self.channel = channel
        self._chaincode = chaincode_for(channel)
        self._state: dict[str, bytes] = {}
        self._keys: list[str] = []
        self._caller = _identity(caller_msp, "reader")
        auditor = _identity("AuditorsMSP", "auditor")
        for start in range(0, len(records), 1000):
            self._commit(auditor, "put_records", json.dumps(records[start : start + 1000]))

    def _run(self, who: SigningIdentity, function: str, *args: str) -> tuple[bytes, EmbeddedStub]:
        proposal, _ = build_proposal(who.identity, self.channel, self.channel, function, list(args))
        stub = EmbeddedStub(
            channel_id=self.channel,
            proposal=parse_signed_proposal(sign_proposal(proposal, who.signer)),
            state_get=self._get,
            state_range=self._range,
            namespace=self.channel,
        )
        response = run_to_completion(self._chaincode.invoke(stub))
        if response.status >= 400:
            raise ValueError(response.message)
        return bytes(response.payload), stub

    def _commit(self, who: SigningIdentity, function: str, *args: str) -> None:
        _, stub = self._run(who, function, *args)
        for key, value in stub.writes.items():
            if key not in self._state:
                bisect.insort(self._keys, key)
            self._state[key] = value or b""

    def _get(self, key: str) -> tuple[bytes, Version] | None:
        value = self._state.get(key)
        return (value, (0, 0)) if value is not None else None

    def _range(self, start: str, end: str) -> Iterator[tuple[str, bytes, Version]]:
        for key in self._keys[
            bisect.bisect_left(self._keys, start) : bisect.bisect_left(self._keys, end)
        ]:
            yield key, self._state[key], (0, 0)

    def read(self, request: dict[str, Any]) -> dict[str, Any]:
        """The contract's `read`, as the caller."""
        payload, _ = self._run(self._caller, "read", json.dumps(request))
        return json.loads(payload)


def factor_channels(caller_msp: str = "AcmeMSP") -> dict[str, InMemoryChannel]:
    """The four source channels holding the real factor records from data/ (no audited records)."""
    from ..data.loader import load_factor_records

    return {
        channel: InMemoryChannel(
            channel,
            [
                {
                    "kind": r.kind,
                    "attributes": list(r.attributes),
                    "payload": r.payload,
                    "source": r.source,
                }
                for r in items
            ],
            caller_msp,
        )
        for channel, items in load_factor_records().items()
    }


def engine_answer(channels: dict[str, InMemoryChannel]):  # -> engine.Answer
    """An `engine.compute` answer function over in-memory channels, each need read once."""
    answers: dict[tuple[str, tuple[str, str]], Any] = {}

    def answer(channel: str, need: tuple[str, str]) -> Any:
        if (channel, need) not in answers:
            kind, value = need
            if kind == "key":
                item = channels[channel].read({"keys": [value]})["results"][0]
                answers[(channel, need)] = item.get("record")
            else:
                answers[(channel, need)] = channels[channel].read({"queries": [json.loads(value)]})[
                    "queries"
                ][0]["records"]
        return answers[(channel, need)]

    return answer

"""The `fabric` connector: the Fabric Gateway service over gRPC, signed as the caller.

No Python client for the Fabric Gateway exists, so this follows what the
official clients do (hyperledger/fabric-gateway, `pkg/client`): proposals are
built and signed with the caller's identity by `proposals.py` (the same code
the embedded ledger verifies), then

* evaluate: `Gateway.Evaluate(SignedProposal)` → the contract's response;
* submit: `Endorse` → a prepared transaction envelope, signed by the caller →
  `Submit` → `CommitStatus` (a request signed by the caller), awaited;
* chain info and transaction blocks: `qscc` queries evaluated the same way.

One gRPC channel per peer, opened on first use and reused by every request;
credentials are per call only.  gRPC failures map to our error codes, with
the peer's message where it is safe to show.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from fabric_protos.common import common_pb2, ledger_pb2
from fabric_protos.gateway import gateway_pb2, gateway_pb2_grpc
from fabric_protos.peer import transaction_pb2

from .base import ChainInfo, Credential, Submitted, evaluate_or_meter, proposer
from .errors import ChannelError, from_contract_message
from .proposals import build_proposal, parse_transaction, sign_envelope, sign_proposal

DEFAULT_TIMEOUT_S = 10.0
COMMIT_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class FabricPeer:
    name: str
    msp_id: str
    endpoint: str
    tls_root_cert: bytes
    server_name: str | None = None


@dataclass(frozen=True)
class FabricProfile:
    """What `datachannels network up` writes to `<data dir>/fabric/connection.json`."""

    peers: tuple[FabricPeer, ...]
    channels: tuple[str, ...]
    chaincodes: dict[str, str]

    @classmethod
    def load(cls, path: Path) -> FabricProfile:
        try:
            body = json.loads(path.read_text())
        except FileNotFoundError:
            raise ChannelError(
                "CHANNEL_UNAVAILABLE",
                "all",
                f"no Fabric connection profile at {path}; run `datachannels network up` first",
            ) from None
        peers = tuple(
            FabricPeer(
                p["name"],
                p["mspId"],
                p["endpoint"],
                Path(p["tlsRootCert"]).read_bytes(),
                p.get("serverNameOverride"),
            )
            for p in body["peers"]
        )
        if not peers:
            raise ChannelError("CHANNEL_UNAVAILABLE", "all", f"{path} names no peer")
        return cls(peers, tuple(body["channels"]), dict(body["chaincodes"]))


_UNAVAILABLE = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.CANCELLED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}
_DENIED = {
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.UNAUTHENTICATED,
}


def _details(error: grpc.aio.AioRpcError) -> list[str]:
    """The peers' messages from the gateway's ErrorDetail list in the status trailer."""
    from google.rpc import status_pb2

    messages = []
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin" and isinstance(value, bytes):
            status = status_pb2.Status.FromString(value)
            for any_detail in status.details:
                detail = gateway_pb2.ErrorDetail()
                if any_detail.Unpack(detail):
                    messages.append(detail.message)
    return messages


def _contract_message(text: str) -> str | None:
    """The contract's own message inside "chaincode response 500, <message>"."""
    marker = "chaincode response "
    at = text.find(marker)
    if at < 0:
        return None
    rest = text[at + len(marker) :]
    status, _, message = rest.partition(", ")
    return message if status.strip().isdigit() and int(status) >= 400 else None


def map_grpc_error(channel: str, stage: str, error: grpc.aio.AioRpcError) -> ChannelError:
    """One mapping from a Gateway failure to our codes; says which stage failed."""
    code = error.code()
    # The peers' own messages when the gateway sent them; its summary repeats them otherwise.
    texts = _details(error) or [error.details() or ""]
    for text in texts:
        message = _contract_message(text)
        if message:
            return from_contract_message(channel, message)
    summary = "; ".join(t for t in texts if t) or code.name
    if code in _UNAVAILABLE:
        return ChannelError(
            "CHANNEL_UNAVAILABLE", channel, f"{stage}: the peer did not answer ({code.name})"
        )
    if code in _DENIED or "access denied" in summary.lower() or "creator" in summary.lower():
        return ChannelError(
            "ACCESS_DENIED", channel, f"{stage}: channel {channel} refused the creator: {summary}"
        )
    if code == grpc.StatusCode.NOT_FOUND:
        return ChannelError("NOT_FOUND", channel, f"{stage}: {summary}")
    return ChannelError("BAD_INPUT", channel, f"{stage}: {summary}")


class FabricConnector:
    kind = "fabric"

    def __init__(self, profile: FabricProfile, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self.profile = profile
        self.timeout = timeout
        self._stubs: dict[str, tuple[grpc.aio.Channel, gateway_pb2_grpc.GatewayStub]] = {}

    @classmethod
    def from_data_dir(cls, data_dir: Path, timeout: float = DEFAULT_TIMEOUT_S) -> FabricConnector:
        return cls(FabricProfile.load(Path(data_dir) / "fabric" / "connection.json"), timeout)

    def channels(self) -> tuple[str, ...]:
        return self.profile.channels

    def _stub(self) -> gateway_pb2_grpc.GatewayStub:
        # The gateway peer: the first one. Its Gateway service reaches the others itself.
        peer = self.profile.peers[0]
        if peer.name not in self._stubs:
            options = (
                [("grpc.ssl_target_name_override", peer.server_name)] if peer.server_name else []
            )
            channel = grpc.aio.secure_channel(
                peer.endpoint, grpc.ssl_channel_credentials(peer.tls_root_cert), options
            )
            self._stubs[peer.name] = (channel, gateway_pb2_grpc.GatewayStub(channel))
        return self._stubs[peer.name][1]

    def _chaincode(self, channel: str) -> str:
        try:
            return self.profile.chaincodes[channel]
        except KeyError:
            raise ChannelError(
                "BAD_INPUT",
                channel,
                f"unknown channel; channels: {', '.join(self.profile.channels)}",
            ) from None

    async def _evaluate(
        self,
        channel: str,
        credential: Credential,
        chaincode: str,
        function: str,
        args: Sequence[str],
    ) -> bytes:
        signing, transient = proposer(credential, channel)
        proposal, tx_id = build_proposal(
            signing.identity, channel, chaincode, function, list(args), transient=transient
        )
        request = gateway_pb2.EvaluateRequest(
            transaction_id=tx_id,
            channel_id=channel,
            proposed_transaction=sign_proposal(proposal, signing.signer),
        )
        try:
            response = await self._stub().Evaluate(request, timeout=self.timeout)
        except grpc.aio.AioRpcError as error:
            raise map_grpc_error(channel, "evaluate", error) from None
        if response.result.status >= 400:
            raise from_contract_message(channel, response.result.message)
        return bytes(response.result.payload)

    async def evaluate(
        self, channel: str, credential: Credential, function: str, args: Sequence[str] = ()
    ) -> bytes:
        plain = functools.partial(
            self._evaluate, channel, credential, self._chaincode(channel), function, args
        )
        return await evaluate_or_meter(channel, credential, function, args, plain, self.submit)

    async def submit(
        self, channel: str, credential: Credential, function: str, args: Sequence[str] = ()
    ) -> Submitted:
        signing, transient = proposer(credential, channel)
        proposal, tx_id = build_proposal(
            signing.identity,
            channel,
            self._chaincode(channel),
            function,
            list(args),
            transient=transient,
        )
        stub = self._stub()
        stage = "endorse"
        try:
            endorsed = await stub.Endorse(
                gateway_pb2.EndorseRequest(
                    transaction_id=tx_id,
                    channel_id=channel,
                    proposed_transaction=sign_proposal(proposal, signing.signer),
                ),
                timeout=self.timeout,
            )
            envelope = sign_envelope(endorsed.prepared_transaction.payload, signing.signer)
            result = bytes(parse_transaction(envelope).chaincode_action.response.payload)
            stage = "submit"
            await stub.Submit(
                gateway_pb2.SubmitRequest(
                    transaction_id=tx_id, channel_id=channel, prepared_transaction=envelope
                ),
                timeout=self.timeout,
            )
            stage = "commit status"
            status_request = gateway_pb2.CommitStatusRequest(
                transaction_id=tx_id, channel_id=channel, identity=signing.identity.serialize()
            ).SerializeToString()
            status = await stub.CommitStatus(
                gateway_pb2.SignedCommitStatusRequest(
                    request=status_request,
                    signature=signing.signer.sign(status_request),
                ),
                timeout=COMMIT_TIMEOUT_S,
            )
        except grpc.aio.AioRpcError as error:
            raise map_grpc_error(channel, stage, error) from None
        if status.result != transaction_pb2.TxValidationCode.VALID:
            reason = transaction_pb2.TxValidationCode.Name(status.result)
            raise ChannelError(
                "CONFLICT", channel, f"transaction {tx_id} was invalidated: {reason}; retry it"
            )
        return Submitted(result, tx_id, int(status.block_number))

    async def chain_info(self, channel: str, credential: Credential) -> ChainInfo:
        raw = await self._evaluate(channel, credential, "qscc", "GetChainInfo", [channel])
        return ChainInfo(channel, int(ledger_pb2.BlockchainInfo.FromString(raw).height))

    async def transaction_blocks(
        self, channel: str, credential: Credential, tx_ids: Sequence[str]
    ) -> dict[str, int]:
        """Fabric's qscc answers one transaction at a time (GetBlockByTxID); asked concurrently."""

        limit = asyncio.Semaphore(16)  # at most this many lookups in flight to the peer

        async def one(tx_id: str) -> tuple[str, int | None]:
            try:
                async with limit:
                    raw = await self._evaluate(
                        channel, credential, "qscc", "GetBlockByTxID", [channel, tx_id]
                    )
            except ChannelError as error:
                if error.code in ("NOT_FOUND", "BAD_INPUT"):
                    return tx_id, None
                raise
            return tx_id, int(common_pb2.Block.FromString(raw).header.number)

        found = await asyncio.gather(*(one(t) for t in dict.fromkeys(tx_ids)))
        return {tx_id: number for tx_id, number in found if number is not None}

    async def aclose(self) -> None:
        for channel, _ in self._stubs.values():
            await channel.close()
        self._stubs.clear()


def describe(profile: FabricProfile) -> dict[str, Any]:
    return {"peers": [p.endpoint for p in profile.peers], "channels": list(profile.channels)}

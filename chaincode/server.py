"""Serve one channel's contract to a Fabric peer as chaincode-as-a-service.

    python -m datachannels.chaincode.server --channel utility \\
        --address 127.0.0.1:7070 --chaincode-id utility_1:<sha256>

The peer dials this server (the address in the package's connection.json) and
drives the contract over the chaincode shim protocol, through
`fabric-chaincode-python`'s `ContractChaincode.start()`.

Two workarounds live here, for defects of that package (2.5.4) that our
contracts hit.  First, its handler hands the peer's reply to the caller whether
the peer answered RESPONSE or ERROR.  So a failed `get_state` returned the
peer's error text as if it were the stored value, a failed `put_state` was
silently dropped (the transaction still endorsed, minus the write), and a
failed range query was decoded as an (often empty) result.  `CheckedHandler`
turns an ERROR reply into an exception, which the contract API reports to the
peer as a failed transaction.  Second, the handler runs each transaction as a
task of its own and every task writes to the one gRPC stream to the peer, but
a grpc.aio stream takes one write at a time: two transactions that wrote at
once (two concurrent submits, such as reads under one grant) failed with
GRPC_CALL_ERROR_TOO_MANY_OPERATIONS, and the peer timed the transaction out
after 30 s.  `CheckedHandler` gives the stream a lock for its writes.  The
other listed defects (events, private data, chaincode-to-chaincode calls,
`get_state_by_range("", "")`) concern features our contracts do not use;
logging is silenced by `shim`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from typing import Any

# Importing this module runs `datachannels.chaincode/__init__` first, which imports our
# `shim` before any other import of the package: that silences its payload logging.
from fabric_chaincode_python.fabric_shim import server as _shim_server
from fabric_chaincode_python.fabric_shim.handler import Handler
from fabric_protos.peer import chaincode_shim_pb2

from . import CHANNELS, chaincode_for

_ERROR = chaincode_shim_pb2.ChaincodeMessage.ERROR


class PeerRequestError(Exception):
    """The peer answered a state request (GetState, PutState, range query …) with ERROR."""


class _OneWriteAtATime:
    """A servicer context whose `write` waits for the one before it (grpc.aio takes one)."""

    def __init__(self, context: Any) -> None:
        self._context = context
        self._lock = asyncio.Lock()

    async def write(self, message: Any) -> None:
        async with self._lock:
            await self._context.write(message)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


class CheckedHandler(Handler):
    """The package's handler, except that an ERROR reply from the peer raises and writes to
    the peer's stream go one at a time."""

    async def chat_with_peer(self, stream: Any, context: Any) -> Any:
        return await super().chat_with_peer(stream, _OneWriteAtATime(context))

    # Handler sends every request through its private `__ask_peer_and_listen`
    # (name-mangled to this name) and returns the reply unchecked.
    async def _Handler__ask_peer_and_listen(self, msg: Any, action: str) -> Any:
        reply = await super()._Handler__ask_peer_and_listen(msg, action)
        if reply is not None and reply.type == _ERROR:
            detail = bytes(reply.payload).decode("utf-8", errors="replace")
            raise PeerRequestError(f"the peer refused {action}: {detail}")
        return reply


def install_checked_handler() -> None:
    """Make the package's chaincode server use `CheckedHandler` for every peer connection."""
    # `ChaincodeService.Connect` builds its handler from the module-level name `Handler`.
    current = getattr(_shim_server, "Handler", None)
    if current is CheckedHandler:
        return
    if current is not Handler:
        raise RuntimeError(
            "fabric_chaincode_python.fabric_shim.server no longer builds its handler from "
            "`Handler`: re-check the ERROR-reply workaround against this package version"
        )
    _shim_server.Handler = CheckedHandler


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m datachannels.chaincode.server",
        description="Serve a channel's contract to a Fabric peer (chaincode as a service).",
    )
    parser.add_argument("--channel", required=True, choices=CHANNELS)
    parser.add_argument(
        "--address",
        default=os.environ.get("CHAINCODE_SERVER_ADDRESS"),
        help="host:port to listen on (default: $CHAINCODE_SERVER_ADDRESS)",
    )
    parser.add_argument(
        "--chaincode-id",
        default=os.environ.get("CHAINCODE_ID"),
        help="the installed package id, label:hash (default: $CHAINCODE_ID)",
    )
    args = parser.parse_args(argv)
    if not args.address or not args.chaincode_id:
        parser.error(
            "--address and --chaincode-id are required (or CHAINCODE_SERVER_ADDRESS / CHAINCODE_ID)"
        )
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    install_checked_handler()
    # The package's start() lets these variables override its arguments: make ours win.
    os.environ["CHAINCODE_ID"] = args.chaincode_id
    os.environ["CHAINCODE_SERVER_ADDRESS"] = args.address
    print(
        f"serving the {args.channel} contract as {args.chaincode_id} on {args.address}",
        file=sys.stderr,
        flush=True,
    )
    chaincode_for(args.channel).start(cc_id=args.chaincode_id, address=args.address)
    return 0


if __name__ == "__main__":
    sys.exit(main())

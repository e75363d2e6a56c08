"""The chaincode stub of the embedded ledger.

It offers the methods of `fabric-chaincode-python`'s `ChaincodeStub` that our
contracts use, with the same semantics as on a peer: reads see the committed
world state (never the transaction's own pending writes), writes are
buffered into a read/write set, and composite keys are built the Fabric way.
The read/write set is Fabric's own `KVRWSet` message, so the committed
transaction carries exactly what a peer would put in it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from fabric_chaincode_python.fabric_shim.utils import (
    COMPOSITEKEY_NS,
    MIN_UNICODE_RUNE_VALUE,
    validate_composite_key_attribute,
)
from fabric_protos.ledger.rwset import rwset_pb2
from fabric_protos.ledger.rwset.kvrwset import kv_rwset_pb2
from fabric_protos.peer import chaincode_event_pb2
from google.protobuf import timestamp_pb2

from .proposals import ParsedProposal

Version = tuple[int, int]  # (block number, transaction index), as Fabric's height
StateGet = Callable[[str], tuple[bytes, Version] | None]
StateRange = Callable[[str, str], Iterator[tuple[str, bytes, Version]]]


class _Row(NamedTuple):
    """One range result, as the contracts read the shim's `KV` (its key and value)."""

    key: str
    value: bytes


class _KVIterator:
    """An async iterator over range results, like the shim's StateQueryIterator."""

    def __init__(self, rows: list[_Row]) -> None:
        self._rows = iter(rows)

    def __aiter__(self) -> _KVIterator:
        return self

    async def __anext__(self) -> _Row:
        row = next(self._rows, None)
        if row is None:
            raise StopAsyncIteration
        return row

    async def aclose(self) -> None:
        self._rows = iter(())


@dataclass(frozen=True)
class _RangeRead:
    """A range query as read, for the read/write set: made a `RangeQueryInfo` only if one is
    built (an evaluate builds none, and a large range would cost three messages a row)."""

    start: str
    end: str
    reads: list[tuple[str, Version]]

    def message(self) -> kv_rwset_pb2.RangeQueryInfo:
        return kv_rwset_pb2.RangeQueryInfo(
            start_key=self.start,
            end_key=self.end,
            itr_exhausted=True,
            raw_reads=kv_rwset_pb2.QueryReads(
                kv_reads=[kv_rwset_pb2.KVRead(key=k, version=_version(v)) for k, v in self.reads]
            ),
        )


@dataclass
class EmbeddedStub:
    channel_id: str
    proposal: ParsedProposal
    state_get: StateGet
    state_range: StateRange
    namespace: str
    reads: dict[str, Version | None] = field(default_factory=dict)
    writes: dict[str, bytes | None] = field(default_factory=dict)
    range_queries: list[_RangeRead] = field(default_factory=list)
    events: list[chaincode_event_pb2.ChaincodeEvent] = field(default_factory=list)

    # -- what the transaction is
    def get_channel_id(self) -> str:
        return self.channel_id

    def get_txid(self) -> str:
        return self.proposal.tx_id

    def get_tx_timestamp(self) -> timestamp_pb2.Timestamp:
        return self.proposal.channel_header.timestamp

    def get_creator(self) -> dict[str, object]:
        return {"mspid": self.proposal.creator.mspid, "idBytes": self.proposal.creator.id_bytes}

    def get_function_and_parameters(self) -> tuple[str, list[str]]:
        return self.proposal.function, self.proposal.args

    def get_transient(self) -> dict[str, bytes]:
        return dict(self.proposal.transient)

    # -- world state
    async def get_state(self, key: str) -> bytes:
        found = self.state_get(key)
        self.reads.setdefault(key, found[1] if found else None)
        return found[0] if found else b""

    async def put_state(self, key: str, value: bytes | str) -> None:
        _check_key(key)
        self.writes[key] = value.encode() if isinstance(value, str) else bytes(value)

    async def delete_state(self, key: str) -> None:
        _check_key(key)
        self.writes[key] = None

    async def get_state_by_range(self, start_key: str, end_key: str) -> _KVIterator:
        # Go's shim starts an open range after the composite-key namespace,
        # so a simple range never returns composite keys (FABRIC.md, defect 5).
        start = start_key or "\x01"
        end = end_key or "\U0010ffff"
        return self._range(start, end)

    async def get_state_by_partial_composite_key(
        self, object_type: str, attributes: list[str]
    ) -> _KVIterator:
        prefix = self.create_composite_key(object_type, attributes)
        return self._range(prefix, prefix + "\U0010ffff")

    def _range(self, start: str, end: str) -> _KVIterator:
        rows, reads = [], []
        for key, value, version in self.state_range(start, end):
            rows.append(_Row(key, value))
            reads.append((key, version))
        self.range_queries.append(_RangeRead(start, end, reads))
        return _KVIterator(rows)

    # -- keys
    def create_composite_key(self, object_type: str, attributes: list[str]) -> str:
        validate_composite_key_attribute(object_type)
        key = COMPOSITEKEY_NS + object_type + MIN_UNICODE_RUNE_VALUE
        for attribute in attributes:
            validate_composite_key_attribute(attribute)
            key += attribute + MIN_UNICODE_RUNE_VALUE
        return key

    def split_composite_key(self, composite_key: str) -> tuple[str | None, list[str]]:
        if not composite_key.startswith(COMPOSITEKEY_NS):
            return None, []
        parts = composite_key[1:].split(MIN_UNICODE_RUNE_VALUE)[:-1]
        return parts[0], parts[1:]

    # -- events
    def set_event(self, name: str, payload: bytes | str) -> None:
        if not name:
            raise ValueError("event name must be a non-empty string")
        data = payload.encode() if isinstance(payload, str) else bytes(payload or b"")
        self.events.append(
            chaincode_event_pb2.ChaincodeEvent(
                chaincode_id=self.namespace, tx_id=self.get_txid(), event_name=name, payload=data
            )
        )

    # -- what the ledger keeps
    def read_write_set(self) -> bytes:
        kv = kv_rwset_pb2.KVRWSet(
            reads=[
                kv_rwset_pb2.KVRead(key=k, version=_version(v))
                for k, v in sorted(self.reads.items())
            ],
            range_queries_info=[query.message() for query in self.range_queries],
            writes=[
                kv_rwset_pb2.KVWrite(key=k, is_delete=v is None, value=v or b"")
                for k, v in sorted(self.writes.items())
            ],
        )
        return rwset_pb2.TxReadWriteSet(
            data_model=rwset_pb2.TxReadWriteSet.DataModel.KV,
            ns_rwset=[
                rwset_pb2.NsReadWriteSet(namespace=self.namespace, rwset=kv.SerializeToString())
            ],
        ).SerializeToString()

    def events_bytes(self) -> bytes:
        # Fabric keeps one event per transaction: the last one set.
        return self.events[-1].SerializeToString() if self.events else b""


def _version(version: Version | None) -> kv_rwset_pb2.Version | None:
    return kv_rwset_pb2.Version(block_num=version[0], tx_num=version[1]) if version else None


def _check_key(key: str) -> None:
    if not isinstance(key, str) or not key:
        raise ValueError("state key must be a non-empty string")


def _kv_sets(rwset_bytes: bytes) -> list[kv_rwset_pb2.KVRWSet]:
    rwset = rwset_pb2.TxReadWriteSet.FromString(rwset_bytes)
    return [kv_rwset_pb2.KVRWSet.FromString(ns.rwset) for ns in rwset.ns_rwset]


def writes_of(rwset_bytes: bytes) -> list[kv_rwset_pb2.KVWrite]:
    """The writes a committed transaction's read/write set carries."""
    return [write for kv in _kv_sets(rwset_bytes) for write in kv.writes]


def reads_of(rwset_bytes: bytes) -> list[kv_rwset_pb2.KVRead]:
    """The point reads it carries (what MVCC validation checks)."""
    return [read for kv in _kv_sets(rwset_bytes) for read in kv.reads]

"""The embedded ledger: one append-only chain of blocks per channel, in SQLite.

Each channel is a SQLite database (WAL, synchronous=FULL) holding

* `blocks`: Fabric `common.Block` messages, chained by header hash; block 0
  holds the channel configuration (member organisations by CA certificate,
  which of them may write, and the node that endorses and orders);
* `transactions`: tx id → block, position and validation code;
* `state`: the world state derived from the valid transactions, each key with
  its version (block, position), as a peer's state database.

A call goes through the stages a Fabric peer and orderer apply: the signed
proposal is checked (signature, creator's certificate chains to a member's
CA, tx id derived from nonce and creator), the channel's contract runs
in-process on a snapshot of the state, and `evaluate` returns its result
without writing.  `endorse` signs the result as the channel's node;
`submit` checks the client-signed transaction, the endorsement and the
channel's writers, re-validates the reads (MVCC) and appends one block
atomically.  Many readers run at once; writers are serialised, across
threads by a lock and across processes by SQLite's write lock.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from fabric_protos.common import common_pb2, ledger_pb2
from fabric_protos.peer import proposal_response_pb2, transaction_pb2
from google.protobuf.message import DecodeError

from ..chaincode import chaincode_for
from ..chaincode.access import OPERATOR_MSP
from ..chaincode.shim import run_to_completion
from . import blocks
from .embedded_stub import EmbeddedStub, Version, reads_of, writes_of
from .errors import ChannelError, from_contract_message
from .identity import Identity, SigningIdentity, verify_signature
from .msp import MemberCertificates, MembershipError, Organisation
from .proposals import (
    MalformedProposal,
    ParsedProposal,
    ParsedTransaction,
    build_proposal_response,
    build_transaction_payload,
    parse_signed_proposal,
    parse_transaction,
    sign_envelope,
    timestamp_now,
)

VALID = transaction_pb2.TxValidationCode.VALID
MVCC_READ_CONFLICT = transaction_pb2.TxValidationCode.MVCC_READ_CONFLICT
PHANTOM_READ_CONFLICT = transaction_pb2.TxValidationCode.PHANTOM_READ_CONFLICT
QSCC = "qscc"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS blocks (
    number INTEGER PRIMARY KEY,
    hash BLOB NOT NULL,
    block BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS transactions (
    tx_id TEXT PRIMARY KEY,
    block_number INTEGER NOT NULL,
    tx_index INTEGER NOT NULL,
    validation_code INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS state (
    key BLOB PRIMARY KEY,
    value BLOB NOT NULL,
    block_number INTEGER NOT NULL,
    tx_index INTEGER NOT NULL
) WITHOUT ROWID;
"""


@dataclass(frozen=True)
class ChannelConfig:
    """What block 0 of a channel says: who is in it and who may write."""

    channel: str
    members: tuple[Organisation, ...]
    writers: tuple[str, ...]
    node: Identity  # endorses proposals and signs blocks (the operator's peer and orderer in one)

    def member_map(self) -> dict[str, Organisation]:
        return {org.msp_id: org for org in self.members}

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "channel": self.channel,
                "members": [org.to_json() for org in self.members],
                "writers": list(self.writers),
                "node": {
                    "mspId": self.node.msp_id,
                    "certificate": self.node.certificate_pem.decode(),
                },
            },
            sort_keys=True,
        ).encode()

    @classmethod
    def from_json(cls, data: bytes) -> ChannelConfig:
        body = json.loads(data)
        return cls(
            channel=body["channel"],
            members=tuple(Organisation.from_json(m) for m in body["members"]),
            writers=tuple(body["writers"]),
            node=Identity(body["node"]["mspId"], body["node"]["certificate"].encode()),
        )


@dataclass(frozen=True)
class Endorsed:
    """An endorsed proposal: the transaction payload the client must now sign."""

    tx_id: str
    result: bytes
    payload: bytes  # serialized common.Payload


@dataclass(frozen=True)
class Committed:
    tx_id: str
    block_number: int
    validation_code: int

    @property
    def valid(self) -> bool:
        return self.validation_code == VALID


@dataclass
class VerifyReport:
    channel: str
    blocks: int = 0
    transactions: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class ChannelLedger:
    """One channel's chain, state and contract."""

    def __init__(self, path: Path, node: SigningIdentity | None = None) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise ChannelError("CHANNEL_UNAVAILABLE", self.path.stem, f"no ledger at {self.path}")
        self._node = node
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self.config = self._read_config()
        self.channel = self.config.channel
        self._members = self.config.member_map()
        self._certificates = MemberCertificates(self._members)
        self._writers = frozenset(self.config.writers)
        # The operator may submit (its admin writes the membership record) but writes no records.
        self._chaincode = chaincode_for(
            self.channel, tuple(w for w in self.config.writers if w != OPERATOR_MSP)
        )

    # ----------------------------------------------------------- creation

    @classmethod
    def create(cls, path: Path, config: ChannelConfig, node: SigningIdentity) -> ChannelLedger:
        """Open the channel's ledger, writing its genesis (config) block first if it is new."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        connection = _connect(path)
        try:
            connection.executescript(_SCHEMA)
            if connection.execute("SELECT 1 FROM blocks WHERE number = 0").fetchone() is None:
                genesis = _config_block(config, node)
                connection.execute("BEGIN IMMEDIATE")
                connection.execute(
                    "INSERT INTO blocks (number, hash, block) VALUES (0, ?, ?)",
                    (blocks.header_hash(genesis.header), genesis.SerializeToString()),
                )
                connection.execute("COMMIT")
        finally:
            connection.close()
        return cls(path, node)

    # ------------------------------------------------------------ access

    def _connection(self) -> sqlite3.Connection:
        wait_ms = getattr(self._local, "wait_ms", None)
        name = "connection" if wait_ms is None else f"connection_{wait_ms}"
        connection = getattr(self._local, name, None)
        if connection is None:
            connection = _connect(self.path, 30.0 if wait_ms is None else wait_ms / 1000)
            setattr(self._local, name, connection)
        return connection

    @contextlib.contextmanager
    def waiting_at_most(self, milliseconds: int) -> Iterator[None]:
        """Calls made in this block, on this thread, wait at most so long for SQLite's locks.

        They use a connection of their own (one per thread and wait), so this thread's usual
        connection keeps its 30 s.
        """
        previous = getattr(self._local, "wait_ms", None)
        self._local.wait_ms = milliseconds
        try:
            yield
        finally:
            self._local.wait_ms = previous

    def _read_config(self) -> ChannelConfig:
        connection = _connect(self.path)
        try:
            row = connection.execute("SELECT block FROM blocks WHERE number = 0").fetchone()
        except sqlite3.DatabaseError as exc:
            raise ChannelError(
                "CHANNEL_UNAVAILABLE", self.path.stem, f"ledger unreadable: {exc}"
            ) from exc
        finally:
            connection.close()
        if row is None:
            raise ChannelError(
                "CHANNEL_UNAVAILABLE", self.path.stem, "ledger has no configuration block"
            )
        return _config_from_block(common_pb2.Block.FromString(row[0]))

    def height(self) -> int:
        row = (
            self._connection()
            .execute("SELECT COALESCE(MAX(number), -1) + 1 FROM blocks")
            .fetchone()
        )
        return int(row[0])

    def transaction_blocks(self, tx_ids: list[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        connection = self._connection()
        for start in range(0, len(tx_ids), 500):
            chunk = tx_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for tx_id, number in connection.execute(
                f"SELECT tx_id, block_number FROM transactions WHERE tx_id IN ({marks})", chunk
            ):
                out[tx_id] = int(number)
        return out

    def block(self, number: int) -> common_pb2.Block | None:
        row = (
            self._connection()
            .execute("SELECT block FROM blocks WHERE number = ?", (number,))
            .fetchone()
        )
        return common_pb2.Block.FromString(row[0]) if row else None

    # ------------------------------------------------------------ checks

    def _refuse(self, code: str, message: str) -> ChannelError:
        return ChannelError(code, self.channel, message)

    def _check_creator(
        self,
        msp_id: str,
        certificate_pem: bytes,
        message: bytes,
        signature: bytes,
        at: dt.datetime | None = None,
    ) -> x509.Certificate:
        try:
            certificate = self._certificates.check(msp_id, certificate_pem, at)
        except ValueError:
            raise self._refuse(
                "ACCESS_DENIED", "the creator's certificate does not decode"
            ) from None
        except MembershipError as exc:
            raise self._refuse(
                "ACCESS_DENIED", f"channel {self.channel} refused the creator: {exc}"
            ) from None
        public_key = certificate.public_key()
        if not verify_signature(public_key, message, signature):
            raise self._refuse(
                "ACCESS_DENIED", "the signature does not match the creator's certificate"
            )
        return certificate

    def _check_proposal(self, signed_proposal: bytes) -> ParsedProposal:
        try:
            parsed = parse_signed_proposal(signed_proposal)
        except MalformedProposal as exc:
            raise self._refuse("BAD_INPUT", str(exc)) from None
        if parsed.channel != self.channel:
            raise self._refuse(
                "BAD_INPUT", f"proposal is for channel {parsed.channel!r}, not {self.channel!r}"
            )
        if parsed.chaincode not in (self.channel, QSCC):
            raise self._refuse(
                "NOT_FOUND", f"no chaincode {parsed.chaincode!r} on channel {self.channel}"
            )
        if not parsed.tx_id_is_derived():
            raise self._refuse(
                "BAD_INPUT", "transaction id is not derived from the nonce and creator"
            )
        self._check_creator(
            parsed.creator.mspid,
            parsed.creator.id_bytes,
            parsed.signed.proposal_bytes,
            parsed.signed.signature,
        )
        return parsed

    # ---------------------------------------------------------- running

    def _simulate(
        self, parsed: ParsedProposal
    ) -> tuple[proposal_response_pb2.Response, EmbeddedStub]:
        connection = self._connection()
        connection.execute("BEGIN")  # one snapshot for the whole call
        try:
            stub = EmbeddedStub(
                channel_id=self.channel,
                proposal=parsed,
                state_get=lambda key: _state_get(connection, key),
                state_range=lambda start, end: _state_range(connection, start, end),
                namespace=self.channel,
            )
            response = run_to_completion(self._chaincode.invoke(stub))
        finally:
            connection.execute("COMMIT")
        return response, stub

    def evaluate(self, signed_proposal: bytes) -> bytes:
        """Run a query as the proposal's creator; nothing is written."""
        parsed = self._check_proposal(signed_proposal)
        if parsed.chaincode == QSCC:
            return self._system_query(parsed)
        response, _ = self._simulate(parsed)
        return self._result(response)

    def _system_query(self, parsed: ParsedProposal) -> bytes:
        """The part of Fabric's query system chaincode (qscc) the gateway uses."""
        if parsed.function == "GetChainInfo":
            row = (
                self._connection()
                .execute("SELECT number, hash FROM blocks ORDER BY number DESC LIMIT 1")
                .fetchone()
            )
            return ledger_pb2.BlockchainInfo(
                height=int(row[0]) + 1, currentBlockHash=bytes(row[1])
            ).SerializeToString()
        if parsed.function == "GetTransactionBlocks":
            # Ours, not Fabric's: many tx ids in one call (qscc's GetBlockByTxID takes one).
            tx_ids = (
                parsed.args[1:] if parsed.args and parsed.args[0] == self.channel else parsed.args
            )
            return json.dumps(self.transaction_blocks(tx_ids), sort_keys=True).encode()
        raise self._refuse(
            "NOT_FOUND",
            f"qscc has no function {parsed.function!r} here; "
            "it has GetChainInfo and GetTransactionBlocks",
        )

    def _result(self, response: proposal_response_pb2.Response) -> bytes:
        if response.status >= 400:
            raise from_contract_message(self.channel, response.message)
        return bytes(response.payload)

    def endorse(self, signed_proposal: bytes) -> Endorsed:
        """Simulate and sign the result as the channel's node, as an endorsing peer does."""
        if self._node is None:
            raise self._refuse("CHANNEL_UNAVAILABLE", "this ledger was opened read-only")
        parsed = self._check_proposal(signed_proposal)
        if parsed.chaincode == QSCC:
            raise self._refuse("BAD_INPUT", "qscc is queried, never submitted")
        response, stub = self._simulate(parsed)
        result = self._result(response)
        proposal_response = build_proposal_response(
            parsed,
            response,
            stub.read_write_set(),
            stub.events_bytes(),
            self._node.identity,
            self._node.signer,
        )
        payload = build_transaction_payload(parsed, [proposal_response])
        return Endorsed(parsed.tx_id, result, payload.SerializeToString())

    def submit(self, envelope: bytes) -> Committed:
        """Order and commit one client-signed transaction in a block of its own."""
        if self._node is None:
            raise self._refuse("CHANNEL_UNAVAILABLE", "this ledger was opened read-only")
        try:
            tx = parse_transaction(envelope)
        except MalformedProposal as exc:
            raise self._refuse("BAD_INPUT", str(exc)) from None
        if tx.channel_header.channel_id != self.channel:
            raise self._refuse(
                "BAD_INPUT", f"transaction is for channel {tx.channel_header.channel_id!r}"
            )
        self._check_creator(
            tx.creator.mspid, tx.creator.id_bytes, tx.envelope.payload, tx.envelope.signature
        )
        if tx.creator.mspid not in self._writers:
            raise self._refuse(
                "ACCESS_DENIED",
                f"{tx.creator.mspid} may not write to channel {self.channel}; "
                f"writers: {', '.join(sorted(self._writers))}",
            )
        self._check_endorsements(tx)
        with self._write_lock:
            connection = self._connection()
            connection.execute("BEGIN IMMEDIATE")
            try:
                if connection.execute(
                    "SELECT 1 FROM transactions WHERE tx_id = ?", (tx.tx_id,)
                ).fetchone():
                    raise self._refuse("CONFLICT", f"transaction {tx.tx_id} was already submitted")
                code = _validate_reads(connection, tx.chaincode_action.results)
                committed = self._append(connection, tx, envelope, code)
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
        return committed

    def _check_endorsements(self, tx: ParsedTransaction) -> None:
        node = self.config.node.serialize()
        if not tx.endorsements:
            raise self._refuse("ACCESS_DENIED", "the transaction carries no endorsement")
        for endorsement in tx.endorsements:
            if endorsement.endorser != node:
                raise self._refuse(
                    "ACCESS_DENIED",
                    "the transaction was endorsed by a node this channel does not know",
                )
            if not verify_signature(
                self.config.node.certificate.public_key(),
                tx.proposal_response_payload + endorsement.endorser,
                endorsement.signature,
            ):
                raise self._refuse("ACCESS_DENIED", "an endorsement signature does not verify")
        if tx.chaincode_action.response.status >= 400:
            raise self._refuse("BAD_INPUT", "the endorsed response is an error")

    def _append(
        self, connection: sqlite3.Connection, tx: ParsedTransaction, envelope: bytes, code: int
    ) -> Committed:
        assert self._node is not None
        number, previous = connection.execute(
            "SELECT number, hash FROM blocks ORDER BY number DESC LIMIT 1"
        ).fetchone()
        number += 1
        block = blocks.new_block(number, previous, [envelope], bytes([code]))
        blocks.sign_block(block, self._node.identity, self._node.signer)
        connection.execute(
            "INSERT INTO blocks (number, hash, block) VALUES (?, ?, ?)",
            (number, blocks.header_hash(block.header), block.SerializeToString()),
        )
        connection.execute(
            "INSERT INTO transactions (tx_id, block_number, tx_index, validation_code) "
            "VALUES (?, ?, 0, ?)",
            (tx.tx_id, number, code),
        )
        if code == VALID:
            _apply_writes(connection, tx.chaincode_action.results, (number, 0))
        return Committed(tx.tx_id, number, code)

    # ------------------------------------------------------------ verify

    def verify(self) -> VerifyReport:
        """Walk the chain: hashes, signatures, and the state recomputed from the transactions."""
        return ChainCheck(self).run()


class ChainCheck:
    """`ledger verify` for one channel, which can go on from where its last run stopped.

    The first run walks every block, replaying the valid transactions' writes into a state of
    its own; each later run walks only the blocks committed since, so what it costs is the new
    blocks plus one read of the state table, which it compares with the replayed state.  The
    running gateway keeps one per channel (EmbeddedConnector's integrity checks); the replayed
    state it holds in memory is the size of the channel's world state.
    """

    def __init__(self, ledger: ChannelLedger) -> None:
        self.ledger = ledger
        self.state: dict[bytes, tuple[bytes, int, int]] = {}
        self.transactions: dict[str, tuple[int, int, int]] = {}
        self.height = 0
        self.previous_hash = b""

    def run(self, wait_s: float = 30.0) -> VerifyReport:
        """Check the blocks added since the last run and the whole state; wait at most
        `wait_s` for SQLite's locks."""
        ledger = self.ledger
        report = VerifyReport(ledger.channel)
        connection = _connect(ledger.path, wait_s)
        try:
            connection.execute("BEGIN")
            node_key = ledger.config.node.certificate.public_key()
            # `transactions` gains entries block by block: a failed run leaves it part-walked,
            # and nothing uses this check again after a failure.
            for number, stored_hash, raw in connection.execute(
                "SELECT number, hash, block FROM blocks WHERE number >= ? ORDER BY number",
                (self.height,),
            ):
                if number != self.height:
                    report.problems.append(
                        f"channel {ledger.channel}: block {self.height} is missing"
                    )
                    return report
                problem = _verify_block(
                    ledger,
                    number,
                    stored_hash,
                    raw,
                    self.previous_hash,
                    node_key,
                    self.state,
                    self.transactions,
                )
                report.blocks = number + 1
                if problem:
                    report.problems.append(f"channel {ledger.channel}: block {number}: {problem}")
                    return report
                self.previous_hash = stored_hash
                self.height = number + 1
            (stored_height,) = connection.execute("SELECT count(*) FROM blocks").fetchone()
            if stored_height < self.height:
                report.problems.append(
                    f"channel {ledger.channel}: {self.height - stored_height} block(s) that were "
                    "on the chain are gone"
                )
                return report
            report.blocks = self.height
            report.transactions = len(self.transactions)
            stored_state = {
                _as_bytes(k): (_as_bytes(v), b, t)
                for k, v, b, t in connection.execute(
                    "SELECT key, value, block_number, tx_index FROM state"
                )
            }
            if stored_state != self.state:
                report.problems.append(
                    f"channel {ledger.channel}: {_state_difference(self.state, stored_state)}"
                )
            stored_tx = {
                tx_id: (b, i, c)
                for tx_id, b, i, c in connection.execute(
                    "SELECT tx_id, block_number, tx_index, validation_code FROM transactions"
                )
            }
            if stored_tx != self.transactions:
                report.problems.append(
                    f"channel {ledger.channel}: the transaction index differs from the blocks"
                )
            connection.execute("COMMIT")
        finally:
            connection.close()
        return report


def _verify_block(
    ledger: ChannelLedger,
    number: int,
    stored_hash: bytes,
    raw: bytes,
    previous_hash: bytes,
    node_key: CertificatePublicKeyTypes,
    state: dict[bytes, tuple[bytes, int, int]],
    transactions: dict[str, tuple[int, int, int]],
) -> str | None:
    try:
        block = common_pb2.Block.FromString(raw)
    except (DecodeError, TypeError):  # TypeError: a tampered row holds text or a number
        return "does not decode as a block"
    if block.header.number != number:
        return f"header says block {block.header.number}"
    if block.header.previous_hash != previous_hash:
        return "previous-hash does not match the block before it"
    if blocks.data_hash(list(block.data.data)) != block.header.data_hash:
        return "data hash does not match its transactions"
    if blocks.header_hash(block.header) != stored_hash:
        return "stored header hash does not match the header"
    try:
        message, signature, creator = blocks.block_signature(block)
    except (DecodeError, ValueError, IndexError):  # IndexError: no SIGNATURES metadata slot
        return "has no orderer signature"
    if creator != ledger.config.node.serialize() or not verify_signature(
        node_key, message, signature
    ):
        return "orderer signature does not verify"
    if number == 0:
        try:
            _config_from_block(block)
        except _NOT_A_CONFIG:
            return "is not a valid configuration block"
        return None
    codes = block.metadata.metadata[common_pb2.BlockMetadataIndex.TRANSACTIONS_FILTER]
    if len(codes) != len(block.data.data):
        return "transaction filter does not match the number of transactions"
    for index, entry in enumerate(block.data.data):
        try:
            tx = parse_transaction(entry)
        except MalformedProposal as exc:
            return f"transaction {index}: {exc}"
        when = tx.channel_header.timestamp.ToDatetime(tzinfo=dt.UTC)
        try:
            ledger._check_creator(
                tx.creator.mspid,
                tx.creator.id_bytes,
                tx.envelope.payload,
                tx.envelope.signature,
                when,
            )
            ledger._check_endorsements(tx)
        except ChannelError as exc:
            return f"transaction {tx.tx_id}: {exc.message}"
        if tx.tx_id in transactions:
            return f"transaction {tx.tx_id} appears twice"
        transactions[tx.tx_id] = (number, index, codes[index])
        if codes[index] == VALID:
            for write in writes_of(tx.chaincode_action.results):
                key = write.key.encode()
                if write.is_delete:
                    state.pop(key, None)
                else:
                    state[key] = (bytes(write.value), number, index)
    return None


def _state_difference(
    expected: dict[bytes, tuple[bytes, int, int]], stored: dict[bytes, tuple[bytes, int, int]]
) -> str:
    for key in sorted(set(expected) | set(stored)):
        if expected.get(key) != stored.get(key):
            shown = key.replace(b"\x00", b"/").decode(errors="replace").strip("/")
            written = expected.get(key) or stored.get(key)
            assert written is not None
            return (
                f"world state key {shown!r} differs from what the transactions wrote "
                f"(block {written[1]})"
            )
    return "world state differs"


def _as_bytes(value: object) -> bytes:
    # A tampered row may hold text or a number where bytes belong: compare it, do not crash.
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return repr(value).encode()  # never a key or value a contract wrote


def _connect(path: Path, wait_s: float = 30.0) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, timeout=wait_s, check_same_thread=True)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    return connection


def _state_get(connection: sqlite3.Connection, key: str) -> tuple[bytes, Version] | None:
    row = connection.execute(
        "SELECT value, block_number, tx_index FROM state WHERE key = ?", (key.encode(),)
    ).fetchone()
    return (bytes(row[0]), (int(row[1]), int(row[2]))) if row else None


def _state_range(
    connection: sqlite3.Connection, start: str, end: str
) -> Iterator[tuple[str, bytes, Version]]:
    rows = connection.execute(
        "SELECT key, value, block_number, tx_index FROM state "
        "WHERE key >= ? AND key < ? ORDER BY key",
        (start.encode(), end.encode()),
    )
    for key, value, block_number, tx_index in rows:
        yield bytes(key).decode(), bytes(value), (int(block_number), int(tx_index))


def _validate_reads(connection: sqlite3.Connection, rwset: bytes) -> int:
    """MVCC: every key the transaction read must still be at the version it saw."""
    for read in reads_of(rwset):
        found = _state_get(connection, read.key)
        seen = (read.version.block_num, read.version.tx_num) if read.HasField("version") else None
        if (found[1] if found else None) != seen:
            return MVCC_READ_CONFLICT
    return VALID


def _apply_writes(connection: sqlite3.Connection, rwset: bytes, version: Version) -> None:
    for write in writes_of(rwset):
        if write.is_delete:
            connection.execute("DELETE FROM state WHERE key = ?", (write.key.encode(),))
        else:
            connection.execute(
                "INSERT OR REPLACE INTO state (key, value, block_number, tx_index) "
                "VALUES (?, ?, ?, ?)",
                (write.key.encode(), bytes(write.value), version[0], version[1]),
            )


def _config_block(config: ChannelConfig, node: SigningIdentity) -> common_pb2.Block:
    header = common_pb2.Header(
        channel_header=common_pb2.ChannelHeader(
            type=common_pb2.HeaderType.CONFIG, channel_id=config.channel, timestamp=timestamp_now()
        ).SerializeToString(),
        signature_header=common_pb2.SignatureHeader(
            creator=node.identity.serialize()
        ).SerializeToString(),
    )
    envelope = sign_envelope(common_pb2.Payload(header=header, data=config.to_json()), node.signer)
    block = blocks.new_block(0, b"", [envelope.SerializeToString()], bytes([VALID]))
    blocks.sign_block(block, node.identity, node.signer)
    return block


# What `_config_from_block` raises on a block 0 that does not hold a configuration: protobuf
# decoding; JSON decoding (ValueError); JSON of the wrong shape (KeyError, TypeError,
# AttributeError); no entry (IndexError); the node's certificate (ValueError, UnsupportedAlgorithm).
_NOT_A_CONFIG = (
    DecodeError,
    ValueError,
    KeyError,
    TypeError,
    AttributeError,
    IndexError,
    UnsupportedAlgorithm,
)


def _config_from_block(block: common_pb2.Block) -> ChannelConfig:
    envelope = common_pb2.Envelope.FromString(block.data.data[0])
    payload = common_pb2.Payload.FromString(envelope.payload)
    channel_header = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
    if channel_header.type != common_pb2.HeaderType.CONFIG:
        raise ValueError("block 0 is not a configuration block")
    config = ChannelConfig.from_json(payload.data)
    if not verify_signature(
        config.node.certificate.public_key(), envelope.payload, envelope.signature
    ):
        raise ValueError("configuration is not signed by the channel's node")
    return config

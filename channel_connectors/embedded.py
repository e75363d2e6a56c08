"""The `embedded` connector: every channel as an in-process ledger in the data directory.

`EmbeddedNetwork` is the synchronous core (what `datachannels init`, `chaincode
query|invoke` and `ledger verify` use); `EmbeddedConnector` is the `Connector`
the gateway uses, running each call in a worker thread so channels are
called concurrently.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from fabric_protos.common import common_pb2, ledger_pb2
from fabric_protos.peer import transaction_pb2

from ..chaincode import CHANNELS, SOURCE_CHANNELS
from .base import ChainInfo, Credential, Submitted, evaluate_or_meter, proposer
from .errors import ChannelError
from .identities import AUDITORS_MSP, CHANNEL_MEMBERS, OPERATOR, OPERATOR_MSP, IdentityStore
from .ledger import ChainCheck, ChannelConfig, ChannelLedger, VerifyReport
from .proposals import build_proposal, sign_envelope, sign_proposal

_T = TypeVar("_T")
log = logging.getLogger("datachannels.integrity")

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def channel_config(store: IdentityStore, channel: str) -> ChannelConfig:
    """Block 0 of a channel: its members, and which of them the ledger lets submit.

    The operator's organisation is a member of every channel, so that the gateway's relay can
    carry delegations and the operator's admin can write the membership record; the contracts
    refuse it anything else.  Writers are the channel's Writers policy (who may submit at
    all); which transaction each may make is the contract's rule.
    """
    members = tuple(store.organisation(msp) for msp in (*CHANNEL_MEMBERS, OPERATOR_MSP))
    writers = (
        (AUDITORS_MSP, OPERATOR_MSP)
        if channel in SOURCE_CHANNELS
        else (*CHANNEL_MEMBERS, OPERATOR_MSP)
    )
    return ChannelConfig(
        channel=channel, members=members, writers=writers, node=store.node().identity
    )


class EmbeddedNetwork:
    """The five channels of one data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.identities = IdentityStore(self.data_dir)
        self.ledger_dir = self.data_dir / "ledger"
        self._ledgers: dict[str, ChannelLedger] = {}
        self._opening = threading.Lock()  # one ChannelLedger (and one write lock) per channel

    def ledger_path(self, channel: str) -> Path:
        return self.ledger_dir / f"{channel}.sqlite"

    def is_initialised(self) -> bool:
        return all(self.ledger_path(c).exists() for c in CHANNELS) and bool(self.identities.names())

    def ensure_channels(self) -> list[str]:
        """Create the identities and any channel that does not exist yet; return the new ones."""
        self.identities.ensure()
        node = self.identities.node()
        created = []
        for channel in CHANNELS:
            if not self.ledger_path(channel).exists():
                created.append(channel)
            self._ledgers[channel] = ChannelLedger.create(
                self.ledger_path(channel), channel_config(self.identities, channel), node
            )
            self._ensure_membership(channel)
        return created

    def check_current(self) -> None:
        """Refuse, with a ChannelError saying what to do, ledgers made before delegations.

        The embedded ledger has no configuration updates, so a channel created without the
        operator's organisation can never admit the relay.  Cheap: reads each channel's config.
        """
        for channel in CHANNELS:
            self._check_current(channel)

    def _check_current(self, channel: str) -> None:
        if OPERATOR_MSP not in self.ledger(channel).config.member_map():
            raise ChannelError(
                "CHANNEL_UNAVAILABLE",
                channel,
                f"the ledger in {self.ledger_dir} predates delegations (its operator is no "
                "member); create a new data directory with `datachannels init --data-dir DIR`",
            )

    def _ensure_membership(self, channel: str) -> None:
        """Write the channel's membership record once, as the operator's admin."""
        self._check_current(channel)
        operator = self.identities.signing_identity(OPERATOR)
        try:
            self.evaluate(channel, operator, "membership")
        except ChannelError as error:
            if error.code != "NOT_FOUND":
                raise
            self.submit(channel, operator, "set_membership", [self.identities.membership()])

    def ledger(self, channel: str) -> ChannelLedger:
        ledger = self._ledgers.get(channel)
        if ledger is not None:
            return ledger
        with self._opening:
            return self._open(channel)

    def _open(self, channel: str) -> ChannelLedger:
        ledger = self._ledgers.get(channel)
        if ledger is None:
            if channel not in CHANNELS:
                raise ChannelError(
                    "BAD_INPUT", channel, f"unknown channel; channels: {', '.join(CHANNELS)}"
                )
            if not self.ledger_path(channel).exists():
                raise ChannelError(
                    "CHANNEL_UNAVAILABLE",
                    channel,
                    f"no ledger in {self.ledger_dir}; run `datachannels init`",
                )
            node = None
            try:
                node = self.identities.node()
            except KeyError:
                pass
            ledger = ChannelLedger(self.ledger_path(channel), node)
            self._ledgers[channel] = ledger
        return ledger

    # -- calls, signed by the caller
    def evaluate(
        self, channel: str, credential: Credential, function: str, args: Sequence[str] = ()
    ) -> bytes:
        signing, transient = proposer(credential, channel)
        proposal, _ = build_proposal(
            signing.identity, channel, channel, function, list(args), transient=transient
        )
        signed = sign_proposal(proposal, signing.signer)
        return self.ledger(channel).evaluate(signed.SerializeToString())

    def submit(
        self, channel: str, credential: Credential, function: str, args: Sequence[str] = ()
    ) -> Submitted:
        ledger = self.ledger(channel)
        signing, transient = proposer(credential, channel)
        proposal, _ = build_proposal(
            signing.identity, channel, channel, function, list(args), transient=transient
        )
        endorsed = ledger.endorse(sign_proposal(proposal, signing.signer).SerializeToString())
        envelope = sign_envelope(common_pb2.Payload.FromString(endorsed.payload), signing.signer)
        committed = ledger.submit(envelope.SerializeToString())
        if not committed.valid:
            reason = transaction_pb2.TxValidationCode.Name(committed.validation_code)
            raise ChannelError(
                "CONFLICT",
                channel,
                f"transaction {committed.tx_id} was invalidated: {reason}; retry it",
            )
        return Submitted(endorsed.result, committed.tx_id, committed.block_number)

    def chain_info(self, channel: str, credential: Credential) -> ChainInfo:
        # Asked as the caller through qscc, as on Fabric: a non-member is refused.  qscc runs no
        # contract, so a relay's delegation is not checked there (see docs/architecture.md).
        signing, _ = proposer(credential, channel)
        proposal, _ = build_proposal(signing.identity, channel, "qscc", "GetChainInfo", [channel])
        signed = sign_proposal(proposal, signing.signer)
        info = ledger_pb2.BlockchainInfo.FromString(
            self.ledger(channel).evaluate(signed.SerializeToString())
        )
        return ChainInfo(channel, info.height)

    def transaction_blocks(
        self, channel: str, credential: Credential, tx_ids: Sequence[str]
    ) -> dict[str, int]:
        """Block numbers of transactions, asked as the caller through qscc."""
        signing, _ = proposer(credential, channel)
        proposal, _ = build_proposal(
            signing.identity, channel, "qscc", "GetTransactionBlocks", [channel, *tx_ids]
        )
        signed = sign_proposal(proposal, signing.signer)
        return {
            k: int(v)
            for k, v in json.loads(
                self.ledger(channel).evaluate(signed.SerializeToString())
            ).items()
        }

    def verify(self, progress: Progress = _quiet) -> list[VerifyReport]:
        reports = []
        for channel in CHANNELS:
            if not self.ledger_path(channel).exists():
                report = VerifyReport(
                    channel,
                    problems=[f"channel {channel}: no ledger at {self.ledger_path(channel)}"],
                )
            else:
                report = ChannelLedger(self.ledger_path(channel)).verify()
            outcome = "ok" if report.ok else "FAILED"
            progress(
                f"{channel}: {report.blocks} blocks, {report.transactions} transactions: {outcome}"
            )
            reports.append(report)
        return reports


def init_data_dir(data_dir: Path, progress: Progress = _quiet) -> dict[str, int]:
    """`datachannels init`: identities, channels and the real factor data, once."""
    from .loading import load_records, source_records

    started = time.perf_counter()
    connector = EmbeddedConnector(data_dir)
    created = connector.network.ensure_channels()
    if created:
        progress(f"created channels: {', '.join(created)}")
    auditor = connector.network.identities.signing_identity("auditor")
    written = asyncio.run(load_records(connector, auditor, source_records(), progress))
    progress(f"done in {time.perf_counter() - started:.1f} s")
    return written


DEFAULT_CHANNEL_TIMEOUT_S = 10.0
DEFAULT_CHANNEL_WORKERS = 4
DEFAULT_INTEGRITY_INTERVAL_S = 60.0
INLINE_ARGS_BYTES = 4096
INLINE_BUSY_MS = 20
# An integrity check meets a lock: it waits this long, then tries again later.
INTEGRITY_WAIT_S = 2.0
_LOCKED = "locked"  # _check's answer when SQLite's lock kept it from running


class _Busy(Exception):
    """A read on the event loop met one of SQLite's locks: run it on the pool instead."""


class EmbeddedConnector:
    """The `Connector` over an `EmbeddedNetwork`.

    SQLite calls block, so they run on threads: each channel has its own small pool, so that
    a locked or slow ledger ties up its own threads only and never starves another channel
    (one shared pool let eight waiting publishes hold up an unrelated utility read for 24 s).
    Each call, queueing included, gets `timeout_s`; past it the caller gets
    CHANNEL_UNAVAILABLE, and a call still queued is dropped before it starts.

    Small reads run on the event loop instead.  A read holds no lock: in WAL mode SQLite's
    readers never wait for a writer, even one stuck in an exclusive transaction, so what a read
    costs is its own CPU, and for a call whose arguments are under `INLINE_ARGS_BYTES` that is
    about a millisecond, less than the hop to a worker thread and back costs it (measured in
    docs/performance.md).  On the loop the connection waits at most `INLINE_BUSY_MS` for
    SQLite's locks; a read that meets one anyway (a crash recovery in progress) runs again on
    the channel's pool, with the deadline.  Writes, and reads with larger arguments (a
    1,000-activity footprint), stay on the pools so they never hold the loop.

    Live integrity: SQLite's files can be changed behind the ledger's back, and a read serves
    the world state table as it finds it.  So the connector checks every channel as
    `ledger verify` does (hash chain, signatures, world state recomputed from the blocks) before
    the channel's first call is answered, and again every `integrity_interval_s`, walking only
    the blocks added since (ledger.ChainCheck).  A channel that fails is out of service until
    the gateway restarts: every call on it is CHANNEL_UNAVAILABLE, and the log says what
    failed.  Between two checks a change goes unnoticed for at most the interval.
    """

    kind = "embedded"

    def __init__(
        self,
        data_dir: Path,
        timeout_s: float = DEFAULT_CHANNEL_TIMEOUT_S,
        workers: int = DEFAULT_CHANNEL_WORKERS,
        integrity_interval_s: float = DEFAULT_INTEGRITY_INTERVAL_S,
    ) -> None:
        self.network = EmbeddedNetwork(data_dir)
        self.timeout_s = timeout_s
        self._pools = {
            channel: ThreadPoolExecutor(workers, thread_name_prefix=f"ledger-{channel}")
            for channel in CHANNELS
        }
        self.integrity_interval_s = integrity_interval_s
        self._checks: dict[str, ChainCheck] = {}
        self._verified: dict[str, asyncio.Event] = {}
        self._failed: dict[str, str] = {}  # channel → when its check failed (UTC, for callers)
        self._checking: list[asyncio.Task[None]] = []

    def channels(self) -> tuple[str, ...]:
        return CHANNELS

    async def _run(
        self, channel: str, writes: bool, call: Callable[[], _T], size: int = INLINE_ARGS_BYTES
    ) -> _T:
        pool = self._pools.get(channel)
        if pool is None:  # an unknown channel: let the network say so
            return call()
        await self._in_service(channel)
        if not writes and size < INLINE_ARGS_BYTES:
            try:
                return self._inline(channel, call)
            except _Busy:
                pass
        future = asyncio.get_running_loop().run_in_executor(pool, _unlocked(channel, call))
        try:
            return await asyncio.wait_for(future, self.timeout_s)
        except TimeoutError:
            outcome = (
                " The transaction may still commit: look for it before you submit it again."
                if writes
                else ""
            )
            raise ChannelError(
                "CHANNEL_UNAVAILABLE",
                channel,
                f"the ledger did not answer within {self.timeout_s:g} s; try again later."
                + outcome,
            ) from None

    # ------------------------------------------------------------ live integrity

    async def integrity(self) -> dict[str, str | None]:
        """Wait for every channel's first integrity check: channel → None if it passed, else
        when it failed.  Checks start with the first call on any channel, or with this one."""
        self._start_checks()
        await asyncio.gather(*(event.wait() for event in self._verified.values()))
        return {channel: self._failed.get(channel) for channel in CHANNELS}

    def prepare(self) -> None:
        """Run every channel's integrity check once, here, in the calling thread: for a
        process that initialises before it serves (gateway/serverless.py `prewarm`).  Nothing
        is marked verified: the check before a channel's first answer still runs, but finds
        its work done and reads only the blocks since (`ChainCheck` is incremental)."""
        for channel in CHANNELS:
            problem = self._check(channel)
            if problem is not None:  # found again, and acted on, by the check that serves
                self._checks.pop(channel, None)  # a failed check is not resumed
                if problem is not _LOCKED:
                    log.error("channel %s: integrity check at start-up: %s", channel, problem)

    def _start_checks(self) -> None:
        if not self._checking:
            self._verified = {c: asyncio.Event() for c in CHANNELS}
            loop = asyncio.get_running_loop()
            self._checking = [
                loop.create_task(self._keep_checking(c), name=f"integrity-{c}") for c in CHANNELS
            ]

    async def _in_service(self, channel: str) -> None:
        """Return once `channel` passed its integrity check; CHANNEL_UNAVAILABLE if it failed."""
        self._start_checks()
        verified = self._verified[channel]
        if not verified.is_set():
            try:
                await asyncio.wait_for(verified.wait(), self.timeout_s)
            except TimeoutError:
                raise ChannelError(
                    "CHANNEL_UNAVAILABLE",
                    channel,
                    f"the ledger's integrity check did not finish within {self.timeout_s:g} s; "
                    "try again later",
                ) from None
        failed = self._failed.get(channel)
        if failed is not None:
            raise ChannelError(
                "CHANNEL_UNAVAILABLE",
                channel,
                f"channel {channel} is out of service: its stored state disagrees with its chain "
                f"(integrity check of {failed}); the operator's log says what failed",
            )

    async def _keep_checking(self, channel: str) -> None:
        """Check `channel` now and every interval, on its own threads (a locked channel's
        check waits for its lock and holds up no other channel's)."""
        loop = asyncio.get_running_loop()
        verified = self._verified[channel]
        while True:
            problem = await loop.run_in_executor(self._pools[channel], self._check, channel)
            if problem is _LOCKED:
                # A lock is not a disagreement: try again soon if the channel was never
                # verified, else at the next interval.
                if not verified.is_set():
                    await asyncio.sleep(0.5)
                    continue
            elif problem is not None:
                self._failed[channel] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
                log.error("channel %s taken out of service: %s", channel, problem)
                verified.set()
                return
            else:
                verified.set()
            if self.integrity_interval_s <= 0:
                return
            await asyncio.sleep(self.integrity_interval_s)

    def _check(self, channel: str) -> str | None:
        """One integrity check of `channel`: None, what failed, or _LOCKED."""
        check = self._checks.get(channel)
        if check is None:
            check = self._checks[channel] = ChainCheck(self.network.ledger(channel))
        try:
            report = check.run(wait_s=INTEGRITY_WAIT_S)
        except sqlite3.OperationalError as error:
            if _is_lock(error):
                return _LOCKED
            return f"the check could not run: {error!r}"
        except Exception as error:  # noqa: BLE001  (a check that cannot run is a failed check)
            return f"the check could not run: {error!r}"
        return report.problems[0] if report.problems else None

    def _inline(self, channel: str, call: Callable[[], _T]) -> _T:
        try:
            with self.network.ledger(channel).waiting_at_most(INLINE_BUSY_MS):
                return call()
        except sqlite3.OperationalError as error:
            if not _is_lock(error):
                raise
            raise _Busy from None

    async def evaluate(
        self, channel: str, credential: Credential, function: str, args: Sequence[str] = ()
    ) -> bytes:
        plain = functools.partial(
            self._run,
            channel,
            False,
            functools.partial(self.network.evaluate, channel, credential, function, list(args)),
            sum(map(len, args)),
        )
        return await evaluate_or_meter(channel, credential, function, args, plain, self.submit)

    async def submit(
        self, channel: str, credential: Credential, function: str, args: Sequence[str] = ()
    ) -> Submitted:
        return await self._run(
            channel,
            True,
            functools.partial(self.network.submit, channel, credential, function, list(args)),
        )

    async def chain_info(self, channel: str, credential: Credential) -> ChainInfo:
        return await self._run(
            channel, False, functools.partial(self.network.chain_info, channel, credential), 0
        )

    async def transaction_blocks(
        self, channel: str, credential: Credential, tx_ids: Sequence[str]
    ) -> dict[str, int]:
        return await self._run(
            channel,
            False,
            functools.partial(self.network.transaction_blocks, channel, credential, list(tx_ids)),
            sum(map(len, tx_ids)),
        )

    async def aclose(self) -> None:
        for task in self._checking:
            task.cancel()
        for pool in self._pools.values():
            pool.shutdown(wait=False, cancel_futures=True)


def _is_lock(error: sqlite3.OperationalError) -> bool:
    """Whether SQLite refused because another connection holds the database's lock."""
    return "locked" in str(error) or "busy" in str(error)


def _unlocked(channel: str, call: Callable[[], _T]) -> Callable[[], _T]:
    """`call`, with SQLite's "database is locked" as CHANNEL_UNAVAILABLE, not a server error."""

    def run() -> _T:
        try:
            return call()
        except sqlite3.OperationalError as error:
            if not _is_lock(error):
                raise
            raise ChannelError(
                "CHANNEL_UNAVAILABLE", channel, "the ledger is locked by another writer; try again"
            ) from None

    return run

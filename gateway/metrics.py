"""Prometheus metrics, and the connector wrapper that counts every channel call.

Each app has its own `CollectorRegistry`, so tests can run several apps in
one process.  Labels carry channel and operation only: never who called.

When `serve` runs more than one process (workers, the heavy lane) it sets prometheus_client's
PROMETHEUS_MULTIPROC_DIR for all of them (gateway/cli.py): each process then writes its values
to files there, and /metrics, whichever process answers it, shows their sum (`exposition`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from ..channel_connectors.base import ChainInfo, Connector, Credential, Submitted
from ..channel_connectors.errors import ChannelError


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.connector_calls = Counter(
            "datachannels_connector_calls",
            "Calls from the gateway to a channel, by channel and operation.",
            ["channel", "operation"],
            registry=self.registry,
        )
        self.connector_errors = Counter(
            "datachannels_connector_errors",
            "Channel calls that ended in an error, by code.",
            ["channel", "operation", "code"],
            registry=self.registry,
        )
        self.connector_seconds = Histogram(
            "datachannels_connector_call_seconds",
            "Time of a channel call.",
            ["channel", "operation"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )


def exposition(registry: CollectorRegistry) -> bytes:
    """/metrics: this app's series, or every serving process's summed (multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged)
        return generate_latest(merged)
    return generate_latest(registry)


def forget_process(pid: int | None) -> None:
    """A serving process that exited leaves the in-flight sum (multiprocess mode only; its
    counters stay in the sums, as they should)."""
    if pid is not None and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


class MeteredConnector:
    """A `Connector` that counts and times the calls of the one it wraps."""

    def __init__(self, inner: Connector, metrics: GatewayMetrics) -> None:
        self.inner = inner
        self.kind = inner.kind
        self._metrics = metrics

    def channels(self) -> tuple[str, ...]:
        return self.inner.channels()

    async def _timed(self, channel: str, operation: str, call):
        self._metrics.connector_calls.labels(channel, operation).inc()
        started = time.perf_counter()
        try:
            return await call
        except ChannelError as error:
            self._metrics.connector_errors.labels(channel, operation, error.code).inc()
            raise
        finally:
            self._metrics.connector_seconds.labels(channel, operation).observe(
                time.perf_counter() - started
            )

    async def evaluate(
        self, channel: str, credential: Credential, function: str, args: Sequence[str] = ()
    ) -> bytes:
        return await self._timed(
            channel, "evaluate", self.inner.evaluate(channel, credential, function, args)
        )

    async def submit(
        self, channel: str, credential: Credential, function: str, args: Sequence[str] = ()
    ) -> Submitted:
        return await self._timed(
            channel, "submit", self.inner.submit(channel, credential, function, args)
        )

    async def chain_info(self, channel: str, credential: Credential) -> ChainInfo:
        return await self._timed(channel, "chain_info", self.inner.chain_info(channel, credential))

    async def transaction_blocks(
        self, channel: str, credential: Credential, tx_ids: Sequence[str]
    ) -> dict[str, int]:
        return await self._timed(
            channel,
            "transaction_blocks",
            self.inner.transaction_blocks(channel, credential, tx_ids),
        )

    async def aclose(self) -> None:
        await self.inner.aclose()

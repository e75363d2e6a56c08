"""Observability: a request id on every request and log line, request metrics, JSON logs.

* `ObservedRequests` (ASGI, outermost) gives each request an id (the caller's `X-Request-Id`
  when it is a plain token, else a new one), echoes it in the response, counts requests in
  flight, times each one into `datachannels_request_seconds{operation,type}` and logs one
  `request` line when it ends: method, path (never the query string), status, operation,
  duration and the error codes of the answer.
* `OperationObserver` (a strawberry extension) tells it the GraphQL operation's name and type;
  `note_error` the code of each error in the answer, wherever it was made.
* `log_config` makes every logger, uvicorn's included, write one JSON object per line
  (python-json-logger), each with the request id of the request it belongs to.

What never gets here: headers (so no `X-Wallet`), bodies, variables, query strings and error
messages. Labels are bounded: an operation name is used as a label only if it is a GraphQL name
of at most 64 characters and one of the first `MAX_OPERATION_NAMES` names this process saw;
any other is counted as "other", so a client that invents names cannot grow the metrics.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from pythonjsonlogger.json import JsonFormatter
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

log = logging.getLogger("datachannels.requests")

MAX_OPERATION_NAMES = 100
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,63}")
LANE_LABEL = "(lane)"  # not a GraphQL name, so no operation of a caller's can take it
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


@dataclass
class Observation:
    """What one request's handling learns about it, for its metrics and its log line."""

    request_id: str
    operation: str | None = None
    operation_type: str | None = None
    codes: list[str] = field(default_factory=list)
    lane: bool = False  # answered by the heavy lane's process (gateway/lane.py)


_current: ContextVar[Observation | None] = ContextVar("datachannels_request", default=None)


def note_error(code: str) -> None:
    """Record the code of an error in the answer, for the request's log line."""
    observation = _current.get()
    if observation is not None:
        observation.codes.append(code)


def note_lane() -> None:
    """The request went to the heavy lane: its operation is the lane's to name and log."""
    observation = _current.get()
    if observation is not None:
        observation.lane = True


def current_request_id() -> str | None:
    observation = _current.get()
    return observation.request_id if observation else None


class OperationObserver(SchemaExtension):
    """Hands the operation's name and type to the request's observation."""

    def on_operation(self) -> Iterator[None]:
        yield
        observation = _current.get()
        if observation is None:
            return
        context = self.execution_context
        observation.operation = context.operation_name
        try:
            kind = context.operation_type
        except RuntimeError:  # no document (it did not parse), or no such operation in it
            kind = None
        observation.operation_type = kind.value if kind is not None else None


class RequestMetrics:
    """The request-level series, in the app's own registry (beside the connector's)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.seconds = Histogram(
            "datachannels_request_seconds",
            "Time of a GraphQL request, from its first byte in to its last byte out, by "
            "operation name and type.",
            ["operation", "type"],
            registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.requests = Counter(
            "datachannels_requests",
            "HTTP requests by route and status.",
            ["route", "status"],
            registry=registry,
        )
        self.in_flight = Gauge(
            "datachannels_requests_in_flight",
            "HTTP requests being handled now.",
            registry=registry,
            multiprocess_mode="livesum",  # summed over the live processes (gateway/metrics.py)
        )
        self._names: set[str] = set()
        self._lock = threading.Lock()

    def operation_label(self, name: str | None) -> str:
        """`operation_name`, bounded: past MAX_OPERATION_NAMES distinct names, "other"."""
        label = operation_name(name)
        if label != name:
            return label
        with self._lock:
            if name in self._names:
                return name
            if len(self._names) < MAX_OPERATION_NAMES:
                self._names.add(name)
                return name
        return "other"


def operation_name(name: str | None) -> str:
    """A GraphQL operation's name as metrics and logs give it: "anonymous" for none, "other"
    for one that is no GraphQL name."""
    if not name:
        return "anonymous"
    return name if _NAME.fullmatch(name) else "other"


_ROUTES = ("/graphql", "/healthz", "/metrics")


def _route(path: str) -> str:
    if path in _ROUTES:
        return path
    return "/static" if path.startswith("/static/") else "other"


class ObservedRequests:
    """ASGI middleware: request id, in-flight gauge, latency, and one log line per request.

    A request forwarded to the heavy lane is counted here under the operation "(lane)" (with
    `"lane": true` in its line); the lane's own line, with the same request id, names it."""

    def __init__(self, app: ASGIApp, metrics: RequestMetrics | None) -> None:
        self.app = app
        self.metrics = metrics  # None: log each request, count none (the heavy lane's app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        observation = Observation(_request_id(scope))
        token = _current.set(observation)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
                headers.append((b"x-request-id", observation.request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        metrics = self.metrics
        if metrics is not None:
            metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = _route(scope.get("path", ""))
            if observation.lane:
                operation = LANE_LABEL
            elif metrics is not None:
                operation = metrics.operation_label(observation.operation)
            else:  # no series here, so no bound on names
                operation = operation_name(observation.operation)
            if metrics is not None:
                metrics.in_flight.dec()
                metrics.requests.labels(route, str(status)).inc()
                if route == "/graphql":
                    kind = observation.operation_type or "none"
                    metrics.seconds.labels(operation, kind).observe(elapsed)
            log.info(
                "request",
                extra={
                    "method": scope.get("method"),
                    "path": route,
                    "status": status,
                    "operation": operation if route == "/graphql" else None,
                    "operationType": observation.operation_type,
                    "durationMs": round(elapsed * 1000, 2),
                    "errorCodes": observation.codes or None,
                    "lane": observation.lane or None,
                },
            )
            _current.reset(token)


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            if _REQUEST_ID.fullmatch(text):
                return text
            break
    return uuid.uuid4().hex[:16]


class JsonLogs(JsonFormatter):
    """One JSON object per line: time, level, logger, message, the request id, any extras."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("reserved_attrs", _RESERVED)
        super().__init__(*args, **kwargs)

    def add_fields(
        self, log_record: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_record, record, message_dict)
        log_record["time"] = self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z")
        log_record["level"] = record.levelname.lower()
        log_record["logger"] = record.name
        log_record["pid"] = record.process  # which process: workers and the heavy lane share
        request_id = current_request_id()
        if request_id:
            log_record["requestId"] = request_id
        for key in [k for k, v in log_record.items() if v is None]:
            del log_record[key]


# LogRecord attributes that are not extras: left out of the JSON (uvicorn's colour_message too).
_RESERVED = [
    *logging.LogRecord("", 0, "", 0, "", None, None).__dict__,
    "message",
    "asctime",
    "color_message",
    "taskName",
]


def log_config(level: str, fmt: str) -> dict[str, Any]:
    """A logging.dictConfig for uvicorn.run: ours and uvicorn's loggers, JSON or plain text."""
    formatter: dict[str, Any] = (
        {"()": JsonLogs}
        if fmt == "json"
        else {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
    )
    handler = {"class": "logging.StreamHandler", "formatter": "main", "stream": "ext://sys.stderr"}
    named = {"level": level.upper(), "handlers": ["main"], "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"main": formatter},
        "handlers": {"main": handler},
        "loggers": {
            "datachannels": named,
            "uvicorn": named,
            "uvicorn.error": {"level": level.upper(), "handlers": [], "propagate": True},
        },
    }

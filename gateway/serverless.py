"""The gateway as an AWS Lambda function behind an API Gateway HTTP API (payload format 2.0).

Set the function's handler to `datachannels.gateway.serverless.handler` and install the
`lambda` extra (mangum).  Configuration is the same `DATACHANNELS_*` environment as the server:

* Connector: `DATACHANNELS_CONNECTOR=fabric`, with `DATACHANNELS_DATA_DIR` holding
  `fabric/connection.json` (packaged with the function, or on a mounted file system).  The
  embedded ledger is files on one machine's disk, and each Lambda instance has its own, so it
  is for trying the handler locally, never for a deployment.
* Relay identity: `DATACHANNELS_RELAY_CERTIFICATE` and `DATACHANNELS_RELAY_KEY` each take the
  PEM text itself (a value starting `-----BEGIN`, e.g. a secret injected into the environment)
  or a path to a PEM file.  Give both or neither; with neither, the data dir's
  `identities/relay/` is used if it is there, and without a relay delegations are refused.
* Logs: the gateway's own lines go to stderr as JSON, one `request` line per invocation with
  its request id (`DATACHANNELS_LOG_FORMAT=text` for plain text; `DATACHANNELS_LOG_LEVEL`).
* `DATACHANNELS_PRODUCTION=true`: wallets carry delegations only (an identity with a private
  key is a 400), and GraphiQL, introspection and /metrics are off unless set.

The app is built on the first invocation, not at import: importing stays free of side effects
(tests and tools can import this module), and an on-demand cold start costs the same either
way, since the first invocation follows the import at once.  Where Lambda initialises
instances before any request reaches them (provisioned concurrency, SnapStart: it says so in
`AWS_LAMBDA_INITIALIZATION_TYPE`), or with `DATACHANNELS_PREWARM=true`, the import does that
work instead (`prewarm`): the app, the airport table, the sea-route graph and, on the embedded
ledger, the first integrity checks, so that the first request finds them done.  The Fabric
connector opens no connection then (it connects on its first call), so a snapshot holds none.
Lambda then reuses the process, so later invocations share the app and the connector's open
connections.

Lifespan is off: mangum runs the ASGI startup and shutdown around every invocation, and the
gateway's shutdown closes the connector, so each request would open its Fabric connections
anew.  Lambda gives a frozen process no shutdown to run anyway.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from mangum import Mangum
from starlette.applications import Starlette

from .app import create_app
from .settings import Settings

_handler: Mangum | None = None
_app: Starlette | None = None  # the app _handler serves


def make_handler(settings: Settings | None = None) -> Mangum:
    """A Lambda handler over a new gateway app (settings from the environment if not given)."""
    return Mangum(create_app(settings or Settings.from_env()), lifespan="off")


def _the_handler() -> Mangum:
    """The process's one handler and app, built on first use."""
    global _handler, _app
    if _handler is None:
        settings = Settings.from_env()
        configure_logging(settings)
        _app = create_app(settings)
        _handler = Mangum(_app, lifespan="off")
    return _handler


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda entry point: the process's one app, built on the first call."""
    return _the_handler()(event, context)


def prewarm() -> None:
    """Do at initialisation what the first invocation would otherwise do before answering."""
    from ..resolvers import geo

    _the_handler()
    geo.prepare()
    # The embedded ledger's first integrity checks (the Fabric connector has none to make).
    assert _app is not None
    prepare = getattr(_app.state.connector.inner, "prepare", None)
    if prepare is not None:
        prepare()


def _prewarm_wanted(environment: Mapping[str, str]) -> bool:
    ahead = ("provisioned-concurrency", "snap-start")  # Lambda's names for initialising early
    if environment.get("AWS_LAMBDA_INITIALIZATION_TYPE") in ahead:
        return True
    # The words Settings reads as true.
    return environment.get("DATACHANNELS_PREWARM", "").strip().lower() in ("1", "true", "yes")


def configure_logging(settings: Settings) -> None:
    """The gateway's log lines as `serve` writes them (JSON by default, one request line per
    request with its id), to stderr, which Lambda sends to CloudWatch Logs beside its own
    lines.  Only the entry point does this: an app built in-process logs as its host says."""
    import logging.config

    from .observe import log_config

    logging.addLevelName(5, "TRACE")  # uvicorn's level, which Settings allows; no uvicorn here
    config = log_config(settings.log_level, settings.log_format)
    config["loggers"] = {"datachannels": config["loggers"]["datachannels"]}  # no uvicorn here
    logging.config.dictConfig(config)


if _prewarm_wanted(os.environ):
    try:
        prewarm()
    except Exception as failed:  # noqa: BLE001  (the first invocation tries again, and says why)
        # No value of any setting in this line: only what kind of failure it was.
        import logging

        logging.getLogger("datachannels.serverless").error(
            "prewarm failed (%s); the first invocation finishes the work", type(failed).__name__
        )

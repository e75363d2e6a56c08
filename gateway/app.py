"""The gateway: a Starlette app factory that tests call with their own settings.

Routes: `/graphql` (GraphQL over GET and POST, GraphiQL in a browser),
`/healthz`, `/metrics` (Prometheus text), `/static` (GraphiQL's files and
delegation.js).  The `X-Wallet` header is parsed here, in one place, before any
resolver runs; a malformed wallet is a 400 that names the problem and the
channel, never the secret.  The parsed wallet lives in the request's context only.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from ..chaincode import CHANNELS
from ..chaincode.delegation import fingerprint
from ..channel_connectors.base import Connector
from ..channel_connectors.identity import SigningIdentity
from ..resolvers.context import KnownBlocks, RequestContext
from ..schema import make_schema, schema
from . import graphiql, jsontext
from .guard import RequestGuard, ResponseShape, SecurityHeaders, header
from .metrics import GatewayMetrics, MeteredConnector, exposition
from .observe import ObservedRequests, RequestMetrics, note_error
from .settings import Settings
from .wallet import EMPTY_WALLET, WalletError, parse_wallet

log = logging.getLogger("datachannels.gateway")

WALLET_HEADER = b"x-wallet"
STATIC = Path(__file__).resolve().parent / "static"
# A request forwarded to the heavy lane (gateway/lane.py) gets this long for its answer.
LANE_TIMEOUT_S = 300.0


def make_connector(settings: Settings) -> Connector:
    if settings.connector == "embedded":
        from ..channel_connectors.embedded import EmbeddedConnector

        return EmbeddedConnector(
            settings.data_dir,
            settings.channel_timeout_s,
            settings.channel_workers,
            settings.integrity_interval_s,
        )
    from ..channel_connectors.fabric import FabricConnector

    return FabricConnector.from_data_dir(settings.data_dir, settings.channel_timeout_s)


class _GraphQLApp(GraphQL):
    """Strawberry's ASGI app, with our per-request context and a wallet-safe GraphiQL page."""

    def __init__(self, connector: Connector, settings: Settings) -> None:
        self._max_activities = settings.max_activities
        super().__init__(
            schema if settings.enabled("introspection") else make_schema(introspection=False),
            graphql_ide="graphiql" if settings.enabled("graphiql") else None,
        )
        self._connector = connector
        self._blocks = KnownBlocks()  # the app's, for every request (resolvers/context.py)
        # Our page, over files served from /static: no CDN, and no header ever kept in storage.
        self._ide_html = graphiql.page()

    @property
    def graphql_ide_html(self) -> str:
        return self._ide_html

    def encode_json(self, data: object) -> bytes:
        """The response body, compact UTF-8 by orjson (gateway/jsontext.py): about 15x faster
        than strawberry's json.dumps for a footprint's answer."""
        return jsontext.dumps(data)

    async def process_result(self, request: Any, result: ExecutionResult) -> GraphQLHTTPResponse:
        response = await super().process_result(request, result)
        errors = response.get("errors")
        if errors:
            for error in errors:
                # Errors raised before execution (a document that does not parse, too many
                # tokens) skip the schema's extensions: they are the caller's, like validation.
                if isinstance(error, dict):
                    note_error(error.setdefault("extensions", {}).setdefault("code", "BAD_INPUT"))
            response["errors"] = _in_response_order(errors, response.get("data"))
        return response

    async def get_context(  # type: ignore[override]  # strawberry types the context as None
        self, request: Any, response: Any
    ) -> RequestContext:
        wallet = request.scope.get("state", {}).get("wallet", EMPTY_WALLET)
        return RequestContext(
            connector=self._connector,
            wallet=wallet,
            max_activities=self._max_activities,
            known_blocks=self._blocks,
        )


def _in_response_order(errors: list[object], data: Any) -> list[object]:
    """Errors in the order of the fields they belong to, as the response lists those fields.

    graphql-core lists errors as they happen, so fields resolved concurrently (one per channel)
    would report in whichever order the channels answered; this makes the list the same on
    every request.  Errors without a path (a query that does not parse) come first.
    """

    def position(error: object) -> tuple[int, ...]:
        path = error.get("path") if isinstance(error, dict) else None
        if not path:
            return (-1,)
        node, where = data, list[int]()
        for step in path:
            if isinstance(step, int):
                where.append(step)
                node = node[step] if isinstance(node, list) and step < len(node) else None
            else:
                keys = list(node) if isinstance(node, dict) else []
                where.append(keys.index(step) if step in keys else len(keys))
                node = node.get(step) if isinstance(node, dict) else None
        return tuple(where)

    return sorted(errors, key=position)


class _WalletGate:
    """Parses `X-Wallet` once per request and hands it to GraphQL through the ASGI scope."""

    def __init__(self, app: _GraphQLApp, relay: SigningIdentity | None, production: bool) -> None:
        self._app = app
        self._relay = relay
        self._production = production

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        try:
            wallet = parse_wallet(
                header(scope, WALLET_HEADER), CHANNELS, self._relay, self._production
            )
        except WalletError as error:
            note_error(error.code)
            body = {
                "errors": [
                    {
                        "message": str(error),
                        "extensions": {
                            "code": error.code,
                            "field": "X-Wallet",
                            "channel": error.channel,
                        },
                    }
                ]
            }
            await JSONResponse(body, status_code=400)(scope, receive, send)
            return
        scope.setdefault("state", {})["wallet"] = wallet
        await self._app(scope, receive, send)


async def _first_checks(integrity: Callable[[], Awaitable[dict[str, str | None]]]) -> None:
    began = time.perf_counter()
    outcome = await integrity()
    failed = sorted(channel for channel, when in outcome.items() if when)
    log.info(
        "integrity checked in %.0f ms: %s",
        (time.perf_counter() - began) * 1000,
        f"out of service: {', '.join(failed)}" if failed else "every channel agrees with its chain",
    )


def create_app(
    settings: Settings | None = None,
    connector: Connector | None = None,
    count_requests: bool = True,
) -> Starlette:
    """The gateway.  `count_requests=False` for the heavy lane's app: the gateway that
    forwarded a request has counted it already (its channel calls are counted where made)."""
    settings = settings or Settings.from_env()
    metrics = GatewayMetrics()
    metered = MeteredConnector(connector or make_connector(settings), metrics)
    graphql = _GraphQLApp(metered, settings)
    relay = settings.relay()
    # What a caller signs a delegation for (its audience): public, like the certificate itself.
    relay_info = (
        {"mspId": relay.identity.msp_id, "fingerprint": fingerprint(relay.identity.certificate)}
        if relay
        else None
    )

    async def healthz(request: Request) -> Response:
        return JSONResponse(
            {
                "status": "ok",
                "connector": metered.kind,
                "channels": list(metered.channels()),
                "production": settings.production,
                "relay": relay_info,
            }
        )

    async def metrics_endpoint(request: Request) -> Response:
        return Response(exposition(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        log.info("gateway ready: connector %s, data dir %s", metered.kind, settings.data_dir)
        # Everything built so far (schema, factor tables, modules) lives as long as the process:
        # out of the collector's sight, a full collection does not walk it again and again.
        gc.freeze()
        # The embedded ledger's integrity checks start now, not at the first call.
        integrity = getattr(metered.inner, "integrity", None)
        started = asyncio.create_task(_first_checks(integrity)) if integrity else None
        yield
        if started is not None:
            started.cancel()
        if lane is not None:
            await lane.aclose()
        await metered.aclose()

    lane = None
    if settings.lane and settings.lane_socket:  # only under `serve`, which started the lane
        from .lane import Lane

        lane = Lane(settings.lane_socket, settings.lane_min_items, LANE_TIMEOUT_S)
    endpoint = ResponseShape(
        RequestGuard(
            _WalletGate(graphql, relay, settings.production),
            settings.max_body_bytes,
            settings.body_timeout_s,
            lane,
        )
    )
    routes = [
        Route("/healthz", healthz),
        Route("/graphql", endpoint),
        # GraphiQL's files and the browser's delegation module (static/delegation.js).
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    if settings.enabled("metrics"):
        routes.append(Route("/metrics", metrics_endpoint))
    app = Starlette(
        routes=routes,
        middleware=[
            # Outermost: every request gets its id, its metrics and its log line, refusals too.
            Middleware(
                ObservedRequests,
                metrics=RequestMetrics(metrics.registry) if count_requests else None,
            ),
            Middleware(SecurityHeaders),
            # Front ends on other origins: only those configured.  Credentials travel in
            # X-Wallet, never in cookies, and POST bodies must be JSON, so a page on any other
            # origin can neither read answers nor forge a request that carries a wallet.
            Middleware(
                CORSMiddleware,
                allow_origins=settings.allowed_origins(),
                allow_methods=["GET", "POST"],
                allow_headers=["content-type", "x-wallet", "accept"],
                allow_credentials=False,
                max_age=600,
            ),
        ],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.connector = metered
    return app

"""The HTTP edge of /graphql: what is refused before GraphQL runs, and how answers are shaped.

`RequestGuard` bounds the body (413 past `max_body_bytes`, before reading more than that;
408 when it has not all arrived within `body_timeout_s`) and
checks that a POST is the JSON object GraphQL over HTTP describes, so that bytes no parser
should see (invalid UTF-8, `null`, a string, 100,000 nested arrays, a 5,001-digit number) get
a coded 400 instead of a server error.  It then hands the same bytes on to strawberry.

`negotiate` and `ResponseShape` implement the media type of the GraphQL-over-HTTP spec: a
client that accepts `application/graphql-response+json` gets it, and then a request error
(the document does not parse or validate, or variables do not coerce) is a 400 without a
`data` entry; with `application/json` it stays a 200, as that spec asks for legacy clients.

`SecurityHeaders` adds what every answer carries: a content security policy that allows only
the gateway's own files (GraphiQL included), no framing, no sniffing, no referrer, and
`Cache-Control: no-store` on GraphQL answers, which are computed from a caller's credentials
and must never sit in a shared cache.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .observe import note_error

if TYPE_CHECKING:
    from .lane import Lane

JSON = "application/json"
GRAPHQL_RESPONSE = "application/graphql-response+json"

_POLICY = (
    "default-src 'none'",
    "script-src 'self'",
    # GraphiQL's editors set style attributes; nothing else is inline.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
)
CONTENT_SECURITY_POLICY = "; ".join(_POLICY)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
_SECURITY_HEADER_NAMES = frozenset(name for name, _ in SECURITY_HEADERS)


def error_body(message: str, code: str, **extensions: object) -> bytes:
    return json.dumps(
        {"errors": [{"message": message, "extensions": {"code": code, **extensions}}]}
    ).encode()


async def send_error(
    send: Send, status: int, message: str, code: str, media_type: str = JSON, **extensions: object
) -> None:
    note_error(code)
    body = error_body(message, code, **extensions)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", f"{media_type}; charset=utf-8".encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def negotiate(accept: str | None) -> str:
    """The response media type for an Accept header: graphql-response+json when preferred."""
    if not accept:
        return JSON
    quality: dict[str, float] = {}
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        quality[media.lower()] = max(q, quality.get(media.lower(), 0.0))
    preferred = quality.get(GRAPHQL_RESPONSE, 0.0)
    return GRAPHQL_RESPONSE if preferred > 0 and preferred >= quality.get(JSON, 0.0) else JSON


def read_request_body(body: bytes) -> tuple[dict[str, Any], None] | tuple[None, str]:
    """A POSTed body as a GraphQL request object, or why it is not one."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None, "the request body is not UTF-8"
    try:
        parsed = json.loads(text)
    except RecursionError:
        return None, "the request body nests deeper than JSON here allows"
    except ValueError as error:  # JSONDecodeError, and integers past Python's digit limit
        if "digits" in str(error):
            return None, "the request body holds a number with too many digits"
        return None, "the request body is not JSON"
    if not isinstance(parsed, dict):
        return None, "the request body must be a JSON object with a `query` string"
    if not isinstance(parsed.get("query"), str):
        return None, "the request body must have a `query` string"
    for name, kind in (("variables", dict), ("operationName", str), ("extensions", dict)):
        if parsed.get(name) is not None and not isinstance(parsed[name], kind):
            expected = "an object" if kind is dict else "a string"
            return None, f"`{name}` must be {expected} or null"
    return parsed, None


class RequestGuard:
    """Bounds and checks a request to /graphql before strawberry reads it."""

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        body_timeout_s: float = 10.0,
        lane: Lane | None = None,
    ) -> None:
        self._app = app
        self._max = max_body_bytes
        self._body_timeout = body_timeout_s
        self._lane = lane

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self._app(scope, receive, send)
            return
        media = negotiate(header(scope, b"accept"))
        content_type = (header(scope, b"content-type") or "").split(";")[0].strip().lower()
        if content_type != JSON:
            await send_error(
                send,
                415,
                "POST a JSON body (Content-Type: application/json)",
                "BAD_INPUT",
                media,
                field="Content-Type",
            )
            return
        too_large = (
            f"the request body is larger than {self._max} bytes; "
            "split the request or ask the operator for a higher max_body_bytes"
        )
        declared = header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self._max:
            await send_error(send, 413, too_large, "LIMIT_EXCEEDED", media, limit="max_body_bytes")
            return
        chunks: list[bytes] = []
        size = 0
        # A client that sends half a body must not hold a connection and a request for ever.
        deadline = asyncio.get_running_loop().time() + self._body_timeout
        while True:
            try:
                message = await asyncio.wait_for(
                    receive(), max(0.0, deadline - asyncio.get_running_loop().time())
                )
            except TimeoutError:
                await send_error(
                    send,
                    408,
                    f"the request body did not arrive within {self._body_timeout:g} s",
                    "LIMIT_EXCEEDED",
                    media,
                    limit="body_timeout_s",
                )
                return
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max:
                await send_error(
                    send, 413, too_large, "LIMIT_EXCEEDED", media, limit="max_body_bytes"
                )
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        parsed, problem = read_request_body(body)
        if problem:
            await send_error(send, 400, problem, "BAD_INPUT", media, field="body")
            return
        # A heavy request runs in the heavy lane's process (gateway/lane.py), if there is one.
        if self._lane and self._lane.wants(parsed) and await self._lane.forward(scope, body, send):
            return
        await self._app(scope, _replay(body, receive), send)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


class ResponseShape:
    """application/graphql-response+json for clients that ask for it (see the module doc)."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or negotiate(header(scope, b"accept")) != GRAPHQL_RESPONSE:
            await self._app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def shaping(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            await _send_shaped(send, start, b"".join(chunks))

        await self._app(scope, receive, shaping)


async def _send_shaped(send: Send, start: Message, body: bytes) -> None:
    headers = list(start.get("headers", []))
    content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
    status = start["status"]
    if content_type.split(b";")[0].strip() == JSON.encode():
        try:
            result = json.loads(body)
        except ValueError:
            result = None
        if isinstance(result, dict) and _is_request_error(result):
            result.pop("data", None)
            status = 400 if status == 200 else status
            body = json.dumps(result).encode()
        headers = [
            (k, v) for k, v in headers if k.lower() not in (b"content-type", b"content-length")
        ]
        headers += [
            (b"content-type", f"{GRAPHQL_RESPONSE}; charset=utf-8".encode()),
            (b"content-length", str(len(body)).encode()),
        ]
    await send({**start, "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _is_request_error(result: dict[str, Any]) -> bool:
    """No execution happened: the document or its variables were refused before it ran."""
    errors = result.get("errors") or []
    return result.get("data") is None and bool(errors) and not any(e.get("path") for e in errors)


class SecurityHeaders:
    """The headers every answer carries (see the module doc)."""

    def __init__(self, app: ASGIApp, no_store_paths: Iterable[str] = ("/graphql",)) -> None:
        self._app = app
        self._no_store = tuple(no_store_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        no_store = scope.get("path", "") in self._no_store

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() not in _SECURITY_HEADER_NAMES
                ]
                headers += SECURITY_HEADERS
                if no_store:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self._app(scope, receive, with_headers)

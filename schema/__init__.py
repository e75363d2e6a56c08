"""The GraphQL schema: one module per channel, the footprint types, and the roots here."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Annotated

import strawberry
from graphql import GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule as NoSchemaIntrospection
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxTokensLimiter,
)
from strawberry.types import ExecutionContext, Info

from ..chaincode import CHANNELS, SOURCE_CHANNELS
from ..channel_connectors.errors import ChannelError
from ..gateway.observe import OperationObserver
from ..resolvers.engine import footprint_from_document
from .airline import AirlineChannel
from .caches import DocumentCache
from .commodity import CommodityChannel
from .common import ChannelInfo
from .execution import PlainFieldsExecution
from .execution import available as execution_available
from .footprint import Footprint, FootprintInput, PublishedFootprint, as_request
from .limits import ActivityLimit
from .shipping import ShippingChannel
from .usage import Usage, UsagePeriod
from .usage import usage as usage_resolver
from .utility import UtilityChannel

log = logging.getLogger(__name__)


def _published(record: dict, footprint: Footprint, block: int | None = None) -> PublishedFootprint:
    return PublishedFootprint(
        id=record["id"],
        tx_id=record["txId"],
        owner=record["owner"]["mspId"],
        owner_name=record["owner"].get("name", ""),
        published_at=record.get("timestamp", ""),
        inputs_hash=record.get("inputsHash", ""),
        footprint=footprint,
        committed_block=block,
    )


@strawberry.type
class Query:
    @strawberry.field(
        description="Every channel: whether it answered (reachable), its height if it admits you, "
        "and errorCode when it did not (one ledger query per channel)."
    )
    async def channels(self, info: Info) -> list[ChannelInfo]:
        context = info.context
        results = await asyncio.gather(*(context.channel_info(c) for c in CHANNELS))
        return [
            ChannelInfo(
                name=c,
                kind="source" if c in SOURCE_CHANNELS else "footprint",
                connector=context.connector.kind,
                reachable=reachable,
                height=height,
                error_code=code,
            )
            for c, (reachable, height, code) in zip(CHANNELS, results)
        ]

    @strawberry.field(description="Browse the utility channel.")
    def utility(self) -> UtilityChannel:
        return UtilityChannel()

    @strawberry.field(description="Browse the shipping channel.")
    def shipping(self) -> ShippingChannel:
        return ShippingChannel()

    @strawberry.field(description="Browse the airline channel.")
    def airline(self) -> AirlineChannel:
        return AirlineChannel()

    @strawberry.field(description="Browse the commodity channel.")
    def commodity(self) -> CommodityChannel:
        return CommodityChannel()

    @strawberry.field(
        description="Compute a footprint from the channels, read as you; nothing is published."
    )
    async def footprint(self, info: Info, input: FootprintInput) -> Footprint | None:
        return Footprint.from_engine(await info.context.compute_footprint(as_request(input)))

    @strawberry.field(
        description="A footprint published on the footprint channel, if the channel admits you "
        "(NOT_FOUND when there is none with that id)."
    )
    async def published_footprint(self, info: Info, id: strawberry.ID) -> PublishedFootprint | None:
        record = await info.context.published_footprint(str(id))
        if record is None:
            raise ChannelError(
                "NOT_FOUND", "footprint", f"no published footprint {id!r} on the footprint channel"
            )
        return _published(record, Footprint.from_engine(footprint_from_document(record)))

    @strawberry.field(
        description="The bill of a source channel's access grants: metered accesses and fees "
        "per grant, per currency and per calendar period (`per`, UTC), from `from` to `to` (ISO "
        "times, `to` excluded). A provider or the operator sees every grant's, a consumer "
        "reading under a grant its own."
    )
    async def usage(
        self,
        info: Info,
        channel: str,
        from_: Annotated[str | None, strawberry.argument(name="from")] = None,
        to: str | None = None,
        per: UsagePeriod = UsagePeriod.MONTH,
    ) -> Usage | None:
        return await usage_resolver(info, channel, from_, to, per)


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Compute a footprint and publish it to the footprint channel, signed by you."
    )
    async def publish_footprint(
        self, info: Info, input: FootprintInput
    ) -> PublishedFootprint | None:
        request = as_request(input)
        footprint, answer, submitted = await info.context.publish_footprint(request)
        record = {
            "id": answer["id"],
            "txId": submitted.tx_id,
            "owner": answer["owner"],
            "inputsHash": request.inputs_hash(),
        }
        return _published(record, Footprint.from_engine(footprint), submitted.block_number)


def _expected(error: GraphQLError) -> bool:
    """Errors whose message is written for the caller; anything else is masked."""
    if not error.path:
        # Request-level: syntax, validation, variables that do not fit their types. Written by
        # graphql-core about the caller's own query, never about our internals.
        return True
    original = error.original_error
    return original is None or "code" in (getattr(original, "extensions", None) or {})


class _CodedErrors(MaskErrors):
    """Masks unexpected errors, and gives every error an `extensions.code`."""

    def __init__(self) -> None:
        super().__init__(
            should_mask_error=lambda error: not _expected(error), error_message="Internal error"
        )

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        # The caller gets an id to quote; the server's log has the same id with the trace.
        error_id = uuid.uuid4().hex[:16]
        log.error(
            "internal error %s at %s",
            error_id,
            ".".join(str(step) for step in error.path or ()),
            exc_info=error.original_error or error,
        )
        masked = super().anonymise_error(error)
        masked.message = f"Internal error (id {error_id})"
        masked.extensions = {"code": "INTERNAL", "errorId": error_id}
        return masked

    def _process_result(self, result: object) -> None:
        # As strawberry's, which asks first whether the result has `errors` through a runtime
        # Protocol's isinstance: 18 us on every request; reading the attribute says the same.
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = self._process_errors(errors)  # type: ignore[attr-defined]

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        processed = super()._process_errors(errors)
        for error in processed:
            if not error.extensions or "code" not in error.extensions:
                error.extensions = {**(error.extensions or {}), "code": "BAD_INPUT"}
        return processed


class _Schema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Errors written for the caller are not server faults, and the others are logged with
        # their id and trace where they are masked (_CodedErrors.anonymise_error).
        return None


def make_schema(introspection: bool = True) -> strawberry.Schema:
    """The gateway's schema; production serves it without introspection."""
    return _Schema(
        query=Query,
        mutation=Mutation,
        # Plain fields (no resolver) completed directly (schema/execution.py), where
        # graphql-core's executor is the one it was written for.
        execution_context_class=PlainFieldsExecution if execution_available() else None,
        extensions=[
            # First in, so last out: it sees the errors as the extensions below left them.
            OperationObserver,
            # No depth limiter: no type here refers back to itself, so a query's depth is bounded
            # by the schema (about 6), and strawberry's QueryDepthLimiter would re-validate every
            # request (2 ms), defeating the validation cache. The token limit bounds a query's
            # size (aliases included).
            lambda: MaxTokensLimiter(max_token_count=20000),
            # Parsed and validated documents are shared across requests, bounded by memory
            # (schema/caches.py): they hold query text only, never a credential.
            DocumentCache,
            _CodedErrors,
            ActivityLimit,
            *([] if introspection else [lambda: AddValidationRules([NoSchemaIntrospection])]),
        ],
    )


schema = make_schema()

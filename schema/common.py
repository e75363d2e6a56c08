"""Types shared by every channel: provenance, pages, channel info, errors."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import fields as dataclass_fields
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import strawberry
from strawberry.types import Info

from ..resolvers import engine
from .execution import from_context

if TYPE_CHECKING:
    from ..resolvers.context import RequestContext

T = TypeVar("T")


def _block_number(
    provenance: Provenance, context: RequestContext
) -> int | None | Awaitable[int | None]:
    """A number already known comes back as it is, anything else as an awaitable, which
    graphql-core awaits (RequestContext.block_number).  The schema's execution calls this
    directly (`from_context`): a 100-line footprint asks it 100 times."""
    return context.block_number(provenance.channel, provenance.tx_id)


@strawberry.type(
    description="The channel record a number comes from, and the source cell behind it."
)
class Provenance:
    channel: str
    record_key: str
    tx_id: str = strawberry.field(description="The transaction that wrote the record.")
    dataset: str
    edition: str
    source_row: str = strawberry.field(
        description="The row's identifier in the source (e.g. a DESNZ ID)."
    )
    source_sha256: str = strawberry.field(
        description="sha256 of the source file (or of the audited document)."
    )

    @strawberry.field(
        description="The block holding the transaction: known at once for transactions the "
        "gateway has seen, else one batched ledger lookup per channel.",
        graphql_type=int | None,
    )
    @from_context(_block_number)
    def block_number(self, info: Info) -> int | None | Awaitable[int | None]:
        return _block_number(self, info.context)

    @classmethod
    def from_engine(cls, p: engine.Provenance) -> Provenance:
        return cls(**{name: getattr(p, name) for name in _PROVENANCE_FIELDS})

    @classmethod
    def of_record(cls, channel: str, record: dict[str, Any]) -> Provenance:
        return cls.from_engine(engine.provenance(channel, record))


@strawberry.type
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None = strawberry.field(
        description="Pass as `after` for the next page; null on the last."
    )


@strawberry.type
class ChannelInfo:
    name: str
    kind: str = strawberry.field(description="source or footprint")
    connector: str = strawberry.field(description="embedded or fabric")
    reachable: bool
    height: int | None
    error_code: str | None = strawberry.field(
        description="Why it is not reachable for you, if it is not."
    )


# The engine's provenance fields, named once: a 100-line footprint converts 200 provenances.
_PROVENANCE_FIELDS = tuple(f.name for f in dataclass_fields(engine.Provenance))


def payload_fields(cls: type, record: dict[str, Any], channel: str, **extra: Any) -> Any:
    """Build a record type from a record: payload keys map to fields of the same Python name."""
    names = {f.name for f in dataclass_fields(cls)} - {"provenance"} - set(extra)
    payload = record["payload"]
    return cls(
        **{n: payload.get(n) for n in names},
        provenance=Provenance.of_record(channel, record),
        **extra,
    )

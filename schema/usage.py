"""The bill of a source channel's access grants (issue 13), as the channel shows it to the caller.

The contract decides who sees what (chaincode/records.py `usage`): a provider or the operator
every grant's, a consumer reading under a grant its own.  Fees are decimal strings, exactly as
the metering entries on the ledger hold them, so sums never drift through floating point.
"""

from __future__ import annotations

import enum
import json
from typing import Any

import strawberry
from strawberry.types import Info

from ..chaincode import SOURCE_CHANNELS
from ..channel_connectors.base import network
from ..resolvers.context import BadInput


@strawberry.type(description="One grant's metered accesses in the period.")
class GrantUsage:
    grant_id: str
    consumer_org: str
    currency: str
    accesses: int
    records: int = strawberry.field(description="Records read, over all its accesses.")
    fees: str = strawberry.field(description="The sum of its fees, a decimal string.")


@strawberry.type(description="The accesses and fees of one currency in the period.")
class UsageTotal:
    currency: str
    accesses: int
    fees: str = strawberry.field(description="A decimal string.")


@strawberry.enum(description="The calendar periods (UTC) the bill sums accesses and fees over.")
class UsagePeriod(enum.Enum):
    DAY = "day"
    MONTH = "month"


@strawberry.type(description="The accesses and fees of one currency in one calendar period.")
class PeriodTotal:
    period: str = strawberry.field(description='"2026-12" for a month, "2026-12-04" for a day.')
    currency: str
    accesses: int
    fees: str = strawberry.field(description="A decimal string.")


@strawberry.type(description="Metered accesses under a channel's grants, and their fees.")
class Usage:
    channel: str
    period_start: str | None = strawberry.field(description="As asked (`from`), in UTC.")
    period_end: str | None = strawberry.field(description="As asked (`to`, excluded), in UTC.")
    per: UsagePeriod = strawberry.field(description="The periods `periods` is totalled by.")
    grants: list[GrantUsage]
    totals: list[UsageTotal]
    periods: list[PeriodTotal] = strawberry.field(
        description="Totals per calendar period (as asked with `per`) and currency, in order."
    )


async def usage(
    info: Info, channel: str, from_: str | None, to: str | None, per: UsagePeriod
) -> Usage:
    """The `usage` field's work (its arguments are declared on Query, schema/__init__.py)."""
    if channel not in SOURCE_CHANNELS:
        raise BadInput("channel", f"grants live on {', '.join(SOURCE_CHANNELS)}; not {channel!r}")
    body = {k: v for k, v in (("from", from_), ("to", to)) if v is not None}
    if per is not UsagePeriod.MONTH:  # the contract's default, and all an older contract reads
        body["per"] = per.value
    credential = info.context.loaders.credential(channel)
    raw = (
        await network(info.context.connector, channel)
        .contract()
        .evaluate(credential, "usage", json.dumps(body))
    )
    bill: dict[str, Any] = json.loads(raw)
    return Usage(
        channel=channel,
        period_start=bill.get("from"),
        period_end=bill.get("to"),
        per=UsagePeriod(bill.get("per", "month")),
        grants=[
            GrantUsage(
                grant_id=g["grantId"],
                consumer_org=g["consumerOrg"],
                currency=g["currency"],
                accesses=g["accesses"],
                records=g["records"],
                fees=g["fees"],
            )
            for g in bill["grants"]
        ],
        totals=[
            UsageTotal(currency=t["currency"], accesses=t["accesses"], fees=t["fees"])
            for t in bill["totals"]
        ],
        periods=[
            PeriodTotal(
                period=p["period"], currency=p["currency"], accesses=p["accesses"], fees=p["fees"]
            )
            for p in bill.get("periods", ())  # none from a contract older than periods
        ],
    )

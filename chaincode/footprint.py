"""The `footprint` channel: published footprints, owned by whoever signed them.

Any member may publish; the owner is taken from the creator's certificate,
never from an argument.  The footprint id is the publishing transaction's
id, so it is unique and names where the footprint entered the ledger.
"""

from __future__ import annotations

import math
from typing import Any

from .access import acting
from .records import MAX_BATCH, ChannelContract, timestamp_of
from .shim import Caller, Context, ContractError, bad_input, canonical_json, parse_json_argument
from .validation import SHA256_HEX, Field, RecordSchema, text, validate

MAX_LINES = 20000
_TOLERANCE = 1e-9  # relative: totals are sums of floats

FOOTPRINT_DOCUMENT = RecordSchema(
    kind="footprint",
    fields=(
        Field("footprint", "object"),
        text("methodologyVersion"),
        text("inputsHash", pattern=SHA256_HEX),
        Field("inputs", "object", required=False),
        Field("recordTxIds", "object", required=False),
        Field("period", "object", required=False, nullable=True),
    ),
    key=lambda p: (),
)


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=_TOLERANCE, abs_tol=1e-9)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise bad_input(f"{where} must be a finite number")
    return float(value)


def check_footprint(document: Any) -> dict[str, Any]:
    """Structure and arithmetic of a footprint: totals must be the sums of its lines."""
    validate(FOOTPRINT_DOCUMENT, document)
    body = document["footprint"]
    lines = body.get("lines")
    if not isinstance(lines, list) or len(lines) > MAX_LINES:
        raise bad_input(f"footprint.lines must be an array of at most {MAX_LINES} lines")
    line_sum = 0.0
    for index, line in enumerate(lines):
        where = f"footprint.lines[{index}]"
        if not isinstance(line, dict):
            raise bad_input(f"{where} must be an object")
        line_sum += _number(line.get("kgCO2e"), f"{where}.kgCO2e")
        for name in ("channel", "activity", "basis"):
            if not isinstance(line.get(name), str):
                raise bad_input(f"{where}.{name} must be a string")
        if isinstance(line.get("scope"), bool) or line.get("scope") not in (1, 2, 3):
            raise bad_input(f"{where}.scope must be 1, 2 or 3")
        source = line.get("source")
        if not isinstance(source, dict) or not all(
            isinstance(source.get(k), str) for k in ("channel", "record_key", "tx_id")
        ):
            raise bad_input(
                f"{where}.source must name the channel, record_key and tx_id the line rests on"
            )
    total = _number(body.get("totalKgCO2e"), "footprint.totalKgCO2e")
    if not _close(total, line_sum):
        raise bad_input(
            f"footprint.totalKgCO2e {total!r} is not the sum of its lines ({line_sum!r})"
        )
    by_scope = body.get("byScope", [])
    if not isinstance(by_scope, list):
        raise bad_input("footprint.byScope must be an array")
    scope_sum = sum(
        _number(s.get("kgCO2e") if isinstance(s, dict) else None, "footprint.byScope[].kgCO2e")
        for s in by_scope
    )
    if by_scope and not _close(scope_sum, total):
        raise bad_input(f"footprint.byScope adds up to {scope_sum!r}, not the total {total!r}")
    return document


class FootprintContract(ChannelContract):
    Name = "footprint"

    async def publish(self, ctx: Context, footprint: str) -> str:
        """Store a computed footprint signed by its owner."""
        who = await acting(ctx, "publish")
        document = check_footprint(parse_json_argument("footprint", footprint))
        tx_id = ctx.get_stub().get_txid()
        if await self._get(ctx, "footprint", [tx_id]) is not None:
            raise ContractError("CONFLICT", f"footprint {tx_id} already exists")
        record = {
            "id": tx_id,
            "owner": {"mspId": who.msp_id, "name": who.name, "certFingerprint": who.fingerprint},
            "txId": tx_id,
            "timestamp": timestamp_of(ctx),
            **document,
        }
        if who.delegation is not None:
            use = await self._use_publish(ctx, who, tx_id)
            record["delegated"] = {
                "relay": who.relay_fingerprint,
                "delegation": who.delegation.token_id,
                "use": use,
            }
        await self._put(ctx, "footprint", [tx_id], record)
        await self._put(ctx, "footprint_by_owner", [who.msp_id, tx_id], {"id": tx_id})
        return canonical_json({"id": tx_id, "txId": tx_id, "owner": record["owner"]})

    async def _use_publish(self, ctx: Context, who: Caller, footprint_id: str) -> int:
        """Count one publish against the caller's delegation; refuse one use too many.

        One counter per delegation (by its signer's certificate and id, so nobody else's
        delegation can use it up) and one entry per use naming the footprint it published. Two
        concurrent publishes read the same counter, so the ledger's MVCC check lets only one
        of them commit.
        """
        assert who.delegation is not None
        key = [who.fingerprint, who.delegation.token_id]
        counter = await self._get(ctx, "delegation_uses", key)
        used = int(counter["used"]) if counter else 0
        allowed = who.delegation.publishes
        if used >= allowed:
            raise ContractError(
                "DELEGATION_REPLAYED",
                f"the delegation allowed {allowed} publish{'es' if allowed != 1 else ''} and "
                "all are used; sign a new one (`--actions read,publish --publishes N`)",
            )
        await self._put(ctx, "delegation_uses", key, {"used": used + 1, "of": allowed})
        await self._put(
            ctx, "delegation_use", [*key, f"{used + 1:04d}"], {"footprint": footprint_id}
        )
        return used + 1

    async def read(self, ctx: Context, request: str) -> str:
        """Many footprints by id in one call: {"ids": [...]}; each gets a record or an error."""
        await acting(ctx, "read")
        body = parse_json_argument("request", request)
        ids = body.get("ids") if isinstance(body, dict) else None
        if not isinstance(ids, list) or len(ids) > MAX_BATCH:
            raise bad_input(f'request must be {{"ids": [...]}} with at most {MAX_BATCH} ids')
        results = []
        for footprint_id in ids:
            if not isinstance(footprint_id, str) or not footprint_id or "\x00" in footprint_id:
                results.append(
                    {
                        "id": footprint_id,
                        "error": {"code": "BAD_INPUT", "message": "id must be a non-empty string"},
                    }
                )
                continue
            record = await self._get(ctx, "footprint", [footprint_id])
            if record is None:
                results.append(
                    {
                        "id": footprint_id,
                        "error": {"code": "NOT_FOUND", "message": f"no footprint {footprint_id}"},
                    }
                )
            else:
                results.append({"id": footprint_id, "record": record})
        return canonical_json({"results": results})

    async def query(self, ctx: Context, request: str) -> str:
        """Ids of the footprints {"owner": mspId} published; without an owner, the caller's."""
        who = await acting(ctx, "read")
        body = parse_json_argument("request", request)
        if not isinstance(body, dict):
            raise bad_input("request must be a JSON object")
        owner = body.get("owner") or who.msp_id
        if not isinstance(owner, str):
            raise bad_input("owner must be an MSP id")
        entries = await self._scan(ctx, "footprint_by_owner", [owner])
        return canonical_json({"ids": [value["id"] for _, value in entries]})

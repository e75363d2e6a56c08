"""The rules every source channel shares, in one contract base class.

* Factor records are readable by every member of the channel (the channel's
  membership itself is enforced by the peer / embedded ledger before any
  contract code runs).
* Audited customer records are readable only by that customer's organisation
  and by the writer (auditor) organisations.
* Only the writer organisations put records; a record is immutable: writing
  an existing key is refused, and a correction is a new record that names
  the one it `supersedes`.
* Reads are batched: one `read` call answers many keys and many partial
  composite-key queries, so a client needs one call per channel.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from collections.abc import AsyncGenerator, Iterable, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

from cryptography.hazmat.primitives import serialization

from . import grants as grant_tokens
from .access import (
    DELEGATION_KEY,
    GRANT,
    GRANT_REVOKED,
    MEMBERSHIP,
    acting,
    is_operator_admin,
    parse_membership,
)
from .shim import (
    Caller,
    Context,
    Contract,
    ContractError,
    access_denied,
    bad_input,
    canonical_json,
    creator,
    parse_json_argument,
    scan_range,
    transient,
)
from .validation import SOURCE_SCHEMA, RecordSchema, validate

AUDITORS = ("AuditorsMSP",)
MAX_BATCH = 2000
MAX_QUERY_LIMIT = 1000
SUPERSEDED_INDEX = "superseded_by"
# A copy of each record of a kind with a match index (RecordSchema.match_index), under
# (kind, field, _match_digest of the field's folded value, the record's key attributes): a
# `matches` query on that field scans its value's entries only, in the records' key order.
MATCH_INDEX = "match_index"
# (kind, field, MATCH_INDEX_VERSION) -> {"complete": bool}: whether every record of the kind
# has its entry, decided by the first batch of the kind this contract writes: complete when
# the kind had no records yet.  A ledger whose records were written before the index existed
# gets false, and its queries scan the records themselves, as before.  The version names the
# entries' form and the Unicode tables `fold_text` folded with (another Python may fold some
# text otherwise): a ledger's index written under another version is not read.  A contract
# that writes an indexed kind without its entries (an older package, or one whose schema
# dropped the field) must not write on a channel whose index is complete: that would leave
# the index short of records with nothing to tell; such a change must change the version.
MATCH_INDEX_STATE = "match_index_state"
MATCH_INDEX_VERSION = f"1-unicode-{unicodedata.unidata_version}"
GRANT_USES = "grant_uses"  # a grant's use counter: {"used": n, "of": cap}
GRANT_USE = "grant_use"  # one metered access, by grant id and access id
# The relay names each request's access to a channel (transient "access", 32 hex digits), so that
# the reads of one request meter once: the first writes the entry, later ones find it and write
# nothing.  Reuse is bounded: same consumer, and within this many seconds of the first read.
ACCESS_KEY = "access"
ACCESS_WINDOW_S = 300
_ACCESS_ID = re.compile(r"[0-9a-f]{32}")
# The bill's calendar periods (UTC), as the length of the ISO time's prefix that names one.
USAGE_PERIODS = {"day": len("2026-12-04"), "month": len("2026-12")}
# What a query may hold.  where: payload field = value; startsWith: text field starts with;
# matches: text field equal ignoring case and runs of white space (see fold_text).
QUERY_FIELDS = (
    "kind",
    "attributes",
    "where",
    "startsWith",
    "matches",
    "limit",
    "after",
    "includeSuperseded",
)


def fold_text(text: str) -> str:
    """Text as `matches` compares it: case folded, white space runs made one space, ends trimmed."""
    return " ".join(text.split()).casefold()


def _may_match(text: str, folded: Mapping[str, str]) -> bool:
    """False only for a stored record whose `matches` fields cannot equal the asked values,
    found without decoding or folding the whole record.

    Every stored record is canonical_json's text, which writes a string field as
    `"name":"value"`, with no space and the value as it is unless it holds a character JSON
    escapes (a quote, a backslash, a control character: each escaped with a backslash).  So
    the text between a field's key and the next quote is its value, folded and compared here.
    A value with a backslash in it may match (the decoded payload decides), and so may a key
    followed by white space, which canonical_json never writes.  Another object's field of the
    same name can only let a record through, never keep one out."""
    for name, wanted in folded.items():
        marker = f'"{name}":'
        at = text.find(marker)
        while True:
            if at == -1:
                return False
            at += len(marker)
            if text.startswith('"', at):
                end = text.find('"', at + 1)
                if end == -1:
                    break
                value = text[at + 1 : end]
                if "\\" in value or fold_text(value) == wanted:
                    break
            elif at < len(text) and text[at].isspace():
                break
            at = text.find(marker, at)
    return True


def _match_digest(folded: str) -> str:
    """A folded `matches` value as a match index key attribute: its sha256, so that any text
    (U+0000 included, which a composite key cannot hold) has one of bounded length.  The
    query still compares the folded values themselves."""
    return hashlib.sha256(folded.encode()).hexdigest()


def record_key(kind: str, attributes: Iterable[str]) -> str:
    """The public key of a record: its kind and attributes joined by `/`."""
    return "/".join((kind, *attributes))


def split_record_key(key: Any) -> tuple[str, list[str]]:
    if not isinstance(key, str) or "/" not in key:
        raise bad_input(f"record key {key!r} must look like kind/attribute[/attribute…]")
    kind, *attributes = key.split("/")
    if not all(attributes):
        raise bad_input(f"record key {key!r} has an empty attribute")
    return kind, attributes


def timestamp_of(ctx: Context) -> str:
    stamp = ctx.get_stub().get_tx_timestamp()
    if stamp is None:
        return ""
    return _iso_millis(stamp.ToDatetime(tzinfo=dt.UTC))


def _iso_millis(moment: dt.datetime) -> str:
    """How the contracts write times: UTC, to the millisecond, "2026-12-03T19:03:08.486Z"."""
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ChannelContract(Contract):
    """Plumbing shared by all channel contracts: state access in one place."""

    def __init__(self, writers: Iterable[str] = AUDITORS) -> None:
        super().__init__()
        self._writers = frozenset(writers)
        if not self._writers:
            raise ValueError("a channel contract needs at least one writer organisation")

    def get_evaluate_transactions(self) -> list[str]:
        return ["read", "query", "membership"]

    # ------------------------------------------------------------- membership

    async def set_membership(self, ctx: Context, record: str) -> str:
        """Write the channel's membership record (see `access`): the operator's admin only."""
        who = creator(ctx)
        if DELEGATION_KEY in transient(ctx.get_stub()) or not is_operator_admin(who):
            raise access_denied(
                "only an admin of the operator's organisation writes the membership record"
            )
        parse_membership(record)  # refuses a record that would not decode
        stub = ctx.get_stub()
        await stub.put_state(
            stub.create_composite_key(MEMBERSHIP, []),
            canonical_json(parse_json_argument("record", record)).encode(),
        )
        return canonical_json({"txId": stub.get_txid()})

    async def membership(self, ctx: Context) -> str:
        """The membership record: the member CAs delegations are checked against (public)."""
        text = await self._get_text(ctx, MEMBERSHIP, [])
        if text is None:
            raise ContractError("NOT_FOUND", "this channel has no membership record yet")
        return text

    def _is_writer(self, who: Caller) -> bool:
        return who.msp_id in self._writers

    async def _get(
        self, ctx: Context, object_type: str, attributes: list[str]
    ) -> dict[str, Any] | None:
        text = await self._get_text(ctx, object_type, attributes)
        return None if text is None else parse_json_argument("state", text)

    async def _get_text(self, ctx: Context, object_type: str, attributes: list[str]) -> str | None:
        stub = ctx.get_stub()
        raw = await stub.get_state(stub.create_composite_key(object_type, attributes))
        return stored_object(bytes(raw).decode()) if raw else None

    async def _put(self, ctx: Context, object_type: str, attributes: list[str], value: Any) -> None:
        await self._put_text(ctx, object_type, attributes, canonical_json(value))

    async def _put_text(
        self, ctx: Context, object_type: str, attributes: list[str], text: str
    ) -> None:
        stub = ctx.get_stub()
        await stub.put_state(stub.create_composite_key(object_type, attributes), text.encode())

    async def _match_index_state(self, ctx: Context, kind: str, name: str) -> bool | None:
        """Whether the match index of `kind` by `name` holds every record (None: undecided)."""
        state = await self._get(ctx, MATCH_INDEX_STATE, [kind, name, MATCH_INDEX_VERSION])
        return None if state is None else state.get("complete") is True

    async def _has(self, ctx: Context, object_type: str) -> bool:
        """Whether any key is stored under `object_type` (its first is read, no more)."""
        async with aclosing(self._iterate(ctx, object_type, [])) as stored:
            async for _ in stored:
                return True
        return False

    async def _scan(
        self, ctx: Context, object_type: str, attributes: list[str]
    ) -> list[tuple[str, dict[str, Any]]]:
        """All (state key, value) under a partial composite key, in key order."""
        async with aclosing(self._iterate(ctx, object_type, attributes)) as stored:
            return [(key, parse_json_argument("state", text)) async for key, text in stored]

    def _iterate(
        self, ctx: Context, object_type: str, attributes: list[str], after: list[str] | None = None
    ) -> AsyncGenerator[tuple[str, str], None]:
        """(state key, value text) under a partial composite key, in key order, after `after`.

        A range query rather than the shim's partial-key query, so that a page starts at its cursor
        (the attributes of `after`) instead of at the beginning of the kind: each record read is a
        round trip to the peer on Fabric. Values stay text: a read hands stored records on as they
        are, without decoding them.
        """
        stub = ctx.get_stub()
        prefix = stub.create_composite_key(object_type, attributes)
        start = prefix
        if after:
            # The smallest key after the cursor's: composite keys end in U+0000, so append one more.
            start = max(prefix, stub.create_composite_key(object_type, after) + "\x00")
        return scan_range(stub, start, prefix + "\U0010ffff", check=stored_object)


class SourceChannelContract(ChannelContract):
    """Base of the utility, shipping, airline and commodity contracts."""

    schemas: ClassVar[Mapping[str, RecordSchema]] = {}

    def get_evaluate_transactions(self) -> list[str]:
        return [*super().get_evaluate_transactions(), "grants", "usage"]

    # ----------------------------------------------------------------- grants

    async def grant_issue(self, ctx: Context, request: str) -> str:
        """Record a grant (chaincode/grants.py) that the caller, a writer, signed: {"token"}.

        Signed by the provider itself, never relayed.  The token must verify with the
        creator's own certificate, name this channel and open factor kinds only (never another
        customer's audited records).  The record holds the grant's facts and the issuer's
        certificate, which reads with the token will check it against; not the token.
        """
        who = await self._writer(ctx, "issue grants")
        body = parse_json_argument("request", request)
        token = body.get("token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token or len(token) > 8192:
            raise bad_input('request must be {"token": "…"}, a grant of at most 8 KiB')
        pem = who.certificate.public_bytes(serialization.Encoding.PEM)
        try:
            grant = grant_tokens.read_signed(token, pem)
        except grant_tokens.GrantError as refused:
            raise ContractError(
                refused.code, refused.message + " (the issuer must sign it with its own key)"
            ) from None
        channel = ctx.get_stub().get_channel_id()
        if grant.channel != channel:
            raise ContractError(
                "TOKEN_SCOPE", f"the grant is for channel {grant.channel}, not {channel}"
            )
        factors = sorted(kind for kind, schema in self.schemas.items() if not schema.audited)
        outside = sorted(set(grant.kinds) - set(factors))
        if outside:
            raise ContractError(
                "TOKEN_SCOPE",
                f"a grant opens factor kinds only ({', '.join(factors)}); not {', '.join(outside)}",
            )
        if await self._get(ctx, GRANT, [grant.grant_id]) is not None:
            raise ContractError("CONFLICT", f"grant {grant.grant_id} is recorded already")
        tx_id = ctx.get_stub().get_txid()
        record = {
            **grant_tokens.as_record(grant),
            "issuer": {
                "mspId": who.msp_id,
                "name": who.name,
                "certFingerprint": who.fingerprint,
                "certificate": pem.decode(),
            },
            "txId": tx_id,
            "timestamp": timestamp_of(ctx),
        }
        await self._put(ctx, GRANT, [grant.grant_id], record)
        return canonical_json({"grantId": grant.grant_id, "txId": tx_id})

    async def grant_revoke(self, ctx: Context, request: str) -> str:
        """Revoke a recorded grant: {"grantId"}; by a writer, signed by itself."""
        who = await self._writer(ctx, "revoke grants")
        body = parse_json_argument("request", request)
        grant_id = body.get("grantId") if isinstance(body, dict) else None
        if not isinstance(grant_id, str) or not grant_id or "\x00" in grant_id:
            raise bad_input('request must be {"grantId": "…"}')
        if await self._get(ctx, GRANT, [grant_id]) is None:
            raise ContractError("NOT_FOUND", f"no grant {grant_id} on this channel")
        if await self._get(ctx, GRANT_REVOKED, [grant_id]) is not None:
            raise ContractError("CONFLICT", f"grant {grant_id} is revoked already")
        tx_id = ctx.get_stub().get_txid()
        await self._put(
            ctx,
            GRANT_REVOKED,
            [grant_id],
            {"by": who.msp_id, "txId": tx_id, "timestamp": timestamp_of(ctx)},
        )
        return canonical_json({"grantId": grant_id, "txId": tx_id})

    async def grants(self, ctx: Context) -> str:
        """The channel's grants with their revocations: for its writers (providers) only."""
        await self._writer(ctx, "list grants")
        revoked = {
            ctx.get_stub().split_composite_key(key)[1][0]: value
            for key, value in await self._scan(ctx, GRANT_REVOKED, [])
        }
        out = []
        for _, record in await self._scan(ctx, GRANT, []):
            record.pop("issuer", None)
            out.append({**record, "revoked": revoked.get(record["grantId"])})
        return canonical_json({"grants": out})

    async def usage(self, ctx: Context, request: str) -> str:
        """The bill: metered accesses under grants and their fees, {"from", "to", "per"} (ISO
        times, `to` excluded; totals per calendar "day" or "month", UTC, the default; each may be
        left out).

        Each sees what concerns it: the operator's admin and the channel's writers (the
        providers) every grant's; a consumer reading under a grant that grant's only.  Totals are
        per grant and per currency, summed from the metering entries the reads wrote, so anyone
        can recompute them from the chain's blocks."""
        proposer = creator(ctx)
        body = parse_json_argument("request", request)
        if not isinstance(body, dict) or set(body) - {"from", "to", "per"}:
            raise bad_input(
                'request must be {"from": "…", "to": "…", "per": "day" | "month"} (ISO times; '
                "all optional)"
            )
        start, end = (_iso_bound(body.get(name), name) for name in ("from", "to"))
        per = body.get("per", "month")
        if not isinstance(per, str) or per not in USAGE_PERIODS:
            raise bad_input(f"per must be one of {', '.join(USAGE_PERIODS)}, got {per!r}")
        if DELEGATION_KEY not in transient(ctx.get_stub()) and is_operator_admin(proposer):
            scope: list[str] = []
        else:
            who = await acting(ctx, "read")
            if self._is_writer(who):
                scope = []
            elif who.grant_record is not None:
                scope = [who.grant_record["grantId"]]
            else:
                raise access_denied(
                    "usage is for the channel's providers, the operator and consumers reading "
                    "under a grant"
                )
        grants_seen: dict[str, dict[str, Any]] = {}
        totals: dict[str, dict[str, Any]] = {}
        periods: dict[tuple[str, str], dict[str, Any]] = {}  # by (period, currency)
        for state_key, entry in await self._scan(ctx, GRANT_USE, scope):
            stamp = entry.get("timestamp", "")
            if (start and stamp < start) or (end and stamp >= end):
                continue
            grant_id = ctx.get_stub().split_composite_key(state_key)[1][0]
            fee = Decimal(entry["fee"])
            line = grants_seen.setdefault(
                grant_id,
                {
                    "grantId": grant_id,
                    "consumerOrg": entry["consumerOrg"],
                    "currency": entry["currency"],
                    "accesses": 0,
                    "records": 0,
                    "fees": Decimal(0),
                },
            )
            line["accesses"] += 1
            line["records"] += int(entry["records"])
            line["fees"] += fee
            total = totals.setdefault(
                entry["currency"],
                {"currency": entry["currency"], "accesses": 0, "fees": Decimal(0)},
            )
            total["accesses"] += 1
            total["fees"] += fee
            period = (stamp[: USAGE_PERIODS[per]], entry["currency"])
            subtotal = periods.setdefault(
                period,
                {"period": period[0], "currency": period[1], "accesses": 0, "fees": Decimal(0)},
            )
            subtotal["accesses"] += 1
            subtotal["fees"] += fee
        return canonical_json(
            {
                "from": start,
                "to": end,
                "per": per,
                "grants": [{**g, "fees": str(g["fees"])} for g in grants_seen.values()],
                "totals": [{**t, "fees": str(t["fees"])} for t in totals.values()],
                "periods": [{**p, "fees": str(p["fees"])} for _, p in sorted(periods.items())],
            }
        )

    async def _writer(self, ctx: Context, doing: str) -> Caller:
        who = await acting(ctx, None)
        if not self._is_writer(who):
            channel = ctx.get_stub().get_channel_id()
            raise access_denied(
                f"only {', '.join(sorted(self._writers))} may {doing} on channel {channel}; "
                f"{who.msp_id} may not"
            )
        return who

    # ----------------------------------------------------------------- writes

    async def put_records(self, ctx: Context, records: str) -> str:
        """Write a batch of audited records; all or nothing (signed by the writer itself)."""
        who = await acting(ctx, None)
        channel = ctx.get_stub().get_channel_id()
        if not self._is_writer(who):
            raise access_denied(
                f"only {', '.join(sorted(self._writers))} may write to channel {channel}; "
                f"{who.msp_id} may not"
            )
        items = parse_json_argument("records", records)
        if not isinstance(items, list) or not items:
            raise bad_input("records must be a non-empty JSON array")
        if len(items) > MAX_BATCH:
            raise bad_input(f"at most {MAX_BATCH} records per call, got {len(items)}")
        tx_id = ctx.get_stub().get_txid()
        stamp = timestamp_of(ctx)
        prepared: list[tuple[RecordSchema, list[str], dict[str, Any]]] = []
        seen: set[str] = set()
        corrected: set[str] = set()
        for index, item in enumerate(items):
            schema, attributes, record = await self._prepare(ctx, index, item, who, tx_id, stamp)
            if record["key"] in seen:
                raise bad_input(
                    f"records[{index}]: key {record['key']} appears twice in this batch"
                )
            seen.add(record["key"])
            if record["supersedes"]:
                if record["supersedes"] in corrected:
                    raise ContractError(
                        "CONFLICT",
                        f"records[{index}]: {record['supersedes']} is superseded twice in this "
                        "batch",
                    )
                corrected.add(record["supersedes"])
            prepared.append((schema, attributes, record))
        # Before any write: the state of each match index this batch writes to, decided by the
        # kind's first batch under this version (a point read after that, no range read).
        complete: dict[tuple[str, str], bool] = {}
        decided: list[tuple[str, str, bool]] = []
        for schema in {schema.kind: schema for schema, _, _ in prepared}.values():
            for name in schema.match_index:
                state = await self._match_index_state(ctx, schema.kind, name)
                if state is None:
                    state = not await self._has(ctx, schema.kind)
                    decided.append((schema.kind, name, state))
                complete[(schema.kind, name)] = state
        # Nothing is written until every record has passed.
        for kind, name, state in decided:
            await self._put(
                ctx, MATCH_INDEX_STATE, [kind, name, MATCH_INDEX_VERSION], {"complete": state}
            )
        for schema, attributes, record in prepared:
            text = canonical_json(record)
            await self._put_text(ctx, schema.kind, attributes, text)
            for name in schema.match_index:  # only into an index that is read
                value = record["payload"].get(name)
                if complete[(schema.kind, name)] and isinstance(value, str):
                    digest = _match_digest(fold_text(value))
                    await self._put_text(
                        ctx, MATCH_INDEX, [schema.kind, name, digest, *attributes], text
                    )
            if record["supersedes"]:
                old_kind, old_attributes = split_record_key(record["supersedes"])
                await self._put(
                    ctx, SUPERSEDED_INDEX, [old_kind, *old_attributes], {"by": record["key"]}
                )
        return canonical_json({"txId": tx_id, "keys": [r["key"] for _, _, r in prepared]})

    async def _prepare(
        self, ctx: Context, index: int, item: Any, who: Caller, tx_id: str, stamp: str
    ) -> tuple[RecordSchema, list[str], dict[str, Any]]:
        where = f"records[{index}]: "
        if not isinstance(item, dict):
            raise bad_input(f"{where}each record must be a JSON object")
        unknown = sorted(set(item) - {"kind", "attributes", "payload", "source", "supersedes"})
        if unknown:
            raise bad_input(f"{where}unknown field(s) {', '.join(unknown)}")
        schema = self._schema_of(item.get("kind"), where)
        kind = schema.kind
        payload = validate(schema, item.get("payload"), where)
        source = validate(SOURCE_SCHEMA, item.get("source"), where)
        attributes = list(schema.key(payload))
        for attribute in attributes:
            if (
                not isinstance(attribute, str)
                or not attribute
                or "/" in attribute
                or "\x00" in attribute
            ):
                raise bad_input(f"{where}derived key attribute {attribute!r} is empty or holds '/'")
        given = item.get("attributes")
        if given is not None and (not isinstance(given, list) or given != attributes):
            raise bad_input(
                f"{where}attributes {given!r} do not match the ones the payload gives: "
                f"{attributes!r}"
            )
        key = record_key(kind, attributes)
        if await self._get(ctx, kind, attributes) is not None:
            raise ContractError(
                "CONFLICT",
                f"{where}record {key} already exists and records are immutable; "
                "write a correction that supersedes it instead",
            )
        supersedes = item.get("supersedes")
        if supersedes is not None:
            old_kind, old_attributes = split_record_key(supersedes)
            if old_kind != kind:
                raise bad_input(f"{where}a {kind} record cannot supersede a {old_kind} record")
            old = await self._get(ctx, old_kind, old_attributes)
            if old is None:
                raise ContractError(
                    "NOT_FOUND", f"{where}superseded record {supersedes} does not exist"
                )
            if schema.audited and old["payload"].get("customer") != payload.get("customer"):
                raise bad_input(
                    f"{where}a correction must be for the same customer as the record it supersedes"
                )
            if await self._get(ctx, SUPERSEDED_INDEX, [old_kind, *old_attributes]) is not None:
                raise ContractError("CONFLICT", f"{where}record {supersedes} is already superseded")
        record = {
            "key": key,
            "kind": kind,
            "attributes": attributes,
            "payload": payload,
            "source": source,
            "sourceHash": source["sha256"],
            "auditor": {"mspId": who.msp_id, "name": who.name, "certFingerprint": who.fingerprint},
            "txId": tx_id,
            "timestamp": stamp,
            "supersedes": supersedes,
        }
        return schema, attributes, record

    # ------------------------------------------------------------------ reads

    async def read(self, ctx: Context, request: str) -> str:
        """Many keys and many partial-key queries in one call.

        request: {"keys": ["kind/attr/…", …],
                  "queries": [{"kind", "attributes", "where", "startsWith", "matches",
                               "limit", "after"}, …]}
        Each key gets a record or an error of its own (NOT_FOUND, ACCESS_DENIED),
        so one unreadable key does not cost the others.
        """
        who = await acting(ctx, "read")
        body = parse_json_argument("request", request)
        if not isinstance(body, dict):
            raise bad_input("request must be a JSON object with keys and/or queries")
        unknown = sorted(set(body) - {"keys", "queries", "includeSuperseded"})
        if unknown:
            raise bad_input(
                f"request has unknown field(s) {', '.join(unknown)}; allowed: keys, queries, "
                "includeSuperseded"
            )
        keys = body.get("keys") or []
        queries = body.get("queries") or []
        if not isinstance(keys, list) or not isinstance(queries, list):
            raise bad_input("keys and queries must be JSON arrays")
        if len(keys) + len(queries) > MAX_BATCH:
            raise bad_input(f"at most {MAX_BATCH} keys and queries per call")
        kinds = [split_record_key(k)[0] for k in keys if isinstance(k, str) and "/" in k]
        kinds += [
            q["kind"] for q in queries if isinstance(q, dict) and isinstance(q.get("kind"), str)
        ]
        admitted = await self._grant_admits(ctx, who, kinds)
        superseded: _Corrections = {}  # looked up as the keys and queries need them
        results = [await self._read_key(ctx, who, key, superseded) for key in keys]
        answers = []
        # A found key's text is {"key":…,"record":…}; a refused one's {"error":…,"key":…}.
        read = sum(1 for text in results if text.startswith('{"key":'))
        include = bool(body.get("includeSuperseded"))
        for query in queries:
            try:
                if include and isinstance(query, dict):
                    query = {"includeSuperseded": True, **query}
                page = await self._page(ctx, who, query, superseded)
                read += len(page[0])
                answers.append(_page_json(*page))
            except ContractError as refused:
                answers.append(
                    canonical_json({"error": {"code": refused.code, "message": refused.message}})
                )
        metered = ""
        if admitted is not None and (keys or queries):  # a channel probe asks nothing: free
            await self._meter(ctx, who, admitted, read)
            metered = _metered_field(admitted)
        # By hand around the stored texts, keys in canonical_json's order
        # ("metered" < "queries" < "results").
        return f'{{{metered}"queries":[{",".join(answers)}],"results":[{",".join(results)}]}}'

    async def query(self, ctx: Context, request: str) -> str:
        """Browse one kind page by page: one query as `read` takes them, 100 records by default."""
        who = await acting(ctx, "read")
        body = parse_json_argument("request", request)
        kind = body.get("kind") if isinstance(body, dict) else None
        admitted = await self._grant_admits(ctx, who, [kind] if isinstance(kind, str) else [])
        page = await self._page(
            ctx,
            who,
            {"limit": 100, **body} if isinstance(body, dict) else body,
            {},
        )
        if admitted is None:
            return _page_json(*page)
        await self._meter(ctx, who, admitted, len(page[0]))
        return "{" + _metered_field(admitted) + _page_json(*page)[1:]

    # ------------------------------------------------------- reads under a grant

    async def _grant_admits(self, ctx: Context, who: Caller, kinds: list[str]) -> _Admitted | None:
        """For a caller under a grant (access.acting): what its read is admitted under, once the
        grant opens `kinds` on this channel now and has a use left (or the same request's
        access already paid for this one); None for any other caller."""
        if who.grant_token is None or who.grant_record is None:
            return None
        stub = ctx.get_stub()
        stamp = stub.get_tx_timestamp()
        now = stamp.ToDatetime(tzinfo=dt.UTC)
        issuer = who.grant_record["issuer"]["certificate"].encode()
        try:
            grant = grant_tokens.verify(
                who.grant_token,
                issuer,
                stub.get_channel_id(),
                sorted(set(kinds)),
                who.msp_id,
                who.fingerprint,
                now,
            )
        except grant_tokens.GrantError as refused:
            raise ContractError(refused.code, refused.message) from None
        access = _access_id(ctx)
        earlier = await self._get(ctx, GRANT_USE, [grant.grant_id, access])
        if earlier is not None:
            first = dt.datetime.fromisoformat(earlier["timestamp"])
            if earlier["consumerCert"] != who.fingerprint or not (
                dt.timedelta(0) <= now - first <= dt.timedelta(seconds=ACCESS_WINDOW_S)
            ):
                raise ContractError(
                    "TOKEN_INVALID",
                    f"access {access} was metered for another read (another consumer's, or more "
                    f"than {ACCESS_WINDOW_S} s ago); each request names an access of its own",
                )
            return _Admitted(grant, access, used=None)
        # One counter per grant: concurrent reads under one grant read the same version, so
        # the ledger's MVCC check lets one commit and the others are retried by the relay;
        # none is lost and the cap is never passed.
        counter = await self._get(ctx, GRANT_USES, [grant.grant_id])
        used = int(counter["used"]) if counter else 0
        if grant.max_uses is not None and used >= grant.max_uses:
            raise ContractError(
                "TOKEN_EXHAUSTED",
                f"the grant's {grant.max_uses} uses are all used; ask its provider for another",
            )
        return _Admitted(grant, access, used)

    async def _meter(self, ctx: Context, who: Caller, admitted: _Admitted, records: int) -> None:
        """One metered access: the counter, and the access itself, for the bill.  A later read
        of an access already metered (the same request, `ACCESS_KEY`) writes nothing."""
        if admitted.used is None:
            return
        grant = admitted.grant
        tx_id = ctx.get_stub().get_txid()
        await self._put(
            ctx, GRANT_USES, [grant.grant_id], {"used": admitted.used + 1, "of": grant.max_uses}
        )
        await self._put(
            ctx,
            GRANT_USE,
            [grant.grant_id, admitted.access],
            {
                "consumerOrg": who.msp_id,
                "consumerCert": who.fingerprint,
                "records": records,
                "fee": str(grant.fee),
                "currency": grant.currency,
                "timestamp": timestamp_of(ctx),
                "txId": tx_id,
            },
        )

    async def _page(
        self, ctx: Context, who: Caller, query: Any, superseded: _Corrections
    ) -> tuple[list[_Stored], str | None]:
        """One query's records in key order, after `after`, at most `limit` (no limit: all)."""
        if not isinstance(query, dict):
            raise bad_input("each query must be a JSON object with kind and attributes")
        unknown = sorted(set(query) - set(QUERY_FIELDS))
        if unknown:
            raise bad_input(
                f"query has unknown field(s) {', '.join(unknown)}; "
                f"allowed: {', '.join(QUERY_FIELDS)}"
            )
        limit = query.get("limit")
        if limit is not None and (
            isinstance(limit, bool)
            or not isinstance(limit, int)
            or not 1 <= limit <= MAX_QUERY_LIMIT
        ):
            raise bad_input(f"limit must be an integer from 1 to {MAX_QUERY_LIMIT}")
        after = query.get("after")
        if after is not None and not isinstance(after, str):
            raise bad_input("after must be a record key")
        after_attributes = split_record_key(after)[1] if after is not None else None
        # One record more than the page, to know whether there is a next page.
        records = await self._run_query(
            ctx,
            who,
            query,
            superseded,
            bool(query.get("includeSuperseded")),
            after_attributes,
            None if limit is None else limit + 1,
        )
        if limit is None or len(records) <= limit:
            return records, None
        return records[:limit], records[limit - 1].key

    async def _read_key(self, ctx: Context, who: Caller, key: Any, superseded: _Corrections) -> str:
        """One key's answer as JSON text: {"key", "record"} or {"key", "error"}."""
        try:
            kind, attributes = split_record_key(key)
            schema = self.schemas.get(kind)
            if schema is None:
                raise ContractError("NOT_FOUND", f"no record kind {kind!r} on this channel")
            if schema.audited and not self._is_writer(who) and attributes[0] != who.msp_id:
                # Refused on the key alone, so the answer does not tell whether the record exists.
                raise access_denied(
                    f"{who.msp_id} may not read {key}: it is another customer's audited record"
                )
            text = await self._get_text(ctx, kind, attributes)
            if text is None:
                raise ContractError("NOT_FOUND", f"no record {key}")
            if schema.audited:
                self._check_readable(who, schema, parse_json_argument("state", text))
        except ContractError as refused:
            return canonical_json(
                {"key": key, "error": {"code": refused.code, "message": refused.message}}
            )
        corrections = await self._superseded(ctx, schema, attributes, superseded)
        return (
            f'{{"key":{canonical_json(key)},"record":{_with_supersession(key, text, corrections)}}}'
        )

    async def _run_query(
        self,
        ctx: Context,
        who: Caller,
        query: dict[str, Any],
        superseded: _Corrections,
        include_superseded: bool,
        after: list[str] | None = None,
        stop_at: int | None = None,
    ) -> list[_Stored]:
        schema = self._schema_of(query.get("kind"))
        kind = schema.kind
        attributes = query.get("attributes") or []
        if not isinstance(attributes, list) or not all(
            isinstance(a, str) and a for a in attributes
        ):
            raise bad_input("attributes must be an array of non-empty strings")
        if schema.audited and not self._is_writer(who):
            # A customer's query is confined to its own records: the first key attribute.
            if attributes and attributes[0] != who.msp_id:
                raise access_denied(f"{who.msp_id} may not read {kind} records of {attributes[0]}")
            attributes = [who.msp_id, *attributes[1:]]
        where = query.get("where") or {}
        starts = query.get("startsWith") or {}
        matches = query.get("matches") or {}
        for label, condition in (("where", where), ("startsWith", starts), ("matches", matches)):
            if not isinstance(condition, dict):
                raise bad_input(f"{label} must be a JSON object of payload field → value")
            unknown = sorted(set(condition) - set(schema.field_names()))
            if unknown:
                raise bad_input(
                    f"{label}: unknown field(s) {', '.join(unknown)} for {kind}; "
                    f"allowed: {', '.join(schema.field_names())}"
                )
        for label, condition in (("startsWith", starts), ("matches", matches)):
            if not all(isinstance(v, str) for v in condition.values()):
                raise bad_input(f"{label} values must be strings")
        folded = {name: fold_text(text) for name, text in matches.items()}
        corrections = await self._superseded(ctx, schema, attributes, superseded)
        stub = ctx.get_stub()
        records: list[_Stored] = []
        scan, head = await self._source(ctx, schema, attributes, after, folded)
        # aclosing: a scan stopped early closes its iterator now, inside this transaction.
        async with aclosing(scan) as stored:
            async for state_key, text in stored:
                if folded and not _may_match(text, folded):  # most rows of a `matches` query
                    continue
                key = record_key(kind, stub.split_composite_key(state_key)[1][head:])
                if not include_superseded and key in corrections:
                    continue
                if where or starts or folded:  # only then is the stored text decoded
                    payload = parse_json_argument("state", text)["payload"]
                    if any(payload.get(name) != value for name, value in where.items()):
                        continue
                    if any(
                        not str(payload.get(name, "")).startswith(prefix)
                        for name, prefix in starts.items()
                    ):
                        continue
                    if any(
                        not isinstance(payload.get(name), str) or fold_text(payload[name]) != value
                        for name, value in folded.items()
                    ):
                        continue
                records.append(_Stored(key, _with_supersession(key, text, corrections)))
                if stop_at is not None and len(records) >= stop_at:
                    break  # before asking the peer for more
        return records

    async def _source(
        self,
        ctx: Context,
        schema: RecordSchema,
        attributes: list[str],
        after: list[str] | None,
        folded: Mapping[str, str],
    ) -> tuple[AsyncGenerator[tuple[str, str], None], int]:
        """Where a query reads its candidate records from, and how many leading attributes of
        each state key come before the record's own: the kind's records under `attributes`,
        or, for a `matches` on a field the kind indexes completely, that field's index under
        the asked value and `attributes`, which holds the same texts in the same key order."""
        for name in schema.match_index:
            if name not in folded:
                continue
            if await self._match_index_state(ctx, schema.kind, name) is not True:
                break  # records written before the index, or none yet: scan them all
            head = [schema.kind, name, _match_digest(folded[name])]
            scan = self._iterate(
                ctx, MATCH_INDEX, [*head, *attributes], [*head, *after] if after else None
            )
            return scan, len(head)
        return self._iterate(ctx, schema.kind, attributes, after), 0

    def _schema_of(self, kind: Any, where: str = "") -> RecordSchema:
        """The schema of `kind`, which must be a record kind of this channel."""
        schema = self.schemas.get(kind) if isinstance(kind, str) else None
        if schema is None:
            raise bad_input(
                f"{where}kind {kind!r} is not a record kind of this channel; "
                f"allowed: {', '.join(sorted(self.schemas))}"
            )
        return schema

    def _check_readable(self, who: Caller, schema: RecordSchema, record: dict[str, Any]) -> None:
        if (
            schema.audited
            and not self._is_writer(who)
            and record["payload"].get("customer") != who.msp_id
        ):
            raise access_denied(
                f"{who.msp_id} may not read {record['key']}: it is another customer's audited "
                "record"
            )

    async def _superseded(
        self, ctx: Context, schema: RecordSchema, attributes: list[str], known: _Corrections
    ) -> dict[str, str]:
        """The corrections of the records a key or a query reads: record key -> the key of the
        record that supersedes it.  Looked up under the kind (under the customer too, for an
        audited kind whose key attributes name one), once per scope and call: a read pays for
        the corrections of what it reads, not for every correction on the channel."""
        scope = (schema.kind, *attributes[:1]) if schema.audited else (schema.kind,)
        found = known.get(scope)
        if found is None:
            stub = ctx.get_stub()
            found = {}
            for state_key, value in await self._scan(ctx, SUPERSEDED_INDEX, list(scope)):
                _, parts = stub.split_composite_key(state_key)
                found[record_key(parts[0], parts[1:])] = value["by"]
            known[scope] = found
        return found


@dataclass(frozen=True)
class _Admitted:
    """A read under a grant, admitted: the grant, the access it meters under, and the grant's
    uses before it (None when an earlier read of the same access paid)."""

    grant: grant_tokens.Grant
    access: str
    used: int | None


def _access_id(ctx: Context) -> str:
    """The access a read under a grant meters under: the relay's per request and channel, or
    the transaction's own id when the proposer names none (each such read is an access)."""
    named = transient(ctx.get_stub()).get(ACCESS_KEY)
    if named is None:
        return str(ctx.get_stub().get_txid())
    text = bytes(named).decode("ascii", "replace")
    if not _ACCESS_ID.fullmatch(text):
        raise bad_input("transient access must be 32 lowercase hex digits")
    return text


def _iso_bound(value: Any, name: str) -> str | None:
    """A usage bound, written as the metering entries write times (`_iso_millis`)."""
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(str(value))  # Python 3.11 reads a trailing "Z"
    except ValueError:
        raise bad_input(f"{name} must be an ISO date or time, got {value!r}") from None
    return _iso_millis(moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC))


def stored_object(text: str) -> str:
    """A stored value that is handed on undecoded must at least be a JSON object's text.

    Every value a contract writes is one (canonical_json of a dict); anything else is not ours
    (or a peer's error text the shim passed as a value) and must not be spliced into an answer.
    """
    if not (text.startswith("{") and text.endswith("}")):
        raise bad_input(f"a stored value is not a record: {text[:40]!r}")
    return text


@dataclass(frozen=True)
class _Stored:
    """A record as read: its key and its canonical JSON text, handed on without decoding."""

    key: str
    text: str


# The corrections one read has looked up so far, by scope (`_superseded`).
_Corrections = dict[tuple[str, ...], dict[str, str]]


def _with_supersession(key: str, text: str, superseded: dict[str, str]) -> str:
    """The record's text, with `supersededBy` added when a correction replaced it."""
    by = superseded.get(key)
    if not by:
        return text
    return canonical_json({**parse_json_argument("state", text), "supersededBy": by})


def _metered_field(admitted: _Admitted) -> str:
    """`"metered":"<access>",`: how a read under a grant tells the relay its access is paid, so
    that the request's later reads of the channel need not commit (channel_connectors.base
    `metered_read`); first in the object, as canonical_json orders keys."""
    return f'"metered":{canonical_json(admitted.access)},'


def _page_json(records: list[_Stored], next_key: str | None) -> str:
    """A query's answer as canonical JSON text ("next" < "records")."""
    return f'{{"next":{canonical_json(next_key)},"records":[{",".join(r.text for r in records)}]}}'


__all__ = [
    "AUDITORS",
    "ChannelContract",
    "SourceChannelContract",
    "record_key",
    "split_record_key",
]

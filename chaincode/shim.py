"""Our thin layer around `fabric-chaincode-python` 2.5.4.

The contracts are written against that package's contract API so the same
objects run in-process on the embedded ledger and as chaincode-as-a-service
on a Fabric peer.  This module is the one place that knows its defects
(see docs/architecture.md and ../shared/FABRIC.md):

* importing it configures the root logger at DEBUG and logs every message and
  payload on the `asyncio` logger: we undo the root change and silence it, as
  payloads may hold customer data;
* `ClientIdentity.get_id()` is not Go's `x509::subject::issuer` and parses no
  attributes: contracts read the creator through `caller()` here instead;
* a transaction's `ctx` must be annotated, or every call fails with a
  parameter-count error: every contract annotates it with `Context`;
* its range iterator always ends with a `QueryStateClose` round trip to the
  peer, even after the peer said the range is exhausted (`has_more` false),
  when Fabric's peer has already dropped the iterator itself
  (core/chaincode/query_response_generator.go): `scan_range()` skips it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from .bounded import Bounded
from .delegation import Delegation, fingerprint


def _import_quietly() -> None:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    import fabric_chaincode_python.fabric_contract_api  # noqa: F401  (the import has the side effects)

    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    from fabric_chaincode_python.fabric_shim.logging import LOGGER

    LOGGER.setLevel(logging.ERROR)


_import_quietly()

from fabric_chaincode_python.fabric_contract_api import (
    Contract,
    ContractChaincode,
)
from fabric_chaincode_python.fabric_contract_api import TransactionContext as Context
from fabric_chaincode_python.fabric_contract_api.serializer import JSONSerializer

# One error-to-code mapping for the whole project: a refused transaction's
# message starts with one of these codes, on the embedded ledger and on Fabric
# (where it arrives inside "chaincode response 500, …").
ERROR_CODES = (
    "BAD_INPUT",
    "ACCESS_DENIED",
    "NOT_FOUND",
    "CONFLICT",
    "DELEGATION_INVALID",
    "DELEGATION_EXPIRED",
    "DELEGATION_SCOPE",
    "DELEGATION_REPLAYED",
    # Access grants (chaincode/grants.py).
    "TOKEN_INVALID",
    "TOKEN_EXPIRED",
    "TOKEN_REVOKED",
    "TOKEN_EXHAUSTED",
    "TOKEN_SCOPE",
)


class ContractError(Exception):
    """A refusal with a machine-readable code; its text is safe to show the caller."""

    def __init__(self, code: str, message: str) -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"unknown error code {code}")
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def bad_input(message: str) -> ContractError:
    return ContractError("BAD_INPUT", message)


def access_denied(message: str) -> ContractError:
    return ContractError("ACCESS_DENIED", message)


@dataclass(frozen=True)
class Caller:
    """Who the access rules apply to: the proposal's creator, or the delegator it relays for."""

    msp_id: str
    certificate: x509.Certificate
    delegation: Delegation | None = None  # set when a relay carried the caller's delegation
    relay_fingerprint: str | None = None
    # Set when the caller reads under a provider's grant (chaincode/grants.py): the token and
    # the grant's record on this channel; `SourceChannelContract` checks and meters it.
    grant_token: str | None = None
    grant_record: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        names = self.certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        return str(names[0].value) if names else ""

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.certificate)


def creator(ctx: Context) -> Caller:
    """The proposal's creator as the peer received it (`access.acting` is who acts)."""
    creator = ctx.get_stub().get_creator()
    msp_id = creator.get("mspid") if isinstance(creator, dict) else None
    id_bytes = creator.get("idBytes") if isinstance(creator, dict) else None
    if not msp_id or not id_bytes:
        raise access_denied("the transaction has no creator identity")
    pem = bytes(id_bytes)
    return Caller(msp_id, _CREATORS.get_or_make(pem, lambda: _certificate(pem)))


def _certificate(pem: bytes) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise access_denied("the creator's certificate does not decode") from exc


# Creators' certificates as loaded, by PEM: the same few (the relay's, each member's) come with
# every proposal, and loading one again costs about 10 us.  Public and immutable; whether one is
# a member's is checked on every call all the same (the peer's MSP, the membership record).
_CREATORS: Bounded[bytes, x509.Certificate] = Bounded(1024)


def transient(stub: Any) -> Mapping[str, bytes]:
    """The proposal's transient data (left out of the ledger), on both ledgers.

    fabric-chaincode-python 2.5.4's stub declares `get_transient()` but inherits the interface's
    empty body, which returns None; the map is in the proposal payload the stub decoded.
    """
    found = stub.get_transient()
    if isinstance(found, Mapping):
        return found
    signed = getattr(stub, "signed_proposal_pb", None)
    payload = signed.get("proposal", {}).get("payload") if isinstance(signed, dict) else None
    return dict(payload.TransientMap) if payload is not None else {}


def canonical_json(value: Any) -> str:
    """Deterministic JSON, so every endorser of a transaction writes the same bytes."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def parse_json_argument(name: str, text: str) -> Any:
    """JSON text a contract was given or reads from state, decoded by the json module: what
    every endorser of a transaction decodes must be the same values, integers of any size
    included (so not orjson, which turns one past 64 bits into a float)."""
    try:
        return json.loads(text)
    except (json.JSONDecodeError, TypeError) as exc:
        raise bad_input(
            f"argument {name!r} is not valid JSON ({exc.msg if hasattr(exc, 'msg') else exc})"
        ) from exc


async def scan_range(
    stub: Any, start: str, end: str, check: Callable[[str], str] | None = None
) -> AsyncGenerator[tuple[str, str], None]:
    """(state key, value text) of every key in [start, end), in key order; each value passed
    through `check` first when one is given (in this loop: a generator less for every row).

    Each round trip to the peer costs both processes about as much as a small
    read itself, so the library's closing round trip is skipped when the peer
    has already said no page follows; a scan stopped early with pages left
    still closes its iterator.
    """
    iterator = await stub.get_state_by_range(start, end)
    try:
        while True:
            if _peer_finished(iterator) and getattr(iterator, "_buffer", None) == []:
                return
            try:
                kv = await iterator.__anext__()
            except StopAsyncIteration:
                return
            key = kv.key if isinstance(kv.key, str) else bytes(kv.key).decode()
            text = bytes(kv.value).decode()
            yield key, text if check is None else check(text)
    finally:
        if _peer_finished(iterator):
            iterator._closed = True  # the peer has dropped it already; nothing to send
        else:
            await iterator.aclose()


def _peer_finished(iterator: Any) -> bool:
    """True when the library's iterator holds the peer's last page (the embedded stub's never says).

    Reads the iterator's private state (fabric-chaincode-python 2.5.4); should a release rename
    it, this is False and the library closes its iterators as it always did.
    """
    return getattr(iterator, "_has_more", True) is False and hasattr(iterator, "_closed")


def run_to_completion(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run a contract call whose stub never waits on I/O, without an event loop.

    The embedded stub's `async` methods return at once, so the coroutine
    finishes on its first step; a coroutine that does suspend is a bug here.
    """
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("a contract call waited on I/O inside the embedded ledger")


class TextSerializer(JSONSerializer):
    """The library's JSON serializer, less its schema check of text passed as text.

    Every transaction of our contracts takes `str` arguments and returns a `str` (JSON text
    they parse and write themselves), whose schema in the contract metadata is just
    `{"type": "string"}` (tests/test_contract_rules.py checks that).  A `str` always satisfies
    it, yet the library runs a jsonschema validator for each argument and each answer: about
    8 % of a README footprint's CPU on the embedded ledger (docs/performance.md).  Any other
    type still goes through the library's conversion and checks.  `TransactionSerializer` is
    the contract API's own place for a chaincode's serializer, as in Fabric's Go API.
    """

    def from_string(
        self, value: str, field_type: Any, param_metadata: Any, components: Any
    ) -> tuple[Any, Exception | None]:
        if field_type is str and isinstance(value, str):
            return value, None
        return super().from_string(value, field_type, param_metadata, components)

    def to_string(
        self, result: Any, result_type: Any, returns: Any, components: Any
    ) -> tuple[str, Exception | None]:
        if result_type is str and isinstance(result, str):
            return result, None
        return super().to_string(result, result_type, returns, components)


def new_chaincode(*contracts: Contract) -> ContractChaincode:
    chaincode = ContractChaincode.new_chaincode(*contracts)
    chaincode.TransactionSerializer = TextSerializer()
    return chaincode


__all__ = [
    "ERROR_CODES",
    "Caller",
    "Context",
    "Contract",
    "ContractChaincode",
    "ContractError",
    "access_denied",
    "bad_input",
    "canonical_json",
    "creator",
    "new_chaincode",
    "parse_json_argument",
    "run_to_completion",
    "scan_range",
    "transient",
]

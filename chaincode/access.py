"""Who acts in a transaction: the proposal's creator, or the caller whose delegation it carries.

A proposal reaches a contract signed by its creator.  When the creator is the gateway's relay,
the proposal's transient data carries the caller's delegation (`chaincode.delegation`) under
`DELEGATION_KEY`; the contract verifies it here and every rule then applies to the delegator,
as if it had signed the proposal itself.  A creator of the operator's organisation with no
delegation is refused: the relay can read nothing alone.

What a delegation is checked against comes from the channel, never from the caller: the
**membership record**, one state entry written at channel set-up by the operator's admin,
holds the member organisations' CA certificates and the longest lifetime a delegation may have.

Transient data is not written to the ledger (Fabric leaves it out of the transaction), so a
delegation is never readable by other members afterwards; publish uses are recorded by the
delegation's id instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from .bounded import Bounded
from .delegation import (
    DEFAULT_MAX_LIFETIME_S,
    Delegation,
    DelegationError,
    check_grant,
    verify_signed,
)
from .shim import Caller, Context, ContractError, access_denied, bad_input, creator, transient

OPERATOR_MSP = "OperatorMSP"
DELEGATION_KEY = "delegation"
TOKEN_KEY = "token"  # a provider's grant (chaincode/grants.py), carried beside the delegation
GRANT = "grant"  # the state object type of a recorded grant, by its id
GRANT_REVOKED = "grant_revoked"
MEMBERSHIP = "membership"  # the object type of the one membership record
ACTIONS_OF = {"read": "read", "query": "read", "publish": "publish"}


@dataclass(frozen=True)
class Membership:
    """The membership record, decoded: member MSP id → CA certificates, and the lifetime bound."""

    members: Mapping[str, tuple[x509.Certificate, ...]]
    max_delegation_s: int
    digest: str  # sha256 of the record's text: what cached verifications are keyed by


def membership_record(
    member_cas: Mapping[str, list[bytes] | tuple[bytes, ...]],
    max_delegation_s: int = DEFAULT_MAX_LIFETIME_S,
) -> dict[str, Any]:
    """What a channel's set-up writes: {"members": {msp: [CA PEM…]}, "maxDelegationSeconds": n}."""
    return {
        "members": {
            msp: [pem.decode() if isinstance(pem, bytes) else pem for pem in cas]
            for msp, cas in sorted(member_cas.items())
        },
        "maxDelegationSeconds": max_delegation_s,
    }


def parse_membership(text: str) -> Membership:
    """Check and decode a membership record; raises BAD_INPUT naming the problem."""
    import json

    try:
        body = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        raise bad_input("the membership record is not JSON") from None
    if not isinstance(body, dict) or set(body) != {"members", "maxDelegationSeconds"}:
        raise bad_input('the membership record must be {"members": {…}, "maxDelegationSeconds": n}')
    limit = body["maxDelegationSeconds"]
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 86400:
        raise bad_input("maxDelegationSeconds must be a whole number of seconds, 1 to 86400")
    members = body["members"]
    if not isinstance(members, dict) or not members:
        raise bad_input("the membership record must name at least one member organisation")
    decoded: dict[str, tuple[x509.Certificate, ...]] = {}
    for msp_id, pems in members.items():
        if msp_id == OPERATOR_MSP:
            raise bad_input(f"{OPERATOR_MSP} runs the channels and cannot delegate")
        if not isinstance(pems, list) or not pems or not all(isinstance(p, str) for p in pems):
            raise bad_input(f"member {msp_id!r} needs a list of CA certificates (PEM)")
        try:
            decoded[msp_id] = tuple(x509.load_pem_x509_certificate(p.encode()) for p in pems)
        except ValueError:
            raise bad_input(f"a CA certificate of member {msp_id!r} does not decode") from None
    return Membership(decoded, limit, hashlib.sha256(text.encode()).hexdigest())


class VerifiedDelegations:
    """Delegations whose signature and chain were checked, by (token hash, membership digest).

    Holds no token, only its hash and what it says; an entry is dropped at the delegation's
    expiry.  Bounded, oldest first out, so a flood of distinct tokens cannot grow it.
    """

    def __init__(self, size: int = 4096) -> None:
        self._entries: Bounded[tuple[str, str], Delegation] = Bounded(size)

    def get(self, token: str, membership: Membership, now: int) -> Delegation:
        key = (hashlib.sha256(token.encode()).hexdigest(), membership.digest)
        found = self._entries.get(key)
        if found is not None and now < found.expires:
            return found
        self._entries.pop(key)
        delegation = verify_signed(token, member_cas=membership.members)
        self._entries.put(key, delegation)
        return delegation


_VERIFIED = VerifiedDelegations()
_MEMBERSHIPS: dict[str, Membership] = {}  # record text's digest → decoded; a few per process


async def read_membership(ctx: Context) -> Membership | None:
    stub = ctx.get_stub()
    raw = await stub.get_state(stub.create_composite_key(MEMBERSHIP, []))
    if not raw:
        return None
    text = bytes(raw).decode()
    digest = hashlib.sha256(text.encode()).hexdigest()
    membership = _MEMBERSHIPS.get(digest)
    if membership is None:
        membership = parse_membership(text)
        if len(_MEMBERSHIPS) > 16:
            _MEMBERSHIPS.clear()
        _MEMBERSHIPS[digest] = membership
    return membership


def _seconds(ctx: Context) -> int:
    stamp = ctx.get_stub().get_tx_timestamp()
    if stamp is None:
        raise access_denied("the transaction carries no timestamp to check a delegation against")
    return int(stamp.seconds)


async def acting(ctx: Context, action: str | None) -> Caller:
    """The caller every access rule applies to, for a call doing `action` (None: not delegable)."""
    proposer = creator(ctx)
    token_bytes = transient(ctx.get_stub()).get(DELEGATION_KEY)
    if token_bytes is None:
        if proposer.msp_id == OPERATOR_MSP:
            raise access_denied(
                f"{OPERATOR_MSP} runs the channels and reads nothing itself: a relay must carry "
                "a caller's delegation"
            )
        return proposer
    if action is None:
        raise DelegationError(
            "DELEGATION_SCOPE",
            "this call cannot be delegated: its owner must sign the proposal itself",
        ).as_contract_error()
    try:
        token = bytes(token_bytes).decode("ascii")
    except UnicodeDecodeError:
        raise DelegationError(
            "DELEGATION_INVALID", "the delegation is not a compact JWS"
        ).as_contract_error() from None
    grant_token = transient(ctx.get_stub()).get(TOKEN_KEY)
    if grant_token is not None:
        return await _under_grant(ctx, proposer, token, bytes(grant_token), action)
    membership = await read_membership(ctx)
    if membership is None:
        raise ContractError(
            "DELEGATION_INVALID",
            f"channel {ctx.get_stub().get_channel_id()} has no membership record yet, so it "
            "cannot check delegations; its operator writes one at set-up",
        )
    now = _seconds(ctx)
    try:
        delegation = _VERIFIED.get(token, membership, now)
        check_grant(
            delegation,
            relay=proposer.fingerprint,
            channel=ctx.get_stub().get_channel_id(),
            action=action,
            now=now,
            max_lifetime_s=membership.max_delegation_s,
        )
    except DelegationError as refused:
        raise refused.as_contract_error() from None
    return Caller(
        delegation.msp_id,
        delegation.certificate,
        delegation=delegation,
        relay_fingerprint=proposer.fingerprint,
    )


async def _under_grant(
    ctx: Context, proposer: Caller, delegation_token: str, grant_token: bytes, action: str
) -> Caller:
    """A consumer that is no member, reading under a provider's grant.

    The grant must be recorded on this channel and not revoked; the consumer's delegation is
    checked against the consumer CA the grant carries (the membership record has members' CAs
    only).  What the grant opens, its expiry and its cap are checked by the read itself, which
    knows the kinds it reads (`SourceChannelContract`)."""
    import json

    from .grants import GrantError, grant_id

    if action != "read":
        raise ContractError("TOKEN_SCOPE", "a grant opens reads only")
    try:
        text = grant_token.decode("ascii")
        gid = grant_id(text)
    except (UnicodeDecodeError, GrantError):
        raise ContractError(
            "TOKEN_INVALID", "the token is not a grant this channel reads"
        ) from None
    stub = ctx.get_stub()
    channel = stub.get_channel_id()
    raw = await stub.get_state(stub.create_composite_key(GRANT, [gid]))
    if not raw:
        raise ContractError(
            "TOKEN_INVALID",
            f"the token names no grant recorded on channel {channel} (a grant opens the one "
            "channel its provider recorded it on)",
        )
    record = json.loads(bytes(raw))
    if await stub.get_state(stub.create_composite_key(GRANT_REVOKED, [gid])):
        raise ContractError("TOKEN_REVOKED", f"grant {gid[:16]}… was revoked by its provider")
    now = _seconds(ctx)
    membership = await read_membership(ctx)
    # The consumer's organisation as the grant vouches for it, in the shape the delegation
    # cache takes (keyed by the CA and organisation, so no other channel's record is reused).
    ca_text = record["consumerCa"]
    consumer = Membership(
        members={record["consumerOrg"]: (x509.load_pem_x509_certificate(ca_text.encode()),)},
        max_delegation_s=membership.max_delegation_s if membership else DEFAULT_MAX_LIFETIME_S,
        digest=hashlib.sha256(f"{record['consumerOrg']}\n{ca_text}".encode()).hexdigest(),
    )
    try:
        delegation = _VERIFIED.get(delegation_token, consumer, now)
        check_grant(
            delegation,
            relay=proposer.fingerprint,
            channel=channel,
            action=action,
            now=now,
            max_lifetime_s=consumer.max_delegation_s,
        )
    except DelegationError as refused:
        if refused.code == "DELEGATION_INVALID" and "member" in refused.message:
            raise ContractError(
                "TOKEN_INVALID",
                f"the token was issued to {record['consumerOrg']}; this delegation is not signed "
                "by one of its certificates",
            ) from None
        raise refused.as_contract_error() from None
    return Caller(
        delegation.msp_id,
        delegation.certificate,
        delegation=delegation,
        relay_fingerprint=proposer.fingerprint,
        grant_token=text,
        grant_record=record,
    )


def is_operator_admin(who: Caller) -> bool:
    """An identity of the operator's organisation with the Fabric NodeOU `admin`."""
    units = who.certificate.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATIONAL_UNIT_NAME)
    return who.msp_id == OPERATOR_MSP and any(u.value == "admin" for u in units)

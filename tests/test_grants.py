"""Access grants (chaincode/grants.py): real Biscuit tokens signed with the demo identities'
Fabric keys (ECDSA P-256), checked with their certificates."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from cryptography import x509
from datachannels.chaincode import grants
from datachannels.chaincode.delegation import fingerprint as _fingerprint
from datachannels.channel_connectors.identities import IdentityStore
from hypothesis import given, settings
from hypothesis import strategies as st

NOW = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)
LATER = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def store(loaded_data_dir: Path) -> IdentityStore:
    return IdentityStore(loaded_data_dir)


def fingerprint(pem: bytes) -> str:
    return _fingerprint(x509.load_pem_x509_certificate(pem))


def _public_pem(certificate: bytes) -> str:
    from cryptography.hazmat.primitives import serialization

    public = x509.load_pem_x509_certificate(certificate).public_key()
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def _issue(store: IdentityStore, issuer: str = "auditor", **overrides: object) -> str:
    _, _, key = store.pem_pair(issuer)
    arguments: dict = {
        "channel": "utility",
        "kinds": ["grid_rate"],
        "expires": LATER,
        "consumer_org": "OutsiderMSP",
        "fee": "0.002",
        "currency": "USD",
        "max_uses": 10,
    }
    arguments.update(overrides)
    return grants.issue(key, **arguments)


def _verify(store: IdentityStore, token: str, issuer: str = "auditor", **overrides: object):
    _, cert, _ = store.pem_pair(issuer)
    _, outsider, _ = store.pem_pair("outsider")
    arguments: dict = {
        "channel": "utility",
        "kinds": ["grid_rate"],
        "consumer_org": "OutsiderMSP",
        "consumer_cert": fingerprint(outsider),
        "now": NOW,
    }
    arguments.update(overrides)
    return grants.verify(token, cert, **arguments)


def _code(call) -> str:
    with pytest.raises(grants.GrantError) as refused:
        call()
    return refused.value.code


def test_an_issued_grant_verifies_and_reads_back(store: IdentityStore) -> None:
    token = _issue(store)
    grant = _verify(store, token)
    assert grant.channel == "utility" and grant.kinds == ("grid_rate",)
    assert grant.consumer_org == "OutsiderMSP" and grant.consumer_cert is None
    assert grant.expires == LATER and grant.fee == Decimal("0.002") and grant.max_uses == 10
    assert grant.grant_id == grants.grant_id(token)  # readable before the signature is checked


def test_a_grant_signed_by_someone_else_or_tampered_is_invalid(store: IdentityStore) -> None:
    token = _issue(store)
    # Checked with another member's certificate: the signature does not verify.
    assert _code(lambda: _verify(store, token, issuer="acme")) == "TOKEN_INVALID"
    # acme signs one itself: it verifies only with acme's own certificate, which the contract
    # refuses as not the writer organisation's (the contract's check, not this module's).
    forged = _issue(store, issuer="acme")
    assert _code(lambda: _verify(store, forged)) == "TOKEN_INVALID"
    # Every single-character change to the token breaks it.
    for at in range(0, len(token), max(1, len(token) // 40)):
        flipped = token[:at] + ("A" if token[at] != "A" else "B") + token[at + 1 :]
        with pytest.raises(grants.GrantError) as refused:
            _verify(store, flipped)
        assert refused.value.code == "TOKEN_INVALID"
    assert _code(lambda: grants.grant_id("not a token")) == "TOKEN_INVALID"


def test_a_grant_admits_only_its_consumer(store: IdentityStore) -> None:
    token = _issue(store)
    assert _code(lambda: _verify(store, token, consumer_org="GlobexMSP")) == "TOKEN_INVALID"
    _, acme, _ = store.pem_pair("acme")
    _, outsider, _ = store.pem_pair("outsider")
    bound = _issue(store, consumer_org=None, consumer_cert=fingerprint(outsider))
    assert _verify(store, bound).consumer_cert == fingerprint(outsider)
    stolen = lambda: _verify(store, bound, consumer_cert=fingerprint(acme))
    assert _code(stolen) == "TOKEN_INVALID"


def test_expiry_channel_and_kind(store: IdentityStore) -> None:
    token = _issue(store)
    assert _code(lambda: _verify(store, token, now=LATER)) == "TOKEN_EXPIRED"
    assert _code(lambda: _verify(store, token, channel="airline")) == "TOKEN_SCOPE"
    assert _code(lambda: _verify(store, token, kinds=["utility"])) == "TOKEN_SCOPE"
    assert _code(lambda: _verify(store, token, kinds=["grid_rate", "invoice"])) == "TOKEN_SCOPE"


def test_the_holder_can_narrow_a_grant_offline_but_never_widen_it(store: IdentityStore) -> None:
    token = _issue(store, kinds=["grid_rate", "utility"])
    _, issuer, _ = store.pem_pair("auditor")  # public: the holder has it
    sooner = grants.narrow(token, issuer, expires=NOW - dt.timedelta(hours=1))
    assert _code(lambda: _verify(store, sooner)) == "TOKEN_EXPIRED"
    assert _verify(store, sooner, now=NOW - dt.timedelta(hours=2)).kinds == ("grid_rate", "utility")
    fewer = grants.narrow(token, issuer, kinds=["grid_rate"])
    assert _verify(store, fewer).grant_id == grants.grant_id(token)
    assert _code(lambda: _verify(store, fewer, kinds=["utility"])) == "TOKEN_SCOPE"
    # An appended block that states facts of its own widens nothing: only the authority
    # block's facts are read.
    import biscuit_auth

    verified = biscuit_auth.Biscuit.from_base64(
        token, biscuit_auth.PublicKey.from_pem(_public_pem(issuer))
    )
    wider = verified.append(
        biscuit_auth.BlockBuilder('grant_kind("flight_factor"); grant_channel("airline");')
    ).to_base64()
    assert _verify(store, wider).kinds == ("grid_rate", "utility")
    assert _code(lambda: _verify(store, wider, kinds=["flight_factor"])) == "TOKEN_SCOPE"
    assert _code(lambda: _verify(store, wider, channel="airline")) == "TOKEN_SCOPE"


def test_issue_refuses_what_a_grant_cannot_state(store: IdentityStore) -> None:
    for overrides in (
        {"kinds": []},
        {"consumer_org": None},
        {"consumer_cert": "sha256:ab"},  # as well as consumer_org
        {"fee": "-1"},
        {"fee": "lots"},
        {"max_uses": 0},
        {"channel": 'utility"); grant_kind("flight_factor'},  # no Datalog injection
        {"expires": dt.datetime(2027, 1, 1)},  # no time zone
    ):
        with pytest.raises(ValueError):
            _issue(store, **overrides)


@settings(max_examples=25, deadline=None)
@given(st.text(min_size=1, max_size=60))
def test_any_text_is_refused_cleanly_as_a_grant(store: IdentityStore, text: str) -> None:
    with pytest.raises(grants.GrantError) as refused:
        _verify(store, text)
    assert refused.value.code == "TOKEN_INVALID"

"""The delegation format: what a wallet signs and what a contract accepts (issue 12, first part).

Real keys and certificates from a data directory's organisation CAs; no ledger yet: the
contracts start verifying delegations in a later change.
"""

from __future__ import annotations

import base64
import json
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from datachannels.chaincode.delegation import (
    DelegationError,
    fingerprint,
    sign_delegation,
    verify_delegation,
)
from datachannels.channel_connectors.embedded import EmbeddedNetwork

MEMBERS = ("AuditorsMSP", "AcmeMSP", "GlobexMSP")


@pytest.fixture
def keys(network: EmbeddedNetwork):
    base = network.identities.identities_dir
    orgs = network.identities.organizations_dir

    def cert(name: str) -> bytes:
        return (base / name / "cert.pem").read_bytes()

    def key(name: str):
        return serialization.load_pem_private_key((base / name / "key.pem").read_bytes(), None)

    cas = {
        m: [x509.load_pem_x509_certificate((orgs / m / "ca" / "cert.pem").read_bytes())]
        for m in MEMBERS
    }
    relay = x509.load_pem_x509_certificate(cert("node"))
    return cert, key, cas, relay


def _sign(keys, name="acme", msp_id="AcmeMSP", **overrides):
    cert, key, _, relay = keys
    options = {
        "audience": fingerprint(relay),
        "channels": ["utility", "shipping"],
        "actions": ["read"],
        "msp_id": msp_id,
    }
    options.update(overrides)
    return sign_delegation(cert(name), key(name), **options)


def _verify(keys, token, *, channel="utility", action="read", now=None, **overrides):
    _, _, cas, relay = keys
    options = {"member_cas": cas, "relay": relay}
    options.update(overrides)
    return verify_delegation(
        token, channel=channel, action=action, now=int(time.time()) if now is None else now,
        **options,
    )  # fmt: skip


def _refusal(keys, token, **kwargs) -> DelegationError:
    with pytest.raises(DelegationError) as refused:
        _verify(keys, token, **kwargs)
    assert not token or token not in str(refused.value)  # a message never quotes the token
    return refused.value


def test_a_signed_delegation_verifies_and_names_its_delegator(keys):
    delegation = _verify(keys, _sign(keys))
    assert delegation.msp_id == "AcmeMSP"
    assert delegation.channels == ("shipping", "utility")
    assert delegation.expires - delegation.not_before == 600


def test_it_holds_no_private_key(keys):
    token = _sign(keys)
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert set(header) == {"alg", "typ", "x5c"}
    assert "PRIVATE" not in token and "PRIVATE" not in str(header)


def test_a_forged_signature_is_invalid(keys):
    head, body, signature = _sign(keys).split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=="))
    claims["channels"] = ["utility", "shipping", "airline"]  # widen the grant after signing
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    assert _refusal(keys, f"{head}.{forged}.{signature}").code == "DELEGATION_INVALID"


def test_another_identitys_key_cannot_sign_for_a_certificate(keys):
    cert, key, _, relay = keys
    token = sign_delegation(
        cert("acme"), key("globex"), audience=fingerprint(relay), channels=["utility"],
        msp_id="AcmeMSP",
    )  # fmt: skip
    assert _refusal(keys, token).code == "DELEGATION_INVALID"


def test_a_certificate_from_a_ca_outside_the_channel_is_invalid(keys):
    refused = _refusal(keys, _sign(keys, "outsider", "OutsiderMSP"))
    assert refused.code == "DELEGATION_INVALID"
    assert "no member organisation" in refused.message


def test_expired_and_not_yet_valid(keys):
    token = _sign(keys, ttl_s=60)
    assert _refusal(keys, token, now=int(time.time()) + 61).code == "DELEGATION_EXPIRED"
    assert _refusal(keys, token, now=int(time.time()) - 10).code == "DELEGATION_EXPIRED"


def test_a_lifetime_over_the_channels_maximum_is_refused(keys):
    token = _sign(keys, ttl_s=7200)
    assert "longer than this channel allows" in _refusal(keys, token).message
    assert _verify(keys, token, max_lifetime_s=7200).msp_id == "AcmeMSP"


def test_another_relay_as_audience_is_invalid(keys):
    cert = keys[0]
    other = x509.load_pem_x509_certificate(cert("globex"))
    refused = _refusal(keys, _sign(keys), relay=other)
    assert refused.code == "DELEGATION_INVALID" and "another relay" in refused.message


def test_a_channel_or_action_not_granted_is_out_of_scope(keys):
    token = _sign(keys)
    assert _refusal(keys, token, channel="airline").code == "DELEGATION_SCOPE"
    assert _refusal(keys, token, action="publish").code == "DELEGATION_SCOPE"


def test_a_claimed_organisation_other_than_the_certificates_is_invalid(keys):
    assert _refusal(keys, _sign(keys, msp_id="GlobexMSP")).code == "DELEGATION_INVALID"


@pytest.mark.parametrize("garbage", ["", "x", "a.b.c", "a" * 20000, "...."])
def test_malformed_tokens_are_invalid(keys, garbage):
    assert _refusal(keys, garbage).code == "DELEGATION_INVALID"

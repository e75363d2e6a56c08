"""The embedded ledger checks every signed proposal the way a Fabric peer does."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from cryptography import x509
from datachannels.channel_connectors.errors import ChannelError
from datachannels.channel_connectors.identity import (
    Identity,
    Signer,
    SigningIdentity,
    verify_signature,
)
from datachannels.channel_connectors.msp import (
    MemberCertificates,
    MembershipError,
    Organisation,
    certificate_pem,
    create_ca,
    issue_certificate,
    new_private_key,
)
from datachannels.channel_connectors.proposals import build_proposal, sign_envelope, sign_proposal
from fabric_protos.common import common_pb2

READ_ALL = json.dumps({"queries": [{"kind": "grid_rate"}]})


def _signed(
    identity: Identity,
    signer: Signer,
    channel: str = "utility",
    function: str = "read",
    args: tuple[str, ...] = (READ_ALL,),
) -> bytes:
    proposal, _ = build_proposal(identity, channel, channel, function, list(args))
    return sign_proposal(proposal, signer).SerializeToString()


def test_a_member_with_a_matching_key_is_answered(network):
    acme = network.identities.signing_identity("acme")
    answer = json.loads(network.ledger("utility").evaluate(_signed(acme.identity, acme.signer)))
    assert answer == {"queries": [{"records": [], "next": None}], "results": []}


def test_a_key_that_does_not_match_the_certificate_is_refused(network):
    acme = network.identities.signing_identity("acme")
    stranger_key = Signer(new_private_key())
    with pytest.raises(ChannelError) as refused:
        network.ledger("utility").evaluate(_signed(acme.identity, stranger_key))
    assert refused.value.code == "ACCESS_DENIED"
    assert refused.value.channel == "utility"
    assert "signature does not match" in refused.value.message


def test_a_certificate_from_a_ca_outside_the_channel_is_refused_even_with_a_member_msp_id(network):
    # Someone makes their own CA and claims to be AcmeMSP: the channel knows Acme's real CA.
    ca_key, ca_cert = create_ca("acme.example")
    key, cert = issue_certificate(ca_key, ca_cert, "mallory")
    impostor = SigningIdentity(Identity("AcmeMSP", certificate_pem(cert)), Signer(key))
    with pytest.raises(ChannelError) as refused:
        network.ledger("utility").evaluate(_signed(impostor.identity, impostor.signer))
    assert refused.value.code == "ACCESS_DENIED"
    assert "not issued by AcmeMSP's CA" in refused.value.message


def test_the_outsider_organisation_is_refused_by_every_channel(network):
    outsider = network.identities.signing_identity("outsider")
    for channel in ("utility", "shipping", "airline", "commodity", "footprint"):
        with pytest.raises(ChannelError) as refused:
            network.evaluate(channel, outsider, "read", [READ_ALL])
        assert refused.value.code == "ACCESS_DENIED"
        assert f"channel {channel} refused" in refused.value.message


def test_a_proposal_altered_after_signing_is_refused(network):
    acme = network.identities.signing_identity("acme")
    proposal, _ = build_proposal(acme.identity, "utility", "utility", "read", [READ_ALL])
    signed = sign_proposal(proposal, acme.signer)
    signed.proposal_bytes = signed.proposal_bytes.replace(b"grid_rate", b"utility__")
    with pytest.raises(ChannelError) as refused:
        network.ledger("utility").evaluate(signed.SerializeToString())
    assert refused.value.code == "ACCESS_DENIED"


def test_a_proposal_for_another_channel_is_refused(network):
    acme = network.identities.signing_identity("acme")
    with pytest.raises(ChannelError) as refused:
        network.ledger("utility").evaluate(_signed(acme.identity, acme.signer, channel="shipping"))
    assert refused.value.code == "BAD_INPUT"


def test_signatures_are_low_s_as_fabric_requires(network):
    acme = network.identities.signing_identity("acme")
    from cryptography.hazmat.primitives.asymmetric.utils import (
        decode_dss_signature,
        encode_dss_signature,
    )
    from datachannels.channel_connectors.identity import P256_ORDER

    for i in range(20):
        message = f"message {i}".encode()
        signature = acme.signer.sign(message)
        r, s = decode_dss_signature(signature)
        assert s <= P256_ORDER // 2
        high = encode_dss_signature(r, P256_ORDER - s)  # the same signature in its high-S form
        assert not verify_signature(acme.signer.public_key(), message, high)


def test_a_transaction_signed_by_someone_other_than_its_creator_is_refused(network, put):
    from tests.conftest import CAMX

    ledger = network.ledger("utility")
    height = ledger.height()
    auditor = network.identities.signing_identity("auditor")
    proposal, _ = build_proposal(
        auditor.identity, "utility", "utility", "put_records", [json.dumps([CAMX])]
    )
    endorsed = ledger.endorse(sign_proposal(proposal, auditor.signer).SerializeToString())
    acme = network.identities.signing_identity("acme")
    forged = sign_envelope(common_pb2.Payload.FromString(endorsed.payload), acme.signer)
    with pytest.raises(ChannelError) as refused:
        ledger.submit(forged.SerializeToString())
    assert refused.value.code == "ACCESS_DENIED"
    assert ledger.height() == height


def test_a_transaction_whose_result_was_changed_after_endorsement_is_refused(network):
    from tests.conftest import CAMX

    ledger = network.ledger("utility")
    height = ledger.height()
    auditor = network.identities.signing_identity("auditor")
    proposal, _ = build_proposal(
        auditor.identity, "utility", "utility", "put_records", [json.dumps([CAMX])]
    )
    endorsed = ledger.endorse(sign_proposal(proposal, auditor.signer).SerializeToString())
    tampered = endorsed.payload.replace(b"436.655", b"136.655")
    assert tampered != endorsed.payload
    with pytest.raises(ChannelError) as refused:
        ledger.submit(sign_envelope(tampered, auditor.signer).SerializeToString())
    assert refused.value.code == "ACCESS_DENIED"
    assert "endorsement signature" in refused.value.message
    assert ledger.height() == height


def test_a_certificate_checked_once_is_still_refused_outside_its_validity_period(network):
    # The chain check is kept per certificate (MemberCertificates); the validity period is not.
    acme = network.identities.signing_identity("acme")
    ledger = network.ledger("utility")
    ledger.evaluate(_signed(acme.identity, acme.signer))  # passes, and is kept
    message = b"any message"
    signature = acme.signer.sign(message)
    late = dt.datetime.now(dt.UTC) + dt.timedelta(days=20 * 365)
    with pytest.raises(ChannelError) as refused:
        ledger._check_creator("AcmeMSP", acme.identity.certificate_pem, message, signature, at=late)
    assert "validity period" in refused.value.message


def test_a_certificate_checked_for_one_organisation_is_refused_under_another(network):
    acme = network.identities.signing_identity("acme")
    ledger = network.ledger("utility")
    ledger.evaluate(_signed(acme.identity, acme.signer))
    claimed = Identity("GlobexMSP", acme.identity.certificate_pem)
    with pytest.raises(ChannelError) as refused:
        ledger.evaluate(_signed(claimed, acme.signer))
    assert "was not issued by GlobexMSP's CA" in refused.value.message


def test_the_kept_certificates_are_bounded_and_refusals_are_not_kept():
    ca_key, ca_cert = create_ca("test.example")
    kept = MemberCertificates({"TestMSP": Organisation("TestMSP", certificate_pem(ca_cert))}, 2)
    other_key, other_ca = create_ca("test.example")  # same name, another key: an impostor CA
    for _ in range(3):
        _, forged = issue_certificate(other_key, other_ca, "mallory")
        with pytest.raises(MembershipError):
            kept.check("TestMSP", certificate_pem(forged))
    assert len(kept._passed) == 0
    issued = [certificate_pem(issue_certificate(ca_key, ca_cert, f"u{i}")[1]) for i in range(3)]
    for pem in issued:
        assert kept.check("TestMSP", pem).subject == x509.load_pem_x509_certificate(pem).subject
    assert [key for _, key in kept._passed] == issued[1:]  # oldest out


def test_a_proposal_carries_the_time_it_was_built(network):
    from datachannels.channel_connectors.proposals import parse_signed_proposal, timestamp_now

    acme = network.identities.signing_identity("acme")
    before = dt.datetime.now(dt.UTC)
    signed = _signed(acme.identity, acme.signer)
    after = dt.datetime.now(dt.UTC)
    stamp = parse_signed_proposal(signed).channel_header.timestamp
    assert 0 <= stamp.nanos < 1_000_000_000
    # datetime keeps microseconds: the stamp's nanoseconds may lie just before `before`.
    assert before - dt.timedelta(microseconds=1) <= stamp.ToDatetime(tzinfo=dt.UTC) <= after
    given = dt.datetime(2026, 12, 7, 6, 57, 30, 123456, tzinfo=dt.UTC)
    assert timestamp_now(given).ToDatetime(tzinfo=dt.UTC) == given

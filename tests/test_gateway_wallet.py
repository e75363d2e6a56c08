"""The X-Wallet header is parsed in one place; every malformation is a 400 that keeps the secret."""

from __future__ import annotations

import base64
import json
import logging
import re

import pytest
from datachannels.chaincode import CHANNELS
from datachannels.channel_connectors.identities import IdentityStore
from datachannels.channel_connectors.msp import new_private_key, private_key_pem
from datachannels.gateway.wallet import WalletError, encode_wallet, parse_wallet

from tests.conftest import graphql, wallet_for


def _b64(body: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")


def _b64_text(text: str) -> str:
    """JSON text as written (json.dumps of 20,000 nested lists would exceed Python's stack)."""
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _entry(data_dir, name="acme") -> dict:
    msp_id, cert, key = IdentityStore(data_dir).pem_pair(name)
    return {"mspId": msp_id, "certificate": cert.decode(), "privateKey": key.decode()}


def _cases(data_dir):
    good = _entry(data_dir)
    stranger_key = private_key_pem(new_private_key()).decode()
    return [
        ("not base64", "%%%not-base64%%%", "not valid base64url", None),
        (
            "base64 of text",
            base64.urlsafe_b64encode(b"hello there").decode(),
            "does not decode to JSON",
            None,
        ),
        ("a JSON array", _b64([good]), "must be a JSON object", None),
        ("unknown channel", _b64({"weather": good}), "a channel this gateway does not have", None),
        (
            "a key where a channel name goes",
            _b64({good["privateKey"]: good}),
            "a channel this gateway does not have",
            None,
        ),
        (
            "a key as a field name of a delegation entry",
            _b64({"utility": {"delegation": "a.b.c", good["privateKey"]: 1}}),
            "holds only 'delegation' (and 'token'), not 1 other field(s)",
            "utility",
        ),
        (
            "a wallet nested 20,000 deep",
            _b64_text('{"utility": ' + "[" * 20_000 + "]" * 20_000 + "}"),
            "does not decode to JSON this gateway reads",
            None,
        ),
        (
            "credential not an object",
            _b64({"utility": "abc"}),
            "credential must be a JSON object",
            "utility",
        ),
        (
            "no private key",
            _b64({"utility": {**good, "privateKey": ""}}),
            "needs privateKey",
            "utility",
        ),
        (
            "bad certificate PEM",
            _b64(
                {
                    "shipping": {
                        **good,
                        "certificate": (
                            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
                        ),
                    }
                }
            ),
            "certificate is not a valid PEM",
            "shipping",
        ),
        (
            "bad key PEM",
            _b64(
                {
                    "airline": {
                        **good,
                        "privateKey": (
                            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
                        ),
                    }
                }
            ),
            "private key is not a valid",
            "airline",
        ),
        (
            "key not matching the certificate",
            _b64({"commodity": {**good, "privateKey": stranger_key}}),
            "private key does not match the certificate",
            "commodity",
        ),
        (
            "a token without its holder's delegation",
            _b64({"footprint": {"token": "t0ken-s3cret"}}),
            "a token travels with its holder's delegation",
            "footprint",
        ),
    ]


def test_every_malformed_wallet_is_a_400_naming_problem_and_channel_never_the_secret(
    client, data_dir, caplog
):
    caplog.set_level(logging.DEBUG)
    good = _entry(data_dir)
    key_body = good["privateKey"].splitlines()[1]  # a line of the real key
    for label, header, expected, channel in _cases(data_dir):
        response = client.post(
            "/graphql", json={"query": "{ channels { name } }"}, headers={"X-Wallet": header}
        )
        assert response.status_code == 400, label
        error = response.json()["errors"][0]
        assert expected in error["message"], (label, error["message"])
        assert error["extensions"]["code"] == "BAD_INPUT"
        assert error["extensions"]["channel"] == channel, label
        if channel:
            assert f"channel {channel!r}" in error["message"]
        assert key_body not in response.text
        assert "t0ken-s3cret" not in response.text
        assert "BEGIN" not in response.text
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert key_body not in logged and "t0ken-s3cret" not in logged


def test_a_good_wallet_is_accepted_and_never_echoed(client, data_dir, caplog):
    caplog.set_level(logging.DEBUG)
    wallet = wallet_for(data_dir, "acme")
    response = client.post(
        "/graphql", json={"query": "{ channels { name reachable } }"}, headers={"X-Wallet": wallet}
    )
    assert response.status_code == 200
    assert all(c["reachable"] for c in response.json()["data"]["channels"])
    assert wallet not in response.text
    key_line = _entry(data_dir)["privateKey"].splitlines()[1]
    assert key_line not in "\n".join(r.getMessage() for r in caplog.records)


def test_no_wallet_is_not_an_error_but_every_channel_lacks_credentials(client):
    answer = graphql(client, "{ channels { name reachable errorCode } }", wallet=None)
    assert {c["errorCode"] for c in answer["data"]["channels"]} == {"MISSING_CREDENTIALS"}


@pytest.mark.parametrize("path", ["/healthz", "/metrics"])
def test_health_and_metrics_answer_without_a_wallet(client, path):
    assert client.get(path).status_code == 200


def test_graphiql_is_served_to_browsers_and_does_not_store_the_wallet(client):
    page = client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "graphiql" in page.text.lower()
    assert "X-Wallet" in page.text and "--delegate" in page.text
    # Every script and style sheet is the gateway's own (tests/test_browser.py runs the page).
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/static/") for s in sources), sources
    for source in sources:
        assert client.get(source).status_code == 200, source


def test_a_key_on_an_unsupported_curve_is_a_400_not_a_crash(client, data_dir):
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a prime192v2 key")
    generated = subprocess.run(
        "openssl ecparam -name prime192v2 -genkey -noout | openssl pkcs8 -topk8 -nocrypt",
        shell=True,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    header = _b64({"utility": {**_entry(data_dir), "privateKey": generated}})
    response = client.post(
        "/graphql", json={"query": "{ channels { name } }"}, headers={"X-Wallet": header}
    )
    assert response.status_code == 400
    assert "private key" in response.json()["errors"][0]["message"]
    assert generated.splitlines()[1] not in response.text


def test_one_identity_given_for_every_channel_is_parsed_once_and_a_bad_one_still_named(data_dir):
    msp, cert, key = IdentityStore(data_dir).pem_pair("acme")
    wallet = parse_wallet(encode_wallet({c: (msp, cert, key) for c in CHANNELS}), CHANNELS)
    assert len({id(wallet.credential(c)) for c in CHANNELS}) == 1
    other_msp, other_cert, _ = IdentityStore(data_dir).pem_pair("globex")
    mixed = encode_wallet({"utility": (msp, cert, key), "airline": (other_msp, other_cert, key)})
    with pytest.raises(WalletError) as refused:
        parse_wallet(mixed, CHANNELS)
    assert "'airline'" in str(refused.value) and "does not match" in str(refused.value)


def test_a_certificate_pasted_with_its_key_after_it_carries_only_the_certificate_on(data_dir):
    msp, cert, key = IdentityStore(data_dir).pem_pair("acme")
    careless = cert + key  # the PEM loader reads the first block and ignores the rest
    wallet = parse_wallet(encode_wallet({"utility": (msp, careless, key)}), CHANNELS)
    identity = wallet.credential("utility").identity
    assert b"PRIVATE KEY" not in identity.certificate_pem  # what proposals and caches hold
    assert (
        identity.certificate
        == IdentityStore(data_dir).signing_identity("acme").identity.certificate
    )


def _with_corrupted_issuer(certificate_pem: str) -> str:
    """The certificate with one byte of its issuer name broken: it still loads (cryptography
    parses names lazily), and only reading the issuer fails."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    certificate = x509.load_pem_x509_certificate(certificate_pem.encode())
    der = bytearray(certificate.public_bytes(serialization.Encoding.DER))
    at = bytes(der).index(certificate.issuer.public_bytes())
    der[at + 11] = 0x00  # the tag of the first name's value
    broken = x509.load_der_x509_certificate(bytes(der))
    with pytest.raises(ValueError):
        broken.issuer.rfc4514_string()
    return broken.public_bytes(serialization.Encoding.PEM).decode()


def test_a_certificate_with_a_corrupted_issuer_is_a_400_naming_the_channel(client, data_dir):
    entry = _entry(data_dir)
    entry["certificate"] = _with_corrupted_issuer(entry["certificate"])
    response = client.post(
        "/graphql",
        json={"query": "{ channels { name } }"},
        headers={"X-Wallet": _b64({"shipping": entry})},
    )
    assert response.status_code == 400, response.text
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "BAD_INPUT", "field": "X-Wallet", "channel": "shipping"}
    assert "certificate is not a valid PEM X.509 certificate" in error["message"]
    assert "BEGIN" not in response.text

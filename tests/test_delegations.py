"""Delegations end to end: a caller's signed permission, carried by the relay, checked by contracts.

Real keys from a data directory's organisation CAs, real embedded ledgers, the real gateway (in
process, and one `serve --production` on a loopback port).  Nothing of ours is mocked.  Every
test also runs under a guard that fails it if any log record (every logger at DEBUG) or the
gateway's /metrics text holds a token, a part of one, a private key or a certificate's body.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from datachannels.chaincode import CHANNELS, SOURCE_CHANNELS
from datachannels.chaincode.delegation import (
    DEFAULT_MAX_LIFETIME_S,
    MAX_PUBLISHES,
    fingerprint,
    sign_delegation,
    verify_delegation,
)
from datachannels.channel_connectors.base import Delegated
from datachannels.channel_connectors.embedded import EmbeddedNetwork
from datachannels.channel_connectors.errors import ChannelError
from datachannels.channel_connectors.identities import IdentityStore
from datachannels.channel_connectors.identity import Identity, SigningIdentity
from datachannels.channel_connectors.msp import (
    certificate_pem,
    create_ca,
    issue_certificate,
    private_key_pem,
)
from datachannels.channel_connectors.proposals import build_proposal, sign_envelope, sign_proposal
from datachannels.gateway.app import create_app
from datachannels.gateway.cli import main as cli
from datachannels.gateway.settings import Settings
from datachannels.gateway.wallet import encode_wallet
from fabric_protos.common import common_pb2
from starlette.testclient import TestClient

from tests.conftest import footprint_line

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = json.loads((ROOT / "docs" / "examples" / "footprint.json").read_text())
PUBLISH = (
    "mutation($input: FootprintInput!) { publishFootprint(input: $input) "
    "{ id txId blockNumber owner ownerName footprint { totalKgCO2e } } }"
)
CHANNELS_QUERY = "query { channels { name reachable height errorCode } }"
# A read that every channel's contract accepts from a member: it checks who acts, then answers.
EMPTY_READ = {c: json.dumps({"keys": []}) for c in SOURCE_CHANNELS} | {
    "footprint": json.dumps({"ids": []})
}
WRITE = {c: "put_records" for c in SOURCE_CHANNELS} | {"footprint": "publish"}
RELAY_ALONE = "OperatorMSP runs the channels and reads nothing itself"
NO_MEMBER = "is signed with a certificate from no member organisation of this channel"
BAD_SIGNATURE = "the delegation has a signature that does not verify"
ONLY_ADMIN = "only an admin of the operator's organisation writes the membership record"


# ------------------------------------------------------------------------------ secrets


class Secrets:
    """Every secret this module handles, by a label that is safe to print on failure."""

    def __init__(self) -> None:
        self._texts: dict[str, str] = {"a PEM private key marker": "PRIVATE KEY-----"}

    def token(self, token: str, label: str = "a delegation") -> str:
        self._texts[f"{label} ({token[-8:]})"] = token
        for number, part in enumerate(token.split(".")):
            if len(part) >= 16:
                self._texts[f"part {number} of {label} ({token[-8:]})"] = part
        return token

    def pem(self, pem: bytes, label: str) -> None:
        """A key or certificate: its whole base64 body (a certificate's is its x5c) and lines."""
        lines = [line for line in pem.decode().splitlines() if not line.startswith("-----")]
        self._texts[f"the base64 body of {label}"] = "".join(lines)
        for number, line in enumerate(lines):
            if len(line) >= 16:
                self._texts[f"line {number} of {label}"] = line

    def found_in(self, text: str) -> list[str]:
        return [label for label, secret in self._texts.items() if secret in text]

    def assert_absent(self, text: str, where: str) -> None:
        found = self.found_in(text)
        assert not found, f"{where} holds {', '.join(found)}"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _claims(token: str) -> dict[str, Any]:
    return json.loads(_unb64url(token.split(".")[1]))


def _tokens(wallet: str) -> dict[str, str]:
    """channel → token of a delegation wallet (and nothing but delegation entries)."""
    body = json.loads(_unb64url(wallet))
    assert all(set(entry) == {"delegation"} for entry in body.values()), "not delegation entries"
    return {channel: entry["delegation"] for channel, entry in body.items()}


# --------------------------------------------------------------------------------- kit


class Kit:
    """One data directory's identities, its ledgers and a gateway over them."""

    def __init__(self, data_dir: Path, client: TestClient, secrets: Secrets) -> None:
        self.data_dir = data_dir
        self.store = IdentityStore(data_dir)
        self.network = EmbeddedNetwork(data_dir)
        self.client = client
        self.secrets = secrets

    @property
    def relay(self) -> SigningIdentity:
        return self.store.relay()

    @property
    def audience(self) -> str:
        return fingerprint(self.relay.identity.certificate)

    def key(self, name: str) -> ec.EllipticCurvePrivateKey:
        key = serialization.load_pem_private_key(self.store.pem_pair(name)[2], password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key

    def sign(
        self,
        name: str = "acme",
        *,
        certificate: bytes | None = None,
        key: ec.EllipticCurvePrivateKey | None = None,
        **overrides: Any,
    ) -> str:
        """NAME's delegation for this gateway's relay, every channel, read and publish."""
        msp_id, cert, _ = self.store.pem_pair(name)
        options: dict[str, Any] = {
            "audience": self.audience,
            "channels": CHANNELS,
            "actions": ("read", "publish"),
            "msp_id": msp_id,
        }
        options.update(overrides)
        token = sign_delegation(certificate or cert, key or self.key(name), **options)
        return self.secrets.token(token, f"a delegation of {name}")

    def identity(self, name: str) -> SigningIdentity:
        return self.store.signing_identity(name)

    def delegated(self, token: str, relay: SigningIdentity | None = None) -> Delegated:
        """The credential the gateway makes of a delegation entry (the claimed identity unused)."""
        return Delegated(
            relay=relay or self.relay, delegation=token, identity=Identity("AcmeMSP", b"")
        )

    def height(self, channel: str) -> int:
        return self.network.ledger(channel).height()

    def heights(self) -> dict[str, int]:
        return {channel: self.height(channel) for channel in CHANNELS}


def _wallet(token: str, channels: tuple[str, ...] = CHANNELS) -> str:
    return _b64url(json.dumps({c: {"delegation": token} for c in channels}).encode())


def _identity_wallet(store: IdentityStore, name: str) -> str:
    msp_id, cert, key = store.pem_pair(name)
    return encode_wallet({c: (msp_id, cert, key) for c in CHANNELS})


def _post(client: Any, query: str, wallet: str | None, variables: dict | None = None) -> Any:
    return client.post(
        "/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"X-Wallet": wallet} if wallet else {},
    )


def _answer(client: Any, query: str, wallet: str, variables: dict | None = None) -> dict:
    response = _post(client, query, wallet, variables)
    assert response.status_code == 200, response.text
    return response.json()


def _refusal(call: Callable[..., object], *args: object) -> ChannelError:
    with pytest.raises(ChannelError) as refused:
        call(*args)
    return refused.value


def _register_store(secrets: Secrets, store: IdentityStore) -> None:
    for path in sorted(store.identities_dir.glob("*/*.pem")):
        secrets.pem(path.read_bytes(), f"{path.parent.name}'s {path.stem}")
    for path in sorted(store.organizations_dir.glob("*/ca/key.pem")):
        secrets.pem(path.read_bytes(), f"the CA key of {path.parent.parent.name}")


@pytest.fixture(scope="module")
def secrets() -> Secrets:
    return Secrets()


@pytest.fixture(scope="module")
def kit(
    loaded_data_dir: Path, tmp_path_factory: pytest.TempPathFactory, secrets: Secrets
) -> Iterator[Kit]:
    """One copy of the loaded data dir and a gateway over it, shared by the tests that read.

    Tests that must count what is written (publishing, the membership record) use their own copy.
    """
    data_dir = tmp_path_factory.mktemp("delegations") / "data"
    shutil.copytree(loaded_data_dir, data_dir)
    _register_store(secrets, IdentityStore(data_dir))
    with TestClient(create_app(Settings(data_dir=data_dir))) as client:
        yield Kit(data_dir, client, secrets)


@pytest.fixture
def own(data_dir: Path, secrets: Secrets) -> Iterator[Kit]:
    """A private copy of the loaded data dir (same identities and keys) and a gateway over it."""
    with TestClient(create_app(Settings(data_dir=data_dir))) as client:
        yield Kit(data_dir, client, secrets)


@pytest.fixture(autouse=True)
def no_secret_in_logs_or_metrics(caplog: pytest.LogCaptureFixture, kit: Kit) -> Iterator[None]:
    """Every logger at DEBUG for the test; afterwards no record and no /metrics line holds one."""
    caplog.set_level(logging.DEBUG)
    for name in list(logging.root.manager.loggerDict):
        caplog.set_level(logging.DEBUG, logger=name)
    yield
    for record in caplog.records:
        kit.secrets.assert_absent(caplog.handler.format(record), f"log record {record.name}")
    kit.secrets.assert_absent(caplog.text, "the captured log")
    kit.secrets.assert_absent(kit.client.get("/metrics").text, "/metrics")


# -------------------------------------------------------- refusals, through the gateway


def _forge_claims(kit: Kit) -> str:
    token = kit.sign(channels=("utility",))
    head, _, signature = token.split(".")
    claims = _claims(token)
    claims["channels"] = list(CHANNELS)  # widen the grant after signing
    return kit.secrets.token(f"{head}.{_b64url(json.dumps(claims).encode())}.{signature}")


def _resign_with_another_key(kit: Kit) -> str:
    # acme's certificate, globex's key: what someone holding a copy of the certificate could do.
    return kit.sign("acme", key=kit.key("globex"))


def _swap_signature(kit: Kit) -> str:
    head, body, _ = kit.sign().split(".")
    signature = kit.sign().split(".")[2]  # acme's own valid signature, of another delegation
    return kit.secrets.token(f"{head}.{body}.{signature}")


def _fresh_ca_named_like_acme(kit: Kit) -> str:
    # The real AcmeMSP CA's subject exactly ("ca.acme.example"), but another key.
    ca_key, ca_certificate = create_ca("acme.example")
    key, certificate = issue_certificate(ca_key, ca_certificate, "acme")
    kit.secrets.pem(private_key_pem(key), "a fresh CA's identity key")
    kit.secrets.pem(certificate_pem(certificate), "a fresh CA's identity certificate")
    return kit.sign(certificate=certificate_pem(certificate), key=key)


def _acmes_ca_itself(kit: Kit) -> str:
    # A CA certificate is issued by itself, so it "chains" to the member CA: refused by kind.
    ca_dir = kit.store.organizations_dir / "AcmeMSP" / "ca"
    key = serialization.load_pem_private_key((ca_dir / "key.pem").read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return kit.sign(certificate=(ca_dir / "cert.pem").read_bytes(), key=key)


def _the_relays_own(kit: Kit) -> str:
    return kit.sign("relay")


def _claims_globex(kit: Kit) -> str:
    return kit.sign(msp_id="GlobexMSP")


def _expired(kit: Kit) -> str:
    return kit.sign(now=int(time.time()) - 7200, ttl_s=600)


def _not_yet_valid(kit: Kit) -> str:
    return kit.sign(now=int(time.time()) + 3600, ttl_s=600)


def _too_long_lived(kit: Kit) -> str:
    return kit.sign(ttl_s=2 * DEFAULT_MAX_LIFETIME_S)


def _for_another_relay(kit: Kit) -> str:
    return kit.sign(audience=fingerprint(_second_relay(kit).identity.certificate))


def _utility_only(kit: Kit) -> str:
    return kit.sign(channels=("utility",))


def _read_only(kit: Kit) -> str:
    return kit.sign(actions=("read",))


def _outsiders(kit: Kit) -> str:
    return kit.sign("outsider")


def _second_relay(kit: Kit) -> SigningIdentity:
    """Another identity of the operator's organisation: a member of every channel, not our relay."""
    ca_dir = kit.store.organizations_dir / "OperatorMSP" / "ca"
    ca_key = serialization.load_pem_private_key((ca_dir / "key.pem").read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    ca_certificate = x509.load_pem_x509_certificate((ca_dir / "cert.pem").read_bytes())
    key, certificate = issue_certificate(ca_key, ca_certificate, "relay2")
    kit.secrets.pem(private_key_pem(key), "relay2's key")
    return SigningIdentity.from_pem(
        "OperatorMSP", certificate_pem(certificate), private_key_pem(key)
    )


REFUSALS = [
    # (case, how the delegation is made, query, code, the message, or a part of it)
    ("claims altered after signing", _forge_claims, "footprint", "DELEGATION_INVALID",
     BAD_SIGNATURE),
    ("re-signed with another key", _resign_with_another_key, "footprint", "DELEGATION_INVALID",
     BAD_SIGNATURE),
    ("another delegation's signature", _swap_signature, "footprint", "DELEGATION_INVALID",
     BAD_SIGNATURE),
    ("certificate of a fresh CA with acme's CA's name", _fresh_ca_named_like_acme, "footprint",
     "DELEGATION_INVALID", NO_MEMBER),
    ("signed with the member CA's own certificate", _acmes_ca_itself, "footprint",
     "DELEGATION_INVALID", "is signed with a CA certificate; sign it with your own identity"),
    ("the relay delegating to itself", _the_relays_own, "footprint", "DELEGATION_INVALID",
     NO_MEMBER),
    ("claims an organisation not its certificate's", _claims_globex, "footprint",
     "DELEGATION_INVALID", "names organisation 'GlobexMSP', not its certificate's"),
    ("expired", _expired, "footprint", "DELEGATION_EXPIRED", "the delegation has expired"),
    ("not valid yet", _not_yet_valid, "footprint", "DELEGATION_EXPIRED",
     "the delegation is not valid yet: check the signer's clock"),
    ("longer-lived than the channel allows", _too_long_lived, "footprint", "DELEGATION_INVALID",
     f"lives {2 * DEFAULT_MAX_LIFETIME_S} s, longer than this channel allows "),
    ("addressed to another relay", _for_another_relay, "footprint", "DELEGATION_INVALID",
     "the delegation is addressed to another relay: sign it for this gateway's relay"),
    ("a channel not granted", _utility_only, "footprint", "DELEGATION_SCOPE",
     "the delegation does not grant channel {channel}; sign one with --channels {channel}"),
    ("an action not granted", _read_only, "publish", "DELEGATION_SCOPE",
     "the delegation does not grant 'publish'; sign one with --actions publish"),
    ("outsider's", _outsiders, "footprint", "DELEGATION_INVALID", NO_MEMBER),
]  # fmt: skip


@pytest.mark.parametrize(
    ("make", "operation", "code", "message"),
    [pytest.param(*case[1:], id=case[0]) for case in REFUSALS],
)
def test_each_refused_delegation_gets_its_code_and_message_and_nothing_is_written(
    kit: Kit, make: Callable[[Kit], str], operation: str, code: str, message: str
):
    token = make(kit)
    before = kit.heights()
    query = EXAMPLE["query"] if operation == "footprint" else PUBLISH
    response = _post(kit.client, query, _wallet(token), EXAMPLE["variables"])

    assert response.status_code == 200, response.text
    body = response.json()
    field = "footprint" if operation == "footprint" else "publishFootprint"
    assert body["data"] == {field: None}  # the field fails, not the response
    assert body["errors"], body
    for error in body["errors"]:
        channel = error["extensions"]["channel"]
        assert error["extensions"]["code"] == code, error
        assert message.format(channel=channel) in error["message"], error
        assert error["message"].startswith("the delegation"), error
    if code == "DELEGATION_SCOPE" and operation == "footprint":
        # utility is granted: only the other channels refuse
        assert {e["extensions"]["channel"] for e in body["errors"]} <= set(CHANNELS) - {"utility"}
    kit.secrets.assert_absent(response.text, "the answer")
    assert kit.heights() == before


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(lambda t: ".".join(t.split(".")[:2]), "is not a compact JWS", id="two parts"),
        pytest.param(lambda t: t + ".more", "is not a compact JWS", id="four parts"),
        pytest.param(
            lambda t: (
                _b64url(
                    json.dumps({**json.loads(_unb64url(t.split(".")[0])), "x5c": ["AAAA"]}).encode()
                )
                + t[t.index(".") :]
            ),
            "carries a certificate that does not decode",
            id="x5c not a certificate",
        ),
    ],
)
def test_a_malformed_delegation_entry_is_a_400_that_quotes_none_of_it(
    kit: Kit, make: Callable[[str], str], message: str
):
    token = kit.secrets.token(make(kit.sign()), "a malformed delegation")
    response = _post(kit.client, EXAMPLE["query"], _wallet(token), EXAMPLE["variables"])

    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["extensions"] == {
        "code": "DELEGATION_INVALID",
        "field": "X-Wallet",
        "channel": CHANNELS[0],
    }
    assert message in error["message"]
    kit.secrets.assert_absent(response.text, "the 400 answer")


# ------------------------------------------------------------- refusals, at the contract


def test_a_forged_delegation_is_refused_by_every_contract_itself(kit: Kit):
    for make in (_forge_claims, _resign_with_another_key, _fresh_ca_named_like_acme):
        token = make(kit)
        for channel in CHANNELS:
            refused = _refusal(
                kit.network.evaluate, channel, kit.delegated(token), "read", [EMPTY_READ[channel]]
            )
            assert (refused.code, refused.channel) == ("DELEGATION_INVALID", channel)
            assert token not in str(refused)
            assert not {p for p in token.split(".") if p in str(refused)}


def test_a_delegation_carried_by_anyone_but_its_relay_is_refused(kit: Kit):
    token = kit.sign("globex")
    for carrier in (_second_relay(kit), kit.identity("acme")):  # stolen by another relay, a member
        refused = _refusal(
            kit.network.evaluate,
            "utility",
            kit.delegated(token, relay=carrier),
            "read",
            [EMPTY_READ["utility"]],
        )
        assert refused.code == "DELEGATION_INVALID"
        assert "addressed to another relay" in refused.message
    # The same token, carried by the relay it names, reads as globex.
    assert kit.network.evaluate("utility", kit.delegated(token), "read", [EMPTY_READ["utility"]])


def test_the_relay_carrying_acmes_delegation_reads_what_acme_may_and_no_more(kit: Kit):
    credential = kit.delegated(kit.sign())
    request = json.dumps(
        {"keys": ["invoice/AcmeMSP/INV-2024-0001", "invoice/GlobexMSP/INV-2024-0101"]}
    )
    as_acme = json.loads(kit.network.evaluate("utility", kit.identity("acme"), "read", [request]))
    delegated = json.loads(kit.network.evaluate("utility", credential, "read", [request]))

    assert delegated == as_acme
    own, others = delegated["results"]
    assert own["record"]["payload"]["customer"] == "AcmeMSP"
    assert own["record"]["payload"]["invoice_id"] == "INV-2024-0001"
    assert others["error"]["code"] == "ACCESS_DENIED"
    assert others["error"]["message"].startswith("AcmeMSP may not read invoice/GlobexMSP/")


@pytest.mark.parametrize("name", ["relay", "operator"])
def test_the_operators_identities_alone_are_refused_by_every_contract(kit: Kit, name: str):
    alone = kit.identity(name)
    before = kit.heights()
    for channel in CHANNELS:
        for function in ("read", "query"):
            refused = _refusal(
                kit.network.evaluate, channel, alone, function, [EMPTY_READ[channel]]
            )
            assert (refused.code, refused.channel) == ("ACCESS_DENIED", channel), refused
            assert RELAY_ALONE in refused.message
        argument = json.dumps([{"kind": "grid_rate"}]) if channel in SOURCE_CHANNELS else "{}"
        refused = _refusal(kit.network.submit, channel, alone, WRITE[channel], [argument])
        assert (refused.code, refused.channel) == ("ACCESS_DENIED", channel), refused
        assert RELAY_ALONE in refused.message
    assert kit.heights() == before


def test_the_relays_own_identity_wallet_reads_nothing_through_the_gateway(kit: Kit):
    body = _answer(
        kit.client, EXAMPLE["query"], _identity_wallet(kit.store, "relay"), EXAMPLE["variables"]
    )
    assert body["data"] == {"footprint": None}
    assert {e["extensions"]["code"] for e in body["errors"]} == {"ACCESS_DENIED"}
    assert all(RELAY_ALONE in e["message"] for e in body["errors"])


def test_outsiders_delegation_is_refused_by_every_channel(kit: Kit):
    token = _outsiders(kit)
    for channel in CHANNELS:
        refused = _refusal(
            kit.network.evaluate, channel, kit.delegated(token), "read", [EMPTY_READ[channel]]
        )
        assert (refused.code, refused.channel) == ("DELEGATION_INVALID", channel)
        assert NO_MEMBER in refused.message

    wallet = _wallet(token)
    listed = _answer(kit.client, CHANNELS_QUERY, wallet)["data"]["channels"]
    assert [(c["name"], c["height"], c["errorCode"]) for c in listed] == [
        (c, None, "DELEGATION_INVALID") for c in CHANNELS
    ]
    for query in (
        'query { publishedFootprint(id: "0000") { id } }',
        "query { utility { invoices { items { invoiceId } } } }",
    ):
        errors = _answer(kit.client, query, wallet)["errors"]
        assert [e["extensions"]["code"] for e in errors] == ["DELEGATION_INVALID"]
        assert NO_MEMBER in errors[0]["message"]


# ---------------------------------------------------------------- the membership record


def test_only_the_operators_admin_writes_the_membership_record(own: Kit):
    admitting_outsider = json.loads(own.store.membership())
    outsider_ca = (own.store.organizations_dir / "OutsiderMSP" / "ca" / "cert.pem").read_text()
    admitting_outsider["members"]["OutsiderMSP"] = [outsider_ca]
    record = json.dumps(admitting_outsider)
    operator = own.identity("operator")
    attempts = {
        "the relay": own.relay,
        "acme": own.identity("acme"),
        "the auditor": own.identity("auditor"),
        "the relay with acme's delegation": own.delegated(own.sign()),
        "the relay with the auditor's delegation": own.delegated(own.sign("auditor")),
        "the operator's admin carrying a delegation": own.delegated(own.sign(), relay=operator),
    }
    for channel in CHANNELS:
        before = (own.height(channel), own.network.evaluate(channel, operator, "membership"))
        for who, credential in attempts.items():
            refused = _refusal(own.network.submit, channel, credential, "set_membership", [record])
            assert (refused.code, refused.message) == ("ACCESS_DENIED", ONLY_ADMIN), who
        assert (own.height(channel), own.network.evaluate(channel, operator, "membership")) == (
            before
        )

    # The operator's admin may: the record changes, in a block of its own.
    height = own.height("footprint")
    committed = own.network.submit("footprint", operator, "set_membership", [record])
    assert committed.block_number == height and own.height("footprint") == height + 1
    written = json.loads(own.network.evaluate("footprint", operator, "membership"))
    assert sorted(written["members"]) == ["AcmeMSP", "AuditorsMSP", "GlobexMSP", "OutsiderMSP"]


def test_put_records_cannot_be_delegated_not_even_by_the_auditor(own: Kit):
    from tests.conftest import CAMX

    records = json.dumps([{**CAMX, "payload": {**CAMX["payload"], "year": 2031}}])
    before = own.heights()
    for name in ("auditor", "acme"):
        refused = _refusal(
            own.network.submit, "utility", own.delegated(own.sign(name)), "put_records", [records]
        )
        assert refused.code == "DELEGATION_SCOPE"
        assert refused.message == (
            "this call cannot be delegated: its owner must sign the proposal itself"
        )
    assert own.heights() == before
    # The auditor signing itself may write it.
    own.network.submit("utility", own.identity("auditor"), "put_records", [records])
    assert own.height("utility") == before["utility"] + 1


# ------------------------------------------------------------------------ publishing


def _state(data_dir: Path, channel: str, object_type: str) -> dict[tuple[str, ...], dict]:
    """World state entries of one object type, read from the channel's SQLite file."""
    with sqlite3.connect(data_dir / "ledger" / f"{channel}.sqlite") as db:
        rows = db.execute("SELECT key, value FROM state").fetchall()
    found = {}
    for key, value in rows:
        parts = bytes(key).decode().split("\x00")
        if parts[1] == object_type:
            found[tuple(parts[2:-1])] = json.loads(bytes(value))
    return found


def _footprint_record(kit: Kit, footprint_id: str) -> dict:
    raw = kit.network.evaluate(
        "footprint", kit.identity("acme"), "read", [json.dumps({"ids": [footprint_id]})]
    )
    (result,) = json.loads(raw)["results"]
    return result["record"]


def _acmes_footprints(kit: Kit) -> list[str]:
    raw = kit.network.evaluate(
        "footprint", kit.identity("acme"), "query", [json.dumps({"owner": "AcmeMSP"})]
    )
    return json.loads(raw)["ids"]


def test_a_publish_delegation_is_good_for_exactly_its_publishes(
    own: Kit, capsys: pytest.CaptureFixture[str]
):
    argv = ["wallet", "--identity", "acme", "--delegate", "--publishes", "2"]
    assert cli([*argv, "--data-dir", str(own.data_dir)]) == 0
    wallet = capsys.readouterr().out.strip()
    (token,) = set(_tokens(wallet).values())
    own.secrets.token(token, "acme's CLI delegation")
    jti = _claims(token)["jti"]

    published = []
    for use in (1, 2):
        body = _answer(own.client, PUBLISH, wallet, EXAMPLE["variables"])
        assert "errors" not in body, body
        published.append(body["data"]["publishFootprint"]["id"])
        assert _footprint_record(own, published[-1])["delegated"]["use"] == use
    height, footprints = own.height("footprint"), _acmes_footprints(own)

    refused = _post(own.client, PUBLISH, wallet, EXAMPLE["variables"])
    (error,) = refused.json()["errors"]
    assert refused.json()["data"] == {"publishFootprint": None}
    assert error["extensions"] == {"code": "DELEGATION_REPLAYED", "channel": "footprint"}
    assert error["message"] == (
        "the delegation allowed 2 publishes and all are used; "
        "sign a new one (`--actions read,publish --publishes N`)"
    )
    own.secrets.assert_absent(refused.text, "the DELEGATION_REPLAYED answer")
    # Nothing was written by the refused call.
    assert own.height("footprint") == height
    assert _acmes_footprints(own) == footprints and sorted(published) == sorted(footprints)
    fingerprint_of_acme = fingerprint(own.identity("acme").identity.certificate)
    assert _state(own.data_dir, "footprint", "delegation_uses") == {
        (fingerprint_of_acme, jti): {"used": 2, "of": 2}
    }
    assert _state(own.data_dir, "footprint", "delegation_use") == {
        (fingerprint_of_acme, jti, "0001"): {"footprint": published[0]},
        (fingerprint_of_acme, jti, "0002"): {"footprint": published[1]},
    }
    # Reading with the used-up delegation still works: only publishes are counted.
    assert "errors" not in _answer(own.client, EXAMPLE["query"], wallet, EXAMPLE["variables"])


def test_two_publishes_racing_on_a_one_use_delegation_commit_only_one(network: EmbeddedNetwork):
    relay = network.identities.relay()
    msp_id, cert, key_pem = network.identities.pem_pair("acme")
    key = serialization.load_pem_private_key(key_pem, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    token = sign_delegation(
        cert,
        key,
        audience=fingerprint(relay.identity.certificate),
        channels=["footprint"],
        actions=["publish"],
        msp_id=msp_id,
    )
    document = json.dumps(
        {
            "footprint": {"totalKgCO2e": 1.0, "byScope": [], "lines": [footprint_line(1.0)]},
            "methodologyVersion": "test",
            "inputsHash": "2" * 64,
        }
    )
    ledger = network.ledger("footprint")

    def endorsed():  # both are simulated before either commits: each sees the counter unused
        proposal, _ = build_proposal(
            relay.identity,
            "footprint",
            "footprint",
            "publish",
            [document],
            transient={"delegation": token.encode()},
        )
        return ledger.endorse(sign_proposal(proposal, relay.signer).SerializeToString())

    first, second = endorsed(), endorsed()
    commits = [
        ledger.submit(
            sign_envelope(
                common_pb2.Payload.FromString(e.payload), relay.signer
            ).SerializeToString()
        )
        for e in (first, second)
    ]
    assert [c.valid for c in commits] == [True, False]
    raw = network.evaluate(
        "footprint", network.identities.signing_identity("acme"), "query", ['{"owner":"AcmeMSP"}']
    )
    assert json.loads(raw)["ids"] == [first.tx_id]


def test_a_delegated_publish_is_owned_by_the_delegator_and_names_the_delegation(own: Kit):
    token = own.sign()
    body = _answer(own.client, PUBLISH, _wallet(token), EXAMPLE["variables"])
    assert "errors" not in body, body
    published = body["data"]["publishFootprint"]
    assert (published["owner"], published["ownerName"]) == ("AcmeMSP", "acme")

    record = _footprint_record(own, published["id"])
    assert record["owner"] == {
        "mspId": "AcmeMSP",
        "name": "acme",
        "certFingerprint": fingerprint(own.identity("acme").identity.certificate),
    }
    assert record["delegated"] == {
        "relay": own.audience,
        "delegation": _claims(token)["jti"],
        "use": 1,
    }
    query = f'query {{ publishedFootprint(id: "{published["id"]}") {{ owner ownerName txId }} }}'
    again = _answer(own.client, query, _identity_wallet(own.store, "globex"))["data"]
    assert again["publishedFootprint"] == {
        "owner": "AcmeMSP",
        "ownerName": "acme",
        "txId": published["txId"],
    }
    # The delegation travelled as transient data: no part of it is on the ledger.
    for path in (own.data_dir / "ledger").iterdir():
        found = own.secrets.found_in(path.read_bytes().decode("latin-1"))
        assert not [label for label in found if "delegation" in label], (path.name, found)


# --------------------------------------------------- the README's queries, either wallet


def _readme_queries() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```graphql\n(.*?)```", readme, re.DOTALL)
    assert blocks, "the README has lost its GraphQL examples"
    lines = (re.sub(r"\s+#.*$", "", line).strip() for block in blocks for line in block.split("\n"))
    return [line for line in lines if line]


def _case_id(query: str) -> str:
    return re.sub(r"\W+", " ", query.split("{")[1] if "{" in query else query).split()[0]


# Fields that differ between two answers for a legitimate reason: each publish is a transaction
# of its own, so it gets its own id (the transaction id) and its own block.
DIFFERS = {"publishFootprint": {"id", "txId", "blockNumber"}}


@pytest.fixture(scope="module")
def published_id(kit: Kit) -> str:
    body = _answer(kit.client, PUBLISH, _identity_wallet(kit.store, "acme"), EXAMPLE["variables"])
    return body["data"]["publishFootprint"]["id"]


@pytest.mark.parametrize(
    "query",
    [pytest.param(EXAMPLE["query"], id="docs/examples/footprint.json")]
    + [pytest.param(q, id=_case_id(q)) for q in _readme_queries()],
)
def test_every_readme_query_answers_the_same_with_acmes_delegation_or_identity(
    kit: Kit, published_id: str, query: str
):
    query = query.replace('"…"', json.dumps(published_id))
    variables = EXAMPLE["variables"] if "$input" in query else None
    as_identity = _answer(kit.client, query, _identity_wallet(kit.store, "acme"), variables)
    delegated = _post(kit.client, query, _wallet(kit.sign()), variables)

    assert delegated.status_code == 200
    assert "errors" not in as_identity, as_identity
    assert as_identity["data"] and all(v is not None for v in as_identity["data"].values())
    kit.secrets.assert_absent(delegated.text, "the answer")

    def comparable(answer: dict) -> dict:
        data = dict(answer["data"])
        for field, differs in DIFFERS.items():
            if field in data:
                assert differs <= set(data[field]), data[field]
                data[field] = {k: v for k, v in data[field].items() if k not in differs}
        return {**answer, "data": data}

    assert comparable(delegated.json()) == comparable(as_identity)


# ------------------------------------------------------------------------- production


def test_production_refuses_a_private_key_with_a_400_that_explains_delegations(own: Kit):
    msp_id, cert, key = own.store.pem_pair("acme")
    with TestClient(create_app(Settings(data_dir=own.data_dir, production=True))) as client:
        for wallet, channel in (
            (_identity_wallet(own.store, "acme"), CHANNELS[0]),
            (  # one identity entry among delegations is enough to be refused
                _b64url(
                    json.dumps(
                        {
                            **{c: {"delegation": own.sign()} for c in CHANNELS[:-1]},
                            CHANNELS[-1]: {
                                "mspId": msp_id,
                                "certificate": cert.decode(),
                                "privateKey": key.decode(),
                            },
                        }
                    ).encode()
                ),
                CHANNELS[-1],
            ),
        ):
            response = _post(client, EXAMPLE["query"], wallet, EXAMPLE["variables"])
            assert response.status_code == 400
            (error,) = response.json()["errors"]
            assert error["extensions"] == {
                "code": "BAD_INPUT",
                "field": "X-Wallet",
                "channel": channel,
            }
            assert error["message"].startswith(
                f"X-Wallet, channel {channel!r}: this gateway runs in production mode and "
                "accepts no private key; send a delegation instead: "
                "`datachannels wallet --identity NAME --delegate` prints one"
            )
            own.secrets.assert_absent(response.text, "the production 400")
            assert "BEGIN" not in response.text
        own.secrets.assert_absent(client.get("/metrics").text, "/metrics in production")


def test_production_answers_delegations_as_the_development_gateway_answers_identities(own: Kit):
    wallet = _wallet(own.sign())
    expected = _answer(
        own.client, EXAMPLE["query"], _identity_wallet(own.store, "acme"), EXAMPLE["variables"]
    )
    with TestClient(create_app(Settings(data_dir=own.data_dir, production=True))) as client:
        health = client.get("/healthz").json()
        assert health["production"] is True
        assert health["relay"] == {"mspId": "OperatorMSP", "fingerprint": own.audience}
        assert _answer(client, EXAMPLE["query"], wallet, EXAMPLE["variables"]) == expected
        published = _answer(client, PUBLISH, wallet, EXAMPLE["variables"])
        assert published["data"]["publishFootprint"]["owner"] == "AcmeMSP"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_serve_production_on_loopback_logs_no_secret_in_success_or_refusal(own: Kit):
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DATACHANNELS_LOG_LEVEL": "debug", "PATH": os.environ["PATH"]}
    env.pop("DATACHANNELS_PRODUCTION", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "datachannels.gateway.cli", "serve", "--production"]
        + ["--port", str(port), "--data-dir", str(own.data_dir)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    answers = []
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, "the server exited"
            try:
                health = httpx.get(f"{url}/healthz", timeout=1).json()
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "no /healthz within 60 s"
                time.sleep(0.1)
        assert health["production"] is True and health["relay"]["fingerprint"] == own.audience
        with httpx.Client(base_url=url, timeout=30) as client:
            cases = [
                (_wallet(own.sign()), 200, None),
                (_wallet(_forge_claims(own)), 200, "DELEGATION_INVALID"),
                (_wallet(_expired(own)), 200, "DELEGATION_EXPIRED"),
                (_wallet(_utility_only(own)), 200, "DELEGATION_SCOPE"),
                (_wallet(".".join(own.sign().split(".")[:2])), 400, "DELEGATION_INVALID"),
                (_identity_wallet(own.store, "acme"), 400, "BAD_INPUT"),
            ]
            for wallet, status, code in cases:
                response = _post(client, EXAMPLE["query"], wallet, EXAMPLE["variables"])
                assert response.status_code == status, response.text
                codes = {e["extensions"]["code"] for e in response.json().get("errors", [])}
                assert codes == ({code} if code else set())
                answers.append(response.text)
            answers.append(client.get("/metrics").text)
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=20)
    # The request log was captured: one line per request, the refusals' codes included.
    logged = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    statuses = [line["status"] for line in logged if line["message"] == "request"]
    assert statuses.count(200) == 5 and statuses.count(400) == 2, statuses
    own.secrets.assert_absent(output, "the server's log")
    for text in answers:
        own.secrets.assert_absent(text, "an answer")


# ---------------------------------------------------------------------------- the CLI


def test_wallet_delegate_prints_delegations_with_no_private_key(
    kit: Kit, capsys: pytest.CaptureFixture[str]
):
    assert cli(["wallet", "--identity", "acme", "--delegate", "--data-dir", str(kit.data_dir)]) == 0
    out, err = capsys.readouterr()
    assert "PRIVATE KEY" not in out and "PRIVATE KEY" not in err
    tokens = _tokens(out.strip())
    assert sorted(tokens) == sorted(CHANNELS)
    (token,) = set(tokens.values())
    kit.secrets.token(token, "acme's CLI delegation")
    claims = _claims(token)
    assert claims["exp"] - claims["nbf"] == 600
    assert (claims["actions"], claims["publishes"]) == (["read", "publish"], 1)
    membership = json.loads(kit.network.evaluate("utility", kit.relay, "membership"))
    cas = {
        msp: [x509.load_pem_x509_certificate(p.encode()) for p in pems]
        for msp, pems in membership["members"].items()
    }
    for channel in CHANNELS:
        delegation = verify_delegation(
            token,
            member_cas=cas,
            relay=kit.audience,
            channel=channel,
            action="publish",
            now=int(time.time()),
        )
        assert delegation.msp_id == "AcmeMSP"


def test_wallet_delegate_narrows_to_the_channels_actions_and_lifetime_asked(
    kit: Kit, capsys: pytest.CaptureFixture[str]
):
    argv = ["wallet", "--identity", "globex", "--delegate", "--channels", "utility, airline"]
    argv += ["--actions", "read", "--ttl", "90s", "--data-dir", str(kit.data_dir)]
    assert cli(argv) == 0
    tokens = _tokens(capsys.readouterr().out.strip())
    assert sorted(tokens) == ["airline", "utility"]
    claims = _claims(kit.secrets.token(tokens["utility"], "globex's CLI delegation"))
    assert claims["channels"] == ["airline", "utility"] and claims["actions"] == ["read"]
    assert claims["exp"] - claims["nbf"] == 90 and "publishes" not in claims
    assert claims["sub"] == "GlobexMSP" and claims["aud"] == kit.audience


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--ttl", "ten minutes"], "error: --ttl 'ten minutes' is not a duration like 90s, 10m"),
        (["--ttl", "10d"], "error: --ttl '10d' is not a duration like 90s, 10m or 1h"),
        (["--ttl=-5m"], "error: --ttl '-5m' is not a duration"),
        (["--ttl", "0"], "error: --ttl must be positive"),
        (["--channels", "utility,weather"], "error: unknown channel weather; choose from utility"),
        (["--channels", " , "], "error: unknown channel (none given); choose from utility"),
        (["--actions", "read,write"], "error: unknown action write; choose from read, publish"),
        (["--actions", ","], "error: unknown action (none given); choose from read, publish"),
        (["--publishes", "0"], f"error: publishes must be from 1 to {MAX_PUBLISHES}"),
        (["--publishes", str(MAX_PUBLISHES + 1)], "error: publishes must be from 1 to"),
    ],
)
def test_wallet_delegate_refuses_bad_options_clearly(
    kit: Kit, capsys: pytest.CaptureFixture[str], options: list[str], message: str
):
    argv = ["wallet", "--identity", "acme", "--delegate", *options]
    with pytest.raises(SystemExit) as exited:
        cli([*argv, "--data-dir", str(kit.data_dir)])
    assert isinstance(exited.value.code, str)  # printed to stderr, exit status 1
    assert exited.value.code.startswith(message)
    assert capsys.readouterr().out == ""  # no half-made wallet


def test_wallet_delegate_with_a_bad_ttl_exits_non_zero_saying_why(kit: Kit):
    result = subprocess.run(
        [sys.executable, "-m", "datachannels.gateway.cli", "wallet", "--identity", "acme"]
        + ["--delegate", "--ttl", "soon", "--data-dir", str(kit.data_dir)],
        capture_output=True,
        check=False,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip() == "error: --ttl 'soon' is not a duration like 90s, 10m or 1h"

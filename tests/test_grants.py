"""Access grants (chaincode/grants.py): real Biscuit tokens signed with the demo identities'
Fabric keys (ECDSA P-256), checked with their certificates."""

from __future__ import annotations

import datetime as dt
import functools
import json
from decimal import Decimal
from pathlib import Path

import pytest
from cryptography import x509
from datachannels.chaincode import grants
from datachannels.chaincode.delegation import fingerprint as _fingerprint
from datachannels.channel_connectors.embedded import EmbeddedNetwork
from datachannels.channel_connectors.identities import IdentityStore
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import concurrent_answers, issued_grant, recorded_grant

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
    """A grant that expires at LATER, for the checks made at the fixed time NOW."""
    return issued_grant(store, issuer, **{"expires": LATER, **overrides})


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
    assert grant.consumer_ca == store.organisation("OutsiderMSP").ca_certificate
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
    bound = _issue(store, consumer_cert=fingerprint(outsider))
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
        {"consumer_ca_pem": b"not a certificate"},
        {"consumer_cert": 'sha256:"ab'},
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


# ------------------------------------------------------------------ on the ledger (embedded)


def _submit(network, channel: str, as_: str, function: str, body: dict):
    return network.submit(
        channel, network.identities.signing_identity(as_), function, [json.dumps(body)]
    )


def _ledger_code(call) -> str:
    from datachannels.channel_connectors.errors import ChannelError

    with pytest.raises(ChannelError) as refused:
        call()
    return refused.value.code


def test_a_provider_records_lists_and_revokes_its_grant(network) -> None:
    store = network.identities
    token = _issue(store)
    submitted = _submit(network, "utility", "auditor", "grant_issue", {"token": token})
    recorded = json.loads(submitted.result)
    assert recorded["grantId"] == grants.grant_id(token)
    listing = json.loads(
        network.evaluate("utility", store.signing_identity("auditor"), "grants", [])
    )
    [grant] = listing["grants"]
    assert grant["consumerOrg"] == "OutsiderMSP" and grant["kinds"] == ["grid_rate"]
    assert grant["fee"] == "0.002" and grant["maxUses"] == 10 and grant["revoked"] is None
    assert grant["txId"] == recorded["txId"]
    # Recorded once only; revoked once only.
    again = lambda: _submit(network, "utility", "auditor", "grant_issue", {"token": token})
    assert _ledger_code(again) == "CONFLICT"
    _submit(network, "utility", "auditor", "grant_revoke", {"grantId": recorded["grantId"]})
    [grant] = json.loads(
        network.evaluate("utility", store.signing_identity("auditor"), "grants", [])
    )["grants"]
    assert grant["revoked"]["by"] == "AuditorsMSP"
    twice = lambda: _submit(
        network, "utility", "auditor", "grant_revoke", {"grantId": recorded["grantId"]}
    )
    assert _ledger_code(twice) == "CONFLICT"
    missing = lambda: _submit(network, "utility", "auditor", "grant_revoke", {"grantId": "ab"})
    assert _ledger_code(missing) == "NOT_FOUND"


def test_only_a_writer_records_a_grant_it_signed_itself_for_factor_kinds(network) -> None:
    store = network.identities
    height = {c: network.ledger(c).height() for c in ("utility", "airline")}
    by_acme, by_auditor = _issue(store, issuer="acme"), _issue(store)
    audited = _issue(store, kinds=["invoice"])
    cases = [
        # A customer may not record grants, nor revoke them.
        ("utility", "acme", "grant_issue", {"token": by_acme}, "ACCESS_DENIED"),
        ("utility", "acme", "grant_revoke", {"grantId": "ab"}, "ACCESS_DENIED"),
        # The auditor records a grant acme signed: it does not verify with the auditor's key.
        ("utility", "auditor", "grant_issue", {"token": by_acme}, "TOKEN_INVALID"),
        # A grant for another channel, and one that opens audited records.
        ("airline", "auditor", "grant_issue", {"token": by_auditor}, "TOKEN_SCOPE"),
        ("utility", "auditor", "grant_issue", {"token": audited}, "TOKEN_SCOPE"),
        ("utility", "auditor", "grant_issue", {"token": "garbage"}, "TOKEN_INVALID"),
        ("utility", "auditor", "grant_issue", {"tokens": "x"}, "BAD_INPUT"),
    ]
    for channel, who, function, body, code in cases:
        refused = functools.partial(_submit, network, channel, who, function, body)
        assert _ledger_code(refused) == code, (channel, who, function, body)
    listing = lambda: network.evaluate("utility", store.signing_identity("acme"), "grants", [])
    assert _ledger_code(listing) == "ACCESS_DENIED"
    # Nothing was written by any of them.
    assert {c: network.ledger(c).height() for c in height} == height


def test_the_token_commands_issue_list_and_revoke(data_dir: Path) -> None:
    from tests.test_cli import run as cli

    def run(*args: str):
        return cli("token", *args, "--channel", "utility", data_dir=data_dir, check=False)

    def issue(provider: str, *more: str):
        """A grid-rate grant for outsider until 2027, issued by PROVIDER."""
        return run(
            "issue",
            "--provider",
            provider,
            "--consumer",
            "outsider",
            "--kinds",
            "grid_rate",
            "--expires",
            "2027-01-01",
            *more,
        )

    issued = issue("auditor", "--fee", "0.002", "--max-uses", "10")
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip()
    grant_id = grants.grant_id(token)
    assert f"grant {grant_id} recorded on utility" in issued.stderr
    listed = run("list", "--provider", "auditor")
    [grant] = json.loads(listed.stdout)
    assert grant["grantId"] == grant_id and grant["consumerOrg"] == "OutsiderMSP"
    assert run("revoke", "--provider", "auditor", grant_id).returncode == 0
    assert (
        json.loads(run("list", "--provider", "auditor").stdout)[0]["revoked"]["by"] == "AuditorsMSP"
    )
    # A grant can be revoked by its token too; a text that is no grant is refused plainly.
    second = issue("auditor")
    assert second.returncode == 0, second.stderr
    by_token = run("revoke", "--provider", "auditor", second.stdout.strip())
    assert by_token.returncode == 0, by_token.stderr
    assert f"grant {grants.grant_id(second.stdout.strip())} revoked" in by_token.stderr
    garbage = run("revoke", "--provider", "auditor", "x" * 300)
    assert garbage.returncode != 0 and "not a grant" in garbage.stderr
    refused = issue("acme")
    assert refused.returncode == 1 and "ACCESS_DENIED" in refused.stderr
    assert "Traceback" not in refused.stderr + issued.stderr


# ------------------------------------------------------------- reading under a grant (gateway)

RATE = (
    '{ utility { gridRates(regionType: EGRID_SUBREGION, region: "CAMX", year: 2023, first: 1) '
    "{ items { co2LbPerMwh } } } }"
)
UTILITIES = "{ utility { utilities(first: 1) { items { name } } } }"


def _token_wallet(data_dir: Path, name: str, token: str, channel: str = "utility") -> str:
    """NAME's delegation for CHANNEL with TOKEN beside it, as an X-Wallet value."""
    from tests.conftest import delegation_wallet_for

    return delegation_wallet_for(
        data_dir, name, channels=(channel,), actions=("read",), token=token
    )


def _recorded(data_dir: Path, **overrides: object) -> str:
    """A grant for outsider on utility, issued and recorded by the auditor (for 30 days from
    now: reads check it at the transaction's real time)."""
    return recorded_grant(data_dir, **overrides)


def _uses(data_dir: Path, token: str, channel: str = "utility") -> list[dict]:
    """The metered accesses of a grant, read from the channel's world state."""
    import sqlite3

    prefix = b"\x00grant_use\x00" + grants.grant_id(token).encode() + b"\x00"
    path = EmbeddedNetwork(data_dir).ledger_path(channel)
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT key, value FROM state").fetchall()
    return [json.loads(v) for k, v in rows if bytes(k).startswith(prefix)]


def _answer(client, query: str, wallet: str) -> dict:
    response = client.post("/graphql", json={"query": query}, headers={"X-Wallet": wallet})
    assert response.status_code == 200, response.text
    return response.json()


def _error_code(answer: dict) -> str | None:
    errors = answer.get("errors") or []
    return errors[0]["extensions"]["code"] if errors else None


def test_outsider_reads_factors_under_a_grant_and_every_read_is_metered(data_dir: Path) -> None:
    from datachannels.gateway.app import create_app
    from datachannels.gateway.settings import Settings
    from starlette.testclient import TestClient

    from tests.conftest import delegation_wallet_for

    token = _recorded(data_dir, max_uses=3)
    with TestClient(create_app(Settings(data_dir=data_dir))) as client:
        # Without the grant, outsider's delegation opens nothing.
        plain = delegation_wallet_for(
            data_dir, "outsider", channels=("utility",), actions=("read",)
        )
        assert _error_code(_answer(client, RATE, plain)) == "DELEGATION_INVALID"
        wallet = _token_wallet(data_dir, "outsider", token)
        for _ in range(3):
            answer = _answer(client, RATE, wallet)
            assert _error_code(answer) is None, answer
            assert answer["data"]["utility"]["gridRates"]["items"][0]["co2LbPerMwh"] > 0
        # The cap: the fourth read is refused, and changes nothing.
        height = EmbeddedNetwork(data_dir).ledger("utility").height()
        assert _error_code(_answer(client, RATE, wallet)) == "TOKEN_EXHAUSTED"
        assert EmbeddedNetwork(data_dir).ledger("utility").height() == height
    uses = _uses(data_dir, token)
    assert len(uses) == 3 and {u["consumerOrg"] for u in uses} == {"OutsiderMSP"}
    assert all(u["records"] == 1 and u["fee"] == "0.002" for u in uses)


def test_a_grant_refuses_what_it_does_not_open(data_dir: Path) -> None:
    from datachannels.gateway.app import create_app
    from datachannels.gateway.settings import Settings
    from starlette.testclient import TestClient

    token = _recorded(data_dir)
    expired = _recorded(data_dir, expires=NOW - dt.timedelta(days=1))
    revoked = _recorded(data_dir, fee="0.001")
    network = EmbeddedNetwork(data_dir)
    _submit(network, "utility", "auditor", "grant_revoke", {"grantId": grants.grant_id(revoked)})
    unrecorded = _issue(network.identities, fee="0.5")
    height = network.ledger("utility").height()
    with TestClient(create_app(Settings(data_dir=data_dir))) as client:
        cases = [
            (RATE, _token_wallet(data_dir, "outsider", expired), "TOKEN_EXPIRED"),
            (RATE, _token_wallet(data_dir, "outsider", revoked), "TOKEN_REVOKED"),
            (RATE, _token_wallet(data_dir, "outsider", unrecorded), "TOKEN_INVALID"),
            # Another identity with outsider's token.
            (RATE, _token_wallet(data_dir, "globex", token), "TOKEN_INVALID"),
            # A kind the grant does not open.
            (UTILITIES, _token_wallet(data_dir, "outsider", token), "TOKEN_SCOPE"),
            # Forged: one character of the token changed.
            (RATE, _token_wallet(data_dir, "outsider", token[:-8] + "AAAAAAA="), "TOKEN_INVALID"),
        ]
        for query, wallet, code in cases:
            assert _error_code(_answer(client, query, wallet)) == code, code
        # A utility grant used on the airline channel names no grant there.
        flights = "{ airline { flightFactors(first: 1) { items { haul } } } }"
        other = _token_wallet(data_dir, "outsider", token, channel="airline")
        assert _error_code(_answer(client, flights, other)) == "TOKEN_INVALID"
    assert network.ledger("utility").height() == height  # no refusal wrote anything
    assert _uses(data_dir, token) == []


def test_the_cap_holds_under_concurrency(data_dir: Path) -> None:
    from datachannels.gateway.app import create_app
    from datachannels.gateway.settings import Settings

    token = _recorded(data_dir, max_uses=10)
    wallet = _token_wallet(data_dir, "outsider", token)
    app = create_app(Settings(data_dir=data_dir))
    codes = [_error_code(a) for a in concurrent_answers(app, RATE, wallet, 25)]
    assert codes.count(None) == 10 and codes.count("TOKEN_EXHAUSTED") == 15, codes
    assert len(_uses(data_dir, token)) == 10


# ---------------------------------------------------------------------------- the bill


def _fees_from_blocks(
    data_dir: Path, channel: str, period: slice | None = None
) -> dict[str, tuple[int, Decimal]]:
    """Accesses and fees per grant (or per PERIOD, the slice of the entry's ISO time that names
    it), recomputed from the embedded chain's blocks alone."""
    import sqlite3

    with sqlite3.connect(EmbeddedNetwork(data_dir).ledger_path(channel)) as db:
        blocks = [raw for (raw,) in db.execute("SELECT block FROM blocks ORDER BY number")]
    return fees_in_blocks(blocks, period)


def fees_in_blocks(
    blocks: list[bytes], period: slice | None = None
) -> dict[str, tuple[int, Decimal]]:
    """Accesses and fees per grant (or per PERIOD) in a chain's blocks, as Fabric writes them
    (the embedded ledger writes the same): every valid transaction's writes of metering
    entries (`grant_use`)."""
    from datachannels.channel_connectors.embedded_stub import writes_of
    from datachannels.channel_connectors.proposals import parse_transaction
    from fabric_protos.common import common_pb2

    out: dict[str, tuple[int, Decimal]] = {}
    for raw in blocks:
        block = common_pb2.Block.FromString(raw)
        codes = block.metadata.metadata[common_pb2.BlockMetadataIndex.TRANSACTIONS_FILTER]
        for index, entry in enumerate(block.data.data):
            if codes and codes[index] != 0:  # invalidated (an MVCC loser): it wrote nothing
                continue
            payload = common_pb2.Payload.FromString(common_pb2.Envelope.FromString(entry).payload)
            header = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
            if header.type != common_pb2.HeaderType.ENDORSER_TRANSACTION:
                continue  # a configuration block
            for write in writes_of(parse_transaction(entry).chaincode_action.results):
                parts = write.key.split("\x00")
                if len(parts) > 2 and parts[1] == "grant_use" and not write.is_delete:
                    entry_value = json.loads(write.value)
                    by = parts[2] if period is None else entry_value["timestamp"][period]
                    accesses, fees = out.get(by, (0, Decimal(0)))
                    out[by] = (accesses + 1, fees + Decimal(entry_value["fee"]))
    return out


def test_the_bill_each_party_sees_and_its_totals_from_the_blocks(data_dir: Path) -> None:
    from datachannels.gateway.app import create_app
    from datachannels.gateway.settings import Settings
    from starlette.testclient import TestClient

    from tests.conftest import wallet_for
    from tests.test_cli import run as cli

    outsider = _recorded(data_dir, fee="0.002")
    store = EmbeddedNetwork(data_dir).identities
    globex = _recorded(
        data_dir,
        consumer_org="GlobexMSP",
        consumer_ca_pem=store.organisation("GlobexMSP").ca_certificate_pem,
        fee="0.005",
    )
    with TestClient(create_app(Settings(data_dir=data_dir))) as client:
        for name, token, times in (("outsider", outsider, 3), ("globex", globex, 2)):
            wallet = _token_wallet(data_dir, name, token)
            for _ in range(times):
                assert _error_code(_answer(client, RATE, wallet)) is None
        # The same bill in GraphQL: a consumer sees its own grant, the provider every one.
        bill = (
            '{ usage(channel: "utility", per: DAY) { per grants { grantId accesses fees } '
            "totals { fees } periods { period currency accesses fees } } }"
        )
        mine = _answer(client, bill, _token_wallet(data_dir, "outsider", outsider))["data"]
        assert mine["usage"]["grants"] == [
            {"grantId": grants.grant_id(outsider), "accesses": 3, "fees": "0.006"}
        ]
        assert mine["usage"]["per"] == "DAY"
        days = mine["usage"]["periods"]  # today's, unless the test ran over midnight UTC
        assert sum(d["accesses"] for d in days) == 3 and {len(d["period"]) for d in days} == {10}
        everyone = _answer(client, bill, wallet_for(data_dir, "auditor"))["data"]["usage"]
        assert everyone["totals"] == [{"fees": "0.016"}] and len(everyone["grants"]) == 2
        # Neither a channel probe nor the bill is a metered access.
        probe = _answer(
            client, "{ channels { name errorCode } }", _token_wallet(data_dir, "outsider", outsider)
        )
        assert {c["name"]: c["errorCode"] for c in probe["data"]["channels"]}["utility"] is None

    def usage(*args: str):
        return cli("usage", "--channel", "utility", *args, data_dir=data_dir, check=False)

    provider = json.loads(usage("--as", "auditor").stdout)
    lines = {g["grantId"]: g for g in provider["grants"]}
    assert lines[grants.grant_id(outsider)]["accesses"] == 3
    assert lines[grants.grant_id(outsider)]["fees"] == "0.006"
    assert lines[grants.grant_id(globex)]["fees"] == "0.010"
    assert lines[grants.grant_id(globex)]["consumerOrg"] == "GlobexMSP"
    assert provider["totals"] == [{"accesses": 5, "currency": "USD", "fees": "0.016"}]
    # The operator sees the same; a consumer its own only; a member without a grant nothing.
    assert json.loads(usage("--as", "operator").stdout) == provider
    own = json.loads(usage("--as", "outsider", "--token", outsider).stdout)
    assert [g["grantId"] for g in own["grants"]] == [grants.grant_id(outsider)]
    assert own["totals"] == [{"accesses": 3, "currency": "USD", "fees": "0.006"}]
    refused = usage("--as", "acme")
    assert refused.returncode == 1 and "ACCESS_DENIED" in refused.stderr
    # A period before any access has none.
    assert json.loads(usage("--as", "auditor", "--to", "2020-01-01").stdout)["grants"] == []
    # Asking for the bill wrote nothing, and the chain alone gives the same totals.
    recomputed = _fees_from_blocks(data_dir, "utility")
    assert recomputed == {
        gid: (line["accesses"], Decimal(line["fees"])) for gid, line in lines.items()
    }
    # Totals per calendar period, from the blocks too.
    for per, length in (("month", 7), ("day", 10)):
        bill = json.loads(usage("--as", "operator", "--per", per).stdout)
        assert bill["per"] == per and len(bill["periods"][0]["period"]) == length
        assert _fees_from_blocks(data_dir, "utility", slice(0, length)) == {
            p["period"]: (p["accesses"], Decimal(p["fees"])) for p in bill["periods"]
        }
        assert sum(p["accesses"] for p in bill["periods"]) == 5
        assert sum(Decimal(p["fees"]) for p in bill["periods"]) == Decimal("0.016")
    refused = usage("--as", "auditor", "--per", "week")
    assert refused.returncode != 0 and "invalid choice" in refused.stderr
    # The contract itself refuses a period that is no name, plainly.
    network = EmbeddedNetwork(data_dir)
    for per in ([], "week", 7):
        call = functools.partial(
            network.evaluate,
            "utility",
            network.identities.signing_identity("auditor"),
            "usage",
            [json.dumps({"per": per})],
        )
        assert _ledger_code(call) == "BAD_INPUT", per
    # The metering entries are ordinary transactions: the chain still verifies end to end.
    assert cli("ledger", "verify", data_dir=data_dir).stdout.startswith("ledger ok:")


def test_wallet_carries_a_token_beside_the_delegation_of_its_channel(data_dir: Path) -> None:
    import base64

    from tests.test_cli import run as cli

    def wallet(*args: str):
        return cli("wallet", "--identity", "outsider", *args, data_dir=data_dir, check=False)

    made = wallet("--delegate", "--channels", "utility", "--actions", "read", "--token", "T0K")
    assert made.returncode == 0, made.stderr
    text = made.stdout.strip()
    entries = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    assert set(entries) == {"utility"} and entries["utility"]["token"] == "T0K"
    assert "delegation" in entries["utility"]
    unbound = wallet("--delegate", "--token", "T0K")
    assert unbound.returncode != 0 and "--token needs --channels" in unbound.stderr


def test_a_read_by_key_under_a_grant_meters_the_records_it_found(data_dir: Path) -> None:
    """The footprint engine reads factors by key: a key found counts as a record, one
    refused (not found) does not."""
    from datachannels.channel_connectors.base import Delegated
    from datachannels.gateway.wallet import parse_wallet

    token = _recorded(data_dir, max_uses=None)
    store = EmbeddedNetwork(data_dir).identities
    header = _token_wallet(data_dir, "outsider", token)
    credential = parse_wallet(header, ("utility",), store.relay()).credential("utility")
    assert isinstance(credential, Delegated)
    keys = ["grid_rate/egrid_subregion/CAMX/2023", "grid_rate/egrid_subregion/NOPE/2023"]
    network = EmbeddedNetwork(data_dir)
    answer = json.loads(
        network.submit("utility", credential, "read", [json.dumps({"keys": keys})]).result
    )
    assert "record" in answer["results"][0] and "error" in answer["results"][1]
    [use] = _uses(data_dir, token)
    assert use["records"] == 1


def _counter(data_dir: Path, token: str, channel: str = "utility") -> int:
    """The grant's use counter, from the channel's world state."""
    import sqlite3

    key = b"\x00grant_uses\x00" + grants.grant_id(token).encode() + b"\x00"
    with sqlite3.connect(EmbeddedNetwork(data_dir).ledger_path(channel)) as db:
        row = db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
    return int(json.loads(row[0])["used"]) if row else 0


def test_the_reads_of_one_request_meter_once_per_channel(data_dir: Path) -> None:
    """A request that reads a channel more than once (a footprint's second round of reads, a
    browse beside it) pays one access: the first read writes the metering entry, the others
    name the same access and write nothing.  The next request is an access of its own."""
    from datachannels.gateway.app import create_app
    from datachannels.gateway.settings import Settings
    from datachannels.gateway.wallet import parse_wallet
    from starlette.testclient import TestClient

    token = _recorded(data_dir, channel="commodity", kinds=["material_factor"], max_uses=None)
    wallet = _token_wallet(data_dir, "outsider", token, channel="commodity")
    # A misspelt material: the narrow read misses and the engine reads every material to name
    # the close matches, a second round on the same channel.
    misspelt = {
        "query": "query F($input: FootprintInput!) { footprint(input: $input) { totalKgCO2e } }",
        "variables": {"input": {"purchases": [{"commodity": "Glas", "tonnes": 1}]}},
    }
    height = EmbeddedNetwork(data_dir).ledger("commodity").height()
    with TestClient(create_app(Settings(data_dir=data_dir))) as client:
        answer = client.post("/graphql", json=misspelt, headers={"X-Wallet": wallet}).json()
        assert _error_code(answer) == "BAD_INPUT", answer
        assert "Glass" in answer["errors"][0]["message"]
        assert len(_uses(data_dir, token, "commodity")) == 1
        assert _counter(data_dir, token, "commodity") == 1
        assert EmbeddedNetwork(data_dir).ledger("commodity").height() == height + 1
        right = {
            **misspelt,
            "variables": {"input": {"purchases": [{"commodity": "Glass", "tonnes": 1}]}},
        }
        answer = client.post("/graphql", json=right, headers={"X-Wallet": wallet}).json()
        assert _error_code(answer) is None and answer["data"]["footprint"]["totalKgCO2e"] > 0
    assert len(_uses(data_dir, token, "commodity")) == 2
    assert _counter(data_dir, token, "commodity") == 2

    # Through the connector: one parsed wallet is one request's access, whatever it reads.
    import asyncio

    from datachannels.channel_connectors.embedded import EmbeddedConnector

    async def reads(times: int) -> None:
        relay = EmbeddedNetwork(data_dir).identities.relay()
        credential = parse_wallet(wallet, ("commodity",), relay).credential("commodity")
        connector = EmbeddedConnector(data_dir)
        try:
            for _ in range(times):
                body = {"queries": [{"kind": "material_factor", "attributes": ["glass"]}]}
                found = await connector.evaluate(
                    "commodity", credential, "read", [json.dumps(body)]
                )
                assert json.loads(found)["queries"][0]["records"]
        finally:
            await connector.aclose()

    asyncio.run(reads(3))
    assert len(_uses(data_dir, token, "commodity")) == 3
    assert _counter(data_dir, token, "commodity") == 3


def test_an_access_id_is_the_relays_own_and_checked(data_dir: Path) -> None:
    """The contract takes the relay's access id as it is only in the shape it writes, and only
    for the consumer whose read first metered it."""
    from datachannels.channel_connectors.base import Delegated, GrantAccess
    from datachannels.gateway.wallet import parse_wallet

    token = _recorded(data_dir, max_uses=None)
    store = EmbeddedNetwork(data_dir).identities
    network = EmbeddedNetwork(data_dir)
    body = [json.dumps({"keys": ["grid_rate/egrid_subregion/CAMX/2023"]})]

    def credential(name: str, grant: str) -> Delegated:
        wallet = _token_wallet(data_dir, name, grant)
        found = parse_wallet(wallet, ("utility",), store.relay()).credential("utility")
        assert isinstance(found, Delegated)
        return found

    outsider = credential("outsider", token)
    network.submit("utility", outsider, "read", body)
    network.submit("utility", outsider, "read", body)  # the same access: paid once
    assert len(_uses(data_dir, token)) == 1 and _counter(data_dir, token) == 1
    # Another consumer of the same organisation cannot read on outsider's access.
    store._ensure_identity("outsider2", "OutsiderMSP", "client")
    other = credential("outsider2", token)
    borrowed = Delegated(other.relay, other.delegation, other.identity, token, outsider.access)
    height = network.ledger("utility").height()
    assert _ledger_code(lambda: network.submit("utility", borrowed, "read", body)) == (
        "TOKEN_INVALID"
    )
    # A badly shaped access id is refused too; neither wrote anything.
    bad = Delegated(outsider.relay, outsider.delegation, outsider.identity, token, GrantAccess())
    bad.access.of("utility").id = "not-hex"
    assert _ledger_code(lambda: network.submit("utility", bad, "read", body)) == "BAD_INPUT"
    assert network.ledger("utility").height() == height
    assert len(_uses(data_dir, token)) == 1 and _counter(data_dir, token) == 1

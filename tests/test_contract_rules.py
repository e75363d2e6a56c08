"""Access, immutability and validation rules live in the contracts themselves."""

from __future__ import annotations

import copy
import json

import pytest
from datachannels.chaincode.shim import ERROR_CODES, ContractError
from datachannels.channel_connectors.errors import ChannelError, from_contract_message
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import CAMX, footprint_line, invoice


def test_factor_records_are_readable_by_every_member(put, read):
    put("utility", [CAMX])
    for member in ("acme", "globex", "auditor"):
        answer = read("utility", member, {"keys": ["grid_rate/egrid_subregion/CAMX/2023"]})
        record = answer["results"][0]["record"]
        assert record["payload"]["co2_lb_per_mwh"] == 436.655
        assert record["auditor"]["mspId"] == "AuditorsMSP"
        assert record["source"]["row"] == "Table 6 row 342"
        assert len(record["txId"]) == 64


def test_a_customer_reads_its_own_audited_records_and_not_another_customers(put, read):
    put("utility", [invoice("AcmeMSP", "A-1"), invoice("GlobexMSP", "G-1")])
    mine = read("utility", "acme", {"keys": ["invoice/AcmeMSP/A-1"]})["results"][0]
    assert mine["record"]["payload"]["invoice_id"] == "A-1"
    theirs = read("utility", "acme", {"keys": ["invoice/GlobexMSP/G-1"]})["results"][0]
    assert theirs["error"]["code"] == "ACCESS_DENIED"
    assert "record" not in theirs


def test_a_customers_query_only_ever_returns_its_own_audited_records(put, read):
    put(
        "utility",
        [invoice("AcmeMSP", "A-1"), invoice("AcmeMSP", "A-2"), invoice("GlobexMSP", "G-1")],
    )
    answer = read(
        "utility",
        "acme",
        {"queries": [{"kind": "invoice"}, {"kind": "invoice", "attributes": ["GlobexMSP"]}]},
    )
    assert [r["key"] for r in answer["queries"][0]["records"]] == [
        "invoice/AcmeMSP/A-1",
        "invoice/AcmeMSP/A-2",
    ]
    assert answer["queries"][1]["error"]["code"] == "ACCESS_DENIED"
    everything = read("utility", "auditor", {"queries": [{"kind": "invoice"}]})
    assert len(everything["queries"][0]["records"]) == 3


def test_a_customer_cannot_write_to_a_source_channel(network, put):
    height = network.ledger("utility").height()
    with pytest.raises(ChannelError) as refused:
        put("utility", [CAMX], as_="acme")
    assert refused.value.code == "ACCESS_DENIED"
    assert "only AuditorsMSP may write to channel utility" in refused.value.message
    assert network.ledger("utility").height() == height


def test_writing_an_existing_key_is_refused(network, put):
    put("utility", [CAMX])
    height = network.ledger("utility").height()
    with pytest.raises(ChannelError) as refused:
        put("utility", [CAMX])
    assert refused.value.code == "CONFLICT"
    assert "immutable" in refused.value.message
    assert network.ledger("utility").height() == height


def test_a_correction_supersedes_the_original_which_stays_readable(put, read):
    put("utility", [invoice("AcmeMSP", "A-1", kwh=1000)])
    correction = invoice("AcmeMSP", "A-1b", kwh=1100)
    correction["supersedes"] = "invoice/AcmeMSP/A-1"
    put("utility", [correction])
    old = read("utility", "acme", {"keys": ["invoice/AcmeMSP/A-1"]})["results"][0]["record"]
    assert old["payload"]["kwh"] == 1000
    assert old["supersededBy"] == "invoice/AcmeMSP/A-1b"
    current = read("utility", "acme", {"queries": [{"kind": "invoice"}]})["queries"][0]["records"]
    assert [(r["key"], r["supersedes"]) for r in current] == [
        ("invoice/AcmeMSP/A-1b", "invoice/AcmeMSP/A-1")
    ]
    again = invoice("AcmeMSP", "A-1c")
    again["supersedes"] = "invoice/AcmeMSP/A-1"
    with pytest.raises(ChannelError) as refused:
        put("utility", [again])
    assert refused.value.code == "CONFLICT"


def test_corrections_of_every_kind_and_customer_are_applied_in_one_read(put, read):
    """A read looks corrections up under the kind (and the customer, for an audited kind) of
    each key and query it answers: each must still see its own, and only its own."""
    rate = copy.deepcopy(CAMX)
    rate["payload"].update(region="ERCT")
    put("utility", [CAMX, rate, invoice("AcmeMSP", "A-1"), invoice("GlobexMSP", "G-1")])
    fixed_rate = copy.deepcopy(rate)
    fixed_rate["payload"].update(year=2024)
    fixed_rate["supersedes"] = "grid_rate/egrid_subregion/ERCT/2023"
    fixed_acme = invoice("AcmeMSP", "A-1b", kwh=1100)
    fixed_acme["supersedes"] = "invoice/AcmeMSP/A-1"
    fixed_globex = invoice("GlobexMSP", "G-1b", kwh=900)
    fixed_globex["supersedes"] = "invoice/GlobexMSP/G-1"
    put("utility", [fixed_rate, fixed_acme, fixed_globex])

    def superseded_by(records: list[dict]) -> dict[str, str | None]:
        return {r["key"]: r.get("supersededBy") for r in records}

    request = {
        "keys": [
            "invoice/AcmeMSP/A-1",
            "grid_rate/egrid_subregion/ERCT/2023",
            "grid_rate/egrid_subregion/CAMX/2023",
        ],
        "queries": [
            {"kind": "grid_rate"},
            {"kind": "invoice"},
            {"kind": "invoice", "includeSuperseded": True},
        ],
    }
    acme = read("utility", "acme", request)
    assert superseded_by([r["record"] for r in acme["results"]]) == {
        "invoice/AcmeMSP/A-1": "invoice/AcmeMSP/A-1b",
        "grid_rate/egrid_subregion/ERCT/2023": "grid_rate/egrid_subregion/ERCT/2024",
        "grid_rate/egrid_subregion/CAMX/2023": None,
    }
    rates, invoices, every_invoice = (q["records"] for q in acme["queries"])
    assert list(superseded_by(rates)) == [
        "grid_rate/egrid_subregion/CAMX/2023",
        "grid_rate/egrid_subregion/ERCT/2024",
    ]
    assert superseded_by(invoices) == {"invoice/AcmeMSP/A-1b": None}
    assert superseded_by(every_invoice) == {
        "invoice/AcmeMSP/A-1": "invoice/AcmeMSP/A-1b",
        "invoice/AcmeMSP/A-1b": None,
    }
    # A writer's query over the audited kind spans both customers and both corrections.
    auditor = read(
        "utility", "auditor", {"queries": [{"kind": "invoice", "includeSuperseded": True}]}
    )
    assert superseded_by(auditor["queries"][0]["records"]) == {
        "invoice/AcmeMSP/A-1": "invoice/AcmeMSP/A-1b",
        "invoice/AcmeMSP/A-1b": None,
        "invoice/GlobexMSP/G-1": "invoice/GlobexMSP/G-1b",
        "invoice/GlobexMSP/G-1b": None,
    }


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda r: r["payload"].update(co2_lb_per_mwh=-1), "co2_lb_per_mwh must be ≥ 0"),
        (lambda r: r["payload"].update(unit="kg/MWh"), "unit 'kg/MWh' is not one of"),
        (lambda r: r["payload"].update(year="2023"), "year must be an integer"),
        (lambda r: r["payload"].update(colour="green"), "unknown field(s) colour"),
        (lambda r: r["payload"].pop("region"), "region is required"),
        (lambda r: r.update(kind="grid"), "kind 'grid' is not a record kind"),
        (lambda r: r["source"].update(sha256="abc"), "sha256 'abc' does not match"),
    ],
)
def test_invalid_factor_records_are_refused_with_a_clear_error_and_nothing_is_written(
    network, put, change, expected
):
    bad = copy.deepcopy(CAMX)
    change(bad)
    height = network.ledger("utility").height()
    with pytest.raises(ChannelError) as refused:
        put("utility", [invoice("AcmeMSP", "OK-1"), bad])  # the good record is not written either
    assert refused.value.code == "BAD_INPUT"
    assert expected in refused.value.message
    assert network.ledger("utility").height() == height


def test_invalid_dates_and_periods_are_refused(put):
    late = invoice("AcmeMSP", "A-9")
    late["payload"]["period_end"] = "2024-12-01"
    with pytest.raises(ChannelError, match="period_end 2024-12-01 is before period_start"):
        put("utility", [late])
    wrong = invoice("AcmeMSP", "A-10")
    wrong["payload"]["period_start"] = "2025-02-30"
    with pytest.raises(ChannelError, match="must be a date YYYY-MM-DD"):
        put("utility", [wrong])


def test_one_read_answers_many_keys_and_queries(put, read, network):
    put("utility", [CAMX, *(invoice("AcmeMSP", f"A-{i}") for i in range(50))])
    keys = [f"invoice/AcmeMSP/A-{i}" for i in range(50)] + [
        "grid_rate/egrid_subregion/CAMX/2023",
        "invoice/AcmeMSP/nope",
    ]
    answer = read(
        "utility",
        "acme",
        {"keys": keys, "queries": [{"kind": "grid_rate", "attributes": ["egrid_subregion"]}]},
    )
    assert [("record" in r) for r in answer["results"]] == [True] * 51 + [False]
    assert answer["results"][-1]["error"]["code"] == "NOT_FOUND"
    assert len(answer["queries"][0]["records"]) == 1


def test_query_pages_through_a_kind(put, network):
    put("utility", [invoice("AcmeMSP", f"A-{i:02d}") for i in range(25)])
    acme = network.identities.signing_identity("acme")
    seen, after = [], None
    while True:
        page = json.loads(
            network.evaluate(
                "utility",
                acme,
                "query",
                [json.dumps({"kind": "invoice", "limit": 10, "after": after})],
            )
        )
        seen += [r["key"] for r in page["records"]]
        after = page["next"]
        if after is None:
            break
    assert seen == [f"invoice/AcmeMSP/A-{i:02d}" for i in range(25)]


def test_anyone_on_the_footprint_channel_publishes_and_the_owner_comes_from_the_signature(network):
    acme = network.identities.signing_identity("acme")
    document = {
        "footprint": {
            "totalKgCO2e": 3.0,
            "byScope": [{"scope": 2, "kgCO2e": 3.0}],
            "lines": [footprint_line(1.0), footprint_line(2.0)],
        },
        "methodologyVersion": "test",
        "inputsHash": "2" * 64,
    }
    published = network.submit("footprint", acme, "publish", [json.dumps(document)])
    answer = json.loads(published.result)
    assert answer["owner"]["mspId"] == "AcmeMSP" and answer["owner"]["name"] == "acme"
    globex = network.identities.signing_identity("globex")
    got = json.loads(
        network.evaluate("footprint", globex, "read", [json.dumps({"ids": [answer["id"]]})])
    )
    assert got["results"][0]["record"]["footprint"]["totalKgCO2e"] == 3.0
    forged_owner = {**document, "owner": {"mspId": "GlobexMSP"}}
    with pytest.raises(ChannelError, match="unknown field"):
        network.submit("footprint", acme, "publish", [json.dumps(forged_owner)])


def test_a_footprint_whose_total_is_not_the_sum_of_its_lines_is_refused(network):
    acme = network.identities.signing_identity("acme")
    document = {
        "footprint": {"totalKgCO2e": 4.0, "lines": [footprint_line(1.0), footprint_line(2.0)]},
        "methodologyVersion": "test",
        "inputsHash": "2" * 64,
    }
    with pytest.raises(ChannelError) as refused:
        network.submit("footprint", acme, "publish", [json.dumps(document)])
    assert refused.value.code == "BAD_INPUT"
    assert "not the sum of its lines" in refused.value.message


def test_reading_another_customers_key_is_refused_whether_or_not_it_exists(put, read):
    put("utility", [invoice("GlobexMSP", "G-1")])
    answers = read(
        "utility", "acme", {"keys": ["invoice/GlobexMSP/G-1", "invoice/GlobexMSP/NOPE"]}
    )["results"]
    assert [a["error"]["code"] for a in answers] == ["ACCESS_DENIED", "ACCESS_DENIED"]


def test_a_correction_must_be_for_the_same_customer(network, put):
    put("utility", [invoice("AcmeMSP", "A-1")])
    other = invoice("GlobexMSP", "G-9")
    other["supersedes"] = "invoice/AcmeMSP/A-1"
    with pytest.raises(ChannelError, match="same customer"):
        put("utility", [other])


def test_a_record_cannot_be_superseded_twice_in_one_batch(put):
    put("utility", [invoice("AcmeMSP", "A-1")])
    first, second = invoice("AcmeMSP", "A-1b"), invoice("AcmeMSP", "A-1c")
    first["supersedes"] = second["supersedes"] = "invoice/AcmeMSP/A-1"
    with pytest.raises(ChannelError) as refused:
        put("utility", [first, second])
    assert refused.value.code == "CONFLICT"


def test_paging_follows_key_order_even_when_attributes_hold_punctuation(network, put):
    # "Zed" sorts before "Zed-2" as attribute lists and as composite keys; the cursor must agree.
    put("utility", [invoice("Zed", "j1"), invoice("Zed", "j2"), invoice("Zed-2", "j1")])
    auditor = network.identities.signing_identity("auditor")
    seen, after = [], None
    while True:
        page = json.loads(
            network.evaluate(
                "utility",
                auditor,
                "query",
                [json.dumps({"kind": "invoice", "limit": 1, "after": after})],
            )
        )
        seen += [r["key"] for r in page["records"]]
        if page["next"] is None:
            break
        after = page["next"]
    assert seen == ["invoice/Zed/j1", "invoice/Zed/j2", "invoice/Zed-2/j1"]


def test_a_footprint_line_without_its_source_is_refused(network):
    acme = network.identities.signing_identity("acme")
    document = {
        "footprint": {"totalKgCO2e": 1.0, "lines": [{"kgCO2e": 1.0}]},
        "methodologyVersion": "test",
        "inputsHash": "2" * 64,
    }
    with pytest.raises(ChannelError) as refused:
        network.submit("footprint", acme, "publish", [json.dumps(document)])
    assert refused.value.code == "BAD_INPUT"


def test_a_read_answer_is_canonical_json_though_records_are_passed_on_undecoded(network, put):
    # The contract splices the stored record texts into its answer instead of re-encoding them;
    # the answer must still be exactly what canonical_json gives, supersession and errors included.
    from datachannels.chaincode.shim import canonical_json

    put("utility", [CAMX, invoice("AcmeMSP", "A-1")])
    correction = invoice("AcmeMSP", "A-1b", kwh=1100)
    correction["supersedes"] = "invoice/AcmeMSP/A-1"
    put("utility", [correction])
    request = {
        "keys": [
            "grid_rate/egrid_subregion/CAMX/2023",
            "invoice/AcmeMSP/A-1",
            "invoice/GlobexMSP/G-9",
            "grid_rate/x/y/1",
        ],
        "queries": [
            {"kind": "invoice"},
            {"kind": "invoice", "includeSuperseded": True, "limit": 1},
            {"kind": "grid_rate", "where": {"region": "CAMX"}},
            {"kind": "nothing"},
        ],
    }
    raw = network.evaluate(
        "utility", network.identities.signing_identity("acme"), "read", [json.dumps(request)]
    )
    answer = json.loads(raw)
    assert raw.decode() == canonical_json(answer)
    assert [r.get("error", {}).get("code") for r in answer["results"]] == [
        None,
        None,
        "ACCESS_DENIED",
        "NOT_FOUND",
    ]
    assert answer["results"][1]["record"]["supersededBy"] == "invoice/AcmeMSP/A-1b"
    assert [len(q.get("records", ())) for q in answer["queries"]] == [1, 1, 1, 0]
    assert answer["queries"][1]["next"] == "invoice/AcmeMSP/A-1"
    assert answer["queries"][3]["error"]["code"] == "BAD_INPUT"


def test_matches_compares_text_ignoring_case_and_spacing(put, read):
    second = copy.deepcopy(CAMX)
    second["payload"].update(region="ERCT", region_name="ERCOT  All")
    # Characters JSON escapes, and ones whose case folding changes their length.
    third = copy.deepcopy(CAMX)
    third["payload"].update(region="NWPP", region_name='Nord "Straße" \\ ΣΟΦΟΣ')
    # The same without escapes: found in the stored text without decoding it.
    fourth = copy.deepcopy(CAMX)
    fourth["payload"].update(region="RMPA", region_name="Rocky  Straße ΣΟΦΟΣ")
    put("utility", [CAMX, second, third, fourth])

    def keys(condition: dict) -> list[str]:
        answer = read(
            "utility", "acme", {"queries": [{"kind": "grid_rate", "matches": condition}]}
        )["queries"][0]
        return (
            [r["key"] for r in answer["records"]]
            if "records" in answer
            else answer["error"]["code"]
        )

    assert keys({"region_name": "  ercot all "}) == ["grid_rate/egrid_subregion/ERCT/2023"]
    assert keys({"region_name": "wecc california", "region": "camx"}) == [
        "grid_rate/egrid_subregion/CAMX/2023"
    ]
    assert keys({"region_name": "ercot"}) == []  # whole text, not a part of it
    assert keys({"region_name": 'nord "STRASSE" \\  σοφος'}) == [
        "grid_rate/egrid_subregion/NWPP/2023"
    ]
    assert keys({"region_name": 'nord "strasse" / σοφος'}) == []
    assert keys({"region_name": "ROCKY strasse σοφος"}) == ["grid_rate/egrid_subregion/RMPA/2023"]
    assert keys({"region_name": "rocky strasse"}) == []
    assert keys({"year": "2023"}) == []  # a number never matches text
    assert keys({"year": 2023}) == "BAD_INPUT"
    assert keys({"colour": "red"}) == "BAD_INPUT"


def test_a_range_read_is_in_the_read_write_set_with_each_key_and_version():
    """What a transaction's range query read goes into its read/write set as Fabric's
    RangeQueryInfo (each key at the version read), though an evaluate never builds one."""
    from datachannels.chaincode.shim import run_to_completion
    from datachannels.channel_connectors.embedded_stub import EmbeddedStub
    from fabric_protos.ledger.rwset import rwset_pb2
    from fabric_protos.ledger.rwset.kvrwset import kv_rwset_pb2

    state = {"\x00rate\x00a\x00": (b'{"n":1}', (3, 0)), "\x00rate\x00b\x00": (b'{"n":2}', (5, 1))}

    def state_range(start: str, end: str):
        return iter(
            [(k, v, version) for k, (v, version) in sorted(state.items()) if start <= k < end]
        )

    stub = EmbeddedStub("utility", None, state.get, state_range, "utility")  # type: ignore[arg-type]

    async def scan() -> list[tuple[str, bytes]]:
        rows = await stub.get_state_by_partial_composite_key("rate", [])
        return [(row.key, row.value) async for row in rows]

    assert run_to_completion(scan()) == [(k, v) for k, (v, _) in sorted(state.items())]
    written = rwset_pb2.TxReadWriteSet.FromString(stub.read_write_set())
    [query] = kv_rwset_pb2.KVRWSet.FromString(written.ns_rwset[0].rwset).range_queries_info
    assert (query.start_key, query.end_key) == ("\x00rate\x00", "\x00rate\x00\U0010ffff")
    assert query.itr_exhausted
    assert [(r.key, r.version.block_num, r.version.tx_num) for r in query.raw_reads.kv_reads] == [
        ("\x00rate\x00a\x00", 3, 0),
        ("\x00rate\x00b\x00", 5, 1),
    ]


def test_every_transaction_takes_and_returns_text_so_the_text_serializer_changes_nothing():
    from datachannels.chaincode import CHANNELS, chaincode_for
    from datachannels.chaincode.shim import TextSerializer
    from fabric_chaincode_python.fabric_contract_api.serializer import JSONSerializer

    for channel in CHANNELS:
        chaincode = chaincode_for(channel)
        assert isinstance(chaincode.TransactionSerializer, TextSerializer)
        for contract in chaincode._metadata.contracts.values():
            for transaction in contract.transactions:
                # The only schema TextSerializer skips: one that any str satisfies.
                assert [p.schema for p in transaction.parameters] in ([], [{"type": "string"}])
                assert transaction.returns.schema == {"type": "string"}
    ours, library = TextSerializer(), JSONSerializer()
    for text in ('{"keys": []}', "", "é ✓", "5"):
        assert ours.from_string(text, str, None, None) == library.from_string(text, str, None, None)
        assert ours.to_string(text, str, None, None) == library.to_string(text, str, None, None)
    # Any other type is still the library's: converted, and refused when it does not convert.
    assert ours.from_string("5", int, None, None) == (5, None)
    assert ours.from_string("five", int, None, None)[1] is not None


@given(
    value=st.text(),
    other=st.text(),
    name=st.sampled_from(["vehicle", "region_name", "category"]),
)
def test_the_matches_prefilter_never_turns_away_a_record_that_matches(value, other, name):
    from datachannels.chaincode.records import _may_match, fold_text
    from datachannels.chaincode.shim import canonical_json

    # The field may also appear elsewhere in the record, in another object, before or after.
    record = {"a": {name: other}, "payload": {name: value, "z": other}, "source": {name: None}}
    text = canonical_json(record)
    assert _may_match(text, {name: fold_text(value)})
    # And it does turn away one whose field holds something else, unless escapes hide it.
    wanted = fold_text(value) + "x"
    if "\\" not in text and fold_text(other) != wanted:
        assert not _may_match(text, {name: wanted})


@pytest.mark.parametrize("code", ERROR_CODES)
def test_every_contract_code_reaches_the_caller_as_itself(code: str) -> None:
    refusal = ContractError(code, "the record is not yours: see its owner")
    error = from_contract_message("utility", str(refusal))
    assert (error.code, error.channel, error.message) == (
        code,
        "utility",
        "the record is not yours: see its owner",
    )


def test_a_refusal_without_a_known_code_is_bad_input_with_its_text() -> None:
    error = from_contract_message("utility", "  Function 'nope' not found\n")
    assert (error.code, error.message) == ("BAD_INPUT", "Function 'nope' not found")
    assert from_contract_message("utility", "   ").message == "the contract refused the call"

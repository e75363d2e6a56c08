"""Each channel is read as the caller: the channel decides, and a failing channel costs only its
fields.
"""

from __future__ import annotations

import asyncio
import json

from tests.conftest import connector_calls, graphql, wallet_for

BROWSE = """{
  utility { gridRates(regionType: EGRID_SUBREGION, region: "CAMX") {
    items { region co2LbPerMwh provenance { txId sourceRow } } } }
  shipping { freightFactors(mode: SEA, vehicle: "Container ship") {
    items { vehicle load ttwKgCO2e } } }
  airline { flightFactors(haul: LONG_HAUL) { items { cabinClass kgCO2e } } }
  commodity { spendFactors(naics: "331110") { items { title kgCO2ePerUsd } } }
}"""


def test_a_customer_browses_every_source_channel(client, data_dir):
    answer = graphql(client, BROWSE, wallet_for(data_dir, "acme"))
    assert "errors" not in answer
    camx = answer["data"]["utility"]["gridRates"]["items"][0]
    assert camx["co2LbPerMwh"] == 436.655 and camx["provenance"]["sourceRow"] == "Table 6 row 342"
    assert answer["data"]["commodity"]["spendFactors"]["items"][0]["kgCO2ePerUsd"] == 0.787


def test_the_outsider_is_refused_by_each_channel_itself(client, data_dir):
    answer = graphql(client, BROWSE, wallet_for(data_dir, "outsider"))
    assert answer["data"] == {
        "utility": {"gridRates": None},
        "shipping": {"freightFactors": None},
        "airline": {"flightFactors": None},
        "commodity": {"spendFactors": None},
    }
    assert len(answer["errors"]) == 4
    for error in answer["errors"]:
        assert error["extensions"]["code"] == "ACCESS_DENIED"
        channel = error["extensions"]["channel"]
        # The refusal is the ledger's membership check, which names the channel:
        assert f"channel {channel} refused the creator" in error["message"]
        assert "OutsiderMSP' is not a member" in error["message"]


def test_a_wallet_without_one_channel_gets_missing_credentials_there_and_data_elsewhere(
    client, data_dir
):
    wallet = wallet_for(data_dir, "acme", channels=("utility", "airline", "commodity", "footprint"))
    answer = graphql(client, BROWSE, wallet)
    assert answer["data"]["shipping"] == {"freightFactors": None}
    assert answer["data"]["utility"]["gridRates"]["items"]
    assert answer["data"]["airline"]["flightFactors"]["items"]
    [error] = answer["errors"]
    assert error["path"] == ["shipping", "freightFactors"]
    assert error["extensions"] == {"code": "MISSING_CREDENTIALS", "channel": "shipping"}


def test_a_customer_sees_only_its_own_audited_records(client, data_dir):
    query = (
        "{ utility { invoices { items { invoiceId } } } "
        "airline { tickets { items { ticketId } } } }"
    )
    acme = graphql(client, query, wallet_for(data_dir, "acme"))["data"]
    globex = graphql(client, query, wallet_for(data_dir, "globex"))["data"]
    acme_ids = {i["invoiceId"] for i in acme["utility"]["invoices"]["items"]}
    globex_ids = {i["invoiceId"] for i in globex["utility"]["invoices"]["items"]}
    assert acme_ids == {"INV-2024-0001", "INV-2024-0002"}
    assert globex_ids == {"INV-2024-0101", "INV-2024-0102"}
    assert {t["ticketId"] for t in acme["airline"]["tickets"]["items"]}.isdisjoint(
        {t["ticketId"] for t in globex["airline"]["tickets"]["items"]}
    )


def test_acme_cannot_use_globex_audited_invoices_in_a_footprint(client, data_dir):
    # Globex's utility 1015 invoices exist, but the channel does not show them to acme: no audited
    # line,
    # and without a grid region there is nothing to calculate from.
    query = "query($i: FootprintInput!) { footprint(input: $i) { lines { basis activity } } }"
    answer = graphql(
        client,
        query,
        wallet_for(data_dir, "acme"),
        {"i": {"electricity": [{"kwh": 10, "utilityId": "1015"}]}},
    )
    assert answer["data"] == {"footprint": None}
    assert answer["errors"][0]["extensions"]["code"] == "BAD_INPUT"
    assert "no audited invoice of utility 1015" in answer["errors"][0]["message"]
    mine = graphql(
        client,
        query,
        wallet_for(data_dir, "globex"),
        {"i": {"electricity": [{"kwh": 10, "utilityId": "1015"}]}},
    )
    assert [line["basis"] for line in mine["data"]["footprint"]["lines"]] == ["AUDITED"]


def test_block_numbers_cost_one_lookup_per_channel_and_then_none(data_dir):
    """`provenance { blockNumber }`: the first footprint asks each channel once for the blocks
    of its factors' transactions; a second, even another caller's, asks none (where a committed
    transaction landed never changes), with the same numbers; a new app asks again."""
    import json
    from pathlib import Path

    from datachannels.gateway.app import create_app
    from datachannels.gateway.settings import Settings
    from starlette.testclient import TestClient

    example = json.loads(
        (Path(__file__).resolve().parent.parent / "docs/examples/footprint.json").read_text()
    )

    def lookups(client, who: str) -> tuple[dict, list]:
        before = connector_calls(client)
        answer = graphql(client, example["query"], wallet_for(data_dir, who), example["variables"])
        assert "errors" not in answer, answer["errors"]
        after = connector_calls(client)
        made = {
            channel: after[(channel, op)] - before.get((channel, op), 0)
            for channel, op in after
            if op == "transaction_blocks" and after[(channel, op)] != before.get((channel, op), 0)
        }
        blocks = [
            line["factor"]["provenance"]["blockNumber"]
            for line in answer["data"]["footprint"]["lines"]
        ]
        return made, blocks

    with TestClient(create_app(Settings(data_dir=data_dir))) as client:
        first, blocks = lookups(client, "acme")
        assert first == {c: 1 for c in ("utility", "shipping", "airline", "commodity")}
        assert all(isinstance(b, int) and b >= 1 for b in blocks)
        assert lookups(client, "acme") == ({}, blocks)
        assert lookups(client, "globex") == ({}, blocks)
    with TestClient(create_app(Settings(data_dir=data_dir))) as client:
        assert lookups(client, "acme") == (first, blocks)


def test_a_known_block_number_is_answered_at_once_and_any_other_is_awaited():
    """A footprint whose block numbers are all known completes without awaiting: the number
    comes back as it is.  Known but not shown in this request, or not known, it is a lookup to
    await (and the lookup itself is the channel's, tested above)."""
    import inspect

    from datachannels.gateway.wallet import EMPTY_WALLET
    from datachannels.resolvers.context import KnownBlocks, RequestContext

    known = KnownBlocks()
    known.put(("airline", "tx-shown"), 7)
    known.put(("airline", "tx-not-shown"), 8)

    async def answers() -> None:
        context = RequestContext(connector=None, wallet=EMPTY_WALLET, known_blocks=known)  # type: ignore[arg-type]
        context.loaders.shown["airline"] = {"tx-shown", "tx-unknown"}
        assert context.block_number("airline", "tx-shown") == 7
        asked = (("airline", "tx-not-shown"), ("airline", "tx-unknown"), ("utility", "tx-shown"))
        for channel, tx_id in asked:
            pending = context.block_number(channel, tx_id)
            assert inspect.isawaitable(pending), (channel, tx_id)
            pending.cancel()  # type: ignore[union-attr]  (the loader's future, never dispatched)

    asyncio.run(answers())


def test_a_block_number_known_to_the_app_is_no_answer_for_a_caller_never_shown_it(data_dir):
    """A published footprint quotes its factors' txIds. A reader of the footprint channel alone
    asking their block numbers is asked of the source channels as itself, as before any cache:
    without a credential there, MISSING_CREDENTIALS, even though the app knows the numbers
    from another caller's footprint."""
    import json
    from pathlib import Path

    from datachannels.gateway.app import create_app
    from datachannels.gateway.settings import Settings
    from starlette.testclient import TestClient

    example = json.loads(
        (Path(__file__).resolve().parent.parent / "docs/examples/footprint.json").read_text()
    )
    publish = "mutation($input: FootprintInput!) { publishFootprint(input: $input) { id } }"
    read_back = (
        "query($id: ID!) { publishedFootprint(id: $id) { footprint { lines { channel "
        "factor { provenance { txId blockNumber } } } } } }"
    )
    with TestClient(create_app(Settings(data_dir=data_dir))) as client:
        acme = wallet_for(data_dir, "acme")
        computed = graphql(client, example["query"], acme, example["variables"])
        assert "errors" not in computed  # the app now knows every factor's block
        published = graphql(client, publish, acme, example["variables"])
        footprint_id = published["data"]["publishFootprint"]["id"]
        own = graphql(client, read_back, acme, {"id": footprint_id})
        assert "errors" not in own, own["errors"]
        footprint_only = wallet_for(data_dir, "globex", channels=("footprint",))
        other = graphql(client, read_back, footprint_only, {"id": footprint_id})
        lines = other["data"]["publishedFootprint"]["footprint"]["lines"]
        assert lines and all(
            line["factor"]["provenance"]["blockNumber"] is None for line in lines
        ), lines
        assert {e["extensions"]["code"] for e in other["errors"]} == {"MISSING_CREDENTIALS"}


def test_a_hundred_activities_across_four_channels_make_one_call_per_channel(client, data_dir):
    activities = {
        "electricity": [
            {"kwh": 100 + i, "gridRegion": ["CAMX", "ERCT", "NYUP"][i % 3]} for i in range(25)
        ],
        "freight": [
            {"mode": ["SEA", "ROAD", "RAIL"][i % 3], "tonnes": 1 + i, "km": 100 + i}
            for i in range(25)
        ],
        "flights": [
            {"origin": "LHR", "destination": ["JFK", "CDG", "EDI", "SFO"][i % 4]} for i in range(25)
        ],
        "purchases": [
            {"naics": ["331110", "484121", "211130"][i % 3], "amountUsd": 1000 + i}
            for i in range(25)
        ],
    }
    before = connector_calls(client)
    query = "query($i: FootprintInput!) { footprint(input: $i) { totalKgCO2e lines { kgCO2e } } }"
    answer = graphql(client, query, wallet_for(data_dir, "acme"), {"i": activities})
    assert "errors" not in answer, answer.get("errors")
    assert len(answer["data"]["footprint"]["lines"]) == 100
    after = connector_calls(client)
    made = {
        key: after[key] - before.get(key, 0) for key in after if after[key] != before.get(key, 0)
    }
    assert made == {
        ("utility", "evaluate"): 1,
        ("shipping", "evaluate"): 1,
        ("airline", "evaluate"): 1,
        ("commodity", "evaluate"): 1,
    }


def test_bad_input_names_the_field_and_the_allowed_values(client, data_dir):
    query = "query($i: FootprintInput!) { footprint(input: $i) { totalKgCO2e } }"
    wallet = wallet_for(data_dir, "acme")
    cases = [
        (
            {"electricity": [{"kwh": 1, "gridRegion": "CAMX", "year": 2019}]},
            "electricity[0].year",
            "years: 2023",
        ),
        (
            {"freight": [{"mode": "SEA", "tonnes": 1, "km": 1, "vehicle": "containr ship"}]},
            "freight[0].vehicle",
            "Container ship",
        ),
        (
            {"flights": [{"origin": "LHX", "destination": "JFK"}]},
            "flights[0].origin",
            "close matches",
        ),
        (
            {"freight": [{"mode": "ROAD", "tonnes": 1, "origin": "GBFXT", "destination": "GBBHM"}]},
            "freight[0].km",
            "needs km",
        ),
        (
            {"electricity": [{"kwh": -5, "gridRegion": "CAMX"}]},
            "electricity[0].kwh",
            "non-negative",
        ),
    ]
    for variables, field, hint in cases:
        answer = graphql(client, query, wallet, {"i": variables})
        [error] = answer["errors"]
        assert error["extensions"] == {"code": "BAD_INPUT", "field": field}, error
        assert hint in error["message"], error["message"]


def test_an_unexpected_failure_is_masked_without_a_stack_trace(
    client, data_dir, monkeypatch, caplog
):
    from datachannels.resolvers import engine

    def explode(*args, **kwargs):
        raise RuntimeError("secret internals /etc/passwd")

    monkeypatch.setattr(engine, "compute", explode)
    query = "query($i: FootprintInput!) { footprint(input: $i) { totalKgCO2e } }"
    answer = graphql(
        client,
        query,
        wallet_for(data_dir, "acme"),
        {"i": {"electricity": [{"kwh": 1, "gridRegion": "CAMX"}]}},
    )
    [error] = answer["errors"]
    error_id = error["extensions"]["errorId"]
    assert error["message"] == f"Internal error (id {error_id})"
    assert error["extensions"] == {"code": "INTERNAL", "errorId": error_id}
    assert "secret internals" not in json.dumps(answer) and "Traceback" not in json.dumps(answer)
    # The server's log has the same id, with what happened.
    [record] = [r for r in caplog.records if error_id in r.getMessage()]
    assert record.exc_info and "secret internals" in str(record.exc_info[1])


def test_input_that_does_not_fit_the_schema_is_bad_input_with_graphqls_own_message(
    client, data_dir
):
    query = "query($i: FootprintInput!) { footprint(input: $i) { totalKgCO2e } }"
    wallet = wallet_for(data_dir, "acme")
    for variables, hint in (
        ({"electricity": [{"kwh": "1000", "gridRegion": "CAMX"}]}, "Float cannot represent"),
        ({"freight": [{"mode": "sea", "tonnes": 1, "km": 1}]}, "SEA"),
    ):
        [error] = graphql(client, query, wallet, {"i": variables})["errors"]
        assert error["extensions"]["code"] == "BAD_INPUT"
        assert hint in error["message"]
    [error] = graphql(client, "{ footprnt { totalKgCO2e } }", wallet)["errors"]
    assert error["extensions"]["code"] == "BAD_INPUT" and "footprnt" in error["message"]


def test_a_missing_published_footprint_is_not_found(client, data_dir):
    answer = graphql(
        client, '{ publishedFootprint(id: "0000") { id } }', wallet_for(data_dir, "acme")
    )
    assert answer["data"] == {"publishedFootprint": None}
    assert answer["errors"][0]["extensions"] == {"code": "NOT_FOUND", "channel": "footprint"}


def test_channels_show_a_refusal_as_reachable_but_not_admitted(client, data_dir):
    answer = graphql(
        client, "{ channels { name reachable height errorCode } }", wallet_for(data_dir, "outsider")
    )
    assert {(c["reachable"], c["height"], c["errorCode"]) for c in answer["data"]["channels"]} == {
        (True, None, "ACCESS_DENIED")
    }


def test_the_schema_has_no_cycles_so_query_depth_is_bounded():
    """The reason the gateway needs no depth limiter: no type reaches itself again."""
    from datachannels.schema import schema
    from graphql import GraphQLList, GraphQLNonNull, GraphQLObjectType

    def named(t):
        while isinstance(t, (GraphQLList, GraphQLNonNull)):
            t = t.of_type
        return t

    def depth(t, seen: tuple) -> int:
        assert t.name not in seen, f"cycle through {t.name}"
        children = [named(f.type) for f in t.fields.values()]
        return 1 + max(
            (depth(c, (*seen, t.name)) for c in children if isinstance(c, GraphQLObjectType)),
            default=0,
        )

    gql = schema._schema
    assert depth(gql.query_type, ()) <= 8 and depth(gql.mutation_type, ()) <= 8


def test_an_oversized_query_is_refused(client, data_dir):
    query = "{ " + " ".join(f"a{i}: channels {{ name }}" for i in range(5000)) + " }"
    response = client.post(
        "/graphql", json={"query": query}, headers={"X-Wallet": wallet_for(data_dir, "acme")}
    )
    assert "errors" in response.json()


def test_your_own_records_means_your_organisations_even_for_the_auditor(client, data_dir):
    """The auditor may read every customer's records on the channel, but "your own" pulls none of
    them in.
    """
    auditor = wallet_for(data_dir, "auditor")
    query = "query($i: FootprintInput!) { footprint(input: $i) { totalKgCO2e lines { activity } } }"
    answer = graphql(client, query, auditor, {"i": {"fromChannels": True}})
    assert answer["data"]["footprint"] == {"totalKgCO2e": 0.0, "lines": []}
    invoices = graphql(client, "{ utility { invoices { items { invoiceId } } } }", auditor)
    assert invoices["data"]["utility"]["invoices"]["items"] == []
    acme = graphql(client, query, wallet_for(data_dir, "acme"), {"i": {"fromChannels": True}})
    assert acme["data"]["footprint"]["lines"] and all(
        "(audited)" in line["activity"] for line in acme["data"]["footprint"]["lines"]
    )


def test_a_footprint_reads_only_the_rows_it_needs_and_widens_only_on_a_miss(
    client, data_dir, monkeypatch
):
    from datachannels.resolvers import engine

    request = engine.FootprintRequest(
        freight=(engine.FreightActivity("sea", tonnes=5, km=100, vehicle="container ship"),),
        flights=(engine.FlightActivity("LHR", "JFK", "economy"),),
        purchases=(engine.PurchaseActivity(amount_usd=1000, naics="331110"),),
    )
    wanted = engine.needs(request)
    assert wanted["shipping"] == [
        engine.query_need(
            {
                "kind": "freight_factor",
                "attributes": ["sea"],
                "matches": {"vehicle": "container ship"},
            }
        )
    ]
    assert wanted["airline"] == [
        engine.query_need({"kind": "flight_factor", "attributes": ["long_haul"]})
    ]
    assert wanted["commodity"] == [
        ("key", "spend_factor/331/331110")
    ]  # its subsector only on a miss

    query = "query($i: FootprintInput!) { footprint(input: $i) { totalKgCO2e } }"
    wallet = wallet_for(data_dir, "acme")
    before = connector_calls(client)
    [error] = graphql(
        client,
        query,
        wallet,
        {"i": {"freight": [{"mode": "SEA", "tonnes": 1, "km": 1, "vehicle": "containr ship"}]}},
    )["errors"]
    assert (
        "Container ship" in error["message"]
    )  # the close matches come from the mode's every vehicle
    after = connector_calls(client)
    assert (
        after[("shipping", "evaluate")] - before.get(("shipping", "evaluate"), 0) == 2
    )  # the vehicle, then the mode


def test_working_out_the_needs_of_unknown_airports_looks_for_no_close_matches(monkeypatch):
    # needs() runs before compute() refuses the first unknown airport; it must not look for
    # close matches (a scan of every airport name, ~10 ms) once per flight of a large request.
    from datachannels.resolvers import engine, geo

    def scan(*args, **kwargs):
        raise AssertionError("needs() looked for close matches")

    monkeypatch.setattr(geo, "close_matches", scan)
    flights = tuple(engine.FlightActivity(f"Q{i % 26:02d}", "JFK", "economy") for i in range(200))
    wanted = engine.needs(
        engine.FootprintRequest(flights=(*flights, engine.FlightActivity("LHR", "JFK", "economy")))
    )
    assert wanted["airline"] == [
        engine.query_need({"kind": "flight_factor", "attributes": ["long_haul"]})
    ]


def test_the_engine_derives_keys_and_compares_names_as_the_contracts_do():
    # The engine keeps its own copies so it need not import the chaincode library; a narrow read
    # built with a copy that drifted would miss and fall back to the wide one.
    from datachannels.chaincode.records import fold_text
    from datachannels.chaincode.validation import slug
    from datachannels.resolvers.engine import records as engine

    for text in (
        "Plastics: PET (incl. forming)",
        "  Container   ship ",
        "Aluminium cans and foil",
        "ÉTÉ ß",
        "a--b__c",
    ):
        assert engine._slug(text) == slug(text)
        assert engine._norm(text) == fold_text(text)


def test_a_failing_footprint_costs_only_itself_its_siblings_are_served(client, data_dir):
    query = (
        "query($bad: FootprintInput!, $good: FootprintInput!) { channels { name } "
        "bad: footprint(input: $bad) { totalKgCO2e } "
        "good: footprint(input: $good) { totalKgCO2e } }"
    )
    answer = graphql(
        client,
        query,
        wallet_for(data_dir, "acme"),
        {
            "bad": {"electricity": [{"kwh": 10, "gridRegion": "NOWHERE"}]},
            "good": {"electricity": [{"kwh": 1000, "gridRegion": "CAMX"}]},
        },
    )
    assert answer["data"]["bad"] is None
    assert answer["data"]["good"]["totalKgCO2e"] > 0
    assert [c["name"] for c in answer["data"]["channels"]][:1] == ["utility"]
    [error] = answer["errors"]
    assert error["path"] == ["bad"] and error["extensions"]["code"] == "BAD_INPUT"


def test_footprint_inputs_and_the_engines_activities_have_the_same_fields():
    """schema/footprint.py converts each activity by name: every input field of the SDL must
    be an engine field under the same (camel-cased) name, and no engine field may be missing
    from the SDL, or a value would be dropped or refused without a word."""
    from datachannels.schema import schema
    from datachannels.schema.footprint import _ACTIVITIES, _FIELDS

    types = schema._schema.type_map
    inputs = {
        "electricity": "ElectricityActivity",
        "freight": "FreightActivity",
        "flights": "FlightActivity",
        "purchases": "PurchaseActivity",
        "upstream": "UpstreamFootprint",
    }
    assert set(inputs) == set(_ACTIVITIES)
    for name, graphql_type in inputs.items():
        declared = set(types[graphql_type].fields)
        converted = {graphql for graphql, _, _ in _FIELDS[_ACTIVITIES[name]]}
        assert declared == converted, (graphql_type, declared ^ converted)
    assert set(types["FootprintInput"].fields) == {*inputs, "fromChannels"}


def test_an_omitted_activity_field_and_an_explicit_null_give_one_request():
    """schema/footprint.py takes a null as the engine's default, as an omitted field gets it:
    the same request (and inputs hash) either way, through graphql-core's coercion."""
    from datachannels.resolvers import engine
    from datachannels.schema import schema

    query = "query($i: FootprintInput!) { footprint(input: $i) { totalKgCO2e } }"
    seen: list[engine.FootprintRequest] = []

    class Recorder:  # the request context, as far as `footprint` needs one
        max_activities = 1000

        async def compute_footprint(self, request):
            seen.append(request)
            raise RuntimeError("recorded")

    nulls = {
        "flights": [
            {
                "origin": "LHR",
                "destination": "JFK",
                "cabinClass": None,
                "passengers": None,
                "radiativeForcing": None,
            }
        ],
        "freight": [{"mode": "SEA", "tonnes": 1, "km": 10, "vehicle": None}],
        "electricity": [{"kwh": 5, "year": None, "gridRegion": "CAMX"}],
        "fromChannels": None,
    }
    omitted = {
        "flights": [{"origin": "LHR", "destination": "JFK"}],
        "freight": [{"mode": "SEA", "tonnes": 1, "km": 10}],
        "electricity": [{"kwh": 5, "gridRegion": "CAMX"}],
    }
    import asyncio

    for variables in (nulls, omitted):
        asyncio.run(
            schema.execute(query, variable_values={"i": variables}, context_value=Recorder())
        )
    assert len(seen) == 2 and seen[0] == seen[1]
    flight = seen[0].flights[0]
    assert (flight.cabin_class, flight.passengers, flight.radiative_forcing) == ("average", 1, True)
    assert seen[0].freight[0].mode == "sea" and seen[0].inputs_hash() == seen[1].inputs_hash()


def test_plain_fields_completed_directly_answer_as_graphql_core_would(data_dir):
    """schema/execution.py reads plain scalar fields itself: every answer, errors and nulls
    included, must be byte for byte what graphql-core's own field execution gives."""
    import json
    from pathlib import Path

    from datachannels.gateway.app import create_app
    from datachannels.gateway.settings import Settings
    from datachannels.schema import schema
    from datachannels.schema.execution import PlainFieldsExecution
    from starlette.testclient import TestClient
    from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

    example = json.loads(
        (Path(__file__).resolve().parent.parent / "docs/examples/footprint.json").read_text()
    )
    bad = {**example["variables"]["input"], "flights": [{"origin": "LHR", "destination": "XXX"}]}
    bodies = [
        example,
        {"query": example["query"], "variables": {"input": bad}},
        {"query": "{ channels { name reachable height errorCode } }"},
        {"query": BROWSE},
        {
            "query": "{ utility { gridRates(first: 3) { items { region co2LbPerMwh "
            "provenance { txId sourceRow blockNumber } } nextCursor } } }"
        },
    ]
    wallets = [wallet_for(data_dir, "acme"), wallet_for(data_dir, "outsider")]
    answers: dict[type, list[bytes]] = {}
    try:
        for cls in (PlainFieldsExecution, StrawberryGraphQLCoreExecutionContext):
            schema.execution_context_class = cls
            with TestClient(create_app(Settings(data_dir=data_dir))) as client:
                answers[cls] = [
                    client.post("/graphql", json=body, headers={"X-Wallet": w}).content
                    for body in bodies
                    for w in wallets
                ]
    finally:
        schema.execution_context_class = PlainFieldsExecution
    direct, general = answers.values()
    assert direct == general
    assert any(b'"errors"' in answer for answer in direct)  # errors were among them
    from datachannels.schema.execution import plans_of

    planned = {(kind.name, name) for (kind, name), plan in plans_of(schema._schema).items() if plan}
    assert ("FootprintLine", "kgCO2e") in planned and ("Factor", "unit") in planned

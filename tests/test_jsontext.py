"""gateway/jsontext.py: orjson's speed, the json module's values."""

from __future__ import annotations

import json

import pytest
from datachannels.gateway import jsontext
from hypothesis import given
from hypothesis import strategies as st

values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()  # of any size: orjson alone would round one past 64 bits
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


@given(values)
def test_decoding_gives_what_the_json_module_gives(value):
    text = json.dumps(value, ensure_ascii=False)
    decoded = jsontext.loads(text)
    assert decoded == json.loads(text)
    assert json.dumps(decoded) == json.dumps(json.loads(text))  # int stays int, float float
    assert jsontext.loads(text.encode()) == decoded


@given(values)
def test_encoding_round_trips(value):
    assert json.loads(jsontext.dumps(value)) == value


def test_integers_past_64_bits_keep_every_digit():
    for number in (2**64, -(2**63) - 1, 10**30, 18446744073709551615):
        text = f'{{"kwh": {number}, "ok": [1.5, "0002240000000000000000abc"]}}'
        assert jsontext.loads(text) == {"kwh": number, "ok": [1.5, "0002240000000000000000abc"]}
        assert type(jsontext.loads(text)["kwh"]) is int


@pytest.mark.parametrize("text", ["NaN", '{"a": Infinity}', '"\\ud800"', "{", "[1,]", ""])
def test_what_is_not_json_is_refused(text):
    with pytest.raises(ValueError):
        jsontext.loads(text)

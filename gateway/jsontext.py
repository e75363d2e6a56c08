"""JSON in the gateway's hot path: orjson, with the json module's results.

orjson decodes the channels' answers (about 20 KB a README footprint) and the wallet header
about four times faster than the json module, and encodes a response up to fifteen times
faster (docs/performance.md).  Where the two would differ, the json module's answer is kept:

* an integer literal of 19 digits or more may not fit orjson's 64 bits, which it turns into a
  float without a word (18446744073709551616 becomes 1.8446744073709552e+19), so text holding
  one is decoded by the json module instead, exactly;
* orjson refuses what is not JSON that the json module lets through (NaN, Infinity, lone
  surrogates): such text is no answer of a contract's nor a wallet of ours;
* a value orjson cannot encode (none that GraphQL's serialisers produce) is encoded by the json
  module.

Floats are read alike: orjson's parser gave the same double as `float()` for 600,000 random
decimal texts (shortest forms and 30-digit mantissas) on orjson 3.13.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

# An integer literal that may not fit 64 bits: 19 digits or more, not part of a fraction, an
# exponent or a longer word (a digit run inside a string only costs the slower decode).
_LONG_INTEGER = re.compile(rb"(?<![\w.+])-?[0-9]{19,}(?![\w.])")


def loads(text: str | bytes) -> Any:
    """JSON text's value, as `json.loads` gives it; ValueError for what is not JSON."""
    raw = text.encode() if isinstance(text, str) else text
    value = orjson.loads(raw)
    if _LONG_INTEGER.search(raw):
        return json.loads(raw)
    return value


def dumps(value: object) -> bytes:
    """Compact UTF-8 JSON."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()

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
from typing import Any

import orjson

# Each byte as a class, for `_may_hold_long_integer`: a digit "0", a letter or "_" "a", the
# point and the signs themselves, anything else a space.
_TABLE = bytearray(b" " * 256)
for _byte in b"0123456789":
    _TABLE[_byte] = ord("0")
for _byte in b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_":
    _TABLE[_byte] = ord("a")
for _byte in b".+-":
    _TABLE[_byte] = _byte
_CLASSES = bytes(_TABLE)
_RUN = b"0" * 19


def loads(text: str | bytes) -> Any:
    """JSON text's value, as `json.loads` gives it; ValueError for what is not JSON."""
    raw = text.encode() if isinstance(text, str) else text
    value = orjson.loads(raw)
    if _may_hold_long_integer(raw):
        return json.loads(raw)
    return value


def _may_hold_long_integer(raw: bytes) -> bool:
    """Whether the text may hold an integer literal of 19 digits or more: a run of 19 digits
    that starts the text or follows anything but a point, a sign after a letter (an exponent)
    or a word's letter.  A fraction's long run (0.0001511744966442953) is no integer; a run
    inside a string may pass, which only costs the slower decode.  By byte classes and
    `bytes.find`: a regular expression made this check cost several times the decode."""
    classes = b" " + raw.translate(_CLASSES)  # the text's start counts as a space
    return b" " + _RUN in classes or b" -" + _RUN in classes


def dumps(value: object) -> bytes:
    """Compact UTF-8 JSON."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()

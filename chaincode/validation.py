"""Field-by-field validation of record payloads, with errors a person can act on.

A schema is a table of `Field`s; `validate` checks a payload against it and
raises `BAD_INPUT` naming the record kind, the field, what is allowed and what
was given.  Unknown fields are refused too, so a typo never slips onto an
immutable ledger.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .shim import bad_input

IDENTIFIER = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$"
MSP_ID = r"^[A-Za-z][A-Za-z0-9_.\-]{0,63}$"
IATA = r"^[A-Z]{3}$"
UNLOCODE = r"^[A-Z]{2}[A-Z2-9]{3}$"
NAICS6 = r"^[0-9]{6}$"
SHA256_HEX = r"^[0-9a-f]{64}$"
RECORD_KEY = r"^[a-z_]+(/[^/\x00]+)+$"


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # number | integer | string | date | boolean | object
    required: bool = True
    nullable: bool = False
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] | None = None
    pattern: str | None = None
    max_length: int = 500


@dataclass(frozen=True)
class RecordSchema:
    """The shape of one kind of record, and how its composite key is derived."""

    kind: str
    fields: tuple[Field, ...]
    key: Callable[[dict[str, Any]], tuple[str, ...]]
    audited: bool = False  # True: readable by its customer and the auditors only
    checks: tuple[Callable[[dict[str, Any]], str | None], ...] = field(default=())
    # Text fields whose `matches` queries read an index of the records by their folded value
    # (chaincode/records.py, MATCH_INDEX) instead of every record under the query's key prefix.
    # Public kinds only: an audited kind's records are each one customer's.
    match_index: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        texts = {f.name for f in self.fields if f.type == "string"}
        if self.audited and self.match_index:
            raise ValueError(f"{self.kind}: an audited kind has no match index")
        if not set(self.match_index) <= texts:
            raise ValueError(f"{self.kind}: a match index is of text fields of the kind")

    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def validate(schema: RecordSchema, payload: Any, where: str = "") -> dict[str, Any]:
    """The payload, checked; raises BAD_INPUT on the first problem."""
    label = f"{where}{schema.kind}"
    if not isinstance(payload, dict):
        raise bad_input(f"{label}: payload must be a JSON object")
    known = {f.name for f in schema.fields}
    unknown = sorted(set(payload) - known)
    if unknown:
        raise bad_input(
            f"{label}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(known))}"
        )
    for spec in schema.fields:
        if spec.name not in payload:
            if spec.required:
                raise bad_input(f"{label}.{spec.name} is required")
            continue
        _check_field(label, spec, payload[spec.name])
    for check in schema.checks:
        problem = check(payload)
        if problem:
            raise bad_input(f"{label}: {problem}")
    return payload


def _check_field(label: str, spec: Field, value: Any) -> None:
    name = f"{label}.{spec.name}"
    if value is None:
        if not spec.nullable:
            raise bad_input(f"{name} must not be null")
        return
    if spec.type in ("number", "integer"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            article = "an" if spec.type == "integer" else "a"
            raise bad_input(f"{name} must be {article} {spec.type}, got {type(value).__name__}")
        if spec.type == "integer" and not isinstance(value, int):
            raise bad_input(f"{name} must be an integer, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise bad_input(f"{name} must be finite")
        if spec.minimum is not None and value < spec.minimum:
            raise bad_input(f"{name} must be ≥ {spec.minimum:g}, got {value!r}")
        if spec.maximum is not None and value > spec.maximum:
            raise bad_input(f"{name} must be ≤ {spec.maximum:g}, got {value!r}")
    elif spec.type == "string":
        if not isinstance(value, str):
            raise bad_input(f"{name} must be a string, got {type(value).__name__}")
        if not value.strip():
            raise bad_input(f"{name} must not be empty")
        if len(value) > spec.max_length:
            raise bad_input(f"{name} is longer than {spec.max_length} characters")
        if spec.pattern and not re.fullmatch(spec.pattern, value):
            raise bad_input(f"{name} {value!r} does not match {spec.pattern}")
    elif spec.type == "date":
        if not isinstance(value, str):
            raise bad_input(f"{name} must be a date YYYY-MM-DD")
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            raise bad_input(f"{name} must be a date YYYY-MM-DD, got {value!r}") from None
        if not dt.date(1990, 1, 1) <= day <= dt.date(2100, 12, 31):
            raise bad_input(f"{name} {value} is outside 1990-01-01 … 2100-12-31")
    elif spec.type == "boolean":
        if not isinstance(value, bool):
            raise bad_input(f"{name} must be true or false")
    elif spec.type == "object":
        if not isinstance(value, dict):
            raise bad_input(f"{name} must be a JSON object")
    else:  # pragma: no cover - a schema bug, not an input error
        raise AssertionError(f"unknown field type {spec.type}")
    if spec.choices is not None and value not in spec.choices:
        allowed = ", ".join(str(c) for c in spec.choices)
        raise bad_input(f"{name} {value!r} is not one of: {allowed}")


def number(
    name: str,
    *,
    minimum: float | None = 0,
    maximum: float | None = None,
    required: bool = True,
    nullable: bool = False,
) -> Field:
    return Field(
        name, "number", required=required, nullable=nullable, minimum=minimum, maximum=maximum
    )


def text(
    name: str,
    *,
    pattern: str | None = None,
    choices: tuple[Any, ...] | None = None,
    required: bool = True,
    nullable: bool = False,
) -> Field:
    return Field(
        name, "string", required=required, nullable=nullable, pattern=pattern, choices=choices
    )


def period_in_order(start: str, end: str) -> Callable[[dict[str, Any]], str | None]:
    def check(payload: dict[str, Any]) -> str | None:
        if payload.get(start) and payload.get(end) and payload[end] < payload[start]:
            return f"{end} {payload[end]} is before {start} {payload[start]}"
        return None

    return check


def one_of_required(*names: str) -> Callable[[dict[str, Any]], str | None]:
    def check(payload: dict[str, Any]) -> str | None:
        if not any(payload.get(n) is not None for n in names):
            return f"one of {', '.join(names)} is required"
        return None

    return check


# Fields every record carries in `source`: where in which document its numbers stand.
SOURCE_SCHEMA = RecordSchema(
    kind="source",
    fields=(
        text("dataset"),
        text("edition"),
        text("file", nullable=True),
        text("sha256", pattern=SHA256_HEX),
        text("row"),
        text("sheet", required=False, nullable=True),
    ),
    key=lambda p: (),
)

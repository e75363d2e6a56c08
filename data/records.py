"""The factor record every reader in this package makes, and the source file it cites.

Every file read here is an unmodified copy of a published source (see
``SOURCES.md`` beside this module). The readers never round: each payload holds
the cell values exactly as the source stores them, and each record's ``source``
names the file, its sha256 (computed from the bytes that were parsed), the
sheet and the source's own row identifier, so an auditor can find the cell.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

__all__ = [
    "CHANNELS",
    "DATA_DIR",
    "Source",
    "SourceFile",
    "SourceRecord",
    "canonical_json",
    "cell_text",
    "expect",
    "is_number",
    "slug",
]

DATA_DIR = Path(__file__).resolve().parent
CHANNELS = ("utility", "shipping", "airline", "commodity")


@dataclass(frozen=True)
class SourceRecord:
    """One record for a source channel.

    ``payload`` is JSON-serialisable and holds exact source values. ``source``
    is ``{"dataset", "edition", "file", "sha256", "row", "sheet"}``. Records
    compare equal when all fields are equal; the hash uses channel, kind and
    attributes only, because dicts are not hashable.
    """

    channel: str
    kind: str
    attributes: tuple[str, ...]
    payload: dict[str, Any] = field(hash=False)
    source: dict[str, Any] = field(hash=False)

    def __post_init__(self) -> None:
        if self.channel not in CHANNELS:
            raise ValueError(f"unknown channel {self.channel!r}")
        _check_key_part(self.kind, "kind")
        if not isinstance(self.attributes, tuple) or not self.attributes:
            raise ValueError("attributes must be a non-empty tuple of strings")
        for part in self.attributes:
            _check_key_part(part, "attribute")

    @property
    def key(self) -> tuple[str, ...]:
        """The composite key on the channel: ``(kind, *attributes)``."""
        return (self.kind, *self.attributes)


def _check_key_part(value: object, what: str) -> None:
    if not isinstance(value, str) or not value or "\x00" in value:
        raise ValueError(f"{what} must be a non-empty string without NUL, got {value!r}")


def slug(text: str) -> str:
    """Lower-case ``text`` and collapse every run of non-alphanumerics to ``_``.

    >>> slug("Plastics: HDPE (incl. forming)")
    'plastics_hdpe_incl_forming'
    """
    result = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    if not result:
        raise ValueError(f"{text!r} has no letters or digits to make a slug from")
    return result


def canonical_json(payload: dict[str, Any]) -> bytes:
    """The canonical JSON of a payload: sorted keys, no spaces, UTF-8, no NaN."""
    return json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


@dataclass(frozen=True)
class Source:
    """A published file in this folder and how its records cite it."""

    file: str
    dataset: str
    edition: str

    def read(self, data_dir: Path) -> SourceFile:
        content = (data_dir / self.file).read_bytes()
        return SourceFile(
            self.file, content, hashlib.sha256(content).hexdigest(), self.dataset, self.edition
        )


@dataclass(frozen=True)
class SourceFile:
    """A source file read into memory once, so the hash covers the parsed bytes."""

    name: str
    content: bytes
    sha256: str
    dataset: str
    edition: str

    def source(self, row: str, sheet: str | None) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "edition": self.edition,
            "file": self.name,
            "sha256": self.sha256,
            "row": row,
            "sheet": sheet,
        }

    def workbook(self) -> Any:
        """The workbook of these bytes, cell values only; the caller closes it."""
        return load_workbook(io.BytesIO(self.content), read_only=True, data_only=True)

    def csv_rows(self) -> Iterator[list[str]]:
        """The rows of these bytes as CSV text (UTF-8, with or without a BOM)."""
        return csv.reader(io.StringIO(self.content.decode("utf-8-sig"), newline=""))


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def cell_text(value: object) -> str | None:
    """A cell's text exactly as stored, or None for an empty or blank cell."""
    if value is None:
        return None
    text = str(value)
    return text if text.strip() else None


def expect(condition: bool, message: str) -> None:
    """Fail loudly when a source file does not have the layout its reader expects."""
    if not condition:
        raise ValueError(message)

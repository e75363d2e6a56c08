"""Real, openly licensed emissions-factor data and its readers (see SOURCES.md)."""

from __future__ import annotations

from .demo import demo_audited_records
from .loader import load_factor_records
from .records import SourceRecord

__all__ = ["SourceRecord", "demo_audited_records", "load_factor_records"]

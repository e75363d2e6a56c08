"""Real, openly licensed emissions-factor data and its loader (see SOURCES.md)."""

from __future__ import annotations

from .loader import SourceRecord, demo_audited_records, load_factor_records

__all__ = ["SourceRecord", "demo_audited_records", "load_factor_records"]

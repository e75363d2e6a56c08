"""Parsed and validated documents, shared across requests, bounded by memory rather than count.

strawberry's ParserCache and ValidationCache bound the number of entries, not their size, and
a parsed document costs about 100 bytes of memory per byte of query text (measured with
tracemalloc: 104 for the README footprint query, 82 for a 100 KB one).  256 entries of
distinct 1 MiB queries could therefore hold gigabytes.  `DocumentCache` keeps one LRU of
query text → (document, validation results), charges each entry 100 × its text length, and
drops the least recently used past `max_bytes`.  A query longer than `max_entry_bytes` is
parsed and validated every time and never kept: real clients send the same small documents
again and again, and a large one is almost always a one-off (or an attack).

Only query text and graphql-core's own structures are kept: never variables, never a wallet.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from graphql import DocumentNode, GraphQLError, parse
from strawberry.extensions import SchemaExtension

# Bytes of memory per byte of query text, for a parsed document (see the module doc).
DOCUMENT_BYTES_PER_CHARACTER = 100
DEFAULT_MAX_BYTES = 32 * 1024 * 1024
DEFAULT_MAX_ENTRY_BYTES = 16 * 1024


@dataclass
class _Entry:
    document: DocumentNode
    cost: int
    validated: dict[tuple[Any, ...], list[GraphQLError]] = field(default_factory=dict)


class _DocumentLRU:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.used = 0
        self._entries: OrderedDict[tuple[Any, ...], _Entry] = OrderedDict()
        self._lock = threading.Lock()  # uvicorn runs one event loop, but tests use threads

    def get(self, key: tuple[Any, ...]) -> _Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: tuple[Any, ...], entry: _Entry) -> None:
        with self._lock:
            if key in self._entries:
                return
            self._entries[key] = entry
            self.used += entry.cost
            while self.used > self.max_bytes and self._entries:
                _, dropped = self._entries.popitem(last=False)
                self.used -= dropped.cost

    def __len__(self) -> int:
        return len(self._entries)


# One per process, shared by every request and both schemas (validation results are keyed by
# the schema and its rules).
DOCUMENTS = _DocumentLRU(DEFAULT_MAX_BYTES)


class DocumentCache(SchemaExtension):
    def __init__(self, max_entry_bytes: int = DEFAULT_MAX_ENTRY_BYTES) -> None:
        super().__init__()
        self._max_entry = max_entry_bytes
        self._entry: _Entry | None = None

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        query = context.query or ""
        options = context.parse_options
        if len(query) > self._max_entry:
            context.graphql_document = parse(query, **options)
            yield
            return
        key = (query, tuple(sorted(options.items())))
        entry = DOCUMENTS.get(key)
        if entry is None:
            # A document that does not parse raises here, as parse() would, and is not kept.
            entry = _Entry(parse(query, **options), DOCUMENT_BYTES_PER_CHARACTER * len(query))
            DOCUMENTS.put(key, entry)
        self._entry = entry
        context.graphql_document = entry.document
        yield

    def on_validate(self) -> Iterator[None]:
        from strawberry.schema.schema import validate_document

        context = self.execution_context
        schema = context.schema._schema
        rules = tuple(context.validation_rules)
        entry = self._entry
        key = (schema, rules)
        errors = entry.validated.get(key) if entry is not None else None
        if errors is None:
            assert context.graphql_document is not None  # validation runs after a parse
            errors = validate_document(schema, context.graphql_document, rules)
            if entry is not None:
                entry.validated[key] = errors
        context.pre_execution_errors = errors
        yield

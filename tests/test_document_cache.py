"""The shared document cache: hits for repeated queries, a memory bound for distinct ones."""

from __future__ import annotations

from pathlib import Path

from datachannels.gateway.app import create_app
from datachannels.gateway.settings import Settings
from datachannels.schema import caches
from starlette.testclient import TestClient


def _client(data_dir: Path, **settings: object) -> TestClient:
    return TestClient(create_app(Settings.from_env(data_dir=data_dir, **settings)))


def _padded(n: int, size: int) -> str:
    """A distinct valid query of about `size` characters (a comment pads it)."""
    head = f"{{ channels {{ name }} }} # {n} "
    return head + "x" * (size - len(head))


def test_a_repeated_query_is_parsed_and_validated_once(data_dir: Path):
    query = "{ channels { name height } } # repeated"
    with _client(data_dir) as client:
        client.post("/graphql", json={"query": query})
        key = (query, (("max_tokens", 20000),))
        entry = caches.DOCUMENTS.get(key)
        assert entry is not None and len(entry.validated) == 1
        document = entry.document
        client.post("/graphql", json={"query": query})
        again = caches.DOCUMENTS.get(key)
        assert again is not None and again.document is document and len(again.validated) == 1


def test_distinct_queries_stay_within_the_memory_bound(data_dir: Path):
    size = caches.DEFAULT_MAX_ENTRY_BYTES - 100
    per_entry = caches.DOCUMENT_BYTES_PER_CHARACTER * size
    with _client(data_dir, max_body_bytes=4 * 1024 * 1024) as client:
        for n in range(2 * caches.DEFAULT_MAX_BYTES // per_entry):
            response = client.post("/graphql", json={"query": _padded(n, size)})
            assert response.status_code == 200 and "errors" not in response.json()
            assert caches.DOCUMENTS.used <= caches.DEFAULT_MAX_BYTES
        assert len(caches.DOCUMENTS) <= caches.DEFAULT_MAX_BYTES // per_entry + 1
        # A query over the entry bound is answered and never kept.
        kept = len(caches.DOCUMENTS), caches.DOCUMENTS.used
        huge = _padded(-1, 3 * 1024 * 1024)
        assert "errors" not in client.post("/graphql", json={"query": huge}).json()
        assert (len(caches.DOCUMENTS), caches.DOCUMENTS.used) == kept


def test_validation_results_are_kept_per_schema(data_dir: Path):
    """The production schema refuses introspection even after the other one cached it."""
    query = {"query": "{ __schema { queryType { name } } } # per schema"}
    with _client(data_dir) as development, _client(data_dir, production=True) as production:
        assert "errors" not in development.post("/graphql", json=query).json()
        refused = production.post("/graphql", json=query).json()
        assert refused["errors"][0]["extensions"]["code"] == "BAD_INPUT"
        assert "errors" not in development.post("/graphql", json=query).json()

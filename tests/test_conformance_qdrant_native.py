"""The conformance suite's read-side groups on Qdrant collections in a native layout (local mode and
the edge engine).

Each collection is created through ``store.create_collection(..., layout="haystack")``: a plain
Qdrant collection (one unnamed vector, no payload index, no facts point) in qdrant-haystack's
shape: the suite's ids are free strings, so they live in payload ``id`` (the point id is their
uuid5 in Haystack's namespace), the document in ``content``, the metadata nested in ``meta`` (so
filters run on ``meta.<key>``). Another connection opening the collection without a layout
recognises the preset from a sample, as the scan-resume case needs.

The same groups run on a flat native layout too (``FLAT``: the id in payload ``doc_id``, the
document in ``text``, every metadata key at the top level, so filters run on the payload's own
keys); reopened without a layout, the id key is inferred (every point id is its uuid5) and the
document key is the well-known ``text``.
The answers must equal those on vecbridge's own storage, except where a filter is refused
(``UnsupportedFilterError`` before any request, which the suite accepts).
"""

from __future__ import annotations

from typing import ClassVar

import pytest
from vecbridge_conformance import (
    CountTests,
    DifferentialTests,
    FilterTests,
    QueryTests,
    ScanTests,
    ScoreTests,
    SearchParamsTests,
)

import vecbridge as vb

FLAT = vb.Layout.parse({"id": "doc_id", "document": "text"})


class NativeQdrant(QueryTests, ScoreTests, SearchParamsTests, FilterTests, CountTests, ScanTests, DifferentialTests):
    layout: ClassVar[vb.Layout | str | None] = "haystack"

    async def drop_native_collection(self, store: vb.Store, name: str) -> None:
        """Drop through the engine's own call: vecbridge never drops a collection it did not create."""
        await store.adapter.transport.drop(name)  # type: ignore[attr-defined]


class TestNativeQdrantLocal(NativeQdrant):
    @pytest.fixture
    def backend_url(self, qdrant_memory_url: str) -> str:
        return qdrant_memory_url


class TestNativeQdrantEdge(NativeQdrant):
    @pytest.fixture
    def backend_url(self, qdrant_edge_url: str) -> str:
        return qdrant_edge_url


class TestFlatQdrantLocal(TestNativeQdrantLocal):
    layout: ClassVar[vb.Layout | str | None] = FLAT


class TestFlatQdrantEdge(TestNativeQdrantEdge):
    layout: ClassVar[vb.Layout | str | None] = FLAT

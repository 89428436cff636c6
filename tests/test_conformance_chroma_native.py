"""The conformance suite's read-side groups on Chroma collections in a native layout.

Each collection is created through ``store.create_collection(..., layout="native")``: a plain Chroma
collection with no vecbridge metadata, whose records carry no vecbridge keys, read through the
inferred layout. The answers must equal those on vecbridge's own storage, except where a filter is
refused (``UnsupportedFilterError`` before any request, which the suite accepts).
"""

from __future__ import annotations

import inspect
from typing import ClassVar

import pytest
from vecbridge_conformance import (
    CountTests,
    DifferentialTests,
    FilterTests,
    PartitionTests,
    QueryTests,
    ScanTests,
    ScoreTests,
)

import vecbridge as vb


class NativeChroma(QueryTests, ScoreTests, FilterTests, CountTests, ScanTests, PartitionTests, DifferentialTests):
    layout: ClassVar[vb.Layout | str | None] = "native"

    async def drop_native_collection(self, store: vb.Store, name: str) -> None:
        """Drop with chromadb's own client: vecbridge never drops a collection it did not create."""
        dropped = store.adapter.client.delete_collection(name)  # type: ignore[attr-defined]
        if inspect.isawaitable(dropped):
            await dropped


class TestNativeChromaServer(NativeChroma):
    @pytest.fixture
    def backend_url(self, chroma_url: str) -> str:
        return chroma_url


class TestNativeChromaEmbedded(NativeChroma):
    @pytest.fixture
    def backend_url(self, chroma_embedded_url: str) -> str:
        return chroma_embedded_url

"""The conformance suite's read-side groups on Pinecone indexes in a native layout, through the real
``pinecone`` SDK against the local server (``tests/pinecone_fake``; no Pinecone runs here).

Each collection is created through ``store.create_collection(..., layout=LAYOUT)``: a serverless
index without vecbridge's tags, whose vectors carry no vecbridge key (the document under ``doc``),
read through the layout. The answers must equal those on vecbridge's own storage, except where a
filter is refused (``UnsupportedFilterError`` before any request, which the suite accepts).
"""

from __future__ import annotations

from typing import ClassVar

import pytest
from vecbridge_conformance import CountTests, DifferentialTests, FilterTests, QueryTests, ScanTests, ScoreTests

import vecbridge as vb

#: the suite writes ints under "i" and "n": Pinecone returns floats, the layout says they are ints
LAYOUT = {"preset": "native", "document": "doc", "integers": ["i", "n"]}


class TestNativePinecone(QueryTests, ScoreTests, FilterTests, CountTests, ScanTests, DifferentialTests):
    layout: ClassVar[vb.Layout | str | None] = vb.Layout.parse(LAYOUT)
    conformance_examples = 15

    @pytest.fixture
    def backend_url(self, pinecone_fake_url: str) -> str:
        return pinecone_fake_url

    async def drop_native_collection(self, store: vb.Store, name: str) -> None:
        """Delete the index with the adapter's own call: vecbridge's drop refuses what it did not create."""
        await store.adapter.drop_collection(name)

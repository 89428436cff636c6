"""The read-side conformance groups against tables vecbridge creates in a native layout (fixture
``pgvector_url``): queries, filters, counts and scans through a layout answer exactly as on
vecbridge's own tables. Three shapes: a plain table whose layout names every role (``presets.py``:
text id, ``embedding vector(d)``, a ``content`` document column, a jsonb ``metadata`` column, the
metric's ANN index), the same with a namespace column in the key, and LangChain's shared tables
(``layout="langchain"``). Not LlamaIndex's: its ``text`` column is NOT NULL, and the suite writes
records without documents."""

from __future__ import annotations

from typing import ClassVar

import psycopg
import pytest
from psycopg import sql
from vecbridge_conformance.differential_tests import DifferentialTests
from vecbridge_conformance.filters_tests import FilterTests
from vecbridge_conformance.partitions_tests import PartitionTests
from vecbridge_conformance.query_tests import QueryTests, ScoreTests
from vecbridge_conformance.records_tests import CountTests, ScanTests
from vecbridge_conformance.search_tests import SearchParamsTests

import vecbridge as vb

LAYOUT = {"id": "id", "vector": "embedding", "document": "content", "metadata_keys_from": ["metadata"]}


class NativeLayout:
    layout: ClassVar[vb.Layout | str | None] = vb.Layout.parse(LAYOUT)

    @pytest.fixture
    def backend_url(self, pgvector_url: str) -> str:
        return pgvector_url

    async def drop_native_collection(self, store: vb.Store, name: str) -> None:
        dsn = str(store.url).replace("pgvector://", "postgresql://", 1)
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            await conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))


class TestNativeQuery(NativeLayout, QueryTests):
    pass


class TestNativeScores(NativeLayout, ScoreTests):
    pass


class TestNativeFilters(NativeLayout, FilterTests):
    pass


class TestNativeCount(NativeLayout, CountTests):
    pass


class TestNativeScan(NativeLayout, ScanTests):
    pass


class TestNativeSearchParams(NativeLayout, SearchParamsTests):
    """ef, probes and exact on a native table; a stored default is refused there (no registry row)."""


class TestNativePartitions(NativeLayout, PartitionTests):
    pass


class TestNativeDifferential(NativeLayout, DifferentialTests):
    conformance_examples = 15


class NamespacedLayout(NativeLayout):
    """A namespace column (``tenant``, part of the primary key): namespaces are its values."""

    layout: ClassVar[vb.Layout | str | None] = vb.Layout.parse({**LAYOUT, "namespace": "tenant"})


class TestNamespacedNativeQuery(NamespacedLayout, QueryTests):
    pass


class TestNamespacedNativeScan(NamespacedLayout, ScanTests):
    pass


class TestNamespacedNativeCount(NamespacedLayout, CountTests):
    pass


class TestNamespacedNativePartitions(NamespacedLayout, PartitionTests):
    pass


class LangChainLayout(NativeLayout):
    """LangChain's shared tables (``layout="langchain"``): each collection is a row of
    ``langchain_pg_collection`` and a predicate on ``langchain_pg_embedding``."""

    layout: ClassVar[vb.Layout | str | None] = "langchain"

    async def drop_native_collection(self, store: vb.Store, name: str) -> None:
        dsn = str(store.url).replace("pgvector://", "postgresql://", 1)
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            await conn.execute("DELETE FROM langchain_pg_collection WHERE name = %s", (name,))  # cascades


class TestLangChainNativeQuery(LangChainLayout, QueryTests):
    pass


class TestLangChainNativeFilters(LangChainLayout, FilterTests):
    pass


class TestLangChainNativeScan(LangChainLayout, ScanTests):
    pass


class TestLangChainNativeCount(LangChainLayout, CountTests):
    pass


class TestLangChainNativePartitions(LangChainLayout, PartitionTests):
    pass

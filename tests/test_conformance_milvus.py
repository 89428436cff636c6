"""The conformance suite on two real Milvus engines, each fresh per session: Milvus Lite 2.5.1 and a
Milvus 2.3.5 standalone server (from the ``milvus`` package).

Lite runs every group. The server costs about 2.5 s per test (loading each new collection waits for
the query coordinator's one-second observer), so the whole suite there takes about 19 minutes: by
default it runs the groups where the server's own code answers differently from Lite's (read your
writes, namespaces, queries and scores, delete, count, scan, random filters against the reference
engine) plus the match-nothing filters and the float round trip; ``VECBRIDGE_MILVUS_SERVER_SUITE=full``
runs every group there too (453 passed, 3 skipped on Milvus 2.3.5).
"""

import os

import pytest
from vecbridge_conformance import ConformanceSuite
from vecbridge_conformance.differential_tests import DifferentialTests
from vecbridge_conformance.filters_tests import FilterTests
from vecbridge_conformance.namespaces_tests import ConsistencyTests, NamespaceTests
from vecbridge_conformance.query_tests import QueryTests, ScoreTests
from vecbridge_conformance.records_tests import CountTests, DeleteTests, ScanTests
from vecbridge_conformance.upsert_tests import UpsertTests

FULL_ON_SERVER = os.environ.get("VECBRIDGE_MILVUS_SERVER_SUITE") == "full"


class TestMilvusLite(ConformanceSuite):
    @pytest.fixture
    def backend_url(self, milvus_url: str) -> str:
        return milvus_url


class ServerGroups(
    QueryTests,
    ScoreTests,
    DeleteTests,
    CountTests,
    ScanTests,
    NamespaceTests,
    ConsistencyTests,
    DifferentialTests,
):
    """The default selection on the Milvus server (see the module docstring)."""

    test_match_nothing_returns_no_records = FilterTests.test_match_nothing_returns_no_records
    test_floats_read_back_bit_for_bit = UpsertTests.test_floats_read_back_bit_for_bit


class TestMilvusServer(ConformanceSuite if FULL_ON_SERVER else ServerGroups):
    @pytest.fixture
    def backend_url(self, milvus_server_url: str) -> str:
        return milvus_server_url

"""The whole suite in one class: subclass it and override ``backend_url``."""

from __future__ import annotations

from typing import ClassVar

from vecbridge_conformance.collections_tests import CollectionTests
from vecbridge_conformance.differential_tests import DifferentialTests
from vecbridge_conformance.errors_tests import ErrorTests
from vecbridge_conformance.filters_tests import FilterTests
from vecbridge_conformance.namespaces_tests import ConsistencyTests, NamespaceTests
from vecbridge_conformance.partitions_tests import PartitionTests
from vecbridge_conformance.query_tests import QueryTests, ScoreTests
from vecbridge_conformance.records_tests import CountTests, DeleteTests, ScanTests
from vecbridge_conformance.search_tests import SearchParamsTests
from vecbridge_conformance.upsert_tests import UpsertTests

#: Every operation group, in report order.
GROUPS = (
    CollectionTests,
    UpsertTests,
    QueryTests,
    ScoreTests,
    SearchParamsTests,
    FilterTests,
    DeleteTests,
    CountTests,
    ScanTests,
    PartitionTests,
    NamespaceTests,
    ConsistencyTests,
    ErrorTests,
    DifferentialTests,
)


class ConformanceSuite(
    CollectionTests,
    UpsertTests,
    QueryTests,
    ScoreTests,
    SearchParamsTests,
    FilterTests,
    DeleteTests,
    CountTests,
    ScanTests,
    PartitionTests,
    NamespaceTests,
    ConsistencyTests,
    ErrorTests,
    DifferentialTests,
):
    """Every conformance group. An adapter's test module needs only::

    class TestMyDb(ConformanceSuite):
        @pytest.fixture
        def backend_url(self, mydb_url: str) -> str:
            return mydb_url
    """

    group: ClassVar[str] = "all"

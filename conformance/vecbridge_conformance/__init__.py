"""vecbridge-conformance: the pytest plugin that proves a backend meets the portable contract.

>>> import pytest
>>> from vecbridge_conformance import ConformanceSuite
>>> class TestMyDb(ConformanceSuite):  # doctest: +SKIP
...     @pytest.fixture
...     def backend_url(self, mydb_url: str) -> str:
...         return mydb_url

Each operation group is also a class of its own (``FilterTests``, ``ScanTests``...), to run one group.
"""

from vecbridge_conformance.base import (
    BackendNotConfiguredError,
    CollectionFactory,
    SuiteBase,
    requires,
    uses,
)
from vecbridge_conformance.collections_tests import CollectionTests
from vecbridge_conformance.differential_tests import DifferentialTests, run_differential
from vecbridge_conformance.errors_tests import ErrorTests
from vecbridge_conformance.filters_tests import FilterTests
from vecbridge_conformance.namespaces_tests import ConsistencyTests, NamespaceTests
from vecbridge_conformance.partitions_tests import PartitionTests
from vecbridge_conformance.query_tests import QueryTests, ScoreTests
from vecbridge_conformance.records_tests import CountTests, DeleteTests, ScanTests
from vecbridge_conformance.search_tests import SearchParamsTests
from vecbridge_conformance.suite import GROUPS, ConformanceSuite
from vecbridge_conformance.upsert_tests import UpsertTests

__all__ = [
    "GROUPS",
    "BackendNotConfiguredError",
    "CollectionFactory",
    "CollectionTests",
    "ConformanceSuite",
    "ConsistencyTests",
    "CountTests",
    "DeleteTests",
    "DifferentialTests",
    "ErrorTests",
    "FilterTests",
    "NamespaceTests",
    "PartitionTests",
    "QueryTests",
    "ScanTests",
    "ScoreTests",
    "SearchParamsTests",
    "SuiteBase",
    "UpsertTests",
    "requires",
    "run_differential",
    "uses",
]

"""The conformance suite on Qdrant's local mode (a Python imitation) and on the real segment engine (edge).

One adapter class serves every ``qdrant+driver`` URL; :meth:`QdrantAdapter.variant` names the class
whose capabilities belong to the URL's transport, and the capability gates read that class.
"""

import pytest
from vecbridge_conformance import ConformanceSuite
from vecbridge_qdrant import QdrantAdapter

from vecbridge.adapter import Adapter
from vecbridge.url import URL


class QdrantSuite(ConformanceSuite):
    @pytest.fixture
    def adapter_class(self, backend_url: str) -> type[Adapter]:
        return QdrantAdapter.variant(URL.parse(backend_url))


class TestQdrantLocalMode(QdrantSuite):
    @pytest.fixture
    def backend_url(self, qdrant_memory_url: str) -> str:
        return qdrant_memory_url


class TestQdrantEdge(QdrantSuite):
    @pytest.fixture
    def backend_url(self, qdrant_edge_url: str) -> str:
        return qdrant_edge_url

"""The conformance suite on Qdrant's local mode (a Python imitation) and on the real segment engine (edge).

``QdrantAdapter.variant`` (the core's ``Adapter.variant`` hook) names the class whose capabilities
belong to the URL's transport; the suite's capability gates read that class.
"""

import pytest
from vecbridge_conformance import ConformanceSuite


class QdrantSuite(ConformanceSuite):
    pass


class TestQdrantLocalMode(QdrantSuite):
    @pytest.fixture
    def backend_url(self, qdrant_memory_url: str) -> str:
        return qdrant_memory_url


class TestQdrantEdge(QdrantSuite):
    @pytest.fixture
    def backend_url(self, qdrant_edge_url: str) -> str:
        return qdrant_edge_url

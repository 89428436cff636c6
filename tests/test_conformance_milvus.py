"""The conformance suite on the real Milvus engine: Milvus Lite 2.5.1, a fresh database per session."""

import pytest
from vecbridge_conformance import ConformanceSuite


class TestMilvusLite(ConformanceSuite):
    @pytest.fixture
    def backend_url(self, milvus_url: str) -> str:
        return milvus_url

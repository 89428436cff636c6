"""The conformance suite on a real ``chroma run`` server and on embedded Chroma (``PersistentClient``)."""

import pytest
from vecbridge_conformance import ConformanceSuite


class TestChromaServer(ConformanceSuite):
    @pytest.fixture
    def backend_url(self, chroma_url: str) -> str:
        return chroma_url


class TestChromaEmbedded(ConformanceSuite):
    @pytest.fixture
    def backend_url(self, chroma_embedded_url: str) -> str:
        return chroma_embedded_url

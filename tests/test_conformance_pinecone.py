"""The conformance suite through the real ``pinecone`` SDK: against the local server always, against
real Pinecone when ``VECBRIDGE_PINECONE_API_KEY`` is set (or ``--pinecone-live`` asks for it, which
then errors "not configured" without the key)."""

import pytest
from vecbridge_conformance import ConformanceSuite


class TestPineconeLocalServer(ConformanceSuite):
    @pytest.fixture
    def backend_url(self, pinecone_fake_url: str) -> str:
        return pinecone_fake_url


@pytest.mark.pinecone_live
class TestPineconeLive(ConformanceSuite):
    @pytest.fixture
    def backend_url(self, pinecone_live_url: str) -> str:
        return pinecone_live_url

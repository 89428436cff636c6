"""The full conformance suite against a real PostgreSQL 18 + pgvector (fixture ``pgvector_url``)."""

import pytest
from vecbridge_conformance import ConformanceSuite


class TestPgvector(ConformanceSuite):
    @pytest.fixture
    def backend_url(self, pgvector_url: str) -> str:
        return pgvector_url

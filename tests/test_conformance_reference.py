"""The conformance suite on the reference engine: ``memory://`` and a temporary ``local://`` directory."""

import pytest
from vecbridge_conformance import ConformanceSuite


class TestMemory(ConformanceSuite):
    @pytest.fixture
    def backend_url(self) -> str:
        return "memory://"


class TestLocal(ConformanceSuite):
    @pytest.fixture
    def backend_url(self, local_url: str) -> str:
        return local_url

"""The full conformance suite against a real Weaviate: the live mode of the Weaviate tests.

Live mode is requested by setting ``VECBRIDGE_WEAVIATE_URL`` (or ``VECBRIDGE_WEAVIATE_LIVE=1``).
Requested without a URL, every test errors with "Weaviate not configured". Not requested (no
server can run on the CI machines), the module is skipped as a whole with that reason: the
offline Weaviate tests are ``tests/test_weaviate_*.py``.
"""

import os

import pytest
from vecbridge_conformance import ConformanceSuite

LIVE = bool(os.environ.get("VECBRIDGE_WEAVIATE_URL", "").strip()) or os.environ.get("VECBRIDGE_WEAVIATE_LIVE") == "1"
if not LIVE:
    pytest.skip(
        "live Weaviate suite not requested: set VECBRIDGE_WEAVIATE_URL=weaviate://host:8080?grpc_port=50051",
        allow_module_level=True,
    )


class TestWeaviate(ConformanceSuite):
    @pytest.fixture
    def backend_url(self, weaviate_url: str) -> str:
        return weaviate_url

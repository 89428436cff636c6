"""Weaviate for the tests: no server can run on these machines (embedded Weaviate downloads a binary),
so the fixture reads a running server's vecbridge URL from ``VECBRIDGE_WEAVIATE_URL``
(e.g. ``weaviate://127.0.0.1:8080?grpc_port=50051``). Unset, requesting it is an error, never a skip."""

from __future__ import annotations

import os

import pytest
from vecbridge_conformance import BackendNotConfiguredError

URL_ENV = "VECBRIDGE_WEAVIATE_URL"


@pytest.fixture(scope="session")
def weaviate_url() -> str:
    url = os.environ.get(URL_ENV, "").strip()
    if not url:
        raise BackendNotConfiguredError(
            f"Weaviate not configured: set {URL_ENV} to a running server's URL, "
            "e.g. weaviate://127.0.0.1:8080?grpc_port=50051"
        )
    return url

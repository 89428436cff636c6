"""Qdrant engines that run in-process: the client's local mode and the embedded edge engine.

No Qdrant server binary can be had here. ``qdrant+memory://`` is ``qdrant-client``'s local mode (a
Python imitation of the server); ``qdrant+edge:///dir`` is ``qdrant-edge-py``, the real Qdrant
segment engine, embedded. ``VECBRIDGE_QDRANT_URL`` (e.g. ``qdrant://127.0.0.1:6333``) points the
server fixture at a running server; without it the server tests are not collected as configured.
"""

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def qdrant_memory_url() -> Iterator[str]:
    yield "qdrant+memory://"


@pytest.fixture(scope="session")
def qdrant_edge_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield f"qdrant+edge://{tmp_path_factory.mktemp('qdrant-edge')}"


@pytest.fixture(scope="session")
def qdrant_url() -> Iterator[str]:
    url = os.environ.get("VECBRIDGE_QDRANT_URL")
    if not url:
        pytest.fail("set VECBRIDGE_QDRANT_URL=qdrant://HOST:PORT to test a Qdrant server")
    yield url

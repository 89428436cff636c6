"""Qdrant engines that run in-process: the client's local mode and the embedded edge engine.

No Qdrant server binary can be had here. ``qdrant+memory://`` is ``qdrant-client``'s local mode (a
Python imitation of the server); ``qdrant+edge:///dir`` is ``qdrant-edge-py``, the real Qdrant
segment engine, embedded. ``VECBRIDGE_QDRANT_URL`` (e.g. ``qdrant://127.0.0.1:6333``) points the
server fixture at a running server; without it the server tests are not collected as configured.
"""

import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def qdrant_memory_url() -> Iterator[str]:
    yield "qdrant+memory://"


@pytest.fixture(scope="session")
def qdrant_edge_url() -> Iterator[str]:
    # on tmpfs when there is one: the engine fsyncs its WAL on every collection create and drop,
    # which on a busy shared disk costs more than the tests themselves
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    directory = tempfile.mkdtemp(prefix="vecbridge-qdrant-edge-", dir=base)
    try:
        yield f"qdrant+edge://{directory}"
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def qdrant_url() -> Iterator[str]:
    url = os.environ.get("VECBRIDGE_QDRANT_URL")
    if not url:
        pytest.fail("set VECBRIDGE_QDRANT_URL=qdrant://HOST:PORT to test a Qdrant server")
    yield url

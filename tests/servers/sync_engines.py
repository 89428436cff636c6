"""Every engine that runs here, as one synchronous store each: for the framework integrations' tests.

``sync_engine`` is parametrized over the reference engine (``memory://``, private to its connection),
PostgreSQL + pgvector, a Chroma server, the Qdrant engine (qdrant-edge) and Milvus Lite; one
connection per engine and test module, closed at its end.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import vecbridge as vb

# engine -> the session fixture giving its URL (None: the reference engine)
FRAMEWORK_ENGINES: dict[str, str | None] = {
    "memory": None,
    "pgvector": "pgvector_url",
    "chroma": "chroma_url",
    "qdrant-edge": "qdrant_edge_url",
    "milvus-lite": "milvus_url",
}


@pytest.fixture(scope="module", params=list(FRAMEWORK_ENGINES))
def sync_engine(request: pytest.FixtureRequest) -> Iterator[vb.SyncStore]:
    fixture = FRAMEWORK_ENGINES[request.param]
    url = "memory://" if fixture is None else request.getfixturevalue(fixture)
    with vb.connect_sync(url) as store:
        yield store

"""Migration across every ordered pair of the backends available here, 10,000 records in two namespaces.

The backends are the reference engine (``memory://``) plus every engine with a server fixture
``<name>_url`` in ``tests/servers/``: a fixture that exists is required (its failure to start is a
test error, never a skip). Qdrant and Weaviate servers cannot run here: their fixtures only read a
URL from the environment (``SERVER_ONLY``); when it is unset, Qdrant is tested through its real
engine embedded in-process (``qdrant_edge_url``) and Weaviate has no engine to test. Each pair copies the same source data with ``verify="full"`` and then
checks, independently of the verifier, that tricky records came back exactly (types included).
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import vecbridge as vb
from vecbridge.migrate import migrate

SERVERS = Path(__file__).parent / "servers"
RECORDS = 10_000
DIMENSION = 16
NAMESPACES = ("default", "tenant-b")


#: Engines whose server cannot run here: a fixture that only reads a URL from this variable. Their
#: pairs join the matrix when it is set (CI with a server); without it no engine of theirs exists.
SERVER_ONLY = {"qdrant": "VECBRIDGE_QDRANT_URL", "weaviate": "VECBRIDGE_WEAVIATE_URL"}
#: Without a server, the real engine embedded in-process stands in (qdrant-edge is Qdrant's own engine).
IN_PROCESS = {"qdrant": "qdrant_edge_url"}


def _server_backends() -> dict[str, str]:
    """Backend name -> fixture: ``local`` and each ``tests/servers/<db>.py`` defining ``<db>_url``."""
    found = {"local": "local_url"}
    for module in sorted(SERVERS.glob("*.py")):
        name = module.stem
        fixture = re.compile(rf"@pytest\.fixture[^\n]*\n(?:@[^\n]*\n)*def {re.escape(name)}_url\(")
        if not fixture.search(module.read_text()):
            continue
        if name in SERVER_ONLY and not os.environ.get(SERVER_ONLY[name]):
            if name in IN_PROCESS:
                found[name] = IN_PROCESS[name]
            continue
        found[name] = f"{name}_url"
    return found


FIXTURES = {"memory": "", **_server_backends()}
BACKENDS = list(FIXTURES)
PAIRS = [(src, dst) for src in BACKENDS for dst in BACKENDS]


def tricky_records(namespace: str) -> list[vb.Record]:
    """Records that lossy tools get wrong: odd ids, ints vs floats, missing keys, lists, unicode."""
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(6, DIMENSION)).astype(np.float32)
    return [
        vb.Record(id=f"{namespace}:id with spaces, 'quotes' and \"doubles\"", vector=vectors[0], metadata={"n": 1}),
        vb.Record(id=f"{namespace}:ünïcødé-✓-日本", vector=vectors[1], metadata={"whole_float": 1.0, "f": 2.5}),
        vb.Record(id=f"{namespace}:" + "x" * (512 - len(namespace) - 1), vector=vectors[2], metadata={}),
        vb.Record(
            id=f"{namespace}:types",
            vector=vectors[3],
            metadata={"big": 2**53, "neg": -7, "flag": True, "off": False, "tags": ["a", "b c"], "s": "1"},
            document="ünïcødé document\nwith a newline",
        ),
        vb.Record(id=f"{namespace}:no-metadata", vector=vectors[4], document=""),
        vb.Record(id=f"{namespace}:zero-int", vector=vectors[5], metadata={"z": 0, "zf": 0.0}, document=None),
    ]


def source_records(namespace: str, count: int, seed: int) -> list[vb.Record]:
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(count, DIMENSION)).astype(np.float32)
    records = tricky_records(namespace)
    for i in range(count - len(records)):
        metadata: dict[str, Any] = {"i": i, "group": f"g{i % 7}", "score": i / 8}
        if i % 3 == 0:
            metadata["tags"] = [f"t{i % 5}"]
        if i % 4 == 0:
            metadata["even"] = i % 8 == 0
        records.append(
            vb.Record(
                id=f"{namespace}-{i}",
                vector=vectors[i],
                metadata=metadata,
                document=None if i % 2 else f"doc {i}",
            )
        )
    return records


def backend_url(request: pytest.FixtureRequest, name: str) -> str:
    if name == "memory":
        return "memory://vbmig"
    url: str = request.getfixturevalue(FIXTURES[name])
    return url


_sources: dict[str, tuple[str, str]] = {}


def source_collection(request: pytest.FixtureRequest, name: str) -> tuple[str, str]:
    """The shared source collection on backend ``name`` (created once per session)."""
    if name not in _sources:
        url = backend_url(request, name)
        collection = f"vbmig_src_{uuid.uuid4().hex[:8]}"

        async def create() -> None:
            async with vb.connect(url) as store:
                created = await store.create_collection(collection, DIMENSION, "cosine", embedding_model="test-16d")
                half = RECORDS // 2
                for number, namespace in enumerate(NAMESPACES):
                    await created.with_namespace(namespace).upsert(source_records(namespace, half, number))

        asyncio.run(create())
        _sources[name] = (url, collection)
    return _sources[name]


@pytest.fixture(scope="module", autouse=True)
def drop_sources() -> Iterator[None]:
    yield
    for url, collection in _sources.values():

        async def drop(url: str = url, collection: str = collection) -> None:
            async with vb.connect(url) as store:
                await store.drop_collection(collection, missing_ok=True)

        asyncio.run(drop())
    _sources.clear()


@pytest.mark.parametrize(("src", "dst"), PAIRS, ids=[f"{s}->{d}" for s, d in PAIRS])
def test_migration_copies_every_record_exactly(request: pytest.FixtureRequest, src: str, dst: str) -> None:
    source_url, collection = source_collection(request, src)
    destination_url = backend_url(request, dst)
    target = f"vbmig_dst_{uuid.uuid4().hex[:8]}"

    async def run() -> None:
        async with vb.connect(source_url) as source, vb.connect(destination_url) as destination:
            try:
                with tempfile.TemporaryDirectory() as checkpoints:
                    report = await migrate(
                        source.collection(collection),
                        destination.collection(target),
                        verify_mode="full",
                        checkpoint_dir=checkpoints,
                    )
                    assert list(Path(checkpoints).iterdir()) == [], "a succeeded run removes its checkpoint"
                verification = report.verification
                assert verification is not None
                assert verification.mismatches == []
                assert report.succeeded
                assert report.copied == RECORDS
                assert verification.records_matched == RECORDS
                assert verification.counts == {
                    ns: {"source": RECORDS // 2, "destination": RECORDS // 2} for ns in NAMESPACES
                }
                assert verification.queries_checked > 0
                assert verification.queries_matched == verification.queries_checked

                facts = await destination.describe_collection(target)
                assert (facts.dimension, facts.metric, facts.embedding_model, facts.count) == (
                    DIMENSION,
                    vb.Metric.COSINE,
                    "test-16d",
                    RECORDS,
                )
                assert await destination.list_namespaces(target) == sorted(NAMESPACES)
                for namespace in NAMESPACES:
                    expected = {r.id: r for r in tricky_records(namespace)}
                    copied = await destination.collection(target, namespace).get(list(expected))
                    assert [r.id for r in copied] == list(expected)
                    for record in copied:
                        want = expected[record.id]
                        assert record.metadata == want.metadata
                        assert {k: type(v) for k, v in record.metadata.items()} == {
                            k: type(v) for k, v in want.metadata.items()
                        }
                        assert record.document == want.document
            finally:
                await destination.drop_collection(target, missing_ok=True)

    asyncio.run(run())

"""Qdrant-specific behaviour beyond the conformance suite, on local mode and on the real engine (edge).

* any string id round-trips unchanged (Qdrant itself takes only u64 or UUID point ids);
* the real segment engine (``qdrant+edge://``) gives the reference engine's ids and scores;
* the filter rules Qdrant gets wrong by default (int vs float, bools, missing fields) hold.
"""

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from vecbridge_qdrant.adapter import point_id

import vecbridge as vb
from vecbridge.adapter import Capability
from vecbridge.filters import evaluate, parse_filter

ODD_IDS = ["doc 1", "ключ", "a/b?c", "x" * 300, "quote \"q\" 's'", "emoji 🚀", "tab\there"]


@pytest.fixture(params=["memory", "edge"])
def qdrant_any_url(request: pytest.FixtureRequest, qdrant_memory_url: str, qdrant_edge_url: str) -> str:
    return qdrant_memory_url if request.param == "memory" else qdrant_edge_url


@pytest.fixture
async def qdrant_store(qdrant_any_url: str) -> AsyncIterator[vb.Store]:
    async with vb.connect(qdrant_any_url) as store:
        yield store


async def test_string_ids_round_trip_unchanged(qdrant_store: vb.Store) -> None:
    docs = await qdrant_store.create_collection("vbq_ids", dimension=4, metric="cosine")
    try:
        rng = np.random.default_rng(1)
        await docs.upsert(
            [vb.Record(id=i, vector=rng.normal(size=4), metadata={"n": n}) for n, i in enumerate(ODD_IDS)]
        )
        assert sorted(r.id for r in await docs.get(ODD_IDS)) == sorted(ODD_IDS)
        assert sorted(m.id for m in await docs.query(rng.normal(size=4), top_k=20)) == sorted(ODD_IDS)
        scanned = [r.id async for page in docs.scan(page_size=3) for r in page.records]
        assert sorted(scanned) == sorted(ODD_IDS)
        await docs.delete(ids=["ключ"])
        assert "ключ" not in {r.id for r in await docs.get(ODD_IDS)}
    finally:
        await qdrant_store.drop_collection("vbq_ids")


def test_point_ids_differ_per_namespace_and_id() -> None:
    ids = {point_id(ns, i) for ns in ("default", "a", "a b") for i in [*ODD_IDS, 'a", "b']}
    assert len(ids) == 3 * (len(ODD_IDS) + 1)
    assert point_id("a", "b") != point_id("a b", "") != point_id("a", " b")


FILTER_CASES = [
    {"x": 1},
    {"x": 1.0},
    {"x": True},
    {"x": {"$ne": 1}},
    {"x": {"$nin": [1, "a"]}},
    {"x": {"$in": [True, "a"]}},
    {"x": {"$gte": 1}},
    {"x": {"$lt": 2.5}},
    {"x": {"$exists": False}},
    {"$not": {"x": "a"}},
    {"$or": [{"x": 0}, {"x": {"$exists": False}}]},
]
FILTER_VALUES = [1, 1.0, True, False, 0, "1", "a", ["a", "b"], ["b"], 2.5, 2**53, None]


@pytest.mark.parametrize("filter_", FILTER_CASES, ids=str)
async def test_filter_semantics_match_the_reference(qdrant_store: vb.Store, filter_: dict[str, object]) -> None:
    name = "vbq_filters"
    if name not in {s.name for s in await qdrant_store.list_collections()}:
        docs = await qdrant_store.create_collection(name, dimension=2, metric="dot")
        await docs.upsert(
            vb.Record(id=f"r{i}", vector=[1.0, float(i)], metadata={} if v is None else {"x": v})
            for i, v in enumerate(FILTER_VALUES)
        )
    docs = qdrant_store.collection(name)
    node = parse_filter(filter_)
    expected = {f"r{i}" for i, v in enumerate(FILTER_VALUES) if evaluate(node, {} if v is None else {"x": v})}
    got = {r.id async for page in docs.scan(filter=filter_) for r in page.records}
    assert got == expected
    assert await docs.count(filter=filter_) == len(expected)
    assert {m.id for m in await docs.query([1.0, 0.0], top_k=50, filter=filter_)} == expected


@pytest.mark.parametrize("metric", ["cosine", "dot", "euclidean"])
async def test_edge_engine_matches_reference_engine(qdrant_edge_url: str, metric: str) -> None:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(1000, 48)).astype(np.float32)
    queries = rng.normal(size=(20, 48)).astype(np.float32)
    records = [
        vb.Record(id=f"doc-{i}", vector=vectors[i], metadata={"group": ("a", "b", "c")[i % 3], "i": i})
        for i in range(1000)
    ]
    results: dict[str, list[list[tuple[str, float]]]] = {}
    for url in ("memory://", qdrant_edge_url):
        async with vb.connect(url) as store:
            docs = await store.create_collection(f"vbq_same_{metric}", dimension=48, metric=metric)
            try:
                await docs.upsert(records)
                answers = []
                for n, query in enumerate(queries):
                    filter_ = {"group": {"$ne": "b"}, "i": {"$lt": 900}} if n % 2 else None
                    answers.append([(m.id, m.score) for m in await docs.query(query, top_k=10, filter=filter_)])
                results[url] = answers
            finally:
                await store.drop_collection(docs.name)
    reference, edge = results["memory://"], results[qdrant_edge_url]
    for expected, got in zip(reference, edge, strict=True):
        assert [i for i, _ in got] == [i for i, _ in expected]
        np.testing.assert_allclose([s for _, s in got], [s for _, s in expected], atol=1e-4, rtol=0)


async def test_local_mode_directory_persists(tmp_path: Path) -> None:
    url = f"qdrant+local://{tmp_path}"
    async with vb.connect(url) as store:
        docs = await store.create_collection("vbq_persist", dimension=3, metric="euclidean", embedding_model="m")
        await docs.upsert([vb.Record(id="a", vector=[1.0, 2.0, 3.0], metadata={"k": "v"}, document="text")])
    async with vb.connect(url) as store:
        info = await store.describe_collection("vbq_persist")
        assert (info.dimension, info.metric, info.embedding_model, info.count) == (3, vb.Metric.EUCLIDEAN, "m", 1)
        [record] = await store.collection("vbq_persist").get(["a"])
        assert (record.metadata, record.document, list(record.vector)) == ({"k": "v"}, "text", [1.0, 2.0, 3.0])


@pytest.mark.parametrize(
    "url",
    ["qdrant+nosuch://x", "qdrant://127.0.0.1:6333?colour=red", "qdrant+edge://host/dir", "qdrant+memory:///dir"],
)
async def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(vb.InvalidURLError):
        async with vb.connect(url):
            pass


async def test_unreachable_server_is_a_transient_backend_error() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with vb.connect(f"qdrant://127.0.0.1:{port}?timeout=2") as store:
        with pytest.raises(vb.TransientBackendError) as caught:
            await store.adapter.list_collections()
        assert caught.value.orig is not None


async def test_capabilities_follow_the_url_variant(qdrant_memory_url: str, qdrant_edge_url: str) -> None:
    async with vb.connect(qdrant_edge_url) as edge_store, vb.connect(qdrant_memory_url) as memory_store:
        assert {Capability.PERSISTENT, Capability.EXACT_SEARCH} <= edge_store.capabilities
        assert Capability.NORMALIZES_COSINE_VECTORS in memory_store.capabilities
        assert Capability.PERSISTENT not in memory_store.capabilities

"""The public facade on the reference engine: validation, batching, errors, namespaces, scores."""

from collections.abc import AsyncIterator, Sequence

import numpy as np
import pytest

import vecbridge as vb
from vecbridge.adapter import Capability
from vecbridge.memory import MemoryAdapter
from vecbridge.registry import register, unregister
from vecbridge.url import URL


@pytest.fixture(params=["memory", "local"])
async def store(request: pytest.FixtureRequest, tmp_path: object) -> AsyncIterator[vb.Store]:
    url = "memory://" if request.param == "memory" else f"local://{tmp_path}"
    async with vb.connect(url) as connected:
        yield connected


def rec(record_id: str, vector: Sequence[float], **metadata: object) -> vb.Record:
    return vb.Record(id=record_id, vector=list(vector), metadata=dict(metadata))  # type: ignore[arg-type]


async def test_round_trip_of_every_operation(store: vb.Store) -> None:
    docs = await store.create_collection("docs", dimension=3, metric="euclidean", embedding_model="m1")
    await docs.upsert([rec("a", [0, 0, 0], color="red"), rec("b", [3, 4, 0]), rec("c", [1, 0, 0], color="blue")])
    hits = await docs.query([0, 0, 0], top_k=3)
    assert [(h.id, round(h.score, 6)) for h in hits] == [("a", 0.0), ("c", -1.0), ("b", -5.0)]
    assert [h.id for h in await docs.query([0, 0, 0], top_k=3, filter={"color": {"$ne": "red"}})] == ["c", "b"]
    assert [h.id for h in await docs.query([0, 0, 0], top_k=3, min_score=-1.5)] == ["a", "c"]
    assert [r.id for r in await docs.get(["c", "missing", "a"])] == ["c", "a"]
    assert await docs.count() == 3 and await docs.count({"color": {"$exists": True}}) == 2
    await docs.delete(ids=["a", "nope"])
    await docs.delete(filter={"color": "blue"})
    assert [r.id for r in await docs.get(["a", "b", "c"])] == ["b"]
    info = await store.describe_collection("docs")
    assert (info.dimension, info.metric, info.embedding_model, info.count) == (3, vb.Metric.EUCLIDEAN, "m1", 1)
    assert [c.name for c in await store.list_collections()] == ["docs"]
    await store.drop_collection("docs")
    assert await store.list_collections() == []
    with pytest.raises(vb.CollectionNotFoundError):
        await store.collection("docs").count()


@pytest.mark.parametrize(
    ("record", "error"),
    [
        (vb.Record("x", [1.0, 2.0, 3.0]), vb.DimensionMismatchError),
        (vb.Record("x", [1.0, float("nan"), 0, 0]), vb.InvalidRecordError),
        (vb.Record("x", [1.0, float("inf"), 0, 0]), vb.InvalidRecordError),
        (vb.Record("x", [1e39, 0, 0, 0]), vb.InvalidRecordError),
        (vb.Record("", [1.0, 0, 0, 0]), vb.InvalidRecordError),
        (vb.Record("x" * 513, [1.0, 0, 0, 0]), vb.InvalidRecordError),
        (vb.Record("x", [1.0, 0, 0, 0], {"k": None}), vb.InvalidRecordError),  # type: ignore[dict-item]
        (vb.Record("x", [1.0, 0, 0, 0], {"k": {"nested": 1}}), vb.InvalidRecordError),  # type: ignore[dict-item]
        (vb.Record("x", [1.0, 0, 0, 0], {"k": [1, 2]}), vb.InvalidRecordError),  # type: ignore[list-item]
        (vb.Record("x", [1.0, 0, 0, 0], {"k": []}), vb.InvalidRecordError),
        (vb.Record("x", [1.0, 0, 0, 0], {"bad-key": 1}), vb.InvalidRecordError),
        (vb.Record("x", [1.0, 0, 0, 0], {"_vb_id": "x"}), vb.InvalidRecordError),
        (vb.Record("x", [1.0, 0, 0, 0], {"big": 2**53 + 1}), vb.InvalidRecordError),
        (vb.Record("x", [0.0, 0, 0, 0]), vb.InvalidRecordError),  # zero vector has no cosine direction
    ],
)
async def test_a_bad_record_raises_a_typed_error_and_writes_nothing(
    store: vb.Store, record: vb.Record, error: type[Exception]
) -> None:
    docs = await store.create_collection("docs", dimension=4)
    good = [rec(f"ok{i}", [1, i, 0, 0]) for i in range(10)]
    with pytest.raises(error) as caught:
        await docs.upsert([*good, record])
    assert "record" in str(caught.value)
    assert await docs.count() == 0


async def test_query_vector_of_the_wrong_dimension_fails_fast(store: vb.Store) -> None:
    docs = await store.create_collection("docs", dimension=4)
    with pytest.raises(vb.DimensionMismatchError, match="query vector"):
        await docs.query([1.0, 2.0, 3.0])


@pytest.mark.parametrize("top_k", [0, -1, 1.5, True, 10**9])
async def test_top_k_out_of_range_is_rejected(store: vb.Store, top_k: object) -> None:
    docs = await store.create_collection("docs", dimension=2)
    with pytest.raises(vb.InvalidArgumentError):
        await docs.query([1.0, 0.0], top_k=top_k)  # type: ignore[arg-type]


@pytest.mark.parametrize("kwargs", [{}, {"filter": {}}, {"ids": ["a"], "all": True}])
async def test_deleting_everything_must_be_explicit(store: vb.Store, kwargs: dict[str, object]) -> None:
    docs = await store.create_collection("docs", dimension=2)
    await docs.upsert([rec("a", [1, 0])])
    with pytest.raises(vb.InvalidArgumentError):
        await docs.delete(**kwargs)  # type: ignore[arg-type]
    assert await docs.count() == 1
    await docs.delete(all=True)
    assert await docs.count() == 0


async def test_unknown_metric_and_bad_names_are_rejected(store: vb.Store) -> None:
    with pytest.raises(vb.InvalidArgumentError, match="unknown metric"):
        await store.create_collection("docs", dimension=2, metric="manhattan")
    for name in ("D", "ab", "Docs", "docs-1", "docs_", "x" * 49):
        with pytest.raises(vb.InvalidArgumentError):
            await store.create_collection(name, dimension=2)
    with pytest.raises(vb.InvalidArgumentError):
        store.collection("docs", namespace="has space")


async def test_create_twice_raises_unless_exist_ok_with_the_same_facts(store: vb.Store) -> None:
    await store.create_collection("docs", dimension=2)
    with pytest.raises(vb.CollectionExistsError):
        await store.create_collection("docs", dimension=2)
    assert (await (await store.create_collection("docs", dimension=2, exist_ok=True)).spec()).dimension == 2
    with pytest.raises(vb.CollectionExistsError):
        await store.create_collection("docs", dimension=3, exist_ok=True)


async def test_namespaces_are_isolated_in_every_operation(store: vb.Store) -> None:
    await store.create_collection("docs", dimension=2)
    a, b = store.collection("docs", namespace="a"), store.collection("docs", namespace="b")
    await a.upsert([rec("x", [1, 0], tenant="a")])
    await b.upsert([rec("x", [0, 1], tenant="b"), rec("y", [1, 1], tenant="b")])
    assert [m.metadata["tenant"] for m in await a.query([1, 0], top_k=10)] == ["a"]
    assert await a.count() == 1 and await b.count() == 2
    await a.delete(all=True)
    assert await a.count() == 0 and await b.count() == 2
    assert await store.list_namespaces("docs") == ["b"]


async def test_upsert_replaces_the_whole_record_and_last_duplicate_wins(store: vb.Store) -> None:
    docs = await store.create_collection("docs", dimension=2)
    await docs.upsert([rec("a", [1, 0], old=1, keep="x")])
    await docs.upsert([rec("a", [0, 1], keep="y"), rec("a", [1, 1], keep="z")])
    [record] = await docs.get(["a"])
    assert record.metadata == {"keep": "z"}
    assert np.allclose(record.vector, [1, 1])


async def test_upsert_accepts_an_async_stream_and_batches_it(store: vb.Store) -> None:
    docs = await store.create_collection("docs", dimension=2)

    async def stream() -> AsyncIterator[vb.Record]:
        for i in range(10_000):
            yield rec(f"r{i}", [1, i])

    assert await docs.upsert(stream(), batch_size=777) == 10_000
    assert await docs.count() == 10_000


async def test_scan_returns_each_record_once_and_resumes_from_a_cursor(store: vb.Store) -> None:
    docs = await store.create_collection("docs", dimension=2)
    await docs.upsert([rec(f"r{i:03d}", [1, i], even=i % 2 == 0) for i in range(250)])
    seen: list[str] = []
    cursor = None
    async for page in docs.scan(page_size=40):
        seen += [r.id for r in page.records]
        if len(seen) == 80:
            cursor = page.cursor
    assert sorted(seen) == sorted(set(seen)) and len(seen) == 250
    resumed = [r.id async for page in docs.scan(page_size=40, cursor=cursor) for r in page.records]
    assert resumed == seen[80:]
    evens = [r.id async for page in docs.scan(page_size=7, filter={"even": True}) for r in page.records]
    assert len(evens) == 125


@pytest.mark.parametrize("metric", ["cosine", "dot", "euclidean"])
async def test_scores_follow_the_convention_against_numpy(store: vb.Store, metric: str) -> None:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(200, 8)).astype(np.float32)
    query = rng.normal(size=8).astype(np.float32)
    docs = await store.create_collection("docs", dimension=8, metric=metric)
    await docs.upsert([vb.Record(f"r{i}", v) for i, v in enumerate(vectors)])
    v64, q64 = vectors.astype(np.float64), query.astype(np.float64)
    if metric == "cosine":
        expected = v64 @ q64 / (np.linalg.norm(v64, axis=1) * np.linalg.norm(q64))
    elif metric == "dot":
        expected = v64 @ q64
    else:
        expected = -np.linalg.norm(v64 - q64, axis=1)
    order = np.argsort(-expected)[:10]
    hits = await docs.query(query, top_k=10)
    assert [h.id for h in hits] == [f"r{i}" for i in order]
    assert np.allclose([h.score for h in hits], expected[order], atol=1e-6)


async def test_embedding_model_mismatch_is_caught(store: vb.Store) -> None:
    await store.create_collection("docs", dimension=2, embedding_model="all-MiniLM-L6-v2")
    with pytest.raises(vb.EmbeddingModelMismatchError):
        await store.collection("docs", embedding_model="text-embedding-3-small").count()
    assert await store.collection("docs", embedding_model="all-MiniLM-L6-v2").count() == 0


class FailingThirdBatch(MemoryAdapter):
    """The reference engine, batch by batch (no ``ATOMIC_UPSERT``), with one injected fault: the third write batch fails."""

    name = "failing"
    capabilities = MemoryAdapter.capabilities - {Capability.ATOMIC_UPSERT}
    max_batch = 10
    writes = 0

    async def upsert(self, collection: vb.CollectionSpec, namespace: str, records: Sequence[vb.Record]) -> None:
        type(self).writes += 1
        if type(self).writes == 3:
            raise vb.BackendError("injected failure")
        await super().upsert(collection, namespace, records)


class CountingAtomicBatches(MemoryAdapter):
    """The reference engine (``ATOMIC_UPSERT``), counting the batches the core hands to ``upsert_atomic``."""

    name = "counting"
    max_batch = 10
    taken = 0

    async def upsert_atomic(
        self, collection: vb.CollectionSpec, namespace: str, batches: AsyncIterator[list[vb.Record]]
    ) -> None:
        async def counted() -> AsyncIterator[list[vb.Record]]:
            async for batch in batches:
                type(self).taken += 1
                yield batch

        await super().upsert_atomic(collection, namespace, counted())


class FlakyOnce(MemoryAdapter):
    """The reference engine whose first write fails transiently."""

    name = "flaky"
    failed = False

    async def upsert(self, collection: vb.CollectionSpec, namespace: str, records: Sequence[vb.Record]) -> None:
        if not type(self).failed:
            type(self).failed = True
            raise vb.TransientBackendError("try again")
        await super().upsert(collection, namespace, records)


async def test_a_failing_batch_raises_partial_write_error_naming_ids() -> None:
    register("failing", FailingThirdBatch, replace=True)
    try:
        async with vb.connect("failing://") as store:
            docs = await store.create_collection("docs", dimension=2)
            with pytest.raises(vb.PartialWriteError) as caught:
                await docs.upsert([rec(f"r{i:02d}", [1, i]) for i in range(50)], concurrency=1)
            error = caught.value
            assert len(error.written_ids) == 20 and len(error.unwritten_ids) == 30
            assert set(error.written_ids) | set(error.unwritten_ids) == {f"r{i:02d}" for i in range(50)}
            assert await docs.count() == 20
            assert isinstance(error.__cause__, vb.BackendError)
    finally:
        unregister("failing")


async def test_atomic_upsert_validates_each_batch_as_the_adapter_asks_for_it() -> None:
    register("counting", CountingAtomicBatches, replace=True)
    try:
        async with vb.connect("counting://") as store:
            docs = await store.create_collection("docs", dimension=2)
            records = [rec(f"r{i:02d}", [1, i]) for i in range(50)]
            records[35] = rec("r35", [1, float("nan")])
            with pytest.raises(vb.InvalidRecordError) as caught:
                await docs.upsert(records)
            assert caught.value.record_id == "r35"
            assert CountingAtomicBatches.taken == 3  # batches 0-2 went to the adapter before batch 3 was checked
            assert await docs.count() == 0
            records[35] = rec("r05", [1, 35], late=True)  # a duplicate in a later batch: the last one wins
            assert await docs.upsert(records) == 49
            [late] = await docs.get(["r05"])
            assert late.metadata == {"late": True} and list(late.vector) == [1, 35]
    finally:
        unregister("counting")


async def test_transient_errors_are_retried() -> None:
    register("flaky", FlakyOnce, replace=True)
    try:
        async with vb.connect("flaky://") as store:
            docs = await store.create_collection("docs", dimension=2)
            await docs.upsert([rec("a", [1, 0])])
            assert await docs.count() == 1
    finally:
        unregister("flaky")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("nosuchdb://x", "known schemes"),
        ("not a url", "is not a URL"),
        ("qdrant://host:notaport", "port"),
        ("memory://x/extra/path", "memory URLs"),
        ("local://", "local:///"),
    ],
)
async def test_bad_urls_give_clear_errors(url: str, message: str) -> None:
    with pytest.raises(vb.InvalidURLError, match=message):
        async with vb.connect(url):
            pass


def test_urls_parse_into_an_immutable_object() -> None:
    url = URL.parse("qdrant+grpc://user:p%40ss@example.com:6334/path?api_key_env=KEY")
    assert (url.backend, url.driver, url.username, url.password, url.host, url.port) == (
        "qdrant",
        "grpc",
        "user",
        "p@ss",
        "example.com",
        6334,
    )
    assert url.get("api_key_env") == "KEY"
    assert "p@ss" not in str(url)
    assert str(URL.parse("pinecone://h?api_key=s3cret&api_key_env=KEY")) == "pinecone://h?api_key=***&api_key_env=KEY"


async def test_named_memory_stores_are_shared_and_unnamed_ones_private() -> None:
    async with vb.connect("memory://shared_test") as one, vb.connect("memory://shared_test") as two:
        await one.create_collection("docs", dimension=2)
        assert [c.name for c in await two.list_collections()] == ["docs"]
        await one.drop_collection("docs")
    async with vb.connect("memory://") as one, vb.connect("memory://") as two:
        await one.create_collection("docs", dimension=2)
        assert await two.list_collections() == []

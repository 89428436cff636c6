"""Chroma-specific behaviour on a real ``chroma run`` server and on embedded Chroma.

The conformance suite (``test_conformance_chroma.py``) pins the portable contract; these tests pin
what is particular to Chroma: equality with ``memory://`` on realistic data, the Chroma bugs and
quirks the adapter hides, the batch size read from the server, URL options, and scans under writes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import numpy as np
import pytest
import pytest_asyncio
from vecbridge_chroma import ChromaAdapter
from vecbridge_conformance.base import unique_name

import vecbridge as vb
from vecbridge.url import URL

METRICS = ["cosine", "dot", "euclidean"]


@pytest.fixture(params=["server", "embedded"])
def url(request: pytest.FixtureRequest) -> str:
    fixture = "chroma_url" if request.param == "server" else "chroma_embedded_url"
    return str(request.getfixturevalue(fixture))


@pytest_asyncio.fixture
async def store(url: str) -> AsyncIterator[vb.Store]:
    async with vb.connect(url) as connected:
        yield connected


@pytest_asyncio.fixture
async def name(store: vb.Store) -> AsyncIterator[str]:
    chosen = unique_name("vbchroma")
    yield chosen
    await store.drop_collection(chosen, missing_ok=True)


def _dataset(count: int, dimension: int, seed: int) -> tuple[list[vb.Record], np.ndarray]:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(16, dimension))
    vectors = (centers[rng.integers(0, 16, count)] + 0.5 * rng.normal(size=(count, dimension))).astype(np.float32)
    records = [
        vb.Record(
            id=f"doc {i} é'\"",
            vector=vectors[i],
            metadata={"i": i, "even": i % 2 == 0, "tags": [f"t{i % 7}", f"u{i % 3}"], "w": i / 7},
            document=f"text {i}",
        )
        for i in range(count)
    ]
    queries = (centers[rng.integers(0, 16, 20)] + 0.5 * rng.normal(size=(20, dimension))).astype(np.float32)
    return records, queries


@pytest.mark.parametrize("metric", METRICS)
async def test_same_ids_and_scores_as_memory(store: vb.Store, name: str, metric: str) -> None:
    """1,000 records and 20 queries give the same ids and scores (within 1e-4) as ``memory://``.

    ``Flat`` (Chroma: the widest HNSW search) because the ids are compared exactly: with the default
    HNSW settings a dot-product query missed one of its true top 10 in one CI run of many."""
    records, queries = _dataset(1000, 32, seed=METRICS.index(metric))
    chroma = await store.create_collection(name, 32, metric, index=vb.Flat())
    await chroma.upsert(records)
    async with vb.connect("memory://") as reference_store:
        reference = await reference_store.create_collection(name, 32, metric)
        await reference.upsert(records)
        for query in queries:
            for filter_ in (None, {"tags": "t3"}, {"$not": {"i": {"$lt": 500}}}):
                got = await chroma.query(query, top_k=10, filter=filter_)
                want = await reference.query(query, top_k=10, filter=filter_)
                assert [m.id for m in got] == [m.id for m in want]
                np.testing.assert_allclose([m.score for m in got], [m.score for m in want], atol=1e-4, rtol=0)


async def test_upsert_replaces_where_chroma_merges(store: vb.Store, name: str) -> None:
    """Chroma's own upsert keeps old metadata keys and the old document; vecbridge's does not."""
    collection = await store.create_collection(name, 3, "cosine")
    await collection.upsert([vb.Record("a", [1, 0, 0], {"old": 1, "tags": ["x"], "keep": "v"}, "old text")])
    await collection.upsert([vb.Record("a", [0, 1, 0], {"keep": "w"})])
    (record,) = await collection.get(["a"])
    assert (record.metadata, record.document) == ({"keep": "w"}, None)
    assert await collection.count({"old": {"$exists": True}}) == 0
    assert await collection.count({"tags": "x"}) == 0
    await collection.upsert([vb.Record("a", [0, 1, 0], {}, "new text")])
    (record,) = await collection.get(["a"])
    assert (record.metadata, record.document) == ({}, "new text")


async def test_list_metadata_of_a_dropped_collection_never_reappears(store: vb.Store, name: str) -> None:
    """Chroma 1.5.9 hands the array metadata of dropped collections to new records; vecbridge stores no arrays."""
    first = await store.create_collection(name, 3, "cosine")
    await first.upsert([vb.Record(f"r{i}", [1, i, 0], {"tags": ["stale", f"x{i}"]}) for i in range(5)])
    await store.drop_collection(name)
    second = await store.create_collection(name, 3, "cosine")
    await second.upsert([vb.Record(f"s{i}", [1, i, 0], {"n": i}) for i in range(5)])
    assert [r.metadata for r in await second.get([f"s{i}" for i in range(5)])] == [{"n": i} for i in range(5)]
    assert await second.count({"tags": "stale"}) == 0


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ({"n": 2.5}, ["f2.5"]),
        ({"n": {"$ne": 2.5}}, ["i-3", "i0", "i2", "i3", "f-0.5", "missing"]),
        ({"n": {"$in": [2.5, -0.5]}}, ["f-0.5", "f2.5"]),
        ({"n": {"$gt": -0.5}}, ["i0", "i2", "i3", "f2.5"]),
        ({"n": {"$gte": 2.5}}, ["i3", "f2.5"]),
        ({"n": {"$lt": 2.5}}, ["i-3", "i0", "i2", "f-0.5"]),
        ({"n": {"$lte": -0.5}}, ["i-3", "f-0.5"]),
        ({"$not": {"n": {"$gt": 2.5}}}, ["i-3", "i0", "i2", "f-0.5", "f2.5", "missing"]),
    ],
)
async def test_float_operands_compare_exactly_with_ints(
    store: vb.Store, name: str, filter_: dict[str, object], expected: list[str]
) -> None:
    """Chroma truncates a float operand compared with a stored int ({"n": 2.5} matches n=2); vecbridge does not."""
    collection = await store.create_collection(name, 2, "euclidean")
    values: dict[str, object] = {"i-3": -3, "i0": 0, "i2": 2, "i3": 3, "f-0.5": -0.5, "f2.5": 2.5}
    records = [vb.Record(key, [1.0, float(i)], {"n": value}) for i, (key, value) in enumerate(values.items())]
    records.append(vb.Record("missing", [0.0, 1.0], {}))
    await collection.upsert(records)
    assert await _ids(collection, filter_) == set(expected)


async def _ids(collection: vb.Collection, filter_: dict[str, object]) -> set[str]:
    ids: set[str] = set()
    async for page in collection.scan(filter=filter_):
        ids.update(record.id for record in page.records)
    assert len(ids) == await collection.count(filter_)
    return ids


async def test_batch_size_comes_from_the_server(store: vb.Store, url: str) -> None:
    import chromadb

    adapter = store.adapter
    assert isinstance(adapter, ChromaAdapter)
    parsed = URL.parse(url)
    if parsed.host:
        native = await chromadb.AsyncHttpClient(host=parsed.host, port=parsed.port or 8000)
        assert adapter.max_batch == await native.get_max_batch_size()
    else:
        assert adapter.max_batch == await asyncio.to_thread(adapter.client.get_max_batch_size)
    assert adapter.max_batch > 1000


async def test_records_of_two_namespaces_share_ids_but_not_data(store: vb.Store, name: str) -> None:
    collection = await store.create_collection(name, 2, "dot")
    other = collection.with_namespace("tenant-2")
    await collection.upsert([vb.Record("same", [1, 0], {"who": "default"})])
    await other.upsert([vb.Record("same", [0, 1], {"who": "tenant-2"})])
    await other.delete(filter={"who": "default"})  # matches nothing in tenant-2
    assert [r.metadata["who"] for r in await collection.get(["same"])] == ["default"]
    assert [(m.id, m.score) for m in await other.query([0, 1], top_k=5)] == [("same", 1.0)]
    assert sorted(await store.list_namespaces(name)) == ["default", "tenant-2"]


async def test_scan_sees_every_unchanged_record_once_while_others_are_written(store: vb.Store, name: str) -> None:
    """Records present for the whole scan appear exactly once, whatever is inserted or deleted meanwhile."""
    collection = await store.create_collection(name, 2, "euclidean")
    stable = [vb.Record(f"keep{i}", [float(i), 1.0], {"i": i}) for i in range(300)]
    doomed = [vb.Record(f"drop{i}", [float(i), 2.0]) for i in range(300)]
    await collection.upsert(stable + doomed)
    seen: list[str] = []
    pages = 0
    async for page in collection.scan(page_size=50):
        seen.extend(record.id for record in page.records)
        await collection.delete(ids=[f"drop{pages * 20 + j}" for j in range(20)])
        await collection.upsert([vb.Record(f"new{pages}-{j}", [1.0, 3.0]) for j in range(5)])
        await collection.upsert(stable[pages * 10 : pages * 10 + 10])  # rewrite unchanged records
        pages += 1
    kept = [record_id for record_id in seen if record_id.startswith("keep")]
    assert sorted(kept) == sorted(r.id for r in stable)
    assert len(seen) == len(set(seen))


async def test_collections_not_made_by_vecbridge_are_native(store: vb.Store, url: str, name: str) -> None:
    """Listed only with ``native=True``, described through a layout, never dropped by vecbridge
    (``test_chroma_native.py`` has the rest)."""
    adapter = store.adapter
    assert isinstance(adapter, ChromaAdapter)
    native_name = unique_name("native")
    await adapter._call(adapter.client.create_collection, native_name, embedding_function=None)
    try:
        assert native_name not in [spec.name for spec in await store.list_collections()]
        assert (await store.describe_collection(native_name)).spec.native
        with pytest.raises(vb.CollectionNotFoundError, match="not created by vecbridge"):
            await store.drop_collection(native_name)
    finally:
        await adapter._call(adapter.client.delete_collection, native_name)


async def test_database_is_selected_by_url(chroma_url: str) -> None:
    """``?database=`` picks a Chroma database: collections of one are invisible in another."""
    import chromadb

    parts = urlsplit(chroma_url.replace("chroma://", "http://"))
    admin = chromadb.AdminClient(
        chromadb.Settings(
            chroma_server_host=parts.hostname,
            chroma_server_http_port=parts.port,
            chroma_api_impl="chromadb.api.fastapi.FastAPI",
        )
    )
    database = unique_name("db")
    admin.create_database(database)
    async with vb.connect(f"{chroma_url}?database={database}") as other, vb.connect(chroma_url) as default:
        collection = unique_name()
        await other.create_collection(collection, 2, "cosine")
        try:
            assert await other.has_collection(collection)
            assert not await default.has_collection(collection)
        finally:
            await other.drop_collection(collection)


async def test_unknown_url_option_is_refused(url: str) -> None:
    with pytest.raises(vb.InvalidURLError, match="unknown option"):
        await vb.connect(f"{url}?colour=blue")


async def test_score_conversion_matches_the_native_distance(store: vb.Store, name: str) -> None:
    """Euclidean: Chroma returns the squared distance; vecbridge returns minus the true distance."""
    collection = await store.create_collection(name, 2, "euclidean")
    await collection.upsert([vb.Record("a", [3.0, 4.0])])
    (match,) = await collection.query([0.0, 0.0], top_k=1)
    assert match.score == pytest.approx(-5.0, abs=1e-5)


async def test_handles_cached_by_one_connection_follow_drops_by_another(url: str, name: str) -> None:
    """A connection caching Chroma collection handles sees another connection's drop, re-create and delete-all."""
    async with vb.connect(url) as first, vb.connect(url) as second:
        mine = await first.create_collection(name, 2, "dot")
        await mine.upsert([vb.Record("a", [1, 0])])
        await mine.with_namespace("t_").upsert([vb.Record("b", [0, 1])])
        await second.drop_collection(name)
        with pytest.raises(vb.CollectionNotFoundError):
            await mine.get(["a"])
        await second.create_collection(name, 2, "dot")
        assert await first.collection(name).get(["a"]) == []
        assert await first.collection(name, namespace="t_").count() == 0
        theirs = second.collection(name, namespace="t_")
        await theirs.upsert([vb.Record("c", [0, 1])])
        again = first.collection(name, namespace="t_")
        assert [r.id for r in await again.get(["c"])] == ["c"]
        await theirs.delete(all=True)
        assert await again.count() == 0
        await again.upsert([vb.Record("d", [1, 1])])
        assert [m.id for m in await theirs.query([1, 1], top_k=3)] == ["d"]


def test_namespace_collection_names_are_valid_and_distinct() -> None:
    from vecbridge_chroma.adapter import chroma_name

    names = [chroma_name("docs", ns) for ns in ("default", "a", "a_", "a_x", "a-", "a.b", "7", "x" * 64)]
    assert names[:3] == ["docs", "docs.1.a", "docs.2.a_x"]
    assert len(set(names)) == len(names)
    assert all(n[-1].isalnum() and 3 <= len(n) <= 512 for n in names)


async def test_arrays_left_by_a_dropped_native_collection_never_reach_vecbridge_records(
    store: vb.Store, name: str, url: str
) -> None:
    """Chroma 1.5.9 hands the arrays of a dropped collection's records to later records, even of another
    collection; vecbridge's own records hold no arrays, so an array read back is never theirs."""
    import chromadb
    from chromadb.config import Settings

    parsed = URL.parse(url)
    settings = Settings(anonymized_telemetry=False)
    client = (
        chromadb.HttpClient(host=parsed.host, port=parsed.port or 8000, settings=settings)
        if parsed.host
        else chromadb.PersistentClient(path=parsed.path, settings=settings)
    )
    native = client.create_collection(f"{name}_app", embedding_function=None)
    native.add(
        ids=[f"n{i}" for i in range(20)],
        embeddings=[[1.0, float(i), 0.0] for i in range(20)],
        metadatas=[{"tags": ["x", f"t{i}"]} for i in range(20)],
    )
    client.delete_collection(f"{name}_app")
    ours = await store.create_collection(name, 3, "cosine")
    await ours.upsert([vb.Record(f"s{i}", [1, i, 0], {"n": i}) for i in range(20)])
    assert [r.metadata for r in await ours.get([f"s{i}" for i in range(20)])] == [{"n": i} for i in range(20)]

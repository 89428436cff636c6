"""Milvus-specific behaviour beyond the conformance suite, on both real engines: Milvus Lite 2.5.1 and
a Milvus 2.3.5 standalone server."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import numpy as np
import pytest
from vecbridge_milvus import MilvusAdapter
from vecbridge_milvus.adapter import MAX_DOCUMENT_BYTES, MAX_JSON_BYTES

import vecbridge as vb
from vecbridge.filters import parse_filter

#: Filter values that must survive the trip into a Milvus expression literal unchanged.
ESCAPING_CORPUS = [
    'O\'Brien "x" \\ y',
    "plain",
    "",
    " leading and trailing ",
    "'",
    '"',
    "\\",
    "\\\\",
    '\\"',
    "\\'",
    "a\\'b",
    "ends with backslash \\",
    "\\n (backslash n, not a line feed)",
    "\\u0041 (not an escape)",
    "tab\tinside",
    "é ü ß",
    "日本語",
    "emoji 😀",
    "\u2028 line separator",
    "${not_a_template}",
    "%s %d",
    '" or 1 == 1 or "',
    "' or ''='",
    ") or (true",
    'meta["k"]',
    "json_contains(x, 1)",
    "/* comment */",
]


def _random_vectors(count: int, dimension: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(count, dimension)).astype(np.float32)


@pytest.fixture(params=["lite", "server"])
def engine_url(request: pytest.FixtureRequest) -> str:
    """Each test runs on Milvus Lite and on the Milvus server (session fixtures in tests/servers/milvus.py)."""
    url: str = request.getfixturevalue("milvus_url" if request.param == "lite" else "milvus_server_url")
    return url


@pytest.fixture
async def store(engine_url: str) -> AsyncIterator[vb.Store]:
    async with vb.connect(engine_url) as opened:
        yield opened


@pytest.fixture
async def collection_name(store: vb.Store) -> AsyncIterator[str]:
    name = f"vbm_{secrets.token_hex(4)}"
    yield name
    await store.drop_collection(name, missing_ok=True)


async def _native_count(store: vb.Store, name: str) -> int:
    """Entities in the Milvus collection, counted by pymilvus itself (duplicates would show here), on the
    store's own client: a second client to a Lite file shares its connection, and closing it closes both."""
    assert isinstance(store.adapter, MilvusAdapter)
    rows = await store.adapter.client.query(name, filter="", output_fields=["count(*)"], consistency_level="Strong")
    return int(rows[0]["count(*)"])


async def test_upserting_the_same_ids_twice_leaves_one_entity_each(store: vb.Store, collection_name: str) -> None:
    collection = await store.create_collection(collection_name, 16, "cosine")
    vectors = _random_vectors(1000, 16, seed=1)
    first = [vb.Record(id=f"id-{i}", vector=vectors[i], metadata={"round": 1, "stale": True}) for i in range(1000)]
    second = [vb.Record(id=f"id-{i}", vector=vectors[999 - i], metadata={"round": 2}) for i in range(1000)]
    await collection.upsert(first)
    await collection.upsert(second)
    assert await collection.count() == 1000
    assert await collection.count({"round": 2}) == 1000
    assert await collection.count({"stale": {"$exists": True}}) == 0
    assert await _native_count(store, collection_name) == 1000
    got = await collection.get(["id-0", "id-999"])
    assert [r.metadata for r in got] == [{"round": 2}, {"round": 2}]
    np.testing.assert_allclose(np.asarray(got[0].vector), vectors[999], rtol=1e-6)


async def test_a_value_with_quotes_and_backslashes_matches_exactly(store: vb.Store, collection_name: str) -> None:
    collection = await store.create_collection(collection_name, 4, "euclidean")
    tricky = 'O\'Brien "x" \\ y'
    near_misses = [
        'O\'Brien "x" \\\\ y',
        "O'Brien x \\ y",
        'O\\\'Brien "x" \\ y',
        'O\'Brien "x" y',
        'o\'brien "x" \\ y',
    ]
    values = [tricky, *near_misses]
    vectors = _random_vectors(len(values), 4, seed=2)
    await collection.upsert(
        [vb.Record(id=f"r{i}", vector=vectors[i], metadata={"name": v}) for i, v in enumerate(values)]
    )
    assert [m.id for m in await collection.query(vectors[0], top_k=10, filter={"name": tricky})] == ["r0"]
    assert await collection.count({"name": {"$ne": tricky}}) == len(near_misses)
    assert await collection.count({"name": {"$in": [tricky, "unrelated"]}}) == 1


async def test_escaping_corpus_every_value_matches_only_itself(store: vb.Store, collection_name: str) -> None:
    collection = await store.create_collection(collection_name, 4, "cosine")
    vectors = _random_vectors(len(ESCAPING_CORPUS), 4, seed=3)
    records = [
        vb.Record(id=f"s{i}", vector=vectors[i], metadata={"text": value, "tags": [value, "common"]})
        for i, value in enumerate(ESCAPING_CORPUS)
    ]
    await collection.upsert(records)
    total = len(ESCAPING_CORPUS)
    for i, value in enumerate(ESCAPING_CORPUS):
        hits = await collection.query(vectors[i], top_k=total, filter={"text": value})
        assert [m.id for m in hits] == [f"s{i}"], f"$eq {value!r}"
        assert await collection.count({"tags": value}) == 1, f"list $eq {value!r}"
        assert await collection.count({"text": {"$ne": value}}) == total - 1, f"$ne {value!r}"
        assert await collection.count({"tags": {"$nin": [value]}}) == total - 1, f"list $nin {value!r}"
        assert await collection.count({"$not": {"tags": {"$in": [value, "absent"]}}}) == total - 1, (
            f"$not $in {value!r}"
        )


async def test_a_line_feed_in_a_filter_value_is_refused_before_any_request(
    store: vb.Store, collection_name: str
) -> None:
    collection = await store.create_collection(collection_name, 4, "cosine")
    spec = await collection.spec()
    for value in ("line\nfeed", "carriage\rreturn"):
        with pytest.raises(vb.UnsupportedFilterError, match="line feed"):
            store.adapter.compile_filter(parse_filter({"text": value}), spec)
    # as a stored value it is fine: only filter literals cannot carry it
    await collection.upsert([vb.Record(id="nl", vector=[1.0, 0.0, 0.0, 0.0], metadata={"text": "line\nfeed"})])
    assert (await collection.get(["nl"]))[0].metadata == {"text": "line\nfeed"}


@pytest.mark.parametrize("metric", ["cosine", "dot", "euclidean"])
async def test_same_ids_and_scores_as_the_reference_engine(store: vb.Store, collection_name: str, metric: str) -> None:
    dimension = 32
    vectors = _random_vectors(1000, dimension, seed=4)
    queries = _random_vectors(20, dimension, seed=5)
    rng = np.random.default_rng(6)
    records = [
        vb.Record(
            id=f"doc {i} 'q'",
            vector=vectors[i],
            metadata={"bucket": int(rng.integers(0, 5)), "tag": ["a", "b", "c"][i % 3]},
            document=f"document {i}",
        )
        for i in range(1000)
    ]
    milvus = await store.create_collection(collection_name, dimension, metric)
    await milvus.upsert(records)
    async with vb.connect("memory://") as memory_store:
        reference = await memory_store.create_collection("reference", dimension, metric)
        await reference.upsert(records)
        for position, query in enumerate(queries):
            filter_ = {"bucket": {"$ne": 2}} if position % 2 else None
            got = await milvus.query(query, top_k=10, filter=filter_)
            want = await reference.query(query, top_k=10, filter=filter_)
            assert [m.id for m in got] == [m.id for m in want]
            np.testing.assert_allclose([m.score for m in got], [m.score for m in want], atol=1e-4, rtol=0)
            assert [m.document for m in got] == [m.document for m in want]


async def test_unknown_url_options_are_refused() -> None:
    with pytest.raises(vb.InvalidURLError, match="unknown option"):
        await MilvusAdapter.connect(vb.URL.parse("milvus://127.0.0.1:19530?colour=blue"))
    with pytest.raises(vb.InvalidURLError, match=r"\.db"):
        await MilvusAdapter.connect(vb.URL.parse("milvus+lite:///tmp/not-a-database"))


async def test_int_values_compare_exactly_with_fractional_float_operands(store: vb.Store, collection_name: str) -> None:
    """Milvus compares JSON ints and floats as numbers: no truncation of a float operand (a Chroma bug)."""
    from vecbridge.filters import evaluate

    collection = await store.create_collection(collection_name, 2, "cosine")
    values: list[int | float | bool] = [-3, -1, 0, 1, 2, 3, 2.5, -0.5, 1.0, True, False]
    records = [vb.Record(id=f"n{i}", vector=[1.0, float(i)], metadata={"n": v}) for i, v in enumerate(values)]
    await collection.upsert(records)
    operands = [-0.5, 0.5, 1.5, 2.5, -2.5, 1.0, 0, 2]
    for operand in operands:
        for op in ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte"):
            filter_ = {"n": {op: operand}}
            node = parse_filter(filter_)
            want = sorted(r.id for r in records if evaluate(node, r.metadata))
            got = sorted([r.id async for page in collection.scan(filter=filter_) for r in page.records])
            assert got == want, filter_


# --- record limits (MilvusAdapter.check_storable): checked by the core before the first write -------------


async def test_a_multi_batch_upsert_whose_last_record_is_too_long_writes_nothing(
    store: vb.Store, collection_name: str
) -> None:
    collection = await store.create_collection(collection_name, 8, "cosine")
    vectors = _random_vectors(2500, 8, seed=7)
    records = [vb.Record(id=f"r{i}", vector=vectors[i], document=f"document {i}") for i in range(2500)]
    records[-1].document = "x" * (MAX_DOCUMENT_BYTES + 1)  # in the third batch of 1,000
    with pytest.raises(vb.InvalidRecordError) as caught:
        await collection.upsert(records)
    assert (caught.value.record_id, caught.value.field) == ("r2499", "document")
    assert "65535" in str(caught.value)
    assert await collection.count() == 0
    assert await _native_count(store, collection_name) == 0


async def test_document_limit_counts_utf8_bytes_and_the_largest_document_round_trips(
    store: vb.Store, collection_name: str
) -> None:
    collection = await store.create_collection(collection_name, 2, "cosine")
    largest = "é" * (MAX_DOCUMENT_BYTES // 2) + "x"  # 32,767 two-byte characters + 1 = 65,535 bytes
    assert len(largest.encode()) == MAX_DOCUMENT_BYTES
    await collection.upsert([vb.Record(id="fits", vector=[1.0, 0.0], document=largest)])
    assert (await collection.get(["fits"]))[0].document == largest
    too_long = "é" * 32_768  # 32,768 characters (half the column) but 65,536 bytes
    with pytest.raises(vb.InvalidRecordError, match="65536 bytes") as caught:
        await collection.upsert([vb.Record(id="emoji", vector=[0.0, 1.0], document=too_long)])
    assert caught.value.field == "document"
    assert await collection.count() == 1


async def test_metadata_over_the_json_field_limit_is_refused_naming_the_record(
    store: vb.Store, collection_name: str
) -> None:
    collection = await store.create_collection(collection_name, 2, "cosine")
    fits = {"body": "a" * (MAX_JSON_BYTES - 40), "n": 1}
    big = {"body": "a" * MAX_JSON_BYTES, "n": 1}
    many_lists = {f"k{i}": [f"v{j}" for j in range(200)] for i in range(12)}  # small values, big helper keys
    await collection.upsert([vb.Record(id="fits", vector=[1.0, 0.0], metadata=fits)])
    assert (await collection.get(["fits"]))[0].metadata == fits
    for record_id, metadata, words in (("big", big, "'body'"), ("lists", many_lists, "helper keys")):
        with pytest.raises(vb.InvalidRecordError, match=words) as caught:
            await collection.upsert(
                [
                    vb.Record(id="ok", vector=[1.0, 1.0], metadata={"n": 2}),
                    vb.Record(id=record_id, vector=[0.0, 1.0], metadata=metadata),
                ]
            )
        assert (caught.value.record_id, caught.value.field) == (record_id, "metadata")
    assert await collection.count() == 1
    assert store.adapter.has_record_limits()


# --- index settings: the server builds what the spec asks for; Lite 2.5 has no HNSW -----------------


async def _index_of(store: vb.Store, name: str) -> dict[str, object]:
    assert isinstance(store.adapter, MilvusAdapter)
    [index_name] = await store.adapter.client.list_indexes(name)
    described: dict[str, object] = await store.adapter.client.describe_index(name, index_name)
    return described


@pytest.mark.parametrize(
    ("index", "server_index", "lite_index"),
    [
        (vb.HNSW(m=8, ef_construction=40), {"index_type": "HNSW", "M": "8", "efConstruction": "40"}, "FLAT"),
        (vb.IVF(nlist=16), {"index_type": "IVF_FLAT", "nlist": "16"}, "IVF_FLAT"),
    ],
)
async def test_the_index_built_is_the_one_asked_for_and_queries_past_its_ef_are_exact(
    store: vb.Store,
    collection_name: str,
    engine_url: str,
    index: vb.HNSW | vb.IVF,
    server_index: dict[str, str],
    lite_index: str,
) -> None:
    collection = await store.create_collection(collection_name, 16, "euclidean", index=index)
    described = await _index_of(store, collection_name)
    if engine_url.startswith("milvus+lite://"):
        assert described["index_type"] == lite_index  # Lite 2.5.1 offers FLAT, IVF_FLAT and AUTOINDEX only
    else:
        assert {key: str(described.get(key)) for key in server_index} == server_index
    vectors = _random_vectors(300, 16, seed=8)
    records = [vb.Record(id=f"v{i}", vector=vectors[i], metadata={"odd": i % 2 == 1}) for i in range(300)]
    await collection.upsert(records)
    query = _random_vectors(1, 16, seed=9)[0]
    async with vb.connect("memory://") as memory_store:
        reference = await memory_store.create_collection("reference", 16, "euclidean")
        await reference.upsert(records)
        # top_k 100 is past the default ef (64): the adapter raises ef to top_k, which Milvus requires
        for filter_ in (None, {"odd": True}):
            got = await collection.query(query, top_k=100, filter=filter_)
            want = await reference.query(query, top_k=100, filter=filter_)
            assert len(got) == len(want) == 100
            assert len({m.id for m in got} & {m.id for m in want}) >= 95  # an ANN index: near-exact recall

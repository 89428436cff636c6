"""Chroma collections vecbridge did not create, on a real ``chroma run`` server and on embedded Chroma.

The data is written by chromadb's own client, by the real ``langchain-chroma`` and by the real
``llama-index-vector-stores-chroma``; every expected answer is computed in the test (the reference
filter evaluator, numpy), and every framework reads back through its own API.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import chromadb
import numpy as np
import pytest
import pytest_asyncio
from chromadb.config import Settings
from vecbridge_conformance.base import expected_ids, reference_scores, unique_name

import vecbridge as vb
from vecbridge.layout import FieldRole, metadata_value
from vecbridge.url import URL

DIMENSION = 8
SPACES = {"cosine": "cosine", "dot": "ip", "euclidean": "l2"}

#: Filters Chroma answers exactly on native metadata (strings, numbers, bools, string arrays).
FILTERS: list[dict[str, Any]] = [
    {"color": "red"},
    {"color": {"$ne": "red"}},
    {"tags": "t1"},
    {"tags": {"$ne": "u2"}},
    {"tags": {"$in": ["t2", "u3"]}},
    {"tags": {"$nin": ["t1", "u2"]}},
    {"n": 3},
    {"n": 4.5},
    {"n": {"$gte": 10}},
    {"n": {"$lt": 5.5}},
    {"flag": True},
    {"flag": {"$ne": False}},
    {"$or": [{"flag": True}, {"tags": {"$in": ["u3"]}}]},
    {"$not": {"color": {"$in": ["red", "blue"]}}},
    {"$and": [{"color": {"$ne": "green"}}, {"n": {"$gt": 2}}]},
]


@pytest.fixture(params=["server", "embedded"])
def url(request: pytest.FixtureRequest) -> str:
    fixture = "chroma_url" if request.param == "server" else "chroma_embedded_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture
def client(url: str) -> chromadb.api.ClientAPI:
    """chromadb's own synchronous client on the same Chroma (the same settings as the adapter's, so
    embedded Chroma shares one instance per directory)."""
    parsed = URL.parse(url)
    settings = Settings(anonymized_telemetry=False)
    if parsed.host:
        return chromadb.HttpClient(host=parsed.host, port=parsed.port or 8000, settings=settings)
    return chromadb.PersistentClient(path=parsed.path, settings=settings)


@pytest_asyncio.fixture
async def store(url: str) -> AsyncIterator[vb.Store]:
    async with vb.connect(url) as connected:
        yield connected


@pytest.fixture
def names(client: chromadb.api.ClientAPI) -> Iterator[list[str]]:
    """Collection names a test uses; each is dropped afterwards with chromadb's own client."""
    chosen: list[str] = []
    yield chosen
    for name in chosen:
        with contextlib.suppress(Exception):  # a test may never have created it
            client.delete_collection(name)


def native_rows(count: int, seed: int) -> dict[str, Any]:
    """What an application hands chromadb's ``add``: every Chroma value type, keys missing on some
    records, records without metadata or document, and a list of numbers (converted to JSON text)."""
    rng = np.random.default_rng(seed)
    metadatas: list[dict[str, Any] | None] = []
    for i in range(count):
        metadata: dict[str, Any] = {}
        if i % 3:
            metadata["color"] = ["red", "blue", "green"][i % 3 - 1 + (i % 2)]
        if i % 4 != 1:
            metadata["n"] = i if i % 2 else i + 0.5
        if i % 5 == 0:
            metadata["flag"] = bool(i % 2)
        if i % 2:
            metadata["tags"] = [f"t{i % 3}", f"u{i % 4}"]
        if i % 7 == 0:
            metadata["scores"] = [i, i + 1]
        metadatas.append(metadata or None)
    return {
        "ids": [f"native-{i}" for i in range(count)],
        "embeddings": rng.normal(size=(count, DIMENSION)).astype(np.float32),
        "documents": [None if i % 6 == 0 else f"text {i}" for i in range(count)],
        "metadatas": metadatas,
    }


def contract_records(rows: Mapping[str, Any]) -> list[vb.Record]:
    """The records the contract says ``rows`` (a chromadb ``get`` result) are, by the core's conversion rules."""
    return [
        vb.Record(
            record_id,
            vector,
            {key: metadata_value(value) for key, value in (metadata or {}).items()},
            document,
        )
        for record_id, vector, document, metadata in zip(
            rows["ids"], rows["embeddings"], rows["documents"], rows["metadatas"], strict=True
        )
    ]


def make_native(
    client: chromadb.api.ClientAPI, names: list[str], metric: str = "cosine", count: int = 40, seed: int = 0
) -> tuple[Any, list[vb.Record]]:
    name = unique_name("native")
    names.append(name)
    collection = client.create_collection(
        name, embedding_function=None, configuration={"hnsw": {"space": SPACES[metric]}}
    )
    collection.add(**native_rows(count, seed))
    return collection, contract_records(collection.get(include=["embeddings", "metadatas", "documents"]))


def stored(collection: Any, ids: list[str]) -> list[tuple[dict[str, Any], str | None]]:
    """(metadata, document) of ``ids`` as chromadb's own client reads them.

    Expectations come from here rather than from what was written: Chroma 1.5.9 hands the array
    metadata of dropped collections to records added later (see ``vecbridge_chroma.native``), so a
    record may hold keys its writer never gave it, and vecbridge must read what Chroma holds."""
    got = collection.get(ids=ids, include=["metadatas", "documents"])
    by_id = {i: (m or {}, d) for i, m, d in zip(got["ids"], got["metadatas"], got["documents"], strict=True)}
    return [by_id[i] for i in ids]


def snapshot(client: chromadb.api.ClientAPI, name: str) -> tuple[Any, ...]:
    """Everything about a collection and the database a read could change."""
    collection = client.get_collection(name, embedding_function=None)
    held = collection.get(include=["embeddings", "metadatas", "documents"])
    return (
        sorted(c.name for c in client.list_collections()),
        collection.metadata,
        collection.configuration_json,
        collection.count(),
        held["ids"],
        held["metadatas"],
        held["documents"],
        np.asarray(held["embeddings"]).tolist(),
    )


async def scan_all(collection: vb.Collection, page_size: int = 7, **options: Any) -> list[vb.Record]:
    return [record async for page in collection.scan(page_size, **options) for record in page.records]


# --- discovery -----------------------------------------------------------------------------------


async def test_a_collection_made_by_chromadb_is_listed_and_described(
    store: vb.Store, client: chromadb.api.ClientAPI, names: list[str]
) -> None:
    collection, records = make_native(client, names, "dot")
    listed = {spec.name: spec for spec in await store.list_collections(native=True)}
    assert collection.name in listed and listed[collection.name].native
    assert collection.name not in {spec.name for spec in await store.list_collections()}
    info = await store.describe_collection(collection.name)
    assert (info.count, info.dimension, info.metric) == (len(records), DIMENSION, vb.Metric.DOT)
    layout = info.spec.layout
    assert layout is not None
    assert (layout.preset, layout.id, layout.vector, layout.document, layout.namespace) == (
        "native",
        "",
        "",
        "#document",
        None,
    )
    fields = {field.name: field for field in layout.fields}
    assert fields["n"].type == "float|int" and fields["n"].role is FieldRole.METADATA
    assert fields["tags"].type == "list[str]" and fields["tags"].note == ""
    assert fields["scores"].type == "list[int]" and "JSON text" in fields["scores"].note
    assert fields["#embedding"].note.startswith("metric ip")


async def test_vecbridge_collections_and_their_namespaces_are_not_native(
    store: vb.Store, client: chromadb.api.ClientAPI
) -> None:
    name = unique_name("own")
    own = await store.create_collection(name, 3, "cosine", namespace="tenant-a")
    try:
        await own.upsert([vb.Record("a", [1, 0, 0])])
        native = {spec.name for spec in await store.list_collections(native=True) if spec.native}
        assert not {c.name for c in client.list_collections() if c.name.startswith(name)} & native
        with pytest.raises(vb.LayoutError, match="vecbridge's own storage"):
            await store.describe_collection(name, layout="native")
    finally:
        await store.drop_collection(name)


async def test_metric_is_read_from_the_configuration_or_legacy_metadata(
    store: vb.Store, client: chromadb.api.ClientAPI, names: list[str]
) -> None:
    legacy, default = unique_name("legacy"), unique_name("default")
    names.extend([legacy, default])
    client.create_collection(legacy, embedding_function=None, metadata={"hnsw:space": "cosine"})
    client.create_collection(default, embedding_function=None)
    assert (await store.describe_collection(legacy)).metric is vb.Metric.COSINE
    assert (await store.describe_collection(default)).metric is vb.Metric.EUCLIDEAN
    with pytest.raises(vb.LayoutError, match="euclidean"):
        await store.describe_collection(default, layout={"metric": "cosine"})


async def test_an_empty_collection_has_dimension_zero_until_written(
    store: vb.Store, client: chromadb.api.ClientAPI, names: list[str]
) -> None:
    name = unique_name("empty")
    names.append(name)
    collection = client.create_collection(name, embedding_function=None)
    assert (await store.describe_collection(name)).dimension == 0
    collection.add(ids=["a"], embeddings=[[1.0, 2.0, 3.0]])
    assert (await store.describe_collection(name)).dimension == 3


async def test_keys_outside_the_contract_are_named_and_counted_never_dropped_silently(
    store: vb.Store, client: chromadb.api.ClientAPI, names: list[str]
) -> None:
    name = unique_name("unfit")
    names.append(name)
    collection = client.create_collection(name, embedding_function=None)
    collection.add(
        ids=["a", "b"],
        embeddings=[[1, 0], [0, 1]],
        metadatas=[{"page number": 3, "ok": "x", "_vb_mark": 1}, {"page number": 4, "ok": "y"}],
    )
    info = await store.describe_collection(name)
    assert info.spec.layout is not None
    unfit = {f.name: f.note for f in info.spec.layout.unfit_fields()}
    assert set(unfit) == {"page number", "_vb_mark"} and "reserved" in unfit["_vb_mark"]
    native = store.collection(name)
    assert [r.metadata for r in await native.get(["a", "b"])] == [
        {k: metadata_value(v) for k, v in metadata.items() if k not in unfit}
        for metadata, _ in stored(collection, ["a", "b"])
    ]
    spec = await native.spec()
    assert spec.layout is not None
    assert sorted(spec.layout.drops.lines()) == [
        "1 value(s) of '_vb_mark' not read: keys starting with '_vb' are reserved",
        "2 value(s) of 'page number' not read: not a portable key ([A-Za-z_][A-Za-z0-9_]*, at most 64 characters)",
    ]


# --- reads ---------------------------------------------------------------------------------------


async def test_reading_never_writes(store: vb.Store, client: chromadb.api.ClientAPI, names: list[str]) -> None:
    collection, records = make_native(client, names)
    before = snapshot(client, collection.name)
    async with vb.connect(store.url) as other:  # connecting writes nothing either
        await other.list_collections(native=True)
        await other.describe_collection(collection.name)
        native = other.collection(collection.name)
        await native.get([r.id for r in records])
        await native.query(records[0].vector, top_k=5, filter={"color": "red"})
        await native.count({"tags": "t1"})
        await scan_all(native, filter={"n": {"$gt": 3}})
        await other.list_namespaces(collection.name)
    assert snapshot(client, collection.name) == before


async def test_get_returns_the_records_as_the_contract_reads_them(
    store: vb.Store, client: chromadb.api.ClientAPI, names: list[str]
) -> None:
    collection, records = make_native(client, names)
    got = await store.collection(collection.name).get([r.id for r in records] + ["missing"])
    assert [r.id for r in got] == [r.id for r in records]
    for mine, theirs in zip(got, records, strict=True):
        assert (mine.metadata, mine.document) == (theirs.metadata, theirs.document)
        np.testing.assert_allclose(mine.vector, theirs.vector, rtol=1e-6)


@pytest.mark.parametrize("metric", ["cosine", "dot", "euclidean"])
async def test_query_scores_follow_the_vecbridge_convention(
    store: vb.Store, client: chromadb.api.ClientAPI, names: list[str], metric: str
) -> None:
    collection, records = make_native(client, names, metric, seed=1)
    query = np.random.default_rng(9).normal(size=DIMENSION).astype(np.float32)
    scores = reference_scores(metric, np.stack([r.vector for r in records]), query)
    order = np.argsort(-scores)[:10]
    matches = await store.collection(collection.name).query(query, top_k=10)
    assert [m.id for m in matches] == [records[i].id for i in order]
    np.testing.assert_allclose([m.score for m in matches], scores[order], atol=1e-4)
    assert matches[0].metadata == records[order[0]].metadata


@pytest.mark.parametrize("filter_", FILTERS, ids=[str(f) for f in FILTERS])
async def test_filters_give_the_reference_answer(
    store: vb.Store, client: chromadb.api.ClientAPI, names: list[str], filter_: dict[str, Any]
) -> None:
    collection, records = make_native(client, names, "euclidean", seed=2)
    native = store.collection(collection.name)
    want = expected_ids(records, filter_)
    assert await native.count(filter_) == len(want)
    assert sorted(r.id for r in await scan_all(native, filter=filter_)) == sorted(want)
    query = np.random.default_rng(3).normal(size=DIMENSION).astype(np.float32)
    chosen = [r for r in records if r.id in set(want)]
    if chosen:
        scores = reference_scores("euclidean", np.stack([r.vector for r in chosen]), query)
        best = [chosen[i].id for i in np.argsort(-scores)[:5]]
        assert [m.id for m in await native.query(query, top_k=5, filter=filter_)] == best


@pytest.mark.parametrize(
    ("filter_", "reason"),
    [
        ({"scores": 3}, "'scores' holds list\\[int\\]"),
        ({"color": {"$exists": True}}, "presence"),
        ({"$not": {"n": {"$gt": 3}}}, "not a number"),
    ],
)
async def test_filters_chroma_cannot_answer_exactly_are_refused(
    store: vb.Store, client: chromadb.api.ClientAPI, names: list[str], filter_: dict[str, Any], reason: str
) -> None:
    collection, _ = make_native(client, names)
    native = store.collection(collection.name)
    with pytest.raises(vb.UnsupportedFilterError, match=reason):
        await native.count(filter_)


async def test_scan_pages_every_record_once_and_resumes_from_a_cursor(
    store: vb.Store, client: chromadb.api.ClientAPI, names: list[str]
) -> None:
    collection, records = make_native(client, names)
    native = store.collection(collection.name)
    pages = [page async for page in native.scan(6)]
    assert sorted(r.id for page in pages for r in page.records) == sorted(r.id for r in records)
    cursor = pages[2].cursor
    assert cursor is not None
    async with vb.connect(store.url) as other:
        resumed = await scan_all(other.collection(collection.name), 6, cursor=cursor)
    assert [r.id for r in resumed] == [r.id for page in pages[3:] for r in page.records]


async def test_a_scan_finds_its_place_after_deletes_before_the_cursor(
    store: vb.Store, client: chromadb.api.ClientAPI, names: list[str]
) -> None:
    collection, records = make_native(client, names)
    native = store.collection(collection.name)
    first = await anext(native.scan(10).__aiter__())
    collection.delete(ids=[first.records[1].id, first.records[4].id])  # the application deletes meanwhile
    rest = await scan_all(native, 10, cursor=first.cursor)
    assert [r.id for r in rest] == [r.id for r in records[10:]]


# --- writes --------------------------------------------------------------------------------------


async def test_a_native_collection_is_read_only_unless_opened_writable(
    store: vb.Store, client: chromadb.api.ClientAPI, names: list[str]
) -> None:
    collection, records = make_native(client, names)
    before = snapshot(client, collection.name)
    native = store.collection(collection.name)
    with pytest.raises(vb.UnsupportedFeatureError, match="writable=True"):
        await native.upsert([vb.Record("x", records[0].vector)])
    with pytest.raises(vb.UnsupportedFeatureError, match="writable=True"):
        await native.delete(all=True)
    assert snapshot(client, collection.name) == before


async def test_upsert_replaces_whole_records_in_the_collections_own_shape(
    store: vb.Store, client: chromadb.api.ClientAPI, names: list[str]
) -> None:
    collection, records = make_native(client, names)
    writable = store.collection(collection.name, writable=True)
    vector = np.ones(DIMENSION, dtype=np.float32)
    # native-3 had color, n, tags and a document; native-1 had a document; native-99 is new
    await writable.upsert(
        [
            vb.Record("native-3", vector, {"color": "teal"}, "new text"),
            vb.Record("native-1", vector, {"tags": ["x"]}, None),
            vb.Record("native-99", vector, {}, None),
        ]
    )
    held = collection.get(ids=["native-3", "native-1", "native-99"], include=["metadatas", "documents"])
    shape = dict(zip(held["ids"], zip(held["metadatas"], held["documents"], strict=True), strict=True))
    assert shape == {
        "native-3": ({"color": "teal"}, "new text"),
        "native-1": ({"tags": ["x"]}, None),
        "native-99": (None, None),
    }
    got = {r.id: r for r in await writable.get(["native-3", "native-1", "native-99"])}
    assert got["native-1"].metadata == {"tags": ["x"]} and got["native-1"].document is None
    assert collection.metadata is None and client.get_collection(collection.name).metadata is None
    assert await writable.count() == len(records) + 1


async def test_delete_by_ids_and_by_filter(store: vb.Store, client: chromadb.api.ClientAPI, names: list[str]) -> None:
    collection, records = make_native(client, names)
    writable = store.collection(collection.name, writable=True)
    await writable.delete(["native-0", "native-1", "missing"])
    await writable.delete(filter={"color": "red"})
    left = [r for r in records[2:] if r.id not in set(expected_ids(records, {"color": "red"}))]
    assert sorted(collection.get(include=[])["ids"]) == sorted(r.id for r in left)
    await writable.delete(all=True)
    assert collection.count() == 0


async def test_create_collection_in_a_native_layout_makes_a_plain_chroma_collection(
    store: vb.Store, client: chromadb.api.ClientAPI, names: list[str]
) -> None:
    name = unique_name("made")
    names.append(name)
    made = await store.create_collection(name, 4, "dot", layout="native")
    assert (await made.spec()).dimension == 4
    with pytest.raises(vb.InvalidArgumentError, match="not a Chroma collection name"):
        await store.create_collection("my docs", 4, "dot", layout="native")
    await made.upsert([vb.Record("a", [1, 2, 3, 4], {"k": "v"}, "text"), vb.Record("b", [0, 1, 0, 0])])
    chroma = client.get_collection(name, embedding_function=None)
    assert chroma.metadata is None and chroma.configuration_json["hnsw"]["space"] == "ip"
    held = chroma.get(include=["metadatas", "documents"])
    assert held["metadatas"] == [{"k": "v"}, None] and held["documents"] == ["text", None]
    assert [m.score for m in await made.query([1, 0, 0, 0], top_k=2)] == pytest.approx([1.0, 0.0])


async def test_a_declared_namespace_field_splits_the_collection(
    store: vb.Store, client: chromadb.api.ClientAPI, names: list[str]
) -> None:
    name = unique_name("tenants")
    names.append(name)
    collection = client.create_collection(name, embedding_function=None)
    collection.add(
        ids=["a", "b", "c", "d"],
        embeddings=[[1, 0], [0, 1], [1, 1], [2, 1]],
        metadatas=[{"tenant": "t1", "k": 1}, {"tenant": "t2", "k": 2}, {"tenant": "t1", "k": 3}, {"k": 4}],
    )
    layout = {"namespace": "tenant"}
    assert await store.list_namespaces(name, layout=layout) == ["t1", "t2"]
    t1 = store.collection(name, "t1", layout=layout)
    assert sorted(r.id for r in await scan_all(t1)) == ["a", "c"]
    assert [m.id for m in await t1.query([1, 0], top_k=5)] == ["a", "c"]
    ((a_metadata, _),) = stored(collection, ["a"])
    assert (await t1.get(["a", "b"]))[0].metadata == {k: v for k, v in a_metadata.items() if k != "tenant"}
    with pytest.raises(vb.UnsupportedFilterError, match="tenant"):
        await t1.count({"tenant": "t2"})
    t3 = store.collection(name, "t3", layout=layout, writable=True)
    await t3.upsert([vb.Record("e", [0.5, 0.5], {"k": 5})])
    assert collection.get(ids=["e"], include=["metadatas"])["metadatas"] == [{"k": 5, "tenant": "t3"}]
    with pytest.raises(vb.LayoutError, match="'k' holds int"):
        await store.describe_collection(name, layout={"namespace": "k"})
    with pytest.raises(vb.InvalidRecordError, match="namespace 't1'"):
        await t3.upsert([vb.Record("a", [0.5, 0.5], {"k": 6})])  # ids are one space: "a" stays in t1
    assert collection.get(ids=["a"], include=["metadatas"])["metadatas"][0]["tenant"] == "t1"


async def test_a_document_kept_in_a_metadata_key_is_declared_by_its_key(
    store: vb.Store, client: chromadb.api.ClientAPI, names: list[str]
) -> None:
    name = unique_name("textkey")
    names.append(name)
    collection = client.create_collection(name, embedding_function=None)
    collection.add(ids=["a", "b"], embeddings=[[1, 0], [0, 1]], metadatas=[{"text": "hello", "k": 1}, {"k": 2}])
    with pytest.raises(vb.LayoutError, match=r"'documents'.*'#document'"):
        await store.describe_collection(name, layout={"document": "documents"})
    layout = {"document": "text"}
    got = await store.collection(name, layout=layout).get(["a", "b"])
    assert [(r.metadata, r.document) for r in got] == [
        ({k: v for k, v in metadata.items() if k != "text"}, metadata.get("text"))
        for metadata, _ in stored(collection, ["a", "b"])
    ]
    with pytest.raises(vb.UnsupportedFilterError, match="'text' is document"):
        await store.collection(name, layout=layout).count({"text": "hello"})
    writable = store.collection(name, layout=layout, writable=True)
    await writable.upsert([vb.Record("a", [1, 1], {"k": 3}, None), vb.Record("b", [1, 1], {}, "bye")])
    held = collection.get(ids=["a", "b"], include=["metadatas", "documents"])
    assert held["metadatas"] == [{"k": 3}, {"text": "bye"}] and held["documents"] == [None, None]


# --- data written by the frameworks ----------------------------------------------------------------

LANGCHAIN_TEXTS = [
    ("kb-1", "Refunds are issued within 14 days.", {"topic": "billing", "year": 2024}),
    ("kb-2", "Invoices can be downloaded as PDF.", {"topic": "billing", "year": 2026, "tags": ["pdf", "invoice"]}),
    ("kb-3", "Reset your password from the login page.", {"topic": "account", "year": 2025}),
    ("kb-4", "Two-factor authentication uses an app.", {"topic": "account", "verified": True}),
    ("kb-5", "Our office is closed on holidays.", {}),
]


def langchain_store(client: chromadb.api.ClientAPI, name: str) -> Any:
    from langchain_chroma import Chroma
    from langchain_core.embeddings import DeterministicFakeEmbedding

    return Chroma(collection_name=name, embedding_function=DeterministicFakeEmbedding(size=16), client=client)


def as_pairs(documents: list[Any]) -> list[tuple[str | None, str, dict[str, Any]]]:
    return [(d.id, d.page_content, d.metadata) for d in documents]


async def test_langchain_documents_read_back_as_langchain_wrote_them(
    store: vb.Store, client: chromadb.api.ClientAPI, names: list[str]
) -> None:
    name = unique_name("lc")
    names.append(name)
    lc = langchain_store(client, name)
    lc.add_texts(
        [t for _, t, _ in LANGCHAIN_TEXTS], [m for *_, m in LANGCHAIN_TEXTS], ids=[i for i, *_ in LANGCHAIN_TEXTS]
    )
    native = store.collection(name, layout="langchain")
    assert (await native.spec()).layout.preset == "langchain"  # type: ignore[union-attr]
    got = {r.id: (r.document, r.metadata) for r in await scan_all(native)}
    # LangChain's own read (its get_by_ids fails on the None it writes for empty metadata; its searches read it as {})
    held = lc.get(include=["metadatas", "documents"])
    assert got == {i: (d, m or {}) for i, m, d in zip(held["ids"], held["metadatas"], held["documents"], strict=True)}
    assert got.keys() == {i for i, *_ in LANGCHAIN_TEXTS}
    query = lc.embeddings.embed_query("billing question")
    expected = lc.similarity_search_by_vector(query, k=3, filter={"topic": "billing"})
    matches = await native.query(query, top_k=3, filter={"topic": "billing"})
    assert [(m.id, m.document, m.metadata) for m in matches] == as_pairs(expected)


async def test_langchain_reads_what_vecbridge_writes_through_the_preset(
    store: vb.Store, client: chromadb.api.ClientAPI, names: list[str]
) -> None:
    source_name, target_name = unique_name("lcsrc"), unique_name("lcdst")
    names.extend([source_name, target_name])
    source = langchain_store(client, source_name)
    source.add_texts(
        [t for _, t, _ in LANGCHAIN_TEXTS], [m for *_, m in LANGCHAIN_TEXTS], ids=[i for i, *_ in LANGCHAIN_TEXTS]
    )
    records = await scan_all(store.collection(source_name, layout="langchain"))
    target = await store.create_collection(target_name, 16, "euclidean", layout="langchain")
    await target.upsert(records)
    copy = langchain_store(client, target_name)
    for text, filter_ in [("refund", None), ("password", {"topic": "account"}), ("pdf", {"year": {"$gte": 2025}})]:
        query = source.embeddings.embed_query(text)
        want = as_pairs(source.similarity_search_by_vector(query, k=3, filter=filter_))
        assert as_pairs(copy.similarity_search_by_vector(query, k=3, filter=filter_)) == want
        assert [score for _, score in copy.similarity_search_with_score(text, k=2)] == pytest.approx(
            [score for _, score in source.similarity_search_with_score(text, k=2)]
        )
    await target.upsert([vb.Record("kb-6", records[0].vector, {"topic": "none"})])  # no document
    (blank,) = copy.get_by_ids(["kb-6"])
    assert (blank.page_content, blank.metadata) == ("", {"topic": "none"})


async def test_an_empty_collection_an_application_made_is_filled_through_exist_ok(
    store: vb.Store, client: chromadb.api.ClientAPI, names: list[str]
) -> None:
    """langchain-chroma creates its collection when the app starts; a copy can then fill it."""
    name = unique_name("lcempty")
    names.append(name)
    app = langchain_store(client, name)
    target = await store.create_collection(name, 16, "euclidean", layout="langchain", exist_ok=True)
    vector = app.embeddings.embed_query("hello")
    await target.upsert([vb.Record("h", vector, {"lang": "en"}, "hello")])
    assert as_pairs(app.similarity_search("hello", k=1)) == [("h", "hello", {"lang": "en"})]
    with pytest.raises(vb.CollectionExistsError, match="dimension 16"):
        await store.create_collection(name, 8, "euclidean", layout="langchain", exist_ok=True)


async def test_the_frameworks_default_collections_are_recognised_and_unknown_presets_refused(
    store: vb.Store, client: chromadb.api.ClientAPI, names: list[str]
) -> None:
    names.extend(["langchain", "documents"])
    langchain_store(client, "langchain").add_texts(["hello"], [{"a": 1}], ids=["h"])
    client.create_collection("documents", embedding_function=None, metadata={"hnsw:space": "l2"})
    assert (await store.describe_collection("langchain")).spec.layout.preset == "langchain"  # type: ignore[union-attr]
    assert (await store.describe_collection("documents")).spec.layout.preset == "haystack"  # type: ignore[union-attr]
    with pytest.raises(vb.LayoutError, match="native, langchain, llamaindex, haystack"):
        await store.describe_collection("langchain", layout="pinecone")


def llama_nodes(count: int) -> list[Any]:
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

    rng = np.random.default_rng(5)
    return [
        TextNode(
            id_=f"node-{i}",
            text=f"chunk {i} of the handbook",
            metadata={"author": ["ana", "bo"][i % 2], "page": i, "score": i / 4},
            embedding=rng.normal(size=DIMENSION).astype(float).tolist(),
            relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=f"doc-{i % 3}")},
        )
        for i in range(count)
    ]


def llama_query(collection: Any, vector: list[float], filters: Any = None) -> list[tuple[str, str, dict[str, Any]]]:
    from llama_index.core.vector_stores.types import VectorStoreQuery
    from llama_index.vector_stores.chroma import ChromaVectorStore

    result = ChromaVectorStore(chroma_collection=collection).query(
        VectorStoreQuery(query_embedding=vector, similarity_top_k=4, filters=filters)
    )
    return [(n.node_id, n.get_content(), n.metadata) for n in result.nodes or []]


async def test_llamaindex_nodes_are_recognised_and_copied_so_llamaindex_reads_them(
    store: vb.Store, client: chromadb.api.ClientAPI, names: list[str]
) -> None:
    from llama_index.core.vector_stores.types import MetadataFilter, MetadataFilters
    from llama_index.vector_stores.chroma import ChromaVectorStore

    source_name, target_name = unique_name("llsrc"), unique_name("lldst")
    names.extend([source_name, target_name])
    nodes = llama_nodes(12)
    source = client.create_collection(source_name, embedding_function=None)
    ChromaVectorStore(chroma_collection=source).add(nodes)
    info = await store.describe_collection(source_name)
    assert info.spec.layout is not None and info.spec.layout.preset == "llamaindex"
    notes = {field.name: field.note for field in info.spec.layout.fields}
    assert "LlamaIndex" in notes["_node_content"] and notes["author"] == ""
    records = await scan_all(store.collection(source_name))
    first = next(r for r in records if r.id == "node-1")
    assert first.document == "chunk 1 of the handbook"
    assert {k: first.metadata[k] for k in ("author", "page", "ref_doc_id")} == {
        "author": "bo",
        "page": 1,
        "ref_doc_id": "doc-1",
    }

    target = await store.create_collection(target_name, DIMENSION, "euclidean", layout="llamaindex")
    await target.upsert(records)
    copy = client.get_collection(target_name, embedding_function=None)
    filters = MetadataFilters(filters=[MetadataFilter(key="author", value="ana")])
    for vector in (nodes[0].embedding, nodes[7].embedding):
        assert llama_query(copy, vector) == llama_query(source, vector)
        assert llama_query(copy, vector, filters) == llama_query(source, vector, filters)


def haystack_store(url: str, name: str) -> Any:
    from haystack_integrations.document_stores.chroma import ChromaDocumentStore

    parsed = URL.parse(url)
    common: dict[str, Any] = {
        "collection_name": name,
        "distance_function": "cosine",
        "client_settings": {"anonymized_telemetry": False},
    }
    if parsed.host:
        return ChromaDocumentStore(host=parsed.host, port=parsed.port, **common)
    return ChromaDocumentStore(persist_path=parsed.path, **common)


async def test_haystack_documents_are_read_and_copied_so_haystack_reads_them(
    store: vb.Store, url: str, names: list[str]
) -> None:
    from haystack import Document

    source_name, target_name = unique_name("hssrc"), unique_name("hsdst")
    names.extend([source_name, target_name])
    rng = np.random.default_rng(11)
    documents = [
        Document(
            id=f"hs-{i}",
            content=f"passage {i}",
            meta={"lang": ["en", "de"][i % 2], "page": i, "keywords": ["k", f"p{i}"]},
            embedding=rng.normal(size=DIMENSION).tolist(),
        )
        for i in range(10)
    ]
    source = haystack_store(url, source_name)
    source.write_documents(documents)
    native = store.collection(source_name, layout="haystack")
    records = await scan_all(native)
    assert {(r.id, r.document): r.metadata for r in records} == {
        (d.id, d.content): d.meta for d in source.filter_documents()
    }
    assert len(records) == len(documents)
    assert (await native.spec()).metric is vb.Metric.COSINE  # from the legacy hnsw:space metadata

    target = await store.create_collection(target_name, DIMENSION, "cosine", layout="haystack")
    await target.upsert(records)
    copy = haystack_store(url, target_name)
    query = rng.normal(size=DIMENSION).tolist()
    english = {"field": "meta.lang", "operator": "==", "value": "en"}
    for filters in (None, english):
        (want,) = source.search_embeddings([query], top_k=4, filters=filters)
        (got,) = copy.search_embeddings([query], top_k=4, filters=filters)
        assert [(d.id, d.content, d.meta) for d in got] == [(d.id, d.content, d.meta) for d in want]
        assert [d.score for d in got] == pytest.approx([d.score for d in want], abs=1e-5)


async def test_a_scan_sees_updates_and_additions_made_while_it_runs(
    store: vb.Store, client: chromadb.api.ClientAPI, names: list[str]
) -> None:
    collection, records = make_native(client, names, count=30)
    native = store.collection(collection.name)
    first = await anext(native.scan(10).__aiter__())
    collection.update(ids=[records[3].id, records[20].id], metadatas=[{"v": 1}, {"v": 2}])
    collection.add(ids=["late"], embeddings=[records[0].vector])
    collection.delete(ids=[first.records[-1].id])  # the very record the cursor names
    rest = await scan_all(native, 10, cursor=first.cursor)
    assert [r.id for r in rest] == [r.id for r in records[10:]] + ["late"]
    assert next(r for r in rest if r.id == records[20].id).metadata["v"] == 2  # Chroma update merges


async def test_records_from_elsewhere_written_through_the_llamaindex_preset_are_read_by_llamaindex(
    store: vb.Store, client: chromadb.api.ClientAPI, names: list[str]
) -> None:
    """Without LlamaIndex's node keys (a copy from LangChain, say), LlamaIndex reads them by its legacy path."""
    name = unique_name("llplain")
    names.append(name)
    target = await store.create_collection(name, 3, "euclidean", layout="llamaindex")
    await target.upsert(
        [vb.Record("a", [1, 0, 0], {"author": "ana", "page": 1}, "text a"), vb.Record("b", [0, 1, 0], {}, "text b")]
    )
    assert llama_query(client.get_collection(name, embedding_function=None), [1.0, 0.0, 0.0]) == [
        ("a", "text a", {"author": "ana", "page": 1}),
        ("b", "text b", {}),
    ]

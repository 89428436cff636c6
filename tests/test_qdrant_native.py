"""Qdrant collections vecbridge did not create, on the client's local mode and the embedded edge engine.

The data is written by qdrant-client itself and, on the edge engine, by ``qdrant_edge``'s own API
(integer and UUID point ids, a text key, nested objects, datetime strings, nulls, number lists,
integers beyond 2**53); on local mode also by the real ``langchain-qdrant``,
``llama-index-vector-stores-qdrant`` and ``qdrant-haystack`` (deterministic embeddings). Every
expected answer is computed in the test (the core conversion rules, numpy, the reference filter
evaluator), and every framework reads back through its own API. Local mode locks its directory,
so writers and vecbridge take turns: each writes, closes, then the other opens.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import pytest_asyncio
import qdrant_edge as edge
from qdrant_client import QdrantClient, models
from vecbridge_conformance.base import expected_ids, reference_scores, unique_name

import vecbridge as vb
from vecbridge.layout import FieldRole, metadata_value

DIMENSION = 8
DISTANCES = {"cosine": "Cosine", "dot": "Dot", "euclidean": "Euclid"}

#: Filters answered exactly on native payload keys (strings, numbers, bools, string arrays, nulls).
FILTERS: list[dict[str, Any]] = [
    {"color": "red"},
    {"color": {"$ne": "red"}},
    {"color": {"$exists": False}},
    {"tags": "t1"},
    {"tags": {"$nin": ["t1", "u2"]}},
    {"n": 3},
    {"n": 4.5},
    {"n": {"$gte": 10}},
    {"$not": {"n": {"$lt": 5.5}}},
    {"flag": True},
    {"flag": {"$ne": False}},
    {"when": "2024-03-05T10:00:00+00:00"},
    {"none": {"$exists": False}},
    {"$or": [{"flag": True}, {"tags": {"$in": ["u3"]}}]},
    {"$and": [{"color": {"$ne": "green"}}, {"n": {"$gt": 2}}]},
]


class Engine:
    """Writes and inspects native collections with the engine's own API (never through vecbridge)."""

    def __init__(self, kind: str, directory: Path) -> None:
        self.kind = kind
        self.directory = directory

    @property
    def url(self) -> str:
        return f"qdrant+{self.kind}://{self.directory}"

    def create(self, name: str, vectors: dict[str, tuple[int, str]]) -> None:
        """A collection with ``vectors`` (name -> (size, distance)); the name ``""`` alone is the unnamed vector."""
        if self.kind == "local":
            params = {
                key: models.VectorParams(size=size, distance=models.Distance(d)) for key, (size, d) in vectors.items()
            }
            with self.client() as client:
                client.create_collection(name, vectors_config=params.get("") if list(params) == [""] else params)
            return
        edge_params = {
            key: edge.EdgeVectorParams(size=size, distance=getattr(edge.Distance, d))
            for key, (size, d) in vectors.items()
        }
        config = edge.EdgeConfig(vectors=edge_params.get("") if list(edge_params) == [""] else edge_params)
        edge.EdgeShard.create(str(self.directory / name), config).close()

    def upsert(self, name: str, points: list[tuple[int | str, Any, dict[str, Any]]]) -> None:
        if self.kind == "local":
            with self.client() as client:
                client.upsert(name, [models.PointStruct(id=i, vector=v, payload=p) for i, v, p in points], wait=True)
            return
        shard = edge.EdgeShard.load(str(self.directory / name))
        try:
            shard.update(edge.UpdateOperation.upsert_points([edge.Point(i, v, p) for i, v, p in points]))
            shard.flush()
        finally:
            shard.close()

    @contextlib.contextmanager
    def client(self) -> Iterator[QdrantClient]:
        """qdrant-client on the directory, closed afterwards (local mode locks the directory)."""
        client = QdrantClient(path=str(self.directory))
        try:
            yield client
        finally:
            client.close()

    def snapshot(self) -> Any:
        """Everything a read could change: collection names, configurations, payload indexes, points."""
        if self.kind == "local":
            with self.client() as client:
                names = sorted(c.name for c in client.get_collections().collections)
                state = []
                for name in names:
                    info = client.get_collection(name)
                    points, _ = client.scroll(name, limit=10_000, with_payload=True, with_vectors=True)
                    state.append(
                        (
                            name,
                            info.config.model_dump_json(),
                            info.payload_schema,
                            [p.model_dump_json() for p in points],
                        )
                    )
                return names, state
        names = sorted(p.name for p in self.directory.iterdir())
        state = []
        for name in names:
            shard = edge.EdgeShard.load(str(self.directory / name))
            try:
                info = shard.info()
                points, _ = shard.scroll(edge.ScrollRequest(limit=10_000, with_payload=True, with_vector=True))
                listed = [(str(p.id), json.dumps(p.payload, sort_keys=True), p.vector) for p in points]
                config = (self.directory / name / "edge_config.json").read_text()
                state.append((name, config, info.payload_schema, info.points_count, listed))
            finally:
                shard.close()
        return names, state


@pytest.fixture(params=["local", "edge"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Engine:
    return Engine(request.param, tmp_path / "qdrant")


@pytest_asyncio.fixture
async def connect(engine: Engine) -> AsyncIterator[Any]:
    """Opens vecbridge on the engine's directory; every store is closed at the end of the test."""
    opened: list[vb.Store] = []

    async def open_store() -> vb.Store:
        store = await vb.connect(engine.url)
        opened.append(store)
        return store

    yield open_store
    for store in opened:
        await store.close()


def point_ids(count: int, seed: int) -> list[int | str]:
    """Integer and UUID point ids, mixed."""
    rng = np.random.default_rng(seed)
    return [i * 7 + 1 if i % 2 else str(uuid.UUID(bytes=rng.bytes(16), version=4)) for i in range(count)]


def native_points(count: int, seed: int) -> list[tuple[int | str, Any, dict[str, Any]]]:
    """What an application hands qdrant-client: a text key, flat values of every JSON type, keys
    missing on some points, nested objects, datetime strings, nulls, number lists, a big integer."""
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(count, DIMENSION)).astype(np.float32)
    points: list[tuple[int | str, Any, dict[str, Any]]] = []
    for i, point_id in enumerate(point_ids(count, seed)):
        payload: dict[str, Any] = {}
        if i % 6:
            payload["text"] = f"text {i}"
        if i % 3:
            payload["color"] = ["red", "blue", "green"][i % 3 - 1 + (i % 2)]
        if i % 4 != 1:
            payload["n"] = i if i % 2 else i + 0.5
        if i % 5 == 0:
            payload["flag"] = bool(i % 2)
        if i % 2:
            payload["tags"] = [f"t{i % 3}", f"u{i % 4}"]
        payload["when"] = f"2024-03-0{i % 9 + 1}T10:00:00+00:00"
        if i % 7 == 0:
            payload["nested"] = {"source": f"s{i}", "page": i, "parts": [1, 2.5]}
            payload["scores"] = [i, i + 1]
            payload["none"] = None
        if i == 3:
            payload["big"] = 2**60 + 1
        points.append((point_id, vectors[i].tolist(), payload))
    return points


def contract_records(points: list[tuple[int | str, Any, dict[str, Any]]]) -> list[vb.Record]:
    """The records the contract says the points are (the core's conversion rules; ``text`` is the document)."""
    return [
        vb.Record(
            str(point_id),
            np.asarray(vector, dtype=np.float32),
            {k: metadata_value(v) for k, v in payload.items() if k != "text" and v is not None},
            payload.get("text"),
        )
        for point_id, vector, payload in points
    ]


def make_native(
    engine: Engine, metric: str = "euclidean", count: int = 30, seed: int = 0
) -> tuple[str, list[vb.Record]]:
    name = unique_name("native")
    engine.create(name, {"": (DIMENSION, DISTANCES[metric])})
    points = native_points(count, seed)
    engine.upsert(name, points)
    return name, contract_records(points)


async def scan_all(collection: vb.Collection, page_size: int = 7, **options: Any) -> list[vb.Record]:
    return [record async for page in collection.scan(page_size, **options) for record in page.records]


# --- discovery -----------------------------------------------------------------------------------


async def test_a_collection_written_by_the_engine_is_listed_and_described(engine: Engine, connect: Any) -> None:
    name, records = make_native(engine, "cosine")
    store = await connect()
    listed = {spec.name: spec for spec in await store.list_collections(native=True)}
    assert set(listed) == {name}
    info = await store.describe_collection(name)
    assert (info.spec.dimension, info.spec.metric, info.count) == (DIMENSION, vb.Metric.COSINE, len(records))
    layout = info.spec.layout
    assert layout is not None
    assert (layout.preset, layout.id, layout.vector, layout.document, layout.namespace) == (
        "native",
        "",
        "",
        "text",
        None,
    )
    fields = {field.name: field for field in layout.fields}
    assert fields["#id"].type == "uint|uuid"
    assert (fields["#vector"].role, fields["#vector"].type) == (FieldRole.VECTOR, "float[8] Cosine")
    assert fields["text"].role is FieldRole.DOCUMENT
    assert (fields["n"].type, fields["n"].role) == ("float|int", FieldRole.METADATA)
    assert fields["tags"].type == "list[str]"
    assert fields["nested"].type == "object" and "JSON text" in fields["nested"].note
    assert fields["scores"].type == "list[int]" and "refused" in fields["scores"].note
    assert fields["big"].type == "bigint" and "decimal strings" in fields["big"].note
    assert fields["none"].type == "null" and "absent" in fields["none"].note


async def test_vecbridge_collections_are_not_native(engine: Engine, connect: Any) -> None:
    name, _ = make_native(engine)
    store = await connect()
    own = unique_name("own")
    await store.create_collection(own, 4, "dot")
    assert {spec.name for spec in await store.list_collections(native=True) if spec.native} == {name}
    with pytest.raises(vb.LayoutError, match="vecbridge's own"):
        await store.describe_collection(own, layout="native")


async def test_reading_never_writes(engine: Engine, connect: Any) -> None:
    name, records = make_native(engine)
    before = engine.snapshot()
    store = await connect()
    await store.list_collections(native=True)
    native = store.collection(name)
    await store.describe_collection(name)
    await native.get([r.id for r in records])
    await native.query(records[0].vector, top_k=5, filter={"color": "red"})
    await native.count({"n": {"$gt": 2}})
    await scan_all(native)
    await store.list_namespaces(name)
    await store.close()
    assert engine.snapshot() == before


async def test_connecting_to_an_edge_directory_that_does_not_exist_makes_nothing(tmp_path: Path) -> None:
    directory = tmp_path / "not-yet"
    async with vb.connect(f"qdrant+edge://{directory}") as store:
        assert await store.list_collections(native=True) == []
    assert not directory.exists()
    async with vb.connect(f"qdrant+edge://{directory}") as store:  # the first create makes it
        await store.create_collection("first_one", 3, "cosine")
    assert (directory / "first_one" / "edge_config.json").is_file()


# --- reads ---------------------------------------------------------------------------------------


async def test_get_returns_the_records_as_the_contract_reads_them(engine: Engine, connect: Any) -> None:
    name, records = make_native(engine)
    store = await connect()
    wanted = [r.id for r in records] + ["404", str(uuid.uuid4()), "0007", records[0].id.replace("-", "")]
    got = {r.id: r for r in await store.collection(name).get(wanted)}
    assert sorted(got) == sorted(r.id for r in records)
    for record in records:
        mine = got[record.id]
        assert (mine.metadata, mine.document) == (record.metadata, record.document)
        np.testing.assert_allclose(mine.vector, record.vector, rtol=1e-6)


@pytest.mark.parametrize("metric", ["cosine", "dot", "euclidean"])
async def test_query_scores_follow_the_vecbridge_convention(engine: Engine, connect: Any, metric: str) -> None:
    name, records = make_native(engine, metric, seed=1)
    store = await connect()
    query = np.random.default_rng(9).normal(size=DIMENSION).astype(np.float32)
    scores = reference_scores(metric, np.stack([r.vector for r in records]), query)
    order = np.argsort(-scores)[:10]
    matches = await store.collection(name).query(query, top_k=10)
    assert [m.id for m in matches] == [records[i].id for i in order]
    np.testing.assert_allclose([m.score for m in matches], scores[order], atol=1e-4)
    assert (matches[0].metadata, matches[0].document) == (records[order[0]].metadata, records[order[0]].document)


@pytest.mark.parametrize("filter_", FILTERS, ids=[json.dumps(f) for f in FILTERS])
async def test_filters_give_the_reference_answer(engine: Engine, connect: Any, filter_: dict[str, Any]) -> None:
    name, records = make_native(engine, seed=2)
    store = await connect()
    native = store.collection(name)
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
        ({"nested": "x"}, "'nested' .* holds object"),
        ({"scores": 3}, r"'scores' .* holds list\[int\]"),
        ({"big": {"$exists": True}}, "'big' .* holds bigint"),
        ({"text": "text 1"}, "'text' .* is document"),
    ],
)
async def test_filters_on_converted_or_non_metadata_keys_are_refused(
    engine: Engine, connect: Any, filter_: dict[str, Any], reason: str
) -> None:
    name, _ = make_native(engine)
    store = await connect()
    with pytest.raises(vb.UnsupportedFilterError, match=reason):
        await store.collection(name).count(filter_)


async def test_scan_pages_every_record_once_and_resumes_from_a_cursor(engine: Engine, connect: Any) -> None:
    name, records = make_native(engine, count=23)
    store = await connect()
    native = store.collection(name)
    first = await anext(aiter(native.scan(5)))
    assert first.cursor is not None and len(first.records) == 5
    other = await vb.connect(engine.url)  # another connection resumes from the cursor
    try:
        rest = [r async for page in other.collection(name).scan(5, cursor=first.cursor) for r in page.records]
    finally:
        await other.close()
    seen = [r.id for r in first.records + rest]
    assert sorted(seen) == sorted(r.id for r in records) and len(seen) == len(set(seen))
    with pytest.raises(vb.InvalidArgumentError, match="cursor"):
        await anext(aiter(native.scan(5, cursor="qdrant:nope")))


async def test_a_declared_namespace_key_splits_the_collection(engine: Engine, connect: Any) -> None:
    name = unique_name("tenants")
    engine.create(name, {"": (3, "Euclid")})
    engine.upsert(
        name,
        [
            (1, [1.0, 0, 0], {"tenant": "t1", "text": "one"}),
            (2, [0, 1.0, 0], {"tenant": "t2", "text": "two"}),
            (3, [0, 0, 1.0], {"tenant": "t1", "k": 3}),
            (4, [1.0, 1.0, 0], {"k": 4}),  # in no namespace
        ],
    )
    store = await connect()
    layout = {"namespace": "tenant"}
    assert await store.list_namespaces(name, layout=layout) == ["t1", "t2"]
    t1 = store.collection(name, "t1", layout=layout)
    assert sorted(r.id for r in await scan_all(t1)) == ["1", "3"]
    assert [m.id for m in await t1.query([1.0, 1.0, 0.1], top_k=5)] == ["1", "3"]
    assert (await t1.count(), await t1.count({"k": 3})) == (2, 1)
    assert await t1.get(["2", "4"]) == []
    with pytest.raises(vb.UnsupportedFilterError, match=r"'tenant' .* is namespace"):
        await t1.count({"tenant": "t2"})
    assert await store.collection(name).count() == 4  # without the namespace key: one namespace, everything
    t3 = store.collection(name, "t3", layout=layout, writable=True)
    await t3.upsert([vb.Record("5", np.ones(3, np.float32), {"k": 5}, "five")])
    assert [(r.id, r.metadata, r.document) for r in await t3.get(["5"])] == [("5", {"k": 5}, "five")]
    await t3.delete(all=True)
    assert await store.list_namespaces(name, layout=layout) == ["t1", "t2"]
    with pytest.raises(vb.UnsupportedFeatureError, match="no namespace field"):
        await store.collection(name, "other", writable=True).upsert([vb.Record("6", np.ones(3, np.float32), {})])
    with pytest.raises(vb.LayoutError, match="no native namespaces"):
        await store.describe_collection(name, layout={"namespace": ""})


# --- vectors and metrics ---------------------------------------------------------------------------


async def test_named_vectors_pick_the_only_one_or_list_them(engine: Engine, connect: Any) -> None:
    rng = np.random.default_rng(4)
    two, one, manhattan = unique_name("two"), unique_name("one"), unique_name("manhattan")
    engine.create(two, {"a": (4, "Cosine"), "b": (3, "Dot")})
    engine.create(one, {"dense": (3, "Euclid"), "m": (3, "Manhattan")})
    engine.create(manhattan, {"": (3, "Manhattan")})
    a, b = rng.normal(size=(2, 4)).tolist(), rng.normal(size=(2, 3)).tolist()
    engine.upsert(two, [(1, {"a": a[0], "b": b[0]}, {"k": 1}), (2, {"a": a[1], "b": b[1]}, {"k": 2})])
    engine.upsert(two, [(3, {"a": a[0]}, {"k": 3})])  # a point may lack one of the named vectors
    engine.upsert(one, [(1, {"dense": b[0], "m": b[1]}, {})])
    store = await connect()
    with pytest.raises(vb.LayoutError, match=r"candidates for 'vector' are a, b.*\{\"vector\": \"a\"\}"):
        await store.describe_collection(two)
    chosen = store.collection(two, layout={"vector": "b"})
    spec = await chosen.spec()
    assert (spec.dimension, spec.metric) == (3, vb.Metric.DOT)
    matches = await chosen.query(b[0], top_k=2, include_vector=True)
    assert matches[0].id == "1" and matches[0].score == pytest.approx(float(np.dot(b[0], b[0])), rel=1e-5)
    np.testing.assert_allclose(matches[0].vector, b[0], rtol=1e-6)
    assert [m.id for m in await chosen.query(b[0], top_k=3)] == ["1", "2"]
    assert [r.id for r in await chosen.get(["1", "3"])] == ["1"]  # no vector b: not read, and counted
    assert (await chosen.spec()).layout.drops.lines() == [  # type: ignore[union-attr]
        "1 value(s) of '#vector:b' not read: a point without this vector is not read"
    ]
    assert [r.id for r in await store.collection(two, layout={"vector": "a"}).get(["3"])] == ["3"]
    described = (await store.describe_collection(one)).spec
    assert (described.layout.vector, described.metric) == ("dense", vb.Metric.EUCLIDEAN)  # type: ignore[union-attr]
    assert {f.name: f.role for f in described.layout.fields}["#vector:m"] is FieldRole.UNFIT  # type: ignore[union-attr]
    with pytest.raises(vb.LayoutError, match="Manhattan is not supported"):
        await store.describe_collection(one, layout={"vector": "m"})
    with pytest.raises(vb.LayoutError, match="no vector vecbridge can read"):
        await store.describe_collection(manhattan)
    with pytest.raises(vb.LayoutError, match="must be the same"):
        await store.describe_collection(one, layout={"metric": "cosine"})
    listed = {spec.name: spec for spec in await store.list_collections(native=True)}
    assert set(listed) == {two, one, manhattan}  # listed even when the layout needs declaring


# --- writes --------------------------------------------------------------------------------------


async def test_a_native_collection_is_read_only_unless_opened_writable(engine: Engine, connect: Any) -> None:
    name, records = make_native(engine)
    store = await connect()
    with pytest.raises(vb.VecbridgeError, match="writable"):
        await store.collection(name).upsert([records[0]])


async def test_upsert_replaces_whole_points_and_deletes(engine: Engine, connect: Any) -> None:
    name, records = make_native(engine)
    store = await connect()
    native = store.collection(name, writable=True)
    int_id = next(r.id for r in records if r.id.isdigit())
    uuid_id = next(r.id for r in records if not r.id.isdigit())
    fresh = str(uuid.uuid4())
    written = [
        vb.Record(int_id, np.ones(DIMENSION, np.float32), {"color": "violet"}, "new text"),
        vb.Record(uuid_id, np.full(DIMENSION, 2, np.float32), {"n": 99}),
        vb.Record("123456789", np.full(DIMENSION, 3, np.float32), {"tags": ["a"]}, "added"),
        vb.Record(fresh, np.full(DIMENSION, 4, np.float32), {}),
    ]
    await native.upsert(written)
    got = {r.id: r for r in await native.get([r.id for r in written])}
    for record in written:
        assert (got[record.id].metadata, got[record.id].document) == (record.metadata, record.document)
    for bad in ("0x1", "007", uuid_id.replace("-", ""), uuid_id.upper(), "not an id", str(2**64)):
        with pytest.raises(vb.InvalidRecordError, match="unsigned integer"):
            await native.upsert([vb.Record(bad, np.ones(DIMENSION, np.float32), {})])
    with pytest.raises(vb.InvalidRecordError, match="document"):
        await native.upsert([vb.Record("5", np.ones(DIMENSION, np.float32), {"text": "clash"})])
    await native.delete([int_id, fresh])
    await native.delete(filter={"color": "red"})
    left = {r.id for r in await scan_all(native)}
    gone = {int_id, fresh} | {r.id for r in records if r.metadata.get("color") == "red"}
    assert left == ({r.id for r in records} | {"123456789"}) - gone
    await store.close()
    names, _ = engine.snapshot()
    assert names == [name]
    if engine.kind == "local":  # the payload was replaced, never merged
        with engine.client() as client:
            (point,) = client.retrieve(name, [uuid_id])
            assert point.payload == {"n": 99}
    again = await connect()
    everything = again.collection(name, writable=True)
    await everything.delete(all=True)
    assert await everything.count() == 0


async def test_create_collection_in_a_native_layout(engine: Engine, connect: Any) -> None:
    store = await connect()
    name = unique_name("made")
    made = await store.create_collection(name, 4, "dot", layout={"document": "body"})
    await made.upsert([vb.Record("1", np.array([1, 0, 0, 0], np.float32), {"k": "v"}, "hello")])
    assert [(m.id, m.document, m.metadata) for m in await made.query([1, 0, 0, 0], top_k=1)] == [
        ("1", "hello", {"k": "v"})
    ]
    assert (await store.list_collections()) == []  # not a vecbridge collection: no facts point
    await store.close()
    _, state = engine.snapshot()
    if engine.kind == "local":
        ((_, config, schema, points),) = state
        assert '"distance":"Dot"' in config and schema == {}
        assert json.loads(points[0])["payload"] == {"k": "v", "body": "hello"}


async def test_free_ids_live_in_a_payload_key_and_read_back_without_declaring_it(engine: Engine, connect: Any) -> None:
    store = await connect()
    name = unique_name("free")
    made = await store.create_collection(name, 4, "euclidean", layout={"id": "doc_id", "document": "text"})
    written = [vb.Record(f"kb-{i}", np.full(4, i, np.float32), {"n": i}, f"doc {i}") for i in range(5)]
    await made.upsert(written)
    await made.upsert([vb.Record("kb-1", np.full(4, 9, np.float32), {"n": 10}, "again")])  # replaced
    await store.close()
    again = await connect()
    info = await again.describe_collection(name)
    assert info.spec.layout is not None and (info.spec.layout.id, info.spec.layout.document) == ("doc_id", "text")
    native = again.collection(name)
    got = {r.id: (r.metadata, r.document) for r in await scan_all(native)}
    assert got == {f"kb-{i}": ({"n": 10}, "again") if i == 1 else ({"n": i}, f"doc {i}") for i in range(5)}
    assert [m.id for m in await native.query(np.full(4, 3.2, np.float32), top_k=2, filter={"n": {"$lt": 10}})] == [
        "kb-3",
        "kb-4",
    ]
    with pytest.raises(vb.UnsupportedFilterError, match=r"'doc_id' .* is id"):
        await native.count({"doc_id": "kb-1"})


# --- frameworks (local mode: they write through qdrant-client) -----------------------------------


@pytest.fixture
def local(tmp_path: Path) -> Engine:
    return Engine("local", tmp_path / "frameworks")


async def copy_through(url: str, source: str, target: str, preset: str, metric: str = "cosine") -> list[vb.Record]:
    """Every record of ``source`` (read through ``preset``) written into a new ``target`` in that preset."""
    async with vb.connect(url) as store:
        records = await scan_all(store.collection(source, layout=preset), include_vector=True)
        made = await store.create_collection(target, DIMENSION, metric, layout=preset)
        await made.upsert(records)
        return records


def assert_same_answers(mine: list[tuple[Any, ...]], theirs: list[tuple[Any, ...]]) -> None:
    """Equal answers, in the same order: every part equal, the last (the framework's score) to 1e-6."""
    assert [answer[:-1] for answer in mine] == [answer[:-1] for answer in theirs]
    assert [answer[-1] for answer in mine] == pytest.approx([answer[-1] for answer in theirs], abs=1e-6)


def fake_embedding() -> Any:
    from langchain_core.embeddings import DeterministicFakeEmbedding

    return DeterministicFakeEmbedding(size=DIMENSION)


LANGCHAIN_METADATA: list[dict[str, Any] | None] = [
    {"source": f"s{i % 2}", "page": i, "score": i / 4, "tags": ["a", f"t{i}"], "draft": i == 2} for i in range(7)
] + [None]


def langchain_collection(local: Engine, name: str) -> list[str]:
    """Documents added by langchain-qdrant (``uuid4().hex``-style ids, its default); returns the ids given."""
    from langchain_qdrant import QdrantVectorStore

    ids = [uuid.UUID(int=(i + 1) * 977).hex for i in range(len(LANGCHAIN_METADATA))]
    texts = [f"passage {i} about {'cats' if i % 2 else 'dogs'}" for i in range(len(ids))]
    store = QdrantVectorStore.from_texts(
        texts, fake_embedding(), metadatas=LANGCHAIN_METADATA, ids=ids, path=str(local.directory), collection_name=name
    )
    store.client.close()
    return ids


def langchain_search(local: Engine, name: str, query: str, **options: Any) -> list[tuple[str, dict[str, Any], float]]:
    from langchain_qdrant import QdrantVectorStore

    with local.client() as client:
        store = QdrantVectorStore(client=client, collection_name=name, embedding=fake_embedding())
        found = store.similarity_search_with_score(query, k=5, **options)
    return [
        (doc.page_content, {k: v for k, v in doc.metadata.items() if k != "_collection_name"}, score)
        for doc, score in found
    ]


async def test_langchain_documents_read_back_as_langchain_wrote_them(local: Engine) -> None:
    ids = langchain_collection(local, "lc_source")
    async with vb.connect(local.url) as store:
        info = await store.describe_collection("lc_source")
        assert info.spec.layout is not None and info.spec.layout.preset == "langchain"
        assert (info.spec.layout.document, info.spec.layout.metadata_keys_from) == ("page_content", ("metadata",))
        records = {r.id: r for r in await scan_all(store.collection("lc_source"))}
        assert await store.collection("lc_source").count({"source": "s1"}) == 3
    # the trap: LangChain's hex ids come back hyphenated, as LangChain itself reports them in "_id"
    assert sorted(records) == sorted(str(uuid.UUID(i)) for i in ids)
    for position, given in enumerate(ids):
        record = records[str(uuid.UUID(given))]
        assert record.document == f"passage {position} about {'cats' if position % 2 else 'dogs'}"
        assert record.metadata == (LANGCHAIN_METADATA[position] or {})
    ((_, metadata, _), *_) = langchain_search(local, "lc_source", "passage 3 about cats")
    assert metadata["_id"] in records


async def test_langchain_reads_what_vecbridge_writes_through_the_preset(local: Engine) -> None:
    langchain_collection(local, "lc_source")
    await copy_through(local.url, "lc_source", "lc_copy", "langchain")
    for query in ("passage 3 about cats", "dogs"):
        assert_same_answers(langchain_search(local, "lc_copy", query), langchain_search(local, "lc_source", query))
    with local.client() as client:  # the shape LangChain wrote: payload keys and the unnamed vector
        (point,) = client.retrieve("lc_copy", [str(uuid.UUID(int=8 * 977))])
        assert point.payload == {"page_content": "passage 7 about cats", "metadata": {}}
        assert isinstance(client.get_collection("lc_copy").config.params.vectors, models.VectorParams)


def llamaindex_nodes(count: int = 6) -> list[Any]:
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

    rng = np.random.default_rng(11)
    return [
        TextNode(
            id_=str(uuid.UUID(int=i + 100)),
            text=f"node {i} text",
            metadata={"source": f"s{i % 2}", "page": i},
            embedding=rng.normal(size=DIMENSION).tolist(),
            relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=f"doc-{i % 3}")},
        )
        for i in range(count)
    ]


def llamaindex_query(local: Engine, name: str, vector: list[float]) -> list[tuple[str, str, dict[str, Any], Any]]:
    from llama_index.core.vector_stores.types import VectorStoreQuery
    from llama_index.vector_stores.qdrant import QdrantVectorStore

    with local.client() as client:
        result = QdrantVectorStore(collection_name=name, client=client).query(
            VectorStoreQuery(query_embedding=vector, similarity_top_k=4)
        )
    return [(node.node_id, node.text, node.metadata, node.ref_doc_id) for node in result.nodes or []]


@pytest.mark.parametrize("vector_name", ["", "text-dense"])
async def test_llamaindex_text_comes_from_node_content_and_goes_back_into_it(local: Engine, vector_name: str) -> None:
    from llama_index.vector_stores.qdrant import QdrantVectorStore

    nodes = llamaindex_nodes()
    with local.client() as client:
        if vector_name:  # the newer layout: a named dense vector (the store detects it from the config)
            params = models.VectorParams(size=DIMENSION, distance=models.Distance.COSINE)
            client.create_collection("li_source", vectors_config={vector_name: params})
        QdrantVectorStore(collection_name="li_source", client=client).add(nodes)
    async with vb.connect(local.url) as store:
        spec = (await store.describe_collection("li_source")).spec
        assert spec.layout is not None and (spec.layout.preset, spec.layout.vector) == ("llamaindex", vector_name)
        records = {r.id: r for r in await scan_all(store.collection("li_source"))}
        assert {i: (r.document, r.metadata["source"]) for i, r in records.items()} == {
            n.node_id: (n.text, n.metadata["source"]) for n in nodes
        }
        assert await store.collection("li_source").count({"doc_id": "doc-1"}) == 2
        with pytest.raises(vb.UnsupportedFilterError, match="_node_content"):
            await store.collection("li_source").count({"_node_content": "x"})
        node = json.loads(str(records[nodes[0].node_id].metadata["_node_content"]))
        assert node["text"] == "" and node["id_"] == nodes[0].node_id  # as Chroma and PostgreSQL hold it
    await copy_through(local.url, "li_source", "li_copy", "llamaindex")
    query = np.random.default_rng(5).normal(size=DIMENSION).tolist()
    assert llamaindex_query(local, "li_copy", query) == llamaindex_query(local, "li_source", query)
    with local.client() as client:  # the copy's payloads are LlamaIndex's own, byte for byte
        payloads = [
            {str(p.id): p.payload for p in client.scroll(name, limit=100)[0]} for name in ("li_source", "li_copy")
        ]
    assert payloads[0] == payloads[1]
    # a record that never was a node (no _node_content) becomes one LlamaIndex reads, text included
    async with vb.connect(local.url) as store:
        made = await store.create_collection("li_plain", DIMENSION, "cosine", layout="llamaindex")
        plain = str(uuid.UUID(int=7))
        await made.upsert([vb.Record(plain, np.ones(DIMENSION, np.float32), {"k": "v", "n": 2}, "plain text")])
        assert [(r.id, r.document) for r in await made.get([plain])] == [(plain, "plain text")]
    assert llamaindex_query(local, "li_plain", [1.0] * DIMENSION) == [(plain, "plain text", {"k": "v", "n": 2}, None)]


def haystack_store(local: Engine, name: str) -> Any:
    from haystack_integrations.document_stores.qdrant import QdrantDocumentStore

    return QdrantDocumentStore(path=str(local.directory), index=name, embedding_dim=DIMENSION, similarity="cosine")


def haystack_search(local: Engine, name: str, vector: list[float]) -> list[tuple[str, Any, dict[str, Any], float]]:
    store = haystack_store(local, name)
    try:
        found = store._query_by_embedding(query_embedding=vector, top_k=4)
    finally:
        store.close()
    return [(doc.id, doc.content, doc.meta, doc.score) for doc in found]


async def test_haystack_ids_content_and_meta_round_trip(local: Engine) -> None:
    from haystack import Document

    rng = np.random.default_rng(12)
    documents = [
        Document(
            id=f"doc-{i}",
            content=None if i == 4 else f"content {i}",
            meta={"source": f"s{i % 2}", "page": i, "tags": ["x"]},
            embedding=rng.normal(size=DIMENSION).tolist(),
        )
        for i in range(6)
    ]
    source = haystack_store(local, "hs_source")
    try:
        source.write_documents(documents)
    finally:
        source.close()
    async with vb.connect(local.url) as store:
        native = store.collection("hs_source")
        assert (await native.spec()).layout.preset == "haystack"  # type: ignore[union-attr]
        got = {r.id: r for r in await native.get(["doc-1", "doc-4", "missing"])}
        assert (got["doc-1"].document, got["doc-1"].metadata) == (
            "content 1",
            {"source": "s1", "page": 1, "tags": ["x"]},
        )
        assert got["doc-4"].document is None and set(got) == {"doc-1", "doc-4"}
        assert sorted(m.id for m in await native.query(documents[0].embedding, top_k=6, filter={"source": "s0"})) == [
            "doc-0",
            "doc-2",
            "doc-4",
        ]
    await copy_through(local.url, "hs_source", "hs_copy", "haystack")
    query = rng.normal(size=DIMENSION).tolist()
    assert_same_answers(haystack_search(local, "hs_copy", query), haystack_search(local, "hs_source", query))
    async with vb.connect(local.url) as store:  # the same id written again replaces its point
        copy = store.collection("hs_copy", layout="haystack", writable=True)
        await copy.upsert([vb.Record("doc-1", np.ones(DIMENSION, np.float32), {"page": 10}, "again")])
        assert await copy.count() == 6
        await copy.delete(["doc-2"])
        await copy.delete(filter={"page": 10})
        assert sorted(r.id for r in await scan_all(copy)) == ["doc-0", "doc-3", "doc-4", "doc-5"]
    with local.client() as client:  # qdrant-haystack's own point ids: uuid5 of the id in its namespace
        point_ids = {str(p.id) for p in client.scroll("hs_copy", limit=10)[0]}
    assert point_ids == {
        str(uuid.uuid5(uuid.UUID("3896d314-1e95-4a3a-b45a-945f9f0b541d"), f"doc-{i}")) for i in (0, 3, 4, 5)
    }

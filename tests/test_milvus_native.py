"""Milvus collections vecbridge did not create, on Milvus Lite 2.5.1.

The data is written by pymilvus itself (an INT64 primary key, typed scalar fields, an ARRAY, a JSON
field and dynamic keys) and by the real ``langchain-milvus`` and ``llama-index-vector-stores-milvus``
(deterministic fake embeddings). Every expected answer is computed in the test: the values as
pymilvus reads them back put through the core conversion rules, numpy scores, the reference filter
evaluator. Each test has its own database file: Milvus Lite lets one process open a file, and the
CLI test hands its file to a ``vecbridge`` subprocess (the acceptance line, run as a user runs it).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pymilvus import DataType, MilvusClient
from servers.milvus import stop_lite_server
from vecbridge_conformance.base import expected_ids, reference_scores

import vecbridge as vb
from vecbridge.errors import InvalidRecordError, UnsupportedFeatureError, UnsupportedFilterError
from vecbridge.layout import FieldRole, LayoutError, metadata_value

DIMENSION = 8
COUNT = 24
METRICS = {"COSINE": "cosine", "IP": "dot", "L2": "euclidean"}

#: filters answered exactly on native fields: typed scalars (INT32, INT64 beyond 2**53, DOUBLE, FLOAT,
#: BOOL, VARCHAR), an ARRAY of VARCHAR, dynamic keys
FILTERS: list[dict[str, Any]] = [
    {"year": 2003},
    {"year": {"$ne": 2003}},
    {"year": {"$gte": 2004.5}},
    {"$not": {"year": {"$lt": 2005}}},
    {"year": {"$in": [2001, 2002.0, "2003"]}},
    {"big": str(2**60 + 1)},
    {"big": {"$gt": 4}},
    {"$not": {"big": {"$gt": 4}}},
    {"price": {"$lte": 2.5}},
    {"ratio": {"$lte": 0.1}},
    {"ratio": {"$lte": float(np.float32(0.1))}},
    {"ratio": 0.25},
    {"ok": True},
    {"ok": {"$ne": True}},
    {"genre": "poetry"},
    {"genre": {"$nin": ["poetry", "prose"]}},
    {"tags": "t1"},
    {"tags": {"$in": ["t2", "u9"]}},
    {"tags": "[]"},
    {"color": "red"},
    {"color": {"$in": ["red", "blue"]}},
    {"n": {"$gt": 3}},
    {"n": {"$ne": 4}},
    {"missing": {"$ne": 1}},
    {"year": {"$exists": True}},
    {"$or": [{"ok": True}, {"color": "blue"}]},
    {"$and": [{"genre": {"$ne": "prose"}}, {"n": {"$lte": 5}}]},
]
#: filters that cannot be exact on these fields: refused before any request
REFUSED: list[dict[str, Any]] = [
    {"color": {"$ne": "red"}},
    {"color": {"$exists": False}},
    {"$not": {"n": {"$gt": 3}}},
    {"tags": {"$ne": "t1"}},
    {"info": "x"},
    {"nums": "[]"},
    {"text": "book 1"},
]


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Path]:
    """A fresh Milvus Lite database file; its server process is stopped afterwards."""
    path = tmp_path / "native.db"
    yield path
    stop_lite_server(path)


def lite(db: Path) -> str:
    return f"milvus+lite://{db}"


def book_rows() -> list[dict[str, Any]]:
    rng = np.random.default_rng(5)
    rows = []
    for i in range(COUNT):
        row: dict[str, Any] = {
            "book_id": 10 * i + 7,
            "emb": rng.standard_normal(DIMENSION).astype(np.float32).tolist(),
            "text": f"book {i}",
            "year": 2000 + i % 8,
            "big": 2**60 + i if i % 5 == 1 else i - 3,
            "price": i / 2,
            "ratio": (0.1, 0.25, 3.5)[i % 3],
            "ok": i % 3 == 0,
            "genre": ("poetry", "prose", "drama")[i % 3],
            "tags": [f"t{j}" for j in range(i % 4)],
            "nums": list(range(i % 3)),
            "info": {"shelf": i % 2, "notes": ["a"]},
        }
        if i % 2:
            row["color"] = ("red", "blue", "green")[i % 3]
        if i % 3:
            row["n"] = i
        rows.append(row)
    return rows


def write_books(
    db: Path | str, name: str = "books", metric: str = "COSINE", rows: list[dict[str, Any]] | None = None
) -> None:
    """The collection pymilvus writes: an INT64 primary key, scalar fields, an ARRAY, JSON, dynamic keys."""
    client = MilvusClient(str(db))
    try:
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=True)
        schema.add_field("book_id", DataType.INT64, is_primary=True)
        schema.add_field("emb", DataType.FLOAT_VECTOR, dim=DIMENSION)
        schema.add_field("text", DataType.VARCHAR, max_length=200)
        schema.add_field("year", DataType.INT32)
        schema.add_field("big", DataType.INT64)
        schema.add_field("price", DataType.DOUBLE)
        schema.add_field("ratio", DataType.FLOAT)
        schema.add_field("ok", DataType.BOOL)
        schema.add_field("genre", DataType.VARCHAR, max_length=20)
        schema.add_field("tags", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=8, max_length=20)
        schema.add_field("nums", DataType.ARRAY, element_type=DataType.INT64, max_capacity=8)
        schema.add_field("info", DataType.JSON)
        index = client.prepare_index_params()
        index.add_index("emb", index_type="FLAT", metric_type=metric)
        client.create_collection(name, schema=schema, index_params=index)
        client.insert(name, rows if rows is not None else book_rows())
    finally:
        client.close()


def expected_books(db: Path | str, name: str = "books") -> dict[str, vb.Record]:
    """The records as the contract reads them: pymilvus' values through the core conversion rules."""
    client = MilvusClient(str(db))
    try:
        rows = client.query(name, filter="book_id >= 0", output_fields=["*"], consistency_level="Strong")
    finally:
        client.close()
    records = {}
    for row in rows:
        metadata = {  # list(): pymilvus before 2.6.10 returns ARRAY values as protobuf containers
            key: metadata_value(list(value) if key in ("tags", "nums") else value)
            for key, value in row.items()
            if key not in ("book_id", "emb", "text")
        }
        records[str(row["book_id"])] = vb.Record(str(row["book_id"]), np.asarray(row["emb"]), metadata, row["text"])
    return records


def state(db: Path) -> Any:
    """Everything reading could change, as a new process opening the file finds it: collections,
    schemas, indexes, load states (Milvus Lite keeps none in the file), every entity."""
    stop_lite_server(db)
    client = MilvusClient(str(db))
    try:
        found = {}
        for name in sorted(client.list_collections()):
            described = client.describe_collection(name)
            indexes = [client.describe_index(name, index) for index in client.list_indexes(name)]
            load = str(client.get_load_state(name)["state"])
            client.load_collection(name)  # for this test process only, to read every entity
            rows = client.query(name, filter="", limit=1000, output_fields=["*"])
            found[name] = (
                json.dumps(described, default=str, sort_keys=True),
                indexes,
                load,
                sorted(json.dumps(row, sort_keys=True, default=str) for row in rows),
            )
        return found
    finally:
        client.close()
        stop_lite_server(db)


async def read_all(collection: vb.Collection, page_size: int = 5) -> dict[str, vb.Record]:
    found: dict[str, vb.Record] = {}
    async for page in collection.scan(page_size=page_size, include_vector=True):
        for record in page.records:
            assert record.id not in found
            found[record.id] = record
    return found


def assert_records_equal(mine: dict[str, vb.Record], theirs: dict[str, vb.Record]) -> None:
    assert sorted(mine) == sorted(theirs)
    for key, record in mine.items():
        other = theirs[key]
        assert (record.metadata, record.document) == (other.metadata, other.document), key
        np.testing.assert_allclose(record.vector, other.vector, atol=1e-6)


async def test_a_collection_written_by_pymilvus_is_listed_and_described(db: Path) -> None:
    write_books(db)
    async with vb.connect(lite(db)) as store:
        (spec,) = await store.list_collections(native=True)
        info = await store.describe_collection("books")
    assert spec.name == "books" and spec.layout is not None
    layout = info.spec.layout
    assert layout is not None
    assert (info.spec.dimension, info.spec.metric, info.count) == (DIMENSION, vb.Metric.COSINE, COUNT)
    assert (layout.preset, layout.id, layout.vector, layout.document, layout.namespace) == (
        "native",
        "book_id",
        "emb",
        "text",
        None,
    )
    roles = {f.name: (f.type, f.role) for f in layout.fields}
    assert roles["book_id"] == ("INT64 primary", FieldRole.ID)
    assert roles["emb"] == (f"FLOAT_VECTOR({DIMENSION})", FieldRole.VECTOR)
    assert roles["tags"] == ("ARRAY[VARCHAR](20)", FieldRole.METADATA)
    assert roles["$meta"][1] is FieldRole.METADATA_KEYS
    assert roles["$meta.color"] == ("str", FieldRole.METADATA) and roles["$meta.n"] == ("int", FieldRole.METADATA)


async def test_vecbridge_collections_are_not_native(db: Path) -> None:
    async with vb.connect(lite(db)) as store:
        await store.create_collection("own", dimension=4)
        assert [spec.name for spec in await store.list_collections(native=True)] == ["own"]
        assert (await store.describe_collection("own")).spec.layout is None


async def test_reads_equal_what_pymilvus_reads_and_leave_the_collection_unchanged(db: Path) -> None:
    write_books(db)
    expected = expected_books(db)
    before = state(db)
    async with vb.connect(lite(db)) as store:
        books = store.collection("books")
        assert_records_equal(await read_all(books), expected)
        got = await books.get(["7", "17", "8", "x", "-1"], include_vector=True)
        assert_records_equal({r.id: r for r in got}, {k: expected[k] for k in ("7", "17")})
        assert await books.count() == COUNT
        assert await store.collection("books", namespace="other").count() == 0
    assert state(db) == before


async def test_scan_resumes_from_a_cursor_on_another_connection(db: Path) -> None:
    write_books(db)
    async with vb.connect(lite(db)) as store:
        first = await anext(aiter(store.collection("books").scan(page_size=10)))
    assert first.cursor is not None
    async with vb.connect(lite(db)) as store:
        rest = [
            r.id
            async for page in store.collection("books").scan(page_size=7, cursor=first.cursor)
            for r in page.records
        ]
    assert sorted([r.id for r in first.records] + rest, key=int) == sorted(expected_books(db), key=int)


@pytest.mark.parametrize("metric", sorted(METRICS))
async def test_query_scores_follow_the_vecbridge_convention(db: Path, metric: str) -> None:
    write_books(db, metric=metric)
    expected = list(expected_books(db).values())
    query = np.random.default_rng(9).standard_normal(DIMENSION)
    scores = reference_scores(METRICS[metric], [r.vector for r in expected], query)
    best = sorted(zip(scores, (r.id for r in expected), strict=True), reverse=True)[:5]
    async with vb.connect(lite(db)) as store:
        matches = await store.collection("books").query(query, top_k=5)
    assert [m.id for m in matches] == [i for _, i in best]
    assert [m.score for m in matches] == pytest.approx([s for s, _ in best], abs=1e-4)


@pytest.mark.parametrize("filter_", FILTERS, ids=json.dumps)
async def test_filters_give_the_reference_answer(db: Path, filter_: dict[str, Any]) -> None:
    write_books(db)
    expected = expected_books(db)
    async with vb.connect(lite(db)) as store:
        books = store.collection("books")
        assert await books.count(filter_) == len(expected_ids(expected.values(), filter_))
        found = [r.id async for page in books.scan(page_size=50, filter=filter_) for r in page.records]
        assert sorted(found) == sorted(expected_ids(expected.values(), filter_))
        matches = await books.query(np.ones(DIMENSION), top_k=COUNT, filter=filter_)
        assert sorted(m.id for m in matches) == sorted(expected_ids(expected.values(), filter_))


@pytest.mark.parametrize("filter_", REFUSED, ids=json.dumps)
async def test_filters_that_cannot_be_exact_are_refused(db: Path, filter_: dict[str, Any]) -> None:
    write_books(db)
    async with vb.connect(lite(db)) as store:
        with pytest.raises(UnsupportedFilterError):
            await store.collection("books").count(filter_)


async def test_a_released_collection_is_loaded_only_for_this_process(db: Path) -> None:
    """Milvus Lite keeps no load state in its file (every process finds every collection released):
    reading loads it for this process only; the file, opened again, has it released as before."""
    write_books(db)
    before = state(db)
    assert before["books"][2] == "NotLoad"
    async with vb.connect(lite(db)) as store:
        assert await store.collection("books").count() == COUNT
    assert state(db) == before


async def test_several_vector_fields_are_listed_with_the_option(db: Path) -> None:
    client = MilvusClient(str(db))
    schema = MilvusClient.create_schema(auto_id=False)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=20)
    schema.add_field("a", DataType.FLOAT_VECTOR, dim=2)
    schema.add_field("b", DataType.FLOAT_VECTOR, dim=3)
    index = client.prepare_index_params()
    index.add_index("a", index_type="FLAT", metric_type="L2")
    index.add_index("b", index_type="FLAT", metric_type="IP")
    client.create_collection("two", schema=schema, index_params=index)
    client.insert("two", [{"id": "p", "a": [1, 0], "b": [0, 1, 0]}])
    client.close()
    async with vb.connect(lite(db)) as store:
        with pytest.raises(LayoutError, match=r"candidates for 'vector' are a, b.*\{\"vector\": \"a\"\}"):
            await store.describe_collection("two")
        info = await store.describe_collection("two", layout={"vector": "b"})
        assert (info.spec.dimension, info.spec.metric) == (3, vb.Metric.DOT)
        (match,) = await store.collection("two", layout={"vector": "b"}).query([0, 1, 0], top_k=1)
        assert (match.id, match.score) == ("p", pytest.approx(1.0))


async def test_writes_need_opting_in_and_replace_whole_entities(db: Path) -> None:
    write_books(db)
    record = vb.Record(
        "5",
        np.ones(DIMENSION),
        {
            "year": 2030,
            "big": str(2**60 + 9),
            "price": 1,
            "ratio": 0.5,
            "ok": False,
            "genre": "essay",
            "tags": ["x"],
            "nums": "[3,4]",
            "info": '{"shelf":9}',
            "shade": "blue",
        },
        "new",
    )
    async with vb.connect(lite(db)) as store:
        with pytest.raises(UnsupportedFeatureError, match="writable"):
            await store.collection("books").upsert([record])
        books = store.collection("books", writable=True)
        await books.upsert([record])
        (back,) = await books.get(["5"], include_vector=True)
        assert (back.metadata, back.document) == (record.metadata, record.document)
        with pytest.raises(InvalidRecordError, match="INT64"):
            await books.upsert([vb.Record("five", np.ones(DIMENSION), record.metadata)])
        with pytest.raises(InvalidRecordError, match="'year'"):
            await books.upsert([vb.Record("6", np.ones(DIMENSION), {"genre": "x"})])
        await books.delete(ids=["5", "7"])
        await books.delete(filter={"genre": "prose"})
        assert await books.count() == COUNT + 1 - 2 - 8
    client = MilvusClient(str(db))  # what pymilvus reads: the typed fields and the dynamic key
    try:
        assert client.query("books", filter="book_id == 5", output_fields=["*"]) == []
    finally:
        client.close()


async def test_create_collection_in_a_native_layout(db: Path) -> None:
    async with vb.connect(lite(db)) as store:
        made = await store.create_collection("plain", dimension=4, metric="dot", layout="native")
        await made.upsert([vb.Record("a", [1, 0, 0, 0], {"k": 1, "tags": ["x"]}, "doc")])
        assert [r.id for r in await made.get(["a"])] == ["a"]
    client = MilvusClient(str(db))
    try:
        fields = {f["name"]: f["type"] for f in client.describe_collection("plain")["fields"]}
        assert fields == {"id": DataType.VARCHAR, "vector": DataType.FLOAT_VECTOR, "text": DataType.VARCHAR}
        (row,) = client.query("plain", filter='id == "a"', output_fields=["*"])
        assert (row["text"], row["k"], row["tags"]) == ("doc", 1, ["x"])
        assert client.describe_index("plain", "vector")["metric_type"] == "IP"
    finally:
        client.close()


def test_vecbridge_migrate_copies_a_pymilvus_collection_to_the_reference_engine(db: Path, tmp_path: Path) -> None:
    """The acceptance line, as a user runs it: ``vecbridge migrate milvus+lite:///FILE local:///DIR``."""
    write_books(db)
    expected = expected_books(db)
    before = state(db)  # and the file is the subprocess's now
    destination = tmp_path / "reference"
    command = [sys.executable, "-m", "vecbridge", "migrate", lite(db), f"local://{destination}"]
    result = subprocess.run(
        [
            *command,
            "--collection",
            "books",
            "--verify",
            "full",
            "--checkpoint-dir",
            str(tmp_path / "cp"),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"records {COUNT}/{COUNT} match" in result.stdout
    assert state(db) == before

    async def copied() -> dict[str, vb.Record]:
        async with vb.connect(f"local://{destination}") as store:
            return await read_all(store.collection("books"))

    assert_records_equal(asyncio.run(copied()), expected)


# --- data written by the frameworks ------------------------------------------------------------------


@pytest.fixture
def langchain_orm_alias(monkeypatch: pytest.MonkeyPatch) -> None:
    """langchain-milvus 0.3 opens collections through pymilvus' ORM under ``MilvusClient._using``, an
    alias pymilvus 2.6.10+ no longer registers (langchain-milvus 0.4 needs milvus-lite 3, not the
    engine; llama-index-vector-stores-milvus needs pymilvus < 3): register it, as pymilvus did before."""
    from pymilvus import connections

    original = MilvusClient.__init__

    def init(self: MilvusClient, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        connections._alias_handlers.setdefault(self._using, self._handler)

    monkeypatch.setattr(MilvusClient, "__init__", init)


def fake_embedding() -> Any:
    from langchain_core.embeddings import DeterministicFakeEmbedding

    return DeterministicFakeEmbedding(size=DIMENSION)


NOTES = [f"note {i} about {('tea', 'coffee', 'water')[i % 3]}" for i in range(12)]
NOTE_METADATA = [
    {"drink": ("tea", "coffee", "water")[i % 3], "cups": i, "hot": i % 2 == 0, "rate": i / 4} for i in range(12)
]


def langchain_milvus(db: Path, **options: Any) -> Any:
    from langchain_milvus import Milvus

    return Milvus(fake_embedding(), connection_args={"uri": str(db)}, **options)


def search_on_milvus(db: Path, query: str, **options: Any) -> list[tuple[str, dict[str, Any]]]:
    store = langchain_milvus(db, enable_dynamic_field=True)  # its client stays open: LangChain's ORM shares it
    return [(doc.page_content, doc.metadata) for doc in store.similarity_search(query, k=4, **options)]


@pytest.mark.usefixtures("langchain_orm_alias")
async def test_langchain_typed_fields_read_back_as_langchain_wrote_them(db: Path) -> None:
    """langchain-milvus without dynamic fields: one typed field per metadata key, fixed by the first document."""
    from langchain_milvus import Milvus

    ids = [f"n-{i}" for i in range(len(NOTES))]
    Milvus.from_texts(NOTES, fake_embedding(), metadatas=NOTE_METADATA, ids=ids, connection_args={"uri": str(db)})
    async with vb.connect(lite(db)) as store:
        info = await store.describe_collection("LangChainCollection")
        layout = info.spec.layout
        assert layout is not None and (layout.preset, layout.id, layout.document) == ("langchain", "pk", "text")
        assert info.spec.metric is vb.Metric.EUCLIDEAN  # langchain-milvus' default index: L2
        records = await read_all(store.collection("LangChainCollection"))
        assert await store.collection("LangChainCollection").count({"drink": "tea", "hot": True}) == 2
    assert sorted(records) == sorted(ids)
    for i, key in enumerate(ids):
        assert (records[key].document, records[key].metadata) == (NOTES[i], NOTE_METADATA[i])
        np.testing.assert_allclose(records[key].vector, fake_embedding().embed_query(NOTES[i]), atol=1e-6)
    # LangChain itself returns the primary key inside the metadata: vecbridge reads it as the id
    (doc,) = langchain_milvus(db).similarity_search(NOTES[4], k=1)
    assert doc.metadata == {"pk": "n-4", **NOTE_METADATA[4]}


@pytest.mark.usefixtures("langchain_orm_alias")
async def test_langchain_auto_ids_and_dynamic_fields_read_back_and_refuse_writes(db: Path) -> None:
    from langchain_milvus import Milvus

    Milvus.from_texts(
        NOTES[:5],
        fake_embedding(),
        metadatas=NOTE_METADATA[:5],
        connection_args={"uri": str(db)},
        enable_dynamic_field=True,
        auto_id=True,
    )
    async with vb.connect(lite(db)) as store:
        layout = (await store.describe_collection("LangChainCollection")).spec.layout
        assert layout is not None and {f.name: f.type for f in layout.fields}["pk"] == "INT64 primary auto_id"
        records = await read_all(store.collection("LangChainCollection"))
        assert sorted((r.document, sorted(r.metadata.items())) for r in records.values()) == sorted(
            (text, sorted(meta.items())) for text, meta in zip(NOTES[:5], NOTE_METADATA[:5], strict=True)
        )
        assert all(key.isdigit() for key in records)
        writable = store.collection("LangChainCollection", writable=True)
        with pytest.raises(InvalidRecordError, match="auto_id"):
            await writable.upsert([vb.Record("1", np.ones(DIMENSION), {}, "x")])


@pytest.mark.usefixtures("langchain_orm_alias")
def test_langchain_on_qdrant_migrates_to_langchain_on_milvus(db: Path, tmp_path: Path) -> None:
    """The acceptance line: documents written by LangChain on Qdrant, migrated with the presets, answer
    LangChain's own similarity_search on Milvus with the same documents, metadata and order."""
    from click.testing import CliRunner
    from langchain_qdrant import QdrantVectorStore
    from qdrant_client import models

    from vecbridge.cli import main

    metadatas = [{**meta, "tags": ["x", f"t{i}"]} for i, meta in enumerate(NOTE_METADATA)]
    directory = tmp_path / "qdrant"
    written = QdrantVectorStore.from_texts(
        NOTES, fake_embedding(), metadatas=metadatas, path=str(directory), collection_name="notes"
    )
    queries = ["tea", "coffee please", "note 7"]
    on_qdrant = [
        [
            (doc.page_content, {k: v for k, v in doc.metadata.items() if not k.startswith("_")}, doc.metadata["_id"])
            for doc in written.similarity_search(query, k=4)
        ]
        for query in queries
    ]
    coffee = models.Filter(must=[models.FieldCondition(key="metadata.drink", match=models.MatchValue(value="coffee"))])
    filtered_on_qdrant = [
        (doc.page_content, doc.metadata["_id"]) for doc in written.similarity_search("tea", k=3, filter=coffee)
    ]
    written.client.close()
    result = CliRunner().invoke(
        main,
        [
            "migrate",
            f"qdrant+local://{directory}",
            lite(db),
            "--collection",
            "notes",
            "--to-collection",
            "LangChainCollection",
            "--from-layout",
            "langchain",
            "--to-layout",
            "langchain",
            "--verify",
            "full",
            "--checkpoint-dir",
            str(tmp_path / "cp"),
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert f"records {len(NOTES)}/{len(NOTES)} match" in result.output
    on_milvus = [
        [(text, {k: v for k, v in meta.items() if k != "pk"}, meta["pk"]) for text, meta in search_on_milvus(db, query)]
        for query in queries
    ]
    assert on_milvus == on_qdrant  # documents, metadata, order, and the ids LangChain reports
    filtered_on_milvus = [(text, meta["pk"]) for text, meta in search_on_milvus(db, "tea", expr='drink == "coffee"')][
        :3
    ]
    assert filtered_on_milvus == filtered_on_qdrant


def llamaindex_nodes() -> list[Any]:
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

    rng = np.random.default_rng(11)
    return [
        TextNode(
            id_=str(uuid.UUID(int=i + 100)),  # a UUID, as LlamaIndex on Qdrant needs
            text=f"node {i} text",
            metadata={"source": f"s{i % 2}", "page": i},
            embedding=rng.normal(size=DIMENSION).tolist(),
            relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=f"doc-{i % 3}")},
        )
        for i in range(6)
    ]


def llamaindex_query(db: Path, name: str, vector: list[float]) -> list[tuple[str, str, dict[str, Any], Any, float]]:
    from llama_index.core.vector_stores.types import VectorStoreQuery
    from llama_index.vector_stores.milvus import MilvusVectorStore

    store = MilvusVectorStore(uri=str(db), collection_name=name, dim=DIMENSION)
    try:
        result = store.query(VectorStoreQuery(query_embedding=vector, similarity_top_k=4))
    finally:
        store.client.close()
    scores = [round(s, 5) for s in result.similarities or []]
    return [
        (node.node_id, node.get_content(), node.metadata, node.ref_doc_id, score)
        for node, score in zip(result.nodes or [], scores, strict=True)
    ]


async def test_llamaindex_nodes_read_back_and_a_copy_through_the_preset_answers_alike(db: Path) -> None:
    from llama_index.vector_stores.milvus import MilvusVectorStore

    nodes = llamaindex_nodes()
    writer = MilvusVectorStore(uri=str(db), dim=DIMENSION, overwrite=True)
    writer.add(nodes)
    writer.client.close()
    async with vb.connect(lite(db)) as store:
        info = await store.describe_collection("llamacollection")
        layout = info.spec.layout
        assert layout is not None and (layout.preset, layout.id, layout.document) == ("llamaindex", "id", "text")
        assert info.spec.metric is vb.Metric.DOT  # LlamaIndex's default on Milvus: IP
        records = await read_all(store.collection("llamacollection"))
        assert await store.collection("llamacollection").count({"source": "s1"}) == 3
        copy = await store.create_collection(
            "llama_copy", dimension=DIMENSION, metric=info.spec.metric, layout="llamaindex"
        )
        await copy.upsert(list(records.values()))
    for node in nodes:
        record = records[node.node_id]
        assert record.document == node.text
        assert {k: record.metadata[k] for k in ("source", "page", "doc_id", "ref_doc_id")} == {
            **node.metadata,
            "doc_id": node.ref_doc_id,
            "ref_doc_id": node.ref_doc_id,
        }
    query = nodes[2].embedding
    assert llamaindex_query(db, "llama_copy", query) == llamaindex_query(db, "llamacollection", query)


def write_tenants(db: Path, partition_key: bool = False) -> None:
    """A collection split by a VARCHAR field ``tenant`` (the partition key when ``partition_key``)."""
    client = MilvusClient(str(db))
    try:
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=True)
        schema.add_field("doc_id", DataType.VARCHAR, is_primary=True, max_length=40)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=2)
        schema.add_field("tenant", DataType.VARCHAR, max_length=20, is_partition_key=partition_key)
        index = client.prepare_index_params()
        index.add_index("vector", index_type="FLAT", metric_type="L2")
        client.create_collection("tenants", schema=schema, index_params=index)
        rows = [{"doc_id": f"d{i}", "vector": [i, 1], "tenant": ("acme", "globex")[i % 2], "k": i} for i in range(6)]
        client.insert("tenants", rows)
    finally:
        client.close()


async def test_a_declared_namespace_field_splits_the_collection(db: Path) -> None:
    write_tenants(db)
    async with vb.connect(lite(db)) as store:
        inferred = (await store.describe_collection("tenants")).spec.layout
        assert inferred is not None and inferred.namespace is None
        layout = {"namespace": "tenant"}
        assert await store.list_namespaces("tenants", layout=layout) == ["acme", "globex"]
        acme = store.collection("tenants", namespace="acme", layout={**layout, "writable": True})
        assert await acme.count() == 3
        assert sorted(m.id for m in await acme.query([0, 1], top_k=10)) == ["d0", "d2", "d4"]
        assert await acme.get(["d1"]) == []
        with pytest.raises(UnsupportedFilterError, match="namespace"):
            await acme.count({"tenant": "globex"})
        await acme.upsert([vb.Record("n1", [9, 9], {"k": 7})])
        await acme.delete(filter={"k": {"$lt": 3}})
        assert sorted(r.id for r in await acme.get(["d0", "d2", "d4", "n1"])) == ["d4", "n1"]
        assert await store.collection("tenants", namespace="globex", layout=layout).count() == 3


async def test_a_partition_key_collection_is_described_and_its_reads_refused_on_lite(db: Path) -> None:
    """Milvus Lite 2.5 answers every filter expression on a collection with a partition key with
    "Invalid expr" (even one on the primary key): described, and every read refused by name."""
    write_tenants(db, partition_key=True)
    async with vb.connect(lite(db)) as store:
        (spec,) = await store.list_collections(native=True)
        assert spec.layout is not None and spec.layout.namespace is None
        assert {f.name: f.type for f in spec.layout.fields}["tenant"] == "VARCHAR(20) partition_key"
        with pytest.raises(UnsupportedFeatureError, match="partition key"):
            await store.collection("tenants").get(["d0"])


# --- the same on a Milvus server (2.3.5, tests/servers/milvus.py) -------------------------------------


def server_state(uri: str, name: str) -> Any:
    """What reading could change on the server: the schema, indexes, load state and every entity."""
    client = MilvusClient(uri)
    described = client.describe_collection(name)
    indexes = [client.describe_index(name, index) for index in client.list_indexes(name)]
    load = str(client.get_load_state(name)["state"])
    rows = (
        client.query(name, filter="book_id >= 0", output_fields=["*"], consistency_level="Strong")
        if load != "NotLoad"
        else []
    )
    return (
        json.dumps(described, default=str, sort_keys=True),
        indexes,
        load,
        sorted(json.dumps(row, sort_keys=True, default=str) for row in rows),
    )


async def test_on_a_server_a_pymilvus_collection_reads_filters_and_migrates_unchanged(
    milvus_server_url: str, tmp_path: Path
) -> None:
    uri = milvus_server_url.replace("milvus://", "http://", 1)
    name = f"books_{os.getpid()}_{tmp_path.name[-6:].replace('-', '_')}"
    write_books(uri, name, metric="L2")
    try:
        expected = expected_books(uri, name)
        before = server_state(uri, name)
        async with vb.connect(milvus_server_url) as store:
            books = store.collection(name)
            assert_records_equal(await read_all(books), expected)
            for filter_ in FILTERS:
                if any(key in json.dumps(filter_) for key in ('"n"', '"missing"')):
                    continue  # '!=' on a server's JSON key is refused (it does not match a missing key)
                assert await books.count(filter_) == len(expected_ids(expected.values(), filter_)), filter_
            with pytest.raises(UnsupportedFilterError, match="server"):
                await books.count({"n": {"$ne": 4}})
            async with vb.connect(f"local://{tmp_path / 'copy'}") as copy:
                report = await vb.migrate(
                    books, copy.collection(name), verify_mode="full", checkpoint_dir=tmp_path / "cp"
                )
                assert report.succeeded
                assert_records_equal(await read_all(copy.collection(name)), expected)
        assert server_state(uri, name) == before
        client = MilvusClient(uri)
        client.release_collection(name)
        released = server_state(uri, name)
        async with vb.connect(milvus_server_url) as store:
            listed = {spec.name: spec for spec in await store.list_collections(native=True)}
            assert listed[name].layout is not None and listed[name].layout.document == "text"
            with pytest.raises(UnsupportedFeatureError, match="load_collection"):
                await store.collection(name).count()
        assert server_state(uri, name) == released
    finally:
        MilvusClient(uri).drop_collection(name)


def test_llamaindex_on_qdrant_migrates_to_llamaindex_on_milvus(db: Path, tmp_path: Path) -> None:
    """Nodes LlamaIndex wrote on Qdrant (text only inside _node_content), migrated with the presets:
    LlamaIndex's own query on Milvus returns the same nodes, text, metadata and source documents."""
    from click.testing import CliRunner
    from llama_index.core.vector_stores.types import VectorStoreQuery
    from llama_index.vector_stores.qdrant import QdrantVectorStore
    from qdrant_client import QdrantClient

    from vecbridge.cli import main

    nodes = llamaindex_nodes()
    directory = tmp_path / "qdrant"
    queries = [np.random.default_rng(i).standard_normal(DIMENSION).tolist() for i in range(3)]

    def answers(store: Any) -> list[list[tuple[str, str, dict[str, Any], Any]]]:
        found = []
        for vector in queries:
            result = store.query(VectorStoreQuery(query_embedding=vector, similarity_top_k=4))
            found.append([(n.node_id, n.get_content(), n.metadata, n.ref_doc_id) for n in result.nodes or []])
        return found

    client = QdrantClient(path=str(directory))
    try:
        QdrantVectorStore(collection_name="handbook", client=client).add(nodes)
        on_qdrant = answers(QdrantVectorStore(collection_name="handbook", client=client))
    finally:
        client.close()
    result = CliRunner().invoke(
        main,
        [
            "migrate", f"qdrant+local://{directory}", lite(db), "--collection", "handbook",
            "--from-layout", "llamaindex", "--to-layout", "llamaindex",
            "--verify", "full", "--checkpoint-dir", str(tmp_path / "cp"), "--no-progress",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"records {len(nodes)}/{len(nodes)} match" in result.output
    from llama_index.vector_stores.milvus import MilvusVectorStore

    on_milvus = MilvusVectorStore(uri=str(db), collection_name="handbook", dim=DIMENSION)
    try:
        assert answers(on_milvus) == on_qdrant
    finally:
        on_milvus.client.close()


async def test_on_a_server_partitions_are_the_namespaces(milvus_server_url: str, tmp_path: Path) -> None:
    uri = milvus_server_url.replace("milvus://", "http://", 1)
    name = f"parts_{os.getpid()}_{tmp_path.name[-6:].replace('-', '_')}"
    client = MilvusClient(uri)
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=True)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=20)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=2)
    index = client.prepare_index_params()
    index.add_index("vector", index_type="FLAT", metric_type="IP")
    client.create_collection(name, schema=schema, index_params=index, consistency_level="Strong")
    try:
        for partition in ("p1", "p2"):
            client.create_partition(name, partition)
            rows = [{"id": f"{partition}-{i}", "vector": [i, 1], "k": i} for i in range(3)]
            client.insert(name, rows, partition_name=partition)
        client.insert(name, [{"id": "d-0", "vector": [1, 0], "k": 9}])
        async with vb.connect(milvus_server_url) as store:
            layout = (await store.describe_collection(name)).spec.layout
            assert layout is not None and layout.namespace == ""
            assert await store.list_namespaces(name) == ["default", "p1", "p2"]
            p1 = store.collection(name, namespace="p1", writable=True)
            assert await p1.count() == 3 and await p1.count({"k": {"$gte": 1}}) == 2
            assert sorted(m.id for m in await p1.query([1, 1], top_k=10)) == ["p1-0", "p1-1", "p1-2"]
            assert await p1.get(["p2-0", "d-0"]) == []
            assert [r.id for r in await store.collection(name).get(["d-0"])] == ["d-0"]
            assert await store.collection(name, namespace="nowhere").count() == 0
            p3 = store.collection(name, namespace="p3", writable=True)
            await p3.upsert([vb.Record("p3-0", [0, 1], {"k": 1})])
            await p1.delete(filter={"k": 0})
            assert [r.id for r in await p3.get(["p3-0"])] == ["p3-0"]
            assert await p1.count() == 2 and await store.collection(name, namespace="p2").count() == 3
        assert "p3" in client.list_partitions(name)
    finally:
        client.drop_collection(name)

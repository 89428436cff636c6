"""Qdrant collections vecbridge did not create, seen and migrated by the CLI (to PostgreSQL + pgvector,
and from Chroma into Qdrant in the frameworks' shapes).

The source is the client's local mode (a directory), written by qdrant-client itself, by
``llama-index-vector-stores-qdrant`` and by ``langchain-qdrant``; the destination is a real
PostgreSQL + pgvector (``pgvector_url``). ``vecbridge info --json`` lists the collection as native;
``vecbridge migrate`` copies it with every convertible value equal and every converted field named
by the plan; the frameworks' own searches on the destination return what they returned on Qdrant;
the Qdrant directory's collections are unchanged afterwards. In the other direction, LlamaIndex
and LangChain collections on a ``chroma run`` server (``chroma_url``) migrate into Qdrant where
the frameworks' Qdrant stores read them as their Chroma stores did.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import secrets
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import pytest
from click.testing import CliRunner
from qdrant_client import QdrantClient, models

import vecbridge as vb
from vecbridge.cli import main
from vecbridge.layout import metadata_value

DIMENSION = 16
COUNT = 30


def cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def dsn_of(url: str, driver: str = "postgresql") -> str:
    parts = urlsplit(url)
    return urlunsplit((driver, parts.netloc, parts.path, "", ""))


def migrate(source: str, destination: str, collection: str, checkpoints: Path, *options: str) -> str:
    return cli(
        "migrate",
        source,
        destination,
        "--collection",
        collection,
        *options,
        "--verify",
        "full",
        "--checkpoint-dir",
        str(checkpoints),
        "--no-progress",
    )


def qdrant_state(directory: Path) -> Any:
    """Every collection of the directory as qdrant-client sees it: configuration, payload indexes, points."""
    client = QdrantClient(path=str(directory))
    try:
        state = {}
        for described in client.get_collections().collections:
            info = client.get_collection(described.name)
            points, _ = client.scroll(described.name, limit=10_000, with_payload=True, with_vectors=True)
            state[described.name] = (
                info.config.model_dump_json(),
                info.payload_schema,
                sorted(p.model_dump_json() for p in points),
            )
        return state
    finally:
        client.close()


def write_articles(directory: Path) -> dict[str, tuple[list[float], dict[str, Any]]]:
    """COUNT points written with qdrant-client: integer and UUID ids, a text key, a nested object,
    a datetime (qdrant-client stores it as an RFC 3339 string), nulls; returns id -> (vector,
    payload) as qdrant-client reads them back."""
    rng = np.random.default_rng(21)
    points = {}
    for i in range(COUNT):
        point_id: int | str = i + 1000 if i % 2 else str(uuid.UUID(int=i + 1))
        payload: dict[str, Any] = {
            "content": f"article {i}: how to handle case {i % 7}",
            "category": ("billing", "shipping", "account")[i % 3],
            "views": i * 10,
            "author": {"name": f"a{i % 4}", "teams": ["x", "y"]},
            "published": dt.datetime(2025, 1, 1 + i % 28, 9, 30, tzinfo=dt.UTC),
        }
        if i % 2:
            payload["rating"] = i / 4
        if i % 5 == 0:
            payload["archived"] = None
        points[point_id] = (rng.standard_normal(DIMENSION).tolist(), payload)
    client = QdrantClient(path=str(directory))
    try:
        client.create_collection(
            "articles", vectors_config=models.VectorParams(size=DIMENSION, distance=models.Distance.COSINE)
        )
        client.upsert("articles", [models.PointStruct(id=k, vector=v, payload=p) for k, (v, p) in points.items()])
        stored, _ = client.scroll("articles", limit=COUNT, with_vectors=True)
    finally:
        client.close()
    return {str(p.id): (list(p.vector), p.payload or {}) for p in stored}  # type: ignore[arg-type]


def unit(vector: Any) -> Any:
    array = np.asarray(vector, dtype=np.float64)
    return array / np.linalg.norm(array)


async def records_of(url: str, name: str, layout: str | None = None) -> dict[str, vb.Record]:
    async with vb.connect(url) as store:
        collection = store.collection(name, layout=layout)
        return {r.id: r async for page in collection.scan(page_size=100) for r in page.records}


async def drop(url: str, name: str) -> None:
    async with vb.connect(url) as store:
        await store.drop_collection(name, missing_ok=True)


def test_info_lists_and_migrate_copies_a_collection_written_by_qdrant_client(pgvector_url: str, tmp_path: Path) -> None:
    directory = tmp_path / "qdrant"
    stored = write_articles(directory)
    source = f"qdrant+local://{directory}"
    before = qdrant_state(directory)

    entry = {e["name"]: e for e in json.loads(cli("info", source, "--json"))["collections"]}["articles"]
    assert (entry["native"], entry["dimension"], entry["metric"], entry["records"]) == (
        True,
        DIMENSION,
        "cosine",
        COUNT,
    )
    fields = {f["name"]: f for f in entry["fields"]}
    assert (fields["content"]["role"], fields["author"]["type"], fields["published"]["type"]) == (
        "document",
        "object",
        "str",
    )
    assert entry["unfit"] == []

    target = f"from_qdrant_{secrets.token_hex(3)}"
    output = migrate(source, pgvector_url, "articles", tmp_path / "checkpoints", "--to-collection", target)
    assert f"records {COUNT}/{COUNT} match" in output
    assert "source author (object): converted" in output  # the plan names the field it converts
    try:
        copied = asyncio.run(records_of(pgvector_url, target))
    finally:
        asyncio.run(drop(pgvector_url, target))
    assert sorted(copied) == sorted(stored)  # integers as decimal strings, UUIDs hyphenated
    for record_id, (vector, payload) in stored.items():
        record = copied[record_id]
        # cosine: local mode hands back the vector normalized, or as written after a reopen; the direction is the data
        np.testing.assert_allclose(unit(record.vector), unit(vector), rtol=1e-5, atol=1e-6)
        assert record.document == payload["content"]
        assert record.metadata == {
            key: metadata_value(value) for key, value in payload.items() if key != "content" and value is not None
        }
        assert json.loads(str(record.metadata["author"])) == payload["author"]
        assert dt.datetime.fromisoformat(str(record.metadata["published"])).tzinfo is not None
    assert qdrant_state(directory) == before  # reading never writes


def test_llamaindex_on_qdrant_migrates_to_llamaindex_on_pgvector(pgvector_url: str, tmp_path: Path) -> None:
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
    from llama_index.core.vector_stores.types import VectorStoreQuery
    from llama_index.vector_stores.postgres import PGVectorStore
    from llama_index.vector_stores.qdrant import QdrantVectorStore

    rng = np.random.default_rng(22)
    nodes = [
        TextNode(
            id_=str(uuid.UUID(int=500 + i)),
            text=f"chunk {i} of the handbook",
            metadata={"section": f"s{i % 3}", "page": i},
            embedding=rng.standard_normal(DIMENSION).tolist(),
            relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=f"handbook-{i % 2}")},
        )
        for i in range(12)
    ]
    directory = tmp_path / "qdrant"
    client = QdrantClient(path=str(directory))
    try:
        QdrantVectorStore(collection_name="handbook", client=client).add(nodes)
    finally:
        client.close()
    before = qdrant_state(directory)
    queries = [rng.standard_normal(DIMENSION).tolist() for _ in range(3)]

    def answers(store: Any) -> list[list[tuple[str, str, dict[str, Any], Any]]]:
        found = []
        for vector in queries:
            result = store.query(VectorStoreQuery(query_embedding=vector, similarity_top_k=5))
            found.append([(n.node_id, n.get_content(), n.metadata, n.ref_doc_id) for n in result.nodes or []])
        return found

    client = QdrantClient(path=str(directory))
    try:
        on_qdrant = answers(QdrantVectorStore(collection_name="handbook", client=client))
    finally:
        client.close()
    table = f"handbook_{secrets.token_hex(3)}"
    output = migrate(
        f"qdrant+local://{directory}",
        pgvector_url,
        "handbook",
        tmp_path / "checkpoints",
        "--to-collection",
        table,
        "--from-layout",
        "llamaindex",
        "--to-layout",
        "llamaindex",
    )
    assert "records 12/12 match" in output
    pg_store = PGVectorStore(
        connection_string=dsn_of(pgvector_url, "postgresql+psycopg"),
        async_connection_string=dsn_of(pgvector_url, "postgresql+asyncpg"),
        table_name=table,
        embed_dim=DIMENSION,
    )
    try:
        assert answers(pg_store) == on_qdrant
    finally:
        asyncio.run(drop_table(pgvector_url, f"data_{table}"))
    assert qdrant_state(directory) == before


def test_langchain_on_qdrant_migrates_to_langchain_on_pgvector(pgvector_url: str, tmp_path: Path) -> None:
    from langchain_core.embeddings import DeterministicFakeEmbedding
    from langchain_postgres import PGVector
    from langchain_qdrant import QdrantVectorStore

    embeddings = DeterministicFakeEmbedding(size=DIMENSION)
    texts = [f"note {i} about {('tea', 'coffee', 'water')[i % 3]}" for i in range(15)]
    metadatas = [{"drink": ("tea", "coffee", "water")[i % 3], "cups": i, "hot": i % 2 == 0} for i in range(15)]
    directory = tmp_path / "qdrant"
    written = QdrantVectorStore.from_texts(
        texts, embeddings, metadatas=metadatas, path=str(directory), collection_name="notes"
    )
    queries = [("tea", None), ("coffee please", {"drink": "coffee"}), ("note 7", {"hot": False})]

    def qdrant_filter(filter_: dict[str, Any] | None) -> models.Filter | None:
        if filter_ is None:
            return None
        ((key, value),) = filter_.items()
        return models.Filter(must=[models.FieldCondition(key=f"metadata.{key}", match=models.MatchValue(value=value))])

    on_qdrant = [
        [
            (doc.page_content, {k: v for k, v in doc.metadata.items() if not k.startswith("_")})
            for doc in written.similarity_search(query, k=4, filter=qdrant_filter(filter_))
        ]
        for query, filter_ in queries
    ]
    written.client.close()
    before = qdrant_state(directory)
    name = f"notes_{secrets.token_hex(3)}"
    connection = dsn_of(pgvector_url, "postgresql+psycopg")
    # LangChain's shared tables exist before the migration (another LangChain collection made them):
    # on a database without them, the pgvector adapter's create through the langchain preset fails
    # (InFailedSqlTransaction after looking the collection up in the missing table), and a collection
    # PGVector made empty has an untyped vector column (dimension 0), which the plan refuses
    PGVector(embeddings=embeddings, collection_name="bootstrap", connection=connection, use_jsonb=True)
    output = migrate(
        f"qdrant+local://{directory}",
        pgvector_url,
        "notes",
        tmp_path / "checkpoints",
        "--to-collection",
        name,
        "--from-layout",
        "langchain",
        "--to-layout",
        "langchain",
    )
    assert "records 15/15 match" in output
    pg = PGVector(embeddings=embeddings, collection_name=name, connection=connection, use_jsonb=True)
    try:
        on_pgvector = [
            [(doc.page_content, doc.metadata) for doc in pg.similarity_search(query, k=4, filter=filter_)]
            for query, filter_ in queries
        ]
        assert on_pgvector == on_qdrant
    finally:
        pg.delete_collection()
    assert qdrant_state(directory) == before


async def drop_table(url: str, table: str) -> None:
    import psycopg
    from psycopg import sql

    async with await psycopg.AsyncConnection.connect(dsn_of(url), autocommit=True) as conn:
        await conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))


pytestmark = pytest.mark.filterwarnings("ignore:Payload indexes have no effect in the local Qdrant")


def chroma_client(url: str) -> Any:
    import chromadb
    from chromadb.config import Settings

    parts = urlsplit(url)
    return chromadb.HttpClient(
        host=parts.hostname or "127.0.0.1", port=parts.port or 8000, settings=Settings(anonymized_telemetry=False)
    )


def test_llamaindex_on_chroma_migrates_to_llamaindex_on_qdrant(chroma_url: str, tmp_path: Path) -> None:
    """The other direction: on Chroma LlamaIndex keeps the text in ``documents`` and empties it in
    ``_node_content``; written through the Qdrant preset, the text goes back into ``_node_content``."""
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
    from llama_index.core.vector_stores.types import VectorStoreQuery
    from llama_index.vector_stores.chroma import ChromaVectorStore
    from llama_index.vector_stores.qdrant import QdrantVectorStore

    rng = np.random.default_rng(23)
    name = f"li_chroma_{secrets.token_hex(3)}"
    chroma = chroma_client(chroma_url)
    source = ChromaVectorStore(chroma_collection=chroma.create_collection(name, embedding_function=None))
    source.add(
        [
            TextNode(
                id_=str(uuid.UUID(int=900 + i)),
                text=f"paragraph {i} of the manual",
                metadata={"chapter": f"c{i % 3}", "line": i},
                embedding=rng.standard_normal(DIMENSION).tolist(),
                relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=f"manual-{i % 2}")},
            )
            for i in range(10)
        ]
    )
    queries = [rng.standard_normal(DIMENSION).tolist() for _ in range(3)]

    def answers(store: Any) -> list[list[tuple[str, str, dict[str, Any], Any]]]:
        found = []
        for vector in queries:
            result = store.query(VectorStoreQuery(query_embedding=vector, similarity_top_k=4))
            found.append([(n.node_id, n.get_content(), n.metadata, n.ref_doc_id) for n in result.nodes or []])
        return found

    try:
        on_chroma = answers(source)
        directory = tmp_path / "qdrant"
        output = migrate(
            chroma_url,
            f"qdrant+local://{directory}",
            name,
            tmp_path / "checkpoints",
            "--to-collection",
            "manual",
            "--from-layout",
            "llamaindex",
            "--to-layout",
            "llamaindex",
        )
        assert "records 10/10 match" in output
        client = QdrantClient(path=str(directory))
        try:
            assert answers(QdrantVectorStore(collection_name="manual", client=client)) == on_chroma
            (point,), _ = client.scroll("manual", limit=1)
            assert json.loads(point.payload["_node_content"])["text"].startswith("paragraph ")  # type: ignore[index]
        finally:
            client.close()
    finally:
        chroma.delete_collection(name)


def test_langchain_on_chroma_migrates_to_langchain_on_qdrant(chroma_url: str, tmp_path: Path) -> None:
    from langchain_chroma import Chroma
    from langchain_core.embeddings import DeterministicFakeEmbedding
    from langchain_qdrant import QdrantVectorStore

    embeddings = DeterministicFakeEmbedding(size=DIMENSION)
    name = f"lc_chroma_{secrets.token_hex(3)}"
    chroma = chroma_client(chroma_url)
    source = Chroma(
        collection_name=name,
        client=chroma,
        embedding_function=embeddings,
        collection_configuration={"hnsw": {"space": "cosine"}},
    )
    source.add_texts(
        [f"recipe {i} with {('rice', 'beans', 'corn')[i % 3]}" for i in range(12)],
        metadatas=[{"grain": ("rice", "beans", "corn")[i % 3], "minutes": 10 + i} for i in range(12)],
    )
    queries = ["rice", "corn please", "recipe 5"]
    try:
        on_chroma = [[(d.page_content, d.metadata) for d in source.similarity_search(q, k=4)] for q in queries]
        directory = tmp_path / "qdrant"
        output = migrate(
            chroma_url,
            f"qdrant+local://{directory}",
            name,
            tmp_path / "checkpoints",
            "--to-collection",
            "recipes",
            "--from-layout",
            "langchain",
            "--to-layout",
            "langchain",
        )
        assert "records 12/12 match" in output
        client = QdrantClient(path=str(directory))
        try:
            target = QdrantVectorStore(client=client, collection_name="recipes", embedding=embeddings)
            on_qdrant = [
                [
                    (d.page_content, {k: v for k, v in d.metadata.items() if not k.startswith("_")})
                    for d in target.similarity_search(q, k=4)
                ]
                for q in queries
            ]
        finally:
            client.close()
        assert on_qdrant == on_chroma
    finally:
        chroma.delete_collection(name)

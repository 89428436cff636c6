"""A Chroma collection made with chromadb's own ``add(...)``, seen and migrated by the CLI.

On a real ``chroma run`` server (fixture ``chroma_url``) and PostgreSQL + pgvector (``pgvector_url``):
``vecbridge info --json`` lists the collection as native; ``vecbridge migrate`` copies it into
pgvector as a vecbridge collection and, with ``--to-layout``, into a plain table; every record read
back equals what chromadb holds, and the Chroma collection is unchanged afterwards.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import chromadb
import numpy as np
import psycopg
import pytest
from click.testing import CliRunner
from psycopg import sql

import vecbridge as vb
from vecbridge.cli import main

COUNT = 40
DIMENSION = 16


def cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def dsn_of(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(("postgresql", parts.netloc, parts.path, "", ""))


def chroma_client(url: str) -> Any:
    parts = urlsplit(url)
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    return chromadb.HttpClient(host=parts.hostname or "127.0.0.1", port=parts.port or 8000)


def chroma_state(collection: Any) -> dict[str, Any]:
    """Everything chromadb holds for ``collection``: records, its metadata and configuration."""
    got = collection.get(include=["embeddings", "documents", "metadatas"])
    return {
        "ids": got["ids"],
        "embeddings": np.asarray(got["embeddings"]).tolist(),
        "documents": got["documents"],
        "metadatas": got["metadatas"],
        "metadata": collection.metadata,
        "configuration": json.dumps(collection.configuration_json, sort_keys=True, default=str),
    }


@pytest.fixture(scope="module")
def native_collection(chroma_url: str) -> Iterator[str]:
    """A cosine collection of COUNT records added with chromadb's own client (no vecbridge involved)."""
    client = chroma_client(chroma_url)
    name = f"support-articles-{secrets.token_hex(3)}"
    collection = client.create_collection(name, configuration={"hnsw": {"space": "cosine"}}, embedding_function=None)
    rng = np.random.default_rng(16)
    metadatas: list[Any] = []
    for i in range(COUNT):
        metadata: dict[str, Any] = {"category": ("billing", "shipping", "account")[i % 3], "views": i * 10}
        if i % 2:
            metadata["rating"] = i / 4
        if i % 5 == 0:
            metadata["pinned"] = True
        metadatas.append(metadata)
    collection.add(
        ids=[f"kb-{i}" for i in range(COUNT)],
        embeddings=rng.standard_normal((COUNT, DIMENSION)).tolist(),
        documents=[f"article {i}: how to handle case {i % 7}" for i in range(COUNT)],
        metadatas=metadatas,
    )
    yield name
    client.delete_collection(name)


def test_info_lists_the_native_chroma_collection(chroma_url: str, native_collection: str) -> None:
    data = json.loads(cli("info", chroma_url, "--json"))
    entry = {e["name"]: e for e in data["collections"]}[native_collection]
    assert entry["native"] is True
    assert (entry["dimension"], entry["metric"], entry["records"]) == (DIMENSION, "cosine", COUNT)
    assert {field["name"] for field in entry["fields"]} >= {"category", "views", "rating", "pinned"}


async def records_of(url: str, name: str, layout: str | None = None) -> dict[str, vb.Record]:
    async with vb.connect(url) as store:
        collection = store.collection(name, layout=layout)
        return {r.id: r async for page in collection.scan(page_size=100) for r in page.records}


def assert_equal_to_chroma(records: dict[str, vb.Record], state: dict[str, Any]) -> None:
    assert sorted(records) == sorted(state["ids"])
    for record_id, embedding, document, metadata in zip(
        state["ids"], state["embeddings"], state["documents"], state["metadatas"], strict=True
    ):
        record = records[record_id]
        np.testing.assert_allclose(record.vector, embedding, rtol=1e-6, atol=1e-7)
        assert record.document == document
        assert record.metadata == metadata
        assert all(type(record.metadata[k]) is type(v) for k, v in metadata.items())  # ints stay ints


def test_migrates_to_pgvector_as_a_vecbridge_collection_with_every_record_equal(
    chroma_url: str, pgvector_url: str, native_collection: str, tmp_path: Path
) -> None:
    collection = chroma_client(chroma_url).get_collection(native_collection)
    before = chroma_state(collection)
    target = f"from_chroma_{secrets.token_hex(3)}"
    output = cli(
        "migrate",
        chroma_url,
        pgvector_url,
        "--collection",
        native_collection,
        "--to-collection",
        target,
        "--verify",
        "full",
        "--checkpoint-dir",
        str(tmp_path),
        "--no-progress",
    )
    assert f"records {COUNT}/{COUNT} match" in output and "destination layout: vecbridge's own" in output
    try:
        assert_equal_to_chroma(asyncio.run(records_of(pgvector_url, target)), before)
    finally:
        asyncio.run(drop(pgvector_url, target))
    assert chroma_state(collection) == before  # reading never writes


def test_migrates_into_a_plain_pgvector_table_with_to_layout(
    chroma_url: str, pgvector_url: str, native_collection: str, tmp_path: Path
) -> None:
    collection = chroma_client(chroma_url).get_collection(native_collection)
    before = chroma_state(collection)
    table = f"chroma_copy_{secrets.token_hex(3)}"
    output = cli(
        "migrate",
        chroma_url,
        pgvector_url,
        "--collection",
        native_collection,
        "--to-collection",
        table,
        "--to-layout",
        json.dumps({"document": "content"}),
        "--verify",
        "full",
        "--checkpoint-dir",
        str(tmp_path),
        "--no-progress",
    )
    try:
        assert f"records {COUNT}/{COUNT} match" in output
        assert "(created in this shape)" in output
        with psycopg.connect(dsn_of(pgvector_url)) as connection:
            columns = connection.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s "
                "ORDER BY ordinal_position",
                (table,),
            ).fetchall()
            rows = connection.execute(
                sql.SQL("SELECT id, content, metadata FROM {} ORDER BY id").format(sql.Identifier(table))
            ).fetchall()
        assert columns == [("id", "text"), ("embedding", "USER-DEFINED"), ("content", "text"), ("metadata", "jsonb")]
        by_id = {row[0]: row for row in rows}  # a plain table, one row a record, read with plain SQL
        assert sorted(by_id) == sorted(before["ids"])
        for record_id, document, metadata in zip(before["ids"], before["documents"], before["metadatas"], strict=True):
            assert by_id[record_id][1:] == (document, metadata)
        assert_equal_to_chroma(asyncio.run(records_of(pgvector_url, table)), before)
    finally:
        with psycopg.connect(dsn_of(pgvector_url), autocommit=True) as connection:
            connection.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))
    assert chroma_state(collection) == before


async def drop(url: str, name: str) -> None:
    async with vb.connect(url) as store:
        await store.drop_collection(name, missing_ok=True)

"""The article's ``document_embeddings`` table, written with plain SQL, seen and migrated by the CLI.

On a real PostgreSQL + pgvector (fixture ``pgvector_url``), in a database of its own: ``vecbridge
info --json`` lists the table as native with its facts and fields; ``vecbridge migrate`` with
``--from-layout`` (document = content, namespace = tenant_id) copies every row to ``local://``,
``--verify full`` passes, a filtered top-10 on the copy equals exact SQL on the source, and the
source table, its indexes and the rest of the database are unchanged afterwards; and the copy,
migrated back with ``--to-layout``, fills an empty table of the application's own shape row for row.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import psycopg
import pytest
from click.testing import CliRunner
from psycopg import sql

import vecbridge as vb
from vecbridge.cli import main

ROWS = 150
DIMENSION = 64
TENANTS = ("acme", "globex", "initech")
DECLARED = {"document": "content", "namespace": "tenant_id"}

CREATE_TABLE = """
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE document_embeddings (
    id SERIAL PRIMARY KEY,
    tenant_id VARCHAR(255) NOT NULL,
    content TEXT NOT NULL,
    source_type VARCHAR(50),
    embedding vector(64),
    metadata JSONB DEFAULT '{}',
    created_at TIMESTAMPTZ DEFAULT NOW()
);
CREATE INDEX ON document_embeddings USING hnsw (embedding vector_cosine_ops);
CREATE INDEX ON document_embeddings (tenant_id);
"""

#: everything a read could change: tables, columns, indexes, extensions, schemas, comments, rows
SNAPSHOT = {
    "tables": "SELECT table_schema, table_name, table_type FROM information_schema.tables "
    "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2",
    "columns": "SELECT table_schema, table_name, column_name, data_type, column_default, is_nullable "
    "FROM information_schema.columns WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2, 3",
    "indexes": "SELECT schemaname, tablename, indexname, indexdef FROM pg_indexes "
    "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2, 3",
    "extensions": "SELECT extname, extversion FROM pg_extension ORDER BY 1",
    "schemas": "SELECT nspname FROM pg_namespace ORDER BY 1",  # a session's temporary schema included
    "comments": "SELECT objoid::regclass::text, objsubid, description FROM pg_description "
    "WHERE classoid = 'pg_class'::regclass ORDER BY 1, 2",
    "rows": "SELECT md5(string_agg(t::text, '|' ORDER BY id)) FROM document_embeddings t",
}


def dsn_of(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(("postgresql", parts.netloc, parts.path, "", ""))


def in_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, ""))


def snapshot(dsn: str) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(dsn) as connection:
        return {name: connection.execute(query).fetchall() for name, query in SNAPSHOT.items()}


def cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@contextmanager
def new_database(pgvector_url: str) -> Iterator[str]:
    """The URL of a fresh database on the server, dropped afterwards."""
    database = f"article_{secrets.token_hex(4)}"
    with psycopg.connect(dsn_of(pgvector_url), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    try:
        yield in_database(pgvector_url, database)
    finally:
        with psycopg.connect(dsn_of(pgvector_url), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(database)))


@pytest.fixture(scope="module")
def article_url(pgvector_url: str) -> Iterator[str]:
    """A database of its own holding only ``document_embeddings``, ROWS rows written with plain SQL."""
    with new_database(pgvector_url) as url:
        write_article_rows(url)
        yield url


def write_article_rows(url: str) -> None:
    rng = np.random.default_rng(64)
    start = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)
    with psycopg.connect(dsn_of(url)) as connection:
        connection.execute(CREATE_TABLE)
        for i in range(ROWS):
            vector = "[" + ",".join(f"{x:.6f}" for x in rng.standard_normal(DIMENSION)) + "]"
            metadata: dict[str, Any] = {"page": i % 17, "lang": ("en", "de")[i % 2], "section": {"h1": f"s{i % 5}"}}
            if i % 7 == 0:
                metadata["reviewed"] = None
            connection.execute(
                "INSERT INTO document_embeddings (tenant_id, content, source_type, embedding, metadata, created_at) "
                "VALUES (%s, %s, %s, %s::vector, %s::jsonb, %s)",
                (
                    TENANTS[i % 3],
                    f"chunk {i}: how to configure feature {i % 11}",
                    ("pdf", "web", "faq")[i % 3 if i % 2 else 0],
                    vector,
                    json.dumps(metadata),
                    start + dt.timedelta(minutes=i),
                ),
            )


def test_info_json_lists_the_plain_table_as_native_with_its_facts_and_fields(article_url: str) -> None:
    before = snapshot(dsn_of(article_url))
    data = json.loads(cli("info", article_url, "--json"))
    entry = {e["name"]: e for e in data["collections"]}["document_embeddings"]
    assert entry["native"] is True
    assert (entry["dimension"], entry["metric"], entry["records"]) == (DIMENSION, "cosine", ROWS)
    roles = {field["name"]: (field["type"], field["role"]) for field in entry["fields"]}
    assert roles == {
        "id": ("integer", "id"),
        "tenant_id": ("character varying(255)", "metadata"),
        "content": ("text", "document"),
        "source_type": ("character varying(50)", "metadata"),
        "embedding": (f"vector({DIMENSION})", "vector"),
        "metadata": ("jsonb", "metadata keys"),
        "created_at": ("timestamp with time zone", "metadata"),
    }
    notes = {field["name"]: field["note"] for field in entry["fields"]}
    assert notes["created_at"] == "converted: ISO-8601 string; NULL: the key is absent"
    assert notes["source_type"] == "NULL: the key is absent" and notes["tenant_id"] == ""  # NOT NULL
    assert notes["metadata"].endswith("; a JSON null: the key is absent")
    assert entry["unfit"] == [] and entry["problem"] is None
    assert snapshot(dsn_of(article_url)) == before


def test_migrate_with_from_layout_copies_every_row_verifies_and_answers_like_exact_sql(
    article_url: str, tmp_path: Path
) -> None:
    dsn = dsn_of(article_url)
    before = snapshot(dsn)
    destination = f"local://{tmp_path / 'copy'}"
    output = cli(
        "migrate",
        article_url,
        destination,
        "--collection",
        "document_embeddings",
        "--from-layout",
        json.dumps(DECLARED),
        "--verify",
        "full",
        "--checkpoint-dir",
        str(tmp_path / "ck"),
        "--no-progress",
    )
    assert f"records {ROWS}/{ROWS} match" in output and "migration succeeded" in output
    assert snapshot(dsn) == before

    query = np.random.default_rng(5).standard_normal(DIMENSION)
    literal = "[" + ",".join(f"{x:.6f}" for x in query) + "]"
    with psycopg.connect(dsn) as connection:
        exact = connection.execute(
            "SELECT id::text, 1 - (embedding <=> %s::vector) FROM document_embeddings "
            "WHERE tenant_id = 'globex' AND source_type = 'pdf' AND (metadata->>'page')::int >= 3 "
            "ORDER BY (embedding <=> %s::vector) + 0, id LIMIT 10",
            (literal, literal),
        ).fetchall()

    async def copy_top10() -> list[vb.Match]:
        async with vb.connect(destination) as store:
            copied = store.collection("document_embeddings", namespace="globex")
            return await copied.query(query, top_k=10, filter={"source_type": "pdf", "page": {"$gte": 3}})

    import asyncio

    matches = asyncio.run(copy_top10())
    assert len(exact) == 10
    assert [m.id for m in matches] == [row[0] for row in exact]
    np.testing.assert_allclose([m.score for m in matches], [row[1] for row in exact], atol=1e-5)
    first = matches[0]
    assert first.document is not None and first.document.startswith("chunk ")
    assert isinstance(first.metadata["created_at"], str) and first.metadata["created_at"].startswith("2026-03-01T")
    assert json.loads(str(first.metadata["section"])).keys() == {"h1"}
    assert "reviewed" not in {k for m in matches for k in m.metadata}  # JSON null: the key is absent


def test_the_copy_fills_an_empty_table_of_the_application_s_shape_with_to_layout(
    article_url: str, pgvector_url: str, tmp_path: Path
) -> None:
    copy = f"local://{tmp_path / 'copy'}"
    common = ["--verify", "full", "--checkpoint-dir", str(tmp_path / "ck"), "--no-progress"]
    cli(
        "migrate",
        article_url,
        copy,
        "--collection",
        "document_embeddings",
        "--from-layout",
        json.dumps(DECLARED),
        *common,
    )
    rows = "SELECT id, tenant_id, content, source_type, embedding::text, created_at, metadata FROM document_embeddings"
    with new_database(pgvector_url) as url:
        with psycopg.connect(dsn_of(url)) as connection:
            connection.execute(CREATE_TABLE)
        output = cli(
            "migrate", copy, url, "--collection", "document_embeddings", "--to-layout", json.dumps(DECLARED), *common
        )
        assert "(exists, 0 records)" in output and f"records {ROWS}/{ROWS} match" in output
        with psycopg.connect(dsn_of(url)) as connection:
            refilled = {row[0]: row for row in connection.execute(rows).fetchall()}
    with psycopg.connect(dsn_of(article_url)) as connection:
        original = {row[0]: row for row in connection.execute(rows).fetchall()}
    assert refilled.keys() == original.keys()
    for key, row in original.items():
        assert refilled[key][:6] == row[:6]  # the same columns, timestamps back in timestamptz
        # the documented conversions are one way: a JSON null is gone, a nested object is its JSON text
        metadata = {k: json.dumps(v, separators=(",", ":")) if isinstance(v, dict) else v for k, v in row[6].items()}
        assert refilled[key][6] == {k: v for k, v in metadata.items() if v is not None}


def test_to_layout_creates_a_document_column_unless_told_otherwise_and_documents_travel_both_ways(
    article_url: str, pgvector_url: str, tmp_path: Path
) -> None:
    """A plain layout that does not mention the document still creates a ``document`` text column:
    the source's documents are copied into it and read back from it. A layout without a namespace
    field for a source with several namespaces is refused by the plan, naming the option."""
    copy = f"local://{tmp_path / 'copy'}"
    common = ["--verify", "full", "--checkpoint-dir", str(tmp_path / "ck"), "--no-progress"]
    cli(
        "migrate",
        article_url,
        copy,
        "--collection",
        "document_embeddings",
        "--from-layout",
        json.dumps(DECLARED),
        *common,
    )
    with new_database(pgvector_url) as url:
        refused = CliRunner().invoke(
            main, ["migrate", copy, url, "--collection", "document_embeddings", "--to-layout", "native", *common]
        )
        assert refused.exit_code != 0 and "[destination_namespaces]" in refused.output
        assert '--to-layout \'{"namespace": "tenant_id"}\'' in refused.output
        layout = json.dumps({"namespace": "tenant_id"})
        output = cli("migrate", copy, url, "--collection", "document_embeddings", "--to-layout", layout, *common)
        assert "(created in this shape)" in output and f"records {ROWS}/{ROWS} match" in output
        with psycopg.connect(dsn_of(url)) as connection:
            columns = connection.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = 'document_embeddings' ORDER BY ordinal_position"
            ).fetchall()
            documents = connection.execute("SELECT count(*) FROM document_embeddings WHERE document LIKE 'chunk %'")
            assert documents.fetchone() == (ROWS,)
        assert ("document", "text") in columns
        back = f"local://{tmp_path / 'back'}"
        output = cli("migrate", url, back, "--collection", "document_embeddings", "--from-layout", layout, *common)
        assert f"records {ROWS}/{ROWS} match" in output

    async def documents(destination: str) -> dict[str, str | None]:
        async with vb.connect(destination) as store:
            found: dict[str, str | None] = {}
            for namespace in TENANTS:
                collection = store.collection("document_embeddings", namespace=namespace)
                async for page in collection.scan(page_size=100):
                    found.update((r.id, r.document) for r in page.records)
            return found

    import asyncio

    copied = asyncio.run(documents(back))
    assert len(copied) == ROWS and all(str(d).startswith("chunk ") for d in copied.values())

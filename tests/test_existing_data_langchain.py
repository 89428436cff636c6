"""An app on LangChain + Chroma moves to LangChain + pgvector (and back) with ``vecbridge migrate`` and the presets.

Documents are written by the real ``langchain_chroma.Chroma`` (or ``langchain_postgres.PGVector``),
copied with ``--from-layout langchain --to-layout langchain``, and the other framework's own
``similarity_search(query, k, filter)`` on the copy returns the same documents and metadata as the
original store did.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import chromadb
import psycopg
import pytest
from click.testing import CliRunner
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from psycopg import sql

from vecbridge.cli import main

EMBEDDINGS = DeterministicFakeEmbedding(size=16)
DOCUMENTS = [
    Document(
        page_content=f"{topic} question {i}: what to do when {topic} fails",
        metadata={"category": topic, "rank": i, "score": i / 8, "official": i % 2 == 0},
    )
    for i, topic in enumerate(["billing", "shipping", "account", "billing", "shipping", "billing"] * 4)
]
QUERIES = [("billing fails", {"category": "billing"}), ("how do I ship", {"category": "shipping"}), ("help", None)]


def chroma_client(url: str) -> Any:
    parts = urlsplit(url)
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    return chromadb.HttpClient(host=parts.hostname or "127.0.0.1", port=parts.port or 8000)


def sqlalchemy_url(pgvector_url: str) -> str:
    parts = urlsplit(pgvector_url)
    return f"postgresql+psycopg://{parts.netloc}{parts.path}"


def langchain_chroma(url: str, name: str) -> Any:
    from langchain_chroma import Chroma

    return Chroma(
        collection_name=name,
        client=chroma_client(url),
        embedding_function=EMBEDDINGS,
        collection_configuration={"hnsw": {"space": "cosine"}},
    )


def langchain_pgvector(url: str, name: str) -> Any:
    from langchain_postgres import PGVector

    return PGVector(embeddings=EMBEDDINGS, collection_name=name, connection=sqlalchemy_url(url), use_jsonb=True)


def answers(store: Any) -> list[list[tuple[str, dict[str, Any]]]]:
    return [
        [(doc.page_content, doc.metadata) for doc in store.similarity_search(query, k=4, filter=filter_)]
        for query, filter_ in QUERIES
    ]


def migrate(source: str, destination: str, collection: str, checkpoints: Path) -> str:
    result = CliRunner().invoke(
        main,
        [
            "migrate",
            source,
            destination,
            "--collection",
            collection,
            "--from-layout",
            "langchain",
            "--to-layout",
            "langchain",
            "--verify",
            "full",
            "--checkpoint-dir",
            str(checkpoints),
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(
    params=[
        pytest.param(False, id="langchain-never-ran"),
        pytest.param(True, id="langchain-tables-exist"),
    ]
)
def new_database_url(pgvector_url: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A database of its own: one where LangChain never ran (the app moves to pgvector for the first
    time), or one where langchain-postgres already made its tables for another collection."""
    database = f"lc_{secrets.token_hex(4)}"
    dsn = urlunsplit(("postgresql", *urlsplit(pgvector_url)[1:3], "", ""))
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    parts = urlsplit(pgvector_url)
    url = urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, ""))
    if request.param:
        langchain_pgvector(url, "another_app")
    yield url
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(database)))


def test_langchain_chroma_documents_migrate_to_langchain_pgvector(
    chroma_url: str, new_database_url: str, tmp_path: Path
) -> None:
    pgvector_url = new_database_url
    name = f"lc_chroma_{secrets.token_hex(3)}"
    chroma = langchain_chroma(chroma_url, name)
    chroma.add_documents(DOCUMENTS)
    expected = answers(chroma)
    output = migrate(chroma_url, pgvector_url, name, tmp_path)
    assert f"records {len(DOCUMENTS)}/{len(DOCUMENTS)} match" in output
    pgvector = langchain_pgvector(pgvector_url, name)
    try:
        assert answers(pgvector) == expected
        assert all(len(hits) == 4 for hits in expected)
    finally:
        pgvector.delete_collection()
        chroma_client(chroma_url).delete_collection(name)


def test_langchain_pgvector_documents_migrate_to_langchain_chroma(
    chroma_url: str, pgvector_url: str, tmp_path: Path
) -> None:
    name = f"lc_pg_{secrets.token_hex(3)}"
    pgvector = langchain_pgvector(pgvector_url, name)
    pgvector.add_documents(DOCUMENTS)
    expected = answers(pgvector)
    output = migrate(pgvector_url, chroma_url, name, tmp_path)
    assert f"records {len(DOCUMENTS)}/{len(DOCUMENTS)} match" in output
    try:
        assert answers(langchain_chroma(chroma_url, name)) == expected
    finally:
        pgvector.delete_collection()
        chroma_client(chroma_url).delete_collection(name)


def test_the_plan_names_both_presets(chroma_url: str, pgvector_url: str, tmp_path: Path) -> None:
    name = f"lc_plan_{secrets.token_hex(3)}"
    chroma = langchain_chroma(chroma_url, name)
    chroma.add_documents(DOCUMENTS[:3])
    try:
        result = CliRunner().invoke(
            main,
            [
                "migrate",
                chroma_url,
                pgvector_url,
                "--collection",
                name,
                "--from-layout",
                "langchain",
                "--to-layout",
                json.dumps({"preset": "langchain"}),
                "--dry-run",
                "--checkpoint-dir",
                str(tmp_path),
            ],
        )
        assert result.exit_code == 0, result.output
        assert "source layout: preset langchain" in result.output
        assert "destination layout: preset langchain" in result.output and "(created in this shape)" in result.output
    finally:
        chroma_client(chroma_url).delete_collection(name)

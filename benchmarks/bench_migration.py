"""Migration rate between two real engines vs the native limit, and peak memory of a large migration.

    python benchmarks/bench_migration.py [--count 100000] [--dimension 384] [--memory-count 200000]

In one run, against real servers started here (PostgreSQL + pgvector, ``chroma run``):

1. the *native limit*: the source's native scan rate (psycopg, server-side cursor over the table,
   vectors parsed to numpy) and the destination's native bulk-write rate (chromadb ``AsyncHttpClient``,
   ``collection.add`` in batches of the server's maximum size), both on the same data; the limit is
   the slower of the two;
2. ``vb.migrate`` pgvector -> Chroma of the same collection, with ``verify="sample"`` (counts, 1,000
   record digests, 20 top-10 queries), its copy rate and its total time including verification;
3. peak memory (``ru_maxrss`` of the ``vecbridge migrate`` subprocess) migrating ``--memory-count``
   records pgvector -> pgvector with ``--verify count``.

Prints a markdown section for ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from harness import clustered_vectors

import vecbridge as vb
from vecbridge.migrate import migrate

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from servers.chroma import start_chroma, stop_chroma  # noqa: E402
from servers.pgvector import dsn_to_url, start_postgres, stop_postgres  # noqa: E402


def metadata_for(i: int) -> dict[str, Any]:
    return {"i": i, "group": f"g{i % 50}", "x": i / 7, "on": i % 2 == 0}


async def load(url: str, name: str, count: int, dimension: int, seed: int) -> None:
    async with vb.connect(url) as store:
        docs = await store.create_collection(name, dimension, "cosine", embedding_model="bench-384")
        chunk = 20_000
        for start in range(0, count, chunk):
            vectors = clustered_vectors(min(chunk, count - start), dimension, seed=seed + start)
            await docs.upsert(
                vb.Record(id=f"doc-{start + j}", vector=vectors[j], metadata=metadata_for(start + j), document=f"d{j}")
                for j in range(len(vectors))
            )


def native_pg_scan(dsn: str, table: str) -> tuple[int, float]:
    import psycopg
    from pgvector.psycopg import register_vector

    started = time.perf_counter()
    rows = 0
    with psycopg.connect(dsn) as conn:
        register_vector(conn)
        with conn.cursor(name="bench_scan") as cursor:
            cursor.itersize = 1000
            cursor.execute(f'SELECT namespace, id, embedding, metadata, document FROM public."{table}"')
            while batch := cursor.fetchmany(1000):
                for row in batch:
                    vector = row[2]
                    np.asarray(vector.to_numpy() if hasattr(vector, "to_numpy") else vector, dtype=np.float32)
                rows += len(batch)
    return rows, time.perf_counter() - started


async def native_chroma_write(port: int, count: int, dimension: int, seed: int) -> tuple[int, float]:
    import chromadb

    client = await chromadb.AsyncHttpClient(host="127.0.0.1", port=port)
    collection = await client.create_collection(
        "native_bench", embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
    )
    batch = min(await client.get_max_batch_size(), 5000)
    vectors_all = [clustered_vectors(min(20_000, count - s), dimension, seed=seed + s) for s in range(0, count, 20_000)]
    vectors = np.concatenate(vectors_all)
    started = time.perf_counter()
    for start in range(0, count, batch):
        stop = min(start + batch, count)
        await collection.add(
            ids=[f"doc-{i}" for i in range(start, stop)],
            embeddings=vectors[start:stop],
            metadatas=[metadata_for(i) for i in range(start, stop)],
            documents=[f"d{i}" for i in range(start, stop)],
        )
    elapsed = time.perf_counter() - started
    await client.delete_collection("native_bench")
    return count, elapsed


def peak_memory_of_migration(src_url: str, dst_url: str, name: str) -> tuple[float, float, dict[str, Any]]:
    """Run ``vecbridge migrate`` as a subprocess; returns (peak RSS MB, seconds, report)."""
    with tempfile.TemporaryDirectory() as work:
        report_path = Path(work) / "report.json"
        command = [
            sys.executable,
            "-c",
            "from vecbridge.cli import main; main()",
            "migrate",
            src_url,
            dst_url,
            "--collection",
            name,
            "--to-collection",
            name + "_copy",
            "--verify",
            "count",
            "--checkpoint-dir",
            work,
            "--no-progress",
            "--report",
            str(report_path),
        ]
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        elapsed = time.perf_counter() - started
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        if peak_kb <= before:
            raise RuntimeError("ru_maxrss of the children did not grow: an earlier child was bigger")
        return peak_kb / 1024, elapsed, json.loads(report_path.read_text())


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--dimension", type=int, default=384)
    parser.add_argument("--memory-count", type=int, default=200_000)
    args = parser.parse_args()

    dsn, pg_data = start_postgres()
    chroma_process, chroma_port, chroma_data = start_chroma()
    pg_url, chroma_url = dsn_to_url(dsn), f"chroma://127.0.0.1:{chroma_port}"
    lines: list[str] = []
    try:
        # the big-memory run goes first, so that no earlier child's ru_maxrss can mask it
        if args.memory_count:
            await load(pg_url, "bench_mem", args.memory_count, args.dimension, seed=100)
            peak_mb, seconds, mem_report = peak_memory_of_migration(pg_url, pg_url, "bench_mem")
            print(f"peak memory: {peak_mb:.0f} MB, {seconds:.1f} s, succeeded={mem_report['succeeded']}", flush=True)

        await load(pg_url, "bench_src", args.count, args.dimension, seed=0)
        scanned, scan_seconds = native_pg_scan(dsn, "vb_bench_src")
        assert scanned == args.count
        written, write_seconds = await native_chroma_write(chroma_port, args.count, args.dimension, seed=0)
        scan_rate, write_rate = scanned / scan_seconds, written / write_seconds
        print(f"native scan {scan_rate:,.0f}/s, native write {write_rate:,.0f}/s", flush=True)
        limit = min(scan_rate, write_rate)

        async with vb.connect(pg_url) as source, vb.connect(chroma_url) as destination:
            with tempfile.TemporaryDirectory() as checkpoints:
                started = time.perf_counter()
                report = await migrate(
                    source.collection("bench_src"),
                    destination.collection("bench_dst"),
                    verify_mode="sample",
                    checkpoint_dir=checkpoints,
                )
                total_seconds = time.perf_counter() - started
            verification = report.verification
            assert verification is not None
            print(json.dumps(report.to_dict()["verification"])[:2000], flush=True)
            await destination.drop_collection("bench_dst")

        ratio = report.rate / limit
        end_to_end = args.count / total_seconds
        lines += [
            f"## Migration: {args.count:,} x {args.dimension} pgvector -> Chroma, one run",
            "",
            "| path | records/s | seconds |",
            "|---|---|---|",
            f"| native source scan (psycopg server-side cursor, vectors to numpy) | {scan_rate:,.0f} | {scan_seconds:.1f} |",
            f"| native destination bulk write (chromadb `add`, batches of the server maximum) | {write_rate:,.0f} | {write_seconds:.1f} |",
            f"| **native limit** (slower of the two) | **{limit:,.0f}** | |",
            f"| `vb.migrate` copy phase | {report.rate:,.0f} | {report.copy_seconds:.1f} |",
            f"| `vb.migrate` end to end incl. plan and `verify=sample` | {end_to_end:,.0f} | {total_seconds:.1f} |",
            "",
            f"**copy rate / native limit: {ratio:.2f}** (target >= 0.7). End to end with verification: "
            f"{end_to_end / limit:.2f}x of the limit. Verification compared "
            f"{verification.records_checked} records and {verification.queries_checked} top-10 queries "
            f"(mean top-10 id agreement between the two HNSW indexes: {verification.query_agreement or 0:.0%}): "
            f"{len(verification.mismatches)} mismatches; run {'succeeded' if report.succeeded else 'FAILED'}.",
            "",
        ]
        if args.memory_count:
            lines += [
                f"## Migration peak memory: {args.memory_count:,} x {args.dimension} pgvector -> pgvector",
                "",
                f"`vecbridge migrate ... --verify count` as a subprocess: **peak RSS {peak_mb:.0f} MB** "
                f"(`ru_maxrss`; target < 400 MB), {seconds:.1f} s, "
                f"{mem_report['copied_this_run']:,} records copied, verification "
                f"{'ok' if mem_report['verification']['ok'] else 'FAILED'}. The bounded pipeline holds at most "
                "(2 x writers + writers + 1) pages of up to 5,000 records, whatever the collection size.",
                "",
            ]
    finally:
        stop_chroma(chroma_process, chroma_data)
        stop_postgres(pg_data)
    text = "\n".join(lines)
    print(text)
    output = os.environ.get("BENCH_OUTPUT")
    if output:
        Path(output).write_text(text + "\n")


if __name__ == "__main__":
    asyncio.run(main())

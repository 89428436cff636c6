"""Chroma: bulk upsert and top-10 query latency through vecbridge vs the native chromadb client.

    python benchmarks/bench_chroma.py [--count 100000] [--dimension 384] [--url chroma://127.0.0.1:8000]

Without ``--url`` a ``chroma run`` server is started on a free port (as the tests do) and stopped
at the end; ``--url chroma:///dir`` measures embedded Chroma instead. Both sides load the same
Gaussian-mixture vectors with the same metadata into two fresh collections, in batches of the
server's maximum batch size (the native side upserts its batches one after another, as a script
would; vecbridge uses its defaults), then answer the same queries with metadata and documents.
Targets (issue 4): upsert throughput >= 0.9x native, query overhead <= 10 %.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from harness import Timing, clustered_vectors, report, time_async

import vecbridge as vb
from vecbridge.url import URL

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from servers.chroma import start_chroma, stop_chroma  # noqa: E402


def metadata_of(i: int) -> dict[str, Any]:
    return {"category": ("billing", "shipping", "account", "other")[i % 4], "year": 2000 + i % 27, "score": i / 1000}


async def native_collection(url: URL, name: str) -> tuple[Any, bool]:
    import chromadb
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False)
    if url.host:
        client = await chromadb.AsyncHttpClient(host=url.host, port=url.port or 8000, settings=settings)
        return client, False
    return chromadb.PersistentClient(path=url.path, settings=settings), True


async def call(embedded: bool, method: Any, *args: Any, **kwargs: Any) -> Any:
    if embedded:
        return await asyncio.to_thread(method, *args, **kwargs)
    return await method(*args, **kwargs)


async def run(url_text: str, count: int, dimension: int, repeat: int) -> str:
    url = URL.parse(url_text)
    vectors = clustered_vectors(count, dimension, seed=1)
    queries = clustered_vectors(64, dimension, seed=2)
    ids = [f"doc-{i}" for i in range(count)]
    metadatas = [metadata_of(i) for i in range(count)]
    documents = [f"text of document {i}" for i in range(count)]
    client, embedded = await native_collection(url, "bench")
    batch = int(await call(embedded, client.get_max_batch_size))
    sections = [f"## Chroma ({'embedded' if embedded else 'server'}): {count:,} x {dimension}, batch {batch}", ""]

    native = await call(
        embedded, client.create_collection, "bench_native", embedding_function=None,
        configuration={"hnsw": {"space": "cosine", "max_neighbors": 16, "ef_construction": 128, "ef_search": 128}},
    )
    start = time.perf_counter()
    for low in range(0, count, batch):
        high = min(count, low + batch)
        await call(
            embedded, native.upsert, ids=ids[low:high], embeddings=vectors[low:high],
            metadatas=metadatas[low:high], documents=documents[low:high],
        )
    native_upsert = time.perf_counter() - start

    async with vb.connect(url_text) as store:
        collection = await store.create_collection("bench_vecbridge", dimension, "cosine")
        records = [vb.Record(ids[i], vectors[i], metadatas[i], documents[i]) for i in range(count)]
        start = time.perf_counter()
        await collection.upsert(records)
        ours_upsert = time.perf_counter() - start
        assert await collection.count() == count

        lines = [
            "### bulk upsert",
            "",
            "| path | seconds | records/s |",
            "|---|---|---|",
            f"| vecbridge | {ours_upsert:.1f} | {count / ours_upsert:,.0f} |",
            f"| native chromadb | {native_upsert:.1f} | {count / native_upsert:,.0f} |",
            "",
            f"**throughput ratio vecbridge / native: {native_upsert / ours_upsert:.3f}** (target: >= 0.9)",
            "",
        ]
        print("\n".join(lines))
        sections.append("\n".join(lines))

        next_ours = itertools.cycle(queries).__next__
        next_native = itertools.cycle(queries).__next__

        async def through_vecbridge() -> object:
            return await collection.query(next_ours(), top_k=10)

        async def through_native() -> object:
            return await call(
                embedded, native.query, query_embeddings=[next_native()], n_results=10,
                include=["metadatas", "documents", "distances"],
            )

        ours_samples: list[float] = []
        native_samples: list[float] = []
        for _ in range(repeat // 10):  # interleaved rounds, so drift in machine load hits both sides alike
            ours_samples += (await time_async("vecbridge", through_vecbridge, repeat=10, warmup=1)).samples
            native_samples += (await time_async("native", through_native, repeat=10, warmup=1)).samples
        sections.append(
            report(
                "top-10 query latency (metadata and documents included)",
                Timing("vecbridge", ours_samples),
                Timing("native chromadb", native_samples),
                target="<= 1.10",
            )
        )
        await store.drop_collection("bench_vecbridge")
    await call(embedded, client.delete_collection, "bench_native")
    return "\n".join(sections)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", help="chroma://HOST:PORT or chroma:///dir; default: start a chroma run server")
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--dimension", type=int, default=384)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    if args.url:
        print(await run(args.url, args.count, args.dimension, args.repeat))
        return
    process, port, data = start_chroma()
    try:
        print(await run(f"chroma://127.0.0.1:{port}", args.count, args.dimension, args.repeat))
    finally:
        stop_chroma(process, data)


if __name__ == "__main__":
    asyncio.run(main())

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
from harness import Timing, clustered_vectors, report

import vecbridge as vb
from vecbridge.url import URL

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from servers.chroma import start_chroma, stop_chroma


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


def chromadb_version() -> str:
    import chromadb

    return str(chromadb.__version__)


async def call(embedded: bool, method: Any, *args: Any, **kwargs: Any) -> Any:
    if embedded:
        return await asyncio.to_thread(method, *args, **kwargs)
    return await method(*args, **kwargs)


async def run(url_text: str, count: int, dimension: int, repeat: int, rounds: int) -> str:
    url = URL.parse(url_text)
    vectors = clustered_vectors(count, dimension, seed=1)
    queries = clustered_vectors(64, dimension, seed=2)
    ids = [f"doc-{i}" for i in range(count)]
    metadatas = [metadata_of(i) for i in range(count)]
    documents = [f"text of document {i}" for i in range(count)]
    client, embedded = await native_collection(url, "bench")
    batch = int(await call(embedded, client.get_max_batch_size))
    sections = [
        f"## Chroma {chromadb_version()} ({'embedded' if embedded else 'server'}): {count:,} x {dimension}, "
        f"batch {batch}",
        "",
    ]

    async def load_native(name: str) -> tuple[Any, float]:
        collection = await call(
            embedded,
            client.create_collection,
            name,
            embedding_function=None,
            configuration={"hnsw": {"space": "cosine", "max_neighbors": 16, "ef_construction": 128, "ef_search": 128}},
        )
        start = time.perf_counter()
        for low in range(0, count, batch):
            high = min(count, low + batch)
            await call(
                embedded,
                collection.upsert,
                ids=ids[low:high],
                embeddings=vectors[low:high],
                metadatas=metadatas[low:high],
                documents=documents[low:high],
            )
        return collection, time.perf_counter() - start

    async def load_vecbridge(store: vb.Store, name: str) -> tuple[vb.Collection, float]:
        collection = await store.create_collection(name, dimension, "cosine")
        start = time.perf_counter()  # building the records is the caller's work, validating them is ours
        await collection.upsert(vb.Record(ids[i], vectors[i], metadatas[i], documents[i]) for i in range(count))
        elapsed = time.perf_counter() - start
        assert await collection.count() == count
        return collection, elapsed

    async with vb.connect(url_text) as store:
        # rounds in the order native, vecbridge, vecbridge, native... so load drift hits both sides alike
        native_times: list[float] = []
        ours_times: list[float] = []
        native = collection = None
        for round_ in range(rounds):
            for side in ("native", "vecbridge") if round_ % 2 == 0 else ("vecbridge", "native"):
                if side == "native":
                    if native is not None:
                        await call(embedded, client.delete_collection, native.name)
                    native, seconds = await load_native(f"bench_native_{round_}")
                    native_times.append(seconds)
                else:
                    if collection is not None:
                        await store.drop_collection(collection.name)
                    collection, seconds = await load_vecbridge(store, f"bench_vecbridge_{round_}")
                    ours_times.append(seconds)
        assert native is not None and collection is not None
        native_upsert = sum(native_times) / len(native_times)
        ours_upsert = sum(ours_times) / len(ours_times)

        lines = [
            "### bulk upsert",
            "",
            "| path | seconds | records/s |",
            "|---|---|---|",
            f"| vecbridge | {ours_upsert:.1f} (runs: {', '.join(f'{t:.1f}' for t in ours_times)}) "
            f"| {count / ours_upsert:,.0f} |",
            f"| native chromadb | {native_upsert:.1f} (runs: {', '.join(f'{t:.1f}' for t in native_times)}) "
            f"| {count / native_upsert:,.0f} |",
            "",
            f"**throughput ratio vecbridge / native: {native_upsert / ours_upsert:.3f}** (target: >= 0.9)",
            "",
        ]
        print("\n".join(lines))
        sections.append("\n".join(lines))

        same = await call(embedded, client.get_collection, collection.name, embedding_function=None)
        cycles = {side: itertools.cycle(queries).__next__ for side in ("vecbridge", "same", "native")}

        inside_chromadb: dict[str, list[float]] = {"vecbridge": []}
        adapter_collection = store.adapter._collections[collection.name]  # type: ignore[attr-defined]
        chromadb_query = adapter_collection.query

        async def timed_query(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return await chromadb_query(*args, **kwargs)
            finally:
                inside_chromadb["vecbridge"].append(time.perf_counter() - start)

        if not embedded:  # the adapter's cached chromadb collection, timed from inside
            adapter_collection.query = timed_query

        async def through_vecbridge() -> object:
            return await collection.query(cycles["vecbridge"](), top_k=10)

        def through_client(chroma: Any, side: str) -> Any:
            async def query() -> object:
                return await call(
                    embedded,
                    chroma.query,
                    query_embeddings=[cycles[side]()],
                    n_results=10,
                    include=["metadatas", "documents", "distances"],
                )

            return query

        samples: dict[str, list[float]] = {"vecbridge": [], "same": [], "native": []}
        operations = {
            "vecbridge": through_vecbridge,
            "same": through_client(same, "same"),
            "native": through_client(native, "native"),
        }
        for operation in operations.values():
            for _ in range(5):
                await operation()
        order = list(operations)
        inside_chromadb["vecbridge"].clear()
        for i in range(repeat):  # one call per side in turn, rotating, so load drift hits every side alike
            for side in order[i % 3 :] + order[: i % 3]:
                start = time.perf_counter()
                await operations[side]()
                samples[side].append(time.perf_counter() - start)
        own = [total - inside for total, inside in zip(samples["vecbridge"], inside_chromadb["vecbridge"], strict=True)]
        own_ms = float(np.median(own)) * 1000
        median_same = float(np.median(samples["same"])) * 1000
        lines = [
            "### top-10 query: time vecbridge spends outside chromadb",
            "",
            f"Measured in-process around chromadb's own `query` call, per vecbridge query: median {own_ms:.3f} ms, "
            f"p95 {float(np.percentile(own, 95)) * 1000:.3f} ms; that is {own_ms / median_same:.1%} of the native "
            f"client's median query on the same collection ({median_same:.2f} ms) (target: <= 10 %).",
            "",
        ]
        print("\n".join(lines))
        sections.append("\n".join(lines))
        sections.append(
            report(
                "top-10 query, same Chroma collection: vecbridge vs the native client (vecbridge's own overhead)",
                Timing("vecbridge", samples["vecbridge"]),
                Timing("native chromadb, same collection", samples["same"]),
                target="<= 1.10",
            )
        )
        sections.append(
            report(
                "top-10 query, vecbridge vs the native client on a natively loaded collection "
                "(adds the cost of vecbridge's reserved metadata keys)",
                Timing("vecbridge", samples["vecbridge"]),
                Timing("native chromadb, native collection", samples["native"]),
                target="<= 1.10",
            )
        )
        await store.drop_collection(collection.name)
    await call(embedded, client.delete_collection, native.name)
    return "\n".join(sections)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", help="chroma://HOST:PORT or chroma:///dir; default: start a chroma run server")
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--dimension", type=int, default=384)
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2, help="bulk loads per side")
    args = parser.parse_args()
    if args.url:
        print(await run(args.url, args.count, args.dimension, args.repeat, args.rounds))
        return
    process, port, data = start_chroma()
    try:
        print(await run(f"chroma://127.0.0.1:{port}", args.count, args.dimension, args.repeat, args.rounds))
    finally:
        stop_chroma(process, data)


if __name__ == "__main__":
    asyncio.run(main())

"""Qdrant edge engine: bulk upsert and top-10 query latency through vecbridge vs the native qdrant-edge API.

    python benchmarks/bench_qdrant.py [--count 100000] [--dimension 384] [--repeat 200]

Both sides use ``qdrant-edge-py`` (the real Qdrant segment engine, embedded) in one process, in
fresh directories, with the same Gaussian-mixture vectors and metadata. The native side builds
``Point`` objects (vectors as lists, the bindings' fastest input) and calls ``EdgeShard.update``
batch after batch, as a script would; vecbridge
uses its defaults (validation, batches of ``max_batch``, worker threads). Queries are top-10 with
payload, ``exact=True`` on both sides (the adapter's search plan on edge). Targets (issue 5):
upsert throughput >= 0.9x native, query overhead <= 10 %.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import tempfile
import time
import uuid
from importlib.metadata import version
from pathlib import Path
from typing import Any

import qdrant_edge as edge
from harness import Timing, clustered_vectors, report, time_async, time_sync

import vecbridge as vb

BATCH = 2048


def metadata_of(i: int) -> dict[str, Any]:
    return {"category": ("billing", "shipping", "account", "other")[i % 4], "year": 2000 + i % 27, "score": i / 1000}


def load_native(path: Path, vectors: Any, ids: list[str], documents: list[str]) -> tuple[Any, float]:
    config = edge.EdgeConfig(vectors=edge.EdgeVectorParams(size=vectors.shape[1], distance=edge.Distance.Cosine))
    shard = edge.EdgeShard.create(str(path), config)
    start = time.perf_counter()
    for low in range(0, len(ids), BATCH):
        high = min(len(ids), low + BATCH)
        rows = vectors[low:high].tolist()  # the bindings convert lists faster than numpy rows
        points = [
            edge.Point(
                str(uuid.uuid5(uuid.NAMESPACE_URL, ids[i])), rows[i - low], {**metadata_of(i), "text": documents[i]}
            )
            for i in range(low, high)
        ]
        shard.update(edge.UpdateOperation.upsert_points(points))
    return shard, time.perf_counter() - start


async def run(count: int, dimension: int, repeat: int) -> str:
    vectors = clustered_vectors(count, dimension, seed=1)
    queries = clustered_vectors(64, dimension, seed=2)
    ids = [f"doc-{i}" for i in range(count)]
    documents = [f"text of document {i}" for i in range(count)]
    root = Path(tempfile.mkdtemp(prefix="bench-qdrant-"))
    sections = [
        f"## Qdrant edge engine (qdrant-edge-py {version('qdrant-edge-py')}): {count:,} x {dimension}, cosine",
        "",
    ]
    native, native_seconds = await asyncio.to_thread(load_native, root / "native", vectors, ids, documents)

    async with vb.connect(f"qdrant+edge://{root / 'vecbridge'}") as store:
        collection = await store.create_collection("bench", dimension, "cosine", index=vb.Flat())
        start = time.perf_counter()  # building the records is the caller's work, validating them is ours
        await collection.upsert(vb.Record(ids[i], vectors[i], metadata_of(i), documents[i]) for i in range(count))
        ours_seconds = time.perf_counter() - start
        assert await collection.count() == count
        lines = [
            "### bulk upsert (one run per side)",
            "",
            "| path | seconds | records/s |",
            "|---|---|---|",
            f"| vecbridge `qdrant+edge://` | {ours_seconds:.1f} | {count / ours_seconds:,.0f} |",
            f"| native `EdgeShard.update`, batches of {BATCH} | {native_seconds:.1f} | {count / native_seconds:,.0f} |",
            "",
            f"**throughput ratio vecbridge / native: {native_seconds / ours_seconds:.3f}** (target: >= 0.9)",
            "",
        ]
        print("\n".join(lines))
        sections.append("\n".join(lines))

        # the shard vecbridge loaded, queried natively with the request vecbridge sends (namespace filter
        # included): the difference is vecbridge's own overhead; the natively loaded shard adds the
        # cost of the reserved payload keys and the tenant filter
        same = store.adapter.transport.root.shard("bench")  # type: ignore[attr-defined]
        tenant = edge.Filter(must=[edge.FieldCondition("_vb_ns", match=edge.MatchValue("default"))])
        next_query = {side: itertools.cycle(queries).__next__ for side in ("vecbridge", "same", "native")}
        params = edge.SearchParams(exact=True)

        async def through_vecbridge() -> object:
            return await collection.query(next_query["vecbridge"](), top_k=10)

        def through_native(shard: Any, side: str, filter_: Any) -> Any:
            def query() -> object:
                request = edge.QueryRequest(
                    limit=10,
                    query=edge.Query.Nearest(next_query[side]().tolist()),
                    filter=filter_,
                    with_payload=True,
                    params=params,
                )
                return shard.query(request)

            return query

        samples: dict[str, list[float]] = {"vecbridge": [], "same": [], "native": []}
        same_query = through_native(same, "same", tenant)
        native_query = through_native(native, "native", None)
        for _ in range(max(1, repeat // 10)):  # interleaved rounds: load drift hits every side alike
            samples["vecbridge"] += (await time_async("vecbridge", through_vecbridge, repeat=10, warmup=1)).samples
            samples["same"] += time_sync("same", same_query, repeat=10, warmup=1).samples
            samples["native"] += time_sync("native", native_query, repeat=10, warmup=1).samples
        sections.append(
            report(
                "top-10 query with payload, exact search, same shard: vecbridge vs the native call it makes "
                "(vecbridge's own overhead)",
                Timing("vecbridge `qdrant+edge://`", samples["vecbridge"]),
                Timing("native `EdgeShard.query`, same shard and filter", samples["same"]),
                target="<= 1.10",
            )
        )
        sections.append(
            report(
                "top-10 query with payload, exact search: vecbridge vs native on a natively loaded shard (no filter)",
                Timing("vecbridge `qdrant+edge://`", samples["vecbridge"]),
                Timing("native `EdgeShard.query`, native shard", samples["native"]),
                target="<= 1.10",
            )
        )
        await store.drop_collection("bench")
    native.close()
    return "\n".join(sections)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--dimension", type=int, default=384)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    print(await run(args.count, args.dimension, args.repeat))


if __name__ == "__main__":
    asyncio.run(main())

"""Exact top-10 search in the reference engine vs a bare numpy matrix product + argpartition.

    python benchmarks/bench_reference.py [--count 100000] [--dimension 384]

Both sides search the same 100,000 x 384 float32 Gaussian-mixture vectors with the same queries,
in one process; the ratio of medians is what ``docs/benchmarks.md`` records (target <= 1.3).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools

import numpy as np
from harness import clustered_vectors, report, time_async, time_sync

import vecbridge as vb


async def bench_metric(metric: str, data: np.ndarray, queries: np.ndarray, repeat: int) -> None:
    async with vb.connect("memory://") as store:
        docs = await store.create_collection("bench", dimension=data.shape[1], metric=metric, index=vb.Flat())
        await docs.upsert([vb.Record(str(i), data[i]) for i in range(len(data))])
        matrix = data if metric == "dot" else data / np.linalg.norm(data, axis=1, keepdims=True)
        next_query = itertools.cycle(queries).__next__

        def native() -> np.ndarray:
            scores = matrix @ next_query()
            top = np.argpartition(-scores, 10)[:10]
            return top[np.argsort(-scores[top])]

        async def through_vecbridge() -> list[vb.Match]:
            return await docs.query(next_query(), top_k=10)

        hits = await docs.query(queries[0], top_k=10)
        expected = native()  # the cycle starts at queries[0] too
        assert [h.id for h in hits] == [str(i) for i in expected], "vecbridge and numpy disagree"
        ours = await time_async("vecbridge memory://", through_vecbridge, repeat=repeat)
        bare = time_sync("numpy matmul + argpartition", native, repeat=repeat)
        report(f"metric {metric}", ours, bare, target="<= 1.3")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--dimension", type=int, default=384)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    data = clustered_vectors(args.count, args.dimension, seed=1)
    queries = clustered_vectors(64, args.dimension, seed=2)
    print(f"## Reference engine: exact top-10 on {args.count:,} x {args.dimension} float32\n")
    for metric in ("dot", "cosine"):
        await bench_metric(metric, data, queries, args.repeat)


if __name__ == "__main__":
    asyncio.run(main())

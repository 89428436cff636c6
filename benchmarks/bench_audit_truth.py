"""The audit's ground-truth pass against a bare numpy chunked scan of the same vectors; its peak memory.

    python benchmarks/bench_audit_truth.py [--counts 100000,200000] [--dimension 384] [--queries 100] [--write]

The collection lives in the reference engine (``memory://``), so the pass's cost is vecbridge's
own: the scan's pages, one matrix product per page, the running top 10 of every query. The
baseline is the least a program can do for the same answer: the same float32 matrix (already in
memory, no scan) in chunks of the same 2,000 rows, one product per chunk and an ``argpartition``
top 10. Target: the pass within 1.5x of the baseline. Memory: the peak of what each allocates
while it runs (``tracemalloc``, which sees numpy's buffers; one extra run each, untimed), at each
count: a pass whose memory is bounded by the page size peaks at the same level whatever the count.
(The resident set cannot show it: the collection itself is resident, and freed pages are reused.)
Each side is timed three times, alternating, and the medians are compared. ``--write`` puts the
table into ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from harness import clustered_vectors

import vecbridge as vb
from vecbridge.audit import QuerySet
from vecbridge.audit.truth import PAGE_SIZE, exact_answers
from vecbridge.filters import MatchAll

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- bench_audit_truth:begin -->", "<!-- bench_audit_truth:end -->"
K = 10


@contextmanager
def peak_allocated() -> Iterator[Callable[[], int]]:
    """Peak bytes allocated inside the block (``tracemalloc``, which numpy reports its buffers to):
    what the block itself needs, whatever was resident before."""
    tracemalloc.start()
    try:
        yield lambda: tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def numpy_scan(vectors: np.ndarray, queries: np.ndarray) -> list[np.ndarray]:
    """Cosine top 10 of every query over ``vectors`` in chunks of ``PAGE_SIZE`` rows."""
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    best_scores = np.full((len(q), 0), -np.inf, dtype=np.float32)
    best_rows = np.empty((len(q), 0), dtype=np.int64)
    for start in range(0, len(vectors), PAGE_SIZE):
        chunk = vectors[start : start + PAGE_SIZE]
        scores = q @ (chunk / np.linalg.norm(chunk, axis=1, keepdims=True)).T
        rows = np.broadcast_to(np.arange(start, start + len(chunk)), scores.shape)
        all_scores = np.concatenate([best_scores, scores], axis=1)
        all_rows = np.concatenate([best_rows, rows], axis=1)
        top = np.argpartition(-all_scores, K - 1, axis=1)[:, :K]
        best_scores = np.take_along_axis(all_scores, top, axis=1)
        best_rows = np.take_along_axis(all_rows, top, axis=1)
    return [row[np.argsort(-score)] for row, score in zip(best_rows, best_scores, strict=True)]


async def measure(count: int, dimension: int, queries: int) -> dict[str, float]:
    vectors = clustered_vectors(count, dimension, seed=1)
    query_vectors = clustered_vectors(queries, dimension, seed=2)
    query_set = QuerySet(query_vectors, (None,) * queries, "benchmark")
    results: dict[str, list[float]] = {"pass_s": [], "numpy_s": [], "pass_peak_mb": [], "numpy_peak_mb": []}
    async with vb.connect("memory://") as store:
        docs = await store.create_collection("truth", dimension, "cosine", index=vb.Flat())
        for start in range(0, count, 10_000):
            await docs.upsert(
                [vb.Record(id=f"{i}", vector=vectors[i]) for i in range(start, min(count, start + 10_000))]
            )
        for _ in range(3):
            started = time.perf_counter()
            (exact,) = await exact_answers(docs, query_set, K, [MatchAll()])
            results["pass_s"].append(time.perf_counter() - started)
            started = time.perf_counter()
            baseline = numpy_scan(vectors, query_vectors)
            results["numpy_s"].append(time.perf_counter() - started)
        with peak_allocated() as peak:  # apart from the timed runs: tracing slows allocations
            await exact_answers(docs, query_set, K, [MatchAll()])
            results["pass_peak_mb"].append(peak() / 2**20)
        with peak_allocated() as peak:
            numpy_scan(vectors, query_vectors)
            results["numpy_peak_mb"].append(peak() / 2**20)
        agree = np.mean([set(map(int, e)) == set(b.tolist()) for e, b in zip(exact.ids, baseline, strict=True)])
    summary = {key: statistics.median(values) for key, values in results.items()}
    summary["agree"] = float(agree)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="100000,200000")
    parser.add_argument("--dimension", type=int, default=384)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    rows = []
    for count in (int(c) for c in args.counts.split(",")):
        s = asyncio.run(measure(count, args.dimension, args.queries))
        rows.append(
            f"| {count:,} | {s['pass_s']:.2f} s | {s['numpy_s']:.2f} s | {s['pass_s'] / s['numpy_s']:.2f}x "
            f"| {s['pass_peak_mb']:.0f} MB | {s['numpy_peak_mb']:.0f} MB | {s['agree']:.0%} |"
        )
        print(rows[-1], flush=True)
    table = "\n".join(
        [
            f"{args.queries} queries, top-10 cosine, {args.dimension}-d float32, pages of {PAGE_SIZE:,}; median of 3 "
            "alternating runs, one script run on a shared 2-core machine (indicative). Peak memory: the most "
            "each had allocated at once while it ran (tracemalloc), the collection itself not counted.",
            "",
            "| records | ground-truth pass | numpy chunked scan | ratio | pass peak memory | numpy peak memory "
            "| same top 10 |",
            "|---|---|---|---|---|---|---|",
            *rows,
        ]
    )
    print(table)
    if args.write:
        path = ROOT / "docs" / "benchmarks.md"
        text = path.read_text()
        heading = "## Audit: the ground-truth pass vs a numpy chunked scan (`benchmarks/bench_audit_truth.py`)"
        block = f"{BEGIN}\n{heading}\n\n{table}\n{END}"
        if BEGIN in text:
            text = re.sub(re.escape(BEGIN) + r".*?" + re.escape(END), lambda _: block, text, flags=re.S)
        else:
            text = text.rstrip("\n") + "\n\n" + block + "\n"
        path.write_text(text)


if __name__ == "__main__":
    main()

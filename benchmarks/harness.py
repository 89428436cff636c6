"""Time an operation through vecbridge and through a native client in the same run; print the ratio.

Every benchmark script in this folder uses these helpers so the numbers in ``docs/benchmarks.md``
are measured the same way: warm-up, then the median of repeated runs, both sides in one process.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import numpy as np


def clustered_vectors(
    count: int, dimension: int, *, clusters: int = 64, spread: float = 0.25, seed: int = 0
) -> np.ndarray:
    """A Gaussian mixture: realistic neighbourhoods, so recall and result sets mean something
    (plain isotropic Gaussian 384-d data makes every ANN index look broken)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(clusters, dimension)).astype(np.float32)
    labels = rng.integers(0, clusters, size=count)
    points = centers[labels] + spread * rng.normal(size=(count, dimension)).astype(np.float32)
    return points.astype(np.float32)


@dataclass
class Timing:
    name: str
    samples: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.samples, q))


def time_sync(name: str, operation: Callable[[], object], *, repeat: int = 20, warmup: int = 2) -> Timing:
    for _ in range(warmup):
        operation()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        operation()
        samples.append(time.perf_counter() - start)
    return Timing(name, samples)


async def time_async(
    name: str, operation: Callable[[], Awaitable[object]], *, repeat: int = 20, warmup: int = 2
) -> Timing:
    for _ in range(warmup):
        await operation()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        await operation()
        samples.append(time.perf_counter() - start)
    return Timing(name, samples)


def report(title: str, vecbridge: Timing, native: Timing, *, target: str) -> str:
    """One markdown table row set: medians, p95, and vecbridge/native ratio."""
    ratio = vecbridge.median / native.median
    lines = [
        f"### {title}",
        "",
        "| path | median | p50 | p95 | p99 |",
        "|---|---|---|---|---|",
    ]
    for timing in (vecbridge, native):
        lines.append(
            f"| {timing.name} | {timing.median * 1000:.2f} ms | {timing.percentile(50) * 1000:.2f} ms "
            f"| {timing.percentile(95) * 1000:.2f} ms | {timing.percentile(99) * 1000:.2f} ms |"
        )
    lines += ["", f"**ratio vecbridge / native (median): {ratio:.3f}** (target: {target})", ""]
    text = "\n".join(lines)
    print(text)
    return text


def run(main: Callable[[], Awaitable[object]]) -> None:
    asyncio.run(main())  # type: ignore[arg-type]

"""How a backend's answers compare with the exact ones, and how fast they come.

Recall counts ties fairly: a returned id whose exact score is at least the k-th exact score (within
float32 rounding) is a hit, so two records at the same distance never cost recall.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vecbridge.audit.queries import QuerySet
from vecbridge.audit.truth import ExactAnswers, score_matrix
from vecbridge.filters import Filter, FilterNode, evaluate
from vecbridge.store import Collection
from vecbridge.types import Match, Metric, SearchParams

#: scores within this of the k-th exact score count as ties (float32 rounding of the backends)
TIE_TOLERANCE = 1e-5


@dataclass(slots=True)
class Latency:
    """Latency percentiles (ms) and throughput of one run of all queries at one concurrency."""

    concurrency: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    throughput_qps: float

    def to_dict(self) -> dict[str, float | int]:
        return {
            "concurrency": self.concurrency,
            "p50_ms": round(self.p50_ms, 3),
            "p95_ms": round(self.p95_ms, 3),
            "p99_ms": round(self.p99_ms, 3),
            "mean_ms": round(self.mean_ms, 3),
            "throughput_qps": round(self.throughput_qps, 1),
        }


@dataclass(slots=True)
class Quality:
    """Answer quality of one filter over all queries."""

    recall: float
    ndcg: float
    #: largest and mean |backend score - exact score| over every returned id
    score_error_max: float
    score_error_mean: float
    #: share of queries answered with fewer than min(k, matching records) ids
    short_answers: float
    #: queries for which no record matched (left out of the means)
    empty: int
    per_query_recall: list[float] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "recall": round(self.recall, 6),
            "ndcg": round(self.ndcg, 6),
            "score_error_max": float(f"{self.score_error_max:.3g}"),
            "score_error_mean": float(f"{self.score_error_mean:.3g}"),
            "short_answers": round(self.short_answers, 6),
            "queries_without_matches": self.empty,
        }


async def run_queries(
    collection: Collection,
    queries: QuerySet,
    k: int,
    filter: Filter | None,
    concurrency: int,
    search: SearchParams | None,
    progress: Callable[[str, int, int | None], None] | None = None,
    stage: str = "queries",
) -> tuple[list[list[Match]], Latency]:
    """Every query once, ``concurrency`` at a time, each timed on its own; a query's own record
    (``QuerySet.own_ids``) is left out of its answer, as it is of the exact one."""
    answers: list[list[Match]] = [[] for _ in range(len(queries))]
    timings = np.zeros(len(queries))
    pending = iter(range(len(queries)))
    done = 0

    async def worker() -> None:
        for index in pending:
            own = queries.own_ids[index]
            started = time.perf_counter()
            # a query drawn from the collection finds its own record first: ask for one more, drop it
            answer = await collection.query(
                queries.vectors[index], top_k=k if own is None else k + 1, filter=filter, search=search
            )
            timings[index] = (time.perf_counter() - started) * 1000
            answers[index] = [m for m in answer if m.id != own][:k]
            nonlocal done
            done += 1
            if progress is not None:
                progress(stage, done, len(queries))

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
    wall = time.perf_counter() - started
    p50, p95, p99 = np.percentile(timings, [50, 95, 99])
    return answers, Latency(concurrency, p50, p95, p99, float(timings.mean()), len(queries) / wall)


async def judge(
    collection: Collection,
    metric: Metric,
    queries: QuerySet,
    node: FilterNode,
    exact: ExactAnswers,
    answers: list[list[Match]],
) -> Quality:
    """Recall@k, nDCG@k, score agreement and short answers of ``answers`` against ``exact``.

    A returned id outside the exact top k is read back: it is a hit only if it ties the k-th exact
    score and matches the filter (an id that breaks the filter is never a hit)."""
    unknown = sorted({m.id for answer in answers for m in answer} - {i for ids in exact.ids for i in ids})
    fetched = await collection.get(unknown) if unknown else []
    vectors = {r.id: np.asarray(r.vector, dtype=np.float32) for r in fetched if evaluate(node, r.metadata)}
    recalls: list[float] = []
    ndcgs: list[float] = []
    errors: list[float] = []
    short = empty = 0
    for row, (answer, truth_ids, truth_scores) in enumerate(zip(answers, exact.ids, exact.scores, strict=True)):
        if not truth_ids:
            empty += 1
            continue
        known = dict(zip(truth_ids, truth_scores.tolist(), strict=True))
        own = queries.own_ids[row]
        missing = [m.id for m in answer if m.id not in known and m.id in vectors and m.id != own]
        if missing:
            extra = score_matrix(metric, queries.vectors[row : row + 1], np.stack([vectors[i] for i in missing]))[0]
            known.update(zip(missing, extra.astype(np.float64).tolist(), strict=True))
        threshold = truth_scores[-1] - TIE_TOLERANCE * max(1.0, abs(truth_scores[-1]))
        hits = [1.0 if m.id in known and known[m.id] >= threshold else 0.0 for m in answer]
        recalls.append(min(sum(hits), len(truth_ids)) / len(truth_ids))
        ideal = sum(1 / math.log2(i + 2) for i in range(len(truth_ids)))
        ndcgs.append(sum(h / math.log2(i + 2) for i, h in enumerate(hits)) / ideal)
        errors.extend(abs(m.score - known[m.id]) for m in answer if m.id in known)
        short += len(answer) < len(truth_ids)
    judged = max(1, len(recalls))
    return Quality(
        recall=float(np.mean(recalls)) if recalls else 1.0,
        ndcg=float(np.mean(ndcgs)) if ndcgs else 1.0,
        score_error_max=max(errors, default=0.0),
        score_error_mean=float(np.mean(errors)) if errors else 0.0,
        short_answers=short / judged,
        empty=empty,
        per_query_recall=recalls,
    )

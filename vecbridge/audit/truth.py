"""The exact answers of many queries in one streaming pass over a collection.

Each scanned page becomes a matrix; one product with the query matrix scores every query against
the page at once, and each (filter, query) pair keeps its running top k. Memory is one page plus
``queries x k`` per filter, whatever the collection's size: never one scan per query.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vecbridge.audit.queries import QuerySet
from vecbridge.filters import FilterNode, MatchAll, evaluate
from vecbridge.store import Collection
from vecbridge.types import FloatArray, Metric

#: records scanned per page of the ground-truth pass
PAGE_SIZE = 2000


@dataclass(slots=True)
class ExactAnswers:
    """The exact top k of every query under one filter: ids and scores best first, and how many
    records matched the filter for each query (its own record excluded)."""

    ids: list[list[str]]
    scores: list[npt.NDArray[np.float64]]
    matching: npt.NDArray[np.int64]


def score_matrix(metric: Metric, queries: FloatArray, vectors: FloatArray) -> npt.NDArray[np.float32]:
    """vecbridge scores (higher is better) of every query against every vector: cosine similarity,
    inner product, or minus the true L2 distance."""
    if metric is Metric.COSINE:
        q = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-30)
        v = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-30)
        cosine: npt.NDArray[np.float32] = (q @ v.T).astype(np.float32, copy=False)
        return cosine
    if metric is Metric.DOT:
        dot: npt.NDArray[np.float32] = (queries @ vectors.T).astype(np.float32, copy=False)
        return dot
    # in float64: the expansion |q|^2 - 2 q.v + |v|^2 cancels badly in float32 for near neighbours
    q64, v64 = queries.astype(np.float64), vectors.astype(np.float64)
    squared = (q64 * q64).sum(axis=1)[:, None] - 2 * (q64 @ v64.T) + (v64 * v64).sum(axis=1)[None, :]
    distance: npt.NDArray[np.float32] = (-np.sqrt(np.maximum(squared, 0.0))).astype(np.float32, copy=False)
    return distance


class _RunningTopK:
    """The best ``k`` (score, id) per query seen so far, merged page by page."""

    def __init__(self, queries: int, k: int) -> None:
        self.k = k
        self.scores = np.full((queries, 0), -np.inf, dtype=np.float32)
        self.ids = np.empty((queries, 0), dtype=object)

    def merge(self, scores: npt.NDArray[np.float32], ids: npt.NDArray[np.object_]) -> None:
        """``scores``: queries x page (``-inf`` where a record does not count); ``ids``: the page's ids.

        The page's own top k per query is taken on the scores alone (no copy of them), and only
        those ``queries x k`` ids are gathered: ids are Python objects, slow to move in bulk."""
        if self.k < scores.shape[1]:
            top = np.argpartition(scores, scores.shape[1] - self.k, axis=1)[:, -self.k :]
            scores, page_ids = np.take_along_axis(scores, top, axis=1), ids[top]
        else:
            page_ids = np.broadcast_to(ids, scores.shape)
        all_scores = np.concatenate([self.scores, scores], axis=1)
        all_ids = np.concatenate([self.ids, page_ids], axis=1)
        if self.k < all_scores.shape[1]:
            top = np.argpartition(all_scores, all_scores.shape[1] - self.k, axis=1)[:, -self.k :]
            all_scores = np.take_along_axis(all_scores, top, axis=1)
            all_ids = np.take_along_axis(all_ids, top, axis=1)
        self.scores, self.ids = all_scores, all_ids

    def answers(self, matching: npt.NDArray[np.int64]) -> ExactAnswers:
        ids: list[list[str]] = []
        scores: list[npt.NDArray[np.float64]] = []
        for row in range(len(self.scores)):
            order = np.argsort(-self.scores[row], kind="stable")
            finite = order[np.isfinite(self.scores[row][order])]
            ids.append([str(i) for i in self.ids[row][finite]])
            scores.append(self.scores[row][finite].astype(np.float64))
        return ExactAnswers(ids, scores, matching)


async def exact_answers(
    collection: Collection,
    queries: QuerySet,
    k: int,
    filters: list[FilterNode],
    progress: Callable[[str, int, int | None], None] | None = None,
) -> list[ExactAnswers]:
    """The exact top ``k`` of every query, for each of ``filters`` (``MatchAll`` for none), in one scan."""
    spec = await collection.spec()
    metric = spec.metric if spec.layout is None else spec.layout.require_metric(collection.name)
    count = len(queries)
    tops = [_RunningTopK(count, k) for _ in filters]
    matching = [np.zeros(count, dtype=np.int64) for _ in filters]
    own_rows: dict[str, list[int]] = {}  # a query's own record never counts (found by id, not by a matrix)
    for row, own_id in enumerate(queries.own_ids):
        if own_id is not None:
            own_rows.setdefault(own_id, []).append(row)
    total = await collection.count() if progress is not None else None
    scanned = 0
    async for page in collection.scan(page_size=PAGE_SIZE, include_vector=True):
        ids = np.asarray([r.id for r in page.records], dtype=object)
        vectors = np.stack([np.asarray(r.vector, dtype=np.float32) for r in page.records])
        scores = score_matrix(metric, queries.vectors, vectors)
        own = [(row, col) for col, record in enumerate(page.records) for row in own_rows.get(record.id, ())]
        for row, col in own:
            scores[row, col] = -np.inf
        for top, counted, node in zip(tops, matching, filters, strict=True):
            if isinstance(node, MatchAll):
                counted += len(ids)
                top.merge(scores, ids)
                selected = None
            else:
                selected = np.fromiter((evaluate(node, r.metadata) for r in page.records), bool, len(ids))
                counted += int(selected.sum())
                top.merge(np.where(selected[None, :], scores, np.float32(-np.inf)), ids)
            for row, col in own:
                if selected is None or selected[col]:
                    counted[row] -= 1
        scanned += len(ids)
        if progress is not None:
            progress("exact answers (one scan)", scanned, total)
    return [top.answers(counted) for top, counted in zip(tops, matching, strict=True)]

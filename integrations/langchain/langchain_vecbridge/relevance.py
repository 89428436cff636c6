"""Relevance scores in [0, 1] from vecbridge scores, one documented mapping per metric.

vecbridge's score is the same number on every backend (cosine similarity, inner product, minus the
true L2 distance); LangChain's ``similarity_search_with_relevance_scores`` and the
``similarity_score_threshold`` retriever want 0 for dissimilar and 1 for most similar. For unit-length
vectors (most text embeddings) the cosine and dot-product mappings give the same relevance.
"""

from __future__ import annotations

from collections.abc import Callable

from vecbridge import Metric


def cosine_relevance(score: float) -> float:
    """Cosine similarity s in [-1, 1] -> (1 + s) / 2: exact, never clamped."""
    return (1.0 + score) / 2.0


def dot_relevance(score: float) -> float:
    """Inner product s -> (1 + s) / 2 clamped to [0, 1]: the cosine mapping for unit-length vectors;
    inner products of longer vectors beyond +-1 saturate at 1 or 0 (their order stays in the results)."""
    return min(1.0, max(0.0, (1.0 + score) / 2.0))


def euclidean_relevance(score: float) -> float:
    """Minus the L2 distance d (score = -d) -> 1 / (1 + d): 1 for identical vectors, towards 0 far away."""
    return 1.0 / (1.0 + max(0.0, -score))


RELEVANCE: dict[Metric, Callable[[float], float]] = {
    Metric.COSINE: cosine_relevance,
    Metric.DOT: dot_relevance,
    Metric.EUCLIDEAN: euclidean_relevance,
}

"""Weaviate's vector distances and the vecbridge metrics and scores they stand for."""

from __future__ import annotations

import math

from vecbridge.types import Metric

#: a vector index's ``distance`` -> the vecbridge metric (manhattan, hamming: none)
DISTANCE_METRICS = {"cosine": Metric.COSINE, "dot": Metric.DOT, "l2-squared": Metric.EUCLIDEAN}
METRIC_DISTANCES = {metric: name for name, metric in DISTANCE_METRICS.items()}


def distance_to_score(metric: Metric, distance: float) -> float:
    """Weaviate's distance to the vecbridge score: cosine ``1-d``, dot ``-d``, l2-squared ``-sqrt(d)``."""
    if metric is Metric.COSINE:
        return 1.0 - distance
    if metric is Metric.DOT:
        return -distance
    return -math.sqrt(max(distance, 0.0))

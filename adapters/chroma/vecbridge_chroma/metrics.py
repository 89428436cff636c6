"""Chroma's spaces as vecbridge metrics, and its distances as vecbridge scores (one place for both storages)."""

from __future__ import annotations

import math

from vecbridge.types import Metric

SPACES = {Metric.COSINE: "cosine", Metric.DOT: "ip", Metric.EUCLIDEAN: "l2"}
SPACE_METRICS = {space: metric for metric, space in SPACES.items()}


def to_score(metric: Metric, distance: float) -> float:
    """Chroma's distance as a vecbridge score (higher is better): cosine ``1 - cos`` and ip ``1 - dot``
    give ``1 - d``; l2 is the *squared* distance, so the score is minus its square root."""
    if metric is Metric.EUCLIDEAN:
        return -math.sqrt(max(distance, 0.0))
    return 1.0 - distance

"""pgvector's operator class and distance operator per metric, and the one score convention.

Shared by vecbridge's own tables (``adapter.py``) and native ones (``native.py``, ``catalog.py``
reads a metric back from an index's operator class)."""

from __future__ import annotations

from vecbridge.types import Metric

OPCLASS = {Metric.COSINE: "vector_cosine_ops", Metric.DOT: "vector_ip_ops", Metric.EUCLIDEAN: "vector_l2_ops"}
OPERATOR = {Metric.COSINE: "<=>", Metric.DOT: "<#>", Metric.EUCLIDEAN: "<->"}

#: distance (lower is better) -> vecbridge score (higher is better) is ``offset - distance``: cosine
#: 1 - d, dot -d (pgvector's <#> is the negative inner product), euclidean -d (<-> is the true L2 distance).
SCORE_OFFSET = {Metric.COSINE: 1.0, Metric.DOT: 0.0, Metric.EUCLIDEAN: 0.0}

"""What ``audit`` and ``tune`` answer, as tables for people and JSON with documented keys."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vecbridge.audit.measure import Latency, Quality


@dataclass(slots=True)
class FilterResult:
    """Quality (from the first concurrency's answers) and latency at each concurrency, for one filter."""

    filter: dict[str, Any] | None
    matching_mean: float
    quality: Quality
    latency: list[Latency]

    def to_dict(self) -> dict[str, Any]:
        return {
            "filter": self.filter,
            "matching_mean": round(self.matching_mean, 2),
            **self.quality.to_dict(),
            "latency": [lat.to_dict() for lat in self.latency],
        }


@dataclass(slots=True)
class AuditReport:
    """``vecbridge audit``'s answer; ``to_dict`` gives the ``--json`` keys (docs/search-quality.md)."""

    url: str
    collection: str
    namespace: str
    metric: str
    k: int
    queries: int
    query_source: str
    search: dict[str, Any] | None
    ground_truth_seconds: float
    filters: list[FilterResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "collection": self.collection,
            "namespace": self.namespace,
            "metric": self.metric,
            "k": self.k,
            "queries": {"count": self.queries, "source": self.query_source},
            "search": self.search,
            "ground_truth_seconds": round(self.ground_truth_seconds, 3),
            "filters": [f.to_dict() for f in self.filters],
        }


@dataclass(slots=True)
class TunePoint:
    """One setting of the knob and what it measured."""

    setting: dict[str, Any]
    recall: float
    latency: Latency
    short_answers: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "setting": self.setting,
            "recall": round(self.recall, 6),
            "short_answers": round(self.short_answers, 6),
            **{k: v for k, v in self.latency.to_dict().items() if k != "concurrency"},
        }


@dataclass(slots=True)
class TuneReport:
    """``vecbridge tune``'s answer: the curve, and the smallest setting meeting the target (or none)."""

    url: str
    collection: str
    knob: str
    k: int
    queries: int
    target_recall: float
    max_p95_ms: float | None
    curve: list[TunePoint]
    chosen: dict[str, Any] | None
    reason: str
    applied: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "collection": self.collection,
            "knob": self.knob,
            "k": self.k,
            "queries": self.queries,
            "target_recall": self.target_recall,
            "max_p95_ms": self.max_p95_ms,
            "curve": [p.to_dict() for p in self.curve],
            "chosen": self.chosen,
            "reason": self.reason,
            "applied": self.applied,
        }

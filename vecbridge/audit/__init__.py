"""Search quality you can measure: recall against exact search, latency percentiles, knob tuning.

``vb.audit(collection, ...)`` draws (or loads) query vectors, computes their exact answers in one
streaming pass over the collection (:mod:`vecbridge.audit.truth`), runs them against the backend at
each concurrency given and reports recall@k, nDCG@k, score agreement, short answers and latency per
filter. ``vb.tune(collection, target_recall=...)`` sweeps the backend's query-time knob over the
same ground truth and names the smallest setting that meets the target.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from vecbridge.adapter import Capability
from vecbridge.audit.measure import judge, run_queries
from vecbridge.audit.queries import QuerySet, load_queries, sample_queries
from vecbridge.audit.report import AuditReport, FilterResult, TunePoint, TuneReport
from vecbridge.audit.truth import exact_answers
from vecbridge.errors import InvalidArgumentError, UnsupportedFeatureError
from vecbridge.filters import Filter, FilterNode, MatchAll, format_filter, parse_filter
from vecbridge.store import Collection
from vecbridge.types import IVF, IndexSpec, Metric, SearchParams

#: settings ``tune`` tries when none are given, smallest first
DEFAULT_SWEEP = {"ef": (10, 16, 20, 32, 40, 64, 100, 128, 200, 400), "probes": (1, 2, 4, 8, 16, 32, 64, 128)}

#: called as ``progress(stage, done, total)`` while the scan and the queries run (``total`` may be unknown)
Progress = Callable[[str, int, int | None], None]


async def _queries(collection: Collection, queries: QuerySet | str | None, sample: int, seed: int) -> QuerySet:
    if isinstance(queries, QuerySet):
        return queries
    if isinstance(queries, str):
        return load_queries(queries, (await collection.spec()).dimension)
    return await sample_queries(collection, sample, seed)


def _metric(collection_metric: Metric, layout_metric: Metric | None) -> Metric:
    return collection_metric if layout_metric is None else layout_metric


async def audit(
    collection: Collection,
    *,
    queries: QuerySet | str | None = None,
    sample: int = 100,
    seed: int = 0,
    k: int = 10,
    filters: Sequence[Filter | None] = (None,),
    concurrency: Sequence[int] = (1,),
    search: SearchParams | None = None,
    progress: Progress | None = None,
) -> AuditReport:
    """Measure ``collection``'s answers against exact search (see the module docstring).

    ``queries``: a ``QuerySet``, or a ``.npy`` / ``.parquet`` / ``.jsonl`` file of vectors; by
    default ``sample`` of the collection's own records drawn with ``seed`` (each query's own record
    is left out of its exact answer). ``filters``: one entry per filter to audit (``None``: none).
    """
    if not concurrency or any(c < 1 for c in concurrency):
        raise InvalidArgumentError(f"concurrency levels must be >= 1, got {list(concurrency)}")
    spec = await collection.spec()
    metric = _metric(spec.metric, None if spec.layout is None else spec.layout.require_metric(collection.name))
    nodes = [parse_filter(f) for f in filters] or [MatchAll()]
    query_set = await _queries(collection, queries, sample, seed)
    started = time.perf_counter()
    exact = await exact_answers(collection, query_set, k, nodes, progress)
    truth_seconds = time.perf_counter() - started
    effort = search or spec.search
    report = AuditReport(
        url=collection.store.url.render(),
        collection=collection.name,
        namespace=collection.namespace,
        metric=metric.value,
        k=k,
        queries=len(query_set),
        query_source=query_set.source,
        search=None if effort is None else effort.to_dict(),
        ground_truth_seconds=truth_seconds,
    )
    for node, answers_exact in zip(nodes, exact, strict=True):
        given = None if isinstance(node, MatchAll) else format_filter(node)
        latencies = []
        quality = None
        for level in concurrency:
            stage = f"queries (filter {given}, concurrency {level})"
            answers, latency = await run_queries(collection, query_set, k, given, level, search, progress, stage)
            latencies.append(latency)
            if quality is None:
                quality = await judge(collection, metric, query_set, node, answers_exact, answers)
        assert quality is not None
        report.filters.append(FilterResult(given, float(answers_exact.matching.mean()), quality, latencies))
    return report


def knob_of(collection: Collection, knob: str | None, index: IndexSpec | None = None) -> str:
    """The knob to sweep: the one asked for, else the one of the collection's ``index`` (``probes``
    for IVF) where honoured, else ``ef`` where honoured, else ``probes``."""
    offered = {
        name
        for name, capability in (("ef", Capability.SEARCH_EF), ("probes", Capability.SEARCH_PROBES))
        if capability in collection.store.capabilities
    }
    if knob is not None:
        if knob not in DEFAULT_SWEEP:
            raise InvalidArgumentError(f"unknown knob {knob!r}; known: ef, probes")
        if knob not in offered:
            raise UnsupportedFeatureError(f"{collection.store.adapter.name} has no per-query {knob} setting")
        return knob
    if not offered:
        raise UnsupportedFeatureError(
            f"{collection.store.adapter.name} has no query-time search setting to tune (no ef, no probes)"
        )
    if isinstance(index, IVF) and "probes" in offered:
        return "probes"
    return "ef" if "ef" in offered else "probes"


async def tune(
    collection: Collection,
    *,
    target_recall: float,
    max_p95_ms: float | None = None,
    knob: str | None = None,
    values: Sequence[int] | None = None,
    queries: QuerySet | str | None = None,
    sample: int = 100,
    seed: int = 0,
    k: int = 10,
    filter: Filter | None = None,
    apply: bool = False,
    progress: Progress | None = None,
) -> TuneReport:
    """Sweep ``knob`` over ``values`` (smallest first) with one ground truth; choose the smallest setting
    whose recall@k meets ``target_recall`` (and whose p95 stays under ``max_p95_ms``). With ``apply``
    the choice becomes the collection's default search setting (``Collection.set_search_defaults``)."""
    if not 0.0 < target_recall <= 1.0:
        raise InvalidArgumentError(f"target recall must be in (0, 1], got {target_recall}")
    if apply and Capability.SEARCH_DEFAULTS not in collection.store.capabilities:
        raise UnsupportedFeatureError(
            f"{collection.store.adapter.name} cannot store default search settings: tune without --apply "
            "and pass the chosen setting per query"
        )
    spec = await collection.spec()
    name = knob_of(collection, knob, spec.index)
    settings = sorted(set(values or DEFAULT_SWEEP[name]))
    metric = _metric(spec.metric, None if spec.layout is None else spec.layout.require_metric(collection.name))
    node: FilterNode = parse_filter(filter)
    query_set = await _queries(collection, queries, sample, seed)
    (exact,) = await exact_answers(collection, query_set, k, [node], progress)
    given = None if isinstance(node, MatchAll) else format_filter(node)
    curve: list[TunePoint] = []
    chosen: dict[str, int] | None = None
    for value in settings:
        params = _setting(name, value)
        answers, latency = await run_queries(
            collection, query_set, k, given, 1, params, progress, f"queries ({name}={value})"
        )
        quality = await judge(collection, metric, query_set, node, exact, answers)
        curve.append(TunePoint({name: value}, quality.recall, latency, quality.short_answers))
        fast_enough = max_p95_ms is None or latency.p95_ms <= max_p95_ms
        if chosen is None and quality.recall >= target_recall and fast_enough:
            chosen = {name: value}
    if chosen is not None:
        reason = f"smallest {name} with recall@{k} >= {target_recall}" + (
            f" and p95 <= {max_p95_ms} ms" if max_p95_ms is not None else ""
        )
    else:
        best = max(curve, key=lambda p: p.recall)
        reason = (
            f"no {name} in {settings} reaches recall@{k} {target_recall}"
            + (f" within p95 {max_p95_ms} ms" if max_p95_ms is not None else "")
            + f"; the best measured was {best.recall:.4f} at {best.setting}"
        )
    report = TuneReport(
        url=collection.store.url.render(),
        collection=collection.name,
        knob=name,
        k=k,
        queries=len(query_set),
        target_recall=target_recall,
        max_p95_ms=max_p95_ms,
        curve=curve,
        chosen=chosen,
        reason=reason,
    )
    if apply and chosen is not None:
        await collection.set_search_defaults(_setting(name, chosen[name]))
        report.applied = True
    return report


def _setting(knob: str, value: int) -> SearchParams:
    return SearchParams(ef=value) if knob == "ef" else SearchParams(probes=value)


__all__ = ["AuditReport", "QuerySet", "TuneReport", "audit", "load_queries", "sample_queries", "tune"]

"""Verification after the copy: counts per namespace, record contents (sampled or all of them, both ways)
and the top-k answers of sample queries, every difference listed as a :class:`Mismatch`."""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from vecbridge.adapter import Capability
from vecbridge.audit.measure import judge, run_queries
from vecbridge.audit.queries import QuerySet
from vecbridge.audit.truth import exact_answers
from vecbridge.errors import InvalidArgumentError
from vecbridge.filters import Filter, MatchAll, parse_filter
from vecbridge.migrate.compare import FloatDifferences, Mismatch, compare_records, float_allowance
from vecbridge.migrate.plan import MigrationPlan
from vecbridge.migrate.reembed import ReEmbedding
from vecbridge.migrate.report import ProgressCallback
from vecbridge.store import Collection
from vecbridge.types import Metric, Record

VerifyMode = Literal["none", "count", "sample", "full"]
VERIFY_MODES: tuple[str, ...] = ("none", "count", "sample", "full")


@dataclass(slots=True)
class Verification:
    """What verification compared and every mismatch it found."""

    mode: str
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    records_checked: int = 0
    records_matched: int = 0
    queries_checked: int = 0
    queries_matched: int = 0
    #: Mean share of the source's top-k ids that the destination also returned (1.0 = identical).
    query_agreement: float | None = None
    #: Search equivalence on the same queries: recall@k of each side against exact search,
    #: ``{"k": k, "source": r, "destination": r}`` (see :func:`_search_recall`).
    search_recall: dict[str, float] | None = None
    mismatches: list[Mismatch] = field(default_factory=list)
    seconds: float = 0.0
    #: Source records left out of the copy as unfit (``skip_unfit``): known exclusions, not mismatches.
    excluded: int = 0
    #: Floats that differ within the destination's declared bound (``None``: it keeps floats exact,
    #: so any differing bit is a mismatch).
    floats: FloatDifferences | None = None

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "ok": self.ok,
            "counts": self.counts,
            "records_checked": self.records_checked,
            "records_matched": self.records_matched,
            "queries_checked": self.queries_checked,
            "queries_matched": self.queries_matched,
            "query_agreement": None if self.query_agreement is None else round(self.query_agreement, 4),
            "search_recall": self.search_recall,
            "excluded_unfit": self.excluded,
            "float_differences": None if self.floats is None else self.floats.to_dict(),
            "mismatch_count": len(self.mismatches),
            "mismatches": [asdict(m) for m in self.mismatches],
            "seconds": round(self.seconds, 3),
        }


async def _verify_counts(
    plan: MigrationPlan, source: Collection, destination: Collection, filter: Filter | None, result: Verification
) -> None:
    exclusions = plan.exclusions()
    for namespace in plan.namespaces:
        matching = await source.with_namespace(namespace).count(filter=filter)
        excluded = len(exclusions.get(namespace, ()))
        actual = await destination.with_namespace(namespace).count()
        result.counts[namespace] = {"source": matching, "destination": actual}
        if excluded:
            result.counts[namespace]["excluded"] = excluded
            result.excluded += excluded
        if matching - excluded != actual:
            left_out = f" ({excluded} left out as unfit)" if excluded else ""
            result.mismatches.append(
                Mismatch("count", namespace, None, f"source has {matching} records{left_out}, destination {actual}")
            )


async def _compare_batch(
    records: list[Record],
    namespace: str,
    destination: Collection,
    normalize: bool,
    result: Verification,
    re_embed: ReEmbedding | None = None,
) -> None:
    if re_embed is not None:  # the destination holds the function's vectors of the source's documents
        records = re_embed.records(records)
    found = {r.id: r for r in await destination.with_namespace(namespace).get([r.id for r in records])}
    for record in records:
        result.records_checked += 1
        other = found.get(record.id)
        if other is None:
            result.mismatches.append(Mismatch("missing", namespace, record.id, "not in the destination"))
            continue
        problems = compare_records(record, other, namespace, normalize, result.floats)
        if problems:
            result.mismatches.extend(problems)
        else:
            result.records_matched += 1


def _true_score(metric: Metric, query: np.ndarray[Any, Any], vector: np.ndarray[Any, Any]) -> float:
    q, v = query.astype(np.float64), vector.astype(np.float64)
    if metric is Metric.COSINE:
        return float(q @ v / max(np.linalg.norm(q) * np.linalg.norm(v), 1e-300))
    if metric is Metric.DOT:
        return float(q @ v)
    return -float(np.linalg.norm(q - v))


async def _verify_queries(
    queries: list[tuple[str, Record]],
    source: Collection,
    destination: Collection,
    filter: Filter | None,
    top_k: int,
    metric: Metric,
    result: Verification,
    exclusions: dict[str, set[str]] | None = None,
) -> None:
    """Sample queries: the destination returns as many results as the source, each with the score its
    source vector really has; when both sides search exactly, the same top-k ids too (ties aside).

    Between approximate indexes the top-k ids legitimately differ (different graphs, different
    ``ef``), so there the id agreement is reported (``query_agreement``) but is not a mismatch.
    Known exclusions (records left out as unfit) are dropped from the source's answer: the source is
    asked for that many more results, within its ``max_top_k``.
    """
    exact = Capability.EXACT_SEARCH in source.store.capabilities and Capability.EXACT_SEARCH in (
        destination.store.capabilities
    )
    shares: list[float] = []
    for namespace, record in queries:
        k = min(top_k, source.store.adapter.max_top_k, destination.store.adapter.max_top_k)
        query = np.asarray(record.vector, dtype=np.float32)
        skip = (exclusions or {}).get(namespace, set())
        ask = min(k + len(skip), source.store.adapter.max_top_k)
        answer = await source.with_namespace(namespace).query(query, ask, filter=filter)
        want = [m for m in answer if m.id not in skip][:k]
        short = len(want) < k and len(answer) == ask and ask < k + len(skip)  # more exclusions than lookahead
        got = await destination.with_namespace(namespace).query(query, k)
        result.queries_checked += 1
        problems: list[str] = []
        if len(got) != len(want) and not (short and len(got) > len(want)):
            problems.append(f"{len(got)} results instead of {len(want)}")
        floor = min((m.score for m in want), default=0.0)
        want_ids = {m.id for m in want}
        agreeing = sum(1 for m in got if m.id in want_ids or abs(m.score - floor) <= 1e-4 * max(1.0, abs(floor)))
        share = min(1.0, agreeing / max(len(want), 1)) if want else 1.0
        shares.append(share)
        if exact and share < 1.0:
            missing = [m.id for m in want if m.id not in {g.id for g in got}]
            problems.append(f"only {share:.0%} of the top-{k} ids agree; not returned: {missing[:5]}")
        originals = {r.id: r for r in await source.with_namespace(namespace).get([m.id for m in got])}
        for match in got:
            original = originals.get(match.id)
            if original is None:
                problems.append(f"returned {match.id!r}, which is not in the source")
                continue
            expected = _true_score(metric, query, np.asarray(original.vector, dtype=np.float32))
            if abs(match.score - expected) > 1e-3 * max(1.0, abs(expected)):
                problems.append(f"{match.id!r} scored {match.score:.6g}, its source vector gives {expected:.6g}")
        if problems:
            detail = f"top-{k} of this record's vector: " + "; ".join(problems[:5])
            result.mismatches.append(Mismatch("query", namespace, record.id, detail))
        else:
            result.queries_matched += 1
    if shares:
        result.query_agreement = sum(shares) / len(shares)


async def _search_recall(
    queries: list[tuple[str, Record]],
    source: Collection,
    destination: Collection,
    filter: Filter | None,
    top_k: int,
    metric: Metric,
    result: Verification,
    exclusions: dict[str, set[str]],
) -> None:
    """Does the copy answer as well as the original? Recall@k of the destination's answers and of
    the source's own, both against the exact answers (:mod:`vecbridge.audit`: one streaming pass
    over the source per namespace, each query's own record left out). The source answers with
    ``filter``, the destination (which holds only the records it selected) without. A namespace
    with records left out as unfit is skipped: its exact answers differ between the two sides."""
    by_namespace: dict[str, list[Record]] = {}
    for namespace, record in queries:
        if not exclusions.get(namespace):
            by_namespace.setdefault(namespace, []).append(record)
    node = parse_filter(filter)
    recalls: dict[str, list[float]] = {"source": [], "destination": []}
    for namespace, records in by_namespace.items():
        vectors = np.stack([np.asarray(r.vector, dtype=np.float32) for r in records])
        query_set = QuerySet(vectors, tuple(r.id for r in records), "verify queries")
        original, copy = source.with_namespace(namespace), destination.with_namespace(namespace)
        (exact,) = await exact_answers(original, query_set, top_k, [node])
        for side, collection, given, selected in (
            ("source", original, filter, node),
            ("destination", copy, None, MatchAll()),
        ):
            answers, _ = await run_queries(collection, query_set, top_k, given, 1, None)
            quality = await judge(collection, metric, query_set, selected, exact, answers)
            recalls[side].extend(quality.per_query_recall)
    if recalls["source"]:
        result.search_recall = {"k": top_k, **{side: round(float(np.mean(v)), 4) for side, v in recalls.items()}}


async def verify(
    source: Collection,
    destination: Collection,
    mode: VerifyMode | str = "count",
    *,
    plan: MigrationPlan,
    filter: Filter | None = None,
    sample_ids: Sequence[tuple[str, str]] = (),
    sample_size: int = 1000,
    sample_queries: int = 20,
    top_k: int = 10,
    page_size: int = 1000,
    on_progress: ProgressCallback | None = None,
    re_embed: ReEmbedding | None = None,
) -> Verification:
    """Compare destination with source: ``count`` (per namespace), ``sample`` (counts + sampled records
    + sample queries) or ``full`` (every record both ways: missing, extra and duplicate ids too).

    After a re-embedding copy (``re_embed``) records are compared with the function's vectors of the
    source's documents, and no sample queries run (source and destination vectors live in different spaces)."""
    if mode not in VERIFY_MODES:
        raise InvalidArgumentError(f"verify must be one of {', '.join(VERIFY_MODES)}, got {mode!r}")
    result = Verification(mode=str(mode))
    if mode == "none":
        return result
    result.floats = float_allowance(destination)
    started = time.perf_counter()
    exclusions = plan.exclusions()
    await _verify_counts(plan, source, destination, filter, result)
    normalize = (
        Capability.NORMALIZES_COSINE_VECTORS in destination.store.capabilities
        and plan.destination_spec.metric is Metric.COSINE
    )
    queries: list[tuple[str, Record]] = []
    rng = random.Random(1)
    if mode == "sample":
        by_namespace: dict[str, list[str]] = {}
        for namespace, record_id in sample_ids:
            by_namespace.setdefault(namespace, []).append(record_id)
        if not sample_ids:  # nothing copied in this run (resumed after the copy): sample the first pages
            for namespace in plan.namespaces:
                skip = exclusions.get(namespace, set())
                async for page in source.with_namespace(namespace).scan(page_size, filter=filter, include_vector=False):
                    by_namespace[namespace] = [r.id for r in page.records if r.id not in skip][:sample_size]
                    break
        done = 0
        for namespace, ids in by_namespace.items():
            for start in range(0, len(ids), page_size):
                records = await source.with_namespace(namespace).get(ids[start : start + page_size])
                await _compare_batch(records, namespace, destination, normalize, result, re_embed)
                queries.extend((namespace, r) for r in records[: max(0, sample_queries - len(queries))])
                done += len(records)
                if on_progress is not None:
                    on_progress("verify", done, len(sample_ids) or None)
    elif mode == "full":
        done = 0
        for namespace in plan.namespaces:
            source_ids: set[str] = set()
            skip = exclusions.get(namespace, set())
            async for page in source.with_namespace(namespace).scan(page_size, filter=filter):
                kept = [r for r in page.records if r.id not in skip] if skip else page.records
                source_ids.update(r.id for r in kept)
                await _compare_batch(kept, namespace, destination, normalize, result, re_embed)
                for record in kept:
                    if len(queries) < sample_queries:
                        queries.append((namespace, record))
                    elif sample_queries > 0 and rng.random() < 0.001:
                        queries[rng.randrange(sample_queries)] = (namespace, record)
                done += len(page.records)
                if on_progress is not None:
                    on_progress("verify", done, plan.total)
            seen: set[str] = set()
            async for page in destination.with_namespace(namespace).scan(page_size, include_vector=False):
                for record in page.records:
                    if record.id in seen:
                        result.mismatches.append(Mismatch("duplicate", namespace, record.id, "scanned twice"))
                    elif record.id in skip:
                        result.mismatches.append(
                            Mismatch("extra", namespace, record.id, "left out of the copy as unfit, yet present")
                        )
                    elif record.id not in source_ids:
                        result.mismatches.append(Mismatch("extra", namespace, record.id, "not in the source"))
                    seen.add(record.id)
    if mode in ("sample", "full") and sample_queries > 0 and re_embed is None:
        await _verify_queries(
            queries[:sample_queries],
            source,
            destination,
            filter,
            top_k,
            plan.destination_spec.metric,
            result,
            exclusions,
        )
        await _search_recall(
            queries[:sample_queries],
            source,
            destination,
            filter,
            top_k,
            plan.destination_spec.metric,
            result,
            exclusions,
        )
    result.seconds = time.perf_counter() - started
    return result

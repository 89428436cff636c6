"""Migration: copy a collection between any two backends through the public API only.

The pipeline is one reader and a few writers joined by a bounded queue, so memory stays flat
whatever the collection size::

    source.scan(cursor) --pages--> asyncio.Queue(maxsize) --pages--> N writers: destination.upsert(page)
                                                                        |
                             checkpoint file <-- contiguous acknowledged prefix of pages

Pages finish out of order (several writers), so the checkpoint is the source cursor after the last
page such that it *and every page before it* are written. It lives in a local file keyed by source,
destination, collections, namespaces, filter and layouts, and is replaced atomically: the source is never
written to. Replaying pages after a crash is safe because upserts are idempotent and replace whole
records. A failed page is retried (jittered exponential backoff for transient errors) and then
fails the run: nothing is ever skipped.

Before the first write a :class:`MigrationPlan` states dimension, metric, namespaces, counts and
everything that stops or weakens the copy; after the copy :func:`verify` compares counts, record
contents and the top-k answers of sample queries, and lists every mismatch.

When the destination declares record limits (``Adapter.check_storable``: Milvus' 65,535-byte
document column, Pinecone's 40 KB of metadata), the plan reads the selected source once without
vectors and lists the records the destination cannot hold, field by field; they refuse the run,
unless ``skip_unfit`` leaves them out: then the report lists them and verification counts them as
known exclusions, never as mismatches. Nothing is ever dropped silently.

This module holds :func:`migrate`, which runs the steps; each step has its own module: ``plan``,
``checkpoint``, ``copy``, ``compare``, ``verify``, ``report`` and ``errors``.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from vecbridge.errors import InvalidArgumentError
from vecbridge.filters import Filter
from vecbridge.layout import Drops
from vecbridge.migrate.checkpoint import Checkpoint, PageTracker
from vecbridge.migrate.compare import Mismatch, compare_records, metadata_differences
from vecbridge.migrate.copy import CopyEngine, _copy, _Sample
from vecbridge.migrate.errors import MigrationFailedError, MigrationRefusedError
from vecbridge.migrate.plan import MigrationPlan, PlanIssue, UnfitRecord, plan_migration, prepared_destination
from vecbridge.migrate.reembed import ReEmbedding
from vecbridge.migrate.report import MigrationReport, ProgressCallback
from vecbridge.migrate.verify import VERIFY_MODES, Verification, VerifyMode, verify
from vecbridge.store import Collection
from vecbridge.types import Metric


def _left_out(drops: Drops | None, before: Counter[tuple[str, str]]) -> list[str]:
    """What this run's copy left out of the source's records (reads counted before it are not its own)."""
    if drops is None:
        return []
    copied = Drops()
    copied.counts = drops.counts - before
    return copied.lines()


def _first_error(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


async def migrate(
    source: Collection,
    destination: Collection,
    *,
    namespaces: Sequence[str] | None = None,
    filter: Filter | None = None,
    verify_mode: VerifyMode | str = "count",
    dry_run: bool = False,
    resume: bool = False,
    restart: bool = False,
    allow_metric_change: bool = False,
    allow_existing: bool = False,
    metric: str | Metric | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    page_size: int | None = None,
    writers: int = 4,
    queue_size: int | None = None,
    retries: int = 5,
    retry_delay: float = 0.5,
    sample_size: int = 1000,
    sample_queries: int = 20,
    top_k: int = 10,
    on_progress: ProgressCallback | None = None,
    on_plan: Callable[[MigrationPlan], None] | None = None,
    skip_unfit: bool = False,
    re_embed: ReEmbedding | None = None,
    engine: CopyEngine | None = None,
) -> MigrationReport:
    """Copy ``source`` into ``destination`` (another or the same backend) and verify the copy.

    ``source`` and ``destination`` are collection handles (``store.collection(name)``); their own
    namespace is ignored: every namespace of the source is copied to the namespace of the same name,
    unless ``namespaces`` selects some. Layouts travel with the handles: a source opened with
    ``layout=`` (or a native collection, inferred) is read through it, a destination opened with
    ``layout=..., writable=True`` is written in that native shape (created in it when missing), and
    verification reads both sides back through them. ``filter`` copies a subset. ``page_size`` defaults to the
    smaller of both backends' ``max_batch`` (at most 5,000). The destination collection is
    created with the source's facts when missing. Raises :class:`MigrationRefusedError` when the
    plan has errors (nothing written) and :class:`MigrationFailedError` when a write still fails
    after ``retries`` (the checkpoint keeps the progress: call again with ``resume=True``).
    Verification mismatches do not raise: ``report.succeeded`` is false and they are listed.

    Records the destination cannot hold whole (its record limits) refuse the run; with ``skip_unfit``
    they are left out instead, listed in ``report.skipped``, and verified as known exclusions.

    ``re_embed`` replaces every vector by its function's vector of the record's document (the
    destination gets the function's dimension and model; records without a document are unfit).
    ``engine`` copies instead of the single-process pipeline (``distributed.RayCopy``: Ray tasks).
    """
    if verify_mode not in VERIFY_MODES:
        raise InvalidArgumentError(f"verify must be one of {', '.join(VERIFY_MODES)}, got {verify_mode!r}")
    if page_size is None:  # big pages amortize per-request costs; bounded so memory stays small
        page_size = max(1, min(source.store.adapter.max_batch, destination.store.adapter.max_batch, 5000))
    if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
        raise InvalidArgumentError(f"page_size must be a positive int, got {page_size!r}")
    if isinstance(writers, bool) or not isinstance(writers, int) or writers < 1:
        raise InvalidArgumentError(f"writers must be a positive int, got {writers!r}")
    plan = await plan_migration(
        source,
        destination,
        namespaces=namespaces,
        filter=filter,
        resume=resume,
        restart=restart,
        allow_metric_change=allow_metric_change,
        allow_existing=allow_existing,
        metric=metric,
        checkpoint_dir=checkpoint_dir,
        skip_unfit=skip_unfit,
        re_embed=re_embed,
    )
    if on_plan is not None:
        on_plan(plan)
    if dry_run:
        return MigrationReport(plan=plan, status="dry_run")
    if not plan.ok:
        raise MigrationRefusedError(plan)

    checkpoint_path = Path(plan.checkpoint_path)
    if restart:
        checkpoint_path.unlink(missing_ok=True)
    identity: dict[str, Any] = {
        "source": plan.source,
        "destination": plan.destination,
        "collection": plan.collection,
        "to_collection": plan.to_collection,
        "filter": plan.filter,
        "namespaces_selected": list(namespaces) if namespaces else None,
    }
    layouts = (plan.source_spec.layout, plan.destination_spec.layout)
    if layouts != (None, None):
        identity["layouts"] = [None if layout is None else layout.to_dict() for layout in layouts]
    resumed = plan.resume_from is not None
    checkpoint = (
        Checkpoint(checkpoint_path, plan.resume_from)
        if plan.resume_from is not None
        else Checkpoint.fresh(checkpoint_path, identity, plan.namespaces)
    )
    if engine is None and checkpoint.state.get("partitions") and not checkpoint.copy_complete:
        # its namespaces' own cursors never moved: this engine would copy them again from the start
        raise InvalidArgumentError(
            f"checkpoint {checkpoint.path} holds a distributed copy's partitions: resume it with --engine ray"
        )
    destination = await prepared_destination(plan, destination)
    checkpoint.save()

    writer_count = max(1, min(writers, destination.store.adapter.max_concurrency))
    sample = _Sample(sample_size if verify_mode == "sample" else 0)
    report = MigrationReport(plan=plan, status="failed", resumed=resumed)
    started = time.perf_counter()
    drops = plan.source_spec.layout.drops if plan.source_spec.layout is not None else None
    dropped_before = Counter(drops.counts) if drops is not None else Counter()
    if not checkpoint.copy_complete:
        try:
            # index builds deferred to the end where the destination supports it (pgvector: ~400x faster
            # loading); a killed run leaves the indexes dropped and the resumed run builds them at its end
            async with destination.bulk_load():
                report.copied = await (engine or _copy)(
                    plan,
                    source,
                    destination,
                    checkpoint,
                    filter=filter,
                    page_size=page_size,
                    writers=writer_count,
                    queue_size=queue_size if queue_size is not None else 2 * writer_count,
                    retries=retries,
                    retry_delay=retry_delay,
                    sample=sample,
                    on_progress=on_progress,
                    re_embed=re_embed,
                )
        except BaseExceptionGroup as group:
            first = _first_error(group)
            if not isinstance(first, Exception):
                raise
            report.copy_seconds = time.perf_counter() - started
            report.written_total = checkpoint.written
            report.error = f"{type(first).__name__}: {first}"
            raise MigrationFailedError(
                f"copy failed after retries, nothing skipped; {checkpoint.written} records are safely written and "
                f"the checkpoint {checkpoint.path} resumes from there: {report.error}",
                report,
            ) from first
        checkpoint.state["copy_complete"] = True
        checkpoint.save()
    report.copy_seconds = time.perf_counter() - started
    report.written_total = checkpoint.written
    report.left_out = _left_out(drops, dropped_before)

    report.verification = await verify(
        source,
        destination,
        verify_mode,
        plan=plan,
        filter=filter,
        sample_ids=sample.items,
        sample_size=sample_size,
        sample_queries=sample_queries,
        top_k=top_k,
        page_size=page_size,
        on_progress=on_progress,
        re_embed=re_embed,
    )
    if report.verification.ok:
        report.status = "succeeded"
        with contextlib.suppress(OSError):
            checkpoint.remove()
    else:
        report.error = f"verification found {len(report.verification.mismatches)} mismatches"
    return report


__all__ = [
    "Checkpoint",
    "MigrationFailedError",
    "MigrationPlan",
    "MigrationRefusedError",
    "MigrationReport",
    "Mismatch",
    "PageTracker",
    "PlanIssue",
    "ReEmbedding",
    "ProgressCallback",
    "UnfitRecord",
    "VERIFY_MODES",
    "Verification",
    "VerifyMode",
    "compare_records",
    "metadata_differences",
    "migrate",
    "plan_migration",
    "verify",
]

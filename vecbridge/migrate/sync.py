"""Sync: bring a destination to the source's current state in one pass, writing only what differs.

A migration copies a snapshot while the source keeps changing; sync is the catch-up pass. Per
namespace::

    destination.scan  -->  digests: id -> 16 bytes of content        (the only state that grows)
    source.scan(cursor) --page--> digest each record:
        id unknown            -> added      \\
        digest differs        -> get it from the destination, compare_records (float32 tolerance,
                                 typed metadata, document): updated or unchanged   } --> queue --> writers
        digest equal          -> unchanged  /
    ids the pass did not meet -> asked of the source (get): those it lacks are deleted (--prune)
                                 or reported as extra

Scan orders differ between backends (id order, insertion order, offsets), so the destination side
is held as a digest map rather than merged: 152 bytes per record in CPython for 16-character ids,
172 for UUID strings (id string, 16-byte digest, dict slot), i.e. 150-170 MB per million records of
one namespace (tests/test_sync.py keeps it under 200). Everything else is bounded by the page size
and the queue.

The checkpoint advances over the contiguous prefix of acknowledged source pages (as for
:func:`~vecbridge.migrate.migrate`), with the counts of those pages; ``resume`` continues from it
(the digest map is rebuilt: the destination is scanned again). Without ``resume`` a sync starts over,
which is always correct: it compares again. Deletion candidates are confirmed by asking the source
for them, so a resumed pass, or a record written to both sides while the pass ran, never deletes a
record the source still holds. A record written through a mirror between sync's read of the source
and its write of the destination can be left at the older version: the next sync repairs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal

from vecbridge.adapter import Capability
from vecbridge.errors import InvalidArgumentError
from vecbridge.migrate.checkpoint import Checkpoint, PageTracker
from vecbridge.migrate.compare import FloatDifferences, Mismatch, compare_records, content_digest
from vecbridge.migrate.copy import _write_page
from vecbridge.migrate.errors import MigrationRefusedError, SyncFailedError
from vecbridge.migrate.plan import MigrationPlan, plan_migration, prepared_destination
from vecbridge.migrate.report import ProgressCallback
from vecbridge.migrate.retry import RetryPolicy
from vecbridge.migrate.verify import UNMEASURED_FLOAT_ULPS, VERIFY_MODES, Verification, VerifyMode, verify
from vecbridge.store import Collection
from vecbridge.types import Metric, Record

#: what a sync counts per namespace; ``extra``: destination records the source lacks, kept (no prune)
TALLIES = ("added", "updated", "deleted", "unchanged", "extra")


@dataclass(slots=True)
class SyncReport:
    """The outcome of :func:`sync`: what changed per namespace, and the verification afterwards."""

    plan: MigrationPlan
    status: Literal["dry_run", "succeeded", "failed"]
    prune: bool = False
    resumed: bool = False
    #: per namespace, the counts of :data:`TALLIES` (a resumed run includes the earlier runs' pages)
    namespaces: dict[str, dict[str, int]] = field(default_factory=dict)
    seconds: float = 0.0
    verification: Verification | None = None
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"

    def total(self, tally: str) -> int:
        return sum(counts.get(tally, 0) for counts in self.namespaces.values())

    @property
    def changes(self) -> int:
        """Records added, updated or deleted: 0 when the destination already equalled the source."""
        return self.total("added") + self.total("updated") + self.total("deleted")

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "succeeded": self.succeeded,
            "prune": self.prune,
            "resumed": self.resumed,
            "changes": self.changes,
            "totals": {tally: self.total(tally) for tally in TALLIES},
            "namespaces": self.namespaces,
            "seconds": round(self.seconds, 3),
            "error": self.error,
            "plan": self.plan.to_dict(),
            "verification": None if self.verification is None else self.verification.to_dict(),
        }


def _fresh_checkpoint(path: Path, plan: MigrationPlan, order: list[str], prune: bool) -> Checkpoint:
    identity = {"kind": "sync", "source": plan.source, "destination": plan.destination, "prune": prune}
    checkpoint = Checkpoint.fresh(path, identity, order)
    for entry in checkpoint.state["namespaces"].values():
        entry.update(dict.fromkeys(TALLIES, 0), pruned=False)
    return checkpoint


def _checkpoint_path(plan: MigrationPlan, namespaces: Sequence[str] | None, prune: bool) -> Path:
    """Beside the migration's checkpoint (``<source>-to-<destination>-<key>.json``), keyed by what the sync selects."""
    selection = sorted(namespaces) if namespaces else "*"
    identity = ["sync", plan.source, plan.destination, plan.collection, plan.to_collection, selection, prune]
    key = hashlib.sha256(json.dumps(identity, ensure_ascii=False).encode()).hexdigest()
    migration = Path(plan.checkpoint_path)
    return migration.with_name(f"sync-{migration.stem.rsplit('-', 1)[0]}-{key[:16]}.json")


async def _namespaces(plan: MigrationPlan, destination: Collection, selected: Sequence[str] | None) -> list[str]:
    """The source's namespaces, and with no selection the destination's too (one the source emptied)."""
    if selected or not plan.destination_exists:
        return list(plan.namespaces)
    spec = await destination.spec()
    theirs = await destination.store.adapter.list_namespaces(spec)
    return sorted(set(plan.namespaces) | set(theirs))


class _Pass:
    """One sync pass over the namespaces a checkpoint lists: a reader classifies, writers upsert."""

    def __init__(
        self,
        plan: MigrationPlan,
        source: Collection,
        destination: Collection,
        checkpoint: Checkpoint,
        *,
        prune: bool,
        page_size: int,
        writers: int,
        policy: RetryPolicy,
        on_progress: ProgressCallback | None,
    ) -> None:
        self.plan, self.source, self.destination, self.checkpoint = plan, source, destination, checkpoint
        self.prune, self.page_size, self.writers, self.policy = prune, page_size, writers, policy
        self.on_progress = on_progress
        self.normalize = (
            Capability.NORMALIZES_COSINE_VECTORS in destination.store.capabilities
            and plan.destination_spec.metric is Metric.COSINE
        )
        self.excluded = plan.exclusions()
        # float metadata the destination rounds within its declared bound is the same content, or every
        # sync would rewrite it (and read back the same rounding)
        declared = type(destination.store.adapter).float_error_ulps
        self.floats = (
            None
            if Capability.EXACT_FLOATS in destination.store.capabilities
            else FloatDifferences(UNMEASURED_FLOAT_ULPS if declared is None else declared)
        )
        self.compared = 0
        self.queue: asyncio.Queue[tuple[int, str, list[Record]] | None] = asyncio.Queue(maxsize=2 * writers)
        self.tracker = PageTracker(checkpoint)

    def _progress(self, phase: str, done: int, total: int | None) -> None:
        if self.on_progress is not None:
            self.on_progress(phase, done, total)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self._read())
            for _ in range(self.writers):
                group.create_task(self._write())

    async def _write(self) -> None:
        while True:
            item = await self.queue.get()
            if item is None:
                return
            sequence, namespace, records = item
            await _write_page(self.destination.with_namespace(namespace), records, self.policy)
            self.tracker.acknowledge(sequence)

    async def _read(self) -> None:
        for namespace in self.checkpoint.order:
            entry = self.checkpoint.namespace(namespace)
            if entry["done"] and entry["pruned"]:
                continue
            await self._namespace(namespace, entry)
        for _ in range(self.writers):
            await self.queue.put(None)

    async def _digests(self, namespace: str) -> dict[str, bytes]:
        digests: dict[str, bytes] = {}
        async for page in self.policy.scan(self.destination.with_namespace(namespace), self.page_size):
            for record in page.records:
                digests[record.id] = content_digest(record)
            self._progress(f"index destination {namespace}", len(digests), None)
        return digests

    async def _namespace(self, namespace: str, entry: dict[str, Any]) -> None:
        digests = await self._digests(namespace)
        skip = self.excluded.get(namespace, set())
        if not entry["done"]:
            scoped = self.source.with_namespace(namespace)
            async for page in self.policy.scan(scoped, self.page_size, cursor=entry["cursor"]):
                kept = [r for r in page.records if r.id not in skip] if skip else page.records
                changed, tallies = await self._classify(namespace, kept, digests)
                sequence = self.tracker.register(namespace, page.cursor, len(changed), tallies=tallies)
                if changed:
                    await self.queue.put((sequence, namespace, changed))
                else:
                    self.tracker.acknowledge(sequence)
                self.compared += len(page.records)
                self._progress("compare", self.compared, self.plan.total)
            self.tracker.acknowledge(self.tracker.register(namespace, None, 0, end=True))
        for record_id in skip:
            digests.pop(record_id, None)
        await self._leftovers(namespace, entry, list(digests))

    async def _classify(
        self, namespace: str, records: list[Record], digests: dict[str, bytes]
    ) -> tuple[list[Record], dict[str, int]]:
        """The records to write and the page's counts; a differing digest is confirmed record by record."""
        tallies = dict.fromkeys(("added", "updated", "unchanged"), 0)
        changed: list[Record] = []
        suspects: list[Record] = []
        for record in records:
            known = digests.pop(record.id, None)
            if known is None:
                tallies["added"] += 1
                changed.append(record)
            elif known == content_digest(record, self.normalize):
                tallies["unchanged"] += 1
            else:
                suspects.append(record)
        if suspects:
            scoped = self.destination.with_namespace(namespace)
            ids = [record.id for record in suspects]
            current = {record.id: record for record in await self.policy.call(partial(scoped.get, ids))}
            for record in suspects:
                other = current.get(record.id)
                if other is None or compare_records(record, other, namespace, self.normalize, self.floats):
                    tallies["updated"] += 1
                    changed.append(record)
                else:
                    tallies["unchanged"] += 1
        return changed, tallies

    async def _leftovers(self, namespace: str, entry: dict[str, Any], candidates: list[str]) -> None:
        """Destination ids the pass did not meet: those the source lacks are deleted (prune) or counted."""
        source = self.source.with_namespace(namespace)
        destination = self.destination.with_namespace(namespace)
        gone = 0
        for start in range(0, len(candidates), self.page_size):
            chunk = candidates[start : start + self.page_size]
            present = {r.id for r in await self.policy.call(partial(source.get, chunk, include_vector=False))}
            missing = [record_id for record_id in chunk if record_id not in present]
            if missing and self.prune:
                await self.policy.call(partial(destination.delete, ids=missing))
            gone += len(missing)
            self._progress(
                f"check leftovers {namespace}", min(start + self.page_size, len(candidates)), len(candidates)
            )
        # written after the namespace's last page is acknowledged: a crash before it prunes again (idempotent)
        while not entry["done"]:
            await asyncio.sleep(0.01)
        entry["deleted" if self.prune else "extra"] = gone
        entry["pruned"] = True
        self.checkpoint.save()


async def sync(
    source: Collection,
    destination: Collection,
    *,
    namespaces: Sequence[str] | None = None,
    prune: bool = False,
    verify_mode: VerifyMode | str = "count",
    dry_run: bool = False,
    resume: bool = False,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    page_size: int | None = None,
    writers: int = 4,
    retries: int = 5,
    retry_delay: float = 0.5,
    sample_size: int = 1000,
    sample_queries: int = 20,
    top_k: int = 10,
    on_progress: ProgressCallback | None = None,
    on_plan: Callable[[MigrationPlan], None] | None = None,
) -> SyncReport:
    """Make ``destination`` equal ``source``: upsert what is missing or differs, delete (``prune``)
    what the source no longer has, then verify like :func:`~vecbridge.migrate.migrate`.

    The destination is created with the source's facts when missing (then a sync is a migration).
    Checked before any write by the same plan as a migration (dimension, metric, embedding model,
    record limits). ``resume`` continues an interrupted pass from its checkpoint; a server that goes
    away is waited for (``retries`` with jittered exponential backoff from ``retry_delay``), and
    past that :class:`SyncFailedError` keeps the checkpoint. A second sync with no change in between
    reports ``changes == 0``.
    """
    if verify_mode not in VERIFY_MODES:
        raise InvalidArgumentError(f"verify must be one of {', '.join(VERIFY_MODES)}, got {verify_mode!r}")
    if page_size is None:
        page_size = max(1, min(source.store.adapter.max_batch, destination.store.adapter.max_batch, 5000))
    if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
        raise InvalidArgumentError(f"page_size must be a positive int, got {page_size!r}")
    if isinstance(writers, bool) or not isinstance(writers, int) or writers < 1:
        raise InvalidArgumentError(f"writers must be a positive int, got {writers!r}")
    plan = await plan_migration(
        source,
        destination,
        namespaces=namespaces,
        restart=True,  # a migration's checkpoint is not this sync's
        allow_existing=True,
        checkpoint_dir=checkpoint_dir,
    )
    path = _checkpoint_path(plan, namespaces, prune)
    plan.checkpoint_path = str(path)
    existing = Checkpoint.load(path) if resume else None
    plan.resume_from = existing.state if existing is not None else None
    if on_plan is not None:
        on_plan(plan)
    report = SyncReport(plan=plan, status="dry_run", prune=prune, resumed=existing is not None)
    if dry_run:
        return report
    if not plan.ok:
        raise MigrationRefusedError(plan)
    destination = await prepared_destination(plan, destination)
    order = await _namespaces(plan, destination, namespaces)
    checkpoint = existing if existing is not None else _fresh_checkpoint(path, plan, order, prune)
    checkpoint.save()

    started = time.perf_counter()
    run = _Pass(
        plan,
        source,
        destination,
        checkpoint,
        prune=prune,
        page_size=page_size,
        writers=max(1, min(writers, destination.store.adapter.max_concurrency)),
        policy=RetryPolicy(retries, retry_delay),
        on_progress=on_progress,
    )
    report.status = "failed"
    try:
        await run.run()
    except BaseExceptionGroup as group:
        first: BaseException = group
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        if not isinstance(first, Exception):
            raise
        report.seconds = time.perf_counter() - started
        report.namespaces = _counts(checkpoint)
        report.error = f"{type(first).__name__}: {first}"
        raise SyncFailedError(
            f"sync failed after retries; the checkpoint {checkpoint.path} resumes it (resume=True, --resume): "
            f"{report.error}",
            report,
        ) from first
    report.seconds = time.perf_counter() - started
    report.namespaces = _counts(checkpoint)
    report.verification = await verify(
        source,
        destination,
        verify_mode,
        plan=plan,
        sample_size=sample_size,
        sample_queries=sample_queries,
        top_k=top_k,
        page_size=page_size,
        on_progress=on_progress,
    )
    if not prune:
        _accept_kept_extras(report.verification, report.namespaces)
    if report.verification.ok:
        report.status = "succeeded"
        with contextlib.suppress(OSError):
            checkpoint.remove()
    else:
        report.error = f"verification found {len(report.verification.mismatches)} mismatches"
    return report


def _accept_kept_extras(verification: Verification, counts: dict[str, dict[str, int]]) -> None:
    """Without prune, destination records the source lacks stay by request: counted as ``extra``, not mismatches."""

    def explained(mismatch: Mismatch) -> bool:
        if mismatch.kind == "extra":
            return True
        if mismatch.kind != "count":
            return False
        seen = verification.counts.get(mismatch.namespace, {})
        kept = counts.get(mismatch.namespace, {}).get("extra", 0)
        return seen.get("destination") == seen.get("source", 0) + kept

    verification.mismatches = [mismatch for mismatch in verification.mismatches if not explained(mismatch)]


def _counts(checkpoint: Checkpoint) -> dict[str, dict[str, int]]:
    return {
        namespace: {tally: int(checkpoint.namespace(namespace).get(tally, 0)) for tally in TALLIES}
        for namespace in checkpoint.order
    }

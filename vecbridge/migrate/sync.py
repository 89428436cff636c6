"""Sync: bring a destination to the source's current state in one pass, writing only what differs.

A migration copies a snapshot while the source keeps changing; sync is the catch-up pass. Per
namespace both sides are scanned at once, and each id is compared where its two records meet::

    destination.scan --> id unmet?  -> destination_only[id] = 16-byte digest of its content
                         parked?    -> digests equal: unchanged; else the source's version is read
                                       (get) and compared exactly: updated or unchanged
    source.scan(cursor) -> id in destination_only -> digests equal: unchanged; else compared exactly
                           (the destination's version read by get): updated or unchanged
                           destination scan over -> added
                           else -> parked[id] = (digest, its page)
    destination scan over: every parked id is new -> read from the source (get), added
    ids left in destination_only -> asked of the source (get): those it lacks are deleted (--prune)
                                    or reported as extra

Exactly means :func:`compare_records` (vectors within float32 tolerance, typed metadata, document;
floats within the ulps a destination without exact floats declares). Changed records go through a
bounded queue to a few writers. Scan orders differ between backends (id order, insertion order,
offsets), so the two sides are not merged: an unmet id waits in one of the two maps, each id in at
most one, so memory is at most one entry per record of the namespace: 152 bytes in CPython for
16-character ids, 172 for UUID strings (id string, 16-byte digest, dict slot; tests/test_sync.py
keeps it under 200), 228 for a parked one (its page too): 150-230 MB per million records.
Everything else is bounded by the page size and the queue. The time is about the slower scan's,
not their sum.

The checkpoint advances over the contiguous prefix of source pages whose every record is compared
and written (a parked record settles when the destination scan meets it or ends), with those pages'
counts; ``resume`` continues from it (the destination is scanned again). Without ``resume`` a sync
starts over, which is always correct: it compares again. Deletion candidates are confirmed by asking
the source for them, so a resumed pass, or a record written to both sides while the pass ran, never
deletes a record the source still holds. A record written through a mirror between sync's read of
the source and its write of the destination can be left at the older version: the next sync repairs it.
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
from vecbridge.migrate.compare import Mismatch, compare_records, content_digest, float_allowance
from vecbridge.migrate.copy import _write_page
from vecbridge.migrate.errors import MigrationRefusedError, SyncFailedError
from vecbridge.migrate.plan import MigrationPlan, plan_migration, prepared_destination
from vecbridge.migrate.report import ProgressCallback
from vecbridge.migrate.retry import RetryPolicy
from vecbridge.migrate.verify import VERIFY_MODES, Verification, VerifyMode, verify
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


@dataclass(slots=True, eq=False)
class _OpenPage:
    """A source page until each of its records is compared (and written if it differed); then its
    cursor and counts go to the checkpoint (``tallies``, added to the namespace's entry)."""

    sequence: int = -1
    tallies: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("added", "updated", "unchanged", "written"), 0)
    )
    #: records waiting for the destination scan to meet their id
    unsettled: int = 0
    #: write batches of its records not yet acknowledged
    writes: int = 0
    looked_at: bool = False
    acknowledged: bool = False


@dataclass(slots=True)
class _Meeting:
    """Where the two scans of a namespace meet: each id waits in one map until the other side reads it."""

    #: destination records the source scan has not met yet: id -> digest (the prune candidates at the end)
    destination_only: dict[str, bytes] = field(default_factory=dict)
    #: source records the destination scan has not met yet: id -> (digest, its page)
    parked: dict[str, tuple[bytes, _OpenPage]] = field(default_factory=dict)
    destination_done: bool = False


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
        self.floats = float_allowance(destination)
        self.compared = 0
        self.queue: asyncio.Queue[tuple[_OpenPage, str, list[Record]] | None] = asyncio.Queue(maxsize=2 * writers)
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
            page, namespace, records = item
            await _write_page(self.destination.with_namespace(namespace), records, self.policy)
            page.writes -= 1
            page.tallies["written"] += len(records)
            self._settled(page)

    async def _read(self) -> None:
        for namespace in self.checkpoint.order:
            entry = self.checkpoint.namespace(namespace)
            if entry["done"] and entry["pruned"]:
                continue
            await self._namespace(namespace, entry)
        for _ in range(self.writers):
            await self.queue.put(None)

    def _settled(self, page: _OpenPage) -> None:
        """Acknowledge a source page to the checkpoint once each of its records is compared and written."""
        if page.looked_at and not page.unsettled and not page.writes and not page.acknowledged:
            page.acknowledged = True
            self.tracker.acknowledge(page.sequence)

    async def _enqueue(self, page: _OpenPage, namespace: str, records: list[Record]) -> None:
        if records:
            page.writes += 1
            await self.queue.put((page, namespace, records))

    async def _namespace(self, namespace: str, entry: dict[str, Any]) -> None:
        """Both sides scanned at once; each id is compared where its two records meet (see the module docstring)."""
        meeting = _Meeting()
        async with asyncio.TaskGroup() as group:
            group.create_task(self._scan_destination(namespace, meeting))
            if not entry["done"]:
                group.create_task(self._scan_source(namespace, entry, meeting))
        for record_id in self.excluded.get(namespace, set()):
            meeting.destination_only.pop(record_id, None)
        await self._leftovers(namespace, entry, list(meeting.destination_only))

    async def _scan_destination(self, namespace: str, meeting: _Meeting) -> None:
        seen = 0
        async for page in self.policy.scan(self.destination.with_namespace(namespace), self.page_size):
            differing: dict[str, tuple[Record, _OpenPage]] = {}
            for record in page.records:
                waiting = meeting.parked.pop(record.id, None)
                if waiting is None:
                    meeting.destination_only[record.id] = content_digest(record)
                elif waiting[0] == content_digest(record):
                    waiting[1].tallies["unchanged"] += 1
                    waiting[1].unsettled -= 1
                    self._settled(waiting[1])
                else:
                    differing[record.id] = (record, waiting[1])
            if differing:  # the source's version is needed to compare exactly and to write
                await self._confirm(namespace, differing, meeting)
            seen += len(page.records)
            self._progress(f"scan destination {namespace}", seen, None)
        meeting.destination_done = True  # from here the source scan writes what it does not meet as new
        await self._settle_new(namespace, meeting)

    async def _confirm(self, namespace: str, differing: dict[str, tuple[Record, _OpenPage]], meeting: _Meeting) -> None:
        """Parked source records whose destination digest differs: compared exactly, written if they differ."""
        scoped = self.source.with_namespace(namespace)
        current = {r.id: r for r in await self.policy.call(partial(scoped.get, list(differing)))}
        writes: dict[int, tuple[_OpenPage, list[Record]]] = {}
        for record_id, (theirs, page) in differing.items():
            ours = current.get(record_id)
            page.unsettled -= 1
            if ours is None:  # deleted at the source since its scan read it: a leftover like any other
                meeting.destination_only[record_id] = content_digest(theirs)
            elif compare_records(ours, theirs, namespace, self.normalize, self.floats):
                page.tallies["updated"] += 1
                writes.setdefault(page.sequence, (page, []))[1].append(ours)
            else:
                page.tallies["unchanged"] += 1
        for page, records in writes.values():
            await self._enqueue(page, namespace, records)
        for _, page in differing.values():
            self._settled(page)

    async def _scan_source(self, namespace: str, entry: dict[str, Any], meeting: _Meeting) -> None:
        skip = self.excluded.get(namespace, set())
        scoped = self.source.with_namespace(namespace)
        async for source_page in self.policy.scan(scoped, self.page_size, cursor=entry["cursor"]):
            page = _OpenPage()
            page.sequence = self.tracker.register(namespace, source_page.cursor, 0, tallies=page.tallies)
            changed: list[Record] = []
            suspects: list[Record] = []
            for record in source_page.records:
                if record.id in skip:
                    continue
                digest = content_digest(record, self.normalize)
                known = meeting.destination_only.pop(record.id, None)
                if known is None and meeting.destination_done:
                    page.tallies["added"] += 1
                    changed.append(record)
                elif known is None:
                    meeting.parked[record.id] = (digest, page)
                    page.unsettled += 1
                elif known == digest:
                    page.tallies["unchanged"] += 1
                else:
                    suspects.append(record)
            if suspects:
                changed += await self._differing(namespace, suspects, page)
            await self._enqueue(page, namespace, changed)
            page.looked_at = True
            self._settled(page)
            self.compared += len(source_page.records)
            self._progress("compare", self.compared, self.plan.total)
        end = _OpenPage(looked_at=True)
        end.sequence = self.tracker.register(namespace, None, 0, end=True)
        self._settled(end)

    async def _differing(self, namespace: str, suspects: list[Record], page: _OpenPage) -> list[Record]:
        """Source records whose digest differs from the destination's: those that differ exactly."""
        scoped = self.destination.with_namespace(namespace)
        current = {r.id: r for r in await self.policy.call(partial(scoped.get, [r.id for r in suspects]))}
        changed = []
        for record in suspects:
            other = current.get(record.id)
            if other is None or compare_records(record, other, namespace, self.normalize, self.floats):
                page.tallies["updated"] += 1
                changed.append(record)
            else:
                page.tallies["unchanged"] += 1
        return changed

    async def _settle_new(self, namespace: str, meeting: _Meeting) -> None:
        """Source records the whole destination scan did not meet: new, written from a fresh read."""
        parked = list(meeting.parked.items())
        meeting.parked.clear()
        scoped = self.source.with_namespace(namespace)
        for start in range(0, len(parked), self.page_size):
            chunk = parked[start : start + self.page_size]
            current = {r.id: r for r in await self.policy.call(partial(scoped.get, [i for i, _ in chunk]))}
            writes: dict[int, tuple[_OpenPage, list[Record]]] = {}
            for record_id, (_, page) in chunk:
                page.unsettled -= 1
                if record_id in current:
                    page.tallies["added"] += 1
                    writes.setdefault(page.sequence, (page, []))[1].append(current[record_id])
            for page, records in writes.values():
                await self._enqueue(page, namespace, records)
            for _, (_, page) in chunk:
                self._settled(page)

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

"""The copy itself: one reader and a few writers joined by a bounded queue, each page written with retries
and acknowledged to the checkpoint, so memory stays flat and nothing is ever skipped."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Protocol

from vecbridge.filters import Filter
from vecbridge.migrate.checkpoint import Checkpoint, PageTracker
from vecbridge.migrate.plan import MigrationPlan
from vecbridge.migrate.reembed import ReEmbedding
from vecbridge.migrate.report import ProgressCallback
from vecbridge.migrate.retry import RetryPolicy
from vecbridge.store import Collection
from vecbridge.types import Record


async def _write_page(collection: Collection, records: list[Record], retries: RetryPolicy) -> None:
    """Upsert one page; retry retryable failures with jittered exponential backoff, then raise."""
    await retries.call(lambda: collection.upsert(records, concurrency=1))


@dataclass(slots=True)
class _Sample:
    """Reservoir sample of copied record ids per namespace, for ``--verify sample``."""

    size: int
    seen: int = 0
    items: list[tuple[str, str]] = field(default_factory=list)
    rng: random.Random = field(default_factory=lambda: random.Random(0))

    def offer(self, namespace: str, record_id: str) -> None:
        self.seen += 1
        if len(self.items) < self.size:
            self.items.append((namespace, record_id))
        else:
            slot = self.rng.randrange(self.seen)
            if slot < self.size:
                self.items[slot] = (namespace, record_id)


class CopyEngine(Protocol):
    """What copies the planned records (``_copy`` here, or ``migrate.distributed.RayCopy``): it writes
    every selected record, advances ``checkpoint`` as pages are written, and returns the records written."""

    async def __call__(
        self,
        plan: MigrationPlan,
        source: Collection,
        destination: Collection,
        checkpoint: Checkpoint,
        *,
        filter: Filter | None,
        page_size: int,
        writers: int,
        queue_size: int,
        retries: int,
        retry_delay: float,
        sample: _Sample,
        on_progress: ProgressCallback | None,
        re_embed: ReEmbedding | None = None,
    ) -> int: ...


async def _copy(
    plan: MigrationPlan,
    source: Collection,
    destination: Collection,
    checkpoint: Checkpoint,
    *,
    filter: Filter | None,
    page_size: int,
    writers: int,
    queue_size: int,
    retries: int,
    retry_delay: float,
    sample: _Sample,
    on_progress: ProgressCallback | None,
    re_embed: ReEmbedding | None = None,
) -> int:
    """Run reader and writers until every selected namespace is done; returns records written.
    With ``re_embed`` each page's vectors are replaced by the function's before it is written."""
    queue: asyncio.Queue[tuple[int, str, list[Record]] | None] = asyncio.Queue(maxsize=queue_size)
    copied = 0
    total = plan.to_copy
    excluded = plan.exclusions()

    def advanced(count: int) -> None:
        nonlocal copied
        copied += count
        if on_progress is not None:
            on_progress("copy", checkpoint.written, total)

    tracker = PageTracker(checkpoint, advanced)
    policy = RetryPolicy(retries, retry_delay)

    async def read() -> None:
        for namespace in checkpoint.order:
            entry = checkpoint.namespace(namespace)
            if entry["done"]:
                continue
            scoped = source.with_namespace(namespace)
            skip = excluded.get(namespace)
            async for page in policy.scan(scoped, page_size, cursor=entry["cursor"], filter=filter):
                kept = [r for r in page.records if r.id not in skip] if skip else page.records
                for record in kept:
                    sample.offer(namespace, record.id)
                sequence = tracker.register(namespace, page.cursor, len(kept))
                if kept:
                    await queue.put((sequence, namespace, kept))
                else:  # every record of the page is a known exclusion: nothing to write
                    tracker.acknowledge(sequence)
            tracker.acknowledge(tracker.register(namespace, None, 0, end=True))
        for _ in range(writers):
            await queue.put(None)

    async def write() -> None:
        while True:
            item = await queue.get()
            if item is None:
                return
            sequence, namespace, records = item
            if re_embed is not None:
                records = re_embed.records(records)
            await _write_page(destination.with_namespace(namespace), records, policy)
            tracker.acknowledge(sequence)

    async with asyncio.TaskGroup() as group:
        group.create_task(read())
        for _ in range(writers):
            group.create_task(write())
    return copied

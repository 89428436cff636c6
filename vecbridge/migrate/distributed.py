"""The copy on Ray (``vecbridge migrate --engine ray``): each partition of each namespace is read by
a Ray Data read task, optionally re-embedded with ``map_batches``, and written through validated
upserts by Ray's writers; the plan, record limits, report and verification are the single-process
migration's (:func:`vecbridge.migrate.migrate` with ``engine=RayCopy(...)``).

Progress and failures::

    driver: plan -> partitions per namespace (saved in the checkpoint) -> ledger actor (on the driver's node)
    read task (per partition): ledger.resume_at -> scan pages from there -> blocks (a page each)
    [map_batches: the re-embedding function]
    write task: upsert a page -> ledger.acknowledge(partition, cursor before, cursor after, records)
    ledger: advances a partition's cursor over the contiguous chain of acknowledged pages and saves
            the checkpoint file after every page that advances one

A SIGKILLed worker's task is retried by Ray (Ray Data retries tasks lost to system failures); its
read task starts again from the partition's last acknowledged cursor, so finished partitions and
written pages are not copied again (a page in flight may be written twice: upserts are idempotent).
A restarted driver (``--resume``) loads the checkpoint with its partitions and cursors and reads
only what is left. A page whose write still fails after the retries fails the run, nothing skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

from vecbridge.adapter import Capability
from vecbridge.blocking import connect_sync
from vecbridge.errors import InvalidArgumentError, VecbridgeError
from vecbridge.filters import Filter
from vecbridge.layout import Layout
from vecbridge.migrate.checkpoint import Checkpoint
from vecbridge.migrate.copy import _Sample
from vecbridge.migrate.plan import MigrationPlan
from vecbridge.migrate.reembed import ReEmbedding
from vecbridge.migrate.report import ProgressCallback
from vecbridge.migrate.retry import RetryPolicy
from vecbridge.store import Collection, Store
from vecbridge.types import Record

try:
    import pyarrow as pa
    import ray
    import ray.cloudpickle
    import ray.data
    from ray.data import Datasink, Datasource, ReadTask
    from ray.data.block import BlockMetadata
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from vecbridge.ray import records_to_table, rows_to_records
except ImportError as missing:  # pragma: no cover - the module is an optional extra
    raise VecbridgeError("--engine ray needs Ray Data: pip install 'vecbridge[ray]'") from missing

#: Columns a block carries besides the records': which partition and which page of it the block is.
PAGE_COLUMNS = ("_partition", "_before", "_after", "_rows")
#: How often the driver reports progress while the copy runs, in seconds.
PROGRESS_INTERVAL = 1.0


class PartitionLedger:
    """The checkpoint of a distributed copy, kept by a Ray actor on the driver's node.

    Each namespace's partitions are entries ``{"start", "cursor", "done", "written"}`` in the
    checkpoint's ``partitions``. Pages are acknowledged in any order; a partition's cursor moves only
    along the chain ``cursor -> after`` of acknowledged pages, so it never passes an unwritten page.
    """

    def __init__(self, path: str, state: dict[str, Any]) -> None:
        self.checkpoint = Checkpoint(Path(path), state)
        self.waiting: dict[tuple[str, int], dict[str | None, tuple[str | None, int]]] = {}

    def _entry(self, namespace: str, index: int) -> dict[str, Any]:
        entry: dict[str, Any] = self.checkpoint.state["partitions"][namespace][index]
        return entry

    def resume_at(self, namespace: str, index: int) -> tuple[str | None, bool]:
        """Where the partition's next read starts, and whether it is done."""
        entry = self._entry(namespace, index)
        return entry["cursor"], bool(entry["done"])

    def acknowledge(self, namespace: str, index: int, before: str | None, after: str | None, count: int) -> None:
        """The page read from ``before`` up to ``after`` (``None``: the partition's end) holds ``count``
        written records."""
        entry = self._entry(namespace, index)
        if entry["done"]:
            return
        waiting = self.waiting.setdefault((namespace, index), {})
        waiting[before] = (after, count)
        totals = self.checkpoint.namespace(namespace)
        advanced = False
        while not entry["done"] and entry["cursor"] in waiting:
            after, count = waiting.pop(entry["cursor"])
            entry["written"] += count
            totals["written"] = int(totals["written"]) + count
            if after is None:
                entry["done"] = True
            else:
                entry["cursor"] = after
            advanced = True
        if advanced:
            totals["done"] = all(part["done"] for part in self.checkpoint.state["partitions"][namespace])
            self.checkpoint.save()

    def written(self) -> int:
        return self.checkpoint.written

    def state(self) -> dict[str, Any]:
        return self.checkpoint.state


@dataclass(frozen=True, slots=True)
class Endpoint:
    """What a worker needs to open one side of the copy on its own connection."""

    url: str
    collection: str
    layout: Layout | None

    @classmethod
    def of(cls, collection: Collection) -> Endpoint:
        return cls(collection.store.url.render(hide_password=False), collection.name, collection.declared_layout)


def _page_table(records: list[Record], namespace: str, index: int, before: str | None, after: str | None) -> pa.Table:
    """One page as a block: the records' columns, and which page of which partition it is."""
    table = records_to_table(records, namespace)
    rows = len(records)
    for name, values in zip(
        PAGE_COLUMNS,
        (
            pa.array([index] * rows, pa.int64()),
            pa.array([before] * rows, pa.string()),
            pa.array([after] * rows, pa.string()),
            pa.array([rows] * rows, pa.int64()),
        ),
        strict=True,
    ):
        table = table.append_column(name, values)
    return table


class PartitionSource(Datasource):
    """The partitions left to copy, one read task each, every page a block."""

    def __init__(
        self,
        source: Endpoint,
        partitions: list[tuple[str, int]],
        ledger: Any,
        page_size: int,
        filter: Filter | None,
        excluded: dict[str, set[str]],
    ) -> None:
        self.source = source
        self.partitions = partitions
        self.ledger = ledger
        self.page_size = page_size
        self.filter = filter
        self.excluded = excluded

    def estimate_inmemory_data_size(self) -> int | None:
        return None

    def get_read_tasks(
        self, parallelism: int, per_task_row_limit: int | None = None, data_context: Any = None
    ) -> list[ReadTask]:
        return [
            ReadTask(
                partial(self._read, namespace, index),
                BlockMetadata(num_rows=None, size_bytes=None, exec_stats=None, input_files=None),
            )
            for namespace, index in self.partitions
        ]

    def _read(self, namespace: str, index: int) -> Iterator[pa.Table]:
        cursor, done = ray.get(self.ledger.resume_at.remote(namespace, index))
        if done:
            return
        skip = self.excluded.get(namespace, set())
        before, ended = cursor, False
        with connect_sync(self.source.url) as store:
            collection = store.collection(self.source.collection, namespace, layout=self.source.layout)
            for page in collection.scan(self.page_size, cursor=cursor, filter=self.filter):
                kept = [r for r in page.records if r.id not in skip]
                if kept:
                    yield _page_table(kept, namespace, index, before, page.cursor)
                else:  # every record of the page is a known exclusion: nothing to write
                    ray.get(self.ledger.acknowledge.remote(namespace, index, before, page.cursor, 0))
                before, ended = page.cursor, page.cursor is None
        if not ended:  # the scan ended after empty pages (or found none): the rest of the range is empty
            ray.get(self.ledger.acknowledge.remote(namespace, index, before, None, 0))


class PartitionSink(Datasink[int]):
    """Writes each page through validated upserts (with the migration's retries), then acknowledges it."""

    def __init__(self, destination: Endpoint, ledger: Any, retries: RetryPolicy) -> None:
        self.destination = destination
        self.ledger = ledger
        self.retries = retries

    def write(self, blocks: Iterable[Any], ctx: Any) -> int:
        written = 0
        with connect_sync(self.destination.url) as store:
            target = store.collection(self.destination.collection, layout=self.destination.layout)
            for block in blocks:
                table = block if isinstance(block, pa.Table) else pa.Table.from_pandas(block)
                for (namespace, index, before, after, rows), records in _pages(table):
                    if len(records) != rows:
                        raise VecbridgeError(f"a page of partition {index} of {namespace!r} reached a writer split")
                    scoped = target.collection.with_namespace(namespace)
                    store.run(self.retries.call(partial(scoped.upsert, records, concurrency=1)))
                    ray.get(self.ledger.acknowledge.remote(namespace, index, before, after, rows))
                    written += rows
        return written


def _pages(table: pa.Table) -> Iterator[tuple[tuple[str, int, str | None, str | None, int], list[Record]]]:
    """The block's records grouped by the page they were read in, in order."""
    columns = table.to_pydict()
    groups: dict[tuple[str, int, str | None, str | None, int], list[int]] = {}
    for row in range(table.num_rows):
        key = (
            columns["namespace"][row],
            columns["_partition"][row],
            columns["_before"][row],
            columns["_after"][row],
            columns["_rows"][row],
        )
        groups.setdefault(key, []).append(row)
    for key, rows in groups.items():
        batch = {name: [columns[name][row] for row in rows] for name in ("id", "vector", "metadata", "document")}
        yield key, rows_to_records(batch)


def _re_embed_block(table: pa.Table, re_embed: ReEmbedding) -> pa.Table:
    """A block with its vectors replaced by the re-embedding function's vectors of its documents."""
    documents = table.column("document").to_pylist()
    missing = [
        record_id for record_id, text in zip(table.column("id").to_pylist(), documents, strict=True) if text is None
    ]
    if missing:
        raise InvalidArgumentError(f"records without a document cannot be re-embedded: {missing[:5]}")
    vectors = re_embed.vectors(documents)
    position = table.schema.get_field_index("vector")
    return table.set_column(position, "vector", pa.array(list(vectors), pa.list_(pa.float32())))


def _ship_by_value(re_embed: ReEmbedding) -> None:
    """Send the re-embedding function's module to the workers by value unless it is installed (a
    script or test module beside the driver is not importable on a worker)."""
    module = sys.modules.get(getattr(re_embed.function, "__module__", "") or "")
    location = getattr(module, "__file__", None) or ""
    if module is not None and module.__name__ != "__main__" and "site-packages" not in location:
        register: Callable[[ModuleType], None] = ray.cloudpickle.register_pickle_by_value
        register(module)


def check_reachable(*stores: Store) -> None:
    """Ray workers open both sides on connections of their own: an in-process store cannot be one."""
    for store in stores:
        if Capability.SHARED_ACROSS_CONNECTIONS not in store.capabilities:
            raise InvalidArgumentError(
                f"{store.url}: --engine ray needs a store other processes can open "
                f"({store.adapter.name} lacks {Capability.SHARED_ACROSS_CONNECTIONS.value})"
            )


@dataclass(frozen=True, slots=True)
class RayCopy:
    """A :class:`vecbridge.migrate.copy.CopyEngine` running on the connected Ray cluster: up to
    ``partitions`` partitions per namespace (a checkpoint's own partitions when resuming)."""

    partitions: int

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
    ) -> int:
        partitions = checkpoint.state.get("partitions", {})
        for namespace in checkpoint.order:
            entry = checkpoint.namespace(namespace)
            if not entry["done"] and entry["cursor"] is not None and namespace not in partitions:
                raise InvalidArgumentError(
                    f"checkpoint {checkpoint.path} holds a single-process copy's cursors: resume it with "
                    "--engine process"
                )
        try:
            return await self._copy(
                plan, source, destination, checkpoint, filter, page_size, retries, retry_delay, on_progress, re_embed
            )
        except Exception as exc:  # migrate() reports a failed copy from an exception group, as from its TaskGroup
            raise ExceptionGroup("the distributed copy failed", [_cause(exc)]) from None

    async def _copy(
        self,
        plan: MigrationPlan,
        source: Collection,
        destination: Collection,
        checkpoint: Checkpoint,
        filter: Filter | None,
        page_size: int,
        retries: int,
        retry_delay: float,
        on_progress: ProgressCallback | None,
        re_embed: ReEmbedding | None,
    ) -> int:
        check_reachable(source.store, destination.store)
        partitions: dict[str, list[dict[str, Any]]] = checkpoint.state.setdefault("partitions", {})
        for namespace in checkpoint.order:
            if not checkpoint.namespace(namespace)["done"] and namespace not in partitions:
                cursors = await source.with_namespace(namespace).partitions(self.partitions)
                partitions[namespace] = [{"start": c, "cursor": c, "done": False, "written": 0} for c in cursors]
        checkpoint.save()
        written_before = checkpoint.written
        left = [
            (namespace, index)
            for namespace in checkpoint.order
            if not checkpoint.namespace(namespace)["done"]
            for index, part in enumerate(partitions[namespace])
            if not part["done"]
        ]
        if not left:
            return 0
        here = NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=False)
        actor: Any = ray.remote(PartitionLedger)  # handles are typed loosely: methods are called by name
        ledger: Any = actor.options(scheduling_strategy=here).remote(str(checkpoint.path), checkpoint.state)
        try:
            _quiet_ray_data()
            reader = PartitionSource(Endpoint.of(source), left, ledger, page_size, filter, plan.exclusions())
            dataset = ray.data.read_datasource(reader, override_num_blocks=len(left))
            if re_embed is not None:
                _ship_by_value(re_embed)
                dataset = dataset.map_batches(
                    _re_embed_block, fn_args=(re_embed,), batch_format="pyarrow", batch_size=None
                )
            sink = PartitionSink(Endpoint.of(destination), ledger, RetryPolicy(retries, retry_delay))
            running = asyncio.ensure_future(asyncio.to_thread(dataset.write_datasink, sink))
            while not running.done():
                await asyncio.wait({running}, timeout=PROGRESS_INTERVAL)
                if on_progress is not None:
                    on_progress("copy", await ledger.written.remote(), plan.to_copy)
            await running
        finally:  # the driver's copy of the checkpoint takes the ledger's, whatever happened
            with contextlib.suppress(ray.exceptions.RayError):
                checkpoint.state = await ledger.state.remote()
            ray.kill(ledger)
        unfinished = [
            f"{namespace}#{index}"
            for namespace, parts in checkpoint.state["partitions"].items()
            for index, part in enumerate(parts)
            if not part["done"]
        ]
        if unfinished:
            raise VecbridgeError(f"the distributed copy ended with partitions unfinished: {', '.join(unfinished)}")
        return checkpoint.written - written_before


def _cause(error: Exception) -> Exception:
    """The vecbridge error inside a Ray task error, else the error itself."""
    cause = getattr(error, "cause", None)
    return cause if isinstance(cause, Exception) else error


def cluster_cpus() -> int:
    """The CPUs of the connected Ray cluster (the default number of partitions per namespace)."""
    resources: Callable[[], dict[str, float]] = ray.cluster_resources
    return max(1, int(resources().get("CPU", 1)))


@contextmanager
def ray_session(address: str | None) -> Iterator[None]:
    """Connected to the Ray cluster at ``address``; without one, a local Ray on 127.0.0.1 with this
    machine's cores, shut down afterwards. An already connected driver is left as it is."""
    if ray.is_initialized():
        yield
        return
    if address is not None:
        ray.init(address=address, log_to_driver=False)
    else:
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


def _quiet_ray_data() -> None:
    """The migration prints its own progress: Ray Data's progress bars and per-dataset logs stay off."""
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)

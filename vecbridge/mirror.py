"""A mirrored store: one store for the application, two behind it, for a cut-over without downtime.

``vb.mirror(primary_url, secondary_url, log_dir=...)`` is a :class:`~vecbridge.store.Store` (so
validation, batching and filters behave exactly as on any store). Every write goes to the primary
first; the caller's write fails only if the primary's does. Then the same write goes to the
secondary; if that fails (the server is restarting, the network is gone) the write is appended to
a durable :class:`~vecbridge.replay_log.ReplayLog` and retried in the background with jittered
exponential backoff until it lands, in order: while the log is not empty every new secondary write
queues behind it. ``store.pending`` is the log's length, ``await store.drain()`` waits for it.

Reads come from the primary. With ``shadow_reads=p`` a share ``p`` of queries also runs on the
secondary, in the background, and ``store.shadow`` records top-k agreement and both latencies.
``await store.switch()`` (with an empty log) makes the secondary the primary.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vecbridge.adapter import Adapter, BulkLoad, Capability
from vecbridge.errors import (
    CollectionExistsError,
    InvalidArgumentError,
    UnsupportedFeatureError,
    UnsupportedFilterError,
    VecbridgeError,
)
from vecbridge.filters import FilterNode, format_filter, parse_filter
from vecbridge.registry import adapter_for
from vecbridge.replay_log import ReplayLog, record_from_json, record_to_json
from vecbridge.store import Store
from vecbridge.types import CollectionSpec, FloatArray, Match, Page, Record, SearchParams
from vecbridge.url import URL

#: backoff of the replay loop: first delay, factor, cap (seconds), each with +-50 % jitter
REPLAY_BACKOFF = (0.05, 2.0, 5.0)


@dataclass(frozen=True, slots=True)
class MirrorFilter:
    """A filter compiled for both sides; the secondary's refusal is kept until a write needs it."""

    node: FilterNode
    primary: Any
    secondary: Any
    secondary_error: UnsupportedFilterError | None


@dataclass(slots=True)
class ShadowStats:
    """What shadow reads measured: how often the secondary's top-k ids equal the primary's, and latencies."""

    queries: int = 0
    #: mean share of the primary's ids the secondary also returned (recall of the secondary at k)
    agreement: float = 1.0
    identical: int = 0
    failures: int = 0
    primary_ms: list[float] = field(default_factory=list)
    secondary_ms: list[float] = field(default_factory=list)

    def add(self, primary: list[Match], secondary: list[Match], primary_ms: float, secondary_ms: float) -> None:
        wanted = [m.id for m in primary]
        got = {m.id for m in secondary}
        share = 1.0 if not wanted else sum(i in got for i in wanted) / len(wanted)
        self.agreement = (self.agreement * self.queries + share) / (self.queries + 1)
        self.queries += 1
        self.identical += wanted == [m.id for m in secondary]
        self.primary_ms.append(primary_ms)
        self.secondary_ms.append(secondary_ms)


class MirrorAdapter(Adapter):
    """Two adapters seen as one: primary answers, secondary follows through the replay log."""

    name = "mirror"

    def __init__(
        self, primary: Adapter, secondary: Adapter, log: ReplayLog, shadow_reads: float, timeout: float
    ) -> None:
        self.primary = primary
        self.secondary = secondary
        self.log = log
        self.shadow_reads = shadow_reads
        #: seconds a direct secondary write may take before it is queued instead (the caller waits no longer)
        self.timeout = timeout
        self.shadow = ShadowStats()
        self.secondary_failures = 0
        self._lock = asyncio.Lock()
        self._replaying: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()

    @classmethod
    def over(
        cls, primary: Adapter, secondary: Adapter, log: ReplayLog, shadow_reads: float, timeout: float
    ) -> MirrorAdapter:
        """A mirror whose limits and capabilities are those both sides share."""
        both = type(primary).capabilities & type(secondary).capabilities
        kind = type(
            cls.__name__,
            (cls,),
            {
                # atomic list upserts, native layouts and stored search defaults are per store
                "capabilities": both
                - {Capability.ATOMIC_UPSERT, Capability.NATIVE_LAYOUTS, Capability.SEARCH_DEFAULTS},
                "max_batch": min(primary.max_batch, secondary.max_batch),
                "max_request_bytes": _smaller(primary.max_request_bytes, secondary.max_request_bytes),
                "max_concurrency": min(primary.max_concurrency, secondary.max_concurrency),
                "max_top_k": min(primary.max_top_k, secondary.max_top_k),
            },
        )
        mirror: MirrorAdapter = kind(primary, secondary, log, shadow_reads, timeout)
        if len(log):
            mirror._kick()
        return mirror

    @classmethod
    async def connect(cls, url: URL) -> Adapter:
        raise UnsupportedFeatureError("a mirror is opened with vb.mirror(primary_url, secondary_url, log_dir=...)")

    async def close(self) -> None:
        for task in [*self._background, *([self._replaying] if self._replaying else [])]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.primary.close()
        await self.secondary.close()

    def compile_filter(self, node: FilterNode, collection: CollectionSpec) -> MirrorFilter:
        primary = self.primary.compile_filter(node, collection)
        try:
            return MirrorFilter(node, primary, self.secondary.compile_filter(node, collection), None)
        except UnsupportedFilterError as exc:
            return MirrorFilter(node, primary, None, exc)

    def check_storable(self, collection: CollectionSpec, record: Record) -> None:
        self.primary.check_storable(collection, record)
        self.secondary.check_storable(collection, record)

    # --- the secondary's writes ------------------------------------------------------------------

    async def _follow(self, entry: dict[str, Any]) -> None:
        """Apply ``entry`` to the secondary now, or queue it durably behind earlier misses."""
        async with self._lock:
            if not len(self.log):
                try:
                    await asyncio.wait_for(self._apply(entry), self.timeout)
                    return
                except Exception:  # any failure: the entry waits in the log, the caller's write stands
                    # (a timed-out write may have landed: replaying it is harmless, every entry is idempotent)
                    self.secondary_failures += 1
            self.log.append(entry)
            self._kick()

    def _kick(self) -> None:
        if self._replaying is None or self._replaying.done():
            self._replaying = asyncio.ensure_future(self._replay())

    async def _replay(self) -> None:
        first, factor, cap = REPLAY_BACKOFF
        delay = first
        while True:
            async with self._lock:
                entry = self.log.first()
                if entry is None:
                    return
                try:
                    await self._apply(entry)
                except Exception:
                    self.secondary_failures += 1
                else:
                    self.log.applied_first()
                    delay = first
                    continue
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(cap, delay * factor)

    async def drain(self, timeout: float | None = None) -> None:
        """Wait until every queued secondary write has landed (``TimeoutError`` after ``timeout``)."""
        if len(self.log):
            self._kick()
        if self._replaying is not None:
            await asyncio.wait_for(asyncio.shield(self._replaying), timeout)

    async def _apply(self, entry: dict[str, Any]) -> None:
        op = entry["op"]
        if op == "create_collection":
            spec = CollectionSpec.from_dict(entry["spec"])
            try:
                await self.secondary.create_collection(spec)
            except CollectionExistsError:  # an earlier attempt landed, or it was made there beforehand
                existing = await self.secondary.describe_collection(spec.name)
                if (existing.dimension, existing.metric) != (spec.dimension, spec.metric):
                    raise
            return
        if op == "drop_collection":
            with contextlib.suppress(VecbridgeError):
                await self.secondary.drop_collection(entry["name"])
            return
        spec = await self.secondary.describe_collection(entry["collection"])
        namespace = entry["namespace"]
        if op == "upsert":
            records = [record_from_json(r) for r in entry["records"]]
            await self.secondary.upsert(spec, namespace, records)
        elif op == "delete_ids":
            await self.secondary.delete_ids(spec, namespace, entry["ids"])
        else:
            node = None if entry["filter"] is None else parse_filter(entry["filter"])
            compiled = None if node is None else self.secondary.compile_filter(node, spec)
            await self.secondary.delete_where(spec, namespace, compiled)

    # --- collections -----------------------------------------------------------------------------

    async def create_collection(self, spec: CollectionSpec) -> None:
        await self.primary.create_collection(spec)
        await self._follow({"op": "create_collection", "spec": spec.to_dict()})

    async def drop_collection(self, name: str) -> None:
        await self.primary.drop_collection(name)
        await self._follow({"op": "drop_collection", "name": name})

    async def list_collections(self) -> list[CollectionSpec]:
        return await self.primary.list_collections()

    async def describe_collection(self, name: str) -> CollectionSpec:
        return await self.primary.describe_collection(name)

    async def list_namespaces(self, collection: CollectionSpec) -> list[str]:
        return await self.primary.list_namespaces(collection)

    # --- records ---------------------------------------------------------------------------------

    async def upsert(self, collection: CollectionSpec, namespace: str, records: Sequence[Record]) -> None:
        await self.primary.upsert(collection, namespace, records)
        await self._follow(
            {
                "op": "upsert",
                "collection": collection.name,
                "namespace": namespace,
                "records": [record_to_json(r) for r in records],
            }
        )

    async def delete_ids(self, collection: CollectionSpec, namespace: str, ids: Sequence[str]) -> None:
        await self.primary.delete_ids(collection, namespace, ids)
        await self._follow({"op": "delete_ids", "collection": collection.name, "namespace": namespace, "ids": ids})

    async def delete_where(self, collection: CollectionSpec, namespace: str, filter: Any | None) -> None:
        if isinstance(filter, MirrorFilter) and filter.secondary_error is not None:
            raise filter.secondary_error  # before any request: the two sides must delete the same records
        await self.primary.delete_where(collection, namespace, _primary(filter))
        node = None if filter is None else format_filter(filter.node)
        await self._follow(
            {"op": "delete_where", "collection": collection.name, "namespace": namespace, "filter": node}
        )

    async def query(
        self,
        collection: CollectionSpec,
        namespace: str,
        vector: FloatArray,
        top_k: int,
        filter: Any | None,
        include_vectors: bool,
        search: SearchParams | None = None,
    ) -> list[Match]:
        """The primary's answer; with ``search`` (both sides declare the knob) it goes to both."""
        started = time.perf_counter()
        options = {} if search is None else {"search": search}
        matches = await self.primary.query(
            collection, namespace, vector, top_k, _primary(filter), include_vectors, **options
        )
        refused = isinstance(filter, MirrorFilter) and filter.secondary_error is not None
        if self.shadow_reads and not refused and random.random() < self.shadow_reads:
            elapsed = (time.perf_counter() - started) * 1000
            secondary_filter = None if filter is None else filter.secondary
            shadow = self._shadow_query(
                collection, namespace, vector, top_k, secondary_filter, matches, elapsed, options
            )
            self._in_background(shadow)
        return matches

    async def _shadow_query(
        self,
        collection: CollectionSpec,
        namespace: str,
        vector: FloatArray,
        top_k: int,
        filter: Any | None,
        primary: list[Match],
        primary_ms: float,
        options: dict[str, SearchParams],
    ) -> None:
        started = time.perf_counter()
        try:
            matches = await self.secondary.query(collection, namespace, vector, top_k, filter, False, **options)
        except Exception:
            self.shadow.failures += 1
            return
        self.shadow.add(primary, matches, primary_ms, (time.perf_counter() - started) * 1000)

    def _in_background(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def get(
        self, collection: CollectionSpec, namespace: str, ids: Sequence[str], include_vectors: bool
    ) -> list[Record]:
        return await self.primary.get(collection, namespace, ids, include_vectors)

    async def count(self, collection: CollectionSpec, namespace: str, filter: Any | None) -> int:
        return await self.primary.count(collection, namespace, _primary(filter))

    async def scan(
        self,
        collection: CollectionSpec,
        namespace: str,
        cursor: str | None,
        page_size: int,
        filter: Any | None,
        include_vectors: bool,
    ) -> Page:
        return await self.primary.scan(collection, namespace, cursor, page_size, _primary(filter), include_vectors)

    async def bulk_load(self, collection: CollectionSpec) -> BulkLoad:
        return await self.primary.bulk_load(collection)

    def switched(self) -> MirrorAdapter:
        """The same pair the other way round (the log must be empty)."""
        return MirrorAdapter.over(self.secondary, self.primary, self.log, self.shadow_reads, self.timeout)


def _primary(filter: Any | None) -> Any | None:
    return filter.primary if isinstance(filter, MirrorFilter) else filter


def _smaller(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


class MirroredStore(Store):
    """A store writing to two stores (see the module docstring); open it like any store."""

    def __init__(
        self,
        primary: str | URL,
        secondary: str | URL,
        *,
        log_dir: str | Path,
        shadow_reads: float = 0.0,
        secondary_timeout: float = 10.0,
    ) -> None:
        super().__init__(primary)
        self.secondary_url = secondary if isinstance(secondary, URL) else URL.parse(secondary)
        self._secondary_class = adapter_for(self.secondary_url.backend).variant(self.secondary_url)
        self.log_dir = Path(log_dir)
        if not 0.0 <= shadow_reads <= 1.0:
            raise InvalidArgumentError(f"shadow_reads is a share from 0 to 1, got {shadow_reads!r}")
        self.shadow_reads = shadow_reads
        self.secondary_timeout = secondary_timeout

    @property
    def mirror(self) -> MirrorAdapter:
        adapter = self.adapter
        assert isinstance(adapter, MirrorAdapter)
        return adapter

    async def open(self) -> MirroredStore:
        if self._adapter is None:
            primary = await self._adapter_class.connect(self.url)
            try:
                secondary = await self._secondary_class.connect(self.secondary_url)
            except BaseException:
                await primary.close()
                raise
            log = ReplayLog(self.log_dir)
            self._adapter = MirrorAdapter.over(primary, secondary, log, self.shadow_reads, self.secondary_timeout)
        return self

    async def __aenter__(self) -> MirroredStore:
        return await self.open()

    @property
    def pending(self) -> int:
        """Writes the secondary has not taken yet (they are in the durable replay log)."""
        return len(self.mirror.log)

    @property
    def shadow(self) -> ShadowStats:
        return self.mirror.shadow

    async def drain(self, timeout: float | None = None) -> None:
        """Wait until the secondary has every write (``TimeoutError`` after ``timeout`` seconds)."""
        await self.mirror.drain(timeout)

    async def switch(self) -> None:
        """Make the secondary the primary; refused while writes are still queued for it."""
        if self.pending:
            raise UnsupportedFeatureError(f"{self.pending} write(s) are still queued for the secondary: drain() first")
        self._adapter = self.mirror.switched()
        self.url, self.secondary_url = self.secondary_url, self.url
        self._adapter_class, self._secondary_class = self._secondary_class, self._adapter_class

    def __repr__(self) -> str:
        return f"<vecbridge.MirroredStore {self.url} -> {self.secondary_url}>"


def mirror(
    primary: str | URL,
    secondary: str | URL,
    *,
    log_dir: str | Path,
    shadow_reads: float = 0.0,
    secondary_timeout: float = 10.0,
) -> MirroredStore:
    """A store that writes to ``primary`` and, durably, to ``secondary``; reads from ``primary``."""
    return MirroredStore(
        primary, secondary, log_dir=log_dir, shadow_reads=shadow_reads, secondary_timeout=secondary_timeout
    )


__all__ = ["MirrorAdapter", "MirroredStore", "ShadowStats", "mirror"]

"""The public async API: ``Store`` (a connection) and ``Collection`` (one collection, one namespace).

Everything shared by every backend happens here, once: validation, batching, bounded concurrency,
retries of transient failures, namespace scoping, filter parsing, ``min_score`` and score order.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Generator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from functools import partial
from operator import attrgetter
from typing import Any, TypeVar

import numpy as np

from vecbridge.adapter import Adapter, Capability
from vecbridge.errors import (
    CollectionExistsError,
    CollectionNotFoundError,
    EmbeddingModelMismatchError,
    InvalidArgumentError,
    PartialWriteError,
    TransientBackendError,
    UnsupportedFeatureError,
    VecbridgeError,
)
from vecbridge.filters import Filter, FilterNode, MatchAll, parse_filter
from vecbridge.layout import Layout, LayoutInput
from vecbridge.registry import adapter_for
from vecbridge.types import (
    DEFAULT_NAMESPACE,
    HNSW,
    CollectionInfo,
    CollectionSpec,
    FloatArray,
    IndexSpec,
    Match,
    Metric,
    Page,
    Record,
    SearchParams,
    Vector,
)
from vecbridge.url import URL
from vecbridge.validation import (
    check_collection_name,
    check_dimension,
    check_id,
    check_namespace,
    check_native_name,
    check_record,
    check_records,
    check_vector,
)

T = TypeVar("T")
RETRY_DELAYS = (0.05, 0.2, 0.8)


_SCORE = attrgetter("score")


async def with_retries(operation: Callable[[], Awaitable[T]]) -> T:
    """Run ``operation``, retrying ``TransientBackendError`` with jittered exponential backoff."""
    for delay in RETRY_DELAYS:
        try:
            return await operation()
        except TransientBackendError:
            await asyncio.sleep(delay * (0.5 + random.random()))
    return await operation()


def record_size(record: Record) -> int:
    """Rough wire size of a record in bytes, for byte-bounded batches."""
    metadata = json.dumps(record.metadata, ensure_ascii=False) if record.metadata else ""
    return 4 * len(record.vector) + len(record.id) + len(metadata) + len(record.document or "") + 64


class Store:
    """A connection to one backend. Use ``async with vb.connect(url) as store`` (or ``await vb.connect(url)``)."""

    def __init__(self, url: str | URL) -> None:
        self.url = url if isinstance(url, URL) else URL.parse(url)
        self._adapter_class = adapter_for(self.url.backend).variant(self.url)
        self._adapter: Adapter | None = None

    @property
    def adapter(self) -> Adapter:
        if self._adapter is None:
            raise VecbridgeError("the store is not open: use 'async with vb.connect(url) as store'")
        return self._adapter

    @property
    def capabilities(self) -> frozenset[Capability]:
        """The connected adapter's flags: ``connect`` may return a subclass per URL variant (``qdrant+edge``)."""
        if self._adapter is not None:
            return type(self._adapter).capabilities
        return self._adapter_class.capabilities

    async def open(self) -> Store:
        if self._adapter is None:
            self._adapter = await self._adapter_class.connect(self.url)
        return self

    def __await__(self) -> Generator[Any, None, Store]:
        return self.open().__await__()

    async def close(self) -> None:
        adapter, self._adapter = self._adapter, None
        if adapter is not None:
            await adapter.close()

    async def __aenter__(self) -> Store:
        return await self.open()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<vecbridge.Store {self.url}>"

    async def create_collection(
        self,
        name: str,
        dimension: int,
        metric: str | Metric = Metric.COSINE,
        *,
        index: IndexSpec | None = None,
        embedding_model: str | None = None,
        namespace: str = DEFAULT_NAMESPACE,
        exist_ok: bool = False,
        layout: LayoutInput = None,
    ) -> Collection:
        """Create a collection and store its facts with it; returns it scoped to ``namespace``.

        With ``exist_ok`` an existing collection with the same dimension and metric is returned;
        different facts raise ``CollectionExistsError``. With ``layout`` (a preset such as
        ``"langchain"``, or a ``Layout``) the collection is created in that native shape, so the
        framework or application that reads that shape can read it; it is returned writable.
        """
        native = Layout.parse(layout)
        if native is not None:
            self._require_native_layouts()
            # the metric given is the layout's unless it declares one: a table without an ANN index
            # (Flat) stores it nowhere, and the collection returned must still be queryable
            native = native.over(Layout(writable=True, metric=Metric.parse(metric)))
        spec = CollectionSpec(
            name=check_collection_name(name) if native is None else check_native_name(name),
            dimension=check_dimension(dimension),
            metric=Metric.parse(metric),
            index=index if index is not None else HNSW(),
            embedding_model=embedding_model,
            layout=native,
        )
        try:
            await self.adapter.create_collection(spec)
        except CollectionExistsError:
            if not exist_ok:
                raise
            existing = await self._describe(name, native)
            # dimension 0: a native collection that learns it from its first record (Chroma) and has none yet
            if (existing.dimension or spec.dimension, existing.metric) != (spec.dimension, spec.metric):
                raise CollectionExistsError(
                    f"collection {name!r} exists with dimension {existing.dimension} and metric "
                    f"{existing.metric.value}, not {spec.dimension} and {spec.metric.value}"
                ) from None
            spec = replace(existing, dimension=existing.dimension or spec.dimension)
        if native is not None:  # the layout resolved by the store (fields, inferred roles), not the one declared
            described = await self.adapter.describe_native_collection(spec.name, native)
            spec = described if described.dimension else replace(described, dimension=spec.dimension)
        collection = self.collection(name, namespace=namespace, layout=native)
        collection._spec = spec
        return collection

    def collection(
        self,
        name: str,
        namespace: str = DEFAULT_NAMESPACE,
        *,
        embedding_model: str | None = None,
        layout: LayoutInput = None,
        writable: bool = False,
    ) -> Collection:
        """A handle on an existing collection; its facts are read on first use.

        With ``embedding_model``, the first call fails with ``EmbeddingModelMismatchError`` unless
        the collection was created for that model: vectors of two models never mix silently.

        A collection vecbridge did not create is read through a layout (``vecbridge.Layout``, a
        dict, JSON text or a preset name such as ``"langchain"``): declared keys win, the rest is
        inferred from the store. Without ``layout`` a name vecbridge does not know is looked up as
        a native collection with an inferred layout. Native collections are read-only unless
        ``writable=True``; reading one never writes to it.
        """
        declared = Layout.parse(layout)
        if writable:
            declared = Layout(writable=True) if declared is None else Layout(writable=True).over(declared)
        return Collection(self, _checked_name(name), check_namespace(namespace), embedding_model, declared)

    def _require_native_layouts(self) -> None:
        if Capability.NATIVE_LAYOUTS not in self.capabilities:
            raise UnsupportedFeatureError(
                f"{self._adapter_class.name} does not read or write collections in a native layout"
            )

    async def _describe(self, name: str, layout: Layout | None) -> CollectionSpec:
        """The spec of ``name``: through ``layout`` when one is declared, else vecbridge's own
        collection, else (on a backend with native layouts) the native collection, inferred."""
        if layout is not None and layout.declares_roles:
            self._require_native_layouts()
            return await self.adapter.describe_native_collection(name, layout)
        try:
            return await self.adapter.describe_collection(name)
        except (CollectionNotFoundError, InvalidArgumentError):
            # a name that is not portable is never a vecbridge collection: some backends refuse it
            if Capability.NATIVE_LAYOUTS not in self.capabilities:
                raise
        return await self.adapter.describe_native_collection(name, layout or Layout())

    async def describe_collection(self, name: str, *, layout: LayoutInput = None) -> CollectionInfo:
        """Facts and record count of a collection, a native one included (through ``layout`` or inferred)."""
        declared = Layout.parse(layout)
        spec = await self._describe(_checked_name(name), declared)
        return CollectionInfo(spec=spec, count=await self._count_all(spec))

    async def _count_all(self, spec: CollectionSpec) -> int:
        total = 0
        for namespace in await self.adapter.list_namespaces(spec):
            total += await self.adapter.count(spec, namespace, None)
        return total

    async def list_collections(self, *, native: bool = False) -> list[CollectionSpec]:
        """vecbridge's collections; with ``native=True`` also every collection vecbridge did not
        create (``spec.layout`` set, inferred), as far as the backend can discover them."""
        specs = await self.adapter.list_collections()
        if native and Capability.NATIVE_LAYOUTS in self.capabilities:
            known = {spec.name for spec in specs}
            specs += [spec for spec in await self.adapter.list_native_collections() if spec.name not in known]
        return sorted(specs, key=lambda spec: spec.name)

    async def drop_collection(self, name: str, *, missing_ok: bool = False) -> None:
        try:
            await self.adapter.drop_collection(check_collection_name(name))
        except CollectionNotFoundError:
            if not missing_ok:
                raise

    async def has_collection(self, name: str) -> bool:
        try:
            await self.adapter.describe_collection(check_collection_name(name))
        except CollectionNotFoundError:
            return False
        return True

    async def list_namespaces(self, name: str, *, layout: LayoutInput = None) -> list[str]:
        declared = Layout.parse(layout)
        spec = await self._describe(_checked_name(name), declared)
        return sorted(await self.adapter.list_namespaces(spec))


class Collection:
    """One collection seen through one namespace; every call is scoped to that namespace."""

    def __init__(
        self,
        store: Store,
        name: str,
        namespace: str,
        embedding_model: str | None = None,
        layout: Layout | None = None,
    ) -> None:
        self.store = store
        self.name = name
        self.namespace = namespace
        self.expected_embedding_model = embedding_model
        #: the layout the caller declared (``None``: vecbridge's own collection, or inferred)
        self.declared_layout = layout
        self._spec: CollectionSpec | None = None

    def __repr__(self) -> str:
        return f"<vecbridge.Collection {self.name!r} namespace={self.namespace!r} on {self.store.url}>"

    @property
    def _adapter(self) -> Adapter:
        return self.store.adapter

    def with_namespace(self, namespace: str) -> Collection:
        other = Collection(
            self.store, self.name, check_namespace(namespace), self.expected_embedding_model, self.declared_layout
        )
        other._spec = self._spec
        return other

    async def spec(self) -> CollectionSpec:
        """The collection's stored facts (read once per handle)."""
        if self._spec is None:
            spec = await self.store._describe(self.name, self.declared_layout)
            expected = self.expected_embedding_model
            if expected is not None and spec.embedding_model != expected:
                raise EmbeddingModelMismatchError(
                    f"collection {self.name!r} holds vectors of {spec.embedding_model!r}, not {expected!r}"
                )
            self._spec = spec
        return self._spec

    async def describe(self) -> CollectionInfo:
        spec = await self.spec()
        return CollectionInfo(spec=spec, count=await self._adapter.count(spec, self.namespace, None))

    def _check_writable(self, spec: CollectionSpec) -> None:
        """Writes to a native collection only when the caller opted in, refused before any request."""
        if spec.layout is not None and not spec.layout.writable:
            raise UnsupportedFeatureError(
                f"collection {self.name!r} was not created by vecbridge and is read-only: "
                "open it with writable=True (--to-layout on the command line) to write in its own shape"
            )

    def _compile(self, filter_: Filter | FilterNode | None, spec: CollectionSpec) -> Any | None:
        node = parse_filter(filter_)
        if isinstance(node, MatchAll):
            return None
        return self._adapter.compile_filter(node, spec)

    # --- writes --------------------------------------------------------------------------------

    async def upsert(
        self,
        records: Iterable[Record] | AsyncIterable[Record],
        *,
        batch_size: int | None = None,
        concurrency: int | None = None,
    ) -> int:
        """Insert or wholly replace records; returns how many were written.

        A list (or any iterable) is all or nothing for bad input: a record that fails validation or
        the backend's record limits (``Adapter.check_storable``) writes nothing. On a backend with
        ``Capability.ATOMIC_UPSERT`` the whole list is one transaction, validated batch by batch while
        the batches before are written; elsewhere it is validated entirely before the first write.
        An async iterable streams: each batch is validated and checked before it is written, and a
        failure after the first batch raises ``PartialWriteError`` naming what was written.
        Within one call the last record of an id wins.
        """
        spec = await self.spec()
        self._check_writable(spec)
        adapter = self._adapter
        size = max(1, min(batch_size or adapter.max_batch, adapter.max_batch))
        workers = max(1, min(concurrency or adapter.max_concurrency, adapter.max_concurrency))
        if isinstance(records, AsyncIterable):
            batches: AsyncIterator[list[Record]] = self._stream_batches(records, spec, size)
            planned: list[str] | None = None
        else:
            items = list(records)
            if Capability.ATOMIC_UPSERT in adapter.capabilities and items:
                return await with_retries(partial(self._upsert_atomic, items, spec, size))
            validated = list({record.id: record for record in check_records(items, spec)}.values())
            if adapter.has_record_limits():  # every record fits before the first write, or nothing is written
                for record in validated:
                    adapter.check_storable(spec, record)
            planned = [record.id for record in validated]
            batches = _aiter(_split(validated, size, adapter.max_request_bytes))
        return await self._write_batches(batches, spec, workers, planned)

    async def upsert_creating(
        self,
        records: Iterable[Record],
        *,
        metric: str | Metric = Metric.COSINE,
        dimension: int | None = None,
        embedding_model: str | None = None,
        batch_size: int | None = None,
    ) -> int:
        """``upsert``, creating the collection first when it does not exist (the framework stores'
        "created on first write"), with ``dimension`` (default: the first record's) and ``metric``.

        The records are validated against the collection they would create before it is created, so
        bad input creates nothing. A collection created concurrently with the same facts is used.
        """
        try:
            await self.spec()
        except CollectionNotFoundError:
            items = list(records)
            if not items:
                return 0
            first = items[0]
            size = dimension if dimension is not None else len(first.vector) if isinstance(first, Record) else 0
            facts = CollectionSpec(
                self.name, check_dimension(size), Metric.parse(metric), embedding_model=embedding_model
            )
            check_records(items, facts)
            await self.store.create_collection(
                self.name, facts.dimension, facts.metric, embedding_model=embedding_model, exist_ok=True
            )
            records = items
        return await self.upsert(records, batch_size=batch_size)

    async def _upsert_atomic(self, items: Sequence[object], spec: CollectionSpec, size: int) -> int:
        """One ``upsert_atomic`` call; each window of ``size`` items is validated (and checked against
        the record limits) only when the adapter asks for the next batch, so it overlaps the writes."""
        adapter = self._adapter
        fits = adapter.check_storable if adapter.has_record_limits() else None
        # the position of each id's last record: only that one is written (ids are distinct across batches)
        last = {
            item.id: position
            for position, item in enumerate(items)
            if isinstance(item, Record) and isinstance(item.id, str)
        }
        written = 0

        async def batches() -> AsyncIterator[list[Record]]:
            nonlocal written
            for start in range(0, len(items), size):
                checked = check_records(items[start : start + size], spec, first_position=start)
                if len(last) == len(items):  # no id repeats
                    kept = checked
                else:
                    kept = [record for offset, record in enumerate(checked) if last[record.id] == start + offset]
                if fits is not None:
                    for record in kept:
                        fits(spec, record)
                written += len(kept)
                for batch in _split(kept, size, adapter.max_request_bytes):
                    yield batch

        await adapter.upsert_atomic(spec, self.namespace, batches())
        return written

    async def _stream_batches(
        self, records: AsyncIterable[Record], spec: CollectionSpec, size: int
    ) -> AsyncIterator[list[Record]]:
        pending: dict[str, Record] = {}
        pending_bytes = 0
        limit = self._adapter.max_request_bytes
        fits = self._adapter.check_storable if self._adapter.has_record_limits() else None
        position = 0
        async for record in records:
            checked = check_record(record, spec, position)
            if fits is not None:
                fits(spec, checked)
            position += 1
            pending.pop(checked.id, None)
            pending[checked.id] = checked
            pending_bytes += record_size(checked)
            if len(pending) >= size or (limit is not None and pending_bytes >= limit):
                yield list(pending.values())
                pending, pending_bytes = {}, 0
        if pending:
            yield list(pending.values())

    async def _write_batches(
        self, batches: AsyncIterator[list[Record]], spec: CollectionSpec, workers: int, planned: list[str] | None
    ) -> int:
        written: list[str] = []
        attempted: list[str] = []
        failures: list[BaseException] = []
        running: dict[asyncio.Task[None], list[str]] = {}

        async def write(batch: list[Record]) -> None:
            await with_retries(lambda: self._adapter.upsert(spec, self.namespace, batch))

        def settle(done: Iterable[asyncio.Task[None]]) -> None:
            for task in done:
                ids = running.pop(task)
                if task.exception() is None:
                    written.extend(ids)
                else:
                    failures.append(task.exception())  # type: ignore[arg-type]

        try:
            async for batch in batches:
                if failures:
                    break
                attempted.extend(record.id for record in batch)
                running[asyncio.ensure_future(write(batch))] = [record.id for record in batch]
                if len(running) >= workers:
                    done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                    settle(done)
        except VecbridgeError as exc:  # a record of a stream failed validation
            failures.append(exc)
        finally:
            if running:
                done, _ = await asyncio.wait(running)
                settle(done)
        if failures:
            first = failures[0]
            if not written:
                raise first
            done_ids = set(written)
            everything = planned if planned is not None else attempted
            unwritten = [record_id for record_id in everything if record_id not in done_ids]
            raise PartialWriteError(
                f"upsert into {self.name!r} failed midway: {first}", written_ids=written, unwritten_ids=unwritten
            ) from first
        return len(written)

    async def delete(
        self, ids: Sequence[str] | None = None, *, filter: Filter | None = None, all: bool = False
    ) -> None:
        """Delete by ids (missing ids are fine), by a non-empty filter, or everything with ``all=True``."""
        given = sum(x for x in (ids is not None, filter is not None, all))
        if given != 1:
            raise InvalidArgumentError("delete takes exactly one of ids=[...], filter={...} or all=True")
        spec = await self.spec()
        self._check_writable(spec)
        if ids is not None:
            if isinstance(ids, str):
                raise InvalidArgumentError("ids must be a list of str, not a str")
            checked = list(dict.fromkeys(check_id(i) for i in ids))
            for start in range(0, len(checked), self._adapter.max_batch):
                chunk = checked[start : start + self._adapter.max_batch]
                await with_retries(partial(self._adapter.delete_ids, spec, self.namespace, chunk))
            return
        if filter is not None:
            compiled = self._compile(filter, spec)
            if compiled is None:
                raise InvalidArgumentError("an empty filter matches everything: use delete(all=True) to mean that")
            await with_retries(lambda: self._adapter.delete_where(spec, self.namespace, compiled))
            return
        await with_retries(lambda: self._adapter.delete_where(spec, self.namespace, None))

    # --- reads ---------------------------------------------------------------------------------

    async def query(
        self,
        vector: Vector,
        top_k: int = 10,
        *,
        filter: Filter | None = None,
        min_score: float | None = None,
        include_vector: bool = False,
        search: SearchParams | None = None,
    ) -> list[Match]:
        """The ``top_k`` best matches, best first; scores are higher-is-better and equal across backends.

        ``search`` sets the query-time effort (``vb.SearchParams(ef=...)``); without it the
        collection's stored default applies, if any (``vecbridge tune --apply``).
        """
        spec = self._spec or await self.spec()  # the common case without a coroutine: queries are hot
        if spec.layout is not None:
            spec.layout.require_metric(self.name)
        query_vector = self._check_query_vector(vector, spec)
        if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= self._adapter.max_top_k:
            raise InvalidArgumentError(f"top_k must be an int from 1 to {self._adapter.max_top_k}, got {top_k!r}")
        if min_score is not None and (isinstance(min_score, bool) or not np.isfinite(min_score)):
            raise InvalidArgumentError(f"min_score must be a finite number, got {min_score!r}")
        compiled = None if filter is None else self._compile(filter, spec)
        effort = search or self._stored_effort(spec)
        if effort is None:
            matches = await with_retries(
                lambda: self._adapter.query(spec, self.namespace, query_vector, top_k, compiled, include_vector)
            )
        else:
            self._check_search(effort)
            matches = await with_retries(
                lambda: self._adapter.query(  # type: ignore[call-arg]  # declared by SEARCH_* adapters
                    spec, self.namespace, query_vector, top_k, compiled, include_vector, search=effort
                )
            )
        cosine = spec.metric is Metric.COSINE
        for match in matches:
            if cosine and not -1.0 <= match.score <= 1.0:
                match.score = min(1.0, max(-1.0, match.score))
            if not include_vector:
                match.vector = None
        if min_score is not None:
            matches = [m for m in matches if m.score >= min_score]
        matches.sort(key=_SCORE, reverse=True)  # stable: ties keep the backend's order
        return matches[:top_k]

    def _stored_effort(self, spec: CollectionSpec) -> SearchParams | None:
        """The collection's stored default as a per-query setting: only the knobs this backend takes
        per query (a default it keeps in its own collection settings, such as Chroma's ``ef_search``,
        applies there without the query naming it; one stored by another backend is not refused)."""
        stored = spec.search
        if stored is None:
            return None
        offered = self.store.capabilities
        effort = SearchParams(
            ef=stored.ef if Capability.SEARCH_EF in offered else None,
            probes=stored.probes if Capability.SEARCH_PROBES in offered else None,
            exact=stored.exact and Capability.SEARCH_EXACT in offered,
        )
        return effort if effort.to_dict() else None

    def _check_search(self, search: SearchParams, default: bool = False) -> None:
        """Every knob set is one the backend honours (per query, or with ``default`` as a stored
        default), or ``UnsupportedFeatureError`` before any request."""
        if not isinstance(search, SearchParams):
            raise InvalidArgumentError(f"search must be a vb.SearchParams, got {type(search).__name__}")
        ef_kept = default and Capability.SEARCH_EF_DEFAULT in self.store.capabilities
        knobs = {
            Capability.SEARCH_EF: search.ef is not None and not ef_kept,
            Capability.SEARCH_PROBES: search.probes is not None,
            Capability.SEARCH_EXACT: search.exact,
        }
        for capability, used in knobs.items():
            if used and capability not in self.store.capabilities:
                raise UnsupportedFeatureError(f"{self._adapter.name} does not offer {capability.value} ({search})")

    async def set_search_defaults(self, search: SearchParams | None) -> None:
        """Store ``search`` as the effort every later query of this collection uses unless it sets its
        own (on any connection); ``None`` goes back to the backend's default. A knob is refused
        before any request unless the backend takes it per query or keeps it as a collection
        setting (``Capability.SEARCH_EF_DEFAULT``: Chroma's ``ef_search``)."""
        if Capability.SEARCH_DEFAULTS not in self.store.capabilities:
            raise UnsupportedFeatureError(f"{self._adapter.name} cannot store default search settings")
        if search is not None:
            self._check_search(search, default=True)
        spec = await self.spec()
        await self._adapter.set_search_defaults(spec, search)
        self._spec = replace(spec, search=search)

    def _check_query_vector(self, vector: Vector, spec: CollectionSpec) -> FloatArray:
        try:
            return check_vector(vector, spec, copy=False)
        except VecbridgeError as exc:
            kind = type(exc)
            raise kind(f"query vector: {exc}") from None

    async def get(self, ids: Sequence[str], *, include_vector: bool = True) -> list[Record]:
        """Records for the ids that exist, in the order asked; missing ids are silently absent."""
        if isinstance(ids, str):
            raise InvalidArgumentError("ids must be a list of str, not a str")
        spec = await self.spec()
        wanted = list(dict.fromkeys(check_id(i) for i in ids))
        found: dict[str, Record] = {}
        for start in range(0, len(wanted), self._adapter.max_batch):
            chunk = wanted[start : start + self._adapter.max_batch]
            for record in await with_retries(partial(self._adapter.get, spec, self.namespace, chunk, include_vector)):
                found[record.id] = record
        return [found[i] for i in wanted if i in found]

    async def partitions(self, count: int) -> list[str | None]:
        """Up to ``count`` disjoint ranges covering this namespace exactly once, each the cursor to pass
        to :meth:`scan` (``scan(cursor=partition)`` reads that range only, resumably). Backends
        without ``Capability.PARTITIONED_SCAN`` give one partition, ``None``: the whole namespace."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise InvalidArgumentError(f"the number of partitions must be a positive int, got {count!r}")
        spec = await self.spec()
        if count == 1 or Capability.PARTITIONED_SCAN not in self.store.capabilities:
            return [None]
        return await with_retries(partial(self._adapter.partitions, spec, self.namespace, count))

    @asynccontextmanager
    async def bulk_load(self) -> AsyncIterator[Collection]:
        """Load many records with index maintenance deferred until the block ends.

        ``async with collection.bulk_load(): await collection.upsert(...)``. On a backend with
        ``Capability.BULK_LOAD`` the ANN index is built once at the end (reads stay correct meanwhile,
        only slower); elsewhere the block is a no-op.
        """
        spec = await self.spec()
        async with await self._adapter.bulk_load(spec):
            yield self

    async def count(self, filter: Filter | None = None) -> int:
        spec = await self.spec()
        compiled = self._compile(filter, spec)
        return await with_retries(lambda: self._adapter.count(spec, self.namespace, compiled))

    async def scan(
        self,
        page_size: int = 1000,
        *,
        cursor: str | None = None,
        filter: Filter | None = None,
        include_vector: bool = True,
    ) -> AsyncIterator[Page]:
        """Every record of the namespace (matching ``filter``), page by page.

        Save ``page.cursor`` after handling a page to resume there later, even from another process.
        """
        if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
            raise InvalidArgumentError(f"page_size must be a positive int, got {page_size!r}")
        if cursor is not None and not isinstance(cursor, str):
            raise InvalidArgumentError(f"a scan cursor is the str a page gave, got {type(cursor).__name__}")
        spec = await self.spec()
        compiled = self._compile(filter, spec)
        size = min(page_size, self._adapter.max_batch)
        position = cursor
        while True:
            page = await with_retries(
                partial(self._adapter.scan, spec, self.namespace, position, size, compiled, include_vector)
            )
            if page.records:
                yield page
            if page.cursor is None:
                return
            position = page.cursor


def _checked_name(name: object) -> str:
    """A portable name, or the store's own name of a collection vecbridge did not create."""
    try:
        return check_collection_name(name)
    except InvalidArgumentError:
        return check_native_name(name)


def _split(records: list[Record], size: int, max_bytes: int | None) -> Iterable[list[Record]]:
    if max_bytes is None:
        for start in range(0, len(records), size):
            yield records[start : start + size]
        return
    batch: list[Record] = []
    batch_bytes = 0
    for record in records:
        weight = record_size(record)
        if batch and (len(batch) >= size or batch_bytes + weight > max_bytes):
            yield batch
            batch, batch_bytes = [], 0
        batch.append(record)
        batch_bytes += weight
    if batch:
        yield batch


async def _aiter(items: Iterable[T]) -> AsyncIterator[T]:
    for item in items:
        yield item


def connect(url: str | URL) -> Store:
    """A store for ``url``; open it with ``async with`` (or ``await``). The scheme picks the adapter."""
    return Store(url)

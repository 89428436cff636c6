"""The Qdrant adapter: one class of logic over a small :class:`~vecbridge_qdrant.transport.Transport`.

URLs (the ``+driver`` picks the transport and the capability set, see :meth:`QdrantAdapter.variant`):

* ``qdrant://host:6333`` REST, ``qdrant+grpc://host:6334`` gRPC (``AsyncQdrantClient``); options
  ``api_key`` (or the URL password), ``https=true``, ``timeout`` (seconds).
* ``qdrant+memory://`` (private) and ``qdrant+memory://NAME`` (shared in the process), and
  ``qdrant+local:///dir``: the client's local mode, a Python imitation of the server.
* ``qdrant+edge:///dir``: ``qdrant-edge-py``, the real Qdrant segment engine in-process.

How the contract maps onto Qdrant:

* ids: point id ``uuid5`` of ``[namespace, id]`` (:func:`vecbridge.adapter.uuid_for_id`), so ids never
  collide across namespaces; the original id is kept in payload ``_vb_id`` and always returned.
* namespaces: payload ``_vb_ns`` (a tenant keyword index where the engine has payload indexes);
  every request carries ``_vb_ns == namespace``, so isolation is exact.
* documents: payload ``_vb_doc``. Every ``_vb*`` key is stripped on read.
* collection facts: a reserved point (no ``_vb_ns``, so no namespace ever sees it) whose payload
  ``_vb_facts`` holds ``CollectionSpec.to_dict()``.
* scores: Qdrant returns cosine similarity and the dot product as they are and the true L2
  distance for Euclid, which becomes ``-distance``. Cosine vectors are stored normalized
  (``Capability.NORMALIZES_COSINE_VECTORS``).
* writes use ``wait=True``; ``scan`` is ``scroll`` and its cursor is the next point id.

Every other collection (no facts point) is read through a layout, and written in its own shape
only when the caller opts in: :mod:`vecbridge_qdrant.native` (inference, reads, writes) and
:mod:`vecbridge_qdrant.presets` (LangChain, LlamaIndex, Haystack). A spec whose ``layout`` is set
goes there from every primitive; the code below is vecbridge's own storage.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from qdrant_client import AsyncQdrantClient
from qdrant_client.http import models

from vecbridge.adapter import DOCUMENT_KEY, ID_KEY, NAMESPACE_KEY, Adapter, Capability, uuid_for_id
from vecbridge.errors import (
    BackendError,
    CollectionNotFoundError,
    InvalidArgumentError,
    InvalidURLError,
    TransientBackendError,
    UnsupportedFeatureError,
    VecbridgeError,
)
from vecbridge.filters import FilterNode
from vecbridge.layout import Layout as NativeLayout
from vecbridge.types import HNSW, CollectionSpec, Flat, FloatArray, Match, Metric, Page, Record, SearchParams
from vecbridge.url import URL
from vecbridge_qdrant.filters import QdrantFilterCompiler, with_namespace
from vecbridge_qdrant.native import NativeCollections
from vecbridge_qdrant.transport import ClientTransport, EdgeTransport, Hit, Layout, Transport

FACTS_KEY = "_vb_facts"
#: Point id of the reserved point holding a collection's facts (record point ids hash ``<digits>:...``).
FACTS_POINT = uuid_for_id("vecbridge:collection-facts")
CURSOR_PREFIX = "qdrant:"

_DISTANCE = {
    Metric.COSINE: models.Distance.COSINE,
    Metric.DOT: models.Distance.DOT,
    Metric.EUCLIDEAN: models.Distance.EUCLID,
}
_SERVER_OPTIONS = frozenset({"api_key", "https", "timeout"})


def point_id(namespace: str, record_id: str) -> str:
    """The point id of a record: distinct for every (namespace, id) pair (the length prefix makes
    ``namespace:id`` unambiguous, and never equals the facts point's name)."""
    return uuid_for_id(f"{len(namespace)}:{namespace}:{record_id}")


def encode_cursor(offset: str | None, until: str | None = None) -> str:
    """The point id a scan goes on from, and inside a partition ``~`` and the id it ends before."""
    return CURSOR_PREFIX + (offset or "") + ("" if until is None else f"~{until}")


def decode_cursor(cursor: str) -> tuple[str | None, str | None]:
    """``(offset, until)`` of a scan cursor: point ids from ``offset`` and below ``until`` (``None``: open)."""
    if cursor.startswith(CURSOR_PREFIX):
        offset, tilde, until = cursor[len(CURSOR_PREFIX) :].partition("~")
        try:
            return (
                None if tilde and not offset else str(uuid.UUID(offset)),
                str(uuid.UUID(until)) if tilde else None,
            )
        except ValueError:
            pass
    raise InvalidArgumentError(f"not a qdrant scan cursor: {cursor!r}")


def _before(point: str, until: str | None) -> bool:
    """Whether a point id lies before a partition's end (ids scroll in the order of their 128 bits)."""
    return until is None or uuid.UUID(point).int < uuid.UUID(until).int


def _record(hit: Hit, include_vectors: bool) -> Record:
    payload = hit.payload
    metadata = {k: v for k, v in payload.items() if not k.startswith("_vb")}
    vector = np.asarray(hit.vector, dtype=np.float32) if include_vectors else np.zeros(0, dtype=np.float32)
    return Record(str(payload[ID_KEY]), vector, metadata, payload.get(DOCUMENT_KEY))


class _SharedClients:
    """Local-mode clients shared by every connection to the same directory or memory name.

    A local-mode directory is locked by the client that opens it, and ``qdrant+memory://NAME`` is
    one store per process, so connections share one client; a directory is closed with its last user.
    """

    lock: ClassVar[threading.Lock] = threading.Lock()
    clients: ClassVar[dict[str, tuple[AsyncQdrantClient, int]]] = {}

    @classmethod
    def acquire(cls, key: str, make: Any) -> AsyncQdrantClient:
        with cls.lock:
            client, users = cls.clients.get(key) or (make(), 0)
            cls.clients[key] = (client, users + 1)
            return client

    @classmethod
    def release(cls, key: str) -> AsyncQdrantClient | None:
        """The client to close when its last user left; named memory stores live with the process."""
        with cls.lock:
            client, users = cls.clients[key]
            if users > 1 or key.startswith("memory:"):
                cls.clients[key] = (client, users - 1)
                return None
            del cls.clients[key]
            return client


class SharedClientTransport(ClientTransport):
    def __init__(self, key: str, make: Any) -> None:
        super().__init__(_SharedClients.acquire(key, make), local=True)
        self.key = key
        self._closed = False

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            client = _SharedClients.release(self.key)
            if client is not None:
                await client.close()


class QdrantAdapter(Adapter):
    """Qdrant through one of its transports; the class named by the entry point.

    ``capabilities`` here are those every variant has; :meth:`variant` names the class (and so the
    capability set) of one URL, and :meth:`connect` returns an instance of that class.
    """

    name: ClassVar[str] = "qdrant"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.NORMALIZES_COSINE_VECTORS})
    max_batch: ClassVar[int] = 1000
    max_request_bytes: ClassVar[int | None] = 24 * 2**20  # the server takes 32 MB per request
    max_concurrency: ClassVar[int] = 4
    filter_compiler = QdrantFilterCompiler

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        #: collections vecbridge did not create (a spec with a layout): :mod:`vecbridge_qdrant.native`
        self.native = NativeCollections(self)

    # --- connection ------------------------------------------------------------------------------

    @classmethod
    def variant(cls, url: URL) -> type[QdrantAdapter]:
        """The adapter class serving ``url``: its capabilities are those of that transport."""
        driver = url.driver or ""
        variants: dict[str, type[QdrantAdapter]] = {
            "": QdrantServerAdapter,
            "grpc": QdrantServerAdapter,
            "local": QdrantLocalAdapter,
            "memory": QdrantNamedMemoryAdapter if url.host else QdrantMemoryAdapter,
            "edge": QdrantEdgeAdapter,
        }
        if driver not in variants:
            known = ", ".join(f"qdrant+{d}" if d else "qdrant" for d in variants)
            raise InvalidURLError(f"{url}: unknown qdrant driver {driver!r}; known: {known}")
        return variants[driver]

    @classmethod
    async def connect(cls, url: URL) -> Adapter:
        variant = cls.variant(url)
        return variant(await variant.open_transport(url))

    @classmethod
    async def open_transport(cls, url: URL) -> Transport:
        raise NotImplementedError

    async def close(self) -> None:
        await self.transport.close()

    def map_error(self, exc: Exception, action: str) -> VecbridgeError:
        from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

        message = f"{self.name}: {action} failed: {type(exc).__name__}: {exc}"
        status = exc.status_code if isinstance(exc, UnexpectedResponse) else None
        if status == 404 or (isinstance(exc, ValueError) and "not found" in str(exc)):
            return CollectionNotFoundError(message)
        if status in (408, 429, 500, 502, 503, 504) or isinstance(exc, ResponseHandlingException | TimeoutError):
            return TransientBackendError(message, orig=exc)
        try:
            import grpc

            if isinstance(exc, grpc.RpcError):
                code = exc.code()
                if code == grpc.StatusCode.NOT_FOUND:
                    return CollectionNotFoundError(message)
                if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                    return TransientBackendError(message, orig=exc)
        except ImportError:  # pragma: no cover - grpc ships with qdrant-client
            pass
        return BackendError(message, orig=exc)

    # --- collections -----------------------------------------------------------------------------

    async def create_collection(self, spec: CollectionSpec) -> None:
        if spec.layout is not None:
            return await self.native.create(spec)
        index = spec.index
        layout = Layout(
            dimension=spec.dimension,
            distance=_DISTANCE[spec.metric],
            hnsw_m=index.m if isinstance(index, HNSW) else None,
            hnsw_ef_construct=index.ef_construction if isinstance(index, HNSW) else None,
        )
        with self.errors("create collection"):
            await self.transport.create(spec.name, layout, NAMESPACE_KEY)
            await self._write_facts(spec)

    async def set_search_defaults(self, collection: CollectionSpec, search: SearchParams | None) -> None:
        """The default is part of the facts point's payload, rewritten whole."""
        if collection.layout is not None:
            raise UnsupportedFeatureError(
                f"{self.name}: collection {collection.name!r} is not vecbridge's: it has no facts point to keep "
                "a default search setting in (pass search= per query)"
            )
        with self.errors("set search defaults"):
            spec = await self._facts(collection.name)
            if spec is None:
                raise CollectionNotFoundError(f"{collection.name!r} is not a vecbridge collection")
            await self._write_facts(replace(spec, search=search))

    async def _write_facts(self, spec: CollectionSpec) -> None:
        # a unit vector: the facts point must be a valid vector for every metric (cosine included)
        anchor = np.zeros((1, spec.dimension), dtype=np.float32)
        anchor[0, 0] = 1.0
        await self.transport.upsert(spec.name, [FACTS_POINT], anchor, [{FACTS_KEY: spec.to_dict()}])

    async def drop_collection(self, name: str) -> None:
        with self.errors("drop collection"):
            await self.transport.drop(name)

    async def _facts(self, name: str) -> CollectionSpec | None:
        hits = await self.transport.retrieve(name, [FACTS_POINT], with_vectors=False)
        facts = hits[0].payload.get(FACTS_KEY) if hits else None
        return CollectionSpec.from_dict(facts) if isinstance(facts, dict) else None

    async def list_collections(self) -> list[CollectionSpec]:
        specs = []
        with self.errors("list collections"):
            for name in await self.transport.collection_names():
                try:
                    spec = await self._facts(name)
                except CollectionNotFoundError:  # dropped meanwhile
                    continue
                if spec is not None:  # a collection vecbridge did not create
                    specs.append(spec)
        return specs

    async def describe_collection(self, name: str) -> CollectionSpec:
        with self.errors("describe collection"):
            spec = await self._facts(name)
        if spec is None:
            raise CollectionNotFoundError(f"{name!r} is not a vecbridge collection (it has no stored facts)")
        return spec

    async def list_native_collections(self) -> list[CollectionSpec]:
        return await self.native.list_all()

    async def describe_native_collection(self, name: str, layout: NativeLayout) -> CollectionSpec:
        return await self.native.describe(name, layout)

    def compile_filter(self, node: FilterNode, collection: CollectionSpec) -> Any:
        if collection.layout is not None:
            return self.native.compile_filter(node, collection)
        return super().compile_filter(node, collection)

    def check_storable(self, collection: CollectionSpec, record: Record) -> None:
        if collection.layout is not None:
            self.native.check_storable(collection, record)

    async def list_namespaces(self, collection: CollectionSpec) -> list[str]:
        if collection.layout is not None:
            return await self.native.list_namespaces(collection)
        with self.errors("list namespaces"):
            return await self.transport.facet(collection.name, NAMESPACE_KEY)

    # --- records ---------------------------------------------------------------------------------

    async def upsert(self, collection: CollectionSpec, namespace: str, records: Sequence[Record]) -> None:
        if collection.layout is not None:
            return await self.native.upsert(collection, namespace, records)
        ids = []
        payloads = []
        for record in records:
            payload: dict[str, Any] = dict(record.metadata)
            payload[ID_KEY] = record.id
            payload[NAMESPACE_KEY] = namespace
            if record.document is not None:
                payload[DOCUMENT_KEY] = record.document
            ids.append(point_id(namespace, record.id))
            payloads.append(payload)
        vectors = np.stack([np.asarray(r.vector, dtype=np.float32) for r in records])
        with self.errors("upsert"):
            await self.transport.upsert(collection.name, ids, vectors, payloads)

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
        """``search``: ``ef`` is Qdrant's ``hnsw_ef``, ``exact`` its ``exact`` (declared per variant:
        local mode searches exactly whatever it is asked, so it takes only ``exact``)."""
        if collection.layout is not None:
            return await self.native.query(collection, namespace, vector, top_k, filter, include_vectors, search)
        exact = isinstance(collection.index, Flat) or (search is not None and search.exact)
        with self.errors("query"):
            hits = await self.transport.search(
                collection.name,
                vector,
                top_k,
                with_namespace(namespace, filter),
                include_vectors,
                exact,
                hnsw_ef=None if search is None else search.ef,
            )
        sign = -1.0 if collection.metric is Metric.EUCLIDEAN else 1.0
        matches = []
        for hit in hits:
            record = _record(hit, include_vectors)
            matches.append(
                Match(
                    id=record.id,
                    score=sign * float(hit.score),
                    metadata=record.metadata,
                    document=record.document,
                    vector=np.asarray(record.vector, dtype=np.float32) if include_vectors else None,
                )
            )
        return matches

    async def get(
        self, collection: CollectionSpec, namespace: str, ids: Sequence[str], include_vectors: bool
    ) -> list[Record]:
        if collection.layout is not None:
            return await self.native.get(collection, namespace, ids, include_vectors)
        with self.errors("get"):
            hits = await self.transport.retrieve(
                collection.name, [point_id(namespace, i) for i in ids], include_vectors
            )
        return [_record(h, include_vectors) for h in hits if h.payload.get(NAMESPACE_KEY) == namespace]

    async def delete_ids(self, collection: CollectionSpec, namespace: str, ids: Sequence[str]) -> None:
        if collection.layout is not None:
            return await self.native.delete_ids(collection, namespace, ids)
        with self.errors("delete"):
            await self.transport.delete_ids(collection.name, [point_id(namespace, i) for i in ids])

    async def delete_where(self, collection: CollectionSpec, namespace: str, filter: Any | None) -> None:
        if collection.layout is not None:
            return await self.native.delete_where(collection, namespace, filter)
        with self.errors("delete"):
            await self.transport.delete_where(collection.name, with_namespace(namespace, filter))

    async def count(self, collection: CollectionSpec, namespace: str, filter: Any | None) -> int:
        if collection.layout is not None:
            return await self.native.count(collection, namespace, filter)
        with self.errors("count"):
            return await self.transport.count(collection.name, with_namespace(namespace, filter))

    async def scan(
        self,
        collection: CollectionSpec,
        namespace: str,
        cursor: str | None,
        page_size: int,
        filter: Any | None,
        include_vectors: bool,
    ) -> Page:
        if collection.layout is not None:
            return await self.native.scan(collection, namespace, cursor, page_size, filter, include_vectors)
        offset, until = (None, None) if cursor is None else decode_cursor(cursor)
        with self.errors("scan"):
            hits, next_offset = await self.transport.scroll(
                collection.name, offset, page_size, with_namespace(namespace, filter), include_vectors
            )
        inside = [h for h in hits if _before(h.id, until)]
        records = [_record(h, include_vectors) for h in inside]
        if next_offset is None or len(inside) < len(hits) or not _before(str(next_offset), until):
            return Page(records, None)
        return Page(records, encode_cursor(str(next_offset), until))

    async def partitions(self, collection: CollectionSpec, namespace: str, count: int) -> list[str | None]:
        """Equal slices of the point ids' uuid5 space (uniform, so about equal record counts): points
        scroll in id order, so a slice starts at its first id and a scan stops at the next slice's."""
        if collection.layout is not None:  # a native collection's ids need not be uniform uuids
            return [None]
        bounds = [str(uuid.UUID(int=(i << 128) // count)) for i in range(1, count)]
        offsets: list[str | None] = [None, *bounds]
        untils: list[str | None] = [*bounds, None]
        return [encode_cursor(offset, until) for offset, until in zip(offsets, untils, strict=True)]


def _no_options(url: URL) -> None:
    if url.query:
        raise InvalidURLError(f"{url}: unknown option(s) {sorted(url.query)}; this qdrant driver takes none")


class QdrantServerAdapter(QdrantAdapter):
    """``qdrant://host:6333`` (REST) and ``qdrant+grpc://host:6334`` (gRPC) on a Qdrant server."""

    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.NORMALIZES_COSINE_VECTORS,
            Capability.PARTITIONED_SCAN,
            Capability.PERSISTENT,
            Capability.SHARED_ACROSS_CONNECTIONS,
            Capability.NATIVE_LAYOUTS,
            Capability.SEARCH_EF,
            Capability.SEARCH_EXACT,
            Capability.SEARCH_DEFAULTS,
        }
    )

    @classmethod
    async def open_transport(cls, url: URL) -> Transport:
        if not url.host:
            raise InvalidURLError(f"{url}: a qdrant server URL needs a host, as in qdrant://127.0.0.1:6333")
        unknown = set(url.query) - _SERVER_OPTIONS
        if unknown:
            raise InvalidURLError(
                f"{url}: unknown option(s) {sorted(unknown)}; known: {', '.join(sorted(_SERVER_OPTIONS))}"
            )
        timeout = url.get("timeout")
        grpc = url.driver == "grpc"
        client = AsyncQdrantClient(
            host=url.host,
            port=6333 if grpc else (url.port or 6333),
            grpc_port=(url.port or 6334) if grpc else 6334,
            prefer_grpc=grpc,
            https=(url.get("https", "false") or "").lower() in ("1", "true", "yes"),
            api_key=url.get("api_key") or url.password,
            timeout=int(timeout) if timeout else None,
            # the version check is a blocking request made in the constructor, on the event loop
            check_compatibility=False,
        )
        return ClientTransport(client, local=False)


class QdrantMemoryAdapter(QdrantAdapter):
    """``qdrant+memory://``: the client's local mode in memory (a Python imitation of the server).

    Local mode searches exactly whatever it is asked (it warns about any search parameters): it
    declares ``SEARCH_EXACT``, which it always is, and no ``SEARCH_EF``, which it would ignore."""

    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.NORMALIZES_COSINE_VECTORS,
            Capability.PARTITIONED_SCAN,
            Capability.EXACT_SEARCH,
            Capability.EXACT_FLOATS,
            Capability.NATIVE_LAYOUTS,
            Capability.SEARCH_EXACT,
            Capability.SEARCH_DEFAULTS,
        }
    )
    max_batch: ClassVar[int] = 4096
    max_request_bytes: ClassVar[int | None] = None
    max_concurrency: ClassVar[int] = 1  # pure Python: concurrent batches only add contention

    @classmethod
    async def open_transport(cls, url: URL) -> Transport:
        _no_options(url)
        if url.path not in ("", "/"):
            raise InvalidURLError(f"{url}: use qdrant+memory:// or qdrant+memory://NAME (no path)")
        if url.host:
            return SharedClientTransport(f"memory:{url.host}", lambda: AsyncQdrantClient(location=":memory:"))
        return ClientTransport(AsyncQdrantClient(location=":memory:"), local=True)


class QdrantNamedMemoryAdapter(QdrantMemoryAdapter):
    """``qdrant+memory://NAME``: one local-mode store shared by every connection in the process."""

    capabilities: ClassVar[frozenset[Capability]] = QdrantMemoryAdapter.capabilities | {
        Capability.SHARED_ACROSS_CONNECTIONS
    }


class QdrantLocalAdapter(QdrantMemoryAdapter):
    """``qdrant+local:///dir``: the client's local mode persisted to a directory (one process at a time)."""

    capabilities: ClassVar[frozenset[Capability]] = QdrantMemoryAdapter.capabilities | {
        Capability.PERSISTENT,
        Capability.SHARED_ACROSS_CONNECTIONS,
    }

    @classmethod
    async def open_transport(cls, url: URL) -> Transport:
        _no_options(url)
        if url.host or url.path in ("", "/"):
            raise InvalidURLError(f"{url}: use qdrant+local:///absolute/dir (no host)")
        path = str(Path(url.path).resolve())
        return SharedClientTransport(f"path:{path}", lambda: AsyncQdrantClient(path=path))


class QdrantEdgeAdapter(QdrantAdapter):
    """``qdrant+edge:///dir``: the real Qdrant segment engine (``qdrant-edge-py``), one shard per collection.

    The edge library is synchronous: every call runs in a worker thread, off the event loop.
    Connections in one process share the open shards; searches are exact (see ``EdgeTransport``)
    unless they set ``SearchParams(ef=...)``: then the engine searches the HNSW graph of every
    segment ``optimize()`` has built one for, with that ``hnsw_ef``.
    """

    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.NORMALIZES_COSINE_VECTORS,
            Capability.PARTITIONED_SCAN,
            Capability.EXACT_SEARCH,
            Capability.PERSISTENT,
            Capability.NATIVE_LAYOUTS,
            Capability.SHARED_ACROSS_CONNECTIONS,
            Capability.SEARCH_EF,
            Capability.SEARCH_EXACT,
            Capability.SEARCH_DEFAULTS,
        }
    )
    max_batch: ClassVar[int] = 2048
    max_request_bytes: ClassVar[int | None] = None
    max_concurrency: ClassVar[int] = 2
    #: Measured on qdrant-edge-py 0.9.0: about 20% of ``i / 7`` (i <= 10,000) and ``2**53 - 1`` come
    #: back one unit in the last place off (the engine's payload floats are not correctly rounded).
    #: A Qdrant server runs the same engine but could not be measured here: it declares no bound.
    float_error_ulps: ClassVar[int | None] = 1

    @classmethod
    async def open_transport(cls, url: URL) -> Transport:
        _no_options(url)
        if url.host or url.path in ("", "/"):
            raise InvalidURLError(f"{url}: use qdrant+edge:///absolute/dir (no host)")
        return EdgeTransport.open(Path(url.path))

"""Chroma behind the portable contract: ``chroma://host:port`` (server) and ``chroma:///path`` (embedded).

URLs
    ``chroma://HOST:PORT?tenant=T&database=D&ssl=true`` talks to a ``chroma run`` server through
    ``chromadb.AsyncHttpClient`` (native async). ``chroma:///abs/dir?tenant=T&database=D`` opens the
    embedded ``chromadb.PersistentClient`` on a directory; its API is synchronous, so every call
    runs in a worker thread (``asyncio.to_thread``) and never blocks the event loop. Connections
    of one process to the same directory share one Chroma instance. Collections are always used
    with ``embedding_function=None``: vecbridge sends vectors, never text to embed.

How Chroma's quirks are hidden
    * Scores: Chroma returns distances (cosine ``1 - cos``, ip ``1 - dot``, l2 *squared*); they are
      turned into cosine similarity, inner product and minus the true L2 distance.
    * Upsert replaces the whole record: Chroma's ``upsert`` merges metadata into the stored record,
      so each batch first reads the stored metadata of its ids and sends ``None`` (Chroma's "remove
      this key") for every key the new record lacks; the write itself is one ``upsert`` request, so
      a reader never sees a record missing or half-written. Chroma cannot clear a document either
      (``None`` keeps the old one): a record whose document goes away gets ``""`` plus the reserved
      flag ``_vb_nodoc`` and reads back with ``document=None``. Two connections upserting the same
      id at the same moment race between that read and the write; vecbridge does not lock.
    * Namespaces: one Chroma collection holds every namespace; the reserved key ``_vb_ns`` is
      added to every record and to every ``where``, and the Chroma id is ``"<namespace>:<id>"``
      (namespaces never contain ``:``), so the same id lives independently in two namespaces.
    * Filters: see :mod:`vecbridge_chroma.filters` (list equality, ``$exists``, ``$not``, typed ``$in``).
    * Collection facts live in the Chroma collection's metadata under ``_vb_spec`` (JSON); Chroma
      collections without it are not vecbridge collections and are not listed.
    * Batches are sized from the server's ``get_max_batch_size()`` at connect time.

Scans and concurrent writes
    Every record carries ``_vb_key``, a 52-bit hash of its Chroma id. A scan walks that key space in
    ranges (``_vb_key >= lo and < hi``, the width sized from the matching count), and the cursor is
    the next ``lo`` plus the width, so it is resumable from any connection. Because a record's key
    never changes: a record present for the whole scan appears exactly once, even when other
    records are inserted, updated or deleted meanwhile (an offset cursor would skip records after
    a delete); a record updated during the scan is returned in whichever version was stored when
    its range was read; a record inserted or deleted during the scan appears at most once,
    depending on whether its key is above the cursor at that moment.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import math
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, ClassVar

import numpy as np

from vecbridge.adapter import NAMESPACE_KEY, Adapter, Capability
from vecbridge.errors import (
    BackendError,
    CollectionExistsError,
    CollectionNotFoundError,
    InvalidArgumentError,
    InvalidURLError,
    TransientBackendError,
    VecbridgeError,
)
from vecbridge.types import CollectionSpec, FloatArray, Match, Metadata, Metric, Page, Record
from vecbridge.url import URL
from vecbridge_chroma.filters import (
    LIST_PREFIX,
    ChromaFilterCompiler,
    Where,
    all_of,
    element_key,
    has_key,
    list_key,
    number_key,
)

SPEC_KEY = "_vb_spec"
SCAN_KEY = "_vb_key"
NO_DOCUMENT_KEY = "_vb_nodoc"
KEY_BITS = 52
KEY_SPACE = 1 << KEY_BITS
DEFAULT_PORT = 8000
SERVER_OPTIONS = frozenset({"tenant", "database", "ssl"})
EMBEDDED_OPTIONS = frozenset({"tenant", "database"})
SPACES = {Metric.COSINE: "cosine", Metric.DOT: "ip", Metric.EUCLIDEAN: "l2"}

#: Open server connections per event loop, to close chromadb's per-loop HTTP client with the last one.
_open_per_loop: dict[int, int] = {}


def native_id(namespace: str, record_id: str) -> str:
    return f"{namespace}:{record_id}"


def scan_key(chroma_id: str) -> int:
    """Position of a record in the scan order: 52 bits of a hash of its Chroma id."""
    digest = hashlib.blake2b(chroma_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> (64 - KEY_BITS)


def to_score(metric: Metric, distance: float) -> float:
    """Chroma's distance as a vecbridge score (higher is better)."""
    if metric is Metric.EUCLIDEAN:
        return -math.sqrt(max(distance, 0.0))
    return 1.0 - distance  # cosine: 1 - cos; ip: 1 - dot


def encode_metadata(namespace: str, chroma_id: str, metadata: Metadata) -> dict[str, Any]:
    """User metadata in Chroma form plus the reserved keys the filters and scans rely on (no arrays:
    see :mod:`vecbridge_chroma.filters`)."""
    encoded: dict[str, Any] = {NAMESPACE_KEY: namespace, SCAN_KEY: scan_key(chroma_id)}
    for key, value in metadata.items():
        encoded[has_key(key)] = True
        if isinstance(value, list):
            encoded[list_key(key)] = json.dumps(value, ensure_ascii=False)
            encoded.update((element_key(key, element), True) for element in value)
        else:
            encoded[key] = value
            if isinstance(value, int | float) and not isinstance(value, bool):
                encoded[number_key(key)] = True
    return encoded


def decode_record(
    chroma_id: str, metadata: dict[str, Any] | None, document: str | None, vector: Any
) -> tuple[str, Metadata, str | None, FloatArray]:
    stored = metadata or {}
    user: Metadata = {}
    for key, value in stored.items():
        if not key.startswith("_vb"):
            user[key] = value
        elif key.startswith(LIST_PREFIX):
            user[key[len(LIST_PREFIX) :]] = json.loads(value)
    if stored.get(NO_DOCUMENT_KEY):
        document = None
    array = np.zeros(0, dtype=np.float32) if vector is None else np.asarray(vector, dtype=np.float32)
    return chroma_id.split(":", 1)[1], user, document, array


def encode_cursor(low: int, width: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([low, width]).encode()).decode()


def decode_cursor(cursor: str) -> tuple[int, int]:
    try:
        low, width = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if isinstance(low, int) and isinstance(width, int) and 0 <= low <= KEY_SPACE and width >= 1:
            return low, width
    except (ValueError, TypeError):
        pass
    raise InvalidArgumentError(f"not a chroma scan cursor: {cursor!r}")


class ChromaAdapter(Adapter):
    """Chroma server (async HTTP) or embedded Chroma (synchronous client in worker threads).

    See the module docstring for the URL forms and how each Chroma quirk is hidden.
    """

    name: ClassVar[str] = "chroma"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.PERSISTENT, Capability.SHARED_ACROSS_CONNECTIONS}
    )
    #: Chroma's local default; replaced per connection by the server's ``get_max_batch_size()``.
    max_batch: ClassVar[int] = 5461
    max_concurrency: ClassVar[int] = 2
    filter_compiler = ChromaFilterCompiler

    def __init__(self, client: Any, embedded: bool, max_batch: int) -> None:
        self.client = client
        self.embedded = embedded
        # the core reads ``adapter.max_batch``; Chroma tells its limit only at run time
        setattr(self, "max_batch", max_batch)  # noqa: B010 (a ClassVar cannot be assigned through self)
        self._collections: dict[str, Any] = {}
        self._loop_key: int | None = None
        self._closed = False

    # --- connection ------------------------------------------------------------------------------

    @classmethod
    async def connect(cls, url: URL) -> Adapter:
        import chromadb
        from chromadb.config import Settings

        embedded = not url.host
        known = EMBEDDED_OPTIONS if embedded else SERVER_OPTIONS
        unknown = set(url.query) - known
        if unknown:
            raise InvalidURLError(f"{url}: unknown option(s) {sorted(unknown)}; known: {', '.join(sorted(known))}")
        if embedded and (not url.path or url.path == "/"):
            raise InvalidURLError(
                f"{url}: use chroma://HOST:PORT for a server or chroma:///abs/dir for embedded Chroma"
            )
        options: dict[str, Any] = {"settings": Settings(anonymized_telemetry=False)}
        for key in ("tenant", "database"):
            if url.get(key):
                options[key] = url.get(key)
        adapter = cls(None, embedded, cls.max_batch)
        client: Any
        with adapter.errors("connect"):
            if embedded:
                client = await asyncio.to_thread(chromadb.PersistentClient, path=url.path, **options)
            else:
                ssl = (url.get("ssl") or "false").lower() in ("1", "true", "yes")
                client = await chromadb.AsyncHttpClient(
                    host=url.host or "localhost", port=url.port or DEFAULT_PORT, ssl=ssl, **options
                )
                loop_key = hash(asyncio.get_running_loop())
                _open_per_loop[loop_key] = _open_per_loop.get(loop_key, 0) + 1
                adapter._loop_key = loop_key
            adapter.client = client
            setattr(adapter, "max_batch", int(await adapter._call(client.get_max_batch_size)))  # noqa: B010
        return adapter

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._collections.clear()
        if self._loop_key is None:
            return  # embedded: the shared Chroma instance stays open for other connections of the process
        _open_per_loop[self._loop_key] -= 1
        if _open_per_loop[self._loop_key] == 0:
            del _open_per_loop[self._loop_key]
            # chromadb keeps one httpx client per event loop in a class attribute and never closes it
            from chromadb.api.async_fastapi import AsyncFastAPI

            http = AsyncFastAPI._clients.pop(self._loop_key, None)
            if http is not None:
                await http.aclose()

    async def _call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run one client call: awaited on the server client, in a worker thread when embedded."""
        if self.embedded:
            return await asyncio.to_thread(method, *args, **kwargs)
        return await method(*args, **kwargs)

    def map_error(self, exc: Exception, action: str) -> VecbridgeError:
        import httpx
        from chromadb.errors import NotFoundError, RateLimitError

        message = f"{self.name}: {action} failed: {type(exc).__name__}: {exc}"
        if isinstance(exc, NotFoundError):
            return CollectionNotFoundError(f"{self.name}: {action}: {exc}")
        if isinstance(exc, RateLimitError | httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError):
            return TransientBackendError(message, orig=exc)
        return BackendError(message, orig=exc)

    # --- collections -----------------------------------------------------------------------------

    async def _collection(self, name: str) -> Any:
        cached = self._collections.get(name)
        if cached is not None:
            return cached
        with self.errors(f"open collection {name!r}"):
            try:
                collection = await self._call(self.client.get_collection, name, embedding_function=None)
            except Exception as exc:
                if "does not exist" in str(exc):
                    raise CollectionNotFoundError(f"collection {name!r} does not exist") from exc
                raise
        if SPEC_KEY not in (collection.metadata or {}):
            raise CollectionNotFoundError(f"collection {name!r} exists in Chroma but was not created by vecbridge")
        self._collections[name] = collection
        return collection

    async def _on_collection(self, name: str, action: str, operation: Callable[[Any], Any]) -> Any:
        """Run ``operation(chroma_collection)``; a cached handle on a collection that another
        connection dropped (and maybe re-created) is refreshed once."""
        from chromadb.errors import NotFoundError

        was_cached = name in self._collections
        collection = await self._collection(name)
        with self.errors(f"{action} on {name!r}"):
            try:
                return await operation(collection)
            except NotFoundError:
                if not was_cached:
                    raise
        self._collections.pop(name, None)
        collection = await self._collection(name)
        with self.errors(f"{action} on {name!r}"):
            return await operation(collection)

    async def create_collection(self, spec: CollectionSpec) -> None:
        hnsw: dict[str, Any] = {"space": SPACES[spec.metric]}
        kind = spec.index.kind
        if kind == "hnsw":
            m, ef = spec.index.m, spec.index.ef_construction  # type: ignore[union-attr]
            hnsw.update(max_neighbors=m, ef_construction=ef, ef_search=max(128, ef))
        elif kind == "flat":  # no flat index in Chroma: a wide HNSW search is exact in practice
            hnsw.update(max_neighbors=32, ef_construction=400, ef_search=1000)
        with self.errors(f"create collection {spec.name!r}"):
            try:
                collection = await self._call(
                    self.client.create_collection,
                    spec.name,
                    configuration={"hnsw": hnsw},
                    metadata={SPEC_KEY: json.dumps(spec.to_dict())},
                    embedding_function=None,
                )
            except Exception as exc:
                if "already exists" in str(exc):
                    raise CollectionExistsError(f"collection {spec.name!r} already exists") from exc
                raise
        self._collections[spec.name] = collection

    async def drop_collection(self, name: str) -> None:
        await self._collection(name)
        self._collections.pop(name, None)
        with self.errors(f"drop collection {name!r}"):
            try:
                await self._call(self.client.delete_collection, name)
            except Exception as exc:
                if "does not exist" in str(exc):
                    raise CollectionNotFoundError(f"collection {name!r} does not exist") from exc
                raise

    async def list_collections(self) -> list[CollectionSpec]:
        with self.errors("list collections"):
            collections = await self._call(self.client.list_collections)
        specs = []
        for collection in collections:
            facts = (collection.metadata or {}).get(SPEC_KEY)
            if facts:
                specs.append(CollectionSpec.from_dict(json.loads(facts)))
        return specs

    async def describe_collection(self, name: str) -> CollectionSpec:
        self._collections.pop(name, None)  # facts are read fresh: another connection may have re-created it
        collection = await self._collection(name)
        return CollectionSpec.from_dict(json.loads(collection.metadata[SPEC_KEY]))

    async def list_namespaces(self, collection: CollectionSpec) -> list[str]:
        """Distinct ``_vb_ns`` values, one ``limit=1`` read per namespace found (Chroma has no DISTINCT)."""
        found: list[str] = []
        while True:
            where = {NAMESPACE_KEY: {"$nin": found}} if found else None
            result = await self._on_collection(
                collection.name,
                "list namespaces",
                partial(self._read, where=where, limit=1, include=["metadatas"]),
            )
            if not result["ids"]:
                return found
            found.append(result["metadatas"][0][NAMESPACE_KEY])

    # --- records ---------------------------------------------------------------------------------

    async def _read(self, chroma: Any, **kwargs: Any) -> Any:
        return await self._call(chroma.get, **kwargs)

    def _where(self, namespace: str, filter: Where | None) -> Where:
        scope: Where = {NAMESPACE_KEY: namespace}
        return scope if filter is None else all_of(scope, filter)

    async def upsert(self, collection: CollectionSpec, namespace: str, records: Sequence[Record]) -> None:
        ids = [native_id(namespace, record.id) for record in records]

        async def write(chroma: Any) -> None:
            stored = await self._call(chroma.get, ids=ids, include=["metadatas", "documents"])
            previous = {
                chroma_id: (metadata or {}, document)
                for chroma_id, metadata, document in zip(
                    stored["ids"], stored["metadatas"], stored["documents"], strict=True
                )
            }
            metadatas: list[dict[str, Any]] = []
            documents: list[str | None] = []
            for chroma_id, record in zip(ids, records, strict=True):
                metadata = encode_metadata(namespace, chroma_id, record.metadata)
                document = record.document
                old = previous.get(chroma_id)
                if old is not None:
                    if document is None and old[1] is not None:
                        document, metadata[NO_DOCUMENT_KEY] = "", True
                    for stale in old[0].keys() - metadata.keys():
                        metadata[stale] = None  # Chroma's upsert merges: None removes the key
                metadatas.append(metadata)
                documents.append(document)
            vectors = np.stack([np.asarray(record.vector, dtype=np.float32) for record in records])
            await self._call(chroma.upsert, ids=ids, embeddings=vectors, metadatas=metadatas, documents=documents)

        await self._on_collection(collection.name, "upsert", write)

    async def query(
        self,
        collection: CollectionSpec,
        namespace: str,
        vector: FloatArray,
        top_k: int,
        filter: Any | None,
        include_vectors: bool,
    ) -> list[Match]:
        include = ["metadatas", "documents", "distances"] + (["embeddings"] if include_vectors else [])
        where = self._where(namespace, filter)
        result = await self._on_collection(
            collection.name,
            "query",
            lambda c: self._call(
                c.query,
                query_embeddings=[np.asarray(vector, dtype=np.float32)],
                n_results=top_k,
                where=where,
                include=include,
            ),
        )
        embeddings = result["embeddings"][0] if include_vectors else [None] * len(result["ids"][0])
        matches = []
        for chroma_id, metadata, document, distance, embedding in zip(
            result["ids"][0],
            result["metadatas"][0],
            result["documents"][0],
            result["distances"][0],
            embeddings,
            strict=True,
        ):
            record_id, user, text, array = decode_record(chroma_id, metadata, document, embedding)
            score = to_score(collection.metric, float(distance))
            matches.append(Match(record_id, score, user, text, array if include_vectors else None))
        return matches

    def _records(self, result: dict[str, Any], include_vectors: bool) -> list[Record]:
        embeddings = result["embeddings"] if include_vectors else [None] * len(result["ids"])
        records = []
        for chroma_id, metadata, document, embedding in zip(
            result["ids"], result["metadatas"], result["documents"], embeddings, strict=True
        ):
            record_id, user, text, array = decode_record(chroma_id, metadata, document, embedding)
            records.append(Record(record_id, array, user, text))
        return records

    async def get(
        self, collection: CollectionSpec, namespace: str, ids: Sequence[str], include_vectors: bool
    ) -> list[Record]:
        include = ["metadatas", "documents"] + (["embeddings"] if include_vectors else [])
        chroma_ids = [native_id(namespace, record_id) for record_id in ids]
        result = await self._on_collection(
            collection.name, "get", lambda c: self._call(c.get, ids=chroma_ids, include=include)
        )
        return self._records(result, include_vectors)

    async def delete_ids(self, collection: CollectionSpec, namespace: str, ids: Sequence[str]) -> None:
        chroma_ids = [native_id(namespace, record_id) for record_id in ids]
        await self._on_collection(collection.name, "delete", lambda c: self._call(c.delete, ids=chroma_ids))

    async def delete_where(self, collection: CollectionSpec, namespace: str, filter: Any | None) -> None:
        where = self._where(namespace, filter)
        await self._on_collection(collection.name, "delete", lambda c: self._call(c.delete, where=where))

    async def count(self, collection: CollectionSpec, namespace: str, filter: Any | None) -> int:
        """Chroma counts only whole collections, so this reads the matching ids (no vectors, no metadata)."""
        where = self._where(namespace, filter)
        result = await self._on_collection(
            collection.name, "count", lambda c: self._call(c.get, where=where, include=[])
        )
        return len(result["ids"])

    async def scan(
        self,
        collection: CollectionSpec,
        namespace: str,
        cursor: str | None,
        page_size: int,
        filter: Any | None,
        include_vectors: bool,
    ) -> Page:
        if cursor is None:
            total = await self.count(collection, namespace, filter)
            if total == 0:
                return Page([], None)
            low, width = 0, max(1, KEY_SPACE * page_size * 3 // (4 * total))
        else:
            low, width = decode_cursor(cursor)
        include = ["metadatas", "documents"] + (["embeddings"] if include_vectors else [])
        while True:
            high = min(KEY_SPACE, low + width)
            where = all_of(self._where(namespace, filter), {SCAN_KEY: {"$gte": low}}, {SCAN_KEY: {"$lt": high}})
            result = await self._on_collection(
                collection.name,
                "scan",
                partial(self._read, where=where, limit=page_size + 1, include=include),
            )
            if len(result["ids"]) <= page_size or width == 1:
                break
            width = max(1, width // 2)  # too many keys in this range: narrow it and read again
        records = self._records(result, include_vectors)
        if high >= KEY_SPACE:
            return Page(records, None)
        if len(records) < page_size // 4:
            width = min(KEY_SPACE, width * 2)
        return Page(records, encode_cursor(high, width))

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
    * Namespaces: each namespace is its own Chroma collection, so isolation is physical and an
      unfiltered query carries no ``where`` (a ``where`` matching every record makes Chroma build
      an allow-list and was 10x slower). The default namespace is the Chroma collection named like
      the vecbridge collection (holding the facts); namespace ``ns`` of ``docs`` is
      ``docs.<len(ns)>.<ns>`` (plus ``x`` when ``ns`` ends in ``_ . -``, which Chroma refuses
      last), created on first write. vecbridge names never contain ``.``, so the mapping is
      one-to-one. Chroma ids are the record ids, unchanged.
    * Filters: see :mod:`vecbridge_chroma.filters` (list equality, ``$exists``, ``$not``, typed ``$in``).
    * Collection facts live in the Chroma collection's metadata under ``_vb_spec`` (JSON); Chroma
      collections without it are not vecbridge collections and are not listed.
    * Batches are sized from the server's ``get_max_batch_size()`` at connect time.

Collections vecbridge did not create
    Every other Chroma collection of the tenant and database is read through a layout, and written
    in its own shape only when the caller opts in: :mod:`vecbridge_chroma.native` (inference, reads,
    writes, scans) and :mod:`vecbridge_chroma.presets` (LangChain, LlamaIndex). A spec with a
    ``layout`` goes there from every primitive; the code below is vecbridge's own storage.

Scans and concurrent writes
    Every record carries ``_vb_key``, a 52-bit hash of its Chroma id. A scan walks that key space in
    ranges (``_vb_key >= lo and < hi``, the width sized from the matching count), and the cursor is
    the next ``lo`` plus the width, so it is resumable from any connection. Because a record's key
    never changes: a record present for the whole scan appears exactly once, even when other
    records are inserted, updated or deleted meanwhile (an offset cursor would skip records after
    a delete); a record updated during the scan is returned in whichever version was stored when
    its range was read; a record inserted or deleted during the scan appears at most once,
    depending on whether its key is above the cursor at that moment. A partition
    (``Capability.PARTITIONED_SCAN``) is an equal slice ``[lo, end)`` of that key space; its cursors
    carry ``end``, so it scans and resumes like a whole scan.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from functools import partial
from typing import Any, ClassVar, TypeVar

import numpy as np

from vecbridge.adapter import Adapter, Capability, decode_cursor, encode_cursor
from vecbridge.errors import (
    BackendError,
    CollectionExistsError,
    CollectionNotFoundError,
    InvalidURLError,
    TransientBackendError,
    UnsupportedFeatureError,
    VecbridgeError,
)
from vecbridge.filters import FilterNode
from vecbridge.layout import Layout
from vecbridge.types import DEFAULT_NAMESPACE, CollectionSpec, FloatArray, Match, Metadata, Page, Record, SearchParams
from vecbridge.url import URL
from vecbridge_chroma.filters import (
    EVERYTHING,
    LIST_PREFIX,
    SCAN_KEY,
    ChromaFilterCompiler,
    Where,
    all_of,
    element_key,
    list_key,
    type_key,
    type_tag,
)
from vecbridge_chroma.metrics import SPACES, to_score
from vecbridge_chroma.native import NativeCollections

T = TypeVar("T")

SPEC_KEY = "_vb_spec"
#: Metadata of a namespace's Chroma collection: which vecbridge collection and namespace it holds.
PARENT_KEY = "_vb_of"
NAMESPACE_META_KEY = "_vb_ns"
NO_DOCUMENT_KEY = "_vb_nodoc"
KEY_BITS = 52
KEY_SPACE = 1 << KEY_BITS
DEFAULT_PORT = 8000
SERVER_OPTIONS = frozenset({"tenant", "database", "ssl"})
EMBEDDED_OPTIONS = frozenset({"tenant", "database"})

#: Open server connections per event loop, to close chromadb's per-loop HTTP client with the last one.
_open_per_loop: dict[int, int] = {}


def chroma_name(collection: str, namespace: str) -> str:
    """The Chroma collection holding one namespace of a vecbridge collection."""
    if namespace == DEFAULT_NAMESPACE:
        return collection
    tail = "" if namespace[-1].isalnum() else "x"
    return f"{collection}.{len(namespace)}.{namespace}{tail}"


def scan_key(chroma_id: str) -> int:
    """Position of a record in the scan order: 52 bits of a hash of its Chroma id."""
    digest = hashlib.blake2b(chroma_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> (64 - KEY_BITS)


def encode_metadata(chroma_id: str, metadata: Metadata) -> dict[str, Any]:
    """User metadata in Chroma form plus the reserved keys the filters and scans rely on (no arrays:
    see :mod:`vecbridge_chroma.filters`)."""
    encoded: dict[str, Any] = {SCAN_KEY: scan_key(chroma_id)}
    for key, value in metadata.items():
        encoded[type_key(key)] = type_tag(value)
        if isinstance(value, list):
            encoded[list_key(key)] = json.dumps(value, ensure_ascii=False)
            encoded.update((element_key(key, element), True) for element in value)
        else:
            encoded[key] = value
    return encoded


def decode_record(
    chroma_id: str, metadata: dict[str, Any] | None, document: str | None, vector: Any
) -> tuple[str, Metadata, str | None, FloatArray]:
    stored = metadata or {}
    user: Metadata = {}
    for key, value in stored.items():
        if not key.startswith("_vb"):
            # vecbridge stores no Chroma arrays, so an array here is one Chroma 1.5.9 handed over from
            # a dropped collection's record with the same internal id (see vecbridge_chroma.filters)
            if not isinstance(value, list):
                user[key] = value
        elif key.startswith(LIST_PREFIX):
            user[key[len(LIST_PREFIX) :]] = json.loads(value)
    if stored.get(NO_DOCUMENT_KEY):
        document = None
    array = np.zeros(0, dtype=np.float32) if vector is None else np.asarray(vector, dtype=np.float32)
    return chroma_id, user, document, array


def _valid_cursor(state: Any) -> bool:
    """A chroma scan cursor holds ``[low, width]``: the next key range to read, or ``[low, width, end]``
    inside a partition (keys below ``end``); a width of 0 (a partition's start) is sized on the first read."""
    return (
        isinstance(state, list)
        and len(state) in (2, 3)
        and all(type(part) is int for part in state)
        and 0 <= state[0] <= KEY_SPACE
        and state[1] >= (0 if len(state) == 3 else 1)
        and (len(state) == 2 or state[0] <= state[2] <= KEY_SPACE)
    )


class ChromaAdapter(Adapter):
    """Chroma server (async HTTP) or embedded Chroma (synchronous client in worker threads).

    See the module docstring for the URL forms and how each Chroma quirk is hidden.
    """

    name: ClassVar[str] = "chroma"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.PERSISTENT,
            Capability.SHARED_ACROSS_CONNECTIONS,
            Capability.NATIVE_LAYOUTS,
            Capability.PARTITIONED_SCAN,
            Capability.SEARCH_DEFAULTS,
            Capability.SEARCH_EF_DEFAULT,
        }
    )
    #: Measured on chromadb 1.5.9, server and embedded alike: about 20% of ``i / 7`` (i <= 10,000) and
    #: ``2**53 - 1`` come back one unit in the last place off (its Rust core parses floats with a fast,
    #: not correctly rounded routine), and ``-0.0`` as ``0.0``.
    float_error_ulps: ClassVar[int | None] = 1
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
        #: collections vecbridge did not create (a spec with a layout): :mod:`vecbridge_chroma.native`
        self.native = NativeCollections(self)
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

    # --- Chroma collections: one per namespace ---------------------------------------------------

    def _configuration(self, spec: CollectionSpec) -> dict[str, Any]:
        hnsw: dict[str, Any] = {"space": SPACES[spec.metric]}
        if spec.index.kind == "hnsw":
            m, ef = spec.index.m, spec.index.ef_construction  # type: ignore[union-attr]
            hnsw.update(max_neighbors=m, ef_construction=ef, ef_search=max(128, ef))
        elif spec.index.kind == "flat":  # Chroma has no flat index: a wide HNSW search is exact in practice
            hnsw.update(max_neighbors=32, ef_construction=400, ef_search=1000)
        if spec.search is not None and spec.search.ef is not None:
            hnsw["ef_search"] = spec.search.ef
        return {"hnsw": hnsw}

    async def set_search_defaults(self, collection: CollectionSpec, search: SearchParams | None) -> None:
        """Chroma's ``ef_search`` is a setting of a Chroma collection, not of a query: no query can
        set it (no ``SEARCH_EF``), and changing it for one query would be a write every other reader
        of the collection sees meanwhile. As a default it is what it is in Chroma
        (``SEARCH_EF_DEFAULT``): the ``ef_search`` of the Chroma collection of every namespace
        (and of namespaces created later), and a key of the stored facts. ``None`` restores
        vecbridge's own choice (see :meth:`_configuration`). Refused on a collection vecbridge did
        not create: its settings belong to its application. Chroma (1.5.9) reads ``ef_search`` when
        it loads a collection's index: a Chroma process that has the index loaded (a running server,
        this embedded process) keeps answering with the old value until it loads it again
        (``tests/test_audit_engines.py`` measures the new value from a new process)."""
        if collection.layout is not None:
            raise UnsupportedFeatureError(
                f"{self.name}: collection {collection.name!r} is not vecbridge's: its ef_search belongs to "
                "its application (vecbridge changes no setting of it)"
            )
        self._forget(collection.name)
        main = await self._main(collection.name)
        spec = replace(CollectionSpec.from_dict(json.loads(main.metadata[SPEC_KEY])), search=search)
        ef_search = self._configuration(spec)["hnsw"].get("ef_search")
        targets = [main] + [
            chroma
            for chroma in await self._all_chroma()
            if chroma.name.startswith(f"{collection.name}.")
            and (chroma.metadata or {}).get(PARENT_KEY) == collection.name
        ]
        with self.errors(f"set search defaults of {collection.name!r}"):
            if ef_search is not None:
                for chroma in targets:
                    await self._call(chroma.modify, configuration={"hnsw": {"ef_search": ef_search}})
            await self._call(main.modify, metadata={**main.metadata, SPEC_KEY: json.dumps(spec.to_dict())})
        self._forget(collection.name)

    async def _get_chroma(self, name: str) -> Any | None:
        """The Chroma collection ``name``, or ``None`` when it does not exist."""
        from chromadb.errors import NotFoundError

        with self.errors(f"open collection {name!r}"):
            try:
                return await self._call(self.client.get_collection, name, embedding_function=None)
            except NotFoundError:
                return None
            except Exception as exc:  # some chromadb paths raise a generic error for a missing collection
                if "does not exist" in str(exc):
                    return None
                raise

    async def _main(self, name: str) -> Any:
        """The Chroma collection of the default namespace, which holds the facts."""
        cached = self._collections.get(name)
        if cached is not None:
            return cached
        collection = await self._get_chroma(name)
        if collection is None:
            raise CollectionNotFoundError(f"collection {name!r} does not exist")
        if SPEC_KEY not in (collection.metadata or {}):
            raise CollectionNotFoundError(f"collection {name!r} exists in Chroma but was not created by vecbridge")
        self._collections[name] = collection
        return collection

    async def _namespace(self, spec: CollectionSpec, namespace: str, create: bool) -> Any | None:
        """The Chroma collection of one namespace (created when ``create``), or ``None`` if it has none."""
        main = await self._main(spec.name)
        if namespace == DEFAULT_NAMESPACE:
            return main
        target = chroma_name(spec.name, namespace)
        cached = self._collections.get(target)
        if cached is not None:
            return cached
        collection = await self._get_chroma(target)
        if collection is None and create:
            with self.errors(f"create namespace {namespace!r} of {spec.name!r}"):
                collection = await self._call(
                    self.client.create_collection,
                    target,
                    configuration=self._configuration(spec),
                    metadata={PARENT_KEY: spec.name, NAMESPACE_META_KEY: namespace},
                    embedding_function=None,
                    get_or_create=True,
                )
        if collection is not None:
            self._collections[target] = collection
        return collection

    def _forget(self, name: str) -> None:
        for key in [k for k in self._collections if k == name or k.startswith(f"{name}.")]:
            del self._collections[key]

    async def _on(
        self,
        spec: CollectionSpec,
        namespace: str,
        action: str,
        operation: Callable[[Any], Awaitable[T]],
        empty: T,
        create: bool = False,
    ) -> T:
        """Run ``operation`` on the namespace's Chroma collection (``empty`` when it has none yet).

        A cached handle on a collection that another connection dropped (and maybe re-created)
        fails with Chroma's ``NotFoundError``: the handles are refreshed and the call made once more.
        """
        from chromadb.errors import NotFoundError

        for attempt in (1, 2):
            collection = await self._namespace(spec, namespace, create)
            if collection is None:
                return empty
            with self.errors(f"{action} on {spec.name!r}"):
                try:
                    return await operation(collection)
                except NotFoundError:
                    if attempt == 2:
                        raise
            self._forget(spec.name)
        raise AssertionError("unreachable")

    async def _all_chroma(self) -> list[Any]:
        collections: list[Any] = []
        with self.errors("list collections"):
            while True:
                page = await self._call(self.client.list_collections, limit=1000, offset=len(collections))
                collections.extend(page)
                if len(page) < 1000:
                    return collections

    # --- collections -----------------------------------------------------------------------------

    async def create_collection(self, spec: CollectionSpec) -> None:
        if spec.layout is not None:
            return await self.native.create(spec)
        with self.errors(f"create collection {spec.name!r}"):
            try:
                collection = await self._call(
                    self.client.create_collection,
                    spec.name,
                    configuration=self._configuration(spec),
                    metadata={SPEC_KEY: json.dumps(spec.to_dict())},
                    embedding_function=None,
                )
            except Exception as exc:
                if "already exists" in str(exc):
                    raise CollectionExistsError(f"collection {spec.name!r} already exists") from exc
                raise
        self._forget(spec.name)
        self._collections[spec.name] = collection

    async def drop_collection(self, name: str) -> None:
        """Drop the namespaces' Chroma collections, then the main one (so a failure can be retried)."""
        self._forget(name)
        await self._main(name)
        self._forget(name)
        for collection in await self._all_chroma():
            if collection.name.startswith(f"{name}.") and (collection.metadata or {}).get(PARENT_KEY) == name:
                await self._delete_chroma(collection.name)
        await self._delete_chroma(name)

    async def _delete_chroma(self, name: str) -> None:
        with self.errors(f"drop collection {name!r}"):
            try:
                await self._call(self.client.delete_collection, name)
            except Exception as exc:
                if "does not exist" in str(exc):
                    raise CollectionNotFoundError(f"collection {name!r} does not exist") from exc
                raise

    async def list_collections(self) -> list[CollectionSpec]:
        specs = []
        for collection in await self._all_chroma():
            facts = (collection.metadata or {}).get(SPEC_KEY)
            if facts and "." not in collection.name:
                specs.append(CollectionSpec.from_dict(json.loads(facts)))
        return specs

    async def describe_collection(self, name: str) -> CollectionSpec:
        self._forget(name)  # facts are read fresh: another connection may have re-created the collection
        collection = await self._main(name)
        return CollectionSpec.from_dict(json.loads(collection.metadata[SPEC_KEY]))

    async def list_native_collections(self) -> list[CollectionSpec]:
        return await self.native.list_all()

    async def describe_native_collection(self, name: str, layout: Layout) -> CollectionSpec:
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
        found = []
        main = await self._main(collection.name)
        with self.errors(f"list namespaces of {collection.name!r}"):
            if await self._call(main.count):
                found.append(DEFAULT_NAMESPACE)
            for chroma in await self._all_chroma():
                metadata = chroma.metadata or {}
                if metadata.get(PARENT_KEY) == collection.name and await self._call(chroma.count):
                    found.append(str(metadata[NAMESPACE_META_KEY]))
        return found

    # --- records ---------------------------------------------------------------------------------

    async def upsert(self, collection: CollectionSpec, namespace: str, records: Sequence[Record]) -> None:
        if collection.layout is not None:
            return await self.native.upsert(collection, namespace, records)
        ids = [record.id for record in records]

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
            for record in records:
                metadata = encode_metadata(record.id, record.metadata)
                document = record.document
                old = previous.get(record.id)
                if old is not None:
                    if document is None and old[1] is not None:
                        document, metadata[NO_DOCUMENT_KEY] = "", True
                    for stale in old[0].keys() - metadata.keys():
                        metadata[stale] = None  # Chroma's upsert merges: None removes the key
                metadatas.append(metadata)
                documents.append(document)
            vectors = np.stack([np.asarray(record.vector, dtype=np.float32) for record in records])
            await self._call(chroma.upsert, ids=ids, embeddings=vectors, metadatas=metadatas, documents=documents)

        await self._on(collection, namespace, "upsert", write, None, create=True)

    async def query(
        self,
        collection: CollectionSpec,
        namespace: str,
        vector: FloatArray,
        top_k: int,
        filter: Any | None,
        include_vectors: bool,
    ) -> list[Match]:
        if collection.layout is not None:
            return await self.native.query(collection, namespace, vector, top_k, filter, include_vectors)
        include = ["metadatas", "documents", "distances"] + (["embeddings"] if include_vectors else [])

        async def search(chroma: Any) -> list[Match]:
            result = await self._call(
                chroma.query,
                query_embeddings=[np.asarray(vector, dtype=np.float32)],
                n_results=top_k,
                where=filter,
                include=include,
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

        return await self._on(collection, namespace, "query", search, [])

    def _records(self, result: dict[str, Any], include_vectors: bool) -> list[Record]:
        embeddings = result["embeddings"] if include_vectors else [None] * len(result["ids"])
        records = []
        for chroma_id, metadata, document, embedding in zip(
            result["ids"], result["metadatas"], result["documents"], embeddings, strict=True
        ):
            record_id, user, text, array = decode_record(chroma_id, metadata, document, embedding)
            records.append(Record(record_id, array, user, text))
        return records

    async def _read(self, chroma: Any, include_vectors: bool, **kwargs: Any) -> list[Record]:
        include = ["metadatas", "documents"] + (["embeddings"] if include_vectors else [])
        return self._records(await self._call(chroma.get, include=include, **kwargs), include_vectors)

    async def get(
        self, collection: CollectionSpec, namespace: str, ids: Sequence[str], include_vectors: bool
    ) -> list[Record]:
        if collection.layout is not None:
            return await self.native.get(collection, namespace, ids, include_vectors)
        read = partial(self._read, include_vectors=include_vectors, ids=list(ids))
        return await self._on(collection, namespace, "get", read, [])

    async def delete_ids(self, collection: CollectionSpec, namespace: str, ids: Sequence[str]) -> None:
        if collection.layout is not None:
            return await self.native.delete_ids(collection, namespace, ids)

        async def delete(chroma: Any) -> None:
            if ids:
                await self._call(chroma.delete, ids=list(ids))

        await self._on(collection, namespace, "delete", delete, None)

    async def delete_where(self, collection: CollectionSpec, namespace: str, filter: Any | None) -> None:
        if collection.layout is not None:
            return await self.native.delete_where(collection, namespace, filter)
        if filter is None and namespace != DEFAULT_NAMESPACE:
            if await self._namespace(collection, namespace, create=False) is not None:
                self._forget(collection.name)
                await self._delete_chroma(chroma_name(collection.name, namespace))
            return

        async def delete(chroma: Any) -> None:
            await self._call(chroma.delete, where=EVERYTHING if filter is None else filter)

        await self._on(collection, namespace, "delete", delete, None)

    async def count(self, collection: CollectionSpec, namespace: str, filter: Any | None) -> int:
        """Exact: Chroma's ``count()`` without a filter; with one, the matching ids (no vectors, no metadata)."""
        if collection.layout is not None:
            return await self.native.count(collection, namespace, filter)

        async def count(chroma: Any) -> int:
            if filter is None:
                return int(await self._call(chroma.count))
            return len((await self._call(chroma.get, where=filter, include=[]))["ids"])

        return await self._on(collection, namespace, "count", count, 0)

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
        low, width, end = 0, 0, KEY_SPACE
        if cursor is not None:
            low, width, *bounded = decode_cursor(cursor, self.name, _valid_cursor)
            end = bounded[0] if bounded else KEY_SPACE
        if width == 0:  # keys are uniform: size the range from the namespace's density
            total = await self.count(collection, namespace, filter)
            if total == 0:
                return Page([], None)
            width = max(1, KEY_SPACE * page_size * 3 // (4 * total))
        while True:
            high = min(end, low + width)
            clauses: list[Where] = [{SCAN_KEY: {"$gte": low}}, {SCAN_KEY: {"$lt": high}}]
            where = all_of(*clauses, *([] if filter is None else [filter]))
            read = partial(self._read, include_vectors=include_vectors, where=where, limit=page_size + 1)
            nothing: list[Record] = []
            records = await self._on(collection, namespace, "scan", read, nothing)
            if len(records) <= page_size or width == 1:
                break
            width = max(1, width // 2)  # too many keys in this range: narrow it and read again
        if high >= end:
            return Page(records, None)
        if len(records) < page_size // 4:
            width = min(KEY_SPACE, width * 2)
        return Page(records, encode_cursor([high, width] if end == KEY_SPACE else [high, width, end]))

    async def partitions(self, collection: CollectionSpec, namespace: str, count: int) -> list[str | None]:
        """Equal ranges of the ``_vb_key`` hash space (uniform, so about equal record counts); a
        native collection scans by offset and is one partition."""
        if collection.layout is not None:
            return [None]
        bounds = [KEY_SPACE * i // count for i in range(count + 1)]
        return [encode_cursor([low, 0, high]) for low, high in itertools.pairwise(bounds)]

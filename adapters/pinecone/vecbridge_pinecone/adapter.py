"""Pinecone behind the vecbridge contract, on the SDK's native async client (``AsyncPinecone``).

URLs::

    pinecone://?api_key_env=PINECONE_API_KEY&cloud=aws&region=us-east-1   # Pinecone itself
    pinecone://127.0.0.1:5080?api_key=local&tls=false                     # a Pinecone-compatible endpoint
    pinecone+http://127.0.0.1:5080?api_key=local                          # the same, tls=false implied

Options: ``api_key`` (literal) or ``api_key_env`` (name of the variable holding it, default
``PINECONE_API_KEY``); ``cloud``/``region`` of the serverless indexes it creates; ``tls``;
``consistency_timeout`` (seconds a write may take to become readable, default 60).

How the contract maps (``docs/backends/pinecone.md`` has the whole story):

* a collection is an index named like the collection with ``_`` turned into ``-``; its facts live in
  index tags (``vecbridge=1``, ``vb_facts_0..N``: the JSON of ``CollectionSpec.to_dict()``);
* namespaces are Pinecone namespaces;
* ids Pinecone accepts (ASCII, <= 512 characters) pass through; others become ``vbh-<sha256>`` with
  the original in metadata ``_vb_id``, and every read returns the original;
* metadata carries ``_vb_types`` (each field's type, so ints come back as ints and negated ranges
  compile exactly) and ``_vb_doc`` (the document); a record whose metadata as sent exceeds Pinecone's
  40,960 bytes is refused by ``check_storable`` before the first write of an upsert;
* read-your-writes: every write's ``lsn_committed`` is awaited by polling a query until its
  ``lsn_reconciled`` reaches it, bounded by ``consistency_timeout`` (``ConsistencyTimeoutError``);
* euclidean scores are recomputed client-side from the returned vectors (Pinecone's scaling of the
  euclidean score is not documented); cosine and dot scores are Pinecone's own;
* ``scan`` is ``list`` (ids, paginated) + ``fetch``; ``count``/``delete`` by filter have no exact
  serverless call and are emulated on ``scan`` with the filter evaluated client-side (exact);
* search effort: a serverless index has no query-time knob (no ``ef``, no ``probes``, no exact
  mode), so no ``SEARCH_*`` capability is declared and ``vb.SearchParams`` is refused before any
  request; ``vecbridge audit`` still measures its recall.

Indexes vecbridge did not create (no ``vecbridge`` tag) are read through a layout, and written in
their own shape only when the caller opts in: :mod:`vecbridge_pinecone.native` says how (names,
namespaces, metadata, documents, filters), :mod:`vecbridge_pinecone.presets` what LangChain,
LlamaIndex and Haystack write. The primitives below serve both; a spec with a ``layout`` takes its
namespace, ids and metadata from there.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, ClassVar, TypeVar
from urllib.parse import quote

import numpy as np
from pinecone import AsyncPinecone, ServerlessSpec
from pinecone._internal.adapters.vectors_adapter import extract_response_info
from pinecone.async_client.async_index import AsyncIndex
from pinecone.errors.exceptions import (
    ApiError,
    ConflictError,
    NotFoundError,
    PineconeConnectionError,
    PineconeTimeoutError,
    RateLimitError,
    ServiceError,
)
from pinecone.models.indexes.index import IndexModel
from pinecone.models.indexes.schema import DenseVectorField
from pinecone.models.vectors.responses import FetchResponse, UpsertResponse
from pinecone.models.vectors.vector import Vector

from vecbridge.adapter import Adapter, Capability, decode_cursor, encode_cursor
from vecbridge.errors import (
    BackendError,
    CollectionExistsError,
    CollectionNotFoundError,
    ConsistencyTimeoutError,
    InvalidRecordError,
    InvalidURLError,
    TransientBackendError,
    VecbridgeError,
)
from vecbridge.filters import FilterNode, evaluate
from vecbridge.layout import Layout
from vecbridge.types import CollectionSpec, FloatArray, Match, Metadata, Metric, Page, Record
from vecbridge.url import URL
from vecbridge_pinecone.codec import (
    METRIC_TO_PINECONE,
    decode_metadata,
    decode_values,
    encode_metadata,
    encode_values,
    facts_tags,
    index_name,
    is_vecbridge_index,
    native_id,
    oversize_metadata,
    spec_from_index,
)
from vecbridge_pinecone.filters import PineconeFilter, PineconeFilterCompiler
from vecbridge_pinecone.native import DEFAULT_ALIAS, NativeIndexes

T = TypeVar("T")

OPTIONS = ("api_key", "api_key_env", "cloud", "region", "tls", "consistency_timeout")
#: Pinecone's write limits: 1,000 vectors and 2 MB per upsert request.
MAX_UPSERT_VECTORS = 1000
MAX_UPSERT_BYTES = 2_000_000
#: Upper bound of one float32 value in the SDK's JSON (repr of a float64, sign and exponent included).
JSON_BYTES_PER_FLOAT = 25
LIST_PAGE = 100
FETCH_URL_BUDGET = 6000
POLL_START, POLL_MAX = 0.01, 0.5


def _truthy(value: str) -> bool:
    return value.lower() not in ("false", "0", "no", "off")


def _dense_field(model: IndexModel) -> DenseVectorField:
    fields = [f for f in model.schema.fields.values() if isinstance(f, DenseVectorField)]
    if len(fields) != 1:
        raise BackendError(f"pinecone: index {model.name!r} is not a single dense-vector index")
    return fields[0]


def _valid_cursor(state: Any) -> bool:
    """A pinecone scan cursor holds ``{"t": list page token or None, "s": ids of that page already read}``."""
    return (
        isinstance(state, dict)
        and (state.get("t") is None or isinstance(state["t"], str))
        and type(state.get("s")) is int
        and state["s"] >= 0
    )


def _fetching(ids: list[str], namespace: str) -> Callable[[AsyncIndex], Awaitable[FetchResponse]]:
    return lambda index: index.fetch(ids=ids, namespace=namespace)


def _upserting(vectors: list[dict[str, Any]], namespace: str) -> Callable[[AsyncIndex], Awaitable[UpsertResponse]]:
    return lambda index: index.upsert(vectors=vectors, namespace=namespace, show_progress=False)


class PineconeAdapter(Adapter):
    """Pinecone serverless (or any endpoint speaking its REST API) through ``pinecone.AsyncPinecone``."""

    name: ClassVar[str] = "pinecone"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.PERSISTENT, Capability.SHARED_ACROSS_CONNECTIONS, Capability.NATIVE_LAYOUTS}
    )
    max_batch: ClassVar[int] = MAX_UPSERT_VECTORS
    # the core estimates 4 bytes per float; the JSON the SDK sends takes up to ~25
    max_request_bytes: ClassVar[int | None] = MAX_UPSERT_BYTES * 4 // JSON_BYTES_PER_FLOAT
    max_concurrency: ClassVar[int] = 4
    # Pinecone caps top_k at 1,000 when metadata is included, and matches always need it
    max_top_k: ClassVar[int] = 1000
    filter_compiler = PineconeFilterCompiler

    def __init__(self, client: AsyncPinecone, *, cloud: str, region: str, tls: bool, consistency_timeout: float):
        self.client = client
        self.cloud = cloud
        self.region = region
        self.tls = tls
        self.consistency_timeout = consistency_timeout
        self._indexes: dict[str, tuple[str, AsyncIndex]] = {}
        #: indexes vecbridge did not create (a spec with a layout): :mod:`vecbridge_pinecone.native`
        self.native = NativeIndexes(self)

    @classmethod
    async def connect(cls, url: URL) -> Adapter:
        unknown = sorted(set(url.query) - set(OPTIONS))
        if unknown:
            raise InvalidURLError(f"{url}: unknown option(s) {unknown}; known: {', '.join(OPTIONS)}")
        if url.driver not in (None, "http", "https"):
            raise InvalidURLError(f"{url}: unknown driver {url.driver!r}; use pinecone:// or pinecone+http://")
        if url.path not in ("", "/"):
            raise InvalidURLError(f"{url}: a pinecone URL has no path")
        tls = url.driver != "http" and _truthy(url.get("tls", "true") or "true")
        api_key = url.get("api_key") or url.password
        if not api_key:
            variable = url.get("api_key_env", "PINECONE_API_KEY") or "PINECONE_API_KEY"
            api_key = os.environ.get(variable)
            if not api_key:
                raise InvalidURLError(
                    f"{url}: pinecone is not configured: the environment variable {variable} holding the "
                    "API key is not set (or pass ?api_key_env=NAME)"
                )
        host = None
        if url.host:
            host = f"{'https' if tls else 'http'}://{url.host}" + (f":{url.port}" if url.port else "")
        try:
            timeout = float(url.get("consistency_timeout", "60") or "60")
        except ValueError:
            raise InvalidURLError(f"{url}: consistency_timeout must be a number of seconds") from None
        # without TLS there is nothing to verify, and loading the CA bundle costs ~0.2 s per client
        client = AsyncPinecone(api_key=api_key, host=host, source_tag="vecbridge", ssl_verify=tls)
        return cls(
            client,
            cloud=url.get("cloud", "aws") or "aws",
            region=url.get("region", "us-east-1") or "us-east-1",
            tls=tls,
            consistency_timeout=timeout,
        )

    async def close(self) -> None:
        indexes, self._indexes = self._indexes, {}
        for _, index in indexes.values():
            await index.close()
        await self.client.close()

    def compile_filter(self, node: FilterNode, collection: CollectionSpec) -> PineconeFilter:
        if collection.layout is not None:
            return self.native.compile_filter(node, collection)
        return PineconeFilterCompiler().compile_filter(node)

    def map_error(self, exc: Exception, action: str) -> VecbridgeError:
        message = f"pinecone: {action} failed: {type(exc).__name__}: {exc}"
        if isinstance(exc, NotFoundError):
            return CollectionNotFoundError(f"pinecone: {action}: not found: {exc}")
        if isinstance(exc, ConflictError):
            return CollectionExistsError(f"pinecone: {action}: already exists: {exc}")
        if isinstance(exc, RateLimitError | ServiceError | PineconeTimeoutError | PineconeConnectionError):
            return TransientBackendError(message, orig=exc)
        if isinstance(exc, ApiError) and exc.status_code in (408, 429, 500, 502, 503, 504):
            return TransientBackendError(message, orig=exc)
        return BackendError(message, orig=exc)

    # --- index handles ---------------------------------------------------------------------------

    def _host_url(self, host: str) -> str:
        """The index host with the scheme the URL asks for (the SDK prefixes a bare host with https)."""
        bare = host.split("://", 1)[1] if "://" in host else host
        return f"{'https' if self.tls else 'http'}://{bare}"

    async def _describe(self, collection: str) -> IndexModel:
        with self.errors(f"describe collection {collection!r}"):
            try:
                return await self.client.describe_index(index_name(collection))
            except NotFoundError:
                raise CollectionNotFoundError(f"collection {collection!r} does not exist") from None

    async def _index(self, collection: str, *, fresh: bool = False) -> AsyncIndex:
        cached = self._indexes.get(collection)
        if cached is not None and not fresh:
            return cached[1]
        model = await self._describe(collection)
        if not model.host:
            raise TransientBackendError(f"pinecone: index of {collection!r} has no host yet")
        host = self._host_url(model.host)
        if cached is not None and cached[0] == host:
            return cached[1]
        if cached is not None:
            await cached[1].close()
        index = self.client.IndexAsyncio(host=host)
        self._indexes[collection] = (host, index)
        return index

    async def _call(
        self,
        collection: str,
        action: str,
        operation: Callable[[AsyncIndex], Awaitable[T]],
        *,
        namespace_missing: Callable[[], T] | None = None,
    ) -> T:
        """Run a data-plane call. A 404 means a stale cached host (retried once on the fresh one), a
        dropped collection (``CollectionNotFoundError``), or, while the index exists, a namespace
        Pinecone does not know: then ``namespace_missing()`` is the answer (an empty result)."""
        index = await self._index(collection)
        for attempt in range(2):
            try:
                return await operation(index)
            except NotFoundError as exc:
                fresh = await self._index(collection, fresh=True)  # CollectionNotFoundError if dropped
                if fresh is index or attempt:
                    if namespace_missing is not None:
                        return namespace_missing()
                    raise self.map_error(exc, action) from exc
                index = fresh
            except Exception as exc:
                if isinstance(exc, VecbridgeError):
                    raise
                raise self.map_error(exc, action) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    # --- read-your-writes --------------------------------------------------------------------------

    async def _await_lsn(self, collection: CollectionSpec, namespace: str, lsn: int) -> bool:
        """Poll a query in the namespace until the index has reconciled the write at ``lsn``.

        Returns ``False`` (nothing confirmed) when the server reports no reconciled LSN at all.
        """
        probe = [1.0] + [0.0] * (collection.dimension - 1)
        deadline = time.monotonic() + self.consistency_timeout
        delay = POLL_START
        while True:
            response = await self._call(
                collection.name,
                "wait for a write",
                lambda index: index.query(top_k=1, vector=probe, namespace=namespace),
                namespace_missing=lambda: None,
            )
            if response is None:
                return False  # the namespace is gone (a delete-all): the caller checks by listing
            info = response.response_info
            seen = info.lsn_reconciled if info is not None else None
            if seen is None:
                return False
            if seen >= lsn:
                return True
            if time.monotonic() >= deadline:
                raise ConsistencyTimeoutError(
                    f"pinecone: a write to {collection.name!r}/{namespace!r} (LSN {lsn}) was not readable "
                    f"after {self.consistency_timeout:g} s (index reconciled up to {seen})"
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, POLL_MAX)

    async def _await_ids(self, collection: CollectionSpec, namespace: str, ids: list[str], present: bool) -> None:
        """Fallback when a response carries no LSN: poll ``fetch`` until the ids are (not) there."""
        deadline = time.monotonic() + self.consistency_timeout
        delay = POLL_START
        while True:
            found: set[str] = set()
            for chunk in self._fetch_chunks(ids):
                response = await self._call(
                    collection.name, "wait for a write", _fetching(chunk, namespace), namespace_missing=lambda: None
                )
                found.update(response.vectors if response is not None else {})
            if (found == set(ids)) if present else not found:
                return
            if time.monotonic() >= deadline:
                raise ConsistencyTimeoutError(
                    f"pinecone: a write to {collection.name!r}/{namespace!r} was not readable after "
                    f"{self.consistency_timeout:g} s"
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, POLL_MAX)

    # --- collections ---------------------------------------------------------------------------------

    async def create_collection(self, spec: CollectionSpec) -> None:
        if spec.layout is not None:
            return await self.native.create(spec)
        await self._create_index(spec, facts_tags(spec))

    async def _create_index(self, spec: CollectionSpec, tags: dict[str, str] | None) -> None:
        """Create the serverless index of ``spec`` (with ``tags``) and wait until it is ready."""
        name = index_name(spec.name)
        with self.errors(f"create collection {spec.name!r}"):
            await self.client.create_index(
                name=name,
                dimension=spec.dimension,
                metric=METRIC_TO_PINECONE[spec.metric],
                spec=ServerlessSpec(cloud=self.cloud, region=self.region),
                deletion_protection="disabled",
                tags=tags,
                timeout=-1,
            )
        deadline = time.monotonic() + max(self.consistency_timeout, 300.0)
        delay = POLL_START
        while True:
            model = await self._describe(spec.name)
            if model.status.ready and model.host:
                return
            if time.monotonic() >= deadline:
                raise ConsistencyTimeoutError(f"pinecone: index {name!r} was not ready in time")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def drop_collection(self, name: str) -> None:
        native = index_name(name)
        cached = self._indexes.pop(name, None)
        if cached is not None:
            await cached[1].close()
        with self.errors(f"drop collection {name!r}"):
            try:
                await self.client.delete_index(native, timeout=-1)
            except NotFoundError:
                raise CollectionNotFoundError(f"collection {name!r} does not exist") from None
        deadline = time.monotonic() + max(self.consistency_timeout, 300.0)
        delay = POLL_START * 5
        while await self.client.has_index(native):
            if time.monotonic() >= deadline:
                raise ConsistencyTimeoutError(f"pinecone: index {native!r} was still there after the drop")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    def _spec_of(self, model: IndexModel) -> CollectionSpec:
        field = _dense_field(model)
        return spec_from_index(model.name, field.dimension, field.metric, model.tags)

    async def list_collections(self) -> list[CollectionSpec]:
        with self.errors("list collections"):
            models = [model async for model in self.client.indexes.list()]
        return [self._spec_of(model) for model in models if is_vecbridge_index(model.tags)]

    async def describe_collection(self, name: str) -> CollectionSpec:
        model = await self._describe(name)
        if not is_vecbridge_index(model.tags):
            # an index vecbridge did not create is read through a layout (native.py)
            raise CollectionNotFoundError(f"pinecone: index {model.name!r} exists but was not created by vecbridge")
        return self._spec_of(model)

    async def list_native_collections(self) -> list[CollectionSpec]:
        return await self.native.list_all()

    async def describe_native_collection(self, name: str, layout: Layout) -> CollectionSpec:
        return await self.native.describe(name, layout)

    async def list_namespaces(self, collection: CollectionSpec) -> list[str]:
        if collection.layout is not None:
            return await self.native.list_namespaces(collection)
        stats = await self._call(collection.name, "list namespaces", lambda index: index.describe_index_stats())
        return [name for name, summary in stats.namespaces.items() if summary.vector_count > 0]

    # --- writes ----------------------------------------------------------------------------------------

    def check_storable(self, collection: CollectionSpec, record: Record) -> None:
        """Pinecone holds at most 40,960 bytes of metadata per record, measured on what this adapter
        sends (:func:`~vecbridge_pinecone.codec.encode_metadata`: user metadata, ``_vb_types``, the
        document in ``_vb_doc``, a hashed id's original in ``_vb_id``). Without the vector (the migration
        plan reads none) the all-zero flag ``_vb_zero`` is counted as if present: at most 18 bytes
        stricter than the write itself. Ids need no check: every id the contract allows is stored
        (:func:`~vecbridge_pinecone.codec.native_id` hashes those the SDK's rule - ASCII, 1-512
        characters, no NUL - refuses). An index in its own shape: :meth:`NativeIndexes.check_storable`."""
        if collection.layout is not None:
            return self.native.check_storable(collection, record)
        known = len(record.vector) == collection.dimension
        zero = not np.any(record.vector) if known else True
        oversize = oversize_metadata(record.id, record.metadata, record.document, zero)
        if oversize is not None:
            field, _, detail = oversize
            raise InvalidRecordError(detail, record_id=record.id, field=field)

    # --- how a record maps, on vecbridge's own indexes and through a layout ----------------------------

    def _namespace(self, collection: CollectionSpec, namespace: str) -> str:
        if collection.layout is not None:
            return self.native.pinecone_namespace(collection, namespace)
        return namespace

    def _native_id(self, collection: CollectionSpec, record_id: str) -> str:
        return record_id if collection.layout is not None else native_id(record_id)

    def _vector(self, collection: CollectionSpec, record: Record) -> dict[str, Any]:
        """The Pinecone vector (id, values, metadata) of a record."""
        if collection.layout is not None:
            return {
                "id": record.id,
                "values": self.native.values(record),
                "metadata": self.native.encode(collection, record),
            }
        values, zero = encode_values(record.vector)
        metadata = encode_metadata(record.id, record.metadata, record.document, zero)
        return {"id": native_id(record.id), "values": values, "metadata": metadata}

    def _decoded(
        self, collection: CollectionSpec, native: str, raw: dict[str, Any] | None
    ) -> tuple[str, Metadata, str | None]:
        """(id, metadata, document) of a Pinecone vector."""
        if collection.layout is not None:
            return (native, *self.native.decode(collection, native, raw))
        return decode_metadata(native, raw)

    def _values(self, collection: CollectionSpec, values: Sequence[float], raw: dict[str, Any] | None) -> FloatArray:
        if collection.layout is not None:
            return np.asarray(values, dtype=np.float32)
        return decode_values(values, raw)

    # --- writes, continued ----------------------------------------------------------------------------

    def _upsert_requests(self, collection: CollectionSpec, records: Sequence[Record]) -> list[list[dict[str, Any]]]:
        """Pinecone vectors in requests of at most 1,000 vectors and (an upper bound of) 2 MB."""
        requests: list[list[dict[str, Any]]] = [[]]
        size = 0
        for record in records:
            item = self._vector(collection, record)
            metadata = item["metadata"]
            item_size = JSON_BYTES_PER_FLOAT * len(record.vector) + len(json.dumps(metadata)) + 600
            if requests[-1] and (len(requests[-1]) >= MAX_UPSERT_VECTORS or size + item_size > MAX_UPSERT_BYTES):
                requests.append([])
                size = 0
            requests[-1].append(item)
            size += item_size
        return [request for request in requests if request]

    async def upsert(self, collection: CollectionSpec, namespace: str, records: Sequence[Record]) -> None:
        namespace = self._namespace(collection, namespace)
        lsns: list[int | None] = []
        for request in self._upsert_requests(collection, records):
            response = await self._call(
                collection.name, f"upsert into {collection.name!r}", _upserting(request, namespace)
            )
            lsns.append(response.response_info.lsn_committed if response.response_info else None)
        ids = [self._native_id(collection, r.id) for r in records]
        await self._await_writes(collection, namespace, lsns, ids, present=True)

    async def _await_writes(
        self, collection: CollectionSpec, namespace: str, lsns: list[int | None], ids: list[str], present: bool
    ) -> None:
        known = [lsn for lsn in lsns if lsn is not None]
        confirmed = bool(known) and len(known) == len(lsns) and await self._await_lsn(collection, namespace, max(known))
        if not confirmed and ids:
            await self._await_ids(collection, namespace, ids, present)

    async def _raw_delete(self, collection: CollectionSpec, namespace: str, body: dict[str, Any]) -> int | None:
        """``POST /vectors/delete`` through the SDK's HTTP client, which (unlike ``AsyncIndex.delete``)
        hands back the response, so the write's ``lsn_committed`` header can be awaited. A namespace
        that does not exist answers 404; nothing to delete then."""

        async def delete(index: AsyncIndex) -> int | None:
            response = await index._http.post("/vectors/delete", json={"namespace": namespace, **body})
            return extract_response_info(response).lsn_committed

        return await self._call(
            collection.name, f"delete from {collection.name!r}", delete, namespace_missing=lambda: None
        )

    async def delete_ids(self, collection: CollectionSpec, namespace: str, ids: Sequence[str]) -> None:
        await self._delete_natives(collection, self._namespace(collection, namespace), ids)

    async def _delete_natives(self, collection: CollectionSpec, namespace: str, ids: Sequence[str]) -> None:
        """Delete by id in the Pinecone ``namespace``."""
        natives = list(dict.fromkeys(self._native_id(collection, i) for i in ids))
        lsns: list[int | None] = []
        for start in range(0, len(natives), MAX_UPSERT_VECTORS):
            lsns.append(await self._raw_delete(collection, namespace, {"ids": natives[start : start + 1000]}))
        await self._await_writes(collection, namespace, lsns, natives, present=False)

    async def delete_where(self, collection: CollectionSpec, namespace: str, filter: Any | None) -> None:
        namespace = self._namespace(collection, namespace)
        if filter is None:
            lsn = await self._raw_delete(collection, namespace, {"deleteAll": True})
            if lsn is None or not await self._await_lsn(collection, namespace, lsn):
                await self._await_empty(collection, namespace)
            return
        # no exact serverless delete-by-filter: find the ids client-side, then delete by id
        doomed = [native async for native, _ in self._records(collection, namespace, filter.node, False)]
        if doomed:
            await self._delete_natives(collection, namespace, doomed)

    async def _await_empty(self, collection: CollectionSpec, namespace: str) -> None:
        deadline = time.monotonic() + self.consistency_timeout
        while True:
            page = await self._call(
                collection.name,
                "wait for a delete",
                lambda index: index.list_paginated(namespace=namespace, limit=1),
                namespace_missing=lambda: None,
            )
            if page is None or not page.vectors:
                return
            if time.monotonic() >= deadline:
                raise ConsistencyTimeoutError(f"pinecone: delete of {collection.name!r}/{namespace!r} not visible")
            await asyncio.sleep(POLL_MAX)

    # --- reads -------------------------------------------------------------------------------------------

    async def query(
        self,
        collection: CollectionSpec,
        namespace: str,
        vector: FloatArray,
        top_k: int,
        filter: Any | None,
        include_vectors: bool,
    ) -> list[Match]:
        namespace = self._namespace(collection, namespace)
        euclidean = collection.metric is Metric.EUCLIDEAN
        query = np.asarray(vector, dtype=np.float32)
        compiled: PineconeFilter | None = filter
        response = await self._call(
            collection.name,
            f"query {collection.name!r}",
            lambda index: index.query(
                top_k=top_k,
                vector=query.tolist(),
                namespace=namespace,
                filter=compiled.json if compiled is not None and compiled.json else None,
                include_metadata=True,
                include_values=include_vectors or euclidean,
            ),
            namespace_missing=lambda: None,
        )
        matches: list[Match] = []
        for match in response.matches if response is not None else []:
            record_id, metadata, document = self._decoded(collection, match.id, match.metadata)
            values = self._values(collection, match.values, match.metadata) if match.values else None
            score = float(match.score)
            if euclidean:
                if values is None:
                    raise BackendError(f"pinecone: query of {collection.name!r} returned no vector values")
                score = -float(np.linalg.norm(values.astype(np.float64) - query.astype(np.float64)))
            elif collection.metric is Metric.COSINE:
                score = min(1.0, max(-1.0, score))
            matches.append(
                Match(
                    id=record_id,
                    score=score,
                    metadata=metadata,
                    document=document,
                    vector=values if include_vectors else None,
                )
            )
        matches.sort(key=lambda m: -m.score)
        return matches

    def _fetch_chunks(self, natives: Sequence[str]) -> list[list[str]]:
        """Ids split so each ``GET /vectors/fetch`` URL stays a few kB long."""
        chunks: list[list[str]] = [[]]
        length = 0
        for native in natives:
            cost = len(quote(native, safe="")) + 5
            if chunks[-1] and (length + cost > FETCH_URL_BUDGET or len(chunks[-1]) >= LIST_PAGE):
                chunks.append([])
                length = 0
            chunks[-1].append(native)
            length += cost
        return [chunk for chunk in chunks if chunk]

    async def _fetch_vectors(self, collection: CollectionSpec, namespace: str, natives: Sequence[str]) -> list[Vector]:
        """The Pinecone vectors of ``natives`` that exist in the Pinecone ``namespace``, as stored."""
        found: list[Vector] = []
        for chunk in self._fetch_chunks(natives):
            response = await self._call(
                collection.name,
                f"fetch from {collection.name!r}",
                _fetching(chunk, namespace),
                namespace_missing=lambda: None,
            )
            found.extend(response.vectors.values() if response is not None else ())
        return found

    async def _fetch(
        self, collection: CollectionSpec, namespace: str, natives: Sequence[str], include_vectors: bool
    ) -> dict[str, Record]:
        found: dict[str, Record] = {}
        for vector in await self._fetch_vectors(collection, namespace, natives):
            record_id, metadata, document = self._decoded(collection, vector.id, vector.metadata)
            values = (
                self._values(collection, vector.values, vector.metadata)
                if include_vectors
                else np.zeros(0, dtype=np.float32)
            )
            found[vector.id] = Record(id=record_id, vector=values, metadata=metadata, document=document)
        return found

    async def get(
        self, collection: CollectionSpec, namespace: str, ids: Sequence[str], include_vectors: bool
    ) -> list[Record]:
        wanted = {self._native_id(collection, i): i for i in ids}
        found = await self._fetch(collection, self._namespace(collection, namespace), list(wanted), include_vectors)
        # a hashed id is only ours when the stored original matches (guards a deliberate collision)
        return [record for native, record in found.items() if record.id == wanted.get(native)]

    async def _list_page(
        self, collection: CollectionSpec, namespace: str, token: str | None
    ) -> tuple[list[str], str | None]:
        page = await self._call(
            collection.name,
            f"list {collection.name!r}",
            lambda index: index.list_paginated(namespace=namespace, limit=LIST_PAGE, pagination_token=token),
            namespace_missing=lambda: None,
        )
        if page is None:
            return [], None
        natives = [item.id for item in page.vectors if item.id is not None]
        following = page.pagination.next if page.pagination is not None else None
        return natives, following or None

    async def _pages(
        self, collection: CollectionSpec, namespace: str, token: str | None, include_vectors: bool
    ) -> AsyncGenerator[tuple[str | None, list[str], dict[str, Record], str | None], None]:
        """(token, ids, fetched records, next token) per ``list`` page from ``token``; the next page
        is listed while the current one is fetched."""
        listing = asyncio.ensure_future(self._list_page(collection, namespace, token))
        try:
            while True:
                natives, following = await listing
                if following is not None:
                    listing = asyncio.ensure_future(self._list_page(collection, namespace, following))
                found = await self._fetch(collection, namespace, natives, include_vectors)
                yield token, natives, found, following
                if following is None:
                    return
                token = following
        finally:
            if not listing.done():
                listing.cancel()
                with contextlib.suppress(asyncio.CancelledError, VecbridgeError):
                    await listing

    async def _records(
        self, collection: CollectionSpec, namespace: str, node: FilterNode | None, include_vectors: bool
    ) -> AsyncIterator[tuple[str, Record]]:
        """Every (native id, record) of the namespace matching ``node``, by list + fetch."""
        async with contextlib.aclosing(self._pages(collection, namespace, None, include_vectors)) as pages:
            async for _, natives, found, _ in pages:
                for native in natives:
                    record = found.get(native)
                    if record is not None and (node is None or evaluate(node, record.metadata)):
                        yield native, record

    async def count(self, collection: CollectionSpec, namespace: str, filter: Any | None) -> int:
        namespace = self._namespace(collection, namespace)
        if filter is None:
            stats = await self._call(collection.name, "count", lambda index: index.describe_index_stats())
            summary = stats.namespaces.get(namespace) or (
                stats.namespaces.get(DEFAULT_ALIAS) if not namespace else None
            )
            return summary.vector_count if summary is not None else 0
        # Pinecone serverless has no count by filter: count exactly over list + fetch
        total = 0
        async for _ in self._records(collection, namespace, filter.node, False):
            total += 1
        return total

    async def scan(
        self,
        collection: CollectionSpec,
        namespace: str,
        cursor: str | None,
        page_size: int,
        filter: Any | None,
        include_vectors: bool,
    ) -> Page:
        namespace = self._namespace(collection, namespace)
        state: dict[str, Any] = (
            {"t": None, "s": 0} if cursor is None else decode_cursor(cursor, self.name, _valid_cursor)
        )
        start: str | None = state["t"]
        skip: int = state["s"]
        node = filter.node if filter is not None else None
        records: list[Record] = []
        async with contextlib.aclosing(self._pages(collection, namespace, start, include_vectors)) as pages:
            async for token, natives, found, following in pages:
                for position in range(skip, len(natives)):
                    record = found.get(natives[position])
                    if record is not None and (node is None or evaluate(node, record.metadata)):
                        records.append(record)
                    if len(records) >= page_size:
                        if position + 1 < len(natives):
                            return Page(records, encode_cursor({"t": token, "s": position + 1}))
                        return Page(records, None if following is None else encode_cursor({"t": following, "s": 0}))
                skip = 0
        return Page(records, None)

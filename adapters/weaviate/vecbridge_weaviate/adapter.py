"""Weaviate adapter on the v4 client's native async API (``WeaviateAsyncClient``).

URLs:

* ``weaviate://host:8080?grpc_port=50051`` (options: ``grpc_host`` (default: the host),
  ``secure=true`` (https + TLS gRPC), ``api_key_env=NAME`` (read the API key from that variable))
* ``weaviate+cloud://cluster-url?api_key_env=NAME`` (Weaviate Cloud; the key is required)

The object layout is described in :mod:`vecbridge_weaviate.schema`, the filter translation in
:mod:`vecbridge_weaviate.filters`; ``docs/backends/weaviate.md`` says what was verified how.

Classes vecbridge did not create are read through a layout, and written in their own shape only
when the caller opts in: :mod:`vecbridge_weaviate.native` (inference, reads, writes),
:mod:`vecbridge_weaviate.native_filters`, :mod:`vecbridge_weaviate.presets`. A spec with a
``layout`` goes there from every primitive; the code below is vecbridge's own storage.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, ClassVar

import numpy as np
import weaviate
from weaviate.classes.aggregate import GroupByAggregate
from weaviate.classes.config import Reconfigure
from weaviate.classes.data import DataObject
from weaviate.classes.init import Auth
from weaviate.classes.query import Filter, MetadataQuery
from weaviate.collections.classes.filters import _Filters
from weaviate.exceptions import (
    UnexpectedStatusCodeError,
    WeaviateConnectionError,
    WeaviateGRPCUnavailableError,
    WeaviateInvalidInputError,
    WeaviateTimeoutError,
)

from vecbridge.adapter import Adapter, Capability
from vecbridge.errors import (
    BackendError,
    CollectionExistsError,
    CollectionNotFoundError,
    InvalidRecordError,
    InvalidURLError,
    TransientBackendError,
    UnsupportedFeatureError,
    VecbridgeError,
)
from vecbridge.filters import FilterNode, evaluate, fields_of
from vecbridge.layout import Layout
from vecbridge.types import CollectionSpec, Flat, FloatArray, Match, Page, Record, SearchParams
from vecbridge.url import URL
from vecbridge_weaviate.filters import Lowered, WeaviateFilterCompiler, all_of
from vecbridge_weaviate.metrics import distance_to_score
from vecbridge_weaviate.native import NativeClasses, uuid_cursor, vector_of
from vecbridge_weaviate.schema import (
    NS_PROP,
    READ_PROPERTIES,
    VECTOR_NAME,
    class_name,
    collection_name,
    collection_payload,
    facts_description,
    facts_from_description,
    key_properties,
    metadata_keys,
    object_properties,
    object_uuid,
    record_fields,
)

_LOCAL_OPTIONS = {"grpc_port", "grpc_host", "secure", "api_key_env"}
_CLOUD_OPTIONS = {"api_key_env"}
_TRANSIENT_STATUS = {408, 429, 500, 502, 503, 504}


class CompiledFilter:
    """What ``compile_filter`` hands the core: the checked tree, lowered per request.

    Lowering waits until the request because it needs the collection's current metadata keys
    (a key another connection added since this one last read the schema must not be treated as
    unknown). Compiling once with every key known at ``compile_filter`` time raises
    ``UnsupportedFilterError`` before any request, as the contract requires.
    """

    __slots__ = ("node",)

    def __init__(self, node: FilterNode) -> None:
        self.node = node

    def lower(self, known_keys: set[str]) -> Lowered:
        return WeaviateFilterCompiler(known_keys).compile(self.node)


def query_arguments(
    namespace: str, vector: FloatArray, top_k: int, lowered: Lowered, include_vectors: bool
) -> dict[str, Any]:
    """Keyword arguments of ``collection.query.near_vector`` (the golden tests serialize these)."""
    return {
        "near_vector": [float(x) for x in vector],
        "target_vector": VECTOR_NAME,
        "limit": top_k,
        "filters": scoped(namespace, lowered),
        "include_vector": [VECTOR_NAME] if include_vectors else False,
        "return_metadata": MetadataQuery(distance=True),
        "return_properties": list(READ_PROPERTIES),
    }


def get_arguments(namespace: str, ids: Sequence[str], include_vectors: bool) -> dict[str, Any]:
    """Keyword arguments of ``collection.query.fetch_objects`` for a get by ids."""
    uuids = [object_uuid(namespace, record_id) for record_id in ids]
    return {
        "filters": scoped(namespace, Filter.by_id().contains_any(uuids)),
        "limit": len(uuids),
        "include_vector": [VECTOR_NAME] if include_vectors else False,
        "return_properties": list(READ_PROPERTIES),
    }


def scan_arguments(cursor: str | None, page_size: int, include_vectors: bool) -> dict[str, Any]:
    """Keyword arguments of ``collection.query.fetch_objects`` for one scan page (uuid order, ``after``)."""
    return {
        "limit": page_size,
        "after": cursor,
        "include_vector": [VECTOR_NAME] if include_vectors else False,
        "return_properties": list(READ_PROPERTIES),
    }


def scoped(namespace: str, lowered: Lowered) -> _Filters:
    """Every request is ANDed with the namespace: isolation never depends on the caller's filter."""
    combined = all_of([Filter.by_property(NS_PROP).equal(namespace), lowered])
    assert not isinstance(combined, bool)
    return combined


class WeaviateAdapter(Adapter):
    """vecbridge on Weaviate: one Weaviate collection per vecbridge collection, namespaces as an
    enforced ``_vb_ns`` property, typed properties declared per metadata key."""

    name = "weaviate"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.PERSISTENT,
            Capability.SHARED_ACROSS_CONNECTIONS,
            Capability.NATIVE_LAYOUTS,
            Capability.SEARCH_DEFAULTS,
            Capability.SEARCH_EF_DEFAULT,
        }
    )
    max_batch = 500
    max_top_k = 10_000  # QUERY_MAXIMUM_RESULTS default
    filter_compiler = WeaviateFilterCompiler

    def __init__(self, client: weaviate.WeaviateAsyncClient) -> None:
        self.client = client
        #: Weaviate class -> metadata keys whose typed properties exist (read or added by us).
        self._keys: dict[str, set[str]] = {}
        self._schema_lock = asyncio.Lock()
        #: classes vecbridge did not create (a spec with a layout): :mod:`vecbridge_weaviate.native`
        self.native = NativeClasses(self)

    # --- connection ----------------------------------------------------------------------------

    @classmethod
    def client_for(cls, url: URL) -> weaviate.WeaviateAsyncClient:
        """The (unconnected) async client for a URL; raises ``InvalidURLError`` for bad options."""
        allowed = _CLOUD_OPTIONS if url.driver == "cloud" else _LOCAL_OPTIONS
        if url.driver not in (None, "cloud"):
            raise InvalidURLError(f"weaviate: unknown variant {url.scheme!r}; use weaviate:// or weaviate+cloud://")
        unknown = set(url.query) - allowed
        if unknown:
            raise InvalidURLError(f"weaviate: unknown URL option(s) {sorted(unknown)}; known: {sorted(allowed)}")
        if not url.host:
            raise InvalidURLError(f"weaviate: {url} names no host")
        api_key: str | None = None
        key_env = url.get("api_key_env")
        if key_env is not None:
            api_key = os.environ.get(key_env)
            if not api_key:
                raise InvalidURLError(f"weaviate: environment variable {key_env!r} (api_key_env) is not set")
        if url.driver == "cloud":
            if api_key is None:
                raise InvalidURLError("weaviate+cloud:// needs ?api_key_env=NAME of the variable holding the API key")
            cluster = url.host + (f":{url.port}" if url.port else "")
            return weaviate.use_async_with_weaviate_cloud(cluster, auth_credentials=Auth.api_key(api_key))
        secure_text = (url.get("secure") or "false").lower()
        if secure_text not in ("true", "false", "1", "0"):
            raise InvalidURLError(f"weaviate: secure must be true or false, got {secure_text!r}")
        secure = secure_text in ("true", "1")
        grpc_port_text = url.get("grpc_port") or "50051"
        if not grpc_port_text.isdigit():
            raise InvalidURLError(f"weaviate: grpc_port must be a port number, got {grpc_port_text!r}")
        return weaviate.use_async_with_custom(
            http_host=url.host,
            http_port=url.port or (443 if secure else 8080),
            http_secure=secure,
            grpc_host=url.get("grpc_host") or url.host,
            grpc_port=int(grpc_port_text),
            grpc_secure=secure,
            auth_credentials=Auth.api_key(api_key) if api_key else None,
        )

    @classmethod
    async def connect(cls, url: URL) -> WeaviateAdapter:
        client = cls.client_for(url)
        try:
            await client.connect()
        except Exception as exc:
            await client.close()
            raise BackendError(f"weaviate: cannot connect to {url}: {type(exc).__name__}: {exc}", orig=exc) from exc
        return cls(client)

    async def close(self) -> None:
        await self.client.close()

    def map_error(self, exc: Exception, action: str) -> VecbridgeError:
        message = f"weaviate: {action} failed: {type(exc).__name__}: {exc}"
        text = str(exc).lower()
        if "could not find class" in text or "class not found" in text or "no such class" in text:
            return CollectionNotFoundError(message)
        if isinstance(exc, UnexpectedStatusCodeError) and exc.status_code in _TRANSIENT_STATUS:
            return TransientBackendError(message, orig=exc)
        if isinstance(exc, WeaviateTimeoutError | WeaviateConnectionError | WeaviateGRPCUnavailableError):
            return TransientBackendError(message, orig=exc)
        if isinstance(exc, asyncio.TimeoutError | ConnectionError):
            return TransientBackendError(message, orig=exc)
        return BackendError(message, orig=exc)

    # --- schema --------------------------------------------------------------------------------

    def compile_filter(self, node: FilterNode, collection: CollectionSpec) -> Any:
        if collection.layout is not None:
            return self.native.compile_filter(node, collection)
        WeaviateFilterCompiler().compile(node)  # every key known: raises UnsupportedFilterError early
        return CompiledFilter(node)

    def _collection(self, spec: CollectionSpec) -> Any:
        return self.client.collections.use(class_name(spec.name))

    async def _read_keys(self, name: str) -> set[str]:
        """Metadata keys of a class from the server; a foreign typed property is a type conflict."""
        with self.errors(f"read schema of {name!r}"):
            if not await self.client.collections.exists(class_name(name)):
                raise CollectionNotFoundError(f"weaviate: collection {name!r} does not exist")
            config = await self.client.collections.use(class_name(name)).config.get()
        declared = {prop.name: prop.data_type for prop in config.properties}
        keys: set[str] = set()
        for prop_name in declared:
            if prop_name.startswith("s_"):
                key = prop_name[2:]
                for prop in key_properties(key):
                    if prop.name in declared and declared[prop.name] != prop.dataType:
                        raise InvalidRecordError(
                            f"property {prop.name!r} of Weaviate collection {class_name(name)!r} has type "
                            f"{declared[prop.name].value}, not {prop.dataType.value}",
                            field=key,
                        )
                if all(prop.name in declared for prop in key_properties(key)):
                    keys.add(key)
        self._keys[class_name(name)] = keys
        return keys

    async def _known_keys(self, spec: CollectionSpec, wanted: set[str]) -> set[str]:
        """The collection's keys, re-read from the server when ``wanted`` has a key not seen yet."""
        keys = self._keys.get(class_name(spec.name))
        if keys is None or not wanted <= keys:
            keys = await self._read_keys(spec.name)
        return keys

    async def _ensure_keys(self, spec: CollectionSpec, wanted: set[str]) -> None:
        """Declare the typed properties of new metadata keys before the first write that uses them.

        The schema is re-read for every batch that carries metadata (not taken from this
        connection's cache): if another connection dropped and re-created the collection, writing
        a property the new class lacks would let Weaviate's auto-schema create it with an inferred
        type and word tokenization, silently breaking exact filters.
        """
        if not wanted:
            return
        async with self._schema_lock:
            known = await self._read_keys(spec.name)
            collection = self._collection(spec)
            for key in sorted(wanted - known):
                for prop in key_properties(key):
                    try:
                        with self.errors(f"add property {prop.name!r} to {spec.name!r}"):
                            await collection.config.add_property(prop)
                    except BackendError as exc:
                        # another connection declared it first: fine if it now exists with our type
                        if not isinstance(exc.orig, WeaviateInvalidInputError | UnexpectedStatusCodeError):
                            raise
                known = await self._read_keys(spec.name)
                if key not in known:
                    raise BackendError(f"weaviate: could not declare the properties of metadata key {key!r}")

    async def _lower(self, spec: CollectionSpec, filter: CompiledFilter | None) -> Lowered:
        if filter is None:
            return True
        return filter.lower(await self._known_keys(spec, fields_of(filter.node)))

    # --- collections ---------------------------------------------------------------------------

    async def create_collection(self, spec: CollectionSpec) -> None:
        if spec.layout is not None:
            return await self.native.create(spec)
        payload = collection_payload(spec.to_dict(), spec.metric, spec.index)
        with self.errors(f"create collection {spec.name!r}"):
            if await self.client.collections.exists(payload["class"]):
                raise CollectionExistsError(f"weaviate: collection {spec.name!r} already exists")
            try:
                await self.client.collections.create_from_dict(payload)
            except UnexpectedStatusCodeError as exc:
                if exc.status_code == 422 and "already exists" in str(exc).lower():
                    raise CollectionExistsError(f"weaviate: collection {spec.name!r} already exists") from exc
                raise
        self._keys[payload["class"]] = set()

    async def set_search_defaults(self, collection: CollectionSpec, search: SearchParams | None) -> None:
        """Weaviate's ``ef`` is the class's ``vectorIndexConfig`` (HNSW), not a query's: no query can
        set it (no ``SEARCH_EF``), and changing it for one query would be a schema write every other
        reader sees meanwhile. As a default it is what it is in Weaviate (``SEARCH_EF_DEFAULT``): one
        schema update sets the vector's ``ef`` (``None``: back to Weaviate's dynamic ``-1``) and the
        facts in the class description. Refused on a flat index (it has no ``ef``) and on classes
        vecbridge did not create (their settings belong to their application)."""
        if collection.layout is not None:
            raise UnsupportedFeatureError(
                f"weaviate: class {class_name(collection.name)!r} is not vecbridge's: its ef belongs to its application"
            )
        spec = await self.describe_collection(collection.name)
        if isinstance(spec.index, Flat) and search is not None:
            raise UnsupportedFeatureError(f"weaviate: collection {spec.name!r} has a flat index: no ef to set")
        hnsw = Reconfigure.VectorIndex.hnsw(ef=-1 if search is None or search.ef is None else search.ef)
        with self.errors(f"set search defaults of {spec.name!r}"):
            await self.client.collections.use(class_name(spec.name)).config.update(
                description=facts_description(replace(spec, search=search).to_dict()),
                vector_config=Reconfigure.Vectors.update(name=VECTOR_NAME, vector_index_config=hnsw),
            )

    async def drop_collection(self, name: str) -> None:
        with self.errors(f"drop collection {name!r}"):
            if not await self.client.collections.exists(class_name(name)):
                raise CollectionNotFoundError(f"weaviate: collection {name!r} does not exist")
            await self.client.collections.delete(class_name(name))
        self._keys.pop(class_name(name), None)

    async def list_collections(self) -> list[CollectionSpec]:
        with self.errors("list collections"):
            configs = await self.client.collections.list_all(simple=True)
        specs = []
        for weaviate_class, config in configs.items():
            facts = facts_from_description(config.description)
            if facts is not None and facts.get("name") == collection_name(weaviate_class):
                specs.append(CollectionSpec.from_dict(facts))
        return specs

    async def describe_collection(self, name: str) -> CollectionSpec:
        with self.errors(f"describe collection {name!r}"):
            if not await self.client.collections.exists(class_name(name)):
                raise CollectionNotFoundError(f"weaviate: collection {name!r} does not exist")
            config = await self.client.collections.use(class_name(name)).config.get(simple=True)
        facts = facts_from_description(config.description)
        if facts is None:
            raise CollectionNotFoundError(f"weaviate: {class_name(name)!r} exists but was not created by vecbridge")
        return CollectionSpec.from_dict(facts)

    async def list_native_collections(self) -> list[CollectionSpec]:
        return await self.native.list_all()

    async def describe_native_collection(self, name: str, layout: Layout) -> CollectionSpec:
        return await self.native.describe(name, layout)

    async def list_namespaces(self, collection: CollectionSpec) -> list[str]:
        if collection.layout is not None:
            return await self.native.list_namespaces(collection)
        with self.errors(f"list namespaces of {collection.name!r}"):
            result = await self._collection(collection).aggregate.over_all(
                group_by=GroupByAggregate(prop=NS_PROP, limit=100_000), total_count=True
            )
        return [str(group.grouped_by.value) for group in result.groups if (group.total_count or 0) > 0]

    # --- records -------------------------------------------------------------------------------

    def check_storable(self, collection: CollectionSpec, record: Record) -> None:
        """Every valid record fits vecbridge's own classes; a native class: what its properties hold."""
        if collection.layout is not None:
            self.native.check_storable(collection, record)

    async def upsert(self, collection: CollectionSpec, namespace: str, records: Sequence[Record]) -> None:
        if collection.layout is not None:
            return await self.native.upsert(collection, namespace, records)
        await self._ensure_keys(collection, metadata_keys(records))
        objects = [
            DataObject(
                uuid=object_uuid(namespace, record.id),
                properties=object_properties(namespace, record),
                vector={VECTOR_NAME: [float(x) for x in record.vector]},
            )
            for record in records
        ]
        with self.errors(f"upsert into {collection.name!r}"):
            result = await self._collection(collection).data.insert_many(objects)
        if result.has_errors:
            first = next(iter(result.errors.values()))
            failed = [records[i].id for i in result.errors]
            raise BackendError(
                f"weaviate: upsert of {len(failed)} record(s) failed, e.g. {failed[0]!r}: {first.message}"
            )

    def _match(self, spec: CollectionSpec, obj: Any, include_vectors: bool) -> Match:
        record_id, metadata, document = record_fields(obj.properties)
        distance = obj.metadata.distance
        return Match(
            id=record_id,
            score=distance_to_score(spec.metric, float(distance)),
            metadata=metadata,
            document=document,
            vector=vector_of(obj, VECTOR_NAME) if include_vectors else None,
        )

    @staticmethod
    def _record(obj: Any, include_vectors: bool) -> Record:
        record_id, metadata, document = record_fields(obj.properties)
        vector = vector_of(obj, VECTOR_NAME) if include_vectors else np.zeros(0, dtype=np.float32)
        return Record(id=record_id, vector=vector, metadata=metadata, document=document)

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
        lowered = await self._lower(collection, filter)
        if lowered is False:
            return []
        arguments = query_arguments(namespace, vector, top_k, lowered, include_vectors)
        with self.errors(f"query {collection.name!r}"):
            result = await self._collection(collection).query.near_vector(**arguments)
        return [self._match(collection, obj, include_vectors) for obj in result.objects]

    async def get(
        self, collection: CollectionSpec, namespace: str, ids: Sequence[str], include_vectors: bool
    ) -> list[Record]:
        if collection.layout is not None:
            return await self.native.get(collection, namespace, ids, include_vectors)
        with self.errors(f"get from {collection.name!r}"):
            result = await self._collection(collection).query.fetch_objects(
                **get_arguments(namespace, ids, include_vectors)
            )
        wanted = set(ids)
        records = [self._record(obj, include_vectors) for obj in result.objects]
        return [record for record in records if record.id in wanted]

    async def _delete(self, collection: CollectionSpec, where: _Filters) -> None:
        # delete_many removes at most QUERY_MAXIMUM_RESULTS (10,000 by default) objects per call
        target = self._collection(collection)
        while True:
            with self.errors(f"delete from {collection.name!r}"):
                result = await target.data.delete_many(where=where)
            if result.failed:
                raise BackendError(f"weaviate: {result.failed} object(s) of {collection.name!r} could not be deleted")
            if result.matches == 0 or result.successful == 0:
                return

    async def delete_ids(self, collection: CollectionSpec, namespace: str, ids: Sequence[str]) -> None:
        if collection.layout is not None:
            return await self.native.delete_ids(collection, namespace, ids)
        uuids = [object_uuid(namespace, record_id) for record_id in ids]
        await self._delete(collection, scoped(namespace, Filter.by_id().contains_any(uuids)))

    async def delete_where(self, collection: CollectionSpec, namespace: str, filter: Any | None) -> None:
        if collection.layout is not None:
            return await self.native.delete_where(collection, namespace, filter)
        lowered = await self._lower(collection, filter)
        if lowered is False:
            return
        await self._delete(collection, scoped(namespace, lowered))

    async def count(self, collection: CollectionSpec, namespace: str, filter: Any | None) -> int:
        if collection.layout is not None:
            return await self.native.count(collection, namespace, filter)
        lowered = await self._lower(collection, filter)
        if lowered is False:
            return 0
        with self.errors(f"count {collection.name!r}"):
            result = await self._collection(collection).aggregate.over_all(
                filters=scoped(namespace, lowered), total_count=True
            )
        return int(result.total_count or 0)

    async def scan(
        self,
        collection: CollectionSpec,
        namespace: str,
        cursor: str | None,
        page_size: int,
        filter: Any | None,
        include_vectors: bool,
    ) -> Page:
        """One page of the whole class in uuid order (``after`` cannot be combined with a filter in
        Weaviate), keeping the namespace's records that match ``filter`` by the reference evaluator
        on the exact stored metadata. The cursor is the last uuid read, so a page may hold fewer
        than ``page_size`` records (even none) while the cursor is not ``None``."""
        if collection.layout is not None:
            return await self.native.scan(collection, namespace, cursor, page_size, filter, include_vectors)
        node = filter.node if isinstance(filter, CompiledFilter) else None
        with self.errors(f"scan {collection.name!r}"):
            result = await self._collection(collection).query.fetch_objects(
                **scan_arguments(uuid_cursor(cursor), page_size, include_vectors)
            )
        records = []
        for obj in result.objects:
            if obj.properties.get(NS_PROP) != namespace:
                continue
            record = self._record(obj, include_vectors)
            if node is None or evaluate(node, record.metadata):
                records.append(record)
        last = str(result.objects[-1].uuid) if len(result.objects) == page_size else None
        return Page(records=records, cursor=last)

"""``milvus://host:19530/dbname?token=...`` and ``milvus+lite:///path/file.db`` (Milvus Lite 2.5.1).

One Milvus collection per vecbridge collection, with a fixed schema that holds any contract record:

====== ================ ====================================================================
field  type             holds
====== ================ ====================================================================
pk     VARCHAR(32), PK  digest of (namespace, id): ids of any length and alphabet, and the same
                        id in two namespaces are two records
ns     VARCHAR(64)      the namespace (every read and write is scoped by ``ns == "..."``)
vid    VARCHAR(2048)    the original id (512 characters of up to 4 UTF-8 bytes)
vec    FLOAT_VECTOR(d)  the vector
meta   JSON             the metadata as given (plus ``_vb_doc: false`` when there is no document)
vbx    JSON             helper keys for exact filters, never read back: ``t_<k>`` (type tag)
                        and ``l_<k>`` (digests of a list's elements)
doc    VARCHAR(65535)   the document ("" when absent: Milvus Lite has no nullable fields)
====== ================ ====================================================================

The collection facts (``CollectionSpec.to_dict()``) are the collection's description, as JSON
(Milvus Lite 2.5.1 does not keep collection properties). Reads use Strong consistency; writes use
``upsert``, which replaces a whole entity (Milvus ``insert`` would duplicate primary keys).
Records over the schema's limits (``doc`` 65,535 bytes, a JSON field 65,536 bytes) are refused by
``check_storable``, which the core calls before the first write of an upsert (Milvus Lite 2.5.1
does not enforce them; a Milvus server does). Squared L2 distances are turned into minus the true
L2 distance. The client is pymilvus' ``AsyncMilvusClient`` (native async over gRPC; in Lite mode
it talks to the bundled ``milvus`` server process that pymilvus starts for the database file).

Every other collection (no vecbridge facts in its description) is read through a layout, and
written in its own shape only when the caller opts in: :mod:`vecbridge_milvus.native` (inference,
reads, writes), :mod:`vecbridge_milvus.native_filters` and :mod:`vecbridge_milvus.presets`
(LangChain, LlamaIndex). A spec whose ``layout`` is set goes there from every primitive.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import orjson
from pymilvus import AsyncMilvusClient, DataType, MilvusClient

from vecbridge.adapter import DOCUMENT_KEY, Adapter, Capability
from vecbridge.errors import (
    BackendError,
    CollectionExistsError,
    CollectionNotFoundError,
    InvalidArgumentError,
    InvalidRecordError,
    InvalidURLError,
    TransientBackendError,
    VecbridgeError,
)
from vecbridge.filters import FilterNode
from vecbridge.layout import Layout
from vecbridge.types import HNSW, IVF, CollectionSpec, FloatArray, Match, Metadata, Metric, Page, Record, SearchParams
from vecbridge.url import URL
from vecbridge_milvus.filters import RESERVED, MilvusFilterCompiler, shadow_keys
from vecbridge_milvus.native import NativeCollections

MAX_ID_BYTES = 2048
MAX_DOCUMENT_BYTES = 65_535
#: Milvus' limit on one JSON field value (``common.JSONMaxLength``), in bytes of the JSON sent.
MAX_JSON_BYTES = 65_536
MAX_NAMESPACE_LENGTH = 64
#: A plain Milvus query returns at most this many rows (offset + limit).
MAX_QUERY_ROWS = 16_384
FACTS_MARKER = "vecbridge"
_URL_OPTIONS = frozenset({"token", "db", "timeout"})
_METRIC = {Metric.COSINE: "COSINE", Metric.DOT: "IP", Metric.EUCLIDEAN: "L2"}
_TRANSIENT_WORDS = ("unavailable", "deadline", "timeout", "timed out", "rate limit", "too many requests")
_NOT_FOUND_WORDS = ("collection not found", "can't find collection", "collection not exist", "does not exist")


def primary_key(namespace: str, record_id: str) -> str:
    """The Milvus primary key of an id in a namespace: 32 hex characters, never escaped anywhere."""
    data = namespace.encode() + b"\x00" + record_id.encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _is_key(text: str) -> bool:
    return len(text) == 32 and all(c in "0123456789abcdef" for c in text)


def _scan_range(cursor: str | None) -> tuple[str | None, str | None]:
    """``(after, until)`` of a scan cursor: primary keys above ``after`` and below ``until`` (``None``: open)."""
    if cursor is None:
        return None, None
    after, dash, until = cursor.partition("-")
    if not (_is_key(after) or (dash and not after)) or (dash and not (_is_key(until) or (after and not until))):
        raise InvalidArgumentError(f"not a milvus scan cursor: {cursor!r}")
    return after or None, until or None


def _stored_meta(record: Record) -> dict[str, Any]:
    """The ``meta`` JSON of a record: its metadata, plus ``_vb_doc: false`` when it has no document."""
    if record.document is None:
        return {**record.metadata, DOCUMENT_KEY: False}
    return dict(record.metadata)


def _json_size(value: object) -> int:
    """Bytes of ``value`` as pymilvus sends a JSON field (``orjson.dumps``: compact UTF-8)."""
    return len(orjson.dumps(value))


def _largest_key(metadata: Metadata) -> str:
    return max(metadata, key=lambda key: _json_size(metadata[key]))


def _score(metric: Metric, distance: float) -> float:
    if metric is Metric.EUCLIDEAN:  # Milvus L2 is the squared distance
        return -math.sqrt(max(distance, 0.0))
    return distance  # COSINE: cosine similarity, IP: inner product (both higher is better)


def _index_type(spec: CollectionSpec, lite: bool) -> tuple[str, dict[str, int]]:
    """The Milvus index for the spec. Lite 2.5 offers FLAT, IVF_FLAT and AUTOINDEX only: an HNSW spec
    runs as FLAT there (exact search, so at least the recall HNSW would give)."""
    index = spec.index
    if isinstance(index, IVF):
        return "IVF_FLAT", {"nlist": index.nlist}
    if isinstance(index, HNSW) and not lite:
        return "HNSW", {"M": index.m, "efConstruction": index.ef_construction}
    return "FLAT", {}


class MilvusAdapter(Adapter):
    """Milvus (server or Lite) through pymilvus ``AsyncMilvusClient``."""

    name: ClassVar[str] = "milvus"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.PERSISTENT,
            Capability.SHARED_ACROSS_CONNECTIONS,
            Capability.EXACT_FLOATS,
            Capability.PARTITIONED_SCAN,
            Capability.NATIVE_LAYOUTS,
            Capability.SEARCH_EF,
            Capability.SEARCH_PROBES,
        }
    )
    #: Measured on Milvus Lite 2.5.1 (benchmarks/bench_milvus.py): 1,000 x 384 per insert is near the
    #: best throughput; 5,000 per insert collapses to a few hundred records/s.
    max_batch: ClassVar[int] = 1000
    max_concurrency: ClassVar[int] = 2
    max_top_k: ClassVar[int] = MAX_QUERY_ROWS
    filter_compiler = MilvusFilterCompiler

    def __init__(self, client: AsyncMilvusClient, lite: bool, timeout: float | None) -> None:
        self.client = client
        self.lite = lite
        self.timeout = timeout
        self.closed = False
        #: collections vecbridge did not create (a spec with a layout): :mod:`vecbridge_milvus.native`
        self.native = NativeCollections(self)

    # --- connection ------------------------------------------------------------------------------

    @classmethod
    async def connect(cls, url: URL) -> Adapter:
        unknown = set(url.query) - _URL_OPTIONS
        if unknown:
            raise InvalidURLError(
                f"{url}: unknown option(s) {sorted(unknown)}; known: {', '.join(sorted(_URL_OPTIONS))}"
            )
        timeout = float(url.get("timeout") or 30)
        kwargs: dict[str, Any] = {"timeout": timeout}
        if url.driver == "lite":
            path = (url.host or "") + url.path
            if not path.endswith(".db"):
                raise InvalidURLError(
                    f"{url}: Milvus Lite needs a database file ending in .db, as in milvus+lite:///data/vb.db"
                )
            kwargs["uri"] = path
            # Milvus Lite's gRPC server answers pymilvus' default 10 s keepalive pings with GOAWAY
            # "too_many_pings" on an idle connection, dropping it mid-session: ping only while calls run
            kwargs["grpc_options"] = {"grpc.keepalive_time_ms": 300_000, "grpc.keepalive_permit_without_calls": False}
            lite = True
        elif url.driver is None:
            if url.host is None:
                raise InvalidURLError(f"{url}: give a host, as in milvus://127.0.0.1:19530")
            kwargs["uri"] = f"http://{url.host}:{url.port or 19530}"
            token = url.get("token") or (f"{url.username}:{url.password or ''}" if url.username else None)
            if token:
                kwargs["token"] = token
            db = url.get("db") or url.path.strip("/")
            if db:
                kwargs["db_name"] = db
            lite = False
        else:
            raise InvalidURLError(f"{url}: unknown driver {url.driver!r}; use milvus:// or milvus+lite://")
        try:
            client = AsyncMilvusClient(**kwargs)
        except Exception as exc:
            raise cls.map_error(cls.__new__(cls), exc, f"connect to {url}") from exc
        return cls(client, lite, timeout)

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            await self.client.close()

    def map_error(self, exc: Exception, action: str) -> VecbridgeError:
        text = str(exc)
        message = f"{self.name}: {action} failed: {type(exc).__name__}: {text}"
        lowered = text.lower()
        if any(word in lowered for word in _NOT_FOUND_WORDS) and "collection" in lowered:
            return CollectionNotFoundError(f"{self.name}: {action}: the collection does not exist")
        if any(word in lowered for word in _TRANSIENT_WORDS):
            return TransientBackendError(message, orig=exc)
        return BackendError(message, orig=exc)

    # --- collections -----------------------------------------------------------------------------

    async def create_collection(self, spec: CollectionSpec) -> None:
        if spec.layout is not None:
            return await self.native.create(spec)
        with self.errors(f"create collection {spec.name!r}"):
            if await self.client.has_collection(spec.name):
                raise CollectionExistsError(f"collection {spec.name!r} already exists")
            index_type, params = _index_type(spec, self.lite)
            facts = {FACTS_MARKER: spec.to_dict(), "milvus_index": index_type}
            schema = AsyncMilvusClient.create_schema(
                auto_id=False, enable_dynamic_field=False, description=json.dumps(facts)
            )
            schema.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=32)
            schema.add_field("ns", DataType.VARCHAR, max_length=MAX_NAMESPACE_LENGTH)
            schema.add_field("vid", DataType.VARCHAR, max_length=MAX_ID_BYTES)
            schema.add_field("vec", DataType.FLOAT_VECTOR, dim=spec.dimension)
            schema.add_field("meta", DataType.JSON)
            schema.add_field("vbx", DataType.JSON)
            schema.add_field("doc", DataType.VARCHAR, max_length=MAX_DOCUMENT_BYTES)
            index_params = MilvusClient.prepare_index_params()
            index_params.add_index(
                field_name="vec", index_type=index_type, metric_type=_METRIC[spec.metric], params=params
            )
            await self.client.create_collection(
                spec.name, schema=schema, index_params=index_params, consistency_level="Strong"
            )

    async def drop_collection(self, name: str) -> None:
        await self.describe_collection(name)
        with self.errors(f"drop collection {name!r}"):
            await self.client.drop_collection(name)

    async def list_collections(self) -> list[CollectionSpec]:
        with self.errors("list collections"):
            names = await self.client.list_collections()
        specs = []
        for name in names:
            try:
                specs.append(await self.describe_collection(name))
            except CollectionNotFoundError:  # not a vecbridge collection, or dropped meanwhile
                continue
        return specs

    async def describe_collection(self, name: str) -> CollectionSpec:
        with self.errors(f"describe collection {name!r}"):
            if not await self.client.has_collection(name):
                raise CollectionNotFoundError(f"collection {name!r} does not exist")
            described = await self.client.describe_collection(name)
        try:
            facts = json.loads(described.get("description") or "")
            return CollectionSpec.from_dict(facts[FACTS_MARKER])
        except (ValueError, KeyError, TypeError):
            raise CollectionNotFoundError(f"collection {name!r} exists but is not a vecbridge collection") from None

    async def list_native_collections(self) -> list[CollectionSpec]:
        return await self.native.list_all()

    async def describe_native_collection(self, name: str, layout: Layout) -> CollectionSpec:
        return await self.native.describe(name, layout)

    def compile_filter(self, node: FilterNode, collection: CollectionSpec) -> Any:
        if collection.layout is not None:
            return self.native.compile_filter(node, collection)
        return super().compile_filter(node, collection)

    async def list_namespaces(self, collection: CollectionSpec) -> list[str]:
        if collection.layout is not None:
            return await self.native.list_namespaces(collection)
        # one cheap query per namespace: "a record whose namespace is none of those found so far"
        found: list[str] = []
        while True:
            expr = "ns not in [" + ", ".join(f'"{ns}"' for ns in found) + "]" if found else ""
            rows = await self._query(collection, expr, ["ns"], limit=1, action="list namespaces of")
            if not rows:
                return found
            found.append(str(rows[0]["ns"]))

    # --- helpers ---------------------------------------------------------------------------------

    @staticmethod
    def _where(namespace: str, filter: str | None) -> str:
        scope = f'ns == "{namespace}"'  # namespaces are [A-Za-z0-9_.-] (checked by the core)
        return f"{scope} and {filter}" if filter else scope

    async def _query(
        self, collection: CollectionSpec, expr: str, fields: list[str], limit: int | None, action: str
    ) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {"output_fields": fields, "consistency_level": "Strong", "timeout": self.timeout}
        if limit is not None:
            kwargs["limit"] = limit
        with self.errors(f"{action} {collection.name!r}"):
            rows = await self.client.query(collection.name, filter=expr, **kwargs)
        return list(rows)

    @staticmethod
    def _fields(include_vectors: bool) -> list[str]:
        return ["pk", "vid", "meta", "doc", "vec"] if include_vectors else ["pk", "vid", "meta", "doc"]

    @staticmethod
    def _split(entity: dict[str, Any]) -> tuple[Metadata, str | None]:
        stored: dict[str, Any] = entity.get("meta") or {}
        if DOCUMENT_KEY not in stored:
            return stored, entity.get("doc")
        metadata = {k: v for k, v in stored.items() if not k.startswith(RESERVED)}
        return metadata, None

    def _record(self, entity: dict[str, Any], include_vectors: bool) -> Record:
        metadata, document = self._split(entity)
        vector = np.asarray(entity["vec"], dtype=np.float32) if include_vectors else np.zeros(0, dtype=np.float32)
        return Record(id=str(entity["vid"]), vector=vector, metadata=metadata, document=document)

    # --- records ---------------------------------------------------------------------------------

    def check_storable(self, collection: CollectionSpec, record: Record) -> None:
        """The schema's limits, in the bytes Milvus counts: ``doc`` VARCHAR(65535) holds at most 65,535
        bytes of UTF-8, and each JSON field (``meta``, ``vbx``) at most 65,536 bytes of the JSON pymilvus
        sends (``orjson``). Milvus servers enforce both; Milvus Lite 2.5.1 enforces neither (measured: it
        stores a 20 MB JSON value and a VARCHAR past its ``max_length``), so this check is what keeps a
        Lite collection within its declared schema, movable to a server. ``vid`` (VARCHAR(2048)) holds
        any contract id: 512 characters of at most 4 bytes."""
        if collection.layout is not None:
            return self.native.check_storable(collection, record)
        document = record.document
        if document is not None and len(document) * 4 > MAX_DOCUMENT_BYTES:
            size = len(document.encode("utf-8", "surrogatepass"))
            if size > MAX_DOCUMENT_BYTES:
                raise InvalidRecordError(
                    f"document is {size} bytes of UTF-8; Milvus' doc column (VARCHAR) holds at most "
                    f"{MAX_DOCUMENT_BYTES}",
                    record_id=record.id,
                    field="document",
                )
        if not record.metadata:
            return
        meta_size = _json_size(_stored_meta(record))
        if meta_size > MAX_JSON_BYTES:
            raise InvalidRecordError(
                f"metadata is {meta_size} bytes of JSON (largest value: {_largest_key(record.metadata)!r}); "
                f"a Milvus JSON field holds at most {MAX_JSON_BYTES}",
                record_id=record.id,
                field="metadata",
            )
        helper_size = _json_size(shadow_keys(record.metadata))
        if helper_size > MAX_JSON_BYTES:
            raise InvalidRecordError(
                f"the filter helper keys of the metadata (a type tag per key, a digest per list element) are "
                f"{helper_size} bytes of JSON (largest: {_largest_key(record.metadata)!r}); a Milvus JSON field "
                f"holds at most {MAX_JSON_BYTES}",
                record_id=record.id,
                field="metadata",
            )

    async def upsert(self, collection: CollectionSpec, namespace: str, records: Sequence[Record]) -> None:
        if collection.layout is not None:
            return await self.native.upsert(collection, namespace, records)
        rows = []
        for record in records:  # the core checked every record with check_storable before the first write
            document = record.document
            meta = _stored_meta(record)
            rows.append(
                {
                    "pk": primary_key(namespace, record.id),
                    "ns": namespace,
                    "vid": record.id,
                    "vec": np.asarray(record.vector, dtype=np.float32).tolist(),
                    "meta": meta,
                    "vbx": shadow_keys(record.metadata),
                    "doc": document or "",
                }
            )
        with self.errors(f"upsert into {collection.name!r}"):
            await self.client.upsert(collection.name, rows, timeout=self.timeout)

    @classmethod
    def variant(cls, url: URL) -> type[Adapter]:
        return MilvusLiteAdapter if url.driver == "lite" else cls

    def _search_params(
        self, collection: CollectionSpec, top_k: int, exhaustive: bool, search: SearchParams | None = None
    ) -> dict[str, Any]:
        """``nprobe`` for IVF_FLAT and ``ef`` for HNSW: ``search``'s where given (an ``ef`` below
        ``top_k`` is raised to it: Milvus refuses a smaller one), else vecbridge's defaults."""
        index = collection.index
        params: dict[str, int] = {}
        if isinstance(index, IVF):
            default = index.nlist if exhaustive else min(index.nlist, max(16, index.nlist // 8))
            asked = None if exhaustive or search is None else search.probes
            params["nprobe"] = default if asked is None else min(index.nlist, asked)
        elif isinstance(index, HNSW) and not self.lite:
            asked = None if exhaustive or search is None else search.ef
            params["ef"] = MAX_QUERY_ROWS if exhaustive else max(top_k, 64 if asked is None else asked)
        return {"metric_type": _METRIC[collection.metric], "params": params}

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
        """``search.ef`` / ``search.probes``: see :meth:`_search_params` (a knob of the other index
        kind than the collection's has nothing to set). A short answer is redone exhaustively."""
        if collection.layout is not None:
            return await self.native.query(collection, namespace, vector, top_k, filter, include_vectors)
        expr = self._where(namespace, filter)
        hits = await self._search(collection, vector, top_k, expr, include_vectors, exhaustive=False, search=search)
        approximate = isinstance(collection.index, IVF) or (isinstance(collection.index, HNSW) and not self.lite)
        if len(hits) < top_k and approximate:
            # an ANN index may come back short under a filter: redo it exhaustively
            hits = await self._search(collection, vector, top_k, expr, include_vectors, exhaustive=True)
        matches = []
        for hit in hits:
            entity = hit["entity"]
            metadata, document = self._split(entity)
            matches.append(
                Match(
                    id=str(entity["vid"]),
                    score=_score(collection.metric, float(hit["distance"])),
                    metadata=metadata,
                    document=document,
                    vector=np.asarray(entity["vec"], dtype=np.float32) if include_vectors else None,
                )
            )
        return matches

    async def _search(
        self,
        collection: CollectionSpec,
        vector: FloatArray,
        top_k: int,
        expr: str,
        include_vectors: bool,
        exhaustive: bool,
        search: SearchParams | None = None,
    ) -> list[dict[str, Any]]:
        with self.errors(f"query {collection.name!r}"):
            result = await self.client.search(
                collection.name,
                data=[np.asarray(vector, dtype=np.float32).tolist()],
                limit=top_k,
                filter=expr,
                output_fields=self._fields(include_vectors)[1:],
                search_params=self._search_params(collection, top_k, exhaustive, search),
                anns_field="vec",
                consistency_level="Strong",
                timeout=self.timeout,
            )
        return list(result[0]) if result else []

    async def get(
        self, collection: CollectionSpec, namespace: str, ids: Sequence[str], include_vectors: bool
    ) -> list[Record]:
        if collection.layout is not None:
            return await self.native.get(collection, namespace, ids, include_vectors)
        keys = ", ".join(f'"{primary_key(namespace, i)}"' for i in ids)
        rows = await self._query(
            collection, f"pk in [{keys}]", self._fields(include_vectors), limit=None, action="get from"
        )
        return [self._record(row, include_vectors) for row in rows]

    async def delete_ids(self, collection: CollectionSpec, namespace: str, ids: Sequence[str]) -> None:
        if collection.layout is not None:
            return await self.native.delete_ids(collection, namespace, ids)
        with self.errors(f"delete from {collection.name!r}"):
            await self.client.delete(
                collection.name, ids=[primary_key(namespace, i) for i in ids], timeout=self.timeout
            )

    async def delete_where(self, collection: CollectionSpec, namespace: str, filter: Any | None) -> None:
        if collection.layout is not None:
            return await self.native.delete_where(collection, namespace, filter)
        await self.describe_collection(collection.name)
        with self.errors(f"delete from {collection.name!r}"):
            await self.client.delete(collection.name, filter=self._where(namespace, filter), timeout=self.timeout)

    async def count(self, collection: CollectionSpec, namespace: str, filter: Any | None) -> int:
        if collection.layout is not None:
            return await self.native.count(collection, namespace, filter)
        rows = await self._query(collection, self._where(namespace, filter), ["count(*)"], limit=None, action="count")
        return int(rows[0]["count(*)"]) if rows else 0

    async def scan(
        self,
        collection: CollectionSpec,
        namespace: str,
        cursor: str | None,
        page_size: int,
        filter: Any | None,
        include_vectors: bool,
    ) -> Page:
        """Keyset pages over the primary key (Milvus returns a limited query in primary-key order);
        the cursor is the last primary key seen, so any connection can resume from it, followed
        inside a partition by ``-`` and the key the partition ends before."""
        if collection.layout is not None:
            return await self.native.scan(collection, namespace, cursor, page_size, filter, include_vectors)
        expr = self._where(namespace, filter)
        after, until = _scan_range(cursor)
        if after is not None:
            expr = f'{expr} and pk > "{after}"'
        if until is not None:
            expr = f'{expr} and pk < "{until}"'
        size = min(page_size, MAX_QUERY_ROWS - 1)
        rows = await self._query(collection, expr, self._fields(include_vectors), limit=size + 1, action="scan")
        rows.sort(key=lambda row: str(row["pk"]))
        page = rows[:size]
        records = [self._record(row, include_vectors) for row in page]
        next_cursor = str(page[-1]["pk"]) + ("" if until is None else f"-{until}") if len(rows) > size else None
        return Page(records, next_cursor)

    async def partitions(self, collection: CollectionSpec, namespace: str, count: int) -> list[str | None]:
        """Equal slices of the primary keys' hash space (uniform, so about equal record counts)."""
        if collection.layout is not None:  # a native collection scans as one partition
            return [None]
        bounds = [(i << 128) // count for i in range(1, count)]
        afters = ["", *(f"{bound - 1:032x}" for bound in bounds)]
        untils = [*(f"{bound:032x}" for bound in bounds), ""]
        return [f"{after}-{until}" for after, until in zip(afters, untils, strict=True)]


class MilvusLiteAdapter(MilvusAdapter):
    """``milvus+lite://``: Milvus Lite 2.5 has no HNSW (an HNSW spec runs as FLAT, exact), so it takes
    no ``ef``; ``probes`` is IVF_FLAT's ``nprobe``."""

    capabilities: ClassVar[frozenset[Capability]] = MilvusAdapter.capabilities - {Capability.SEARCH_EF}

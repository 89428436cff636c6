"""Milvus collections vecbridge did not create: discovered, read, and written in their own shape when asked.

A native collection is every collection whose description holds no vecbridge facts. Discovery and
reads only call ``list_collections``, ``describe_collection``, ``list_indexes``, ``describe_index``,
``get_load_state``, ``query`` and ``search``: nothing is created, indexed, loaded or released, at
connect time or later.

Load state
    Milvus searches and queries only loaded collections. On a Milvus server the load state is the
    server's, shared and kept: loading is a state change, and vecbridge never does it. A native
    collection that is not loaded is listed and described there (its schema and index say
    everything, the dynamic keys are not sampled), and every read of it raises
    ``UnsupportedFeatureError`` saying how to load it (``MilvusClient.load_collection``). Milvus
    Lite keeps no load state in its file: every process that opens the file finds every collection
    released (and Lite loads one as a side effect of any query). There, loading is part of opening
    the file in this process, not a change to the data: vecbridge loads a released collection
    before reading it, and the next process finds it released again.

Inferred layout
    * id: the primary key, INT64 (read as its decimal string; a write takes decimal integers only,
      so what is written reads back equal) or VARCHAR;
    * vector: the only FLOAT_VECTOR field; with several, the ``LayoutError`` lists them and the
      option ``{"vector": NAME}``. Other vector types (sparse, binary, float16) are listed, not read;
    * metric: the vector index's ``metric_type`` (COSINE, IP, L2); without an index, unknown (declare
      it; queries need it). A declared metric must be the index's (Milvus ranks in that one only);
    * document: the one well-known VARCHAR field (``text``, ``page_content``, ``content``,
      ``document``), else none; with several, the ``LayoutError`` lists them;
    * metadata: every other scalar field, by type (INT8-INT64 with the core rule beyond 2**53,
      FLOAT, DOUBLE, BOOL, VARCHAR; an ARRAY of VARCHAR as a list of str, other arrays and JSON
      fields as JSON text), the keys of a JSON field named ``metadata`` merged in, and every key of
      the dynamic field (``$meta``), typed from a sample of :data:`SAMPLE_SIZE` rows;
    * namespace: none (the collection is namespace ``default``) or a declared VARCHAR field. A
      partition key field is metadata (Milvus 2.3.5 answered filters on one wrong after ``upsert``:
      ``docs/backends/milvus.md``); Milvus Lite 2.5 answers every filter expression on a collection
      with a partition key with "Invalid expr", so there such a collection is described but every read
      is refused (``UnsupportedFeatureError``). On a server, the partitions are the namespaces when
      declared (``{"namespace": ""}``) or when the collection has partitions besides ``_default``
      (without a partition key): ``_default`` is the namespace ``default``, every other partition
      the namespace of its name; a write into a partition that does not exist creates it. Milvus
      Lite has no partitions (``ShowPartitions`` is unimplemented): ``""`` is a LayoutError there;
    * preset: recognised from the field names (:func:`vecbridge_milvus.presets.detect_preset`).

Filters
    :class:`~vecbridge_milvus.native_filters.NativeFilterCompiler`: exact on the native fields, or
    ``UnsupportedFilterError`` before any request.

Scans
    Keyset pages over the primary key (a limited query returns the smallest keys, sorted here); the
    cursor holds the last key, so a scan resumes from any connection.

Writes (``layout.writable``)
    ``upsert`` replaces whole entities (Milvus' upsert deletes and inserts): the id in the primary
    key, the document in its field (``""`` without one), each typed field from the metadata key of
    its name (a missing key is refused unless the field is nullable), every other key into the
    dynamic field or the merged JSON field (refused when the collection has neither). A collection
    whose primary key Milvus assigns (``auto_id``) takes no writes: its ids cannot be kept.
    ``create_collection`` makes the preset's schema: VARCHAR primary key, the vector, a VARCHAR text
    field, the dynamic field for the metadata, an index of the spec's kind and metric.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
from pymilvus import AsyncMilvusClient, DataType, MilvusClient
from pymilvus.exceptions import MilvusException

from vecbridge.adapter import decode_cursor, encode_cursor
from vecbridge.errors import (
    CollectionExistsError,
    CollectionNotFoundError,
    InvalidRecordError,
    UnsupportedFeatureError,
)
from vecbridge.filters import FilterNode
from vecbridge.layout import (
    FieldRole,
    Layout,
    LayoutError,
    NativeField,
    converted_types,
    key_problem,
    native_id,
    sampled_type,
)
from vecbridge.types import (
    DEFAULT_NAMESPACE,
    HNSW,
    IVF,
    CollectionSpec,
    Flat,
    FloatArray,
    IndexSpec,
    Match,
    Metric,
    Page,
    Record,
)
from vecbridge_milvus import presets
from vecbridge_milvus.filters import quote_string
from vecbridge_milvus.native_filters import Kind, NativeFilterCompiler, Target
from vecbridge_milvus.native_schema import (
    DYNAMIC_FIELD,
    MAX_JSON_BYTES,
    Column,
    Schema,
    check_length,
    column_value,
    created_layout,
    int_id,
    key_value,
)

if TYPE_CHECKING:
    from vecbridge_milvus.adapter import MilvusAdapter

#: rows read to type the dynamic keys and recognise a preset
SAMPLE_SIZE = 1000
#: the partition every collection has; with partitions as namespaces, the namespace ``default``
DEFAULT_PARTITION = "_default"
METRICS = {"COSINE": Metric.COSINE, "IP": Metric.DOT, "L2": Metric.EUCLIDEAN}
#: a plain Milvus query returns at most this many rows
MAX_QUERY_ROWS = 16_384
_SCALAR_KINDS = {
    "BOOL": Kind.BOOL,
    "INT8": Kind.SMALL_INT,
    "INT16": Kind.SMALL_INT,
    "INT32": Kind.SMALL_INT,
    "INT64": Kind.INT64,
    "FLOAT": Kind.FLOAT32,
    "DOUBLE": Kind.DOUBLE,
    "VARCHAR": Kind.VARCHAR,
}
#: what pymilvus 2.6.7-2.6.9 raise for an answer with no rows that asks for an ARRAY field (Milvus Lite
#: sends such a column without its element type); an empty answer is what it stands for
_EMPTY_ARRAY_RESULT = "Unsupported data type: 0"


class NativeCollections:
    """The primitives of :class:`~vecbridge_milvus.adapter.MilvusAdapter` for a spec with a layout."""

    def __init__(self, adapter: MilvusAdapter) -> None:
        self.adapter = adapter

    @property
    def client(self) -> AsyncMilvusClient:
        return self.adapter.client

    @contextmanager
    def _errors(self, action: str, name: str) -> Iterator[None]:
        with self.adapter.errors(f"{action} {name!r}"):
            yield

    # --- discovery -------------------------------------------------------------------------------

    async def list_all(self) -> list[CollectionSpec]:
        with self._errors("list collections of", "the database"):
            names = await self.client.list_collections()
        specs = []
        for name in sorted(names):
            try:
                if await self._is_vecbridge(name):
                    continue
                specs.append(await self.describe(name, Layout()))
            except CollectionNotFoundError:  # dropped meanwhile
                continue
            except LayoutError as exc:  # listed; its layout needs declaring (info shows why)
                specs.append(await self._undecided(name, exc))
        return specs

    async def _is_vecbridge(self, name: str) -> bool:
        try:
            await self.adapter.describe_collection(name)
        except CollectionNotFoundError:
            return False
        return True

    async def _undecided(self, name: str, error: LayoutError) -> CollectionSpec:
        described, _ = await self._schema(name)
        columns = [Column.of(f, bool(described.get("auto_id"))) for f in described.get("fields", [])]
        fields = tuple(NativeField(c.name, c.type_text, FieldRole.UNFIT, str(error)) for c in columns)
        dims = [c.dim for c in columns if c.type == "FLOAT_VECTOR" and c.dim]
        return CollectionSpec(name, dims[0] if dims else 0, Metric.COSINE, layout=Layout(fields=fields))

    async def _schema(self, name: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        """The collection's description and its indexes by field name."""
        with self._errors("describe collection", name):
            if not await self.client.has_collection(name):
                raise CollectionNotFoundError(f"collection {name!r} does not exist")
            described = dict(await self.client.describe_collection(name))
            indexes: dict[str, dict[str, Any]] = {}
            for index_name in await self.client.list_indexes(name):
                index = dict(await self.client.describe_index(name, index_name))
                indexes[str(index.get("field_name", index_name))] = index
        return described, indexes

    async def _readable(self, name: str) -> bool:
        """Whether the collection can be read: loaded, or (Milvus Lite, whose file keeps no load state)
        loaded now for this process."""
        with self._errors("read the load state of", name):
            state = str((await self.client.get_load_state(name)).get("state"))
            if "NotLoad" not in state and "NotExist" not in state:
                return True
            if self.adapter.lite:
                await self.client.load_collection(name, timeout=self.adapter.timeout)
                return True
        return False

    async def describe(self, name: str, declared: Layout) -> CollectionSpec:
        described, indexes = await self._schema(name)
        if await self._is_vecbridge(name):
            raise LayoutError(f"collection {name!r} is vecbridge's own storage: open it without a layout")
        schema = Schema(
            {c.name: c for c in (Column.of(f, bool(described.get("auto_id"))) for f in described.get("fields", []))},
            bool(described.get("enable_dynamic_field")),
        )
        loaded = await self._readable(name)
        rows = await self._sample(name, schema) if loaded else []
        preset = presets.check_preset(declared.preset or presets.detect_preset(name, schema.columns, rows))
        base = declared.over(presets.preset_layout(preset))
        key = schema.key
        if base.id not in (None, key.name):
            if declared.id is not None:
                raise LayoutError(
                    f"collection {name!r}: Milvus finds records by their primary key {key.name!r}; "
                    f"the id must be that field, not {declared.id!r}"
                )
            raise LayoutError(f"collection {name!r} is not in the {preset} preset's shape (no {base.id!r} key)")
        vector = _vector(name, schema, base.vector)
        metric = _metric(name, indexes.get(vector), base.metric)
        document = _document(name, schema, base.document)
        namespace = _namespace(name, schema, base.namespace, await self._partition_names(name))
        merged = base.metadata_keys_from
        if merged is None:
            json_metadata = schema.columns.get(presets.METADATA_FIELD)
            merged = (presets.METADATA_FIELD,) if json_metadata is not None and json_metadata.type == "JSON" else ()
        for field in merged:
            if field not in schema.columns or schema.columns[field].type != "JSON":
                raise LayoutError(f"collection {name!r}: {field!r} is not a JSON field, its keys cannot be merged")
        layout = replace(
            base,
            preset=preset,
            id=key.name,
            vector=vector,
            document=document,
            metadata_keys_from=merged,
            namespace=namespace,
            metric=metric,
        )
        layout = replace(layout, fields=_fields(layout, schema, rows, loaded))
        dimension = schema.columns[vector].dim or 0
        return CollectionSpec(
            name, dimension, metric or Metric.COSINE, index=_index(indexes.get(vector)), layout=layout
        )

    async def _partition_names(self, name: str) -> list[str] | None:
        """The collection's partitions; ``None`` on Milvus Lite, which has none."""
        if self.adapter.lite:
            return None
        with self._errors("list partitions of", name):
            return [str(p) for p in await self.client.list_partitions(name)]

    async def _sample(self, name: str, schema: Schema) -> list[dict[str, Any]]:
        with self._errors("sample", name):
            rows = await self.client.query(
                name, filter="", limit=SAMPLE_SIZE, output_fields=schema.scalar_names(), consistency_level="Strong"
            )
        return [dict(row) for row in rows]

    # --- filters ---------------------------------------------------------------------------------

    def compile_filter(self, node: FilterNode, spec: CollectionSpec) -> str:
        layout = _layout(spec)
        schema = Schema.of(layout)
        targets: dict[str, Target] = {}
        refused: dict[str, str] = {}
        json_keys: dict[str, str] = {}
        for f in layout.fields:
            outer, dot, inner = f.name.partition(".")
            if dot:
                if f.role is not FieldRole.METADATA:
                    refused.setdefault(inner, f"is {f.role.value} in this layout")
                elif converted_types(set(f.type.split("|"))):
                    refused.setdefault(inner, f"holds {f.type} (read converted)")
                else:
                    json_keys.setdefault(inner, _json_path(outer, inner))
                continue
            if f.name == DYNAMIC_FIELD:
                continue
            column = schema.columns[f.name]
            kind = _column_kind(column)
            if f.role is not FieldRole.METADATA:
                refused[f.name] = f"is {f.role.value} in this layout"
            elif kind is None:
                refused[f.name] = f"is a {column.type_text} field (read as JSON text)"
            else:
                targets[f.name] = Target(f.name, kind, column.nullable)
        for name, path in json_keys.items():
            targets.setdefault(name, Target(path, Kind.JSON_KEY))
        primary = schema.key
        compiler = NativeFilterCompiler(
            targets,
            refused,
            metadata=layout.metadata,
            fallback=_fallback_json(layout, schema),
            key_field=primary.name,
            key_is_int=primary.type == "INT64",
            lite=self.adapter.lite,
        )
        return compiler.compile(node)

    def _where(self, spec: CollectionSpec, namespace: str, filter: str | None) -> str | None:
        """The expression of a request in ``namespace``; ``None`` when the layout has no such namespace.
        With partitions as namespaces the request is scoped by :meth:`_partition` instead."""
        field = _layout(spec).namespace
        if field == "":
            return filter or ""
        if field is None:
            if namespace != DEFAULT_NAMESPACE:
                return None
            return filter or ""
        scope = f'{field} == "{namespace}"'  # namespaces are [A-Za-z0-9_.-] (checked by the core)
        return f"{scope} and {filter}" if filter else scope

    async def _partition(self, spec: CollectionSpec, namespace: str) -> dict[str, Any] | None:
        """``partition_names`` scoping a request to ``namespace`` when partitions are the namespaces
        (``None`` when that partition does not exist); no arguments otherwise."""
        if _layout(spec).namespace != "":
            return {}
        partition = partition_of(namespace)
        with self._errors("look up a partition of", spec.name):
            exists = await self.client.has_partition(spec.name, partition)
        return {"partition_names": [partition]} if exists else None

    # --- reads -------------------------------------------------------------------------------------

    async def _read(self, spec: CollectionSpec, action: str, call: str, **kwargs: Any) -> list[Any]:
        """One ``query`` or ``search``, refused up front when the collection is not loaded."""
        if self.adapter.lite and any(c.partition_key for c in Schema.of(_layout(spec)).columns.values()):
            raise UnsupportedFeatureError(
                f"milvus: collection {spec.name!r} has a partition key field, and Milvus Lite 2.5 answers every "
                "filter expression on such a collection with 'Invalid expr' (even one on the primary key): "
                "read it on a Milvus server"
            )
        if not await self._readable(spec.name):
            raise UnsupportedFeatureError(
                f"milvus: collection {spec.name!r} is not loaded, and vecbridge does not load it (reading never "
                f"changes a collection's state): load it first, e.g. MilvusClient(...).load_collection({spec.name!r})"
            )
        with self._errors(action, spec.name):
            method = getattr(self.client, call)
            try:
                rows = await method(spec.name, consistency_level="Strong", timeout=self.adapter.timeout, **kwargs)
            except MilvusException as exc:
                if _EMPTY_ARRAY_RESULT not in str(exc):
                    raise
                return []  # pymilvus 2.6.7-2.6.9 fail to decode an empty answer holding an ARRAY field
        return list(rows)

    def _fields_read(self, spec: CollectionSpec, include_vectors: bool) -> list[str]:
        schema = Schema.of(_layout(spec))
        names = schema.scalar_names()
        return [*names, str(_layout(spec).vector)] if include_vectors else names

    def _record(self, spec: CollectionSpec, row: Mapping[str, Any], include_vectors: bool) -> Record:
        layout = _layout(spec)
        schema = Schema.of(layout)
        record_id = native_id(row[schema.key.name])
        text = row.get(layout.document) if layout.document else None
        document = text if isinstance(text, str) else None
        merged = layout.metadata_keys_from or ()
        own = {schema.key.name, layout.vector, layout.document, layout.namespace, *merged}
        values: dict[str, object] = {}
        for key, value in row.items():
            if key in own or key == DYNAMIC_FIELD or (layout.metadata is not None and key not in layout.metadata):
                continue
            column = schema.columns.get(key)
            if column is not None and column.is_vector:
                continue
            if column is not None and column.type == "ARRAY" and value is not None:
                value = list(value)  # pymilvus < 2.6.10 returns protobuf's repeated container
            values[key] = value
        for field in merged:
            inner = row.get(field)
            if isinstance(inner, dict):
                for key, value in inner.items():
                    if layout.metadata is None or key in layout.metadata:
                        values.setdefault(key, value)
            elif inner is not None:
                layout.drops.add(field, "holds a JSON value that is not an object of metadata keys")
        if include_vectors:
            vector = np.asarray(row[str(layout.vector)], dtype=np.float32)
        else:
            vector = np.zeros(0, dtype=np.float32)
        return Record(record_id, vector, layout.metadata_from(values, record_id), document)

    async def get(
        self, spec: CollectionSpec, namespace: str, ids: Sequence[str], include_vectors: bool
    ) -> list[Record]:
        keys = _key_literals(Schema.of(_layout(spec)).key, ids)
        if not keys:
            return []
        where = self._where(spec, namespace, f"{Schema.of(_layout(spec)).key.name} in [{', '.join(keys)}]")
        scope = await self._partition(spec, namespace)
        if where is None or scope is None:
            return []
        rows = await self._read(
            spec, "get from", "query", filter=where, output_fields=self._fields_read(spec, include_vectors), **scope
        )
        return [self._record(spec, row, include_vectors) for row in rows]

    async def query(
        self,
        spec: CollectionSpec,
        namespace: str,
        vector: FloatArray,
        top_k: int,
        filter: str | None,
        include_vectors: bool,
    ) -> list[Match]:
        layout = _layout(spec)
        where = self._where(spec, namespace, filter)
        scope = await self._partition(spec, namespace)
        if where is None or scope is None:
            return []
        metric = layout.require_metric(spec.name)
        result = await self._read(
            spec,
            "query",
            "search",
            data=[np.asarray(vector, dtype=np.float32).tolist()],
            limit=top_k,
            filter=where,
            output_fields=self._fields_read(spec, include_vectors),
            search_params={"metric_type": _METRIC_NAMES[metric], "params": _search_params(spec.index, top_k)},
            anns_field=layout.vector,
            **scope,
        )
        hits = list(result[0]) if result else []
        matches = []
        for hit in hits:
            entity = dict(hit["entity"])
            entity.setdefault(Schema.of(layout).key.name, hit["id"])
            record = self._record(spec, entity, include_vectors)
            array = np.asarray(record.vector, dtype=np.float32) if include_vectors else None
            matches.append(
                Match(record.id, _score(metric, float(hit["distance"])), record.metadata, record.document, array)
            )
        return matches

    async def count(self, spec: CollectionSpec, namespace: str, filter: str | None) -> int:
        where = self._where(spec, namespace, filter)
        scope = await self._partition(spec, namespace)
        if where is None or scope is None:
            return 0
        rows = await self._read(spec, "count", "query", filter=where, output_fields=["count(*)"], **scope)
        return int(rows[0]["count(*)"]) if rows else 0

    async def scan(
        self,
        spec: CollectionSpec,
        namespace: str,
        cursor: str | None,
        page_size: int,
        filter: str | None,
        include_vectors: bool,
    ) -> Page:
        key = Schema.of(_layout(spec)).key
        after = None if cursor is None else decode_cursor(cursor, self.adapter.name, _cursor_check(key))[0]
        where = self._where(spec, namespace, filter)
        scope = await self._partition(spec, namespace)
        if where is None or scope is None:
            return Page([], None)
        if after is not None:
            bound = f"{key.name} > {_literal(key, after)}"
            where = f"{where} and {bound}" if where else bound
        size = min(page_size, MAX_QUERY_ROWS - 1)
        rows = await self._read(
            spec,
            "scan",
            "query",
            filter=where,
            output_fields=self._fields_read(spec, include_vectors),
            limit=size + 1,
            **scope,
        )
        rows.sort(key=lambda row: row[key.name])
        page = rows[:size]
        records = [self._record(spec, row, include_vectors) for row in page]
        following = encode_cursor([page[-1][key.name]]) if len(rows) > size else None
        return Page(records, following)

    async def list_namespaces(self, spec: CollectionSpec) -> list[str]:
        field = _layout(spec).namespace
        if field is None:
            return [DEFAULT_NAMESPACE] if await self.count(spec, DEFAULT_NAMESPACE, None) else []
        if field == "":
            names = [namespace_of(p) for p in await self._partition_names(spec.name) or []]
            return sorted([name for name in names if await self.count(spec, name, None)])
        key = Schema.of(_layout(spec)).key
        found: set[str] = set()
        after: Any = None
        while True:  # every row's namespace value, keyset page by page
            where = "" if after is None else f"{key.name} > {_literal(key, after)}"
            rows = await self._read(
                spec, "list namespaces of", "query", filter=where, output_fields=[field], limit=MAX_QUERY_ROWS - 1
            )
            found.update(row[field] for row in rows if isinstance(row.get(field), str))
            if len(rows) < MAX_QUERY_ROWS - 1:
                return sorted(found)
            after = max(row[key.name] for row in rows)

    # --- writes ------------------------------------------------------------------------------------

    async def create(self, spec: CollectionSpec) -> None:
        from vecbridge_milvus.adapter import _index_type

        layout = created_layout(_layout(spec), spec.dimension)
        schema = AsyncMilvusClient.create_schema(auto_id=False, enable_dynamic_field=True)
        for column in Schema.of(layout).columns.values():
            if column.is_vector:
                schema.add_field(column.name, DataType.FLOAT_VECTOR, dim=column.dim)
            else:
                schema.add_field(column.name, DataType.VARCHAR, is_primary=column.primary, max_length=column.max_length)
        kind, params = _index_type(spec, self.adapter.lite)
        index_params = MilvusClient.prepare_index_params()
        index_params.add_index(
            field_name=str(layout.vector), index_type=kind, metric_type=_METRIC_NAMES[spec.metric], params=params
        )
        with self._errors("create collection", spec.name):
            if await self.client.has_collection(spec.name):
                raise CollectionExistsError(f"collection {spec.name!r} already exists")
            await self.client.create_collection(
                spec.name, schema=schema, index_params=index_params, consistency_level="Strong"
            )

    def check_storable(self, spec: CollectionSpec, record: Record) -> None:
        """Whether the collection's schema holds ``record`` (the schema it will be created with, when a
        migration plans a collection that does not exist yet)."""
        layout = _layout(spec)
        self._row(layout if layout.fields else created_layout(layout, spec.dimension), DEFAULT_NAMESPACE, record)

    def _row(self, layout: Layout, namespace: str, record: Record) -> dict[str, Any]:
        """The entity a record is written as; ``InvalidRecordError`` when the schema cannot hold it."""
        schema = Schema.of(layout)
        key = schema.key
        if key.auto_id:
            raise InvalidRecordError(
                f"Milvus assigns this collection's primary key {key.name!r} (auto_id): vecbridge cannot keep ids "
                "there; write into a collection with its own keys (e.g. one vecbridge creates with --to-layout)",
                record_id=record.id,
                field="id",
            )
        row: dict[str, Any] = {key.name: key_value(key, record.id)}
        if not layout.document and record.document is not None:
            raise InvalidRecordError(
                "the collection's layout has no document field: declare one, e.g. --to-layout "
                """'{"document": "text"}'""",
                record_id=record.id,
                field="document",
            )
        if layout.document:  # a VARCHAR holds no null (Milvus Lite has no nullable fields): "" when absent
            document = record.document if record.document is not None else ""
            check_length(schema.columns[layout.document], document, record.id, "document")
            row[layout.document] = document
        if layout.namespace:
            row[layout.namespace] = namespace
        preset = layout.preset or presets.NATIVE
        metadata: dict[str, Any] = dict(record.metadata)
        merged = layout.metadata_keys_from or ()
        own = {key.name, layout.vector, layout.document, layout.namespace, *merged}
        for name, column in schema.columns.items():
            if name in own or column.is_vector:
                continue
            if name in metadata:
                row[name] = column_value(column, metadata.pop(name), record.id)
            elif name in presets.DEFAULTS[preset]:
                row[name] = presets.DEFAULTS[preset][name]
            elif column.nullable:
                row[name] = None
            else:
                raise InvalidRecordError(
                    f"the collection's field {name!r} ({column.type_text}) needs a value: the metadata has no "
                    f"key {name!r}",
                    record_id=record.id,
                    field=name,
                )
        if metadata:
            if merged:
                row[merged[0]] = metadata
            elif schema.dynamic:
                row.update(metadata)
            else:
                raise InvalidRecordError(
                    f"the collection has no field for metadata key(s) {', '.join(sorted(metadata))} and no dynamic "
                    "field: Milvus would refuse them",
                    record_id=record.id,
                    field=sorted(metadata)[0],
                )
            size = len(orjson.dumps(metadata))
            if size > MAX_JSON_BYTES:
                raise InvalidRecordError(
                    f"metadata is {size} bytes of JSON; a Milvus JSON field holds at most {MAX_JSON_BYTES}",
                    record_id=record.id,
                    field="metadata",
                )
        return row

    async def upsert(self, spec: CollectionSpec, namespace: str, records: Sequence[Record]) -> None:
        layout = _layout(spec)
        if layout.namespace is None and namespace != DEFAULT_NAMESPACE:
            raise UnsupportedFeatureError(
                f"collection {spec.name!r} has no namespace field: write to namespace {DEFAULT_NAMESPACE!r}, "
                'or declare one, e.g. layout={"namespace": "tenant"}'
            )
        rows = []
        for record in records:
            row = self._row(layout, namespace, record)
            row[str(layout.vector)] = np.asarray(record.vector, dtype=np.float32).tolist()
            rows.append(row)
        with self._errors("upsert into", spec.name):
            scope = await self._writable_partition(spec, namespace)
            await self.client.upsert(spec.name, rows, timeout=self.adapter.timeout, **scope)

    async def delete_ids(self, spec: CollectionSpec, namespace: str, ids: Sequence[str]) -> None:
        key = Schema.of(_layout(spec)).key
        keys = _key_literals(key, ids)
        where = self._where(spec, namespace, f"{key.name} in [{', '.join(keys)}]") if keys else None
        scope = await self._partition(spec, namespace)
        if where is not None and scope is not None:
            with self._errors("delete from", spec.name):
                await self.client.delete(spec.name, filter=where, timeout=self.adapter.timeout, **_one(scope))

    async def delete_where(self, spec: CollectionSpec, namespace: str, filter: str | None) -> None:
        where = self._where(spec, namespace, filter)
        scope = await self._partition(spec, namespace)
        if where is None or scope is None:
            return
        if not where:  # every record: Milvus deletes by an expression only
            key = Schema.of(_layout(spec)).key
            zero = "0" if key.type == "INT64" else '""'
            where = f"({key.name} < {zero} or {key.name} >= {zero})"
        with self._errors("delete from", spec.name):
            await self.client.delete(spec.name, filter=where, timeout=self.adapter.timeout, **_one(scope))

    async def _writable_partition(self, spec: CollectionSpec, namespace: str) -> dict[str, Any]:
        """``partition_name`` of a write into ``namespace`` when partitions are the namespaces, the
        partition created when missing (a write, asked for by the caller's write)."""
        if _layout(spec).namespace != "":
            return {}
        partition = partition_of(namespace)
        if not partition.replace("_", "a").isalnum() or not partition.isascii():
            raise UnsupportedFeatureError(
                f"milvus: namespace {namespace!r} cannot be a partition name (letters, digits and _ only)"
            )
        if not await self.client.has_partition(spec.name, partition):
            await self.client.create_partition(spec.name, partition)
        return {"partition_name": partition}


def partition_of(namespace: str) -> str:
    """The partition holding ``namespace`` when partitions are the namespaces."""
    return DEFAULT_PARTITION if namespace == DEFAULT_NAMESPACE else namespace


def namespace_of(partition: str) -> str:
    return DEFAULT_NAMESPACE if partition == DEFAULT_PARTITION else partition


def _one(scope: Mapping[str, Any]) -> dict[str, Any]:
    """A read's ``partition_names`` as a delete's ``partition_name``."""
    return {"partition_name": scope["partition_names"][0]} if scope else {}


_METRIC_NAMES = {metric: name for name, metric in METRICS.items()}


def _layout(spec: CollectionSpec) -> Layout:
    assert spec.layout is not None, "native primitives take a spec with a layout"
    return spec.layout


def _json_path(field: str, key: str) -> str:
    """``$meta["k"]`` or ``metadata["k"]``; keys are ``[A-Za-z_][A-Za-z0-9_]*`` (checked by the core parser)."""
    return f'{field}["{key}"]'


def _fallback_json(layout: Layout, schema: Schema) -> str | None:
    """Where a metadata key the sample never showed would be: the merged JSON field, or ``$meta``."""
    if layout.metadata_keys_from:
        return layout.metadata_keys_from[0]
    return DYNAMIC_FIELD if schema.dynamic else None


def _column_kind(column: Column) -> Kind | None:
    if column.type == "ARRAY":
        return Kind.STRING_ARRAY if column.element == "VARCHAR" else None
    return _SCALAR_KINDS.get(column.type)


def _vector(name: str, schema: Schema, declared: str | None) -> str:
    floats = [c.name for c in schema.columns.values() if c.type == "FLOAT_VECTOR"]
    if declared is None:
        if len(floats) == 1:
            return floats[0]
        if not floats:
            others = ", ".join(f"{c.name} ({c.type})" for c in schema.columns.values() if c.is_vector)
            raise LayoutError(f"collection {name!r} has no FLOAT_VECTOR field vecbridge can read ({others or 'none'})")
        raise LayoutError(f"collection {name!r} has several vector fields", role="vector", candidates=floats)
    if declared not in floats:
        raise LayoutError(
            f"collection {name!r} has no FLOAT_VECTOR field {declared!r}", role="vector", candidates=floats
        )
    return declared


def _metric(name: str, index: Mapping[str, Any] | None, declared: Metric | None) -> Metric | None:
    indexed = None if index is None else METRICS.get(str(index.get("metric_type", "")).upper())
    if index is not None and indexed is None:
        raise LayoutError(f"collection {name!r}: the vector index compares by {index.get('metric_type')!r}")
    if declared is not None and indexed is not None and declared is not indexed:
        raise LayoutError(
            f"collection {name!r}: Milvus ranks by its index's metric {indexed.value}; a declared metric must be the same"
        )
    return indexed or declared


def _index(index: Mapping[str, Any] | None) -> IndexSpec:
    kind = "" if index is None else str(index.get("index_type", "")).upper()
    if kind == "IVF_FLAT":
        return IVF(nlist=int(index.get("nlist", 128)) if index else 128)
    if kind == "HNSW" and index is not None:
        return HNSW(m=int(index.get("M", 16)), ef_construction=int(index.get("efConstruction", 200)))
    return Flat()


def _search_params(index: IndexSpec, top_k: int) -> dict[str, int]:
    if isinstance(index, HNSW):
        return {"ef": max(top_k, 64)}
    if isinstance(index, IVF):
        return {"nprobe": index.nlist}
    return {}


def _document(name: str, schema: Schema, declared: str | None) -> str:
    if declared is not None:
        if declared and (declared not in schema.columns or schema.columns[declared].type != "VARCHAR"):
            raise LayoutError(f"collection {name!r} has no VARCHAR field {declared!r} to read documents from")
        return declared
    found = [n for n in presets.TEXT_FIELDS if n in schema.columns and schema.columns[n].type == "VARCHAR"]
    if len(found) > 1:
        raise LayoutError(f"collection {name!r} has several text fields", role="document", candidates=found)
    return found[0] if found else ""


def _namespace(name: str, schema: Schema, declared: str | None, partitions: list[str] | None) -> str | None:
    """The declared namespace field, or ``""`` (the partitions) when declared or when a server's
    collection has partitions besides ``_default`` and no partition key (whose partitions are Milvus'
    own); ``None`` otherwise. A partition key field is metadata (Lite cannot filter on one, Milvus
    2.3.5 answered wrong after upsert)."""
    keyed = any(c.partition_key for c in schema.columns.values())
    if declared == "":
        if partitions is None or keyed:
            raise LayoutError(
                f"collection {name!r}: its partitions cannot be the namespaces "
                f"({'Milvus Lite has no partitions' if partitions is None else 'it has a partition key'}); "
                "declare a VARCHAR namespace field"
            )
        return ""
    if declared is not None:
        column = schema.columns.get(declared)
        if column is None or column.type != "VARCHAR":
            raise LayoutError(f"collection {name!r} has no VARCHAR field {declared!r} to hold namespaces")
        return declared
    return "" if partitions is not None and not keyed and set(partitions) - {DEFAULT_PARTITION} else None


def _fields(layout: Layout, schema: Schema, rows: Sequence[Mapping[str, Any]], loaded: bool) -> tuple[NativeField, ...]:
    fields: list[NativeField] = []
    merged = layout.metadata_keys_from or ()
    for column in schema.columns.values():
        role, note = _column_role(layout, column, merged)
        fields.append(NativeField(column.name, column.type_text, role, note))
    if schema.dynamic:
        note = "its keys are the metadata (typed from a sample)" if loaded else "not loaded: its keys were not sampled"
        fields.append(NativeField(DYNAMIC_FIELD, "JSON dynamic", FieldRole.METADATA_KEYS, note))
    types: dict[str, set[str]] = {}
    for row in rows:
        for key, value in row.items():
            if key in schema.columns and key not in merged:
                continue
            if key in merged:
                if isinstance(value, dict):
                    for inner, element in value.items():
                        types.setdefault(f"{key}.{inner}", set()).add(sampled_type(element))
                continue
            types.setdefault(f"{DYNAMIC_FIELD}.{key}", set()).add(sampled_type(value))
    for name in sorted(types):
        inner = name.partition(".")[2]
        problem = key_problem(inner)
        if problem is not None:
            fields.append(NativeField(name, "|".join(sorted(types[name])), FieldRole.UNFIT, problem))
        elif layout.metadata is not None and inner not in layout.metadata:
            fields.append(
                NativeField(name, "|".join(sorted(types[name])), FieldRole.IGNORED, "not among the metadata keys")
            )
        else:
            fields.append(NativeField(name, "|".join(sorted(types[name])), FieldRole.METADATA, _json_note(types[name])))
    return tuple(fields)


def _json_note(types: set[str]) -> str:
    notes = ["null: the key is absent"] if "null" in types else []
    if converted_types(types):
        notes.append("converted: nested values become JSON text, integers beyond 2**53 decimal strings; not filterable")
    return "; ".join(notes)


def _column_role(layout: Layout, column: Column, merged: tuple[str, ...]) -> tuple[FieldRole, str]:
    if column.primary:
        note = "integers read as decimal strings" if column.type == "INT64" else ""
        return FieldRole.ID, note + ("; assigned by Milvus (auto_id): no writes" if column.auto_id else "")
    if column.name == layout.vector:
        return FieldRole.VECTOR, f"metric {layout.metric.value if layout.metric else 'unknown'}"
    if column.is_vector:
        return FieldRole.IGNORED, "another vector field, not read"
    if column.name == layout.document:
        return FieldRole.DOCUMENT, ""
    if column.name == layout.namespace:
        return FieldRole.NAMESPACE, "its values are the namespaces"
    if column.name in merged:
        return FieldRole.METADATA_KEYS, "its keys are the metadata"
    problem = key_problem(column.name)
    if problem is not None:
        return FieldRole.UNFIT, problem
    if layout.metadata is not None and column.name not in layout.metadata:
        return FieldRole.IGNORED, "not among the layout's metadata keys"
    if column.type == "ARRAY":
        if column.element == "VARCHAR":
            return FieldRole.METADATA, "a list of str (empty: the JSON text '[]')"
        return FieldRole.METADATA, "converted: JSON text; not filterable"
    if column.type == "JSON":
        return FieldRole.METADATA, "converted: JSON text (an object, a list); not filterable"
    if column.type == "INT64":
        return FieldRole.METADATA, "beyond +-2**53 a decimal string"
    if column.type in _SCALAR_KINDS:
        return FieldRole.METADATA, "nullable: null is absent" if column.nullable else ""
    return FieldRole.UNFIT, f"a {column.type} field has no contract form"


def _key_literals(key: Column, ids: Sequence[str]) -> list[str]:
    """Literals of the primary keys ``ids`` stand for (ids that are no key of this type are skipped)."""
    if key.type == "INT64":
        return [str(n) for n in dict.fromkeys(int_id(i) for i in ids) if n is not None]
    return [quote_string(i) for i in dict.fromkeys(ids) if "\n" not in i and "\r" not in i]


def _literal(key: Column, value: Any) -> str:
    return str(int(value)) if key.type == "INT64" else quote_string(str(value))


def _cursor_check(key: Column) -> Any:
    def valid(state: Any) -> bool:
        if not isinstance(state, list) or len(state) != 1:
            return False
        (last,) = state
        return type(last) is int if key.type == "INT64" else isinstance(last, str)

    return valid


def _score(metric: Metric, distance: float) -> float:
    from vecbridge_milvus.adapter import _score as score

    return score(metric, distance)

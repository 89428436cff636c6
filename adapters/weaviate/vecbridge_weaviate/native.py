"""Weaviate classes vecbridge did not create: discovered, read, and written in their own shape when asked.

A native class is every class whose description does not hold vecbridge's facts. Discovery and
reads only call ``GET /v1/schema`` (``collections.list_all`` / ``config.get``), the tenants list, and
gRPC searches and aggregates: no class, property, tenant or object is created or changed.

Inferred layout
    * id ``""``: the object's uuid (canonical string); Haystack's classes: the ``_original_id``
      property (its uuid is ``generate_uuid5`` of it, so reads by id stay exact);
    * vector: the class's default vector (``""``), or its one named vector; several named vectors
      need declaring (the error lists them). The metric is that vector index's distance
      (``cosine``; ``dot``; ``l2-squared`` -> euclidean, scores minus the true distance); another
      distance (manhattan, hamming) has no vecbridge metric. Weaviate's schema holds no dimension:
      it is the length of a sampled object's vector (0 for an empty class);
    * document: the preset's text property (``text`` LangChain and LlamaIndex, ``content`` Haystack),
      else the one text property with a well-known name (``text``, ``content``...; several: declare);
    * metadata: every other property, by data type: ``text``, ``int``, ``number``, ``boolean``
      unchanged; ``text[]`` a list of strings (an empty list is absent, as Weaviate counts it null);
      ``date`` its ISO-8601 string; ``uuid`` its string; ``int[]``, ``number[]``, ``boolean[]``,
      ``date[]``, ``uuid[]``, ``object``, ``object[]`` their JSON text; ``blob``, ``geoCoordinates``,
      ``phoneNumber`` and cross-references are unfit (named, not read);
    * namespace: a multi-tenant class's tenants (``""``: a tenant per namespace, by name); otherwise
      none: the class is namespace ``default``;
    * preset: recognised from the class name and properties (:mod:`vecbridge_weaviate.presets`).

Filters: :mod:`vecbridge_weaviate.native_filters`. Scans page by uuid with ``after`` (which takes no
filter), evaluating a filter on the values as read.

Writes (``layout.writable``)
    ``upsert`` is a batch insert, which replaces whole objects: the uuid (Haystack: ``generate_uuid5``
    of the id, the id in ``_original_id``), the document in its property, each metadata key as its
    property's type (an int as an ``int``, JSON text back into the array or object it was read
    from); a value the property cannot hold, or a non-UUID id where the uuid is the id, is refused
    before any request. ``create_collection`` makes a class with the preset's properties and a
    self-provided default vector.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from weaviate.classes.data import DataObject
from weaviate.classes.query import Filter, MetadataQuery
from weaviate.util import generate_uuid5

from vecbridge.errors import (
    BackendError,
    CollectionExistsError,
    CollectionNotFoundError,
    InvalidArgumentError,
    InvalidRecordError,
    UnsupportedFeatureError,
)
from vecbridge.filters import FilterNode, evaluate
from vecbridge.layout import FieldRole, Layout, LayoutError, NativeField, key_problem
from vecbridge.types import DEFAULT_NAMESPACE, HNSW, CollectionSpec, FloatArray, Match, Metadata, Metric, Page, Record
from vecbridge_weaviate.filters import Lowered
from vecbridge_weaviate.metrics import DISTANCE_METRICS, METRIC_DISTANCES, distance_to_score
from vecbridge_weaviate.native_filters import FILTERABLE, NativeFilterCompiler
from vecbridge_weaviate.presets import DOCUMENT_NAMES, Preset, detect_preset, key_note, preset
from vecbridge_weaviate.schema import facts_from_description

if TYPE_CHECKING:
    from vecbridge_weaviate.adapter import WeaviateAdapter

UUID_FIELD = "#uuid"
VECTOR_FIELD = "#vector"
TENANT_FIELD = "#tenant"
#: data types read as they are
PLAIN = frozenset({"text", "int", "number", "boolean"})
#: data types whose values are converted on read (``vecbridge.layout.metadata_value``)
CONVERTED = frozenset({"date", "uuid", "int[]", "number[]", "boolean[]", "date[]", "uuid[]", "object", "object[]"})
#: converted on read into JSON text, and parsed back on write
JSON_TYPES = frozenset({"int[]", "number[]", "boolean[]", "object", "object[]", "date[]", "uuid[]"})
TOKENIZATION = ", tokenization "


@dataclass(frozen=True, slots=True)
class NativeFilter:
    """A compiled filter: the client filter (or a constant) for searches, counts and deletes, and the
    tree evaluated on the values as read for scans."""

    node: FilterNode
    lowered: Lowered


def _layout(spec: CollectionSpec) -> Layout:
    assert spec.layout is not None, "native primitives take a spec with a layout"
    return spec.layout


def _base(kind: str) -> str:
    return kind.split(TOKENIZATION)[0]


def data_type(field: NativeField) -> str:
    """The Weaviate data type of a discovered property (its ``type`` may name the tokenization too)."""
    return _base(field.type)


def _property_type(prop: Any) -> str:
    kind = str(prop.data_type.value)
    tokenization = getattr(prop, "tokenization", None)
    return kind + (f"{TOKENIZATION}{tokenization.value}" if tokenization is not None else "")


def vector_of(obj: Any, name: str) -> FloatArray:
    """The vector ``name`` of a search result (``""``: the class's default vector)."""
    vectors = obj.vector or {}
    raw = vectors.get(name or "default") if isinstance(vectors, Mapping) else vectors
    return np.asarray(raw if raw is not None else [], dtype=np.float32)


class NativeClasses:
    """What :class:`~vecbridge_weaviate.adapter.WeaviateAdapter` does for a spec with a layout."""

    def __init__(self, adapter: WeaviateAdapter) -> None:
        self.adapter = adapter

    # --- discovery -------------------------------------------------------------------------------

    async def list_all(self) -> list[CollectionSpec]:
        with self.adapter.errors("list classes"):
            configs = await self.adapter.client.collections.list_all(simple=False)
        specs = []
        for name, config in sorted(configs.items()):
            if facts_from_description(config.description) is not None:
                continue
            try:
                specs.append(await self._describe(name, config, Layout()))
            except LayoutError as exc:  # listed with the reason, never left out
                fields = tuple(
                    NativeField(p.name, _property_type(p), FieldRole.METADATA, str(exc)) for p in config.properties
                )
                specs.append(CollectionSpec(name, 0, Metric.COSINE, layout=Layout(fields=fields)))
        return specs

    async def describe(self, name: str, declared: Layout) -> CollectionSpec:
        with self.adapter.errors(f"describe class {name!r}"):
            if not await self.adapter.client.collections.exists(name):
                raise CollectionNotFoundError(f"weaviate: class {name!r} does not exist")
            config = await self.adapter.client.collections.use(name).config.get()
        if facts_from_description(config.description) is not None:
            raise LayoutError(f"class {name!r} is vecbridge's own storage: open it without a layout")
        return await self._describe(name, config, declared)

    async def _describe(self, name: str, config: Any, declared: Layout) -> CollectionSpec:
        types = {prop.name: _property_type(prop) for prop in config.properties}
        found = preset(declared.preset or detect_preset(name, types))
        vector, distance = self._vector(name, config, declared.vector)
        metric = DISTANCE_METRICS.get(distance)
        if metric is None:
            raise LayoutError(f"class {name!r}: vector distance {distance!r} has no vecbridge metric")
        multi_tenant = bool(config.multi_tenancy_config and config.multi_tenancy_config.enabled)
        inferred = Layout(
            preset=found.name,
            id=found.id,
            vector=vector,
            document=self._document(name, found, types, declared.document),
            metadata_keys_from=(),
            namespace="" if multi_tenant else None,
            metric=metric,
        )
        layout = declared.over(inferred)
        self._check(name, layout, types, multi_tenant, metric)
        dimension = await self._dimension(name, layout, multi_tenant)
        fields = self._fields(layout, found, types, [ref.name for ref in config.references], distance, dimension)
        index = HNSW()
        return CollectionSpec(name, dimension, metric, index=index, layout=replace(layout, fields=fields))

    @staticmethod
    def _vector(name: str, config: Any, declared: str | None) -> tuple[str, str]:
        """(vector name, its distance): ``""`` for the default vector of a class without named ones."""
        named = dict(config.vector_config or {})
        if not named:
            if declared:
                raise LayoutError(f"class {name!r} has no named vectors, only its default one: declare vector ''")
            return "", str(config.vector_index_config.distance_metric.value)
        if declared is None and len(named) > 1:
            raise LayoutError(f"class {name!r} has several named vectors", role="vector", candidates=sorted(named))
        chosen = declared if declared is not None else next(iter(named))
        if chosen not in named:
            raise LayoutError(f"class {name!r} has no named vector {chosen!r}", role="vector", candidates=sorted(named))
        return chosen, str(named[chosen].vector_index_config.distance_metric.value)

    @staticmethod
    def _document(name: str, found: Preset, types: Mapping[str, str], declared: str | None) -> str:
        if declared is not None:
            return declared
        if found.document is not None:
            return found.document if found.document in types else ""
        candidates = [key for key in DOCUMENT_NAMES if key in types and _base(types[key]) == "text"]
        if len(candidates) > 1:
            raise LayoutError(f"class {name!r} has several text properties", role="document", candidates=candidates)
        return candidates[0] if candidates else ""

    @staticmethod
    def _check(name: str, layout: Layout, types: Mapping[str, str], multi_tenant: bool, metric: Metric) -> None:
        """Refuse a declared layout Weaviate cannot serve, before any read through it."""
        if layout.metadata_keys_from:
            raise LayoutError(
                f"class {name!r}: Weaviate properties are the metadata; there are no JSON fields to merge"
            )
        if layout.namespace not in (None, ""):
            raise LayoutError(f"class {name!r}: only a multi-tenant class has namespaces (its tenants)")
        if layout.namespace == "" and not multi_tenant:
            raise LayoutError(f"class {name!r} is not multi-tenant: it has no native namespaces")
        for role, field in (("document", layout.document), ("id", layout.id)):
            if field and _base(types.get(field, "")) != "text":
                raise LayoutError(f"class {name!r}: the {role} must be a text property, {field!r} is not")
        if layout.metric is not metric:
            raise LayoutError(
                f"class {name!r}: Weaviate ranks it with {metric.value}; a declared metric must be the same"
            )

    async def _dimension(self, name: str, layout: Layout, multi_tenant: bool) -> int:
        """The length of one stored vector (Weaviate's schema has none); 0 for an empty class."""
        collection = self.adapter.client.collections.use(name)
        with self.adapter.errors(f"sample class {name!r}"):
            if multi_tenant:
                tenants = await collection.tenants.get()
                if not tenants:
                    return 0
                collection = collection.with_tenant(sorted(tenants)[0])
            result = await collection.query.fetch_objects(
                limit=1, include_vector=[layout.vector] if layout.vector else True, return_properties=[]
            )
        return len(vector_of(result.objects[0], layout.vector or "")) if result.objects else 0

    @staticmethod
    def _fields(
        layout: Layout,
        found: Preset,
        types: Mapping[str, str],
        references: Sequence[str],
        distance: str,
        dimension: int,
    ) -> tuple[NativeField, ...]:
        fields = [
            NativeField(
                UUID_FIELD,
                "uuid",
                FieldRole.IGNORED if layout.id else FieldRole.ID,
                f"generate_uuid5 of {layout.id!r}" if layout.id else "the object's uuid",
            ),
            NativeField(
                VECTOR_FIELD + (f":{layout.vector}" if layout.vector else ""),
                f"float[{dimension}]",
                FieldRole.VECTOR,
                f"distance {distance}",
            ),
        ]
        if layout.namespace == "":
            fields.append(NativeField(TENANT_FIELD, "tenant", FieldRole.NAMESPACE, "a tenant per namespace"))
        for key in sorted(types):
            fields.append(NativeField(key, types[key], *_key_role(layout, found, key, types[key])))
        for key in sorted(references):
            fields.append(NativeField(key, "cross-reference", FieldRole.UNFIT, "cross-references are not read"))
        return tuple(fields)

    # --- filters -----------------------------------------------------------------------------------

    def compile_filter(self, node: FilterNode, spec: CollectionSpec) -> NativeFilter:
        layout = _layout(spec)
        types: dict[str, str] = {}
        refused: dict[str, str] = {}
        for field in layout.fields:
            kind = data_type(field)
            if field.role is not FieldRole.METADATA:
                refused[field.name] = f"it is {field.role.value} in this layout"
            elif kind in ("text", "text[]") and f"{TOKENIZATION}field" not in field.type:
                refused[field.name] = f"{field.type}: Equal compares words, not whole values"
            elif kind not in FILTERABLE:
                refused[field.name] = f"its {kind} values are converted on read"
            else:
                types[field.name] = kind
        if layout.metadata is not None:
            refused.update(
                {key: "it is not among the layout's metadata keys" for key in types if key not in layout.metadata}
            )
        return NativeFilter(node, NativeFilterCompiler(types, refused).compile(node))

    # --- handles -----------------------------------------------------------------------------------

    def _handle(self, spec: CollectionSpec, namespace: str) -> Any | None:
        """The collection (with the tenant of ``namespace``), or ``None`` when the namespace cannot exist."""
        collection = self.adapter.client.collections.use(spec.name)
        if _layout(spec).namespace == "":
            return collection.with_tenant(namespace)
        return collection if namespace == DEFAULT_NAMESPACE else None

    async def list_namespaces(self, spec: CollectionSpec) -> list[str]:
        if _layout(spec).namespace == "":
            with self.adapter.errors(f"list tenants of {spec.name!r}"):
                tenants = await self.adapter.client.collections.use(spec.name).tenants.get()
            return sorted(tenants)
        return [DEFAULT_NAMESPACE] if await self.count(spec, DEFAULT_NAMESPACE, None) else []

    # --- reads -------------------------------------------------------------------------------------

    def _record(self, spec: CollectionSpec, obj: Any, include_vectors: bool) -> Record:
        layout = _layout(spec)
        properties = dict(obj.properties or {})
        record_id = str(obj.uuid)
        if layout.id:
            original = properties.get(layout.id)
            record_id = original if isinstance(original, str) else record_id
        document = properties.get(layout.document) if layout.document else None
        values: dict[str, object] = {}
        for field in layout.fields:
            if field.role is FieldRole.METADATA and field.name in properties:
                value = properties[field.name]
                values[field.name] = None if isinstance(value, list) and not value else value
        vector = vector_of(obj, layout.vector or "") if include_vectors else np.zeros(0, dtype=np.float32)
        metadata: Metadata = layout.metadata_from(values, record_id)
        return Record(record_id, vector, metadata, document if isinstance(document, str) else None)

    def _include_vector(self, spec: CollectionSpec, include: bool) -> bool | list[str]:
        vector = _layout(spec).vector
        return ([vector] if vector else True) if include else False

    async def get(
        self, spec: CollectionSpec, namespace: str, ids: Sequence[str], include_vectors: bool
    ) -> list[Record]:
        collection = self._handle(spec, namespace)
        uuids = [u for u in (self.object_uuid(spec, i) for i in ids) if u is not None]
        if collection is None or not uuids:
            return []
        with self.adapter.errors(f"get from {spec.name!r}"):
            result = await collection.query.fetch_objects(
                filters=Filter.by_id().contains_any(uuids),
                limit=len(uuids),
                include_vector=self._include_vector(spec, include_vectors),
            )
        wanted = set(ids)
        return [r for r in (self._record(spec, obj, include_vectors) for obj in result.objects) if r.id in wanted]

    async def query(
        self,
        spec: CollectionSpec,
        namespace: str,
        vector: FloatArray,
        top_k: int,
        filter: NativeFilter | None,
        include_vectors: bool,
    ) -> list[Match]:
        collection = self._handle(spec, namespace)
        lowered = True if filter is None else filter.lowered
        if collection is None or lowered is False:
            return []
        with self.adapter.errors(f"query {spec.name!r}"):
            result = await collection.query.near_vector(
                near_vector=[float(x) for x in vector],
                target_vector=_layout(spec).vector or None,
                limit=top_k,
                filters=None if lowered is True else lowered,
                include_vector=self._include_vector(spec, include_vectors),
                return_metadata=MetadataQuery(distance=True),
            )
        matches = []
        for obj in result.objects:
            record = self._record(spec, obj, include_vectors)
            score = distance_to_score(spec.metric, float(obj.metadata.distance))
            vector_read = vector_of(obj, _layout(spec).vector or "") if include_vectors else None
            matches.append(Match(record.id, score, record.metadata, record.document, vector_read))
        return matches

    async def count(self, spec: CollectionSpec, namespace: str, filter: NativeFilter | None) -> int:
        collection = self._handle(spec, namespace)
        lowered = True if filter is None else filter.lowered
        if collection is None or lowered is False:
            return 0
        with self.adapter.errors(f"count {spec.name!r}"):
            result = await collection.aggregate.over_all(filters=None if lowered is True else lowered, total_count=True)
        return int(result.total_count or 0)

    async def scan(
        self,
        spec: CollectionSpec,
        namespace: str,
        cursor: str | None,
        page_size: int,
        filter: NativeFilter | None,
        include_vectors: bool,
    ) -> Page:
        """A page of the class in uuid order (``after`` takes no filter); the filter is evaluated on the
        values as read, so a page may hold fewer records than ``page_size`` while the cursor goes on."""
        collection = self._handle(spec, namespace)
        if collection is None:
            return Page([], None)
        with self.adapter.errors(f"scan {spec.name!r}"):
            result = await collection.query.fetch_objects(
                limit=page_size, after=uuid_cursor(cursor), include_vector=self._include_vector(spec, include_vectors)
            )
        records = [self._record(spec, obj, include_vectors) for obj in result.objects]
        if filter is not None:
            records = [r for r in records if evaluate(filter.node, r.metadata)]
        last = str(result.objects[-1].uuid) if len(result.objects) == page_size else None
        return Page(records, last)

    # --- writes ------------------------------------------------------------------------------------

    @staticmethod
    def object_uuid(spec: CollectionSpec, record_id: str) -> str | None:
        """The uuid of the object holding ``record_id`` (``None``: no object can)."""
        if _layout(spec).id:
            return str(generate_uuid5(record_id))
        try:
            return str(uuid.UUID(record_id))
        except ValueError:
            return None

    def check_storable(self, spec: CollectionSpec, record: Record) -> None:
        """What the class cannot hold in its own shape, refused before any request."""
        layout = _layout(spec)
        if self.object_uuid(spec, record.id) is None:
            raise InvalidRecordError(
                "the object's uuid is the id in this class: an id must be a UUID", record_id=record.id, field="id"
            )
        fields = {field.name: field for field in layout.fields}
        for key, value in record.metadata.items():
            field = fields.get(key)
            if field is None:
                continue  # a new key: Weaviate's auto-schema adds the property
            problem = _unfit_value(field, value)
            if problem is not None:
                raise InvalidRecordError(problem, record_id=record.id, field=key)

    def properties(self, spec: CollectionSpec, record: Record) -> dict[str, Any]:
        layout = _layout(spec)
        kinds = {field.name: data_type(field) for field in layout.fields}
        properties: dict[str, Any] = {}
        for key, value in record.metadata.items():
            kind = kinds.get(key)
            if kind in JSON_TYPES and isinstance(value, str):
                properties[key] = json.loads(value)
            elif kind == "int" and isinstance(value, float):
                properties[key] = int(value)
            elif kind == "number" and isinstance(value, int) and not isinstance(value, bool):
                properties[key] = float(value)
            else:
                properties[key] = value
        if layout.id:
            properties[layout.id] = record.id
        if layout.document and record.document is not None:
            properties[layout.document] = record.document
        return properties

    async def upsert(self, spec: CollectionSpec, namespace: str, records: Sequence[Record]) -> None:
        collection = self._handle(spec, namespace)
        if collection is None:
            raise UnsupportedFeatureError(
                f"class {spec.name!r} is not multi-tenant: it holds namespace {DEFAULT_NAMESPACE!r} only"
            )
        vector_name = _layout(spec).vector
        objects = [
            DataObject(
                uuid=self.object_uuid(spec, record.id),
                properties=self.properties(spec, record),
                vector={vector_name: [float(x) for x in record.vector]}
                if vector_name
                else [float(x) for x in record.vector],
            )
            for record in records
        ]
        with self.adapter.errors(f"upsert into {spec.name!r}"):
            result = await collection.data.insert_many(objects)
        if result.has_errors:
            first = next(iter(result.errors.values()))
            failed = [records[i].id for i in result.errors]
            raise BackendError(
                f"weaviate: upsert of {len(failed)} record(s) failed, e.g. {failed[0]!r}: {first.message}"
            )

    async def _delete(self, spec: CollectionSpec, collection: Any, where: Any) -> None:
        while True:  # delete_many removes at most QUERY_MAXIMUM_RESULTS objects per call
            with self.adapter.errors(f"delete from {spec.name!r}"):
                result = await collection.data.delete_many(where=where)
            if result.failed:
                raise BackendError(f"weaviate: {result.failed} object(s) of {spec.name!r} could not be deleted")
            if result.matches == 0 or result.successful == 0:
                return

    async def delete_ids(self, spec: CollectionSpec, namespace: str, ids: Sequence[str]) -> None:
        collection = self._handle(spec, namespace)
        uuids = [u for u in (self.object_uuid(spec, i) for i in ids) if u is not None]
        if collection is not None and uuids:
            await self._delete(spec, collection, Filter.by_id().contains_any(uuids))

    async def delete_where(self, spec: CollectionSpec, namespace: str, filter: NativeFilter | None) -> None:
        collection = self._handle(spec, namespace)
        lowered = True if filter is None else filter.lowered
        if collection is None or lowered is False:
            return
        if lowered is not True:
            await self._delete(spec, collection, lowered)
            return
        while True:  # delete_many needs a filter: everything is deleted page by page, by uuid
            with self.adapter.errors(f"delete from {spec.name!r}"):
                page = await collection.query.fetch_objects(limit=self.adapter.max_batch, return_properties=[])
            if not page.objects:
                return
            await self._delete(spec, collection, Filter.by_id().contains_any([str(o.uuid) for o in page.objects]))

    async def create(self, spec: CollectionSpec) -> None:
        layout = _layout(spec)
        found = preset(layout.preset)
        properties = list(found.properties)
        if layout.document and layout.document not in dict(properties):
            properties.append((layout.document, "text"))
        payload = {
            "class": spec.name,
            "properties": [{"name": name, "dataType": [kind]} for name, kind in properties],
            "vectorizer": "none",
            "vectorIndexConfig": {"distance": METRIC_DISTANCES[spec.metric]},
        }
        with self.adapter.errors(f"create class {spec.name!r}"):
            if await self.adapter.client.collections.exists(spec.name):
                raise CollectionExistsError(f"weaviate: class {spec.name!r} already exists")
            await self.adapter.client.collections.create_from_dict(payload)


def uuid_cursor(cursor: str | None) -> str | None:
    """A scan cursor (the last uuid read), checked before it is sent."""
    if cursor is not None:
        try:
            uuid.UUID(cursor)
        except ValueError:
            raise InvalidArgumentError(f"not a weaviate scan cursor: {cursor!r}") from None
    return cursor


def _key_role(layout: Layout, found: Preset, key: str, kind: str) -> tuple[FieldRole, str]:
    base = _base(kind)
    if key == layout.document:
        return FieldRole.DOCUMENT, ""
    if key == layout.id:
        return FieldRole.ID, "the original id (the uuid is generate_uuid5 of it)"
    if key in found.ignored:
        return FieldRole.IGNORED, f"{found.name}'s own bookkeeping, not metadata"
    problem = key_problem(key)
    if problem is not None:
        return FieldRole.UNFIT, problem
    if base not in PLAIN | CONVERTED | {"text[]"}:
        return FieldRole.UNFIT, f"{base} values have no contract form; not read"
    if layout.metadata is not None and key not in layout.metadata:
        return FieldRole.IGNORED, "not among the layout's metadata keys"
    notes = [key_note(found.name, key)]
    if base == "date":
        notes.append("converted: ISO-8601 string")
    elif base in JSON_TYPES:
        notes.append("converted: JSON text")
    elif base == "uuid":
        notes.append("converted: UUID string")
    elif base == "number" and not (layout.integers and key in layout.integers):
        notes.append("numbers read back as floats")
    return FieldRole.METADATA, "; ".join(note for note in notes if note)


def _unfit_value(field: NativeField, value: object) -> str | None:
    """Why ``value`` cannot be written into the property ``field`` (``None``: it can)."""
    if field.role is not FieldRole.METADATA:
        return f"this property is {field.role.value} in the class's layout"
    kind = data_type(field)
    number = isinstance(value, int | float) and not isinstance(value, bool)
    fits = {
        "text": isinstance(value, str),
        "text[]": isinstance(value, list),
        "int": number and float(value).is_integer(),  # type: ignore[arg-type]
        "number": number,
        "boolean": isinstance(value, bool),
        "date": isinstance(value, str),
        "uuid": isinstance(value, str),
    }.get(kind, isinstance(value, str))  # JSON types: the JSON text they were read as
    if fits and kind in JSON_TYPES:
        try:
            json.loads(str(value))
        except ValueError:
            fits = False
    return None if fits else f"a {type(value).__name__} does not fit the {kind} property"

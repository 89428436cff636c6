"""Qdrant collections vecbridge did not create: discovered, read, and written in their own shape when asked.

A native collection is every collection without vecbridge's facts point. Discovery and reads only
call ``get_collections``, ``get_collection`` (the edge engine: its ``edge_config.json``),
``retrieve``, ``scroll``, ``count`` and ``query_points``: nothing is created or changed, at connect
time or later (no collection, no payload index, no payload key).

Inferred layout
    * id ``""``: the point id, an unsigned integer (read as its decimal string) or a UUID (read
      hyphenated, as Qdrant returns it); a write takes those two forms only (``"7"``, a lowercase
      hyphenated UUID), so what is written reads back equal. A payload key may hold the id instead
      (Haystack's ``id``): reads look it up with a filter, writes derive the point id from it; a
      payload key from which every sampled point id is derived that way is inferred as the id;
    * vector: the collection's only dense vector (unnamed ``""`` or named); with several, the
      ``LayoutError`` lists them and the option ``{"vector": NAME}``. Sparse vectors are listed and
      ignored; multivectors and vectors compared by Manhattan distance are listed as unfit;
    * metric: the vector's distance in the collection configuration (Cosine, Dot, Euclid); a
      declared metric must be the same (Qdrant ranks in that distance only);
    * document: the one well-known text key of the sample (``page_content``, ``text``,
      ``content``, ``document``), else none; with several, the ``LayoutError`` lists them;
    * metadata: every other top-level payload key (or the declared ones), typed from a sample of
      the first :data:`SAMPLE_SIZE` points; a layout may merge the keys of object fields
      (``metadata_keys_from``: LangChain's ``metadata``, Haystack's ``meta``). Values follow the
      core's conversion rules (:meth:`vecbridge.Layout.metadata_from`): null is absent, nested
      objects and lists of anything but strings become JSON text, integers beyond 2**53 decimal
      strings; filters on keys holding converted values are refused, naming the key;
    * namespace: none (the collection is namespace ``default``), or a declared payload key whose
      string values are the namespaces;
    * preset: recognised from the sample (:func:`vecbridge_qdrant.presets.detect_preset`).

Filters
    The portable filter is compiled by :class:`~vecbridge_qdrant.filters.QdrantFilterCompiler` (one
    meaning everywhere) with fields mapped onto the collection's own payload keys (``metadata.x``
    under LangChain's preset); a key that is not metadata in the layout, or that holds converted
    values in the sample, is refused before any request.

Scans
    ``scroll`` in point id order; the cursor holds the next point id, so a scan resumes from any
    connection and records present for the whole scan appear exactly once.

Writes (``layout.writable``)
    ``upsert`` replaces whole points (Qdrant's upsert replaces the payload, never merges), in the
    preset's shape (:mod:`vecbridge_qdrant.presets`); ``delete`` by ids or filter.
    ``create_collection`` makes a collection with one unnamed vector (or the layout's named one)
    and no payload index, the shape all presets read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from uuid import UUID

import numpy as np
from qdrant_client.http import models

from vecbridge.adapter import decode_cursor, encode_cursor
from vecbridge.errors import (
    CollectionNotFoundError,
    InvalidRecordError,
    UnsupportedFeatureError,
    UnsupportedFilterError,
)
from vecbridge.filters import FilterNode
from vecbridge.layout import (
    FieldRole,
    Layout,
    LayoutError,
    NativeField,
    NotConvertibleError,
    converted_types,
    key_problem,
    native_id,
    sampled_type,
)
from vecbridge.types import (
    DEFAULT_NAMESPACE,
    HNSW,
    CollectionSpec,
    FloatArray,
    Match,
    Metadata,
    Metric,
    Page,
    Record,
    SearchParams,
)
from vecbridge_qdrant import presets
from vecbridge_qdrant.filters import QdrantFilterCompiler
from vecbridge_qdrant.transport import CollectionConfig, Hit, PointId
from vecbridge_qdrant.transport import Layout as EngineLayout

if TYPE_CHECKING:
    from vecbridge_qdrant.adapter import QdrantAdapter

#: points read to type the payload keys and recognise a preset
SAMPLE_SIZE = 1000
#: the point id and vectors, as the layout's fields name them (never payload keys)
ID_FIELD = "#id"
VECTOR_FIELD = "#vector"

METRICS = {"Cosine": Metric.COSINE, "Dot": Metric.DOT, "Euclid": Metric.EUCLIDEAN}
DISTANCES = {metric: models.Distance(distance) for distance, metric in METRICS.items()}
_MAX_POINT_ID = 2**64 - 1


def point_id_of(record_id: str) -> PointId | None:
    """The point id a contract id stands for: an unsigned integer written in decimal, or a UUID
    written as Qdrant returns it (lowercase, hyphenated); ``None`` for any other string."""
    if record_id.isdigit() and record_id.isascii() and str(int(record_id)) == record_id:
        return int(record_id) if int(record_id) <= _MAX_POINT_ID else None
    try:
        parsed = UUID(record_id)
    except ValueError:
        return None
    return record_id if str(parsed) == record_id else None


def _conversion(types: set[str]) -> str:
    notes = ["null: the key is absent"] if "null" in types else []
    if converted_types(types):
        notes.append(
            "converted: nested values become JSON text, integers beyond 2**53 decimal strings; filters on it are refused"
        )
    return "; ".join(notes)


def _valid_cursor(state: Any) -> bool:
    """A native scan cursor holds ``[next point id]``."""
    if not isinstance(state, list) or len(state) != 1:
        return False
    (offset,) = state
    return (type(offset) is int and 0 <= offset <= _MAX_POINT_ID) or (
        isinstance(offset, str) and point_id_of(offset) == offset
    )


class NativeFilterCompiler(QdrantFilterCompiler):
    """The portable filter on a native collection's own payload keys; refuses what it cannot keep exact."""

    def __init__(self, refused: Mapping[str, str], metadata: tuple[str, ...] | None, prefix: str | None) -> None:
        self.refused = refused
        self.metadata = metadata
        self.prefix = prefix

    def key(self, field: str) -> str:
        reason = self.refused.get(field)
        if reason is None and self.metadata is not None and field not in self.metadata:
            reason = "is not among the layout's metadata keys"
        if reason is not None:
            raise UnsupportedFilterError(f"qdrant: cannot filter on {field!r} in this collection: it {reason}")
        return field if self.prefix is None else f"{self.prefix}.{field}"


class NativeCollections:
    """The primitives of :class:`~vecbridge_qdrant.adapter.QdrantAdapter` for a spec with a layout."""

    def __init__(self, adapter: QdrantAdapter) -> None:
        self.adapter = adapter
        self.transport = adapter.transport

    # --- discovery -------------------------------------------------------------------------------

    async def list_all(self) -> list[CollectionSpec]:
        specs = []
        with self.adapter.errors("list native collections"):
            names = await self.transport.collection_names()
        for name in names:
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
        with self.adapter.errors(f"describe collection {name!r}"):
            return await self.adapter._facts(name) is not None

    async def _undecided(self, name: str, error: LayoutError) -> CollectionSpec:
        with self.adapter.errors(f"describe collection {name!r}"):
            config = await self.transport.config(name)
        dense = [v for v in config.vectors.values() if v.kind == "dense"]
        fields = tuple(
            NativeField(_vector_field(key), _vector_type(v.kind, v.size, v.distance), FieldRole.UNFIT, str(error))
            for key, v in config.vectors.items()
        )
        return CollectionSpec(name, dense[0].size if dense else 0, Metric.COSINE, layout=Layout(fields=fields))

    async def describe(self, name: str, declared: Layout) -> CollectionSpec:
        with self.adapter.errors(f"describe collection {name!r}"):
            config = await self.transport.config(name)
            if await self.adapter._facts(name) is not None:
                raise LayoutError(f"collection {name!r} is vecbridge's own storage: open it without a layout")
            hits, _ = await self.transport.scroll(name, None, SAMPLE_SIZE, models.Filter(), False)
        payloads = [hit.payload for hit in hits]
        preset = presets.check_preset(declared.preset or presets.detect_preset(payloads))
        base = declared.over(presets.preset_layout(preset))
        if declared.id is None and preset == presets.NATIVE:
            base = replace(base, id=_payload_id(preset, hits))
        vector, metric = _vector(name, config, base)
        if base.metric is not None and base.metric is not metric:
            raise LayoutError(
                f"collection {name!r}: Qdrant ranks vector {vector!r} by {metric.value}; a declared metric must be the same"
            )
        document = base.document if base.document is not None else _document(name, payloads)
        if base.namespace == "":
            raise LayoutError(f"collection {name!r}: Qdrant has no native namespaces; declare a payload key")
        layout = replace(
            base,
            preset=preset,
            vector=vector,
            document=document,
            metadata_keys_from=base.metadata_keys_from or (),
            metric=metric,
        )
        layout = replace(layout, fields=_fields(layout, config, hits))
        size = config.vectors[vector].size
        index = HNSW(m=config.hnsw_m or 16, ef_construction=config.hnsw_ef_construct or 100)
        return CollectionSpec(name, size, metric, index=index, layout=layout)

    # --- filters ---------------------------------------------------------------------------------

    def compile_filter(self, node: FilterNode, spec: CollectionSpec) -> models.Filter:
        layout = _layout(spec)
        refused = {
            f.name: f"is {f.role.value} in this layout" if f.role is not FieldRole.METADATA else f"holds {f.type}"
            for f in layout.fields
            if f.role is not FieldRole.METADATA or converted_types(set(f.type.split("|")))
        }
        if _from_node(layout):
            refused[presets.NODE_CONTENT] = "holds LlamaIndex's node JSON, read with its text moved to the document"
        merged = layout.metadata_keys_from or ()
        prefix = None
        if merged:
            if len(merged) > 1 or layout.metadata != ():
                raise UnsupportedFilterError(
                    "qdrant: filters on metadata merged from several payload fields are not supported"
                )
            prefix = merged[0]
            refused = {name[len(prefix) + 1 :]: why for name, why in refused.items() if name.startswith(prefix + ".")}
        return NativeFilterCompiler(refused, None if merged else layout.metadata, prefix).compile(node)

    def _scoped(self, spec: CollectionSpec, namespace: str, filter: models.Filter | None) -> models.Filter | None:
        """The filter of a request in ``namespace``; ``None`` when the layout has no such namespace."""
        field = _layout(spec).namespace
        if field is None:
            if namespace != DEFAULT_NAMESPACE:
                return None
            return filter or models.Filter()
        tenant = models.FieldCondition(key=field, match=models.MatchValue(value=namespace))
        return models.Filter(must=[tenant] if filter is None else [tenant, filter])

    # --- reads -------------------------------------------------------------------------------------

    def _record(self, spec: CollectionSpec, hit: Hit, include_vectors: bool) -> Record | None:
        """The contract record of a point; ``None`` (counted in the drops) when it has no readable id, or
        no vector under the layout's name when vectors are read."""
        layout = _layout(spec)
        payload = hit.payload
        preset = layout.preset or presets.NATIVE
        try:
            record_id = hit.id if not layout.id else native_id(payload.get(layout.id))
        except NotConvertibleError as exc:
            layout.drops.add(str(layout.id), f"point {hit.id}: no id ({exc})")
            return None
        if _from_node(layout):
            document = presets.node_text(payload)
        else:
            text = payload.get(layout.document) if layout.document else None
            document = text if isinstance(text, str) else None
        own = {layout.id, layout.namespace, *(layout.metadata_keys_from or ()), *presets.ignored_keys(preset)}
        if not _from_node(layout):
            own.add(layout.document)
        values = {
            key: value
            for key, value in payload.items()
            if key not in own and (layout.metadata is None or key in layout.metadata)
        }
        if _from_node(layout) and presets.NODE_CONTENT in values:
            values[presets.NODE_CONTENT] = presets.node_content_without_text(payload)
        for merged in layout.metadata_keys_from or ():
            inner = payload.get(merged)
            if isinstance(inner, dict):
                for key, value in inner.items():
                    values.setdefault(key, value)
            elif inner is not None:
                layout.drops.add(merged, f"holds {sampled_type(inner)}, not an object of metadata keys")
        if include_vectors and hit.vector is None:  # Qdrant lets a point lack one of the named vectors
            layout.drops.add(_vector_field(str(layout.vector)), "a point without this vector is not read")
            return None
        vector = np.asarray(hit.vector, dtype=np.float32) if include_vectors else np.zeros(0, dtype=np.float32)
        return Record(record_id, vector, layout.metadata_from(values, record_id), document)

    def _records(self, spec: CollectionSpec, hits: Sequence[Hit], include_vectors: bool) -> list[Record]:
        return [r for r in (self._record(spec, hit, include_vectors) for hit in hits) if r is not None]

    def _in_namespace(self, spec: CollectionSpec, namespace: str, hit: Hit) -> bool:
        field = _layout(spec).namespace
        return namespace == DEFAULT_NAMESPACE if field is None else hit.payload.get(field) == namespace

    async def _hits_by_id(
        self, spec: CollectionSpec, namespace: str, ids: Sequence[str], include_vectors: bool
    ) -> list[Hit]:
        """The points holding ``ids`` in ``namespace`` (by point id, or by the payload key holding ids)."""
        layout = _layout(spec)
        vector = str(layout.vector)
        if not layout.id:
            points = list(dict.fromkeys(p for p in map(point_id_of, ids) if p is not None))
            if not points:
                return []
            hits = await self.transport.retrieve(spec.name, points, include_vectors, vector)
            return [hit for hit in hits if self._in_namespace(spec, namespace, hit)]
        by_key = models.FieldCondition(key=layout.id, match=models.MatchAny(any=list(ids)))
        scoped = self._scoped(spec, namespace, models.Filter(must=[by_key]))
        if scoped is None:
            return []
        found: list[Hit] = []
        offset: PointId | None = None
        while True:
            hits, offset = await self.transport.scroll(
                spec.name, offset, self.adapter.max_batch, scoped, include_vectors, vector
            )
            found.extend(hits)
            if offset is None:
                return found

    async def get(
        self, spec: CollectionSpec, namespace: str, ids: Sequence[str], include_vectors: bool
    ) -> list[Record]:
        with self.adapter.errors(f"get from {spec.name!r}"):
            hits = await self._hits_by_id(spec, namespace, ids, include_vectors)
        wanted = set(ids)
        return [r for r in self._records(spec, hits, include_vectors) if r.id in wanted]

    async def query(
        self,
        spec: CollectionSpec,
        namespace: str,
        vector: FloatArray,
        top_k: int,
        filter: models.Filter | None,
        include_vectors: bool,
        search: SearchParams | None = None,
    ) -> list[Match]:
        scoped = self._scoped(spec, namespace, filter)
        if scoped is None:
            return []
        exact = search is not None and search.exact
        with self.adapter.errors(f"query {spec.name!r}"):
            hits = await self.transport.search(
                spec.name,
                vector,
                top_k,
                scoped,
                include_vectors,
                exact,
                str(_layout(spec).vector),
                hnsw_ef=None if search is None else search.ef,
            )
        sign = -1.0 if spec.metric is Metric.EUCLIDEAN else 1.0
        matches = []
        for hit in hits:
            record = self._record(spec, hit, include_vectors)
            if record is not None:
                array = np.asarray(record.vector, dtype=np.float32) if include_vectors else None
                matches.append(Match(record.id, sign * float(hit.score), record.metadata, record.document, array))
        return matches

    async def count(self, spec: CollectionSpec, namespace: str, filter: models.Filter | None) -> int:
        scoped = self._scoped(spec, namespace, filter)
        if scoped is None:
            return 0
        with self.adapter.errors(f"count {spec.name!r}"):
            return await self.transport.count(spec.name, scoped)

    async def scan(
        self,
        spec: CollectionSpec,
        namespace: str,
        cursor: str | None,
        page_size: int,
        filter: models.Filter | None,
        include_vectors: bool,
    ) -> Page:
        offset = None if cursor is None else decode_cursor(cursor, self.adapter.name, _valid_cursor)[0]
        scoped = self._scoped(spec, namespace, filter)
        if scoped is None:
            return Page([], None)
        with self.adapter.errors(f"scan {spec.name!r}"):
            hits, following = await self.transport.scroll(
                spec.name, offset, page_size, scoped, include_vectors, str(_layout(spec).vector)
            )
        records = self._records(spec, hits, include_vectors)
        return Page(records, None if following is None else encode_cursor([following]))

    async def list_namespaces(self, spec: CollectionSpec) -> list[str]:
        field = _layout(spec).namespace
        if field is None:
            return [DEFAULT_NAMESPACE] if await self.count(spec, DEFAULT_NAMESPACE, None) else []
        found: set[str] = set()
        offset: PointId | None = None
        with self.adapter.errors(f"list namespaces of {spec.name!r}"):
            while True:  # every point's payload, page by page (no vectors; a facet needs an index)
                hits, offset = await self.transport.scroll(
                    spec.name, offset, self.adapter.max_batch, models.Filter(), False
                )
                found.update(h.payload[field] for h in hits if isinstance(h.payload.get(field), str))
                if offset is None:
                    return sorted(found)

    # --- writes ------------------------------------------------------------------------------------

    async def create(self, spec: CollectionSpec) -> None:
        layout = _layout(spec)
        presets.check_preset(layout.preset or presets.NATIVE)
        index = spec.index
        engine = EngineLayout(
            dimension=spec.dimension,
            distance=DISTANCES[spec.metric],
            hnsw_m=index.m if isinstance(index, HNSW) else None,
            hnsw_ef_construct=index.ef_construction if isinstance(index, HNSW) else None,
            vector_name=layout.vector or "",
        )
        with self.adapter.errors(f"create collection {spec.name!r}"):
            await self.transport.create(spec.name, engine, None)

    def check_storable(self, spec: CollectionSpec, record: Record) -> None:
        """The id must be a point id (unless a payload key holds it); metadata must not name the
        payload keys the layout fills itself."""
        layout = _layout(spec)
        if not layout.id and point_id_of(record.id) is None:
            raise InvalidRecordError(
                "a Qdrant point id is an unsigned integer written in decimal or a UUID written lowercase "
                "and hyphenated (as Qdrant returns it); to keep other ids, declare a payload key holding "
                """them, e.g. --to-layout '{"id": "doc_id"}'""",
                record_id=record.id,
                field="id",
            )
        if layout.metadata_keys_from:  # the metadata is written inside an object field: nothing collides
            return
        filled = {layout.id, layout.namespace} | (set() if _from_node(layout) else {layout.document})
        for key in filled:
            if key and key in record.metadata:
                raise InvalidRecordError(
                    "this key holds the record's id, namespace, document or metadata in the collection's layout",
                    record_id=record.id,
                    field=key,
                )

    def _payload(self, layout: Layout, namespace: str, record: Record) -> dict[str, Any]:
        preset = layout.preset or presets.NATIVE
        metadata: Metadata = dict(record.metadata)
        document = record.document if record.document is not None else presets.absent_document(preset)
        if _from_node(layout):
            payload = presets.llamaindex_payload(record.id, metadata, document)
        elif layout.metadata_keys_from:
            payload = {layout.metadata_keys_from[0]: metadata}
        else:
            payload = dict(metadata)
        if preset == presets.HAYSTACK:
            payload.update(dict.fromkeys(presets.HAYSTACK_EXTRAS[:3]))
        if layout.document and not _from_node(layout) and (document is not None or preset == presets.HAYSTACK):
            payload[layout.document] = document
        if layout.id:
            payload[layout.id] = record.id
        if layout.namespace:
            payload[layout.namespace] = namespace
        return payload

    async def upsert(self, spec: CollectionSpec, namespace: str, records: Sequence[Record]) -> None:
        layout = _layout(spec)
        if layout.namespace is None and namespace != DEFAULT_NAMESPACE:
            raise UnsupportedFeatureError(
                f"collection {spec.name!r} has no namespace field: write to namespace {DEFAULT_NAMESPACE!r}, "
                'or declare one, e.g. layout={"namespace": "tenant"}'
            )
        preset = layout.preset or presets.NATIVE
        points: list[PointId] = []
        for record in records:
            point = point_id_of(record.id) if not layout.id else presets.payload_id_point(preset, record.id)
            assert point is not None, "check_storable refused it"
            points.append(point)
        payloads = [self._payload(layout, namespace, record) for record in records]
        vectors = np.stack([np.asarray(record.vector, dtype=np.float32) for record in records])
        with self.adapter.errors(f"upsert into {spec.name!r}"):
            if layout.id:  # the same ids held by other points (written by another rule) are replaced too
                others = await self._hits_by_id(spec, namespace, [r.id for r in records], False)
                stale = [p for p in (point_id_of(hit.id) for hit in others if hit.id not in points) if p is not None]
                if stale:
                    await self.transport.delete_ids(spec.name, stale)
            await self.transport.upsert(spec.name, points, vectors, payloads, str(layout.vector))

    async def delete_ids(self, spec: CollectionSpec, namespace: str, ids: Sequence[str]) -> None:
        with self.adapter.errors(f"delete from {spec.name!r}"):
            hits = await self._hits_by_id(spec, namespace, ids, False)
            points = [p for p in (point_id_of(hit.id) for hit in hits) if p is not None]
            if points:
                await self.transport.delete_ids(spec.name, points)

    async def delete_where(self, spec: CollectionSpec, namespace: str, filter: models.Filter | None) -> None:
        scoped = self._scoped(spec, namespace, filter)
        if scoped is None:
            return
        with self.adapter.errors(f"delete from {spec.name!r}"):
            await self.transport.delete_where(spec.name, scoped)


def _layout(spec: CollectionSpec) -> Layout:
    assert spec.layout is not None, "native primitives take a spec with a layout"
    return spec.layout


def _from_node(layout: Layout) -> bool:
    """Whether the document is the text inside LlamaIndex's ``_node_content`` (which stays metadata too)."""
    return layout.preset == presets.LLAMAINDEX and layout.document == presets.NODE_CONTENT


def _vector_field(name: str) -> str:
    return VECTOR_FIELD if name == "" else f"{VECTOR_FIELD}:{name}"


def _vector_type(kind: str, size: int, distance: str) -> str:
    return "sparse" if kind == "sparse" else f"{'multi' if kind == 'multi' else 'float'}[{size}] {distance}"


def _vector(name: str, config: CollectionConfig, layout: Layout) -> tuple[str, Metric]:
    """The vector the layout reads (declared, else the only dense one) and its metric."""
    usable = sorted(key for key, v in config.vectors.items() if v.kind == "dense" and v.distance in METRICS)
    chosen = layout.vector
    if chosen is None:
        if len(usable) != 1:
            others = ", ".join(
                f"{key or '(unnamed)'} ({_vector_type(v.kind, v.size, v.distance)})"
                for key, v in config.vectors.items()
                if key not in usable
            )
            if not usable:
                raise LayoutError(
                    f"collection {name!r} has no vector vecbridge can read "
                    f"(dense, compared by Cosine, Dot or Euclid){': ' + others if others else ''}"
                )
            raise LayoutError(f"collection {name!r} has several vectors", role="vector", candidates=usable)
        chosen = usable[0]
    found = config.vectors.get(chosen)
    if found is None:
        raise LayoutError(f"collection {name!r} has no vector {chosen!r}", role="vector", candidates=usable)
    if found.kind != "dense" or found.distance not in METRICS:
        raise LayoutError(
            f"collection {name!r}: vector {chosen!r} is {_vector_type(found.kind, found.size, found.distance)}; "
            "vecbridge reads dense vectors compared by Cosine, Dot or Euclid (Manhattan is not supported)",
            role="vector",
            candidates=usable,
        )
    return chosen, METRICS[found.distance]


def _payload_id(preset: str, hits: Sequence[Hit]) -> str:
    """The payload key holding the ids when every sampled point id is derived from it (what a write
    through a layout with ``{"id": KEY}`` leaves), so such a collection reads back without declaring
    it; ``""`` (the point id) otherwise."""
    if not hits:
        return ""
    keys = [key for key, value in hits[0].payload.items() if isinstance(value, str)]
    for key in sorted(keys):
        if all(
            isinstance(hit.payload.get(key), str) and presets.payload_id_point(preset, hit.payload[key]) == hit.id
            for hit in hits
        ):
            return key
    return ""


def _document(name: str, payloads: Sequence[Mapping[str, Any]]) -> str:
    """The one well-known text key holding strings in the sample; ``""`` (none) when there is none."""
    found = [key for key in presets.TEXT_KEYS if any(isinstance(p.get(key), str) for p in payloads)]
    if len(found) > 1:
        raise LayoutError(f"collection {name!r} has several text keys", role="document", candidates=found)
    return found[0] if found else ""


def _fields(layout: Layout, config: CollectionConfig, hits: Sequence[Hit]) -> tuple[NativeField, ...]:
    preset = layout.preset or presets.NATIVE
    types: dict[str, set[str]] = {}
    merged = set(layout.metadata_keys_from or ())
    for hit in hits:
        for key, value in hit.payload.items():
            types.setdefault(key, set()).add(sampled_type(value))
            if key in merged and isinstance(value, dict):
                for inner, element in value.items():
                    types.setdefault(f"{key}.{inner}", set()).add(sampled_type(element))
    id_types = "|".join(sorted({"uint" if hit.id.isdigit() else "uuid" for hit in hits})) or "uint|uuid"
    fields = [
        NativeField(ID_FIELD, id_types, FieldRole.ID if not layout.id else FieldRole.IGNORED, _id_note(layout, preset))
    ]
    for key, vector in config.vectors.items():
        kind = _vector_type(vector.kind, vector.size, vector.distance)
        if key == layout.vector:
            fields.append(NativeField(_vector_field(key), kind, FieldRole.VECTOR, f"metric {layout.metric}"))
        elif vector.kind == "sparse":
            fields.append(NativeField(_vector_field(key), kind, FieldRole.IGNORED, "sparse vector, not read"))
        elif vector.kind == "dense" and vector.distance in METRICS:
            fields.append(NativeField(_vector_field(key), kind, FieldRole.IGNORED, "another vector, not read"))
        else:
            fields.append(NativeField(_vector_field(key), kind, FieldRole.UNFIT, "no contract form"))
    if _from_node(layout):
        fields.append(
            NativeField(
                f"{presets.NODE_CONTENT}.text", "str", FieldRole.DOCUMENT, "the node's text in LlamaIndex's JSON"
            )
        )
    for key in sorted(types):
        role, note = _key_role(layout, preset, key, types[key])
        fields.append(NativeField(key, "|".join(sorted(types[key])), role, note))
    return tuple(fields)


def _id_note(layout: Layout, preset: str) -> str:
    if not layout.id:
        return "the point id: integers as decimal strings, UUIDs hyphenated"
    if preset == presets.HAYSTACK:
        return f"uuid5 of payload {layout.id!r} (Haystack's namespace), not read"
    return f"the record id is payload {layout.id!r} (vecbridge writes the uuid5 of it here), not read"


def _key_role(layout: Layout, preset: str, key: str, types: set[str]) -> tuple[FieldRole, str]:
    merged = layout.metadata_keys_from or ()
    outer, _, inner = key.partition(".")
    if inner and outer in merged:
        problem = key_problem(inner)
        if problem is not None:
            return FieldRole.UNFIT, problem
        return FieldRole.METADATA, _conversion(types)
    if key == layout.id:
        return FieldRole.ID, "the record id"
    if key == layout.namespace:
        return FieldRole.NAMESPACE, "its string values are the namespaces"
    if key == layout.document and not _from_node(layout):
        return FieldRole.DOCUMENT, "" if types <= {"str", "null"} else "values that are not text are not read"
    if key in merged:
        return FieldRole.METADATA_KEYS, "its keys are the metadata"
    if key in presets.ignored_keys(preset):
        return FieldRole.IGNORED, presets.key_note(preset, key)
    problem = key_problem(key)
    if problem is not None:
        return FieldRole.UNFIT, problem
    if layout.metadata is not None and key not in layout.metadata:
        return FieldRole.IGNORED, "not among the layout's metadata keys"
    notes = [presets.key_note(preset, key), _conversion(types)]
    return FieldRole.METADATA, "; ".join(note for note in notes if note)

"""Pinecone indexes vecbridge did not create: discovered, read, and written in their own shape when asked.

A native index is every index of the project without vecbridge's ``vecbridge`` tag. Discovery and
reads only call ``list_indexes``, ``describe_index``, ``describe_index_stats``, ``list``, ``fetch``
and ``query``: no index, tag, namespace or metadata key is created or changed, at connect time or
later. The record primitives are the adapter's own (list + fetch scans, LSN-awaited writes); this
module is what differs for a native index: names, namespaces, how metadata and the document are read
and written, and which filters are exact.

Inferred layout
    * id ``""``: the Pinecone id, kept whole (``<prefix>#<id>`` ids of LangChain's ``id_prefix`` and
      LlamaIndex's ``<ref_doc_id>#<node_id>`` included: the frameworks return and delete them so);
    * vector ``""``: the dense ``values``; dimension and metric from the index description
      (``cosine``, ``dotproduct`` -> dot, ``euclidean``). Sparse values are not read: a sample holding
      them lists ``#sparse_values`` as unfit;
    * namespace ``""``: Pinecone's namespaces are vecbridge's namespaces, by name; vecbridge's
      ``default`` is the preset's default namespace (``""`` for native, LangChain and LlamaIndex,
      ``default`` for Haystack). A Pinecone namespace whose name is not a portable namespace name, or
      the other one of ``""``/``default`` when both exist, is named in the fields and not read;
    * document: the preset's metadata key (``text`` LangChain, ``content`` Haystack, the text inside
      LlamaIndex's ``_node_content``), else none; a declared key wins;
    * metadata: every other metadata key (or the declared ones), typed from a sample of the first
      :data:`SAMPLE_SIZE` records of the first namespaces; values are Pinecone's string, number, bool
      and list of strings;
    * integers: the preset's integer keys (:attr:`vecbridge.Layout.integers`);
    * preset: recognised from the sample (:func:`vecbridge_pinecone.presets.detect_preset`).

Numbers
    Pinecone keeps every number as a float64: an int written as ``3`` reads back as ``3.0``. A float
    stays a float unless the layout says the key holds integers: the keys declared in ``integers``,
    the preset's (Haystack's ``split_id``, ``split_idx_start``, ``page_number``, as pinecone-haystack
    reads them), or, for LlamaIndex, a key whose copy in ``_node_content`` is an int. Then a float
    that is an exact integer reads back as an int, as the framework itself reads it.

Filters
    Compiled to Pinecone's filter JSON as for vecbridge's own indexes, except what needs vecbridge's
    ``_vb_types`` key: a negated range ("not ``x > 5``" must match a record whose ``x`` is a string)
    is refused with ``UnsupportedFilterError``, so is a filter on the document key, on
    ``_node_content`` (read with its text emptied) and on a key outside a declared ``metadata`` list.

Writes (``layout.writable``)
    ``upsert`` replaces whole vectors (Pinecone's own ``upsert``): the record's metadata, the document
    under the document key (LlamaIndex: inside ``_node_content``); no vecbridge key is ever added, so
    an id Pinecone refuses (non-ASCII, over 512 characters), an all-zero vector and metadata over
    40 KB are refused before any request. ``create_collection`` makes a serverless index with no tags.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
from pinecone.models.indexes.index import IndexModel
from pinecone.models.indexes.schema import DenseVectorField

from vecbridge.errors import InvalidRecordError, UnsupportedFilterError
from vecbridge.filters import FilterNode, MatchAll, Not, Range, fields_of
from vecbridge.layout import FieldRole, Layout, LayoutError, NativeField, key_problem, sampled_type
from vecbridge.types import DEFAULT_NAMESPACE, HNSW, CollectionSpec, Metadata, Record
from vecbridge.validation import NAMESPACE_NAME
from vecbridge_pinecone.codec import (
    MAX_METADATA_BYTES,
    MAX_NATIVE_ID,
    METRIC_FROM_PINECONE,
    index_name,
    is_vecbridge_index,
    metadata_bytes,
)
from vecbridge_pinecone.filters import Json, PineconeFilter, PineconeFilterCompiler
from vecbridge_pinecone.presets import LLAMAINDEX, NODE_CONTENT, Preset, detect_preset, key_note, preset

if TYPE_CHECKING:
    from vecbridge_pinecone.adapter import PineconeAdapter

ID_FIELD = "#id"
VECTOR_FIELD = "#values"
SPARSE_FIELD = "#sparse_values"
NAMESPACE_FIELD = "#namespace"
#: records read to type the metadata keys and recognise a preset (one ``list`` page)
SAMPLE_SIZE = 100
#: namespaces sampled, largest first
SAMPLE_NAMESPACES = 3
#: how newer Pinecone API versions name the default namespace in stats
DEFAULT_ALIAS = "__default__"
#: a filter no record matches (a key cannot both exist and not exist)
NOTHING: Json = {"$and": [{"_": {"$exists": True}}, {"_": {"$exists": False}}]}


def _layout(spec: CollectionSpec) -> Layout:
    assert spec.layout is not None, "native primitives take a spec with a layout"
    return spec.layout


def _node(text: object) -> dict[str, Any] | None:
    """LlamaIndex's node JSON, or ``None`` when ``text`` is not one."""
    if not isinstance(text, str):
        return None
    try:
        node = json.loads(text)
    except ValueError:
        return None
    return node if isinstance(node, dict) else None


class NativeFilterCompiler(PineconeFilterCompiler):
    """Pinecone's filter JSON for records vecbridge did not write (no ``_vb_types`` to lean on)."""

    def __init__(self, refused: Mapping[str, str], allowed: Sequence[str] | None) -> None:
        self.refused = refused
        self.allowed = allowed

    def compile_filter(self, node: FilterNode) -> PineconeFilter:
        for field in sorted(fields_of(node)):
            reason = self.refused.get(field)
            if reason is None and self.allowed is not None and field not in self.allowed:
                reason = "is not among the layout's metadata keys"
            if reason is not None:
                raise UnsupportedFilterError(f"pinecone: cannot filter on {field!r}: it {reason}")
        return PineconeFilter(json=self.compile(node), node=node)

    def visit_match_all(self, node: MatchAll) -> Json:
        return {}

    def negate(self, node: FilterNode) -> Json:
        if isinstance(node, MatchAll):
            return dict(NOTHING)
        if isinstance(node, Range):
            raise UnsupportedFilterError(
                f"pinecone cannot express 'not {node.operator}' on {node.field!r} exactly in an index vecbridge "
                "did not write: a record whose value is not a number must match, and Pinecone cannot test a type"
            )
        if isinstance(node, Not):
            return self.compile(node.child)
        return super().negate(node)


class NativeIndexes:
    """What :class:`~vecbridge_pinecone.adapter.PineconeAdapter` does differently for a spec with a layout."""

    def __init__(self, adapter: PineconeAdapter) -> None:
        self.adapter = adapter

    # --- discovery -------------------------------------------------------------------------------

    async def list_all(self) -> list[CollectionSpec]:
        with self.adapter.errors("list indexes"):
            models = [model async for model in self.adapter.client.indexes.list()]
        specs = []
        for model in models:
            if is_vecbridge_index(model.tags) or not _dense(model):
                continue
            specs.append(await self._describe(model.name, model, Layout()))
        return specs

    async def describe(self, name: str, declared: Layout) -> CollectionSpec:
        model = await self.adapter._describe(name)
        if is_vecbridge_index(model.tags):
            raise LayoutError(f"index {model.name!r} is vecbridge's own storage: open it without a layout")
        if not _dense(model):
            raise LayoutError(f"index {model.name!r} holds no dense vectors; vecbridge reads dense indexes only")
        return await self._describe(name, model, declared)

    async def _describe(self, name: str, model: IndexModel, declared: Layout) -> CollectionSpec:
        field = _dense(model)
        assert field is not None
        metric = METRIC_FROM_PINECONE.get(field.metric)
        if metric is None:
            raise LayoutError(f"index {model.name!r}: unknown Pinecone metric {field.metric!r}")
        dimension = int(field.dimension)
        spec = CollectionSpec(name, dimension, metric, index=HNSW())
        namespaces = await self._pinecone_namespaces(spec)
        metadatas, sparse = await self._sample(spec, namespaces)
        found = preset(declared.preset or detect_preset(metadatas))
        inferred = Layout(
            preset=found.name,
            id="",
            vector="",
            document=found.document,
            metadata_keys_from=(),
            integers=tuple(sorted(found.int_keys)),
            namespace="",
            metric=metric,
        )
        layout = declared.over(inferred)
        self._check(model.name, layout)
        if layout.metric is not metric:
            raise LayoutError(
                f"index {model.name!r}: Pinecone ranks it with {field.metric}; a declared metric must be the same"
            )
        fields = self._fields(layout, metadatas, dimension, field.metric, sparse, namespaces)
        return replace(spec, layout=replace(layout, fields=fields))

    @staticmethod
    def _check(name: str, layout: Layout) -> None:
        """Refuse a declared layout Pinecone cannot serve, before any read through it."""
        preset(layout.preset)
        if layout.id or layout.vector:
            raise LayoutError(
                f"index {name!r}: a Pinecone vector has one id and one dense vector; declare id and vector as ''"
            )
        if layout.metadata_keys_from:
            raise LayoutError(f"index {name!r}: Pinecone metadata is flat, it has no JSON fields to merge")
        if layout.namespace not in (None, ""):
            raise LayoutError(f"index {name!r}: Pinecone's namespaces are the namespaces; declare namespace ''")

    async def _pinecone_namespaces(self, spec: CollectionSpec) -> dict[str, int]:
        """Pinecone namespace -> vector count (the default namespace as ``""``), largest first."""
        stats = await self.adapter._call(spec.name, "describe index stats", lambda index: index.describe_index_stats())
        counts = {
            "" if name == DEFAULT_ALIAS else name: summary.vector_count for name, summary in stats.namespaces.items()
        }
        return dict(sorted(counts.items(), key=lambda item: -item[1]))

    async def _sample(self, spec: CollectionSpec, namespaces: Mapping[str, int]) -> tuple[list[dict[str, Any]], bool]:
        """Metadata of up to :data:`SAMPLE_SIZE` records of the largest namespaces, and whether any
        of them holds sparse values."""
        metadatas: list[dict[str, Any]] = []
        sparse = False
        for namespace in list(namespaces)[:SAMPLE_NAMESPACES]:
            ids, _ = await self.adapter._list_page(spec, namespace, None)
            for vector in await self.adapter._fetch_vectors(spec, namespace, ids[: SAMPLE_SIZE - len(metadatas)]):
                metadatas.append(dict(vector.metadata or {}))
                sparse = sparse or bool(vector.sparse_values and vector.sparse_values.indices)
            if len(metadatas) >= SAMPLE_SIZE:
                break
        return metadatas, sparse

    def _fields(
        self,
        layout: Layout,
        metadatas: list[dict[str, Any]],
        dimension: int,
        metric: str,
        sparse: bool,
        namespaces: Mapping[str, int],
    ) -> tuple[NativeField, ...]:
        found = preset(layout.preset)
        types: dict[str, set[str]] = {}
        for metadata in metadatas:
            for key, value in metadata.items():
                types.setdefault(key, set()).add(sampled_type(value))
        fields = [
            NativeField(ID_FIELD, "str", FieldRole.ID, "the Pinecone id, kept whole"),
            NativeField(VECTOR_FIELD, f"float[{dimension}]", FieldRole.VECTOR, f"metric {metric}"),
            NativeField(NAMESPACE_FIELD, "str", FieldRole.NAMESPACE, self._namespace_note(found, namespaces)),
        ]
        if sparse:
            fields.append(NativeField(SPARSE_FIELD, "sparse", FieldRole.UNFIT, "sparse values are not read"))
        for key in sorted(types):
            kind = "|".join(sorted(types[key]))
            fields.append(NativeField(key, kind, *self._key_role(layout, found, key, types[key])))
        return tuple(fields)

    @staticmethod
    def _namespace_note(found: Preset, namespaces: Mapping[str, int]) -> str:
        default = found.default_namespace
        notes = [f"vecbridge's {DEFAULT_NAMESPACE!r} is Pinecone's {default!r}"]
        unread = [
            name
            for name in namespaces
            if name != default and (name in ("", DEFAULT_NAMESPACE) or not NAMESPACE_NAME.fullmatch(name))
        ]
        if unread:
            notes.append("not read: Pinecone namespace(s) " + ", ".join(repr(name) for name in unread))
        return "; ".join(notes)

    @staticmethod
    def _key_role(layout: Layout, found: Preset, key: str, types: set[str]) -> tuple[FieldRole, str]:
        if key == layout.document:
            if found.name == LLAMAINDEX and key == NODE_CONTENT:
                return FieldRole.DOCUMENT, "the node's text; kept as metadata with its text emptied"
            return FieldRole.DOCUMENT, ""
        problem = key_problem(key)
        if problem is not None:
            return FieldRole.UNFIT, problem
        if layout.metadata is not None and key not in layout.metadata:
            return FieldRole.IGNORED, "not among the layout's metadata keys"
        if layout.integers and key in layout.integers:
            return FieldRole.METADATA, "an integer key: a float that is an exact integer reads back as an int"
        numbers = "float" in types or "int" in types
        return FieldRole.METADATA, key_note(found.name, key) or ("numbers read back as floats" if numbers else "")

    # --- namespaces --------------------------------------------------------------------------------

    @staticmethod
    def pinecone_namespace(spec: CollectionSpec, namespace: str) -> str:
        """The Pinecone namespace of vecbridge's ``namespace`` in this layout (never ``""`` or
        ``default`` but for vecbridge's ``default``: vecbridge namespaces are never empty)."""
        return preset(_layout(spec).preset).default_namespace if namespace == DEFAULT_NAMESPACE else namespace

    async def list_namespaces(self, spec: CollectionSpec) -> list[str]:
        default = preset(_layout(spec).preset).default_namespace
        names = []
        for name, count in (await self._pinecone_namespaces(spec)).items():
            if not count:
                continue
            if name == default:
                names.append(DEFAULT_NAMESPACE)
            elif name not in ("", DEFAULT_NAMESPACE) and NAMESPACE_NAME.fullmatch(name):
                names.append(name)
        return sorted(names)

    # --- filters -----------------------------------------------------------------------------------

    def compile_filter(self, node: FilterNode, spec: CollectionSpec) -> PineconeFilter:
        layout = _layout(spec)
        refused = {
            f.name: f"is {f.role.value} in this layout" for f in layout.fields if f.role is not FieldRole.METADATA
        }
        if layout.document:
            refused[layout.document] = "holds the document in this layout"
        return NativeFilterCompiler(refused, layout.metadata).compile_filter(node)

    # --- records -----------------------------------------------------------------------------------

    def decode(self, spec: CollectionSpec, native: str, raw: Mapping[str, Any] | None) -> tuple[Metadata, str | None]:
        """(metadata, document) of a Pinecone vector read through the layout."""
        layout = _layout(spec)
        found = preset(layout.preset)
        values = dict(raw or {})
        document: str | None = None
        node: dict[str, Any] | None = None
        if layout.document and found.name == LLAMAINDEX and layout.document == NODE_CONTENT:
            node = _node(values.get(NODE_CONTENT))
            if node is not None:
                text = node.get("text")
                document = text if isinstance(text, str) else None
                values[NODE_CONTENT] = json.dumps({**node, "text": ""}, ensure_ascii=False)
        elif layout.document and isinstance(values.get(layout.document), str):
            document = values.pop(layout.document)
        if layout.metadata is not None:
            values = {key: value for key, value in values.items() if key in layout.metadata}
        if node is not None and isinstance(node.get("metadata"), dict):  # LlamaIndex's exact copy says which are ints
            ints = {k for k, v in node["metadata"].items() if isinstance(v, int) and not isinstance(v, bool)}
            for key in ints & values.keys():
                value = values[key]
                if isinstance(value, float) and value.is_integer():
                    values[key] = int(value)
        return layout.metadata_from(values, native), document

    def check_storable(self, spec: CollectionSpec, record: Record) -> None:
        """What Pinecone refuses of a record in its own shape: an id it does not take (no vecbridge key
        can hold the original), metadata over 40 KB, a metadata key the layout fills itself."""
        layout = _layout(spec)
        if not (record.id.isascii() and len(record.id) <= MAX_NATIVE_ID and "\x00" not in record.id):
            raise InvalidRecordError(
                f"Pinecone ids are ASCII without NUL, 1-{MAX_NATIVE_ID} characters; an index in its own shape "
                "has no place for another id",
                record_id=record.id,
                field="id",
            )
        if layout.document and layout.document in record.metadata and preset(layout.preset).name != LLAMAINDEX:
            raise InvalidRecordError(
                "this key holds the record's document in the collection's layout",
                record_id=record.id,
                field=layout.document,
            )
        size = metadata_bytes(self.encode(spec, record))
        if size > MAX_METADATA_BYTES:
            raise InvalidRecordError(
                f"the metadata sent to Pinecone is {size} bytes; Pinecone holds at most {MAX_METADATA_BYTES}",
                record_id=record.id,
                field="metadata",
            )

    def encode(self, spec: CollectionSpec, record: Record) -> dict[str, Any]:
        """The Pinecone metadata of a record in the layout's shape (no vecbridge key)."""
        layout = _layout(spec)
        found = preset(layout.preset)
        metadata: dict[str, Any] = dict(record.metadata)
        if found.name == LLAMAINDEX and layout.document == NODE_CONTENT:
            node = _node(metadata.get(NODE_CONTENT))
            if node is None:  # a record LlamaIndex did not write: the smallest node it reads
                user = {k: v for k, v in record.metadata.items() if k != NODE_CONTENT}
                node = {"id_": record.id, "metadata": user, "class_name": "TextNode"}
                metadata.setdefault("_node_type", "TextNode")
                for key in ("document_id", "doc_id", "ref_doc_id"):
                    metadata.setdefault(key, "None")
            metadata[NODE_CONTENT] = json.dumps({**node, "text": record.document or ""}, ensure_ascii=False)
        elif layout.document:
            document = record.document if record.document is not None else found.absent_document
            if document is not None:
                metadata[layout.document] = document
        return metadata

    @staticmethod
    def values(record: Record) -> list[float]:
        values: list[float] = np.asarray(record.vector, dtype=np.float32).tolist()
        if not any(values):
            raise InvalidRecordError(
                "Pinecone rejects all-zero dense vectors, and an index in its own shape has no place for "
                "vecbridge's stand-in",
                record_id=record.id,
                field="vector",
            )
        return values

    # --- collections -------------------------------------------------------------------------------

    async def create(self, spec: CollectionSpec) -> None:
        self._check(index_name(spec.name), _layout(spec))
        await self.adapter._create_index(spec, tags=None)


def _dense(model: IndexModel) -> DenseVectorField | None:
    """The index's one dense vector field, or ``None`` (a sparse index, several fields)."""
    schema = getattr(model, "schema", None)
    fields = [f for f in (schema.fields.values() if schema is not None else []) if isinstance(f, DenseVectorField)]
    return fields[0] if len(fields) == 1 else None

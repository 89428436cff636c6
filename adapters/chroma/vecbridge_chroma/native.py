"""Chroma collections vecbridge did not create: discovered, read, and written in their own shape when asked.

A native collection is every Chroma collection of the URL's tenant and database that has neither
vecbridge's facts (``_vb_spec``) nor the mark of one of its namespace collections (``_vb_of``).
Discovery and reads only call ``list_collections``, ``get_collection``, ``get``, ``count`` and
``query``: nothing is created or changed, at connect time or later.

Inferred layout
    * id ``""``: the Chroma id (always a string); vector ``""``: the collection's embedding;
    * document ``#document``: Chroma's ``documents`` (``""`` declares none; a metadata key reads the
      text from that key instead);
    * metadata: every metadata key (or the declared ones), typed from a sample of the first
      :data:`SAMPLE_SIZE` records (``str``, ``int|float``, ``list[str]``...); Chroma 1.x holds str,
      int, float, bool and single-type lists: a list of strings stays a list, a list of numbers or
      booleans becomes its JSON text (:func:`vecbridge.layout.metadata_value`) and filters on that
      key are refused, naming it. A key outside the contract's key rules is listed as unfit and
      never read;
    * namespace: none (the collection is namespace ``default``), or a declared metadata key whose
      string values are the namespaces (a record without one is in no namespace). Chroma ids stay
      unique across the collection: writing an id that another namespace holds is refused;
    * metric: the ``space`` of the collection's configuration (``hnsw`` or ``spann``), else the legacy
      ``hnsw:space`` metadata, else ``l2``. Chroma 1.x writes the space into every configuration (``l2``
      when the creator named none) and ranks with it, so it is what the store declares, never a
      guess; a declared metric must equal it (Chroma's distances come in that space only);
    * preset: ``llamaindex`` when the sample holds LlamaIndex's node keys, ``langchain`` for a
      collection named ``langchain`` (langchain-chroma's default), else ``native``
      (:mod:`vecbridge_chroma.presets`).

Dimension
    Chroma fixes a collection's dimension at its first write. A collection never written has none:
    it is described with dimension 0 (:meth:`vecbridge.Store.create_collection` keeps the dimension
    it was asked for), and a write through such a description fails with ``DimensionMismatchError``.

Writes (``layout.writable``)
    ``upsert`` replaces whole records: Chroma's own ``upsert`` merges metadata, so the stored keys a
    new record lacks are sent as ``None`` (Chroma's "remove this key"); no vecbridge key is ever
    added. Chroma cannot clear a document either: a record whose document goes away is written with
    ``""`` under the ``langchain`` preset (LangChain needs text), otherwise deleted and added again
    without one, as chromadb's own ``add`` leaves a record without a document; a reader may miss
    that record between the two requests. Chroma 1.5.9 hands the array metadata of a dropped
    collection to records added later to another one (``tests/test_chroma.py``,
    ``test_list_metadata_of_a_dropped_collection_never_reappears``): a write reads its records back
    and removes any key it did not write, so what vecbridge writes is what is stored; records
    written by other clients are read as Chroma returns them. ``create_collection`` makes a plain Chroma collection
    with the metric's ``hnsw`` configuration and no metadata, the shape every preset reads.

Scans
    A native record has no vecbridge scan key, so a scan pages by offset over Chroma's own order
    (insertion order; an update keeps a record's place). The cursor holds the offset and the ids of
    the last three records read, and a resumed page first checks the last is still just before the
    offset. Records present for the whole scan appear exactly once, also when records are updated
    or added meanwhile (additions come last) or when up to a page of records before the cursor is
    deleted between two pages (the place is found again after the last of the three still stored);
    beyond that, or when all three are deleted, the scan goes on at the same offset and may skip as
    many records as were deleted before it.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from vecbridge.adapter import decode_cursor, encode_cursor
from vecbridge.errors import (
    CollectionExistsError,
    CollectionNotFoundError,
    InvalidArgumentError,
    InvalidRecordError,
    UnsupportedFeatureError,
)
from vecbridge.filters import FilterNode
from vecbridge.layout import FieldRole, Layout, LayoutError, NativeField, converted_types, key_problem, sampled_type
from vecbridge.types import DEFAULT_NAMESPACE, HNSW, CollectionSpec, FloatArray, Match, Metadata, Metric, Page, Record
from vecbridge_chroma.filters import EVERYTHING, NOTHING, NativeFilterCompiler, Where, all_of
from vecbridge_chroma.metrics import SPACE_METRICS, to_score
from vecbridge_chroma.presets import check_preset, detect_preset, document_when_absent, key_note

if TYPE_CHECKING:
    from vecbridge_chroma.adapter import ChromaAdapter

T = TypeVar("T")

#: Chroma's ``documents``, as a layout names it (Chroma's own schema key; never a metadata key)
DOCUMENT_FIELD = "#document"
ID_FIELD = "#id"
VECTOR_FIELD = "#embedding"
#: records read to type the metadata keys and recognise a preset
SAMPLE_SIZE = 1000
#: the names Chroma accepts for a collection
CHROMA_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,510}[A-Za-z0-9]")
#: ids of the last records read a scan cursor holds, to find its place again after deletes
REMEMBERED_IDS = 3
#: vecbridge's marks on its own Chroma collections (the facts; a namespace's parent)
VECBRIDGE_MARKS = ("_vb_spec", "_vb_of")


def chroma_space(collection: Any) -> tuple[str, str]:
    """The space Chroma ranks ``collection`` with, and where it is declared."""
    configuration = collection.configuration_json or {}
    for section in ("hnsw", "spann"):
        space = (configuration.get(section) or {}).get("space")
        if space:
            return str(space), f"configuration {section}.space"
    space = (collection.metadata or {}).get("hnsw:space")
    if space:
        return str(space), "metadata hnsw:space"
    return "l2", "Chroma's default (nothing declared)"


def is_vecbridge_collection(collection: Any) -> bool:
    return any(mark in (collection.metadata or {}) for mark in VECBRIDGE_MARKS)


def _valid_cursor(state: Any) -> bool:
    """A native scan cursor holds ``[offset, ids of the last records read, oldest first]``."""
    return (
        isinstance(state, list)
        and len(state) == 2
        and type(state[0]) is int
        and state[0] >= 1
        and isinstance(state[1], list)
        and 1 <= len(state[1]) <= REMEMBERED_IDS
        and all(isinstance(i, str) for i in state[1])
    )


class NativeCollections:
    """The primitives of :class:`~vecbridge_chroma.adapter.ChromaAdapter` for a spec with a layout."""

    def __init__(self, adapter: ChromaAdapter) -> None:
        self.adapter = adapter
        self._handles: dict[str, Any] = {}

    # --- discovery -------------------------------------------------------------------------------

    async def list_all(self) -> list[CollectionSpec]:
        return [
            await self._describe(collection, Layout())
            for collection in await self.adapter._all_chroma()
            if not is_vecbridge_collection(collection)
        ]

    async def describe(self, name: str, declared: Layout) -> CollectionSpec:
        collection = await self.adapter._get_chroma(name)
        if collection is None:
            raise CollectionNotFoundError(f"collection {name!r} does not exist")
        if is_vecbridge_collection(collection):
            raise LayoutError(f"collection {name!r} is vecbridge's own storage: open it without a layout")
        self._handles[name] = collection
        return await self._describe(collection, declared)

    async def _describe(self, collection: Any, declared: Layout) -> CollectionSpec:
        dimension = collection._model.dimension  # Chroma's model field; the client has no accessor
        include = ["metadatas"] + ([] if dimension else ["embeddings"])
        with self.adapter.errors(f"sample collection {collection.name!r}"):
            sample = await self.adapter._call(collection.get, limit=SAMPLE_SIZE, include=include)
        metadatas: list[Mapping[str, Any]] = [m for m in sample["metadatas"] or [] if m]
        if not dimension and len(sample["ids"]):
            dimension = len(sample["embeddings"][0])
        space, source = chroma_space(collection)
        metric = SPACE_METRICS.get(space)
        if metric is None:
            raise LayoutError(f"collection {collection.name!r}: unknown Chroma space {space!r} ({source})")
        inferred = Layout(
            preset=detect_preset(collection.name, metadatas),
            id="",
            vector="",
            document=DOCUMENT_FIELD,
            metadata_keys_from=(),
            metric=metric,
        )
        layout = declared.over(inferred)
        self._check(collection.name, layout, metric)
        self._check_keys(collection.name, layout, metadatas)
        layout = replace(layout, fields=self._fields(layout, metadatas, dimension or 0, f"{space}, {source}"))
        configuration = (collection.configuration_json or {}).get("hnsw") or {}
        index = HNSW(
            m=int(configuration.get("max_neighbors", 16)),
            ef_construction=int(configuration.get("ef_construction", 100)),
        )
        return CollectionSpec(collection.name, dimension or 0, metric, index=index, layout=layout)

    @staticmethod
    def _check(name: str, layout: Layout, metric: Metric) -> None:
        """Refuse a declared layout Chroma cannot serve, before any read through it."""
        check_preset(layout.preset or "native")
        if layout.id or layout.vector:
            raise LayoutError(
                f"collection {name!r}: a Chroma record has one id and one embedding; declare id and vector as ''"
            )
        if layout.metadata_keys_from:
            raise LayoutError(f"collection {name!r}: Chroma metadata is flat, it has no JSON fields to merge")
        if layout.namespace == "":
            raise LayoutError(f"collection {name!r}: Chroma has no native namespaces; declare a metadata key")
        if layout.metric is not metric:
            raise LayoutError(
                f"collection {name!r}: Chroma ranks it with {metric.value}; a declared metric must be the same"
            )

    @staticmethod
    def _check_keys(name: str, layout: Layout, metadatas: list[Mapping[str, Any]]) -> None:
        """A declared namespace or document key no sampled record has is a typo, not a layout; a
        namespace key must hold strings (other values could not name a namespace, and their records
        would be in none)."""
        if not metadatas:
            return  # nothing written yet (a collection just created in this layout)
        sampled = {key for metadata in metadatas for key in metadata}
        if layout.namespace:
            kinds = {sampled_type(m[layout.namespace]) for m in metadatas if layout.namespace in m}
            if kinds - {"str"}:
                raise LayoutError(
                    f"collection {name!r}: the namespace key {layout.namespace!r} holds {'|'.join(sorted(kinds))}, "
                    "and namespaces are strings"
                )
        for role, key in (("namespace", layout.namespace), ("document", layout.document)):
            if key and key != DOCUMENT_FIELD and key not in sampled:
                raise LayoutError(
                    f"collection {name!r}: no record of the first {SAMPLE_SIZE} has the metadata key {key!r}"
                    f" declared as {role} (Chroma's own documents are {DOCUMENT_FIELD!r})",
                    role=role,
                    candidates=[DOCUMENT_FIELD, *sorted(sampled)] if role == "document" else sorted(sampled),
                )

    @staticmethod
    def _fields(
        layout: Layout, metadatas: list[Mapping[str, Any]], dimension: int, metric: str
    ) -> tuple[NativeField, ...]:
        preset = layout.preset or "native"
        types: dict[str, set[str]] = {}
        for metadata in metadatas:
            for key, value in metadata.items():
                types.setdefault(key, set()).add(sampled_type(value))
        document = {DOCUMENT_FIELD: FieldRole.DOCUMENT, "": FieldRole.IGNORED}.get(layout.document or "")
        fields = [
            NativeField(ID_FIELD, "str", FieldRole.ID, "the Chroma id"),
            NativeField(VECTOR_FIELD, f"float[{dimension}]", FieldRole.VECTOR, f"metric {metric}"),
            NativeField(DOCUMENT_FIELD, "str", document or FieldRole.IGNORED, "Chroma's documents"),
        ]
        for key in sorted(types):
            fields.append(NativeField(key, "|".join(sorted(types[key])), *_key_role(layout, key, types[key], preset)))
        return tuple(fields)

    # --- filters ---------------------------------------------------------------------------------

    def compile_filter(self, node: FilterNode, spec: CollectionSpec) -> Where | None:
        layout = _layout(spec)
        refused = {
            f.name: f"is {f.role.value} in this layout"
            if f.role is not FieldRole.METADATA
            else f"holds {f.type}: {f.note}"
            for f in layout.fields
            if f.role is not FieldRole.METADATA or converted_types(set(f.type.split("|")))
        }
        for role, key in (("namespace", layout.namespace), ("document", layout.document)):
            if key and key != DOCUMENT_FIELD:  # not metadata, whether or not the sample had it
                refused[key] = f"is {role} in this layout"
        compiled = NativeFilterCompiler(refused, layout.metadata).compile(node)
        return None if compiled == EVERYTHING else compiled

    # --- Chroma handles ----------------------------------------------------------------------------

    async def _on(self, spec: CollectionSpec, action: str, operation: Callable[[Any], Awaitable[T]]) -> T:
        """Run ``operation`` on the collection; a handle another connection made stale is renewed once."""
        from chromadb.errors import NotFoundError

        for attempt in (1, 2):
            collection = self._handles.get(spec.name) or await self.adapter._get_chroma(spec.name)
            if collection is None:
                raise CollectionNotFoundError(f"collection {spec.name!r} does not exist")
            self._handles[spec.name] = collection
            with self.adapter.errors(f"{action} on {spec.name!r}"):
                try:
                    return await operation(collection)
                except NotFoundError:
                    if attempt == 2:
                        raise
            self._handles.pop(spec.name, None)
        raise AssertionError("unreachable")

    def _where(self, spec: CollectionSpec, namespace: str, filter: Where | None) -> Where | None:
        """The ``where`` of a read in ``namespace`` (``NOTHING`` in a namespace the layout cannot hold)."""
        field = _layout(spec).namespace
        if field is None:
            return filter if namespace == DEFAULT_NAMESPACE else NOTHING
        return all_of({field: {"$eq": namespace}}, *([] if filter is None else [filter]))

    # --- reads -------------------------------------------------------------------------------------

    def _record(
        self, layout: Layout, chroma_id: str, metadata: Mapping[str, Any] | None, document: str | None
    ) -> tuple[Metadata, str | None]:
        values = dict(metadata or {})
        if layout.namespace:
            values.pop(layout.namespace, None)
        if layout.document == "":
            document = None
        elif layout.document != DOCUMENT_FIELD:
            text = values.pop(str(layout.document), None)
            document = text if isinstance(text, str) else None
            if text is not None and document is None:
                layout.drops.add(str(layout.document), f"the document key holds {sampled_type(text)}, not text")
        if layout.metadata is not None:
            values = {key: value for key, value in values.items() if key in layout.metadata}
        return layout.metadata_from(values, chroma_id), document

    def _records(self, spec: CollectionSpec, result: Mapping[str, Any], include_vectors: bool) -> list[Record]:
        layout = _layout(spec)
        embeddings = result["embeddings"] if include_vectors else [None] * len(result["ids"])
        records = []
        for chroma_id, metadata, document, embedding in zip(
            result["ids"], result["metadatas"], result["documents"], embeddings, strict=True
        ):
            user, text = self._record(layout, chroma_id, metadata, document)
            vector = np.zeros(0, np.float32) if embedding is None else np.asarray(embedding, dtype=np.float32)
            records.append(Record(chroma_id, vector, user, text))
        return records

    async def _read(self, spec: CollectionSpec, action: str, include_vectors: bool, **kwargs: Any) -> list[Record]:
        include = ["metadatas", "documents"] + (["embeddings"] if include_vectors else [])

        async def read(collection: Any) -> list[Record]:
            result = await self.adapter._call(collection.get, include=include, **kwargs)
            return self._records(spec, result, include_vectors)

        return await self._on(spec, action, read)

    async def get(
        self, spec: CollectionSpec, namespace: str, ids: Sequence[str], include_vectors: bool
    ) -> list[Record]:
        if not ids:
            return []
        where = self._where(spec, namespace, None)
        return await self._read(spec, "get", include_vectors, ids=list(ids), where=where)

    async def query(
        self,
        spec: CollectionSpec,
        namespace: str,
        vector: FloatArray,
        top_k: int,
        filter: Where | None,
        include_vectors: bool,
    ) -> list[Match]:
        where = self._where(spec, namespace, filter)
        include = ["metadatas", "documents", "distances"] + (["embeddings"] if include_vectors else [])
        layout = _layout(spec)

        async def search(collection: Any) -> list[Match]:
            result = await self.adapter._call(
                collection.query,
                query_embeddings=[np.asarray(vector, dtype=np.float32)],
                n_results=top_k,
                where=where,
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
                user, text = self._record(layout, chroma_id, metadata, document)
                array = None if embedding is None else np.asarray(embedding, dtype=np.float32)
                matches.append(Match(chroma_id, to_score(spec.metric, float(distance)), user, text, array))
            return matches

        return await self._on(spec, "query", search)

    async def count(self, spec: CollectionSpec, namespace: str, filter: Where | None) -> int:
        where = self._where(spec, namespace, filter)

        async def count(collection: Any) -> int:
            if where is None:
                return int(await self.adapter._call(collection.count))
            return len((await self.adapter._call(collection.get, where=where, include=[]))["ids"])

        return await self._on(spec, "count", count)

    async def list_namespaces(self, spec: CollectionSpec) -> list[str]:
        field = _layout(spec).namespace
        if field is None:
            return [DEFAULT_NAMESPACE] if await self.count(spec, DEFAULT_NAMESPACE, None) else []
        found: set[str] = set()
        size = self.adapter.max_batch

        async def values(collection: Any) -> None:
            offset = 0
            while True:  # every record's metadata, page by page (no vectors)
                page = await self.adapter._call(collection.get, include=["metadatas"], limit=size, offset=offset)
                found.update(m[field] for m in page["metadatas"] if m and isinstance(m.get(field), str))
                if len(page["ids"]) < size:
                    return
                offset += size

        await self._on(spec, "list namespaces", values)
        return sorted(found)

    async def scan(
        self,
        spec: CollectionSpec,
        namespace: str,
        cursor: str | None,
        page_size: int,
        filter: Where | None,
        include_vectors: bool,
    ) -> Page:
        where = self._where(spec, namespace, filter)
        offset = 0
        if cursor is not None:
            offset, read = decode_cursor(cursor, self.adapter.name, _valid_cursor)
            offset = await self._resume_at(spec, where, offset, read, page_size)
        records = await self._read(spec, "scan", include_vectors, where=where, offset=offset, limit=page_size)
        if len(records) < page_size:
            return Page(records, None)
        return Page(records, encode_cursor([offset + len(records), [r.id for r in records[-REMEMBERED_IDS:]]]))

    async def _resume_at(
        self, spec: CollectionSpec, where: Where | None, offset: int, read: list[str], page_size: int
    ) -> int:
        """Where the record after the last of ``read`` still stored is now (records deleted before it
        moved it back). One id is read when nothing moved; the page before the offset when something did."""

        async def ids(start: int, stop: int) -> list[str]:
            async def read(collection: Any) -> list[str]:
                window = await self.adapter._call(
                    collection.get, where=where, offset=start, limit=stop - start, include=[]
                )
                return list(window["ids"])

            return await self._on(spec, "scan", read)

        if await ids(offset - 1, offset) == read[-1:]:
            return offset
        start = max(0, offset - page_size)
        before = await ids(start, offset)
        for record_id in reversed(read):
            if record_id in before:
                return start + before.index(record_id) + 1
        return offset

    # --- writes ------------------------------------------------------------------------------------

    async def create(self, spec: CollectionSpec) -> None:
        layout = _layout(spec)
        check_preset(layout.preset or "native")
        if not CHROMA_NAME.fullmatch(spec.name):
            raise InvalidArgumentError(
                f"{spec.name!r} is not a Chroma collection name: 3-512 characters of A-Z a-z 0-9 . _ -, "
                "starting and ending with a letter or digit"
            )
        with self.adapter.errors(f"create collection {spec.name!r}"):
            try:
                collection = await self.adapter._call(
                    self.adapter.client.create_collection,
                    spec.name,
                    configuration=self.adapter._configuration(spec),
                    embedding_function=None,
                )
            except Exception as exc:
                if "already exists" in str(exc):
                    raise CollectionExistsError(f"collection {spec.name!r} already exists") from exc
                raise
        self._handles[spec.name] = collection

    def check_storable(self, spec: CollectionSpec, record: Record) -> None:
        """A record's metadata must not name the fields the layout fills itself."""
        layout = _layout(spec)
        for field in (layout.namespace, layout.document):
            if field and field != DOCUMENT_FIELD and field in record.metadata:
                raise InvalidRecordError(
                    "this key holds the record's namespace or document in the collection's layout",
                    record_id=record.id,
                    field=field,
                )

    async def upsert(self, spec: CollectionSpec, namespace: str, records: Sequence[Record]) -> None:
        layout = _layout(spec)
        if layout.namespace is None and namespace != DEFAULT_NAMESPACE:
            raise UnsupportedFeatureError(
                f"collection {spec.name!r} has no namespace field: write to namespace {DEFAULT_NAMESPACE!r}, "
                'or declare one, e.g. layout={"namespace": "tenant"}'
            )
        ids = [record.id for record in records]
        absent_document = document_when_absent(layout.preset or "native")

        async def write(collection: Any) -> None:
            stored = await self.adapter._call(collection.get, ids=ids, include=["metadatas", "documents"])
            previous = dict(zip(stored["ids"], zip(stored["metadatas"], stored["documents"], strict=True), strict=True))
            metadatas: list[dict[str, Any] | None] = []
            documents: list[str | None] = []
            readd: list[str] = []
            for record in records:
                metadata: dict[str, Any] = dict(record.metadata)
                if layout.namespace:
                    metadata[layout.namespace] = namespace
                document = record.document
                if layout.document not in (DOCUMENT_FIELD, "") and document is not None:
                    metadata[str(layout.document)] = document
                if layout.document == DOCUMENT_FIELD and document is None:
                    document = absent_document
                old = previous.get(record.id)
                if old is not None:
                    _check_same_namespace(layout, record.id, old[0], namespace)
                    if layout.document == DOCUMENT_FIELD and document is None and old[1] is not None:
                        readd.append(record.id)  # Chroma keeps a document sent as None
                    else:
                        metadata.update((stale, None) for stale in (old[0] or {}).keys() - metadata.keys())
                metadatas.append(metadata or None)
                documents.append(document)
            if readd:
                await self.adapter._call(collection.delete, ids=readd)
            vectors = np.stack([np.asarray(record.vector, dtype=np.float32) for record in records])
            written = documents if layout.document == DOCUMENT_FIELD else None
            await self.adapter._call(
                collection.upsert, ids=ids, embeddings=vectors, metadatas=metadatas, documents=written
            )
            await self._remove_phantoms(collection, ids, metadatas)

        await self._on(spec, "upsert", write)

    async def _remove_phantoms(self, collection: Any, ids: list[str], written: list[dict[str, Any] | None]) -> None:
        """Remove the keys Chroma added to records just written (see "Writes" in the module docstring)."""
        kept = {i: {k for k, v in (m or {}).items() if v is not None} for i, m in zip(ids, written, strict=True)}
        stored = await self.adapter._call(collection.get, ids=ids, include=["metadatas"])
        phantoms = {
            chroma_id: {key: None for key in (metadata or {}).keys() - kept[chroma_id]}
            for chroma_id, metadata in zip(stored["ids"], stored["metadatas"], strict=True)
            if (metadata or {}).keys() - kept[chroma_id]
        }
        if phantoms:
            await self.adapter._call(collection.update, ids=list(phantoms), metadatas=list(phantoms.values()))

    async def delete_ids(self, spec: CollectionSpec, namespace: str, ids: Sequence[str]) -> None:
        if not ids:
            return
        where = self._where(spec, namespace, None)

        async def delete(collection: Any) -> None:
            await self.adapter._call(collection.delete, ids=list(ids), where=where)

        await self._on(spec, "delete", delete)

    async def delete_where(self, spec: CollectionSpec, namespace: str, filter: Where | None) -> None:
        where = self._where(spec, namespace, filter)

        async def delete(collection: Any) -> None:
            if where:
                await self.adapter._call(collection.delete, where=where)
                return
            while True:  # Chroma deletes nothing without ids or a where: delete page by page
                page = await self.adapter._call(collection.get, limit=self.adapter.max_batch, include=[])
                if not page["ids"]:
                    return
                await self.adapter._call(collection.delete, ids=page["ids"])

        await self._on(spec, "delete", delete)


def _layout(spec: CollectionSpec) -> Layout:
    assert spec.layout is not None, "native primitives take a spec with a layout"
    return spec.layout


def _check_same_namespace(layout: Layout, record_id: str, stored: Mapping[str, Any] | None, namespace: str) -> None:
    """A namespace field shares the collection's one id space: writing an id another namespace
    holds would move that record, so it is refused (nothing of the batch is written)."""
    if layout.namespace is None:
        return
    other = (stored or {}).get(layout.namespace)
    if other != namespace:
        raise InvalidRecordError(
            f"the id is taken by a record in namespace {other!r}: namespaces kept in a field share one id space",
            record_id=record_id,
            field=layout.namespace,
        )


def _key_role(layout: Layout, key: str, types: set[str], preset: str) -> tuple[FieldRole, str]:
    if key == layout.namespace:
        return FieldRole.NAMESPACE, "its string values are the namespaces; a record without one is in none (not read)"
    if key == layout.document:
        return FieldRole.DOCUMENT, ""
    problem = key_problem(key)
    if problem is not None:
        return FieldRole.UNFIT, problem
    if layout.metadata is not None and key not in layout.metadata:
        return FieldRole.IGNORED, "not among the layout's metadata keys"
    notes = [key_note(preset, key)]
    if converted_types(types):
        notes.append("converted: lists of numbers or booleans become JSON text; filters on it are refused")
    return FieldRole.METADATA, "; ".join(note for note in notes if note)

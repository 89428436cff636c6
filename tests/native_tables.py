"""A fake store holding native tables, for testing the core's layout path without a real engine.

``NativeTablesAdapter`` (scheme ``native-tables://NAME``) is the reference engine plus plain tables
of rows (column -> native value) that vecbridge did not create, read and written through a
``Layout`` the way a real adapter with ``Capability.NATIVE_LAYOUTS`` does: the id column becomes a
string by ``native_id``, metadata converts by ``Layout.metadata_from``, a ``bytea`` column is unfit,
two text columns make the document ambiguous. Searches are exact, filters the reference evaluator,
so expected answers are easy to state. Tables live per ``NAME``, shared by every connection to it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np

import vecbridge.registry
from vecbridge.adapter import Adapter, Capability, decode_cursor, encode_cursor
from vecbridge.errors import CollectionExistsError, CollectionNotFoundError, InvalidRecordError
from vecbridge.filters import FilterNode, evaluate
from vecbridge.layout import FieldRole, Layout, LayoutError, NativeField, conversion_note, native_id
from vecbridge.memory import MemoryAdapter, exact_scores
from vecbridge.types import DEFAULT_NAMESPACE, CollectionSpec, FloatArray, Match, Metric, Page, Record
from vecbridge.url import URL

SCHEME = "native-tables"
TEXT_TYPES = ("text", "varchar")
JSON_TYPES = ("json", "jsonb")
UNFIT_TYPES = ("bytea",)


@dataclass
class NativeTable:
    """A table as its application wrote it: typed columns, rows, and the metric its index declares."""

    columns: dict[str, str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    metric: Metric | None = None

    @property
    def dimension(self) -> int:
        vector_types = [kind for kind in self.columns.values() if kind.startswith("vector(")]
        return int(vector_types[0][len("vector(") : -1]) if vector_types else 0


#: NAME of the URL -> table name -> table
TABLES: dict[str, dict[str, NativeTable]] = {}


def _infer(table: NativeTable) -> Layout:
    """The layout this fake infers: ``id`` column, the only vector column, the only text column as the
    document, JSON columns' keys merged, everything else metadata; ``LayoutError`` when ambiguous."""
    columns = table.columns
    vectors = [name for name, kind in columns.items() if kind.startswith("vector(")]
    if len(vectors) != 1:
        raise LayoutError("more than one vector column", role="vector", candidates=vectors)
    texts = [name for name, kind in columns.items() if kind in TEXT_TYPES and name != "id"]
    if len(texts) > 1:
        raise LayoutError("more than one text column could be the document", role="document", candidates=texts)
    return Layout(
        preset="native",
        id="id",
        vector=vectors[0],
        document=texts[0] if texts else "",
        metadata_keys_from=tuple(name for name, kind in columns.items() if kind in JSON_TYPES),
        metric=table.metric,
    )


def _fields(table: NativeTable, layout: Layout) -> tuple[NativeField, ...]:
    def role(name: str, kind: str) -> tuple[FieldRole, str]:
        if name == layout.id:
            return FieldRole.ID, "integer as its decimal string" if kind == "serial" else ""
        if name == layout.vector:
            return FieldRole.VECTOR, ""
        if name == layout.document:
            return FieldRole.DOCUMENT, ""
        if name == layout.namespace:
            return FieldRole.NAMESPACE, ""
        if kind in UNFIT_TYPES:
            return FieldRole.UNFIT, f"{kind} has no lossless contract form"
        if layout.metadata_keys_from and name in layout.metadata_keys_from:
            return FieldRole.METADATA_KEYS, conversion_note(kind)
        if layout.metadata is None or name in layout.metadata:
            return FieldRole.METADATA, conversion_note(kind)
        return FieldRole.IGNORED, ""

    return tuple(NativeField(name, kind, *role(name, kind)) for name, kind in table.columns.items())


class NativeTablesAdapter(MemoryAdapter):
    """The reference engine with native tables next to vecbridge's own collections."""

    name: ClassVar[str] = SCHEME
    capabilities: ClassVar[frozenset[Capability]] = MemoryAdapter.capabilities | {Capability.NATIVE_LAYOUTS}

    tables: dict[str, NativeTable]

    @classmethod
    async def connect(cls, url: URL) -> Adapter:
        adapter = await super().connect(url)
        assert isinstance(adapter, NativeTablesAdapter)
        adapter.tables = TABLES.setdefault(url.host, {})
        return adapter

    # --- discovery -------------------------------------------------------------------------------

    async def list_native_collections(self) -> list[CollectionSpec]:
        specs = []
        for name, table in self.tables.items():
            try:
                specs.append(await self.describe_native_collection(name, Layout()))
            except LayoutError as exc:
                fields = tuple(
                    NativeField(column, kind, FieldRole.IGNORED, f"candidate for {exc.role}")
                    if column in exc.candidates
                    else NativeField(column, kind, FieldRole.IGNORED)
                    for column, kind in table.columns.items()
                )
                specs.append(CollectionSpec(name, table.dimension, layout=Layout(metric=table.metric, fields=fields)))
        return specs

    async def describe_native_collection(self, name: str, layout: Layout) -> CollectionSpec:
        table = self._table(name)
        try:
            inferred = _infer(table)
        except LayoutError as exc:
            role = exc.role or ""
            if getattr(layout, role, None) is None:
                raise
            inferred = _infer(
                replace(table, columns={k: v for k, v in table.columns.items() if k not in exc.candidates})
            )
        resolved = layout.over(inferred)
        missing = [column for column in (resolved.id, resolved.vector) if column not in table.columns]
        if missing:
            raise LayoutError(f"table {name!r} has no column {missing[0]!r}")
        resolved = replace(resolved, fields=_fields(table, resolved))
        return CollectionSpec(name, table.dimension, resolved.metric or Metric.COSINE, layout=resolved)

    def _table(self, name: str) -> NativeTable:
        try:
            return self.tables[name]
        except KeyError:
            raise CollectionNotFoundError(f"no table {name!r}") from None

    # --- rows through the layout -----------------------------------------------------------------

    def _namespace_of(self, layout: Layout, row: Mapping[str, Any]) -> str:
        return DEFAULT_NAMESPACE if not layout.namespace else str(row[layout.namespace])

    def _record(self, spec: CollectionSpec, row: Mapping[str, Any], include_vectors: bool) -> Record:
        layout = spec.layout
        assert layout is not None and layout.id and layout.vector
        kinds = self._table(spec.name).columns
        values: dict[str, Any] = {}
        for json_column in layout.metadata_keys_from or ():
            values.update(row.get(json_column) or {})
        for column, native_field in zip(kinds, layout.fields, strict=True):
            if native_field.role is FieldRole.METADATA:
                values[column] = row.get(column)
            elif native_field.role is FieldRole.UNFIT and row.get(column) is not None:
                layout.drops.add(column, native_field.note)
        vector = np.asarray(row[layout.vector], dtype=np.float32) if include_vectors else np.empty(0, np.float32)
        document = row.get(layout.document) if layout.document else None
        return Record(native_id(row[layout.id]), vector, layout.metadata_from(values), document)

    def _rows(self, spec: CollectionSpec, namespace: str) -> list[dict[str, Any]]:
        assert spec.layout is not None
        rows = [row for row in self._table(spec.name).rows if self._namespace_of(spec.layout, row) == namespace]
        return sorted(rows, key=lambda row: native_id(row[spec.layout.id]))  # type: ignore[union-attr]

    def _matching(self, spec: CollectionSpec, namespace: str, node: FilterNode | None) -> list[Record]:
        records = [self._record(spec, row, True) for row in self._rows(spec, namespace)]
        return [record for record in records if node is None or evaluate(node, record.metadata)]

    def _row(self, spec: CollectionSpec, namespace: str, record: Record) -> dict[str, Any]:
        layout = spec.layout
        assert layout is not None and layout.id and layout.vector
        columns = self._table(spec.name).columns
        row: dict[str, Any] = {
            layout.id: int(record.id) if columns[layout.id] in ("serial", "int") else record.id,
            layout.vector: list(np.asarray(record.vector, dtype=float)),
        }
        if layout.document:
            row[layout.document] = record.document
        if layout.namespace:
            row[layout.namespace] = namespace
        extra = {key: value for key, value in record.metadata.items() if key not in columns}
        row.update({key: value for key, value in record.metadata.items() if key in columns})
        if extra:
            if not layout.metadata_keys_from:
                raise InvalidRecordError(f"table {spec.name!r} has no column for {sorted(extra)}", record_id=record.id)
            row[layout.metadata_keys_from[0]] = extra
        return row

    # --- primitives: native specs here, vecbridge's own in the reference engine ------------------

    async def create_collection(self, spec: CollectionSpec) -> None:
        if spec.layout is None:
            return await super().create_collection(spec)
        if spec.name in self.tables:
            raise CollectionExistsError(f"table {spec.name!r} exists")
        layout = spec.layout
        columns = {layout.id or "id": "text", layout.vector or "embedding": f"vector({spec.dimension})"}
        if layout.document != "":
            columns[layout.document or "document"] = "text"
        if layout.namespace:
            columns[layout.namespace] = "varchar"
        columns["metadata"] = "jsonb"
        self.tables[spec.name] = NativeTable(columns, metric=spec.metric)

    async def list_namespaces(self, collection: CollectionSpec) -> list[str]:
        if collection.layout is None:
            return await super().list_namespaces(collection)
        table = self._table(collection.name)
        return sorted({self._namespace_of(collection.layout, row) for row in table.rows})

    async def upsert(self, collection: CollectionSpec, namespace: str, records: Sequence[Record]) -> None:
        if collection.layout is None:
            return await super().upsert(collection, namespace, records)
        assert collection.layout.writable
        rows = [self._row(collection, namespace, record) for record in records]
        table = self._table(collection.name)
        key = collection.layout.id
        replaced = {row[key] for row in rows}
        table.rows = [row for row in table.rows if row[key] not in replaced] + rows

    async def query(
        self,
        collection: CollectionSpec,
        namespace: str,
        vector: FloatArray,
        top_k: int,
        filter: Any | None,
        include_vectors: bool,
    ) -> list[Match]:
        if collection.layout is None:
            return await super().query(collection, namespace, vector, top_k, filter, include_vectors)
        records = self._matching(collection, namespace, filter)
        if not records:
            return []
        scores = exact_scores(collection.metric, np.stack([np.asarray(r.vector) for r in records]), vector)
        order = sorted(range(len(records)), key=lambda i: (-scores[i], records[i].id))[:top_k]
        return [
            Match(
                records[i].id,
                float(scores[i]),
                records[i].metadata,
                records[i].document,
                np.asarray(records[i].vector, dtype=np.float32) if include_vectors else None,
            )
            for i in order
        ]

    async def get(
        self, collection: CollectionSpec, namespace: str, ids: Sequence[str], include_vectors: bool
    ) -> list[Record]:
        if collection.layout is None:
            return await super().get(collection, namespace, ids, include_vectors)
        wanted = set(ids)
        key = collection.layout.id
        rows = [row for row in self._rows(collection, namespace) if native_id(row[key]) in wanted]
        return [self._record(collection, row, include_vectors) for row in rows]

    async def delete_ids(self, collection: CollectionSpec, namespace: str, ids: Sequence[str]) -> None:
        if collection.layout is None:
            return await super().delete_ids(collection, namespace, ids)
        self._delete(collection, namespace, set(ids))

    async def delete_where(self, collection: CollectionSpec, namespace: str, filter: Any | None) -> None:
        if collection.layout is None:
            return await super().delete_where(collection, namespace, filter)
        self._delete(collection, namespace, {r.id for r in self._matching(collection, namespace, filter)})

    def _delete(self, collection: CollectionSpec, namespace: str, ids: set[str]) -> None:
        layout = collection.layout
        assert layout is not None and layout.writable and layout.id
        table = self._table(collection.name)
        table.rows = [
            row
            for row in table.rows
            if not (self._namespace_of(layout, row) == namespace and native_id(row[layout.id]) in ids)
        ]

    async def count(self, collection: CollectionSpec, namespace: str, filter: Any | None) -> int:
        if collection.layout is None:
            return await super().count(collection, namespace, filter)
        return len(self._matching(collection, namespace, filter))

    async def scan(
        self,
        collection: CollectionSpec,
        namespace: str,
        cursor: str | None,
        page_size: int,
        filter: Any | None,
        include_vectors: bool,
    ) -> Page:
        if collection.layout is None:
            return await super().scan(collection, namespace, cursor, page_size, filter, include_vectors)
        after = None if cursor is None else decode_cursor(cursor, SCHEME, lambda state: isinstance(state, str))
        records = [r for r in self._matching(collection, namespace, filter) if after is None or r.id > after]
        page = records[:page_size]
        if not include_vectors:
            for record in page:
                record.vector = np.empty(0, np.float32)
        return Page(page, encode_cursor(page[-1].id) if len(records) > page_size else None)


def register() -> None:
    vecbridge.registry.register(SCHEME, NativeTablesAdapter, replace=True)


def document_embeddings(rows: int = 12, dimension: int = 4, metric: Metric | None = Metric.COSINE) -> NativeTable:
    """A table shaped like the article's ``document_embeddings`` (a small one), rows made here."""
    import datetime as dt

    rng = np.random.default_rng(7)
    table = NativeTable(
        {
            "id": "serial",
            "tenant_id": "varchar",
            "content": "text",
            "source_type": "varchar",
            "embedding": f"vector({dimension})",
            "metadata": "jsonb",
            "created_at": "timestamptz",
        },
        metric=metric,
    )
    for i in range(1, rows + 1):
        table.rows.append(
            {
                "id": i,
                "tenant_id": f"tenant-{i % 3}",
                "content": f"chunk {i} of a help article",
                "source_type": ("pdf", "web")[i % 2],
                "embedding": rng.standard_normal(dimension).tolist(),
                "metadata": {"page": i, "lang": "en", "tags": ["a", "b"], "extra": {"depth": 2}, "none": None},
                "created_at": dt.datetime(2026, 1, i, 12, 0, tzinfo=dt.UTC),
            }
        )
    return table

"""How a table's columns map onto the contract: a declared layout over what the catalog and the
presets imply (``docs/existing-data.md``). The id is the single-column primary key (text, varchar,
integer or uuid); the vector the only ``vector`` column; the document the only text column, or the
one among several with a well-known name (:data:`DOCUMENT_NAMES`); a json/jsonb column with a
well-known metadata name (:data:`METADATA_JSON_NAMES`) has its keys merged in; every other readable
column is a metadata key; no namespace unless declared; the metric is the ANN index's operator
class, else the preset's, else unknown. An ambiguous role is a ``LayoutError`` naming the candidates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from psycopg import sql

from vecbridge.layout import FieldRole, Layout, LayoutError, NativeField, conversion_note
from vecbridge.types import HNSW, IVF, CollectionSpec, Flat, IndexSpec, Metric
from vecbridge_pgvector import presets
from vecbridge_pgvector.catalog import INT_TYPES, JSON_TYPES, AnnIndex, Column, TableInfo

#: text columns taken as the document when there are several
DOCUMENT_NAMES = ("content", "document", "text", "page_content", "body", "chunk")
#: json/jsonb columns whose keys are merged into the metadata
METADATA_JSON_NAMES = ("metadata", "cmetadata", "metadata_", "meta", "langchain_metadata")


@dataclass(frozen=True, slots=True)
class NativeTable:
    """One native collection resolved through one layout: what reads select and writes fill."""

    name: str
    info: TableInfo
    layout: Layout
    id: Column
    vector: Column
    document: Column | None
    namespace: Column | None
    #: typed columns read as metadata keys
    metadata: tuple[Column, ...]
    #: JSON columns whose keys are merged in (a column's own key wins)
    merged: tuple[Column, ...]
    #: a predicate every read and write adds (LangChain's collection, LlamaIndex's newest row per node)
    scope: sql.Composable = field(default_factory=lambda: sql.SQL("true"))
    scope_params: tuple[Any, ...] = ()
    #: values every written row gets (LangChain's ``collection_id``)
    fixed: tuple[tuple[str, Any], ...] = ()
    #: the names of :attr:`metadata`, in order (read on every row)
    metadata_names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "metadata_names", tuple(c.name for c in self.metadata))

    @property
    def table(self) -> sql.Composed:
        return sql.SQL("{}.{}").format(sql.Identifier(self.info.schema), sql.Identifier(self.info.name))

    @property
    def preset(self) -> str | None:
        return self.layout.preset


def _index_spec(index: AnnIndex | None) -> IndexSpec:
    if index is None:
        return Flat()
    if index.method == "hnsw":
        return HNSW(m=index.options.get("m", 16), ef_construction=index.options.get("ef_construction", 64))
    return IVF(nlist=index.options.get("lists", 100))


def _pick(role: str, declared: str | None, candidates: Sequence[Column], info: TableInfo) -> Column | None:
    """The declared column (which must exist), the only candidate, or ``None`` when there is none;
    ``LayoutError`` naming the candidates when several could fill ``role``."""
    if declared is not None:
        if declared == "":
            return None
        column = info.column(declared)
        if column is None:
            raise LayoutError(
                f"table {info.name!r} has no column {declared!r} for {role}",
                role=role,
                candidates=[c.name for c in candidates],
            )
        return column
    if len(candidates) > 1:
        raise LayoutError(
            f"table {info.name!r} has several columns that could be the {role}",
            role=role,
            candidates=[c.name for c in candidates],
        )
    return candidates[0] if candidates else None


def resolve(info: TableInfo, name: str, declared: Layout) -> tuple[NativeTable, CollectionSpec]:
    """``info`` read through ``declared`` (keys declared win over inference); ``LayoutError`` when
    a role is ambiguous or a declared column does not fit."""
    preset = presets.preset(declared.preset) or presets.recognized(info.name, {c.name for c in info.columns})
    layout = declared.over(preset.layout) if preset is not None else declared
    if preset is not None and layout.preset is None:
        layout = Layout(preset=preset.name).over(layout)
    ignored = preset.ignored if preset is not None else frozenset()

    namespace = _pick("namespace", layout.namespace, [], info) if layout.namespace else None
    vector = _pick("vector", layout.vector, info.vectors, info)
    if vector is None or vector.base != "vector" or vector.array:
        raise LayoutError(f"table {info.name!r} has no vector column (pgvector's vector type) to read")
    key = [info.column(c) for c in info.primary_key if namespace is None or c != namespace.name]
    id_candidates = [c for c in info.columns if c.id_like and c.name not in ignored and c is not namespace]
    if layout.id is not None:
        id_column = _required(info, layout.id, "id")
    elif len(key) == 1 and key[0] is not None and key[0].id_like and key[0].name not in ignored:
        id_column = key[0]
    else:
        raise LayoutError(
            f"table {info.name!r} has no single-column primary key to use as the id",
            role="id",
            candidates=[c.name for c in id_candidates],
        )
    if not id_column.id_like:
        raise LayoutError(
            f"table {info.name!r}: the id column must be text, varchar, an integer or a uuid",
            role="id",
            candidates=[c.name for c in id_candidates],
        )
    taken = {id_column.name, vector.name} | ({namespace.name} if namespace is not None else set())
    texts = [c for c in info.columns if c.text_like and c.name not in taken and c.name not in ignored]
    if layout.document is None and len(texts) > 1:
        known = [c for c in texts if c.name in DOCUMENT_NAMES]
        texts = known if len(known) == 1 else texts
    document = _pick("document", layout.document, texts, info)
    if document is not None:
        taken.add(document.name)
    if layout.metadata_keys_from is not None:
        merged = tuple(_required(info, n, "metadata_keys_from") for n in layout.metadata_keys_from)
    else:
        merged = tuple(
            c for c in info.columns if c.name in METADATA_JSON_NAMES and c.base in JSON_TYPES and not c.array
        )
    for column in merged:
        if column.base not in JSON_TYPES or column.array:
            raise LayoutError(f"table {info.name!r}: {column.name!r} is not a json/jsonb column to merge keys from")
    taken |= {c.name for c in merged}
    if layout.metadata is not None:
        metadata = tuple(_required(info, n, "metadata") for n in layout.metadata)
        unfit = [c.name for c in metadata if not c.readable]
        if unfit:
            raise LayoutError(f"table {info.name!r}: column(s) {', '.join(unfit)} hold values with no contract form")
    else:
        metadata = tuple(
            c for c in info.columns if c.name not in taken and c.name not in ignored and c.readable and not c.generated
        )
    ann = info.ann.get(vector.name)
    metric = layout.metric
    if declared.metric is None and ann is not None and ann.metric is not None:
        metric = ann.metric
    resolved = replace(  # every key resolved; keys this module does not read (integers) kept as declared
        layout,
        id=id_column.name,
        vector=vector.name,
        document=document.name if document is not None else "",
        metadata_keys_from=tuple(c.name for c in merged),
        namespace=namespace.name if namespace is not None else None,
        metric=metric,
        fields=_fields(info, (id_column, vector, document, namespace), metadata, merged, ignored),
        drops=declared.drops,  # the caller's, never a preset's (module-wide) counter
    )
    table = NativeTable(name, info, resolved, id_column, vector, document, namespace, metadata, merged)
    spec = CollectionSpec(
        name=name,
        dimension=vector.dimension or 0,
        metric=metric or Metric.COSINE,
        index=_index_spec(ann),
        layout=resolved,
    )
    return table, spec


def _required(info: TableInfo, name: str, option: str) -> Column:
    column = info.column(name)
    if column is None:
        raise LayoutError(
            f"table {info.name!r} has no column {name!r} ({option})",
            role=option,
            candidates=[c.name for c in info.columns],
        )
    return column


def _fields(
    info: TableInfo,
    roles: tuple[Column, Column, Column | None, Column | None],
    metadata: tuple[Column, ...],
    merged: tuple[Column, ...],
    ignored: frozenset[str],
) -> tuple[NativeField, ...]:
    """Every column with what it became: ``roles`` are the id, vector, document and namespace columns."""
    id_column, vector, document, namespace = roles
    fields = []
    for column in info.columns:
        note = ""
        if column is id_column:
            role = FieldRole.ID
            if column.base in INT_TYPES or column.base == "uuid":
                note = "converted: decimal string" if column.base in INT_TYPES else "converted: canonical UUID string"
        elif column is vector:
            role = FieldRole.VECTOR
        elif column is document:
            role = FieldRole.DOCUMENT
        elif column is namespace:
            role, note = FieldRole.NAMESPACE, "values are namespace names"
            if not column.not_null:
                note += "; rows where it is NULL are in none"
        elif column in merged:
            rules = ["keys merged into the metadata", conversion_note(column.type), "a JSON null: the key is absent"]
            role, note = FieldRole.METADATA_KEYS, "; ".join(rule for rule in rules if rule)
        elif column in metadata:
            rules = [conversion_note(column.type), "" if column.not_null else "NULL: the key is absent"]
            role, note = FieldRole.METADATA, "; ".join(rule for rule in rules if rule)
        elif column.name in ignored:
            role, note = FieldRole.IGNORED, "the framework's own bookkeeping, not metadata"
        elif not column.readable:
            role, note = FieldRole.UNFIT, f"{column.type} has no contract form; not read"
        elif column.generated:
            role, note = FieldRole.IGNORED, "a generated column: derived, not metadata"
        else:
            role, note = FieldRole.IGNORED, "not in the declared metadata"
        fields.append(NativeField(column.name, column.type, role, note.rstrip("; ")))
    return tuple(fields)

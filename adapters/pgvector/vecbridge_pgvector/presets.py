"""The tables LangChain and LlamaIndex write on PostgreSQL, as layouts (read from the packages' source).

* ``langchain``: langchain-postgres' ``PGVector`` (``vectorstores.py``): every collection shares
  ``langchain_pg_embedding`` (``id`` VARCHAR primary key, unique across all collections,
  ``collection_id`` UUID -> ``langchain_pg_collection.uuid``, ``embedding vector(n)``, ``document``
  VARCHAR, ``cmetadata`` JSONB); ``langchain_pg_collection`` holds one row per collection (``uuid``,
  ``name`` unique, ``cmetadata`` JSON). The vecbridge collection is the LangChain collection, by
  name; metadata are the ``cmetadata`` keys. The metric is stored nowhere (PGVector takes it per
  instance, cosine by default): the preset says cosine unless an index or the caller says otherwise.
* ``langchain-v2``: langchain-postgres' ``PGVectorStore`` (``v2/engine.py``): one table per store,
  ``langchain_id`` UUID primary key, ``content`` TEXT NOT NULL, ``embedding vector(n) NOT NULL``,
  optional typed metadata columns, the other keys in ``langchain_metadata`` JSON; cosine by default.
* ``llamaindex``: llama-index-vector-stores-postgres (``base.py``): table ``data_<name>`` with a
  BIGINT surrogate ``id`` (ignored), ``node_id`` VARCHAR as the record id (not unique: LlamaIndex
  inserts without a key, so a node added twice has two rows; reads take the row with the highest
  surrogate id, and an upsert deletes a node's rows before inserting it), ``text`` VARCHAR NOT NULL,
  ``metadata_`` JSON (JSONB with ``use_jsonb``) whose keys are the metadata, LlamaIndex's own
  ``_node_content``, ``_node_type``, ``doc_id``, ``ref_doc_id``, ``document_id`` included verbatim so
  LlamaIndex can read the nodes back after a migration; ``embedding vector(n)``; cosine.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from vecbridge.layout import Layout
from vecbridge.types import HNSW, IVF, CollectionSpec, Metric

LANGCHAIN = "langchain"
LANGCHAIN_V2 = "langchain-v2"
LLAMAINDEX = "llamaindex"
NATIVE = "native"
PRESETS = (LANGCHAIN, LANGCHAIN_V2, LLAMAINDEX, NATIVE)

LANGCHAIN_COLLECTIONS = "langchain_pg_collection"
LANGCHAIN_EMBEDDINGS = "langchain_pg_embedding"
LLAMAINDEX_PREFIX = "data_"


@dataclass(frozen=True, slots=True)
class Preset:
    """A framework's table shape: the layout it implies and the columns that are the framework's
    own bookkeeping (never metadata)."""

    name: str
    layout: Layout
    #: columns of the framework's own (a surrogate key, a derived search column): role "ignored"
    ignored: frozenset[str] = frozenset()
    #: the columns whose presence recognizes the shape
    signature: frozenset[str] = frozenset()

    def table_name(self, collection: str) -> str:
        """The table holding ``collection`` (LangChain's shared table; LlamaIndex's ``data_<name>``)."""
        if self.name == LANGCHAIN:
            return LANGCHAIN_EMBEDDINGS
        if self.name == LLAMAINDEX:
            return LLAMAINDEX_PREFIX + collection.lower()
        return collection

    def recognizes(self, columns: set[str]) -> bool:
        return bool(self.signature) and self.signature <= columns


_PRESETS = {
    LANGCHAIN: Preset(
        LANGCHAIN,
        Layout(
            preset=LANGCHAIN,
            id="id",
            vector="embedding",
            document="document",
            metadata=(),
            metadata_keys_from=("cmetadata",),
            metric=Metric.COSINE,
        ),
        ignored=frozenset({"collection_id"}),
        signature=frozenset({"id", "collection_id", "embedding", "document", "cmetadata"}),
    ),
    LANGCHAIN_V2: Preset(
        LANGCHAIN_V2,
        Layout(
            preset=LANGCHAIN_V2,
            id="langchain_id",
            vector="embedding",
            document="content",
            metadata_keys_from=("langchain_metadata",),
            metric=Metric.COSINE,
        ),
        ignored=frozenset({"content_tsv"}),
        signature=frozenset({"langchain_id", "content", "embedding"}),
    ),
    LLAMAINDEX: Preset(
        LLAMAINDEX,
        Layout(
            preset=LLAMAINDEX,
            id="node_id",
            vector="embedding",
            document="text",
            metadata=(),
            metadata_keys_from=("metadata_",),
            metric=Metric.COSINE,
        ),
        ignored=frozenset({"id", "text_search_tsv"}),
        signature=frozenset({"id", "node_id", "text", "metadata_", "embedding"}),
    ),
    NATIVE: Preset(NATIVE, Layout(preset=NATIVE)),
}


def preset(name: str | None) -> Preset | None:
    """The preset called ``name``; ``LayoutError`` names the known ones."""
    if name is None:
        return None
    from vecbridge.layout import LayoutError

    found = _PRESETS.get(name)
    if found is None:
        raise LayoutError(f"pgvector knows no layout preset {name!r}; known: {', '.join(PRESETS)}")
    return found


def recognized(table: str, columns: set[str]) -> Preset | None:
    """The framework preset a table's name and columns match, if any (LangChain's shared table is
    found by name, elsewhere)."""
    if table.startswith(LLAMAINDEX_PREFIX) and _PRESETS[LLAMAINDEX].recognizes(columns):
        return _PRESETS[LLAMAINDEX]
    if _PRESETS[LANGCHAIN_V2].recognizes(columns):
        return _PRESETS[LANGCHAIN_V2]
    return None


def _ann_index(
    name: str, table: sql.Composable, spec: CollectionSpec, opclass: str, vector: str = "embedding"
) -> list[sql.Composed]:
    """The ANN index ``spec.index`` asks for on the ``vector`` column, if any."""
    index = spec.index
    if isinstance(index, HNSW):
        method, options = "hnsw", f"m = {int(index.m)}, ef_construction = {int(index.ef_construction)}"
    elif isinstance(index, IVF):
        method, options = "ivfflat", f"lists = {int(index.nlist)}"
    else:
        return []
    return [
        sql.SQL("CREATE INDEX {} ON {} USING {} ({} {}) WITH ({})").format(
            sql.Identifier(name), table, sql.SQL(method), sql.Identifier(vector), sql.SQL(opclass), sql.SQL(options)
        )
    ]


def create_statements(name: str, schema: str, spec: CollectionSpec, opclass: str, layout: Layout) -> list[sql.Composed]:
    """DDL creating the table ``spec`` names in ``layout``'s shape (LangChain's shared tables are
    created where missing, with an untyped ``VECTOR`` column as PGVector makes them by default, so
    collections of other dimensions can share them; the collection row is the caller's)."""
    found = preset(layout.preset)
    dimension = sql.Literal(int(spec.dimension))
    table_name = found.table_name(spec.name) if found is not None else spec.name
    table = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table_name))
    if found is not None and found.name == LANGCHAIN:
        collections = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(LANGCHAIN_COLLECTIONS))
        return [
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (uuid UUID NOT NULL, name VARCHAR NOT NULL, cmetadata JSON, "
                "PRIMARY KEY (uuid), UNIQUE (name))"
            ).format(collections),
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (id VARCHAR NOT NULL, collection_id UUID, embedding VECTOR, "
                "document VARCHAR, cmetadata JSONB, PRIMARY KEY (id), FOREIGN KEY (collection_id) "
                "REFERENCES {} (uuid) ON DELETE CASCADE)"
            ).format(table, collections),
            sql.SQL("CREATE INDEX IF NOT EXISTS ix_cmetadata_gin ON {} USING gin (cmetadata jsonb_path_ops)").format(
                table
            ),
        ]
    if found is not None and found.name == LANGCHAIN_V2:
        return [
            sql.SQL(
                "CREATE TABLE {} (langchain_id UUID PRIMARY KEY, content TEXT NOT NULL, "
                "embedding vector({}) NOT NULL, langchain_metadata JSON)"
            ).format(table, dimension),
            *_ann_index(f"{table_name}langchainvectorindex", table, spec, opclass),
        ]
    if found is not None and found.name == LLAMAINDEX:
        index_name = spec.name.lower()
        return [
            sql.SQL(
                "CREATE TABLE {} (id BIGSERIAL NOT NULL, text VARCHAR NOT NULL, metadata_ JSON, node_id VARCHAR, "
                "embedding VECTOR({}), PRIMARY KEY (id))"
            ).format(table, dimension),
            sql.SQL("CREATE INDEX {} ON {} ((metadata_ ->> 'ref_doc_id'))").format(
                sql.Identifier(f"{index_name}_idx_1"), table
            ),
            *_ann_index(f"{table_name}_embedding_idx", table, spec, opclass),
        ]
    return _plain_table(name, table, dimension, spec, opclass, layout)


def _plain_table(
    name: str, table: sql.Composable, dimension: sql.Composable, spec: CollectionSpec, opclass: str, layout: Layout
) -> list[sql.Composed]:
    """A plain table: the id (text, with the namespace column in the key when there is one), the
    vector, a text document column (``document`` unless the layout names another; none only when it
    declares ``"document": ""``, so records with documents still fit a layout that does not mention
    them), a jsonb column for the metadata, and the ANN index."""
    id_column = sql.Identifier(layout.id or "id")
    vector = layout.vector or "embedding"
    columns = []
    key = [id_column]
    if layout.namespace:
        columns.append(sql.SQL("{} text NOT NULL").format(sql.Identifier(layout.namespace)))
        key.insert(0, sql.Identifier(layout.namespace))
    columns.append(sql.SQL('{} text COLLATE "C" NOT NULL').format(id_column))
    columns.append(sql.SQL("{} vector({}) NOT NULL").format(sql.Identifier(vector), dimension))
    if layout.document != "":
        columns.append(sql.SQL("{} text").format(sql.Identifier(layout.document or "document")))
    json_column = (layout.metadata_keys_from or ("metadata",))[0]
    columns.append(sql.SQL("{} jsonb NOT NULL DEFAULT '{{}}'::jsonb").format(sql.Identifier(json_column)))
    columns.append(sql.SQL("PRIMARY KEY ({})").format(sql.SQL(", ").join(key)))
    statements = [sql.SQL("CREATE TABLE {} ({})").format(table, sql.SQL(", ").join(columns))]
    return [*statements, *_ann_index(f"{name}_{vector}_idx", table, spec, opclass, vector)]

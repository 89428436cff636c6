"""Tables vecbridge did not create, read (and, when opted in, written) through a :class:`vecbridge.Layout`.

Discovery (``catalog.py``) reads ``pg_catalog`` only: a table of the adapter's schema with a
``vector`` column that is not vecbridge's (``vb_*``, the registry) is a native collection;
LangChain's shared ``langchain_pg_embedding`` is one collection per row of
``langchain_pg_collection``, listed by the LangChain collection's name; a LlamaIndex table
``data_<name>`` is listed as ``<name>`` (``presets.py``). ``inference.py`` maps the columns onto
the contract; filters compile in ``native_filters.py``. Reading never writes: every statement here
outside :meth:`NativeTables.create` and the write methods is a SELECT.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import psycopg
from psycopg import sql
from psycopg.types.json import Json, Jsonb

from vecbridge.errors import CollectionExistsError, CollectionNotFoundError, InvalidArgumentError, InvalidRecordError
from vecbridge.filters import FilterNode
from vecbridge.layout import FieldRole, Layout, LayoutError, NativeField, native_id
from vecbridge.types import DEFAULT_NAMESPACE, CollectionSpec, Match, Metric, Page, Record, SearchParams
from vecbridge.validation import NAMESPACE_NAME
from vecbridge_pgvector import presets
from vecbridge_pgvector.catalog import INT_TYPES, Column, TableInfo, read_tables
from vecbridge_pgvector.compat import vector_array
from vecbridge_pgvector.filters import SqlFilter
from vecbridge_pgvector.inference import NativeTable, resolve
from vecbridge_pgvector.metrics import OPCLASS, OPERATOR, SCORE_OFFSET
from vecbridge_pgvector.native_filters import (
    BIGINT,
    BOOL,
    FLOAT,
    NUMBER,
    TEXT,
    TEXT_ARRAY,
    NativeFilterCompiler,
    column_filter,
)
from vecbridge_pgvector.ranges import decode_range, key_quantiles, partition_cursors

if TYPE_CHECKING:
    from vecbridge_pgvector.adapter import PgvectorAdapter


class NativeTables:
    """Reads and writes of native collections for one :class:`PgvectorAdapter` (its pool, its schema)."""

    def __init__(self, adapter: PgvectorAdapter) -> None:
        self.adapter = adapter
        #: resolved tables by (collection, layout): specs reach the primitives with their layout, and
        #: filters compile (synchronously) against the table their spec was described from
        self._tables: dict[tuple[str, Layout], NativeTable] = {}
        #: dimensions of collections created here in a table whose vector column is untyped
        #: (LangChain's shared table): until it holds rows, nothing else says
        self._created: dict[str, int] = {}

    @property
    def schema(self) -> str:
        return self.adapter.schema

    # --- discovery -------------------------------------------------------------------------------

    async def list_collections(self) -> list[CollectionSpec]:
        async with self.adapter._connection("list native collections", transaction=False) as conn:
            tables = await read_tables(conn, self.schema)
            listed: list[tuple[TableInfo, str, Layout, Any]] = []
            for info in tables:
                if info.name.startswith("vb_") or info.name == presets.LANGCHAIN_EMBEDDINGS:
                    continue
                recognized = presets.recognized(info.name, {c.name for c in info.columns})
                name = info.name
                if recognized is not None and recognized.name == presets.LLAMAINDEX:
                    name = info.name[len(presets.LLAMAINDEX_PREFIX) :]
                listed.append((info, name, Layout(), None))
            embeddings = next((t for t in tables if t.name == presets.LANGCHAIN_EMBEDDINGS), None)
            if embeddings is not None:
                for collection_name, collection_id in await self._langchain_collections(conn, tables):
                    listed.append((embeddings, collection_name, Layout(preset=presets.LANGCHAIN), collection_id))
            return [await self._listed(conn, *entry) for entry in listed]

    async def _listed(
        self, conn: psycopg.AsyncConnection[Any], info: TableInfo, name: str, layout: Layout, collection_id: Any
    ) -> CollectionSpec:
        """The spec of one listed table; an ambiguous one is listed with the candidates in the notes."""
        try:
            table, spec = resolve(info, name, layout)
        except LayoutError as exc:
            vectors = info.vectors
            fields = tuple(
                NativeField(c.name, c.type, FieldRole.UNFIT if not c.readable else FieldRole.METADATA, str(exc))
                for c in info.columns
            )
            return CollectionSpec(
                name=name,
                dimension=vectors[0].dimension or 0 if vectors else 0,
                metric=Metric.COSINE,
                layout=Layout(fields=fields),
            )
        return await self._completed(conn, self._remembered(self._scoped(table, collection_id), spec))

    async def describe(self, name: str, declared: Layout) -> CollectionSpec:
        async with self.adapter._connection(f"describe native collection {name!r}", transaction=False) as conn:
            return await self._completed(conn, await self._resolve(conn, name, declared))

    async def _completed(
        self, conn: psycopg.AsyncConnection[Any], resolved: tuple[NativeTable, CollectionSpec]
    ) -> CollectionSpec:
        """What only the rows say: the dimension of an untyped ``vector`` column (LangChain's default),
        from its first row; LlamaIndex's older copies of repeated nodes."""
        table, spec = resolved
        if spec.dimension == 0:
            row = await (
                await conn.execute(
                    sql.SQL("SELECT vector_dims({v}) FROM {t} AS t WHERE {s} AND {v} IS NOT NULL LIMIT 1").format(
                        v=table.vector.ref, t=table.table, s=table.scope
                    ),
                    table.scope_params,
                )
            ).fetchone()
            spec = replace(spec, dimension=row[0] if row else self._created.get(spec.name, 0))
        table, spec = await self._unread_rows(conn, table, spec)
        if table.preset == presets.LLAMAINDEX:
            table, spec = await self._older_copies(conn, table, spec)
        return spec

    async def _unread_rows(
        self, conn: psycopg.AsyncConnection[Any], table: NativeTable, spec: CollectionSpec
    ) -> tuple[NativeTable, CollectionSpec]:
        """Rows no read returns, counted where a nullable column allows them: a row without a vector
        cannot be a record, a row without a namespace value is in no namespace. Each count is in
        the column's note (``info``, the plan) and in the layout's drops."""
        columns = [c for c in (table.vector, table.namespace) if c is not None and not c.not_null]
        if not columns:
            return table, spec
        statement = sql.SQL("SELECT {} FROM {} AS t WHERE {}").format(
            sql.SQL(", ").join(sql.SQL("count(*) FILTER (WHERE {} IS NULL)").format(c.ref) for c in columns),
            table.table,
            table.scope,
        )
        row = await (await conn.execute(statement, table.scope_params)).fetchone()
        unread = {c.name: int(n) for c, n in zip(columns, row or (), strict=False) if n}
        if not unread:
            return table, spec
        notes = {table.vector.name: ("rows without a vector are not read", "a row without a vector is not a record")}
        if table.namespace is not None:
            notes[table.namespace.name] = (
                "rows where it is NULL are in no namespace: not read",
                "NULL: in no namespace",
            )
        fields = tuple(
            replace(f, note=f"{unread[f.name]} {notes[f.name][0]}") if f.name in unread else f
            for f in table.layout.fields
        )
        layout = replace(table.layout, fields=fields)
        for name, count in unread.items():
            layout.drops.counts[name, notes[name][1]] += count
        table = replace(table, layout=layout)
        self._remember(table)
        return table, replace(spec, layout=layout)

    async def _older_copies(
        self, conn: psycopg.AsyncConnection[Any], table: NativeTable, spec: CollectionSpec
    ) -> tuple[NativeTable, CollectionSpec]:
        """LlamaIndex inserts a node added twice as a second row: reads take the newest; the older
        rows are counted in the layout's drops and named in the id field's note."""
        statement = sql.SQL("SELECT count(*) - count(DISTINCT {i}) FROM {t} AS t").format(i=table.id.ref, t=table.table)
        row = await (await conn.execute(statement)).fetchone()
        older = int(row[0]) if row else 0
        if not older:
            return table, spec
        reason = "an older row of a node stored again (LlamaIndex inserts without a key); the newest row is read"
        fields = tuple(
            replace(f, note=f"{older} older row(s) of repeated node ids are not read: the newest row wins")
            if f.role is FieldRole.ID
            else f
            for f in table.layout.fields
        )
        layout = replace(table.layout, fields=fields)
        layout.drops.counts[table.id.name, reason] += older
        table = replace(table, layout=layout)
        self._remember(table)
        return table, replace(spec, layout=layout)

    async def _resolve(
        self, conn: psycopg.AsyncConnection[Any], name: str, declared: Layout
    ) -> tuple[NativeTable, CollectionSpec]:
        """Find ``name`` (a table; a LangChain collection; a LlamaIndex ``data_<name>`` table) and resolve it."""
        preset = presets.preset(declared.preset)
        if preset is None or preset.name not in (presets.LANGCHAIN, presets.LLAMAINDEX):
            tables = await read_tables(conn, self.schema, name)
            if tables and not name.startswith("vb_") and name != presets.LANGCHAIN_EMBEDDINGS:
                return self._remembered(*resolve(tables[0], name, declared))
        if preset is None or preset.name == presets.LANGCHAIN:
            tables = await read_tables(conn, self.schema, presets.LANGCHAIN_EMBEDDINGS)
            collection_id = await self._langchain_collection_id(conn, name) if tables else None
            if collection_id is not None:
                table, spec = resolve(tables[0], name, Layout(preset=presets.LANGCHAIN).over(declared))
                return self._remembered(self._scoped(table, collection_id), spec)
        if preset is None or preset.name == presets.LLAMAINDEX:
            table_name = presets.LLAMAINDEX_PREFIX + name.lower()
            tables = await read_tables(conn, self.schema, table_name)
            if tables and (preset is not None or presets.recognized(table_name, {c.name for c in tables[0].columns})):
                table, spec = resolve(tables[0], name, Layout(preset=presets.LLAMAINDEX).over(declared))
                return self._remembered(self._scoped(table, None), spec)
        raise CollectionNotFoundError(f"collection {name!r} does not exist in schema {self.schema!r}")

    def _scoped(self, table: NativeTable, collection_id: Any) -> NativeTable:
        """LangChain's collection as a predicate on the shared table; LlamaIndex's newest row per node."""
        if table.preset == presets.LANGCHAIN:
            return replace(
                table,
                scope=sql.SQL("t.collection_id = %s"),
                scope_params=(collection_id,),
                fixed=(("collection_id", collection_id),),
            )
        if table.preset == presets.LLAMAINDEX:
            newest = sql.SQL(
                "NOT EXISTS (SELECT FROM {} AS newer WHERE newer.node_id = t.node_id AND newer.id > t.id)"
            ).format(table.table)
            return replace(table, scope=newest)
        return table

    def _remember(self, table: NativeTable) -> None:
        self._tables[table.name, table.layout] = table

    def _remembered(self, table: NativeTable, spec: CollectionSpec) -> tuple[NativeTable, CollectionSpec]:
        self._remember(table)
        return table, spec

    async def table(self, collection: CollectionSpec) -> NativeTable:
        """The resolved table behind ``collection`` (resolved again, read-only, if not remembered)."""
        assert collection.layout is not None
        found = self._tables.get((collection.name, collection.layout))
        if found is not None:
            return found
        async with self.adapter._connection(f"describe native collection {collection.name!r}", False) as conn:
            table, _ = await self._resolve(conn, collection.name, collection.layout)
        return table

    def cached(self, collection: CollectionSpec) -> NativeTable | None:
        assert collection.layout is not None
        return self._tables.get((collection.name, collection.layout))

    async def _langchain_collections(
        self, conn: psycopg.AsyncConnection[Any], tables: list[TableInfo]
    ) -> list[tuple[str, Any]]:
        if not any(t.name == presets.LANGCHAIN_EMBEDDINGS for t in tables) or not await self._exists(
            conn, presets.LANGCHAIN_COLLECTIONS
        ):
            return []
        statement = sql.SQL("SELECT name, uuid FROM {}.{} ORDER BY name").format(
            sql.Identifier(self.schema), sql.Identifier(presets.LANGCHAIN_COLLECTIONS)
        )
        return [(row[0], row[1]) for row in await (await conn.execute(statement)).fetchall()]

    async def _langchain_collection_id(self, conn: psycopg.AsyncConnection[Any], name: str) -> Any:
        """The uuid of LangChain's collection ``name``; ``None`` when there is none (or no LangChain table)."""
        if not await self._exists(conn, presets.LANGCHAIN_COLLECTIONS):
            return None
        statement = sql.SQL("SELECT uuid FROM {}.{} WHERE name = %s").format(
            sql.Identifier(self.schema), sql.Identifier(presets.LANGCHAIN_COLLECTIONS)
        )
        row = await (await conn.execute(statement, (name,))).fetchone()
        return row[0] if row else None

    async def _exists(self, conn: psycopg.AsyncConnection[Any], table: str) -> bool:
        """Whether the schema has ``table``: asked first, so no failed statement aborts a caller's transaction."""
        statement = "SELECT to_regclass(format('%%I.%%I', %s::text, %s::text)) IS NOT NULL"
        row = await (await conn.execute(statement, (self.schema, table))).fetchone()
        return bool(row and row[0])

    # --- filters ---------------------------------------------------------------------------------

    def compile_filter(self, node: FilterNode, collection: CollectionSpec) -> SqlFilter:
        table = self.cached(collection)
        if table is None:
            raise InvalidArgumentError(f"collection {collection.name!r} was not described on this connection")
        columns = {c.name: column_filter(c) for c in table.metadata}
        json_expression: sql.Composable | None = None
        if len(table.merged) == 1:
            json_expression = sql.SQL("COALESCE({}::jsonb, '{{}}'::jsonb)").format(table.merged[0].ref)
        elif len(table.merged) > 1:
            json_expression = sql.SQL("({})").format(
                sql.SQL(" || ").join(
                    sql.SQL("COALESCE({}::jsonb, '{{}}'::jsonb)").format(c.ref) for c in reversed(table.merged)
                )
            )
        return NativeFilterCompiler(columns, json_expression).compile(node)

    # --- reads -----------------------------------------------------------------------------------

    def _select(self, table: NativeTable, include_vectors: bool) -> sql.Composable:
        columns = [table.id.ref, table.document.ref if table.document else sql.SQL("NULL")]
        columns.append(table.vector.ref if include_vectors else sql.SQL("NULL"))
        columns += [c.ref for c in (*table.merged, *table.metadata)]
        return sql.SQL(", ").join(columns)

    def _where(
        self, table: NativeTable, namespace: str, filter: SqlFilter | None, vectorless: bool = False
    ) -> tuple[sql.Composable, tuple[Any, ...]]:
        """The rows of ``namespace`` matching ``filter`` that reads see: never a row without a
        vector (it cannot be a record; :meth:`_unread_rows` counts them), unless ``vectorless``."""
        parts: list[sql.Composable] = [table.scope]
        if not vectorless and not table.vector.not_null:
            parts.append(sql.SQL("{} IS NOT NULL").format(table.vector.ref))
        params: list[Any] = list(table.scope_params)
        if table.namespace is not None:
            parts.append(sql.SQL("{}::text = %s").format(table.namespace.ref))
            params.append(namespace)
        elif namespace != DEFAULT_NAMESPACE:
            parts.append(sql.SQL("false"))
        if filter is not None:
            parts.append(sql.SQL("({})").format(filter.clause))
            params += filter.params
        return sql.SQL(" AND ").join(parts), tuple(params)

    def _record(self, table: NativeTable, row: Sequence[Any], include_vectors: bool) -> Record:
        values: dict[str, object] = {}
        start = 3 + len(table.merged)
        for position, merged in enumerate(row[3:start]):
            if isinstance(merged, dict):
                values.update(merged)
            elif merged is not None:  # a JSON array or scalar has no keys to merge: said, not dropped silently
                table.layout.drops.add(table.merged[position].name, "not a JSON object: no keys to merge")
        values.update(zip(table.metadata_names, row[start:], strict=True))  # a column wins over a JSON key
        record_id = native_id(row[0])
        vector = vector_array(row[2]) if include_vectors else np.zeros(0, dtype=np.float32)
        metadata = table.layout.metadata_from(values, record_id)
        return Record(id=record_id, vector=vector, metadata=metadata, document=row[1])

    def _id_values(self, table: NativeTable, ids: Iterable[str]) -> list[Any]:
        """Contract ids as the id column's values (ids that cannot be one match nothing)."""
        if table.id.base in INT_TYPES:
            return [int(i) for i in ids if _is_int(i)]
        if table.id.base == "uuid":
            return [u for u in (_uuid(i) for i in ids) if u is not None]
        return list(ids)

    async def get(
        self, collection: CollectionSpec, namespace: str, ids: Sequence[str], include_vectors: bool
    ) -> list[Record]:
        table = await self.table(collection)
        where, params = self._where(table, namespace, None)
        statement = sql.SQL("SELECT {} FROM {} AS t WHERE {} AND {} = ANY(%s)").format(
            self._select(table, include_vectors), table.table, where, table.id.ref
        )
        async with self.adapter._connection(f"get from {collection.name!r}", transaction=False) as conn:
            rows = await (await conn.execute(statement, (*params, self._id_values(table, ids)), binary=True)).fetchall()
        return [self._record(table, row, include_vectors) for row in rows]

    async def count(self, collection: CollectionSpec, namespace: str, filter: SqlFilter | None) -> int:
        table = await self.table(collection)
        where, params = self._where(table, namespace, filter)
        statement = sql.SQL("SELECT count(*) FROM {} AS t WHERE {}").format(table.table, where)
        async with self.adapter._connection(f"count {collection.name!r}", transaction=False) as conn:
            row = await (await conn.execute(statement, params)).fetchone()
        return int(row[0]) if row else 0

    async def scan(
        self,
        collection: CollectionSpec,
        namespace: str,
        cursor: str | None,
        page_size: int,
        filter: SqlFilter | None,
        include_vectors: bool,
    ) -> Page:
        """Keyset pages in the id column's own order (its primary-key index serves it)."""
        table = await self.table(collection)
        where, params = self._where(table, namespace, filter)
        key = table.id.ref
        scope = decode_range(cursor)
        bounds, bound_params = scope.clause(key, _uuid if table.id.base == "uuid" else lambda last: last)
        statement = sql.SQL("SELECT {} FROM {} AS t WHERE {} ORDER BY {} LIMIT %s").format(
            self._select(table, include_vectors), table.table, sql.SQL(" AND ").join([where, *bounds]), key
        )
        async with self.adapter._connection(f"scan {collection.name!r}", transaction=False) as conn:
            rows = await (
                await conn.execute(statement, (*params, *bound_params, page_size + 1), binary=True)
            ).fetchall()
        records = [self._record(table, row, include_vectors) for row in rows[:page_size]]
        next_cursor = None
        if len(rows) > page_size:
            last_key = rows[page_size - 1][0]
            next_cursor = scope.after(last_key if isinstance(last_key, int | str) else str(last_key))
        return Page(records, next_cursor)

    async def partitions(self, collection: CollectionSpec, namespace: str, count: int) -> list[str | None]:
        """Ranges of the id column between its quantiles, in its own order (the scan's)."""
        table = await self.table(collection)
        where, params = self._where(table, namespace, None)
        async with self.adapter._connection(f"partition {collection.name!r}", transaction=False) as conn:
            bounds = await key_quantiles(conn, table.id.ref, table.table, where, params, count)
        return partition_cursors(bounds)

    async def query(
        self,
        collection: CollectionSpec,
        namespace: str,
        vector: Any,
        top_k: int,
        filter: SqlFilter | None,
        include_vectors: bool,
        search: SearchParams | None = None,
    ) -> list[Match]:
        """Exact top-k by the layout's metric: an HNSW or IVF scan with iterative scanning
        (``strict_order`` / ``relaxed_order``, as the adapter's session defaults set them), and an
        exact rerun when the index stops short; a metric without an index of its operator class
        scans exactly. ``search`` as in the adapter's ``query`` (``exact``: no index scan)."""
        table = await self.table(collection)
        assert collection.layout is not None
        metric = collection.layout.require_metric(collection.name)
        where, params = self._where(table, namespace, filter)
        statement = sql.SQL(
            "SELECT * FROM (SELECT {columns}, {v} {op} %s AS distance FROM {t} AS t WHERE {where} "
            "ORDER BY distance LIMIT {k}) AS hits ORDER BY distance"
        ).format(
            columns=self._select(table, include_vectors),
            v=table.vector.ref,
            op=sql.SQL(OPERATOR[metric]),
            t=table.table,
            where=where,
            k=sql.Literal(int(top_k)),
        )
        arguments = (vector, *params)
        index = table.info.ann.get(table.vector.name)
        hnsw = index is not None and index.method == "hnsw"
        settings = self.adapter._search_settings(collection, top_k, search) if index is not None else None
        async with self.adapter._connection(f"query {collection.name!r}", transaction=False) as conn:
            if search is not None and search.exact:
                rows = await self.adapter._exact(conn, statement.as_bytes(conn), arguments, fallback=False)
            else:
                rows = await self.adapter._search(
                    conn, statement.as_bytes(conn), arguments, settings, True if hnsw else None
                )
            if len(rows) < top_k:
                rows = max(rows, await self.adapter._exact(conn, statement.as_bytes(conn), arguments), key=len)
        offset = SCORE_OFFSET[metric]
        matches = []
        for row in rows:
            record = self._record(table, row[:-1], False)
            found = vector_array(row[2]) if include_vectors else None
            matches.append(Match(record.id, offset - row[-1], record.metadata, record.document, found))
        return matches

    async def list_namespaces(self, collection: CollectionSpec) -> list[str]:
        table = await self.table(collection)
        if table.namespace is None:
            return [DEFAULT_NAMESPACE] if await self.count(collection, DEFAULT_NAMESPACE, None) else []
        statement = sql.SQL(
            "SELECT DISTINCT {n}::text FROM {t} AS t WHERE {s} AND {n} IS NOT NULL AND {v} IS NOT NULL"
        ).format(n=table.namespace.ref, t=table.table, s=table.scope, v=table.vector.ref)
        async with self.adapter._connection(f"list namespaces of {collection.name!r}", transaction=False) as conn:
            values = [row[0] for row in await (await conn.execute(statement, table.scope_params)).fetchall()]
        invalid = [v for v in values if not NAMESPACE_NAME.fullmatch(v)]
        if invalid:
            raise LayoutError(
                f"collection {collection.name!r}: values of the namespace column {table.namespace.name!r} that are "
                f"not namespace names ([A-Za-z0-9][A-Za-z0-9_.-]{{0,63}}): {', '.join(map(repr, sorted(invalid)[:10]))}"
            )
        return sorted(values)

    # --- writes (layout.writable; the core refuses them otherwise) --------------------------------

    async def create(self, conn: psycopg.AsyncConnection[Any], spec: CollectionSpec) -> None:
        """Create ``spec`` in its layout's shape, in the caller's transaction; LangChain's shared
        tables where missing and the collection's row, as langchain-postgres writes them."""
        layout = spec.layout
        assert layout is not None
        preset = presets.preset(layout.preset)
        name = preset.table_name(spec.name) if preset is not None else spec.name
        if preset is not None and preset.name == presets.LANGCHAIN:
            if await self._langchain_collection_id(conn, spec.name) is not None:
                raise CollectionExistsError(f"LangChain collection {spec.name!r} already exists")
        elif await self._exists(conn, name):
            raise CollectionExistsError(f"table {name!r} already exists in schema {self.schema!r}")
        for statement in presets.create_statements(name, self.schema, spec, OPCLASS[spec.metric], layout):
            await conn.execute(statement)
        if preset is not None and preset.name == presets.LANGCHAIN:
            self._created[spec.name] = spec.dimension
            await conn.execute(
                sql.SQL("INSERT INTO {}.{} (uuid, name, cmetadata) VALUES (%s, %s, NULL)").format(
                    sql.Identifier(self.schema), sql.Identifier(presets.LANGCHAIN_COLLECTIONS)
                ),
                (uuid.uuid4(), spec.name),
            )

    def _key(self, table: NativeTable) -> list[Column]:
        return [table.namespace, table.id] if table.namespace is not None else [table.id]

    def _row(self, table: NativeTable, namespace: str, record: Record) -> list[Any]:
        """The parameters of one record's row, in :meth:`_written` order; ``InvalidRecordError``
        when a value has no place (no column, no JSON column) or does not fit its column."""
        row: list[Any] = []
        if table.namespace is not None:
            row.append(namespace)
        ids = self._id_values(table, [record.id])
        if not ids:
            raise InvalidRecordError(f"not a value of the id column ({table.id.type})", record_id=record.id)
        row.append(ids[0])
        row.append(np.asarray(record.vector, dtype=np.float32))
        if table.document is not None:
            if record.document is None and table.document.not_null and table.document.default is None:
                raise InvalidRecordError(
                    f"{table.info.name!r} needs a document (column {table.document.name!r} is NOT NULL)",
                    record_id=record.id,
                )
            row.append(record.document)
        elif record.document is not None:
            raise InvalidRecordError(f"{table.info.name!r} has no document column", record_id=record.id)
        columns = {c.name: c for c in table.metadata}
        rest: dict[str, object] = {}
        for key, value in record.metadata.items():
            column = columns.get(key)
            if column is not None:
                continue
            if not table.merged:
                raise InvalidRecordError(
                    f"{table.info.name!r} has no column {key!r} and no JSON column for other keys",
                    record_id=record.id,
                    field=key,
                )
            rest[key] = value
        for column in table.metadata:
            given = record.metadata.get(column.name)
            if given is None and column.not_null and column.default is None:
                raise InvalidRecordError(f"column {column.name!r} is NOT NULL", record_id=record.id, field=column.name)
            row.append(None if given is None else _check_value(table, column, given, record.id))
        if table.merged:
            row.append(_json_param(table.merged[0], rest))
        row += [value for _, value in table.fixed]
        return row

    def _written(self, table: NativeTable) -> list[tuple[str, sql.Composable]]:
        """(column, placeholder) of every written column, in :meth:`_row` order. A NOT NULL column
        with a default (``created_at ... DEFAULT now()``) takes its default where the record has no
        value: NULL cannot be stored there, and the default is what the application would write."""
        columns = [*self._key(table), table.vector]
        if table.document is not None:
            columns.append(table.document)
        columns += table.metadata
        written: list[tuple[str, sql.Composable]] = [
            (
                c.name,
                sql.SQL("COALESCE(%s::{}, {})").format(sql.SQL(c.type), sql.SQL(c.default.replace("%", "%%")))
                if c.not_null and c.default is not None
                else sql.SQL("%s::{}").format(sql.SQL(c.type)),
            )
            for c in columns
        ]
        written[len(self._key(table))] = (table.vector.name, sql.SQL("%s"))
        if table.merged:
            written.append((table.merged[0].name, sql.SQL("%s")))
        written += [(name, sql.SQL("%s")) for name, _ in table.fixed]
        return written

    async def upsert(
        self, collection: CollectionSpec, namespace: str, batches: AsyncIterator[Sequence[Record]]
    ) -> None:
        """Whole records, all batches in one transaction: ``INSERT ... ON CONFLICT (key) DO UPDATE``
        on the table's primary key when it is the id (with the namespace column or not); else
        (LlamaIndex's ``node_id``) the ids' rows are deleted, then inserted. When the key is the id
        alone but the collection is part of the table (a namespace column, LangChain's collection),
        an id another part holds is refused: updating it would move a record between them."""
        table = await self.table(collection)
        if table.namespace is None and namespace != DEFAULT_NAMESPACE:
            raise InvalidArgumentError(
                f"collection {collection.name!r} has no namespace column: its one namespace is {DEFAULT_NAMESPACE!r}"
            )
        written = self._written(table)
        names = sql.SQL(", ").join(sql.Identifier(name) for name, _ in written)
        values = sql.SQL(", ").join(placeholder for _, placeholder in written)
        key = self._key(table)
        primary = set(table.info.primary_key)
        keyed = primary in ({c.name for c in key}, {table.id.name})
        shared = primary == {table.id.name} and (table.namespace is not None or bool(table.fixed))
        insert = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(table.table, names, values)
        if keyed:
            updates = [sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(n)) for n, _ in written[len(key) :]]
            insert = sql.SQL("{} ON CONFLICT ({}) DO UPDATE SET {}").format(
                insert,
                sql.SQL(", ").join(sql.Identifier(name) for name in table.info.primary_key),
                sql.SQL(", ").join(updates),
            )
        async with self.adapter._connection(f"upsert into {collection.name!r}") as conn:
            async for batch in batches:
                rows = [self._row(table, namespace, record) for record in batch]
                ids = [row[len(key) - 1] for row in rows]
                if shared:
                    await self._refuse_foreign_ids(conn, table, namespace, ids)
                if not keyed:
                    await self._delete(conn, table, namespace, None, ids, every_row=True)
                async with conn.cursor() as cursor:
                    await cursor.executemany(insert, rows)

    async def _refuse_foreign_ids(
        self, conn: psycopg.AsyncConnection[Any], table: NativeTable, namespace: str, ids: list[Any]
    ) -> None:
        where, params = self._where(table, namespace, None, vectorless=True)
        statement = sql.SQL("SELECT t.{i} FROM {t} AS t WHERE t.{i} = ANY(%s) AND NOT ({w}) LIMIT 10").format(
            i=sql.Identifier(table.id.name), t=table.table, w=where
        )
        taken = [row[0] for row in await (await conn.execute(statement, (ids, *params))).fetchall()]
        if taken:
            raise InvalidRecordError(
                f"id(s) {', '.join(map(str, taken))} belong to another collection or namespace of the table "
                f"{table.info.name!r}, whose key is the id alone",
                record_id=str(taken[0]),
            )

    async def _delete(
        self,
        conn: psycopg.AsyncConnection[Any],
        table: NativeTable,
        namespace: str,
        filter: SqlFilter | None,
        ids: list[Any] | None,
        every_row: bool = False,
    ) -> None:
        """Delete the records the read path sees matching ``filter`` / ``ids``, with every row of
        their key (LlamaIndex's older copies of a node too)."""
        where, params = self._where(table, namespace, filter)
        if every_row:  # before re-inserting: older copies included, whatever the read scope says
            where = sql.SQL("true") if not table.fixed else sql.SQL("t.collection_id = %s")
            params = table.scope_params if table.fixed else ()
            if table.namespace is not None:
                where = sql.SQL("{} AND {}::text = %s").format(where, table.namespace.ref)
                params = (*params, namespace)
        if ids is not None:
            where = sql.SQL("{} AND {} = ANY(%s)").format(where, table.id.ref)
            params = (*params, ids)
        key = sql.SQL(", ").join(sql.Identifier(c.name) for c in self._key(table))
        statement = sql.SQL("DELETE FROM {t} WHERE ({k}) IN (SELECT {tk} FROM {t} AS t WHERE {w})").format(
            t=table.table, k=key, tk=sql.SQL(", ").join(c.ref for c in self._key(table)), w=where
        )
        await conn.execute(statement, params)

    async def delete_ids(self, collection: CollectionSpec, namespace: str, ids: Sequence[str]) -> None:
        table = await self.table(collection)
        async with self.adapter._connection(f"delete from {collection.name!r}") as conn:
            await self._delete(conn, table, namespace, None, self._id_values(table, ids))

    async def delete_where(self, collection: CollectionSpec, namespace: str, filter: SqlFilter | None) -> None:
        table = await self.table(collection)
        async with self.adapter._connection(f"delete from {collection.name!r}") as conn:
            await self._delete(conn, table, namespace, filter, None)


def _is_int(value: str) -> bool:
    try:
        return abs(int(value)) < 2**63 and str(int(value)) == value
    except ValueError:
        return False


def _uuid(value: object) -> uuid.UUID | None:
    try:
        parsed = uuid.UUID(str(value))
    except ValueError:
        return None
    return parsed if str(parsed) == value else None


def _check_value(table: NativeTable, column: Column, value: object, record_id: str) -> object:
    """``value`` (a contract value) as a parameter for ``column``, or ``InvalidRecordError`` before any write."""
    kind = column_filter(column).kind
    fits = {
        TEXT: isinstance(value, str),
        BOOL: isinstance(value, bool),
        NUMBER: isinstance(value, int) and not isinstance(value, bool),
        BIGINT: (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, str) and _is_int(value)),
        FLOAT: isinstance(value, int | float) and not isinstance(value, bool),
        TEXT_ARRAY: isinstance(value, list),
    }.get(kind or "")
    if fits is None:  # a converted column: its contract value is a string PostgreSQL parses back
        fits = isinstance(value, str) or (column.base == "numeric" and isinstance(value, int | float))
        fits = fits and not isinstance(value, bool)
    if not fits:
        raise InvalidRecordError(
            f"{type(value).__name__} does not fit column {column.name!r} ({column.type}) of {table.info.name!r}",
            record_id=record_id,
            field=column.name,
        )
    return value


def _json_param(column: Column, value: dict[str, object]) -> Json | Jsonb:
    from vecbridge_pgvector.adapter import metadata_json  # the adapter imports this module

    wrapper = Jsonb if column.base == "jsonb" else Json
    return wrapper(value, dumps=metadata_json)

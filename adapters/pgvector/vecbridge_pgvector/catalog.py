"""What ``pg_catalog`` says about a table: its columns (type, array, NOT NULL, default, generated),
its primary key, and the ANN indexes on its vector columns (method, operator class, options).
Only SELECTs on the catalog: discovering a table never writes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from vecbridge.types import Metric
from vecbridge_pgvector.metrics import OPCLASS

TEXT_TYPES = frozenset({"text", "varchar", "bpchar", "citext", "name"})
INT_TYPES = frozenset({"int2", "int4", "int8"})
FLOAT_TYPES = frozenset({"float4", "float8"})
TIME_TYPES = frozenset({"timestamptz", "timestamp", "date", "time", "timetz"})
JSON_TYPES = frozenset({"json", "jsonb"})
#: types whose values ``vecbridge.layout.metadata_value`` converts (arrays of them too)
READABLE = TEXT_TYPES | INT_TYPES | FLOAT_TYPES | TIME_TYPES | JSON_TYPES | {"bool", "numeric", "uuid"}
OPCLASS_METRIC: dict[str, Metric] = {opclass: metric for metric, opclass in OPCLASS.items()}


@dataclass(frozen=True, slots=True)
class Column:
    """One column as the catalog describes it."""

    name: str
    #: ``format_type``: ``vector(64)``, ``timestamp with time zone``, ``text[]``
    type: str
    #: the type's (or, for an array, its element's) ``typname``: ``vector``, ``int8``, ``text``
    base: str
    array: bool
    not_null: bool
    #: the default's SQL expression (``now()``, ``nextval(...)``), as the catalog prints it
    default: str | None
    generated: bool
    #: ``n`` of ``vector(n)``; ``None`` for an untyped ``vector``
    dimension: int | None
    #: ``e`` for an enum
    category: str

    @property
    def ref(self) -> sql.Composable:
        """The column in statements that name the table ``t``."""
        return sql.SQL("t.{}").format(sql.Identifier(self.name))

    @property
    def text_like(self) -> bool:
        return not self.array and (self.base in TEXT_TYPES or self.category == "E")

    @property
    def readable(self) -> bool:
        return self.base in READABLE or self.category == "E"

    @property
    def id_like(self) -> bool:
        return not self.array and (self.base in TEXT_TYPES or self.base in INT_TYPES or self.base == "uuid")


@dataclass(frozen=True, slots=True)
class AnnIndex:
    method: str
    metric: Metric | None
    options: dict[str, int]


@dataclass(frozen=True, slots=True)
class TableInfo:
    schema: str
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    #: vector column -> its ANN index (the first one found)
    ann: dict[str, AnnIndex]

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def vectors(self) -> list[Column]:
        return [c for c in self.columns if c.base == "vector" and not c.array]


_CATALOG_COLUMNS = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod),
       CASE WHEN t.typcategory = 'A' THEN e.typname ELSE t.typname END,
       t.typcategory = 'A', a.attnotnull, pg_get_expr(d.adbin, d.adrelid), a.attgenerated <> '', a.atttypmod,
       CASE WHEN t.typcategory = 'A' THEN e.typcategory ELSE t.typcategory END
FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid LEFT JOIN pg_type e ON e.oid = t.typelem
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum
"""
_CATALOG_KEY = """
SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
WHERE i.indrelid = %s AND i.indisprimary ORDER BY array_position(i.indkey::int2[], a.attnum)
"""
_CATALOG_ANN = """
SELECT a.attname, am.amname, opc.opcname, coalesce(ic.reloptions, '{}')
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam
JOIN pg_opclass opc ON opc.oid = i.indclass[0]
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
WHERE i.indrelid = %s AND am.amname IN ('hnsw', 'ivfflat') ORDER BY ic.relname
"""
_CATALOG_TABLES = """
SELECT c.oid, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND (%s::text IS NULL OR c.relname = %s)
AND EXISTS (SELECT FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
            WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND t.typname = 'vector')
ORDER BY c.relname
"""


async def read_tables(conn: psycopg.AsyncConnection[Any], schema: str, name: str | None = None) -> list[TableInfo]:
    """The catalog's view of every table of ``schema`` with a ``vector`` column (or only ``name``)."""
    tables = await (await conn.execute(_CATALOG_TABLES, (schema, name, name))).fetchall()
    found = []
    for oid, relname in tables:
        columns = tuple(
            Column(
                name=row[0],
                type=row[1],
                base=row[2] or "",
                array=bool(row[3]),
                not_null=bool(row[4]),
                default=row[5],
                generated=bool(row[6]),
                dimension=row[7] if row[2] == "vector" and row[7] > 0 else None,
                category=row[8] or "",
            )
            for row in await (await conn.execute(_CATALOG_COLUMNS, (oid,))).fetchall()
        )
        key = tuple(row[0] for row in await (await conn.execute(_CATALOG_KEY, (oid,))).fetchall())
        ann: dict[str, AnnIndex] = {}
        for column, method, opclass, options in await (await conn.execute(_CATALOG_ANN, (oid,))).fetchall():
            values = dict(option.split("=", 1) for option in options)
            ann.setdefault(
                column,
                AnnIndex(method, OPCLASS_METRIC.get(opclass), {k: int(v) for k, v in values.items() if v.isdigit()}),
            )
        found.append(TableInfo(schema, relname, columns, key, ann))
    return found

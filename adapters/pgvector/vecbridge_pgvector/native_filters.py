"""The portable filter compiled against a native table's own columns, with vecbridge's exact semantics.

A key that lives in the merged JSON column compiles as on vecbridge's tables (``filters.py``), over
that column cast to jsonb (``'{}'`` where SQL NULL), except that ``$exists`` treats a JSON ``null``
as absent, as reads do. A key that is a typed column compiles to a typed comparison that keeps the
contract's meaning of the value reads produce (``vecbridge.layout.metadata_value``):

* text, varchar, char, enum, uuid (as its canonical text): strings equal strings; nothing else matches;
* boolean: booleans only, never numbers;
* smallint, integer, real, double precision: numbers compare as numbers (exactly, as ``numeric``);
  NaN and +-infinity read as the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"`` and match as those;
* bigint: a number within +-2**53 compares as a number; beyond, it reads as its decimal string and
  matches as that string;
* text[] / varchar[]: ``$eq`` matches any element (a list with NULL elements, or an empty one, reads
  as JSON text and matches no element);
* any other type (numeric, timestamps, json as text, other arrays): ``UnsupportedFilterError``
  naming the field, before any request: its values are converted, and SQL cannot compare the
  converted form exactly.

Each expression is two-valued (``COALESCE(..., false)``), so ``$ne``/``$nin``/``$not`` are exact
negations and match rows where the column is NULL (the key is absent). A key that is neither a
column nor possibly in a JSON column is absent from every record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from psycopg import sql

from vecbridge.errors import UnsupportedFilterError
from vecbridge.filters import MAX_SAFE_INT, Eq, Exists, In, Ne, Nin, Range
from vecbridge.layout import conversion_note
from vecbridge.types import Scalar
from vecbridge_pgvector.catalog import FLOAT_TYPES, TEXT_TYPES, Column
from vecbridge_pgvector.filters import _COMPARATORS, PgvectorFilterCompiler, SqlFilter, _number

#: how a typed column compares (see the module docstring)
TEXT, BOOL, NUMBER, BIGINT, FLOAT, TEXT_ARRAY = "text", "bool", "number", "bigint", "float", "text[]"

_FALSE = SqlFilter(sql.SQL("false"))


@dataclass(frozen=True, slots=True)
class ColumnFilter:
    """A metadata key held by a typed column: the SQL expression to compare and how it compares,
    or ``None`` with ``why`` when its values cannot be compared exactly."""

    expression: sql.Composable
    kind: str | None
    why: str = ""


class NativeFilterCompiler(PgvectorFilterCompiler):
    """Filters over typed ``columns`` (key -> :class:`ColumnFilter`) and, for every other key, the
    merged JSON expression ``metadata`` (``None``: there is none, the key is absent)."""

    adapter_name = "pgvector"

    def __init__(self, columns: Mapping[str, ColumnFilter], metadata: sql.Composable | None) -> None:
        super().__init__(metadata if metadata is not None else sql.SQL("'{}'::jsonb"))
        self.columns = columns
        self.has_json = metadata is not None

    def _column(self, field: str, operator: str) -> ColumnFilter | None:
        column = self.columns.get(field)
        if column is not None and column.kind is None:
            raise UnsupportedFilterError(
                f"pgvector does not support {operator} on {field!r}: {column.why}; its values are converted on read"
            )
        return column

    def _equal(self, column: ColumnFilter, value: Scalar) -> SqlFilter | None:
        """True where the column's contract value equals ``value`` (may be NULL: callers wrap it),
        or ``None`` when no value of the column can equal it."""
        e, kind = column.expression, column.kind
        if kind == BOOL:
            return SqlFilter(sql.SQL("{} = %s").format(e), (value,)) if isinstance(value, bool) else None
        if isinstance(value, bool):
            return None
        if kind == TEXT:
            return SqlFilter(sql.SQL("{}::text = %s").format(e), (value,)) if isinstance(value, str) else None
        if kind == TEXT_ARRAY:
            if not isinstance(value, str):
                return None
            element = "(cardinality({e}) > 0 AND array_position({e}, NULL) IS NULL AND %s = ANY({e}))"
            return SqlFilter(sql.SQL(element).format(e=e), (value,))
        if isinstance(value, str):
            if kind == FLOAT and value in ("NaN", "Infinity", "-Infinity"):
                return SqlFilter(sql.SQL("{} = %s::float8").format(e), (value,))
            if kind == BIGINT:
                beyond = sql.SQL("(abs({e}) > %s AND {e}::text = %s)").format(e=e)
                return SqlFilter(beyond, (MAX_SAFE_INT, value))
            return None
        return self._compare(column, "=", _number(value))

    def _compare(self, column: ColumnFilter, comparator: str, number: Decimal) -> SqlFilter | None:
        e, kind = column.expression, column.kind
        compare = sql.SQL("{}::numeric {} %s::numeric").format(e, sql.SQL(comparator))
        if kind == NUMBER:
            return SqlFilter(compare, (number,))
        if kind == BIGINT:
            return SqlFilter(sql.SQL("(abs({}) <= %s AND {})").format(e, compare), (MAX_SAFE_INT, number))
        if kind == FLOAT:
            return SqlFilter(
                sql.SQL("({} NOT IN ('NaN', 'Infinity', '-Infinity') AND {})").format(e, compare), (number,)
            )
        return None

    @staticmethod
    def _two_valued(parts: list[SqlFilter]) -> SqlFilter:
        if not parts:
            return _FALSE
        clause = sql.SQL("COALESCE({}, false)").format(sql.SQL(" OR ").join(p.clause for p in parts))
        return SqlFilter(clause, tuple(param for p in parts for param in p.params))

    def visit_eq(self, node: Eq) -> SqlFilter:
        column = self._column(node.field, node.operator)
        if column is None:
            return super().visit_eq(node) if self.has_json else _FALSE
        part = self._equal(column, node.value)
        return self._two_valued([] if part is None else [part])

    def visit_ne(self, node: Ne) -> SqlFilter:
        return self._negate(self.visit_eq(Eq(node.field, node.value)))

    def visit_in(self, node: In) -> SqlFilter:
        column = self._column(node.field, node.operator)
        if column is None:
            return super().visit_in(node) if self.has_json else _FALSE
        parts = [part for value in node.values if (part := self._equal(column, value)) is not None]
        return self._two_valued(parts)

    def visit_nin(self, node: Nin) -> SqlFilter:
        return self._negate(self.visit_in(In(node.field, node.values)))

    def _range(self, node: Range) -> SqlFilter:
        column = self._column(node.field, node.operator)
        if column is None:
            return super()._range(node) if self.has_json else _FALSE
        part = self._compare(column, _COMPARATORS[type(node)], _number(node.value))
        return self._two_valued([] if part is None else [part])

    def visit_exists(self, node: Exists) -> SqlFilter:
        column = self.columns.get(node.field)
        if column is not None:
            present = SqlFilter(sql.SQL("{} IS NOT NULL").format(column.expression))
        elif self.has_json:
            # a JSON null is an absent key, as on read
            present = SqlFilter(
                sql.SQL("COALESCE(jsonb_typeof({} -> %s) <> 'null', false)").format(self.metadata), (node.field,)
            )
        else:
            present = _FALSE
        return present if node.exists else self._negate(present)


def column_filter(column: Column) -> ColumnFilter:
    """How a metadata key held by ``column`` compares (see the module docstring)."""
    expression = column.ref
    if column.array:
        if column.base in TEXT_TYPES:
            return ColumnFilter(expression, TEXT_ARRAY)
        return ColumnFilter(expression, None, f"{column.type} reads as JSON text")
    if column.text_like or column.base == "uuid":
        return ColumnFilter(expression, TEXT)
    if column.base == "bool":
        return ColumnFilter(expression, BOOL)
    if column.base in ("int2", "int4"):
        return ColumnFilter(expression, NUMBER)
    if column.base == "int8":
        return ColumnFilter(expression, BIGINT)
    if column.base in FLOAT_TYPES:
        return ColumnFilter(expression, FLOAT)
    return ColumnFilter(expression, None, f"{column.type} {conversion_note(column.type) or 'is converted'}")

"""Compile the portable filter tree to a SQL boolean expression over the ``metadata jsonb`` column.

Every value and every field name travels as a bound parameter; only fixed SQL text is composed.
Each expression is two-valued (never NULL), so ``NOT`` is the exact negation:

* ``$eq`` is jsonb containment: ``metadata @> {"f": v}``. jsonb compares numbers as numbers
  (``1`` equals ``1.0``) and keeps ``true`` apart from ``1``; a string also matches as an element
  of a list field (``metadata @> {"f": [v]}``). Containment is what a GIN index serves.
* ``$ne`` / ``$nin`` are ``NOT`` of ``$eq`` / ``$in``, so records missing the field match.
* ranges only look at a jsonb number (``CASE`` guards the cast: SQL does not promise to evaluate
  ``AND`` left to right) and compare as ``numeric``, exactly, with the operand given as the
  shortest decimal of the float.
* ``$exists`` is the jsonb key-exists operator ``?``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

from vecbridge.filters import (
    And,
    Eq,
    Exists,
    FilterCompiler,
    Gt,
    Gte,
    In,
    Lt,
    Lte,
    MatchAll,
    Ne,
    Nin,
    Not,
    Or,
    Range,
)
from vecbridge.types import Scalar


@dataclass(frozen=True)
class SqlFilter:
    """A compiled filter: SQL text with ``%s`` placeholders and the parameters, in order."""

    clause: sql.Composable
    params: tuple[Any, ...] = field(default_factory=tuple)


def _number(value: int | float) -> Decimal:
    """The exact decimal the JSON text of ``value`` holds (floats as their shortest repr)."""
    return Decimal(value) if isinstance(value, int) else Decimal(repr(value))


def _containments(name: str, value: Scalar) -> list[Jsonb]:
    """jsonb documents whose containment in ``metadata`` means ``$eq`` (a string may be a list element)."""
    documents = [Jsonb({name: value})]
    if isinstance(value, str):
        documents.append(Jsonb({name: [value]}))
    return documents


_COMPARATORS = {Gt: ">", Gte: ">=", Lt: "<", Lte: "<="}


_METADATA = sql.SQL("metadata")


class PgvectorFilterCompiler(FilterCompiler[SqlFilter]):
    """``metadata`` is the jsonb expression filtered: vecbridge's ``metadata`` column, or a native
    table's merged JSON column (``native_filters.py``), never NULL."""

    adapter_name = "pgvector"

    def __init__(self, metadata: sql.Composable = _METADATA) -> None:
        self.metadata = metadata

    def _any_contained(self, documents: list[Jsonb]) -> SqlFilter:
        if len(documents) == 1:
            return SqlFilter(sql.SQL("{} @> %s").format(self.metadata), (documents[0],))
        return SqlFilter(sql.SQL("{} @> ANY(%s::jsonb[])").format(self.metadata), (documents,))

    @staticmethod
    def _negate(inner: SqlFilter) -> SqlFilter:
        return SqlFilter(sql.SQL("NOT ({})").format(inner.clause), inner.params)

    def _join(self, children: tuple[Any, ...], operator: str) -> SqlFilter:
        parts = [self.compile(child) for child in children]
        clause = sql.SQL(f" {operator} ").join(sql.SQL("({})").format(p.clause) for p in parts)
        return SqlFilter(clause, tuple(param for p in parts for param in p.params))

    def visit_match_all(self, node: MatchAll) -> SqlFilter:
        return SqlFilter(sql.SQL("true"))

    def visit_eq(self, node: Eq) -> SqlFilter:
        return self._any_contained(_containments(node.field, node.value))

    def visit_ne(self, node: Ne) -> SqlFilter:
        return self._negate(self.visit_eq(Eq(node.field, node.value)))

    def visit_in(self, node: In) -> SqlFilter:
        return self._any_contained([doc for value in node.values for doc in _containments(node.field, value)])

    def visit_nin(self, node: Nin) -> SqlFilter:
        return self._negate(self.visit_in(In(node.field, node.values)))

    def _range(self, node: Range) -> SqlFilter:
        comparator = sql.SQL(_COMPARATORS[type(node)])
        clause = sql.SQL(
            "CASE WHEN jsonb_typeof({m} -> %s) = 'number' THEN ({m} -> %s)::numeric {c} %s::numeric ELSE false END"
        ).format(m=self.metadata, c=comparator)
        return SqlFilter(clause, (node.field, node.field, _number(node.value)))

    def visit_gt(self, node: Gt) -> SqlFilter:
        return self._range(node)

    def visit_gte(self, node: Gte) -> SqlFilter:
        return self._range(node)

    def visit_lt(self, node: Lt) -> SqlFilter:
        return self._range(node)

    def visit_lte(self, node: Lte) -> SqlFilter:
        return self._range(node)

    def visit_exists(self, node: Exists) -> SqlFilter:
        present = SqlFilter(sql.SQL("{} ? %s").format(self.metadata), (node.field,))
        return present if node.exists else self._negate(present)

    def visit_and(self, node: And) -> SqlFilter:
        return self._join(node.children, "AND")

    def visit_or(self, node: Or) -> SqlFilter:
        return self._join(node.children, "OR")

    def visit_not(self, node: Not) -> SqlFilter:
        return self._negate(self.compile(node.child))

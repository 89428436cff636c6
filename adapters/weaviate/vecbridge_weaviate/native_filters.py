"""The portable filter compiled against the typed properties of a class vecbridge did not create.

Exact, or ``UnsupportedFilterError`` before any request:

* ``text`` with ``field`` tokenization: ``Equal`` / ``NotEqual`` on the whole value. Any other
  tokenization compares words (``"New York"`` would match ``"new york times"``): refused;
* ``text[]`` (``field`` tokenization): ``Equal`` matches any element, ``NotEqual`` excludes every
  object holding the value, as the contract's ``$eq`` / ``$ne`` on a list;
* ``int`` / ``number``: ``Equal`` and the ranges (``valueInt`` / ``valueNumber``; a fractional bound
  on an ``int`` property becomes the equivalent whole one); ``boolean``: ``Equal``;
* a value of another type than the property's never matches ``$eq`` (and always matches ``$ne``),
  folded to a constant before anything is sent (Weaviate refuses a mismatched ``valueType``);
* a key the class has no property for has never been written: constants again;
* ``NotEqual`` matches objects where the property is null or missing (it is the complement of
  ``Equal``), as ``$ne`` and ``$nin`` must;
* refused: ``$exists`` (``IsNull`` needs ``indexNullState`` and counts ``""`` and ``[]`` as null), a
  negated range (a missing value must match, and there is no portable ``Not``), and every property
  whose values are converted on read (``date``, number/int/boolean/date/uuid arrays, ``object``) or
  that is not metadata in the layout (the document, the id, bookkeeping).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from weaviate.classes.query import Filter

from vecbridge.errors import UnsupportedFilterError
from vecbridge.filters import (
    And,
    Eq,
    Exists,
    FilterCompiler,
    FilterNode,
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
from vecbridge_weaviate.filters import Lowered, all_of, any_of

#: data types a filter can test exactly (others are converted on read)
FILTERABLE = frozenset({"text", "text[]", "int", "number", "boolean"})


class NativeFilterCompiler(FilterCompiler[Lowered]):
    """Compiles against ``types`` (property -> Weaviate data type; ``text``/``text[]`` only with field
    tokenization, see :func:`filter_types`); ``refused`` names properties no filter may test, and why."""

    adapter_name = "weaviate"

    def __init__(self, types: Mapping[str, str], refused: Mapping[str, str]) -> None:
        self.types = types
        self.refused = refused

    def _type(self, field: str) -> str | None:
        reason = self.refused.get(field)
        if reason is not None:
            raise UnsupportedFilterError(f"weaviate: cannot filter on {field!r}: {reason}")
        return self.types.get(field)

    def _eq(self, field: str, value: Scalar, negated: bool) -> Lowered:
        kind = self._type(field)
        target = Filter.by_property(field)
        if kind in ("text", "text[]") and isinstance(value, str):
            return target.not_equal(value) if negated else target.equal(value)
        if kind == "boolean" and isinstance(value, bool):
            return target.not_equal(value) if negated else target.equal(value)
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if kind == "number" and number:
            return target.not_equal(float(value)) if negated else target.equal(float(value))
        if kind == "int" and number and float(value).is_integer():
            return target.not_equal(int(value)) if negated else target.equal(int(value))
        return negated  # no stored value can equal it: $eq never, $ne always

    def visit_match_all(self, node: MatchAll) -> Lowered:
        return True

    def visit_eq(self, node: Eq) -> Lowered:
        return self._eq(node.field, node.value, False)

    def visit_ne(self, node: Ne) -> Lowered:
        return self._eq(node.field, node.value, True)

    def visit_in(self, node: In) -> Lowered:
        return any_of([self._eq(node.field, value, False) for value in node.values])

    def visit_nin(self, node: Nin) -> Lowered:
        return all_of([self._eq(node.field, value, True) for value in node.values])

    def _range(self, node: Range) -> Lowered:
        kind = self._type(node.field)
        target = Filter.by_property(node.field)
        value = node.value
        if kind == "number":
            bound = float(value)
            if isinstance(node, Gt):
                return target.greater_than(bound)
            if isinstance(node, Gte):
                return target.greater_or_equal(bound)
            if isinstance(node, Lt):
                return target.less_than(bound)
            return target.less_or_equal(bound)
        if kind == "int":  # whole bounds: x > 1.5 is x > 1, x >= 1.5 is x >= 2, ...
            if isinstance(node, Gt):
                return target.greater_than(math.floor(value))
            if isinstance(node, Gte):
                return target.greater_or_equal(math.ceil(value))
            if isinstance(node, Lt):
                return target.less_than(math.ceil(value))
            return target.less_or_equal(math.floor(value))
        return False  # no number is stored under this key

    def visit_gt(self, node: Gt) -> Lowered:
        return self._range(node)

    def visit_gte(self, node: Gte) -> Lowered:
        return self._range(node)

    def visit_lt(self, node: Lt) -> Lowered:
        return self._range(node)

    def visit_lte(self, node: Lte) -> Lowered:
        return self._range(node)

    def visit_exists(self, node: Exists) -> Lowered:
        self._type(node.field)
        raise UnsupportedFilterError(
            "weaviate cannot test $exists exactly on a class vecbridge did not create: IsNull needs "
            "indexNullState and counts '' and [] as null"
        )

    def visit_and(self, node: And) -> Lowered:
        return all_of([self.compile(child) for child in node.children])

    def visit_or(self, node: Or) -> Lowered:
        return any_of([self.compile(child) for child in node.children])

    def visit_not(self, node: Not) -> Lowered:
        return self._negate(node.child)

    def _negate(self, node: FilterNode) -> Lowered:
        if isinstance(node, MatchAll):
            return False
        if isinstance(node, Eq):
            return self._eq(node.field, node.value, True)
        if isinstance(node, Ne):
            return self._eq(node.field, node.value, False)
        if isinstance(node, In):
            return self.visit_nin(Nin(node.field, node.values))
        if isinstance(node, Nin):
            return self.visit_in(In(node.field, node.values))
        if isinstance(node, And):
            return any_of([self._negate(child) for child in node.children])
        if isinstance(node, Or):
            return all_of([self._negate(child) for child in node.children])
        if isinstance(node, Not):
            return self.compile(node.child)
        if isinstance(node, Range):
            self._type(node.field)
            raise UnsupportedFilterError(
                f"weaviate cannot express 'not {node.operator}' on {node.field!r} exactly: an object "
                "without a value must match, and there is no portable Not"
            )
        return self.compile(node)  # Exists: refused with its own reason

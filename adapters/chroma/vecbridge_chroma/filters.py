"""Compile the portable filter tree into a Chroma ``where`` dict with exactly the portable meaning.

Chroma's own operators differ from the contract in four ways, each hidden here:

* No Chroma arrays are stored at all: Chroma 1.5.9 leaves the array values of deleted collections
  behind and hands them to the next records that reuse the same internal ids (a new record then
  reads back with another record's list). A list field ``f`` is kept as JSON under ``_vb_list_f``
  plus one flag ``_vb_e_f_<hash of element>: true`` per element, so ``$eq`` / ``$in`` on a list
  match any element by testing the flag (and ``$ne`` / ``$nin`` use ``$ne: true``, which also
  matches records without the flag).
* ``$in`` / ``$nin`` take values of one type only: values are grouped by type (str, bool, int, float).
* There is no ``$exists`` and no "is a number" test: every user field ``f`` comes with a type tag
  ``_vb_t_f`` (``"n"`` number, ``"s"`` string, ``"b"`` bool, ``"l"`` list), so ``$exists`` is
  ``$in`` / ``$nin`` on the tags (``$nin`` also matches a missing tag) and "not a number" is
  ``$ne: "n"``.
* There is no ``$not``: negations are pushed down to the leaves (De Morgan); the complement of a
  range is "the opposite range, or not a number".
* Chroma 1.5.9 compares a record holding an *int* with a non-integral *float* operand after
  truncating the operand (``{"n": 2.5}`` matches ``n = 2``; ``{"n": {"$gt": -0.5}}`` misses
  ``n = 0``). Only the integer ``t = trunc(v)`` can be misjudged, so each such comparison is
  patched with ``$ne t`` or ``$or $eq t`` (int operands compare exactly with ints and floats).

What Chroma already does as the contract says (checked against chromadb 1.5.9): ``$ne`` / ``$nin``
match records missing the field; booleans never equal numbers; ints and floats compare as numbers;
ranges never match a missing, bool, string or list field. ``$and`` / ``$or`` need two or more
children, so single children are unwrapped.
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Callable, Mapping
from typing import Any

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
    Membership,
    Ne,
    Nin,
    Not,
    Or,
    Range,
)
from vecbridge.types import Scalar

LIST_PREFIX = "_vb_list_"
ELEMENT_PREFIX = "_vb_e_"
TYPE_PREFIX = "_vb_t_"
TYPE_TAGS = ["n", "s", "b", "l"]


def list_key(field: str) -> str:
    """Where a list field's JSON is stored."""
    return LIST_PREFIX + field


def element_key(field: str, element: str) -> str:
    """The flag saying list field ``field`` holds ``element`` (128-bit hash: no collisions in practice)."""
    return f"{ELEMENT_PREFIX}{field}_{hashlib.blake2b(element.encode(), digest_size=16).hexdigest()}"


def type_key(field: str) -> str:
    """Where the type tag of user field ``field`` is stored."""
    return TYPE_PREFIX + field


def type_tag(value: object) -> str:
    if isinstance(value, bool):
        return "b"
    if isinstance(value, int | float):
        return "n"
    return "l" if isinstance(value, list) else "s"


Where = dict[str, Any]

#: Every record carries its scan position (a non-negative int): true for all records, and for none.
SCAN_KEY = "_vb_key"
EVERYTHING: Where = {SCAN_KEY: {"$gte": 0}}
NOTHING: Where = {SCAN_KEY: {"$lt": 0}}

_COMPLEMENT: dict[type[Range], str] = {Gt: "$lte", Gte: "$lt", Lt: "$gte", Lte: "$gt"}


def all_of(*clauses: Where) -> Where:
    """``$and`` of the clauses, flattened; a single clause stands alone."""
    flat: list[Where] = []
    for clause in clauses:
        flat.extend(clause["$and"] if set(clause) == {"$and"} else [clause])
    flat = [c for c in flat if c != EVERYTHING]
    if not flat:
        return EVERYTHING
    if NOTHING in flat:
        return NOTHING
    return flat[0] if len(flat) == 1 else {"$and": flat}


def any_of(*clauses: Where) -> Where:
    """``$or`` of the clauses, flattened; a single clause stands alone."""
    flat: list[Where] = []
    for clause in clauses:
        flat.extend(clause["$or"] if set(clause) == {"$or"} else [clause])
    flat = [c for c in flat if c != NOTHING]
    if not flat:
        return NOTHING
    if EVERYTHING in flat:
        return EVERYTHING
    return flat[0] if len(flat) == 1 else {"$or": flat}


_OPERATIONS: dict[str, Callable[[float, float], bool]] = {
    "$eq": operator.eq,
    "$ne": operator.ne,
    "$gt": operator.gt,
    "$gte": operator.ge,
    "$lt": operator.lt,
    "$lte": operator.le,
}


def compare(field: str, op: str, value: Scalar) -> Where:
    """``{field: {op: value}}``, patched for Chroma's truncation of non-integral float operands."""
    clause: Where = {field: {op: value}}
    if isinstance(value, float) and not value.is_integer():
        truncated = int(value)
        chroma_says, truth = _OPERATIONS[op](truncated, truncated), _OPERATIONS[op](truncated, value)
        if chroma_says and not truth:
            return all_of(clause, {field: {"$ne": truncated}})
        if truth and not chroma_says:
            return any_of(clause, {field: {"$eq": truncated}})
    return clause


def _groups(values: tuple[Scalar, ...]) -> list[list[Scalar]]:
    """Distinct values grouped by Python type, since Chroma's ``$in`` takes one type per list."""
    by_type: dict[type, list[Scalar]] = {}
    for value in values:
        group = by_type.setdefault(type(value), [])
        if value not in group:  # a group holds one type, so ``in`` never confuses True with 1
            group.append(value)
    return list(by_type.values())


class ChromaFilterCompiler(FilterCompiler[Where]):
    """Every portable operator, exactly; see the module docstring for how."""

    adapter_name = "chroma"

    def visit_match_all(self, node: MatchAll) -> Where:
        return EVERYTHING

    def holds(self, field: str, element: str) -> Where:
        """List field ``field`` has ``element`` among its elements."""
        return {element_key(field, element): {"$eq": True}}

    def lacks(self, field: str, element: str) -> Where:
        """The complement of :meth:`holds`: also true when ``field`` is missing or not a list."""
        return {element_key(field, element): {"$ne": True}}

    def visit_eq(self, node: Eq) -> Where:
        if isinstance(node.value, str):
            return any_of({node.field: {"$eq": node.value}}, self.holds(node.field, node.value))
        return compare(node.field, "$eq", node.value)

    def visit_ne(self, node: Ne) -> Where:
        if isinstance(node.value, str):
            return all_of({node.field: {"$ne": node.value}}, self.lacks(node.field, node.value))
        return compare(node.field, "$ne", node.value)

    def _range(self, node: Range) -> Where:
        return compare(node.field, node.operator, node.value)

    def visit_gt(self, node: Gt) -> Where:
        return self._range(node)

    def visit_gte(self, node: Gte) -> Where:
        return self._range(node)

    def visit_lt(self, node: Lt) -> Where:
        return self._range(node)

    def visit_lte(self, node: Lte) -> Where:
        return self._range(node)

    def _membership(self, node: Membership, negated: bool) -> Where:
        clauses: list[Where] = []
        for group in _groups(node.values):
            if isinstance(group[0], float):  # compared one by one, for the truncation patch
                clauses.extend(compare(node.field, "$ne" if negated else "$eq", value) for value in group)
                continue
            clauses.append({node.field: {"$nin" if negated else "$in": group}})
            if isinstance(group[0], str):
                element = self.lacks if negated else self.holds
                clauses.extend(element(node.field, str(value)) for value in group)
        return all_of(*clauses) if negated else any_of(*clauses)

    def visit_in(self, node: In) -> Where:
        return self._membership(node, negated=False)

    def visit_nin(self, node: Nin) -> Where:
        return self._membership(node, negated=True)

    def visit_exists(self, node: Exists) -> Where:
        return {type_key(node.field): {"$in" if node.exists else "$nin": TYPE_TAGS}}

    def visit_and(self, node: And) -> Where:
        return all_of(*(self.compile(child) for child in node.children))

    def visit_or(self, node: Or) -> Where:
        return any_of(*(self.compile(child) for child in node.children))

    def visit_not(self, node: Not) -> Where:
        return self.negate(node.child)

    def negate(self, node: FilterNode) -> Where:
        """The exact complement of ``node``, pushed down to leaves Chroma can express."""
        if isinstance(node, MatchAll):
            return NOTHING
        if isinstance(node, Eq):
            return self.visit_ne(Ne(node.field, node.value))
        if isinstance(node, Ne):
            return self.visit_eq(Eq(node.field, node.value))
        if isinstance(node, In):
            return self._membership(node, negated=True)
        if isinstance(node, Nin):
            return self._membership(node, negated=False)
        if isinstance(node, Range):
            not_a_number = {type_key(node.field): {"$ne": "n"}}
            return any_of(compare(node.field, _COMPLEMENT[type(node)], node.value), not_a_number)
        if isinstance(node, Exists):
            return self.visit_exists(Exists(node.field, not node.exists))
        if isinstance(node, And):
            return any_of(*(self.negate(child) for child in node.children))
        if isinstance(node, Or):
            return all_of(*(self.negate(child) for child in node.children))
        if isinstance(node, Not):
            return self.compile(node.child)
        raise self.unsupported(node)


class NativeFilterCompiler(ChromaFilterCompiler):
    """The portable filter on a collection vecbridge did not create: plain metadata keys, no reserved ones.

    Lists are Chroma's own arrays, so a list element is tested with ``$contains`` / ``$not_contains``
    (the latter also true for a missing key or a scalar, as the contract's ``$ne`` needs). Chroma
    treats an array as never equal to, in or in range of a scalar, which is how the contract treats
    the JSON text a list of numbers becomes. What Chroma cannot say without vecbridge's type tags is
    refused with ``UnsupportedFilterError``: ``$exists`` (Chroma has no presence test) and the
    negation of a range (it needs "is not a number"). ``refused`` names keys a filter must not use
    (values converted to JSON text, fields that are not metadata in the layout), with the reason.
    """

    def __init__(self, refused: Mapping[str, str], allowed: tuple[str, ...] | None = None) -> None:
        self.refused = refused
        #: the layout's metadata keys when declared (``None``: every key not refused)
        self.allowed = allowed

    def compile(self, node: FilterNode) -> Where:
        self._check_fields(node)
        return super().compile(node)

    def _check_fields(self, node: FilterNode) -> None:
        if isinstance(node, And | Or):
            for child in node.children:
                self._check_fields(child)
        elif isinstance(node, Not):
            self._check_fields(node.child)
        elif not isinstance(node, MatchAll):
            field = getattr(node, "field")  # noqa: B009 (every leaf node has one)
            if field in self.refused:
                raise self.unsupported(node, f"field {field!r} {self.refused[field]}")
            if self.allowed is not None and field not in self.allowed:
                raise self.unsupported(node, f"field {field!r} is not among the layout's metadata keys")

    def holds(self, field: str, element: str) -> Where:
        return {field: {"$contains": element}}

    def lacks(self, field: str, element: str) -> Where:
        return {field: {"$not_contains": element}}

    def visit_exists(self, node: Exists) -> Where:
        raise self.unsupported(node, "Chroma has no test for a key's presence outside vecbridge's own collections")

    def negate(self, node: FilterNode) -> Where:
        if isinstance(node, Range | Exists):
            raise self.unsupported(
                Not(node), "its complement needs 'is not a number', which Chroma cannot test on native metadata"
            )
        return super().negate(node)

"""Compile the portable filter tree into a Chroma ``where`` dict with exactly the portable meaning.

Chroma's own operators differ from the contract in four ways, each hidden here:

* ``$eq`` / ``$in`` never match a list field: a string operand also matches with ``$contains``
  (which, on a scalar string, never matches: it is not a substring test on metadata).
* ``$in`` / ``$nin`` take values of one type only: values are grouped by type (str, bool, int, float).
* There is no ``$exists``: every record carries the reserved array ``_vb_keys`` listing its user
  keys, so ``$exists`` is ``$contains`` / ``$not_contains`` on it (``$not_contains`` matches a record
  without the array, i.e. one with no user metadata).
* There is no ``$not``: negations are pushed down to the leaves (De Morgan). The complement of a
  range also needs "the field is not a number": every record carries ``_vb_num`` listing its
  numeric (int or float, never bool) keys.

What Chroma already does as the contract says (checked against chromadb 1.5.9): ``$ne`` / ``$nin``
match records missing the field; booleans never equal numbers; ints and floats compare as numbers;
ranges never match a missing, bool, string or list field. ``$and`` / ``$or`` need two or more
children, so single children are unwrapped.
"""

from __future__ import annotations

from typing import Any

from vecbridge.adapter import NAMESPACE_KEY
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

#: Reserved array of the user metadata keys a record has (absent when it has none).
KEYS_KEY = "_vb_keys"
#: Reserved array of the user metadata keys holding a number (int or float, not bool).
NUMBER_KEYS_KEY = "_vb_num"

Where = dict[str, Any]

#: True for every record (namespaces are never empty) and false for every record.
EVERYTHING: Where = {NAMESPACE_KEY: {"$ne": ""}}
NOTHING: Where = {NAMESPACE_KEY: {"$eq": ""}}

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

    def visit_eq(self, node: Eq) -> Where:
        if isinstance(node.value, str):
            return any_of({node.field: {"$eq": node.value}}, {node.field: {"$contains": node.value}})
        return {node.field: {"$eq": node.value}}

    def visit_ne(self, node: Ne) -> Where:
        if isinstance(node.value, str):
            return all_of({node.field: {"$ne": node.value}}, {node.field: {"$not_contains": node.value}})
        return {node.field: {"$ne": node.value}}

    def _range(self, node: Range) -> Where:
        return {node.field: {node.operator: node.value}}

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
            clauses.append({node.field: {"$nin" if negated else "$in": group}})
            if isinstance(group[0], str):
                operator = "$not_contains" if negated else "$contains"
                clauses.extend({node.field: {operator: value}} for value in group)
        return all_of(*clauses) if negated else any_of(*clauses)

    def visit_in(self, node: In) -> Where:
        return self._membership(node, negated=False)

    def visit_nin(self, node: Nin) -> Where:
        return self._membership(node, negated=True)

    def visit_exists(self, node: Exists) -> Where:
        return {KEYS_KEY: {"$contains" if node.exists else "$not_contains": node.field}}

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
            not_a_number = {NUMBER_KEYS_KEY: {"$not_contains": node.field}}
            return any_of({node.field: {_COMPLEMENT[type(node)]: node.value}}, not_a_number)
        if isinstance(node, Exists):
            return self.visit_exists(Exists(node.field, not node.exists))
        if isinstance(node, And):
            return any_of(*(self.negate(child) for child in node.children))
        if isinstance(node, Or):
            return all_of(*(self.negate(child) for child in node.children))
        if isinstance(node, Not):
            return self.compile(node.child)
        raise self.unsupported(node)

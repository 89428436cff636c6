"""Filters compiled to Pinecone's documented metadata filter JSON, never leaning on an open point.

Pinecone's filter language (https://docs.pinecone.io/guides/search/filter-by-metadata) documents
``$eq $ne $gt $gte $lt $lte $in $nin $exists $and $or`` and says ``$eq``/``$in`` on a list of strings
match any element. It does not say whether ``$ne``/``$nin`` match a record that lacks the field, has
no ``$not``, and does not list booleans among ``$in`` operands. So:

* ``$ne``/``$nin`` are compiled as "not equal OR missing": ``{"$or": [{f: {"$ne": v}}, {f: {"$exists": false}}]}``;
* ``$in``/``$nin`` take only strings or only numbers; booleans become ``$eq``/``$ne``;
* ``$not`` is pushed down to the leaves (De Morgan); a negated range ("not ``x > 5``") must also match
  records where ``x`` is missing or not a number, which Pinecone cannot test directly. Every record the
  adapter writes carries ``_vb_types``, a list of ``"<field>:<type letter>"`` strings (plus ``"*"`` so the
  list is never empty), and "not a number" is ``{"_vb_types": {"$nin": ["x:i", "x:f"]}}``: a ``$nin`` on a
  field that is always present, which the docs do define.

The compiled form keeps the parsed tree too: ``count``, ``scan`` and ``delete`` by filter evaluate the
tree client-side on fetched records (exact), only ``query`` sends the JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    Ne,
    Nin,
    Not,
    Or,
    Range,
)
from vecbridge.types import Scalar

#: Reserved metadata key listing each field's vecbridge type as ``"<field>:<letter>"``.
TYPES_KEY = "_vb_types"
#: Always in ``_vb_types``, so the list exists and is non-empty on every record.
TYPES_SENTINEL = "*"
STRING, BOOL, INT, FLOAT, LIST = "s", "b", "i", "f", "l"
NUMBER_TYPES = (INT, FLOAT)

Json = dict[str, Any]
MATCH_NONE: Json = {TYPES_KEY: {"$nin": [TYPES_SENTINEL]}}
MATCH_ALL: Json = {TYPES_KEY: {"$in": [TYPES_SENTINEL]}}


@dataclass(frozen=True, slots=True)
class PineconeFilter:
    """A compiled filter: the JSON sent with a query, and the tree evaluated client-side elsewhere."""

    json: Json
    node: FilterNode


def type_tag(field: str, letter: str) -> str:
    return f"{field}:{letter}"


def _flat(op: str, children: list[Json]) -> list[Json]:
    flat: list[Json] = []
    for child in children:
        flat.extend(child[op] if list(child) == [op] else [child])
    return flat


def _any(children: list[Json]) -> Json:
    flat = _flat("$or", children)
    return flat[0] if len(flat) == 1 else {"$or": flat}


def _all(children: list[Json]) -> Json:
    flat = _flat("$and", children)
    return flat[0] if len(flat) == 1 else {"$and": flat}


def _missing(field: str) -> Json:
    return {field: {"$exists": False}}


def _split(values: tuple[Scalar, ...]) -> tuple[list[str], list[int | float], list[bool]]:
    strings = [v for v in values if isinstance(v, str)]
    bools = [v for v in values if isinstance(v, bool)]
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    return list(dict.fromkeys(strings)), list(dict.fromkeys(numbers)), list(dict.fromkeys(bools))


class PineconeFilterCompiler(FilterCompiler[Json]):
    """Every node of the portable language, compiled exactly (see the module docstring)."""

    adapter_name = "pinecone"

    def compile_filter(self, node: FilterNode) -> PineconeFilter:
        return PineconeFilter(json=self.compile(node), node=node)

    # positive forms

    def visit_match_all(self, node: MatchAll) -> Json:
        return dict(MATCH_ALL)

    def visit_eq(self, node: Eq) -> Json:
        return {node.field: {"$eq": node.value}}

    def visit_ne(self, node: Ne) -> Json:
        return _any([{node.field: {"$ne": node.value}}, _missing(node.field)])

    def _range(self, node: Range, op: str) -> Json:
        return {node.field: {op: node.value}}

    def visit_gt(self, node: Gt) -> Json:
        return self._range(node, "$gt")

    def visit_gte(self, node: Gte) -> Json:
        return self._range(node, "$gte")

    def visit_lt(self, node: Lt) -> Json:
        return self._range(node, "$lt")

    def visit_lte(self, node: Lte) -> Json:
        return self._range(node, "$lte")

    def visit_in(self, node: In) -> Json:
        strings, numbers, bools = _split(node.values)
        parts: list[Json] = []
        if strings:
            parts.append({node.field: {"$in": strings}})
        if numbers:
            parts.append({node.field: {"$in": numbers}})
        parts.extend({node.field: {"$eq": b}} for b in bools)
        return _any(parts)

    def visit_nin(self, node: Nin) -> Json:
        strings, numbers, bools = _split(node.values)
        parts: list[Json] = []
        if strings:
            parts.append({node.field: {"$nin": strings}})
        if numbers:
            parts.append({node.field: {"$nin": numbers}})
        parts.extend({node.field: {"$ne": b}} for b in bools)
        return _any([_all(parts), _missing(node.field)])

    def visit_exists(self, node: Exists) -> Json:
        return {node.field: {"$exists": node.exists}}

    def visit_and(self, node: And) -> Json:
        return _all([self.compile(child) for child in node.children])

    def visit_or(self, node: Or) -> Json:
        return _any([self.compile(child) for child in node.children])

    def visit_not(self, node: Not) -> Json:
        return self.negate(node.child)

    # negated forms: "not X" for every node kind, pushed down to the leaves

    def negate(self, node: FilterNode) -> Json:
        if isinstance(node, MatchAll):
            return dict(MATCH_NONE)
        if isinstance(node, Eq):
            return self.visit_ne(Ne(node.field, node.value))
        if isinstance(node, Ne):
            return self.visit_eq(Eq(node.field, node.value))
        if isinstance(node, In):
            return self.visit_nin(Nin(node.field, node.values))
        if isinstance(node, Nin):
            return self.visit_in(In(node.field, node.values))
        if isinstance(node, Exists):
            return {node.field: {"$exists": not node.exists}}
        if isinstance(node, Range):
            flipped = {Gt: "$lte", Gte: "$lt", Lt: "$gte", Lte: "$gt"}[type(node)]
            not_a_number = {TYPES_KEY: {"$nin": [type_tag(node.field, t) for t in NUMBER_TYPES]}}
            return _any([{node.field: {flipped: node.value}}, not_a_number])
        if isinstance(node, And):
            return _any([self.negate(child) for child in node.children])
        if isinstance(node, Or):
            return _all([self.negate(child) for child in node.children])
        if isinstance(node, Not):
            return self.compile(node.child)
        raise self.unsupported(node)

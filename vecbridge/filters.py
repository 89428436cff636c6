"""The portable filter language: parse a Mongo-style dict once into a typed tree.

Semantics (the one meaning every backend must give; ``docs/filters.md`` has the full table):

* ``{"k": v}`` is ``{"k": {"$eq": v}}``; several keys in one dict mean ``$and``; ``{}`` matches everything.
* ``$eq`` on a list field matches if any element equals. Booleans are not numbers; ints and floats
  compare as numbers.
* ``$ne`` / ``$nin`` are the exact negations of ``$eq`` / ``$in``: they match records missing the field.
* ``$gt $gte $lt $lte`` take numbers only; a missing or non-number field never matches them.
* ``$in`` / ``$nin`` take a non-empty list of scalars; ``$exists`` takes a bool.
* ``$and`` / ``$or`` take a non-empty list of filters; ``$not`` takes one filter.
* ``None`` is not a value: "missing" is ``{"$exists": false}``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeAlias, TypeVar

from vecbridge.errors import InvalidFilterError, UnsupportedFilterError
from vecbridge.types import Scalar

MAX_SAFE_INT = 2**53
FIELD_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
RESERVED_PREFIX = "_vb"


class FilterNode:
    """Base of the typed filter tree."""

    kind: ClassVar[str]
    operator: ClassVar[str]


@dataclass(frozen=True, slots=True)
class MatchAll(FilterNode):
    """``{}``: every record."""

    kind: ClassVar[str] = "match_all"
    operator: ClassVar[str] = "{}"


@dataclass(frozen=True, slots=True)
class Comparison(FilterNode):
    field: str
    value: Scalar


@dataclass(frozen=True, slots=True)
class Eq(Comparison):
    kind: ClassVar[str] = "eq"
    operator: ClassVar[str] = "$eq"


@dataclass(frozen=True, slots=True)
class Ne(Comparison):
    kind: ClassVar[str] = "ne"
    operator: ClassVar[str] = "$ne"


@dataclass(frozen=True, slots=True)
class Range(FilterNode):
    """A number-only comparison; ``value`` is never a bool."""

    field: str
    value: int | float


@dataclass(frozen=True, slots=True)
class Gt(Range):
    kind: ClassVar[str] = "gt"
    operator: ClassVar[str] = "$gt"


@dataclass(frozen=True, slots=True)
class Gte(Range):
    kind: ClassVar[str] = "gte"
    operator: ClassVar[str] = "$gte"


@dataclass(frozen=True, slots=True)
class Lt(Range):
    kind: ClassVar[str] = "lt"
    operator: ClassVar[str] = "$lt"


@dataclass(frozen=True, slots=True)
class Lte(Range):
    kind: ClassVar[str] = "lte"
    operator: ClassVar[str] = "$lte"


@dataclass(frozen=True, slots=True)
class Membership(FilterNode):
    field: str
    values: tuple[Scalar, ...]


@dataclass(frozen=True, slots=True)
class In(Membership):
    kind: ClassVar[str] = "in"
    operator: ClassVar[str] = "$in"


@dataclass(frozen=True, slots=True)
class Nin(Membership):
    kind: ClassVar[str] = "nin"
    operator: ClassVar[str] = "$nin"


@dataclass(frozen=True, slots=True)
class Exists(FilterNode):
    field: str
    exists: bool
    kind: ClassVar[str] = "exists"
    operator: ClassVar[str] = "$exists"


@dataclass(frozen=True, slots=True)
class And(FilterNode):
    children: tuple[FilterNode, ...]
    kind: ClassVar[str] = "and"
    operator: ClassVar[str] = "$and"


@dataclass(frozen=True, slots=True)
class Or(FilterNode):
    children: tuple[FilterNode, ...]
    kind: ClassVar[str] = "or"
    operator: ClassVar[str] = "$or"


@dataclass(frozen=True, slots=True)
class Not(FilterNode):
    child: FilterNode
    kind: ClassVar[str] = "not"
    operator: ClassVar[str] = "$not"


Filter: TypeAlias = Mapping[str, Any]
NODE_TYPES: tuple[type[FilterNode], ...] = (MatchAll, Eq, Ne, Gt, Gte, Lt, Lte, In, Nin, Exists, And, Or, Not)
_FIELD_OPERATORS: dict[str, type[FilterNode]] = {
    "$eq": Eq,
    "$ne": Ne,
    "$gt": Gt,
    "$gte": Gte,
    "$lt": Lt,
    "$lte": Lte,
    "$in": In,
    "$nin": Nin,
    "$exists": Exists,
}


def _join(path: str, part: str) -> str:
    return f"{path}.{part}" if path else part


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_scalar(value: object, path: str) -> Scalar:
    if value is None:
        raise InvalidFilterError("None is not a value; use {'$exists': false} for a missing field", path=path)
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INT:
            raise InvalidFilterError(f"integer {value} is outside +-2**53", path=path)
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidFilterError(f"{value} is not a finite number", path=path)
        return value
    raise InvalidFilterError(f"expected a str, bool, int or float, got {type(value).__name__}", path=path)


def _check_field(name: object, path: str) -> str:
    if not isinstance(name, str) or not FIELD_PATTERN.fullmatch(name):
        raise InvalidFilterError(
            f"{name!r} is not a metadata field name ([A-Za-z_][A-Za-z0-9_]*, <= 64 chars)", path=path
        )
    if name.startswith(RESERVED_PREFIX):
        raise InvalidFilterError(f"field names starting with {RESERVED_PREFIX!r} are reserved", path=path)
    return name


def _conjunction(nodes: list[FilterNode]) -> FilterNode:
    kept = [n for n in nodes if not isinstance(n, MatchAll)]
    if not kept:
        return MatchAll()
    return kept[0] if len(kept) == 1 else And(tuple(kept))


def _parse_field(name: str, condition: object, path: str) -> FilterNode:
    if not isinstance(condition, Mapping):
        if isinstance(condition, list | tuple | dict):
            raise InvalidFilterError("a bare value must be a scalar; use $in for a list of values", path=path)
        return Eq(name, _check_scalar(condition, path))
    if not condition:
        raise InvalidFilterError("an operator dict must not be empty", path=path)
    nodes: list[FilterNode] = []
    for op, operand in condition.items():
        op_path = _join(path, str(op))
        node_type = _FIELD_OPERATORS.get(op) if isinstance(op, str) else None
        if node_type is None:
            known = " ".join(_FIELD_OPERATORS)
            raise InvalidFilterError(f"unknown field operator {op!r}; known: {known}", path=op_path)
        if node_type in (Eq, Ne):
            nodes.append(node_type(name, _check_scalar(operand, op_path)))
        elif issubclass(node_type, Range):
            if not _is_number(operand):
                raise InvalidFilterError(f"{op} takes a number, got {operand!r}", path=op_path)
            _check_scalar(operand, op_path)
            nodes.append(node_type(name, operand))
        elif issubclass(node_type, Membership):
            if not isinstance(operand, list | tuple) or not operand:
                raise InvalidFilterError(f"{op} takes a non-empty list of scalars", path=op_path)
            values = tuple(_check_scalar(v, f"{op_path}[{i}]") for i, v in enumerate(operand))
            nodes.append(node_type(name, values))
        else:
            if not isinstance(operand, bool):
                raise InvalidFilterError(f"$exists takes true or false, got {operand!r}", path=op_path)
            nodes.append(Exists(name, operand))
    return nodes[0] if len(nodes) == 1 else And(tuple(nodes))


def _parse(filter_: object, path: str) -> FilterNode:
    if not isinstance(filter_, Mapping):
        raise InvalidFilterError(f"a filter is a dict, got {type(filter_).__name__}", path=path)
    nodes: list[FilterNode] = []
    for key, value in filter_.items():
        key_path = _join(path, str(key))
        if key in ("$and", "$or"):
            if not isinstance(value, list | tuple) or not value:
                raise InvalidFilterError(f"{key} takes a non-empty list of filters", path=key_path)
            children = [_parse(child, f"{key_path}[{i}]") for i, child in enumerate(value)]
            if key == "$and":
                nodes.append(_conjunction(children))
            elif any(isinstance(c, MatchAll) for c in children):
                nodes.append(MatchAll())
            else:
                nodes.append(children[0] if len(children) == 1 else Or(tuple(children)))
        elif key == "$not":
            if not isinstance(value, Mapping):
                raise InvalidFilterError("$not takes one filter (a dict)", path=key_path)
            nodes.append(Not(_parse(value, key_path)))
        elif isinstance(key, str) and key.startswith("$"):
            raise InvalidFilterError(f"unknown logical operator {key!r}; known: $and $or $not", path=key_path)
        else:
            nodes.append(_parse_field(_check_field(key, key_path), value, key_path))
    return _conjunction(nodes)


def parse_filter(filter_: Filter | FilterNode | None) -> FilterNode:
    """Validate a filter dict and return its typed tree; ``None`` and ``{}`` give ``MatchAll``."""
    if filter_ is None:
        return MatchAll()
    if isinstance(filter_, FilterNode):
        return filter_
    return _parse(filter_, "")


# --- reference evaluator -------------------------------------------------------------------------


def _equals(stored: object, value: Scalar) -> bool:
    if isinstance(value, bool) or isinstance(stored, bool):
        return isinstance(stored, bool) and isinstance(value, bool) and stored is value
    if isinstance(value, str) or isinstance(stored, str):
        return isinstance(stored, str) and isinstance(value, str) and stored == value
    return _is_number(stored) and stored == value


def _eq(metadata: Mapping[str, object], name: str, value: Scalar) -> bool:
    if name not in metadata:
        return False
    stored = metadata[name]
    if isinstance(stored, list):
        return any(_equals(element, value) for element in stored)
    return _equals(stored, value)


def _range(metadata: Mapping[str, object], node: Range) -> bool:
    stored = metadata.get(node.field)
    if not _is_number(stored):
        return False
    number: float = stored  # type: ignore[assignment]
    if isinstance(node, Gt):
        return number > node.value
    if isinstance(node, Gte):
        return number >= node.value
    if isinstance(node, Lt):
        return number < node.value
    return number <= node.value


def evaluate(node: FilterNode, metadata: Mapping[str, object]) -> bool:
    """The reference meaning of a filter on one record's metadata; every backend must agree with it."""
    if isinstance(node, MatchAll):
        return True
    if isinstance(node, Eq):
        return _eq(metadata, node.field, node.value)
    if isinstance(node, Ne):
        return not _eq(metadata, node.field, node.value)
    if isinstance(node, Range):
        return _range(metadata, node)
    if isinstance(node, In):
        return any(_eq(metadata, node.field, v) for v in node.values)
    if isinstance(node, Nin):
        return not any(_eq(metadata, node.field, v) for v in node.values)
    if isinstance(node, Exists):
        return (node.field in metadata) is node.exists
    if isinstance(node, And):
        return all(evaluate(child, metadata) for child in node.children)
    if isinstance(node, Or):
        return any(evaluate(child, metadata) for child in node.children)
    if isinstance(node, Not):
        return not evaluate(node.child, metadata)
    raise TypeError(f"not a filter node: {node!r}")


def fields_of(node: FilterNode) -> set[str]:
    """Every metadata field a filter mentions."""
    if isinstance(node, Comparison | Range | Membership | Exists):
        return {node.field}
    if isinstance(node, And | Or):
        return set().union(*(fields_of(c) for c in node.children))
    if isinstance(node, Not):
        return fields_of(node.child)
    return set()


# --- compiler base -------------------------------------------------------------------------------

T = TypeVar("T")


class FilterCompiler(Generic[T]):
    """Translate a filter tree into a backend's native form, one ``visit_<kind>`` per node type.

    Every ``visit_*`` of the base raises ``UnsupportedFilterError``: a backend that cannot express a
    node exactly simply leaves it out, and callers get a clear error before any request.
    """

    adapter_name: ClassVar[str] = "this backend"

    def compile(self, node: FilterNode) -> T:
        visit = getattr(self, f"visit_{node.kind}")
        result: T = visit(node)
        return result

    @classmethod
    def supported_operators(cls) -> frozenset[str]:
        """Operators this compiler implements: derived from the overridden ``visit_*`` methods."""
        return frozenset(
            node.operator
            for node in NODE_TYPES
            if getattr(cls, f"visit_{node.kind}") is not getattr(FilterCompiler, f"visit_{node.kind}")
        )

    def unsupported(self, node: FilterNode, why: str = "") -> UnsupportedFilterError:
        detail = f": {why}" if why else ""
        return UnsupportedFilterError(f"{self.adapter_name} does not support {node.operator}{detail}")

    def visit_match_all(self, node: MatchAll) -> T:
        raise self.unsupported(node)

    def visit_eq(self, node: Eq) -> T:
        raise self.unsupported(node)

    def visit_ne(self, node: Ne) -> T:
        raise self.unsupported(node)

    def visit_gt(self, node: Gt) -> T:
        raise self.unsupported(node)

    def visit_gte(self, node: Gte) -> T:
        raise self.unsupported(node)

    def visit_lt(self, node: Lt) -> T:
        raise self.unsupported(node)

    def visit_lte(self, node: Lte) -> T:
        raise self.unsupported(node)

    def visit_in(self, node: In) -> T:
        raise self.unsupported(node)

    def visit_nin(self, node: Nin) -> T:
        raise self.unsupported(node)

    def visit_exists(self, node: Exists) -> T:
        raise self.unsupported(node)

    def visit_and(self, node: And) -> T:
        raise self.unsupported(node)

    def visit_or(self, node: Or) -> T:
        raise self.unsupported(node)

    def visit_not(self, node: Not) -> T:
        raise self.unsupported(node)


def format_filter(node: FilterNode) -> dict[str, Any]:
    """The canonical dict form of a tree (``parse_filter(format_filter(n)) == n``); used for keys and reports."""
    if isinstance(node, MatchAll):
        return {}
    if isinstance(node, Comparison | Range):
        return {node.field: {node.operator: node.value}}
    if isinstance(node, Membership):
        return {node.field: {node.operator: list(node.values)}}
    if isinstance(node, Exists):
        return {node.field: {"$exists": node.exists}}
    if isinstance(node, And | Or):
        return {node.operator: [format_filter(c) for c in node.children]}
    if isinstance(node, Not):
        return {"$not": format_filter(node.child)}
    raise TypeError(f"not a filter node: {node!r}")


__all__ = [
    "And",
    "Comparison",
    "Eq",
    "Exists",
    "Filter",
    "FilterCompiler",
    "FilterNode",
    "Gt",
    "Gte",
    "In",
    "Lt",
    "Lte",
    "MatchAll",
    "Membership",
    "Ne",
    "Nin",
    "Not",
    "Or",
    "Range",
    "evaluate",
    "fields_of",
    "format_filter",
    "parse_filter",
]

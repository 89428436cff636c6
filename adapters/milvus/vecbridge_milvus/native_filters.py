"""The portable filter compiled against a native Milvus collection's own fields, exactly or not at all.

A metadata key is a typed scalar field, an ARRAY field, a key of the dynamic field (``$meta``) or
of a JSON field whose keys are merged, or absent from the schema. Each leaf is answered on the
value as the contract *reads* it (after the conversion rules), so:

* a non-nullable typed field is never missing: ``$exists`` is a constant, ``!=`` is the exact
  complement of ``==``, and a value of another type never matches (``{"year": "x"}`` on an INT32);
* INT64 values beyond +-2**53 read as decimal strings: numeric leaves keep to the safe range and a
  decimal string beyond it compares with the integer; ranges on integer fields use the integer
  bounds of a fractional limit, and FLOAT (float32) fields the float32 bounds, so Milvus never
  rounds a literal;
* an ARRAY of VARCHAR reads as a list of str (empty: the JSON text ``"[]"``): ``$eq``/``$in`` are
  ``array_contains(_any)``; their negations need ``not``, which Milvus Lite 2.5 lacks: refused;
* a JSON key (dynamic or merged): ``==`` and ranges as vecbridge's own storage uses them (numbers
  compare as numbers, never with bools or lists; strings also match inside a list of strings).
  ``!=`` on a number or bool matches a missing key on Milvus Lite (checked there), so it is the
  exact complement; on a server it does not (Kleene logic): refused there. Negated string
  equality, negated ranges and ``$exists`` need a type tag native data does not have: refused;
* other JSON fields, arrays of numbers, nullable fields (as far as the leaf needs presence), and
  keys holding converted values in the sample: refused, naming the key.

Constants (a leaf that matches everything or nothing) compare the primary key with itself by a
tautology or a contradiction (Milvus has no boolean literals).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from vecbridge.errors import UnsupportedFilterError
from vecbridge.filters import (
    MAX_SAFE_INT,
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
from vecbridge_milvus.filters import literal, quote_string

_UNREPRESENTABLE = ("\n", "\r")
_NEGATED = {Gt: "<=", Gte: "<", Lt: ">=", Lte: ">"}
_OPERATOR = {Gt: ">", Gte: ">=", Lt: "<", Lte: "<="}
_INT64_MAX = 2**63 - 1
_FLOAT32_MAX = float(np.finfo(np.float32).max)


class Kind(enum.Enum):
    """How a metadata key is stored, as far as filters care."""

    BOOL = "bool"
    #: INT8, INT16, INT32: always within the safe range
    SMALL_INT = "small int"
    INT64 = "int64"
    FLOAT32 = "float32"
    DOUBLE = "double"
    VARCHAR = "varchar"
    STRING_ARRAY = "array of varchar"
    #: a key inside a JSON field (the dynamic field or a merged one)
    JSON_KEY = "json key"
    #: a key no record can hold (no such field, no dynamic field)
    ABSENT = "absent"


@dataclass(frozen=True, slots=True)
class Target:
    """Where a metadata key lives: the expression naming it, its kind, and whether it may be null."""

    path: str
    kind: Kind
    nullable: bool = False


class NativeFilterCompiler(FilterCompiler[str]):
    """Filter tree -> Milvus expression over native fields (negation pushed to the leaves)."""

    adapter_name: ClassVar[str] = "milvus"

    def __init__(
        self,
        targets: Mapping[str, Target],
        refused: Mapping[str, str],
        *,
        metadata: tuple[str, ...] | None,
        fallback: str | None,
        key_field: str,
        key_is_int: bool,
        lite: bool,
    ) -> None:
        """``targets``: the metadata keys known from the schema and the sample; ``refused``: keys and why;
        ``metadata``: the layout's metadata keys (``None``: all); ``fallback``: the JSON field holding
        keys no sample showed (``$meta`` or a merged field; ``None``: such keys are absent)."""
        self.targets = targets
        self.refused = refused
        self.metadata = metadata
        self.fallback = fallback
        self.lite = lite
        zero = "0" if key_is_int else '""'
        self.everything = f"({key_field} < {zero} or {key_field} >= {zero})"
        self.nothing = f"({key_field} < {zero} and {key_field} >= {zero})"
        self._negated = False

    def _constant(self, matches: bool) -> str:
        return self.everything if matches else self.nothing

    def _target(self, node: FilterNode, field: str) -> Target:
        reason = self.refused.get(field)
        if reason is None and self.metadata is not None and field not in self.metadata:
            reason = "is not among the layout's metadata keys"
        if reason is not None:
            raise UnsupportedFilterError(f"milvus: cannot filter on {field!r} in this collection: it {reason}")
        found = self.targets.get(field)
        if found is not None:
            return found
        if self.fallback is not None:
            return Target(f'{self.fallback}["{field}"]', Kind.JSON_KEY)
        return Target("", Kind.ABSENT)

    def _refuse(self, node: FilterNode, field: str, why: str) -> UnsupportedFilterError:
        return self.unsupported(node, f"{why} (key {field!r})")

    def _check_string(self, node: FilterNode, value: Scalar) -> None:
        if isinstance(value, str) and any(ch in value for ch in _UNREPRESENTABLE):
            raise self.unsupported(node, "a Milvus string literal cannot hold a line feed or carriage return")

    # --- one value ---------------------------------------------------------------------------------

    def _equals(self, node: FilterNode, field: str, value: Scalar, negated: bool) -> str:
        """``field == value`` as the contract reads it, or its exact complement."""
        target = self._target(node, field)
        self._check_string(node, value)
        if target.nullable and negated:
            raise self._refuse(node, field, "a nullable field's complement needs IS NULL")
        expression = self._positive_equals(node, field, target, value, negated)
        if expression is not None:
            return expression
        return self._constant(negated)  # no stored value can equal it

    def _positive_equals(
        self, node: FilterNode, field: str, target: Target, value: Scalar, negated: bool
    ) -> str | None:
        """The expression (``None``: matches nothing, so its complement everything)."""
        path, kind = target.path, target.kind
        eq, ne = "==", "!="
        op = ne if negated else eq
        if kind is Kind.BOOL:
            return f"{path} {op} {literal(value)}" if isinstance(value, bool) else None
        if kind in (Kind.SMALL_INT, Kind.INT64):
            number = _integer(value)
            if number is not None and -MAX_SAFE_INT <= number <= MAX_SAFE_INT:
                return f"{path} {op} {number}"
            big = _big_decimal(value) if kind is Kind.INT64 else None
            return None if big is None else f"{path} {op} {big}"
        if kind is Kind.FLOAT32:
            if isinstance(value, (bool, str)) or float(np.float32(value)) != float(value):
                return None
            return f"{path} {op} {float(value)!r}"
        if kind is Kind.DOUBLE:
            if isinstance(value, bool | str):
                return None
            return f"{path} {op} {float(value)!r}"
        if kind is Kind.VARCHAR:
            return f"{path} {op} {quote_string(value)}" if isinstance(value, str) else None
        if kind is Kind.STRING_ARRAY:
            if not isinstance(value, str):
                return None
            if negated:
                raise self._refuse(node, field, "'not array_contains' needs 'not', which Milvus Lite lacks")
            found = f"array_contains({path}, {quote_string(value)})"
            return f"({found} or array_length({path}) == 0)" if value == "[]" else found
        if kind is Kind.JSON_KEY:
            if not isinstance(value, str):
                if negated and not self.lite:
                    raise self._refuse(node, field, "'!=' on a Milvus server's JSON key does not match a missing key")
                return f"{path} {op} {literal(value)}"
            if negated:
                raise self._refuse(node, field, "the complement of string equality on a JSON key needs a type tag")
            text = quote_string(value)
            return f"({path} == {text} or json_contains({path}, {text}))"
        return None  # ABSENT

    def _membership(self, node: Membership, negated: bool) -> str:
        parts = [self._equals(node, node.field, value, negated) for value in _distinct(node.values)]
        return _join(parts, "and" if negated else "or")

    def _range(self, node: Range) -> str:
        negated = self._negated
        target = self._target(node, node.field)
        path, kind = target.path, target.kind
        if target.nullable and negated:
            raise self._refuse(node, node.field, "a nullable field's complement needs IS NULL")
        value = node.value
        kind_of = type(node)
        if kind in (Kind.SMALL_INT, Kind.INT64):
            bound = _integer_bound(kind_of, value)
            if bound is None:
                return self._constant(negated)
            if bound == "all":  # every number; an INT64 beyond the safe range reads as a string
                if kind is Kind.SMALL_INT:
                    return self._constant(not negated)
                if negated:
                    return f"({path} < {-MAX_SAFE_INT} or {path} > {MAX_SAFE_INT})"
                return f"({path} >= {-MAX_SAFE_INT} and {path} <= {MAX_SAFE_INT})"
            comparison = f"{path} {(_NEGATED if negated else _OPERATOR)[kind_of]} {bound}"
            if kind is Kind.SMALL_INT:
                return comparison
            if negated:
                return f"({path} < {-MAX_SAFE_INT} or {path} > {MAX_SAFE_INT} or {comparison})"
            return f"({path} >= {-MAX_SAFE_INT} and {path} <= {MAX_SAFE_INT} and {comparison})"
        if kind is Kind.FLOAT32:
            limit = _float32_bound(kind_of, float(value))
            if isinstance(limit, bool):
                return self._constant(limit != negated)
            return f"{path} {(_NEGATED if negated else _OPERATOR)[kind_of]} {limit!r}"
        if kind is Kind.DOUBLE:
            return f"{path} {(_NEGATED if negated else _OPERATOR)[kind_of]} {float(value)!r}"
        if kind is Kind.JSON_KEY:
            if negated:
                raise self._refuse(node, node.field, "the complement of a range on a JSON key needs a type tag")
            return f"{path} {_OPERATOR[kind_of]} {literal(value)}"
        return self._constant(negated)  # text, bool, arrays, absent keys: never in a numeric range

    # --- nodes -------------------------------------------------------------------------------------

    def visit_match_all(self, node: MatchAll) -> str:
        return self._constant(not self._negated)

    def visit_eq(self, node: Eq) -> str:
        return self._equals(node, node.field, node.value, self._negated)

    def visit_ne(self, node: Ne) -> str:
        return self._equals(node, node.field, node.value, not self._negated)

    def visit_in(self, node: In) -> str:
        return self._membership(node, self._negated)

    def visit_nin(self, node: Nin) -> str:
        return self._membership(node, not self._negated)

    def visit_gt(self, node: Gt) -> str:
        return self._range(node)

    def visit_gte(self, node: Gte) -> str:
        return self._range(node)

    def visit_lt(self, node: Lt) -> str:
        return self._range(node)

    def visit_lte(self, node: Lte) -> str:
        return self._range(node)

    def visit_exists(self, node: Exists) -> str:
        target = self._target(node, node.field)
        if target.kind is Kind.JSON_KEY or target.nullable:
            raise self._refuse(node, node.field, "Milvus Lite has no 'exists' or 'is null' for it")
        present = target.kind is not Kind.ABSENT
        return self._constant((present == node.exists) != self._negated)

    def visit_and(self, node: And) -> str:
        return _join([self.compile(child) for child in node.children], "or" if self._negated else "and")

    def visit_or(self, node: Or) -> str:
        return _join([self.compile(child) for child in node.children], "and" if self._negated else "or")

    def visit_not(self, node: Not) -> str:
        saved = self._negated
        self._negated = not saved
        try:
            return self.compile(node.child)
        finally:
            self._negated = saved


def _join(parts: list[str], op: str) -> str:
    return parts[0] if len(parts) == 1 else "(" + f" {op} ".join(parts) + ")"


def _distinct(values: tuple[Scalar, ...] | list[Scalar]) -> list[Scalar]:
    """Each value once; ``True`` and ``1`` stay two values."""
    return list({(type(v) is bool, v): v for v in values}.values())


def _integer(value: Scalar) -> int | None:
    """``value`` as an integer when it is a number equal to one."""
    if isinstance(value, (bool, str)):
        return None
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    return value


def _big_decimal(value: Scalar) -> int | None:
    """The INT64 a decimal string beyond +-2**53 reads back from (the conversion rule, reversed)."""
    if not isinstance(value, str) or not value.lstrip("-").isdigit() or not value.isascii():
        return None
    number = int(value)
    if str(number) != value or abs(number) <= MAX_SAFE_INT or not -_INT64_MAX - 1 <= number <= _INT64_MAX:
        return None
    return number


def _integer_bound(kind: type[Range], value: float) -> int | str | None:
    """The integer limit equivalent to ``value`` for integers in the safe range: ``None`` when no safe
    integer satisfies the range, ``"all"`` when every one does."""
    limit = math.floor(value) if kind in (Gt, Lte) else math.ceil(value)
    upward = kind in (Gt, Gte)
    if upward and (limit > MAX_SAFE_INT or (kind is Gt and limit >= MAX_SAFE_INT)):
        return None
    if not upward and (limit < -MAX_SAFE_INT or (kind is Lt and limit <= -MAX_SAFE_INT)):
        return None
    if upward and limit < -MAX_SAFE_INT:
        return "all"
    if not upward and limit > MAX_SAFE_INT:
        return "all"
    return limit


def _float32_bound(kind: type[Range], value: float) -> float | bool:
    """A float32 limit equivalent to ``value`` for float32 values (rounded outwards, so Milvus, which
    compares in float32, never rounds it); a bool when every (``True``) or no (``False``) value fits."""
    if value > _FLOAT32_MAX:
        return kind in (Lt, Lte)
    if value < -_FLOAT32_MAX:
        return kind in (Gt, Gte)
    down = np.float32(value)
    if float(down) > value:
        down = np.nextafter(down, np.float32(-np.inf))
    up = np.float32(value)
    if float(up) < value:
        up = np.nextafter(up, np.float32(np.inf))
    # x > v == x > down; x >= v == x >= up; x < v == x < up; x <= v == x <= down
    return float(down) if kind in (Gt, Lte) else float(up)

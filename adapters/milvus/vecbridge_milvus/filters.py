"""Compile the portable filter tree to a Milvus boolean expression over the ``meta`` JSON field.

Milvus Lite 2.5.1 (the Milvus 2.5 C++ core) has no usable ``not`` (every ``not (...)`` fails with
"unsupported expr proto node") and no ``exists``. So the compiler pushes every negation down to the
leaves (negation normal form) and uses only atoms whose complement Milvus has, checked on the engine:

* ``meta["k"] == v`` / ``!=``: ``!=`` is the exact complement of ``==``: it matches records missing
  ``k``, holding another type, or holding a list. ``==`` compares ints and floats as numbers and never
  matches a bool against a number, nor a list against a scalar.
* ranges ``meta["k"] > x`` match numbers only (never bools, strings, lists or a missing key); their
  complement is "not a number, or the opposite range", using the type tag written with each record.
* presence: each record carries a type tag ``vbx["t_<k>"]`` (a second JSON field) (``"s" "n" "b" "l"``) per key, so
  ``$exists`` is ``in`` / ``not in`` over the tags.
* list fields: ``json_contains`` / ``json_contains_any`` for "some element equals"; its complement
  uses a per-list object of element digests, ``vbx["l_<k>"]["<digest>"] == 1`` / ``!= 1``.

String literals are double-quoted with ``\\`` and ``"`` escaped; the Milvus tokenizer cannot carry a
line feed or carriage return inside a literal at all, and its other backslash escapes (``\\n``,
``\\u000a``) are not decoded, so a value holding ``\\n`` or ``\\r`` raises ``UnsupportedFilterError``.
``$in``/``$nin`` are split by type, because Milvus asserts that an ``in`` list holds one type.
Match-all and match-nothing nodes (``{}`` under a ``$not``) compare the primary key with ``""``,
which no record has: Milvus has no boolean constants (``true`` is "not a boolean expression" on a
server and fails in Lite), and ``pk in []`` fails in Lite.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import ClassVar

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

META_FIELD = "meta"
#: The primary key field: a digest (32 hex characters), never empty.
KEY_FIELD = "pk"
#: A second JSON field with the helper keys, never read back (so ``meta`` stays the user's metadata).
HELPER_FIELD = "vbx"
#: Reserved keys in ``meta`` start with this (the core reserves it: user keys never do).
RESERVED = "_vb"
TYPE_PREFIX = "t_"
LIST_PREFIX = "l_"
#: Type tags written per metadata key.
TAG_STRING, TAG_NUMBER, TAG_BOOL, TAG_LIST = "s", "n", "b", "l"
ALL_TAGS = (TAG_BOOL, TAG_LIST, TAG_NUMBER, TAG_STRING)
_UNREPRESENTABLE = ("\n", "\r")
_NEGATED_RANGE = {Gt: "<=", Gte: "<", Lt: ">=", Lte: ">"}
_RANGE = {Gt: ">", Gte: ">=", Lt: "<", Lte: "<="}


def element_digest(value: str) -> str:
    """Key of a list element in the per-list digest object (hex, so it never needs escaping)."""
    return hashlib.blake2b(value.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


def type_tag(value: object) -> str:
    if isinstance(value, bool):
        return TAG_BOOL
    if isinstance(value, str):
        return TAG_STRING
    if isinstance(value, list):
        return TAG_LIST
    return TAG_NUMBER


def field_path(name: str) -> str:
    """``meta["name"]``; field names are ``[A-Za-z_][A-Za-z0-9_]*`` (checked by the core parser)."""
    return f'{META_FIELD}["{name}"]'


def helper_path(name: str) -> str:
    """``vbx["name"]``: a helper key (type tag ``t_<k>`` or list digests ``l_<k>``)."""
    return f'{HELPER_FIELD}["{name}"]'


def quote_string(value: str) -> str:
    """A Milvus string literal for ``value``: double quotes, with ``\\`` and ``"`` backslash-escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def literal(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return quote_string(value)
    if isinstance(value, int):
        return str(value)
    return repr(float(value))


def _join(parts: Sequence[str], op: str) -> str:
    if len(parts) == 1:
        return parts[0]
    return "(" + f" {op} ".join(parts) + ")"


class MilvusFilterCompiler(FilterCompiler[str]):
    """Filter tree -> Milvus expression string (negation pushed to the leaves)."""

    adapter_name: ClassVar[str] = "milvus"

    def __init__(self) -> None:
        self._negated = False

    def _under(self, node: FilterNode, negated: bool) -> str:
        saved = self._negated
        self._negated = negated
        try:
            return self.compile(node)
        finally:
            self._negated = saved

    def _check_string(self, node: FilterNode, value: Scalar) -> None:
        if isinstance(value, str) and any(ch in value for ch in _UNREPRESENTABLE):
            raise self.unsupported(node, "a Milvus string literal cannot hold a line feed or carriage return")

    # --- one value, either polarity --------------------------------------------------------------

    def _equals(self, node: FilterNode, name: str, value: Scalar, negated: bool) -> str:
        path = field_path(name)
        self._check_string(node, value)
        if not isinstance(value, str):
            # numbers and bools: never a list element, and == / != are exact complements
            return f"{path} {'!=' if negated else '=='} {literal(value)}"
        text = quote_string(value)
        if not negated:
            return f"({path} == {text} or json_contains({path}, {text}))"
        digests = helper_path(LIST_PREFIX + name)
        return f'({path} != {text} and {digests}["{element_digest(value)}"] != 1)'

    def _membership(self, node: Membership, negated: bool) -> str:
        for value in node.values:
            self._check_string(node, value)
        path = field_path(node.field)
        strings = sorted({v for v in node.values if isinstance(v, str)})
        # keyed by type too: True == 1 and hash alike, but must stay two values
        others = list({(type(v) is bool, v): v for v in node.values if not isinstance(v, str)}.values())
        parts: list[str] = []
        if strings:
            texts = "[" + ", ".join(quote_string(s) for s in strings) + "]"
            if not negated:
                parts.append(f"{path} in {texts}")
                parts.append(f"json_contains_any({path}, {texts})")
            else:
                parts.append(f"{path} not in {texts}")
                digests = helper_path(LIST_PREFIX + node.field)
                parts.extend(f'{digests}["{element_digest(s)}"] != 1' for s in strings)
        # numbers and bools one by one: an ``in`` list must hold one type, and ints vs floats differ there
        parts.extend(f"{path} {'!=' if negated else '=='} {literal(v)}" for v in others)
        return _join(parts, "and" if negated else "or")

    # --- nodes -----------------------------------------------------------------------------------

    def visit_match_all(self, node: MatchAll) -> str:
        return f'{KEY_FIELD} {"==" if self._negated else "!="} ""'

    def visit_eq(self, node: Eq) -> str:
        return self._equals(node, node.field, node.value, self._negated)

    def visit_ne(self, node: Ne) -> str:
        return self._equals(node, node.field, node.value, not self._negated)

    def visit_in(self, node: In) -> str:
        return self._membership(node, self._negated)

    def visit_nin(self, node: Nin) -> str:
        return self._membership(node, not self._negated)

    def _range(self, node: Range) -> str:
        path = field_path(node.field)
        value = literal(node.value)
        if not self._negated:
            return f"{path} {_RANGE[type(node)]} {value}"
        tag = helper_path(TYPE_PREFIX + node.field)
        return f'({tag} != "{TAG_NUMBER}" or {path} {_NEGATED_RANGE[type(node)]} {value})'

    def visit_gt(self, node: Gt) -> str:
        return self._range(node)

    def visit_gte(self, node: Gte) -> str:
        return self._range(node)

    def visit_lt(self, node: Lt) -> str:
        return self._range(node)

    def visit_lte(self, node: Lte) -> str:
        return self._range(node)

    def visit_exists(self, node: Exists) -> str:
        tags = "[" + ", ".join(f'"{t}"' for t in ALL_TAGS) + "]"
        present = node.exists != self._negated
        return f"{helper_path(TYPE_PREFIX + node.field)} {'in' if present else 'not in'} {tags}"

    def visit_and(self, node: And) -> str:
        parts = [self.compile(child) for child in node.children]
        return _join(parts, "or" if self._negated else "and")

    def visit_or(self, node: Or) -> str:
        parts = [self.compile(child) for child in node.children]
        return _join(parts, "and" if self._negated else "or")

    def visit_not(self, node: Not) -> str:
        return self._under(node.child, not self._negated)


def shadow_keys(metadata: Mapping[str, object]) -> dict[str, object]:
    """The helper keys stored next to a record's metadata: a type tag per key, element digests per list."""
    extra: dict[str, object] = {}
    for key, value in metadata.items():
        extra[TYPE_PREFIX + key] = type_tag(value)
        if isinstance(value, list):
            extra[LIST_PREFIX + key] = {element_digest(str(e)): 1 for e in value}
    return extra

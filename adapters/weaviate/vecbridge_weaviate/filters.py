"""vecbridge filters compiled to the Weaviate client's ``Filter`` objects.

Negation is pushed to the leaves (De Morgan), so the compiled filter uses only ``Equal``,
``NotEqual``, ``GreaterThan(Equal)``, ``LessThan(Equal)``, ``ContainsAny``, ``And`` and ``Or``:
no ``Not`` / ``ContainsNone`` (which only newer servers have) and no ``IsNull`` (whose null-state
index does not cover objects written before a property was added, and treats "" and [] as null).

Leaves, for a metadata key ``k`` (see :mod:`vecbridge_weaviate.schema` for the properties):

=====================  ===================================================================
``{k: "a"}``           ``s_k == "a"  OR  l_k ContainsAny ["a"]``
``{k: 1}`` / ``1.0``   ``n_k == 1.0`` (valueNumber; ints and floats are one number type)
``{k: true}``          ``b_k == true``
``$ne``                ``NotEqual`` on each typed property above, joined by ``And``
``$in`` / ``$nin``     ``Or`` of ``$eq`` / ``And`` of ``$ne`` (``$nin`` expanded)
``$gt 2``              ``n_k > 2.0``; negated: ``n_k <= 2.0  OR  _vb_keys NotEqual "n:k"``
``$exists``            ``_vb_keys ContainsAny ["k"]``; false / negated: ``_vb_keys NotEqual "k"``
=====================  ===================================================================

The one server behaviour this relies on: ``NotEqual`` is the complement of ``Equal`` over all
objects of the collection (it matches objects where the property is null, missing, or was added
to the schema after they were written), and on a text[] property it excludes every object that
has the value as any element (``Equal``/``ContainsAny`` on an array match any element).

A key that the collection's schema does not know yet has never been written: its leaves are
constants (``$eq`` false, ``$ne`` true ...) folded away before anything is sent. A filter that
folds to "nothing" is answered without a request; one that folds to "everything" sends no filter.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import TypeAlias

from weaviate.classes.query import Filter
from weaviate.collections.classes.filters import _Filters

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
from vecbridge_weaviate.schema import (
    KEYS_PROP,
    bool_prop,
    encode_text,
    list_prop,
    number_marker,
    number_prop,
    text_prop,
)

#: A compiled filter: a client ``Filter``, or a constant (True: every record, False: none).
Lowered: TypeAlias = _Filters | bool


def all_of(parts: Sequence[Lowered]) -> Lowered:
    if any(part is False for part in parts):
        return False
    kept = [part for part in parts if not isinstance(part, bool)]
    if not kept:
        return True
    return kept[0] if len(kept) == 1 else Filter.all_of(kept)


def any_of(parts: Sequence[Lowered]) -> Lowered:
    if any(part is True for part in parts):
        return True
    kept = [part for part in parts if not isinstance(part, bool)]
    if not kept:
        return False
    return kept[0] if len(kept) == 1 else Filter.any_of(kept)


_RANGE_OPS: dict[type[Range], tuple[str, str]] = {
    # node type -> (client method for the node, client method for its negation on a present number)
    Gt: ("greater_than", "less_or_equal"),
    Gte: ("greater_or_equal", "less_than"),
    Lt: ("less_than", "greater_or_equal"),
    Lte: ("less_or_equal", "greater_than"),
}


class WeaviateFilterCompiler(FilterCompiler[Lowered]):
    """Compiles one filter tree for a collection whose schema knows the metadata keys ``known_keys``.

    ``known_keys=None`` compiles as if every key were known (the shape sent once every key exists).
    """

    adapter_name = "weaviate"

    def __init__(self, known_keys: Collection[str] | None = None, *, negated: bool = False) -> None:
        self.known_keys = known_keys
        self.negated = negated

    def _known(self, key: str) -> bool:
        return self.known_keys is None or key in self.known_keys

    def _child(self, node: FilterNode, *, flip: bool = False) -> Lowered:
        compiler = WeaviateFilterCompiler(self.known_keys, negated=self.negated != flip)
        return compiler.compile(node)

    # --- leaves --------------------------------------------------------------------------------

    def _equals(self, key: str, value: Scalar, negated: bool) -> Lowered:
        if not self._known(key):
            return negated
        if isinstance(value, bool):
            target = Filter.by_property(bool_prop(key))
            return target.not_equal(value) if negated else target.equal(value)
        if isinstance(value, str):
            text = encode_text(value)
            scalar = Filter.by_property(text_prop(key))
            listed = Filter.by_property(list_prop(key))
            if negated:
                return all_of([scalar.not_equal(text), listed.not_equal(text)])
            return any_of([scalar.equal(text), listed.contains_any([text])])
        number = Filter.by_property(number_prop(key))
        return number.not_equal(float(value)) if negated else number.equal(float(value))

    def visit_eq(self, node: Eq) -> Lowered:
        return self._equals(node.field, node.value, self.negated)

    def visit_ne(self, node: Ne) -> Lowered:
        return self._equals(node.field, node.value, not self.negated)

    def _membership(self, key: str, values: Sequence[Scalar], negated: bool) -> Lowered:
        parts = [self._equals(key, value, negated) for value in values]
        return all_of(parts) if negated else any_of(parts)

    def visit_in(self, node: In) -> Lowered:
        return self._membership(node.field, node.values, self.negated)

    def visit_nin(self, node: Nin) -> Lowered:
        return self._membership(node.field, node.values, not self.negated)

    def _range(self, node: Range) -> Lowered:
        if not self._known(node.field):
            return self.negated
        positive, negative = _RANGE_OPS[type(node)]
        target = Filter.by_property(number_prop(node.field))
        value = float(node.value)
        if not self.negated:
            method: Callable[[float], _Filters] = getattr(target, positive)
            return method(value)
        flipped: Callable[[float], _Filters] = getattr(target, negative)
        not_a_number = Filter.by_property(KEYS_PROP).not_equal(number_marker(node.field))
        return any_of([flipped(value), not_a_number])

    def visit_gt(self, node: Gt) -> Lowered:
        return self._range(node)

    def visit_gte(self, node: Gte) -> Lowered:
        return self._range(node)

    def visit_lt(self, node: Lt) -> Lowered:
        return self._range(node)

    def visit_lte(self, node: Lte) -> Lowered:
        return self._range(node)

    def visit_exists(self, node: Exists) -> Lowered:
        present = node.exists != self.negated
        if not self._known(node.field):
            return not present
        keys = Filter.by_property(KEYS_PROP)
        return keys.contains_any([node.field]) if present else keys.not_equal(node.field)

    # --- logic ---------------------------------------------------------------------------------

    def visit_match_all(self, node: MatchAll) -> Lowered:
        return not self.negated

    def visit_and(self, node: And) -> Lowered:
        parts = [self._child(child) for child in node.children]
        return any_of(parts) if self.negated else all_of(parts)

    def visit_or(self, node: Or) -> Lowered:
        parts = [self._child(child) for child in node.children]
        return all_of(parts) if self.negated else any_of(parts)

    def visit_not(self, node: Not) -> Lowered:
        return self._child(node.child, flip=True)

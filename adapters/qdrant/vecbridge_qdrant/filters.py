"""The portable filter tree compiled to Qdrant ``Filter`` objects, once, for every transport.

Each node maps to conditions whose meaning on Qdrant is exactly the contract's (checked against the
client's local mode and the real segment engine in ``qdrant-edge-py``):

* ``$eq`` on a string or bool: ``match.value`` (a match on an array payload matches any element;
  Qdrant keeps bools apart from numbers). On a number: ``range(gte=v, lte=v)``, because a Qdrant
  ``match`` on the int ``1`` does not match a stored ``1.0`` while a range compares every number
  as a float64 (exact for the contract's ints, which stay within +-2**53).
* ``$ne`` / ``$nin``: ``must_not`` of the positive condition, which matches records missing the
  field (``match.except`` would not).
* ``$gt $gte $lt $lte``: ``range``; Qdrant's range never matches a string, bool or missing field.
* ``$exists``: ``is_empty`` (true for a missing key, ``null`` and ``[]``; the contract stores none
  of the last two, so it means exactly "missing").
* ``$and $or $not``: ``must`` / ``should`` / ``must_not``; ``{}`` inside a tree is an empty ``Filter``.

The edge transport converts these objects to ``qdrant_edge`` types with :func:`to_edge`.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeAlias, cast

from qdrant_client.http import models

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
)
from vecbridge.types import Scalar

Condition: TypeAlias = models.Condition


def _equals(field: str, value: Scalar) -> models.FieldCondition:
    if isinstance(value, bool | str):
        return models.FieldCondition(key=field, match=models.MatchValue(value=value))
    return models.FieldCondition(key=field, range=models.Range(gte=value, lte=value))


def _any_of(field: str, values: tuple[Scalar, ...]) -> Condition:
    strings = [v for v in values if isinstance(v, str)]
    conditions: list[Condition] = [_equals(field, v) for v in values if not isinstance(v, str)]
    if len(strings) == 1:
        conditions.insert(0, _equals(field, strings[0]))
    elif strings:
        conditions.insert(0, models.FieldCondition(key=field, match=models.MatchAny(any=strings)))
    return conditions[0] if len(conditions) == 1 else models.Filter(should=conditions)


class QdrantFilterCompiler(FilterCompiler[Condition]):
    """One ``visit_*`` per node; :meth:`compile` always returns a top-level ``models.Filter``."""

    adapter_name: ClassVar[str] = "qdrant"

    def compile(self, node: FilterNode) -> models.Filter:
        condition = super().compile(node)
        return condition if isinstance(condition, models.Filter) else models.Filter(must=[condition])

    def _child(self, node: FilterNode) -> Condition:
        return super().compile(node)

    def key(self, field: str) -> str:
        """The payload key a filter field is stored under (vecbridge's own storage: the field itself;
        ``vecbridge_qdrant.native`` maps fields onto a collection's own keys, or refuses them)."""
        return field

    def visit_match_all(self, node: MatchAll) -> Condition:
        return models.Filter()

    def visit_eq(self, node: Eq) -> Condition:
        return _equals(self.key(node.field), node.value)

    def visit_ne(self, node: Ne) -> Condition:
        return models.Filter(must_not=[_equals(self.key(node.field), node.value)])

    def visit_gt(self, node: Gt) -> Condition:
        return models.FieldCondition(key=self.key(node.field), range=models.Range(gt=node.value))

    def visit_gte(self, node: Gte) -> Condition:
        return models.FieldCondition(key=self.key(node.field), range=models.Range(gte=node.value))

    def visit_lt(self, node: Lt) -> Condition:
        return models.FieldCondition(key=self.key(node.field), range=models.Range(lt=node.value))

    def visit_lte(self, node: Lte) -> Condition:
        return models.FieldCondition(key=self.key(node.field), range=models.Range(lte=node.value))

    def visit_in(self, node: In) -> Condition:
        return _any_of(self.key(node.field), node.values)

    def visit_nin(self, node: Nin) -> Condition:
        return models.Filter(must_not=[_any_of(self.key(node.field), node.values)])

    def visit_exists(self, node: Exists) -> Condition:
        empty = models.IsEmptyCondition(is_empty=models.PayloadField(key=self.key(node.field)))
        return models.Filter(must_not=[empty]) if node.exists else empty

    def visit_and(self, node: And) -> Condition:
        return models.Filter(must=[self._child(c) for c in node.children])

    def visit_or(self, node: Or) -> Condition:
        return models.Filter(should=[self._child(c) for c in node.children])

    def visit_not(self, node: Not) -> Condition:
        return models.Filter(must_not=[self._child(node.child)])


def with_namespace(namespace: str, filter: models.Filter | None) -> models.Filter:
    """The namespace condition every request carries (exact isolation), plus the user's filter."""
    tenant = models.FieldCondition(key="_vb_ns", match=models.MatchValue(value=namespace))
    if filter is None:
        return models.Filter(must=[tenant])
    return models.Filter(must=[tenant, filter])


# --- qdrant_edge -----------------------------------------------------------------------------------


def to_edge(condition: Condition) -> Any:
    """The same condition as ``qdrant_edge`` objects (the edge bindings have their own classes).

    Bools are passed as ``numpy.bool_``: the bindings read a Python ``bool`` in ``MatchValue`` as
    the integer 0/1 (``bool`` subclasses ``int``), which would match ints and not stored bools.
    """
    import numpy as np
    import qdrant_edge as edge

    if isinstance(condition, models.Filter):

        def convert(part: Any) -> list[Any] | None:
            if part is None:
                return None
            items = part if isinstance(part, list) else [part]
            return [to_edge(c) for c in items]

        return edge.Filter(
            must=convert(condition.must), should=convert(condition.should), must_not=convert(condition.must_not)
        )
    if isinstance(condition, models.IsEmptyCondition):
        return edge.IsEmptyCondition(condition.is_empty.key)
    if isinstance(condition, models.FieldCondition):
        match = condition.match
        if isinstance(match, models.MatchValue):
            value: Any = np.bool_(match.value) if isinstance(match.value, bool) else match.value
            return edge.FieldCondition(condition.key, match=edge.MatchValue(value))
        if isinstance(match, models.MatchAny):
            return edge.FieldCondition(condition.key, match=edge.MatchAny(cast(Any, list(match.any))))
        bounds = condition.range
        if match is None and isinstance(bounds, models.Range):
            return edge.FieldCondition(
                condition.key, range=edge.RangeFloat(gte=bounds.gte, gt=bounds.gt, lte=bounds.lte, lt=bounds.lt)
            )
    raise UnsupportedFilterError(f"qdrant+edge: no translation for {condition!r}")

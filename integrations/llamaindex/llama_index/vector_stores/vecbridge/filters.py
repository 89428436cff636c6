"""LlamaIndex ``MetadataFilters`` -> vecbridge's filter language, exactly or not at all.

Each ``FilterOperator`` becomes the vecbridge operator with the same meaning; one that has none
(``text_match``, ``text_match_insensitive``), or a value of the wrong shape, raises before any request
(``UnsupportedFilterError`` / ``InvalidFilterError``). The core then validates the result once more
(ranges take numbers only, ``$in`` a non-empty list). The meaning on the stored metadata:

* ``==`` / ``!=``: equal / not equal; ``!=`` and ``nin`` match nodes without the key (as LlamaIndex's
  own ``SimpleVectorStore`` does); ``== None`` means the key is missing, ``!= None`` that it is
  present. On a list-valued key, ``==``
  matches when an element equals (vecbridge's ``$eq``).
* ``> >= < <=``: numbers only (a string bound is refused: vecbridge has no string ordering).
* ``in`` / ``nin``: a non-empty list; ``any`` (a list key holds one of the values), ``all`` (it holds
  every value) and ``contains`` (it holds the value).
* ``is_empty``: the key is missing, or holds ``""`` (a list key holding ``""`` among others counts too:
  the one place where the mapping is wider than LlamaIndex's own store); ``None`` and ``[]`` are never
  stored as values (the node keeps them in ``_node_content``), so they read as missing.
* ``FilterCondition.AND`` / ``OR`` / ``NOT`` (none of the filters matches), nested to any depth.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llama_index.core.vector_stores.types import FilterCondition, FilterOperator, MetadataFilter, MetadataFilters

from vecbridge import InvalidFilterError, UnsupportedFilterError
from vecbridge.filters import Filter


def to_vecbridge_filter(filters: MetadataFilters) -> Filter:
    """The vecbridge filter with the meaning of ``filters``; ``{}`` (everything) for no filters."""
    parts = [
        to_vecbridge_filter(part) if isinstance(part, MetadataFilters) else _condition(part) for part in filters.filters
    ]
    condition = filters.condition or FilterCondition.AND
    if condition is FilterCondition.NOT:
        if not parts:
            raise InvalidFilterError("a NOT condition needs at least one filter")
        return {"$not": parts[0] if len(parts) == 1 else {"$or": parts}}
    if not parts:
        return {}
    if len(parts) == 1:
        return parts[0]
    return {"$and" if condition is FilterCondition.AND else "$or": parts}


def _condition(condition: MetadataFilter) -> Filter:
    translate = _OPERATORS.get(condition.operator)
    if translate is None:
        raise UnsupportedFilterError(
            f"LlamaIndex filter operator {condition.operator.value!r} on {condition.key!r} has no exact vecbridge "
            "equivalent (no substring or text search in the portable filter language)"
        )
    return translate(condition.key, condition.value)


def _scalar(key: str, value: Any, operator: str) -> Any:
    if isinstance(value, list):
        raise InvalidFilterError(f"LlamaIndex filter {operator!r} on {key!r} takes one value, not a list")
    return value


def _values(key: str, value: Any, operator: str) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidFilterError(f"LlamaIndex filter {operator!r} on {key!r} takes a list of values")
    return value


def _eq(key: str, value: Any) -> Filter:
    if value is None:
        return {key: {"$exists": False}}
    return {key: {"$eq": _scalar(key, value, "==")}}


def _ne(key: str, value: Any) -> Filter:
    if value is None:
        return {key: {"$exists": True}}
    return {key: {"$ne": _scalar(key, value, "!=")}}


def _compare(operator: str, symbol: str) -> Callable[[str, Any], Filter]:
    def translate(key: str, value: Any) -> Filter:
        return {key: {operator: _scalar(key, value, symbol)}}

    return translate


def _all(key: str, value: Any) -> Filter:
    values = _values(key, value, "all")
    if not values:
        raise InvalidFilterError(f"LlamaIndex filter 'all' on {key!r} needs at least one value")
    return {"$and": [{key: {"$eq": item}} for item in values]}


_OPERATORS: dict[FilterOperator, Callable[[str, Any], Filter]] = {
    FilterOperator.EQ: _eq,
    FilterOperator.NE: _ne,
    FilterOperator.GT: _compare("$gt", ">"),
    FilterOperator.GTE: _compare("$gte", ">="),
    FilterOperator.LT: _compare("$lt", "<"),
    FilterOperator.LTE: _compare("$lte", "<="),
    FilterOperator.IN: lambda key, value: {key: {"$in": _values(key, value, "in")}},
    FilterOperator.NIN: lambda key, value: {key: {"$nin": _values(key, value, "nin")}},
    FilterOperator.ANY: lambda key, value: {key: {"$in": _values(key, value, "any")}},
    FilterOperator.ALL: _all,
    FilterOperator.CONTAINS: lambda key, value: {key: {"$eq": _scalar(key, value, "contains")}},
    FilterOperator.IS_EMPTY: lambda key, _: {"$or": [{key: {"$exists": False}}, {key: {"$eq": ""}}]},
}

"""Pinecone's metadata filter language as documented, evaluated on one record's Pinecone metadata.

Documented (https://docs.pinecone.io/guides/search/filter-by-metadata): ``$eq $ne $gt $gte $lt $lte
$in $nin $exists $and $or``; a bare value means ``$eq``; ``$eq``/``$in`` on a list of strings match any
element; ``$ne``/``$nin`` on a list reject it when any element matches; ranges take numbers.

Left open by the docs, answered here in the way that breaks a client relying on it:
``$ne``/``$nin`` do NOT match a record missing the field; ``$in``/``$nin`` reject boolean operands.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

FIELD_OPERATORS = {"$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists"}


class FilterError(ValueError):
    """A filter the real service would reject with 400."""


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same(stored: Any, value: Any) -> bool:
    if isinstance(stored, bool) or isinstance(value, bool):
        return isinstance(stored, bool) and isinstance(value, bool) and stored is value
    if _number(stored) and _number(value):
        return float(stored) == float(value)
    return isinstance(stored, str) and isinstance(value, str) and stored == value


def _eq(metadata: Mapping[str, Any], field: str, value: Any) -> bool:
    stored = metadata.get(field)
    if isinstance(stored, list):
        return any(_same(element, value) for element in stored)
    return field in metadata and _same(stored, value)


def _check_scalar(value: Any, op: str) -> None:
    if not (isinstance(value, str | bool) or _number(value)):
        raise FilterError(f"{op} takes a string, number or boolean, got {value!r}")


def _field(metadata: Mapping[str, Any], field: str, condition: Any) -> bool:
    if not isinstance(condition, Mapping):
        _check_scalar(condition, "$eq")
        return _eq(metadata, field, condition)
    if not condition:
        raise FilterError(f"empty condition for {field!r}")
    result = True
    for op, operand in condition.items():
        if op not in FIELD_OPERATORS:
            raise FilterError(f"unknown operator {op!r}")
        present = field in metadata
        stored = metadata.get(field)
        if op == "$eq":
            _check_scalar(operand, op)
            ok = _eq(metadata, field, operand)
        elif op == "$ne":
            _check_scalar(operand, op)
            ok = present and not _eq(metadata, field, operand)
        elif op in ("$gt", "$gte", "$lt", "$lte"):
            if not _number(operand):
                raise FilterError(f"{op} takes a number, got {operand!r}")
            ok = (
                _number(stored)
                and {
                    "$gt": stored > operand,
                    "$gte": stored >= operand,
                    "$lt": stored < operand,
                    "$lte": stored <= operand,
                }[op]
            )
        elif op in ("$in", "$nin"):
            if not isinstance(operand, list) or not operand:
                raise FilterError(f"{op} takes a non-empty array")
            for value in operand:
                if not (isinstance(value, str) or _number(value)):
                    raise FilterError(f"{op} takes strings or numbers, got {value!r}")
            hit = any(_eq(metadata, field, value) for value in operand)
            ok = hit if op == "$in" else present and not hit
        else:
            if not isinstance(operand, bool):
                raise FilterError("$exists takes a boolean")
            ok = present is operand
        result = result and ok
    return result


def matches(node: Any, metadata: Mapping[str, Any]) -> bool:
    """Does a Pinecone filter (JSON) match the metadata? Raises ``FilterError`` for a malformed one."""
    if not isinstance(node, Mapping):
        raise FilterError(f"a filter is an object, got {node!r}")
    result = True
    for key, value in node.items():
        if key in ("$and", "$or"):
            if not isinstance(value, list) or not value:
                raise FilterError(f"{key} takes a non-empty array")
            outcomes = [matches(child, metadata) for child in value]
            ok = all(outcomes) if key == "$and" else any(outcomes)
        elif key.startswith("$"):
            raise FilterError(f"unknown operator {key!r}")
        else:
            ok = _field(metadata, key, value)
        result = result and ok
    return result

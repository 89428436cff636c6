"""Haystack filters -> vecbridge's filter language, exactly or not at all.

Haystack's filters (``{"field": "meta.x", "operator": "==", "value": 1}`` and
``{"operator": "AND"|"OR"|"NOT", "conditions": [...]}``) have the meaning of
``haystack.utils.filters.document_matches_filter``. Each becomes the vecbridge filter with that meaning
on ``meta.`` fields; a malformed filter raises Haystack's ``FilterError``, and what vecbridge cannot
express exactly raises ``UnsupportedFilterError``, both before any request:

* ``==`` / ``!=``: ``$eq`` / ``$ne`` (``!=`` matches documents without the field); ``== None`` is
  "field missing", ``!= None`` "field present".
* ``> >= < <=``: numbers (``$gt`` ...); ``None`` matches nothing; a list or a string that is not an
  ISO-8601 date is a ``FilterError`` (as in Haystack). **ISO-8601 date strings are refused**
  (``UnsupportedFilterError``): vecbridge orders numbers only; store dates as numbers (epoch seconds).
* ``in`` / ``not in``: a list (anything else is a ``FilterError``); ``not in`` matches documents without
  the field; an empty list matches nothing / everything.
* ``AND`` / ``OR`` / ``NOT`` (NOT of the AND of its conditions), nested to any depth.
* Fields other than ``meta.<key>`` (``content``, ``id``, nested ``meta.a.b``) are refused.

Where the meanings differ on stored values (documented in docs/integrations.md): ``==`` compares
strings as strings (Haystack also equates two spellings of one ISO date), a bool never equals a number,
and on a list-valued field ``==`` / ``in`` compare its elements (Haystack compares the whole list).
"""

from __future__ import annotations

from typing import Any

from haystack.errors import FilterError

from vecbridge import UnsupportedFilterError
from vecbridge.filters import Filter

#: matches no document: a key both present and missing
NOTHING: Filter = {"$and": [{"nothing": {"$exists": True}}, {"nothing": {"$exists": False}}]}
_RANGES = {">": "$gt", ">=": "$gte", "<": "$lt", "<=": "$lte"}


def to_vecbridge_filter(filters: dict[str, Any] | None) -> Filter:
    """The vecbridge filter with the meaning of Haystack's ``filters``; ``{}`` (everything) for none."""
    if not filters:
        return {}
    if not isinstance(filters, dict):
        raise FilterError(f"a Haystack filter is a dict, got {type(filters).__name__}")
    if "field" in filters:
        return _comparison(filters)
    if "operator" not in filters or "conditions" not in filters:
        raise FilterError(f"a logical filter needs 'operator' and 'conditions': {filters!r}")
    operator, conditions = filters["operator"], filters["conditions"]
    if not isinstance(conditions, list):
        raise FilterError(f"'conditions' must be a list, got {type(conditions).__name__}")
    parts = [to_vecbridge_filter(condition) if condition else {} for condition in conditions]
    every = {"$and": parts} if parts else {}
    if operator == "AND":
        return every
    if operator == "OR":
        return {"$or": parts} if parts else NOTHING
    if operator == "NOT":
        return {"$not": every} if parts else NOTHING
    raise FilterError(f"unknown logical operator {operator!r}: use AND, OR or NOT")


def _comparison(condition: dict[str, Any]) -> Filter:
    for key in ("field", "operator", "value"):
        if key not in condition:
            raise FilterError(f"a comparison needs 'field', 'operator' and 'value': {condition!r}")
    key = _meta_key(condition["field"])
    operator, value = condition["operator"], condition["value"]
    if operator == "==":
        return {key: {"$exists": False}} if value is None else {key: {"$eq": _scalar(value, operator)}}
    if operator == "!=":
        return {key: {"$exists": True}} if value is None else {key: {"$ne": _scalar(value, operator)}}
    if operator in _RANGES:
        return NOTHING if value is None else {key: {_RANGES[operator]: _bound(value, operator)}}
    if operator in ("in", "not in"):
        if not isinstance(value, list):
            raise FilterError(f"'{operator}' takes a list, got {type(value).__name__}")
        if not value:
            return NOTHING if operator == "in" else {}
        return {key: {"$in" if operator == "in" else "$nin": [_scalar(item, operator) for item in value]}}
    raise FilterError(f"unknown comparison operator {operator!r}")


def _meta_key(field: object) -> str:
    if not isinstance(field, str) or not field.startswith("meta.") or "." in field[5:] or not field[5:]:
        raise UnsupportedFilterError(f"vecbridge filters reach flat metadata only ('meta.<key>'), not {field!r}")
    return field[5:]


def _scalar(value: Any, operator: str) -> Any:
    if isinstance(value, list | dict) or value is None:
        raise UnsupportedFilterError(f"'{operator}' with {value!r}: vecbridge compares single values only")
    return value


def _bound(value: Any, operator: str) -> Any:
    if isinstance(value, list):
        raise FilterError(f"'{operator}' can't take a list")
    if isinstance(value, str):
        if _looks_like_iso_date(value):
            raise UnsupportedFilterError(
                f"'{operator}' with the date {value!r}: vecbridge orders numbers only (store dates as epoch seconds)"
            )
        raise FilterError(f"'{operator}' compares numbers (or ISO dates), not the string {value!r}")
    return value


def _looks_like_iso_date(value: str) -> bool:
    return len(value) >= 10 and value[4:5] == "-" and value[7:8] == "-" and value[:4].isdigit()

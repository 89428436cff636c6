"""Golden files: the Pinecone JSON of every conformance filter, and a review of it against the documented language.

``tests/golden/pinecone/<case>.json`` holds ``{"filter": <portable filter>, "pinecone": <compiled JSON or
null>}`` for every case of the conformance suite's ``FILTERS`` and ``OPERATOR_EXAMPLES``. A compiler change
shows up as a golden diff to review; regenerate with ``VECBRIDGE_UPDATE_GOLDEN=1``.

The review checks each compiled filter uses only what https://docs.pinecone.io/guides/search/filter-by-metadata
documents: the operators ``$eq $ne $gt $gte $lt $lte $in $nin $exists $and $or``; ``$in``/``$nin`` over strings
only or numbers only; ranges over numbers; ``$ne``/``$nin`` always paired with ``$exists: false`` on the same
field (so a missing field never depends on how Pinecone treats it), except on ``_vb_types``, which every
record vecbridge writes carries.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from vecbridge_conformance.filters_tests import FILTERS, OPERATOR_EXAMPLES
from vecbridge_pinecone import PineconeFilterCompiler
from vecbridge_pinecone.filters import TYPES_KEY

from vecbridge.filters import MatchAll, parse_filter

GOLDEN = Path(__file__).parent / "golden" / "pinecone"
CASES: dict[str, dict[str, Any]] = {
    **FILTERS,
    **{f"operator_{op.lstrip('$')}": example for op, example in OPERATOR_EXAMPLES.items()},
}
DOCUMENTED = {"$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists"}


def compiled(filter_: dict[str, Any]) -> Any:
    node = parse_filter(filter_)
    if isinstance(node, MatchAll):
        return None  # the core sends no filter at all
    return PineconeFilterCompiler().compile_filter(node).json


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def review(node: Any, guarded: frozenset[str] = frozenset(), path: str = "") -> None:
    """Assert ``node`` stays inside the documented filter language (see the module docstring).

    ``guarded``: fields whose missing case an enclosing ``$or`` already decides with ``$exists: false``.
    """
    assert isinstance(node, dict) and node, f"{path}: a filter is a non-empty object"
    for key, value in node.items():
        where = f"{path}.{key}" if path else key
        if key in ("$and", "$or"):
            assert isinstance(value, list) and value, f"{where}: needs a non-empty array"
            inner = guarded
            if key == "$or":
                inner = frozenset(
                    field
                    for child in value
                    if isinstance(child, dict) and len(child) == 1
                    for field, condition in child.items()
                    if condition == {"$exists": False}
                )
            for position, child in enumerate(value):
                review(child, inner, f"{where}[{position}]")
            continue
        assert not key.startswith("$"), f"{where}: {key} is not a documented operator"
        assert isinstance(value, dict) and len(value) == 1, f"{where}: one explicit operator per condition"
        [(op, operand)] = value.items()
        assert op in DOCUMENTED, f"{where}: {op} is not documented"
        if op in ("$ne", "$nin") and key != TYPES_KEY:
            assert key in guarded, f"{where}: {op} on {key!r} without an enclosing '$exists: false' branch"
        if op in ("$eq", "$ne"):
            assert isinstance(operand, str | bool) or _number(operand), f"{where}: scalar operand"
        elif op in ("$in", "$nin"):
            assert isinstance(operand, list) and operand, f"{where}: non-empty array"
            assert all(isinstance(v, str) for v in operand) or all(_number(v) for v in operand), (
                f"{where}: {op} over strings only or numbers only (booleans are not documented there)"
            )
        elif op == "$exists":
            assert isinstance(operand, bool)
        else:
            assert _number(operand), f"{where}: ranges take numbers"


@pytest.mark.parametrize("case", sorted(CASES))
def test_compiled_filter_matches_golden_file(case: str) -> None:
    path = GOLDEN / f"{case}.json"
    actual = {"filter": CASES[case], "pinecone": compiled(CASES[case])}
    if os.environ.get("VECBRIDGE_UPDATE_GOLDEN"):
        path.write_text(json.dumps(actual, indent=2, ensure_ascii=False) + "\n")
    assert path.exists(), f"no golden file {path.name}: run with VECBRIDGE_UPDATE_GOLDEN=1 and review the diff"
    assert json.loads(path.read_text()) == json.loads(json.dumps(actual))


def test_no_stale_golden_files() -> None:
    assert sorted(p.stem for p in GOLDEN.glob("*.json")) == sorted(CASES)


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_filter_uses_only_documented_pinecone_filter_language(case: str) -> None:
    document = json.loads((GOLDEN / f"{case}.json").read_text())
    if document["pinecone"] is not None:
        review(document["pinecone"])


def test_ne_is_not_equal_or_missing() -> None:
    assert compiled({"color": {"$ne": "red"}}) == {"$or": [{"color": {"$ne": "red"}}, {"color": {"$exists": False}}]}


def test_negated_range_matches_missing_and_non_numbers_through_the_type_list() -> None:
    assert compiled({"$not": {"n": {"$gt": 1}}}) == {"$or": [{"n": {"$lte": 1}}, {TYPES_KEY: {"$nin": ["n:i", "n:f"]}}]}


def test_boolean_membership_becomes_equality() -> None:
    assert compiled({"flag": {"$in": [True, "yes", 1]}}) == {
        "$or": [{"flag": {"$in": ["yes"]}}, {"flag": {"$in": [1]}}, {"flag": {"$eq": True}}]
    }

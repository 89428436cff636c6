"""The filter language: parsing errors name the bad node; the reference evaluator's semantics."""

import pytest

from vecbridge.errors import InvalidFilterError, UnsupportedFilterError
from vecbridge.filters import (
    And,
    Eq,
    FilterCompiler,
    MatchAll,
    Ne,
    Not,
    Or,
    evaluate,
    format_filter,
    parse_filter,
)


def matches(filter_: dict[str, object], metadata: dict[str, object]) -> bool:
    return evaluate(parse_filter(filter_), metadata)


@pytest.mark.parametrize(
    ("filter_", "path"),
    [
        ({"year": {"$gt": "x"}}, "year.$gt"),
        ({"$foo": 1}, "$foo"),
        ({"a": {"$in": []}}, "a.$in"),
        ({"a": {"$nin": "x"}}, "a.$nin"),
        ({"a": None}, "a"),
        ({"a": {"$eq": None}}, "a.$eq"),
        ({"a": {"$exists": 1}}, "a.$exists"),
        ({"a": {"$regex": "x"}}, "a.$regex"),
        ({"$and": []}, "$and"),
        ({"$or": {"a": 1}}, "$or"),
        ({"$not": [{"a": 1}]}, "$not"),
        ({"$and": [{"a": 1}, {"b": {"$lt": True}}]}, "$and[1].b.$lt"),
        ({"a": {"$in": [1, [2]]}}, "a.$in[1]"),
        ({"a": [1, 2]}, "a"),
        ({"a": {"b": 1}}, "a.b"),
        ({"a": {}}, "a"),
        ({"1abc": 1}, "1abc"),
        ({"_vb_ns": "x"}, "_vb_ns"),
        ({"a": float("nan")}, "a"),
        ({"a": 2**60}, "a"),
    ],
)
def test_malformed_filter_raises_invalid_filter_error_naming_the_path(filter_: dict[str, object], path: str) -> None:
    with pytest.raises(InvalidFilterError) as caught:
        parse_filter(filter_)
    assert caught.value.path == path


def test_a_filter_that_is_not_a_dict_is_invalid() -> None:
    with pytest.raises(InvalidFilterError):
        parse_filter([{"a": 1}])  # type: ignore[arg-type]


def test_empty_filter_and_none_match_everything() -> None:
    assert parse_filter({}) == MatchAll()
    assert parse_filter(None) == MatchAll()
    assert matches({}, {})


def test_several_keys_mean_and_and_a_bare_value_means_eq() -> None:
    assert parse_filter({"a": 1, "b": "x"}) == And((Eq("a", 1), Eq("b", "x")))


def test_and_or_with_an_empty_branch_simplify() -> None:
    assert parse_filter({"$and": [{}, {"a": 1}]}) == Eq("a", 1)
    assert parse_filter({"$or": [{}, {"a": 1}]}) == MatchAll()


@pytest.mark.parametrize(
    ("filter_", "metadata", "expected"),
    [
        ({"color": "red"}, {"color": "red"}, True),
        ({"color": "red"}, {}, False),
        ({"color": {"$ne": "red"}}, {}, True),  # $ne matches a missing field
        ({"color": {"$ne": "red"}}, {"color": "red"}, False),
        ({"color": {"$nin": ["red", "blue"]}}, {}, True),
        ({"color": {"$nin": ["red", "blue"]}}, {"color": "blue"}, False),
        ({"tags": "a"}, {"tags": ["a", "b"]}, True),  # $eq on a list: any element
        ({"tags": {"$ne": "a"}}, {"tags": ["a", "b"]}, False),
        ({"tags": {"$in": ["z", "b"]}}, {"tags": ["a", "b"]}, True),
        ({"x": 1}, {"x": True}, False),  # booleans are not numbers
        ({"x": True}, {"x": 1}, False),
        ({"x": 1}, {"x": 1.0}, True),  # ints and floats compare as numbers
        ({"x": {"$gt": 0}}, {"x": True}, False),
        ({"x": {"$gt": 0}}, {"x": "5"}, False),
        ({"x": {"$gt": 0}}, {}, False),
        ({"x": {"$lte": 2.5}}, {"x": 2}, True),
        ({"x": {"$gte": 3, "$lt": 5}}, {"x": 4}, True),
        ({"x": "1"}, {"x": 1}, False),
        ({"x": {"$exists": False}}, {}, True),
        ({"x": {"$exists": True}}, {"x": False}, True),
        ({"$not": {"x": 1}}, {}, True),
        ({"$or": [{"x": 1}, {"y": 2}]}, {"y": 2}, True),
        ({"$and": [{"x": 1}, {"$not": {"y": 2}}]}, {"x": 1, "y": 2}, False),
    ],
)
def test_reference_evaluator_semantics(filter_: dict[str, object], metadata: dict[str, object], expected: bool) -> None:
    assert matches(filter_, metadata) is expected


def test_format_filter_round_trips() -> None:
    filter_ = {"$or": [{"a": {"$in": [1, "x"]}}, {"$not": {"b": {"$exists": False}}}, {"c": {"$gte": 2}}]}
    node = parse_filter(filter_)
    assert parse_filter(format_filter(node)) == node


class EqualityOnly(FilterCompiler[str]):
    adapter_name = "toy"

    def visit_eq(self, node: Eq) -> str:
        return f"{node.field}={node.value}"


def test_compiler_base_raises_unsupported_for_nodes_a_backend_leaves_out() -> None:
    compiler = EqualityOnly()
    assert compiler.compile(Eq("a", 1)) == "a=1"
    with pytest.raises(UnsupportedFilterError, match=r"toy does not support \$ne"):
        compiler.compile(Ne("a", 1))
    with pytest.raises(UnsupportedFilterError, match=r"\$or"):
        compiler.compile(Or((Eq("a", 1), Eq("b", 2))))
    with pytest.raises(UnsupportedFilterError, match=r"\$not"):
        compiler.compile(Not(Eq("a", 1)))


def test_supported_operators_derive_from_the_compiler() -> None:
    assert EqualityOnly.supported_operators() == frozenset({"$eq"})

"""Filters: every operator on scalar, list and missing fields, nesting, and unsupported operators.

The expected answer of every case is computed by :func:`vecbridge.filters.evaluate` on the same
records; the cases only choose filters and data, never results.
"""

from __future__ import annotations

import contextlib
from typing import Any, ClassVar

import numpy as np
import pytest

import vecbridge as vb
from vecbridge.adapter import Adapter
from vecbridge.filters import NODE_TYPES, MatchAll
from vecbridge_conformance.base import (
    SCORE_TOLERANCE,
    CollectionFactory,
    SuiteBase,
    expected_ids,
    make_records,
    ranked,
    seeded_rng,
    separated_vectors,
)

#: Metadata of the filter data set: strings, ints, floats equal to ints, bools, lists, a field of
#: mixed types (so type strictness is visible) and fields missing on some records.
DATASET: list[dict[str, Any]] = [
    {"color": "red", "n": 1, "flag": True, "tags": ["a", "b"], "mixed": 1},
    {"color": "blue", "n": 2, "flag": False, "tags": ["b"], "mixed": "1"},
    {"color": "green", "n": 1.0, "flag": True, "tags": ["c", "a"], "mixed": True},
    {"color": "red", "n": 2.5, "tags": ["d"], "mixed": 1.0},
    {"color": "Red", "n": -3, "flag": False, "mixed": False},
    {"n": 0, "flag": True, "tags": ["a"], "mixed": 0},
    {"color": "blue", "tags": ["red", "blue"], "mixed": "red"},
    {"color": "red", "n": 10, "flag": False, "tags": ["b", "c", "d"]},
    {"color": "", "n": 2**53, "flag": True, "mixed": 2.5},
    {"color": "x' OR '1'='1", "n": -0.5, "tags": ["$eq", "{}"], "mixed": -1},
    {"color": "yellow", "n": 7, "flag": True, "tags": ["A"], "mixed": "true"},
    {},
    {"n": 3, "tags": ["e"], "mixed": ["1", "x"]},
    {"color": "red", "flag": True, "mixed": 0.0},
    {"color": "blue", "n": 1.5, "flag": False, "tags": ["a", "e"], "mixed": 10},
    {"color": "purple", "n": -(2**53), "tags": ["b"]},
]

FILTERS: dict[str, dict[str, Any]] = {
    # equality on scalars
    "eq_str_shorthand": {"color": "red"},
    "eq_str_explicit": {"color": {"$eq": "red"}},
    "eq_str_case_sensitive": {"color": "Red"},
    "eq_empty_string": {"color": ""},
    "eq_sql_lookalike": {"color": "x' OR '1'='1"},
    "eq_no_such_value": {"color": "nope"},
    "eq_no_such_field": {"absent_field": "red"},
    "eq_int": {"n": 1},
    "eq_int_matches_float": {"n": 1.0},
    "eq_float": {"n": 2.5},
    "eq_negative": {"n": -3},
    "eq_zero": {"n": 0},
    "eq_max_safe_int": {"n": 2**53},
    "eq_true": {"flag": True},
    "eq_false": {"flag": False},
    "eq_number_never_bool": {"mixed": 1},
    "eq_bool_never_number": {"mixed": True},
    "eq_zero_never_false": {"mixed": 0},
    "eq_string_never_number": {"mixed": "1"},
    # equality on lists: any element
    "eq_list_element": {"tags": "a"},
    "eq_list_element_explicit": {"tags": {"$eq": "d"}},
    "eq_list_case_sensitive": {"tags": "A"},
    "eq_list_syntax_lookalike": {"tags": "$eq"},
    "eq_mixed_list_field": {"mixed": "x"},
    # negation: matches missing fields
    "ne_str": {"color": {"$ne": "red"}},
    "ne_int": {"n": {"$ne": 1}},
    "ne_bool": {"flag": {"$ne": True}},
    "ne_list": {"tags": {"$ne": "a"}},
    "ne_mixed_number": {"mixed": {"$ne": 1}},
    "ne_absent_field": {"absent_field": {"$ne": "x"}},
    # ranges: numbers only, never missing, never bool
    "gt_int": {"n": {"$gt": 1}},
    "gte_int": {"n": {"$gte": 1}},
    "lt_float": {"n": {"$lt": 2.5}},
    "lte_float": {"n": {"$lte": 2.5}},
    "gt_negative": {"n": {"$gt": -1}},
    "lt_zero": {"n": {"$lt": 0}},
    "gte_max_safe": {"n": {"$gte": 2**53}},
    "range_window": {"n": {"$gte": 1, "$lt": 3}},
    "range_empty_window": {"n": {"$gt": 5, "$lt": 5}},
    "range_skips_bools": {"mixed": {"$gte": 0}},
    "range_on_string_field": {"color": {"$gt": 0}},
    "range_on_list_field": {"tags": {"$lt": 100}},
    "range_absent_field": {"absent_field": {"$lte": 1e9}},
    # membership
    "in_str": {"color": {"$in": ["red", "blue"]}},
    "in_int": {"n": {"$in": [1, 3]}},
    "in_mixed_types": {"mixed": {"$in": [1, "1"]}},
    "in_bool": {"flag": {"$in": [False]}},
    "in_list_field": {"tags": {"$in": ["c", "zzz"]}},
    "in_single": {"color": {"$in": ["green"]}},
    "in_none_match": {"color": {"$in": ["nope", "nada"]}},
    "nin_str": {"color": {"$nin": ["red", "blue"]}},
    "nin_int": {"n": {"$nin": [1, 2]}},
    "nin_list_field": {"tags": {"$nin": ["a", "b"]}},
    "nin_bool": {"mixed": {"$nin": [True, 1]}},
    # existence
    "exists_true": {"color": {"$exists": True}},
    "exists_false": {"color": {"$exists": False}},
    "exists_list_true": {"tags": {"$exists": True}},
    "exists_list_false": {"tags": {"$exists": False}},
    "exists_absent_field": {"absent_field": {"$exists": False}},
    # logic
    "implicit_and": {"color": "red", "flag": True},
    "and_explicit": {"$and": [{"color": "red"}, {"n": {"$gte": 1}}]},
    "and_single": {"$and": [{"tags": "b"}]},
    "or_simple": {"$or": [{"color": "green"}, {"n": {"$gt": 5}}]},
    "or_with_missing": {"$or": [{"flag": {"$exists": False}}, {"flag": False}]},
    "not_eq": {"$not": {"color": "red"}},
    "not_range_includes_missing": {"$not": {"n": {"$gt": 1}}},
    "not_ne": {"$not": {"color": {"$ne": "red"}}},
    "not_exists": {"$not": {"tags": {"$exists": True}}},
    "not_or": {"$not": {"$or": [{"color": "red"}, {"color": "blue"}]}},
    "and_of_ors": {"$and": [{"$or": [{"color": "red"}, {"color": "blue"}]}, {"$or": [{"flag": True}, {"tags": "b"}]}]},
    "or_of_ands": {
        "$or": [{"$and": [{"color": "red"}, {"n": {"$lt": 2}}]}, {"$and": [{"flag": False}, {"tags": "b"}]}]
    },
    "deep_nesting": {
        "$or": [{"$not": {"$and": [{"n": {"$gte": 0}}, {"$or": [{"tags": "a"}, {"tags": "d"}]}]}}, {"mixed": 1}]
    },
    "double_not": {"$not": {"$not": {"flag": True}}},
    "logic_with_field_ops": {"color": {"$in": ["red", "blue"]}, "$or": [{"n": {"$exists": False}}, {"n": {"$gt": 2}}]},
    "match_all": {},
    # match-all and match-nothing nodes anywhere in the tree
    "match_nothing": {"$not": {}},
    "not_not_match_all": {"$not": {"$not": {}}},
    "or_with_match_all": {"$or": [{}, {"color": "red"}]},
    "or_with_match_nothing": {"$or": [{"$not": {}}, {"color": "red"}]},
    "and_with_match_nothing": {"$and": [{"$not": {}}, {"color": "red"}]},
    "field_and_match_nothing": {"flag": True, "$not": {}},
    "not_of_and_with_match_nothing": {"$not": {"$and": [{"$not": {}}, {"flag": True}]}},
}

#: Filters used to delete: a subset covering each operator family.
DELETE_FILTERS = [
    "eq_str_shorthand",
    "eq_list_element",
    "ne_str",
    "gt_int",
    "in_mixed_types",
    "nin_list_field",
    "exists_false",
    "or_with_missing",
    "not_range_includes_missing",
    "match_nothing",
    "or_with_match_nothing",
]

#: One minimal filter per operator, for the unsupported-operator checks.
OPERATOR_EXAMPLES: dict[str, dict[str, Any]] = {
    "$eq": {"color": {"$eq": "red"}},
    "$ne": {"color": {"$ne": "red"}},
    "$gt": {"n": {"$gt": 1}},
    "$gte": {"n": {"$gte": 1}},
    "$lt": {"n": {"$lt": 1}},
    "$lte": {"n": {"$lte": 1}},
    "$in": {"color": {"$in": ["red"]}},
    "$nin": {"color": {"$nin": ["red"]}},
    "$exists": {"color": {"$exists": True}},
    "$and": {"$and": [{"color": {"$in": ["red"]}}, {"color": {"$in": ["blue"]}}]},
    "$or": {"$or": [{"color": {"$in": ["red"]}}, {"color": {"$in": ["blue"]}}]},
    "$not": {"$not": {"color": {"$in": ["red"]}}},
}
OPERATORS = [node.operator for node in NODE_TYPES if node is not MatchAll]


async def _dataset(
    new_collection: CollectionFactory, metric: str = "cosine"
) -> tuple[vb.Collection, list[vb.Record], np.ndarray[Any, np.dtype[np.float32]]]:
    vectors, query = separated_vectors(seeded_rng("filters", metric), len(DATASET), 8, metric)
    records = make_records(vectors, DATASET, prefix="f")
    collection = await new_collection(dimension=8, metric=metric)
    await collection.upsert(records)
    return collection, records, query


class _Forbidden:
    """Stands in for an adapter primitive that must not be reached."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def __call__(self, *args: object, **kwargs: object) -> Any:
        raise AssertionError(f"adapter.{self.name} was called: an unsupported filter must fail before any request")


class FilterTests(SuiteBase):
    group: ClassVar[str] = "filters"

    @pytest.mark.parametrize("case", sorted(FILTERS))
    async def test_filter_matches_reference(
        self, new_collection: CollectionFactory, adapter_class: type[Adapter], case: str
    ) -> None:
        """query, count and scan with the filter select exactly what the reference evaluator selects."""
        filter_ = FILTERS[case]
        node = self.require_filter(adapter_class, filter_)
        collection, records, query = await _dataset(new_collection)
        await self.expect_compiles(collection, node)
        wanted = expected_ids(records, node)
        assert await collection.count(filter_) == len(wanted)
        matches = await collection.query(query, top_k=len(records), filter=filter_)
        reference = ranked(records, "cosine", query, wanted)
        assert [m.id for m in matches] == [i for i, _ in reference]
        for match, (_, score) in zip(matches, reference, strict=True):
            assert match.score == pytest.approx(score, abs=SCORE_TOLERANCE)
        scanned = [r.id for r in await self.scan_all(collection, page_size=5, filter=filter_, include_vector=False)]
        assert sorted(scanned) == sorted(wanted)

    @pytest.mark.parametrize("case", ["eq_str_shorthand", "ne_list", "gt_int", "or_with_missing"])
    async def test_filtered_query_top_k_is_the_best_matching(
        self, new_collection: CollectionFactory, adapter_class: type[Adapter], case: str
    ) -> None:
        filter_ = FILTERS[case]
        node = self.require_filter(adapter_class, filter_)
        collection, records, query = await _dataset(new_collection, metric="euclidean")
        await self.expect_compiles(collection, node)
        wanted = expected_ids(records, node)
        matches = await collection.query(query, top_k=2, filter=filter_)
        assert [m.id for m in matches] == [i for i, _ in ranked(records, "euclidean", query, wanted)[:2]]

    @pytest.mark.parametrize("case", DELETE_FILTERS)
    async def test_delete_by_filter_matches_reference(
        self, new_collection: CollectionFactory, adapter_class: type[Adapter], case: str
    ) -> None:
        filter_ = FILTERS[case]
        node = self.require_filter(adapter_class, filter_)
        collection, records, _ = await _dataset(new_collection)
        await self.expect_compiles(collection, node)
        doomed = set(expected_ids(records, node))
        await collection.delete(filter=filter_)
        remaining = {r.id for r in await self.scan_all(collection, include_vector=False)}
        assert remaining == {r.id for r in records} - doomed
        assert await collection.count() == len(records) - len(doomed)

    @pytest.mark.parametrize("operator", OPERATORS)
    async def test_unsupported_operator_raises_before_any_request(
        self, store: vb.Store, new_collection: CollectionFactory, adapter_class: type[Adapter], operator: str
    ) -> None:
        """A declared operator compiles; an undeclared one raises UnsupportedFilterError without a request."""
        collection, _, query = await _dataset(new_collection)
        filter_ = OPERATOR_EXAMPLES[operator]
        if operator in adapter_class.supported_filter_operators():
            node = self.require_filter(adapter_class, filter_)
            await self.expect_compiles(collection, node)
            assert await collection.count(filter_) == expected_count(filter_)
            return
        adapter = store.adapter
        for primitive in ("query", "count", "scan", "delete_where"):
            setattr(adapter, primitive, _Forbidden(primitive))
        try:
            with pytest.raises(vb.UnsupportedFilterError):
                await collection.query(query, top_k=3, filter=filter_)
            with pytest.raises(vb.UnsupportedFilterError):
                await collection.count(filter_)
            with pytest.raises(vb.UnsupportedFilterError):
                await collection.delete(filter=filter_)
            with pytest.raises(vb.UnsupportedFilterError):
                await self.scan_all(collection, filter=filter_)
        finally:
            for primitive in ("query", "count", "scan", "delete_where"):
                delattr(adapter, primitive)

    async def test_supported_operators_are_declared(self, adapter_class: type[Adapter]) -> None:
        declared = adapter_class.supported_filter_operators()
        assert declared <= {node.operator for node in NODE_TYPES}
        assert "$eq" in declared, f"{adapter_class.name} must support at least $eq"

    async def test_empty_filter_matches_everything(self, new_collection: CollectionFactory) -> None:
        collection, records, query = await _dataset(new_collection)
        assert await collection.count({}) == len(records)
        assert await collection.count(None) == len(records)
        assert len(await collection.query(query, top_k=100, filter={})) == len(records)

    @pytest.mark.parametrize("case", ["match_nothing", "and_with_match_nothing", "field_and_match_nothing"])
    async def test_match_nothing_returns_no_records(
        self, new_collection: CollectionFactory, adapter_class: type[Adapter], case: str
    ) -> None:
        """Every backend answers a filter no record can match, never "unsupported" (unlike the cases
        above, no skip when the adapter refuses this shape)."""
        filter_ = FILTERS[case]
        self.require_filter(adapter_class, filter_)
        collection, records, query = await _dataset(new_collection)
        assert await collection.query(query, top_k=len(records), filter=filter_) == []
        assert await collection.count(filter_) == 0
        assert await self.scan_all(collection, filter=filter_) == []
        await collection.delete(filter=filter_)
        assert await collection.count() == len(records)

    async def test_filter_sees_replaced_metadata(self, new_collection: CollectionFactory) -> None:
        collection = await new_collection(dimension=4)
        await collection.upsert([vb.Record(id="a", vector=[1, 0, 0, 0], metadata={"color": "red", "n": 1})])
        await collection.upsert([vb.Record(id="a", vector=[1, 0, 0, 0], metadata={"color": "blue"})])
        assert await collection.count({"color": "red"}) == 0
        assert await collection.count({"color": "blue"}) == 1
        with contextlib.suppress(vb.UnsupportedFilterError):  # a native layout may lack a presence test
            assert await collection.count({"n": {"$exists": True}}) == 0


def expected_count(filter_: dict[str, Any]) -> int:
    records = [vb.Record(id=str(i), vector=[1.0], metadata=md) for i, md in enumerate(DATASET)]
    return len(expected_ids(records, filter_))

"""Query and scores: order, the score convention per metric against numpy, top_k, min_score, include flags."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pytest

import vecbridge as vb
from vecbridge.adapter import Adapter, Capability
from vecbridge_conformance.base import (
    SCORE_TOLERANCE,
    CollectionFactory,
    SuiteBase,
    assert_same_metadata,
    assert_vector_equal,
    make_records,
    ranked,
    seeded_rng,
    separated_vectors,
    uses,
)

METRICS = ["cosine", "dot", "euclidean"]


async def _loaded(
    new_collection: CollectionFactory, metric: str, count: int = 20, dimension: int = 8, seed: object = 0
) -> tuple[vb.Collection, list[vb.Record], np.ndarray[Any, np.dtype[np.float32]]]:
    vectors, query = separated_vectors(seeded_rng("query", metric, count, dimension, seed), count, dimension, metric)
    records = make_records(vectors)
    collection = await new_collection(dimension=dimension, metric=metric)
    await collection.upsert(records)
    return collection, records, query


def assert_matches_reference(
    matches: list[vb.Match], expected: list[tuple[str, float]], *, exact_order: bool = True
) -> None:
    assert [m.id for m in matches] == [i for i, _ in expected], "ids or order differ from the numpy reference"
    for match, (_, score) in zip(matches, expected, strict=True):
        assert match.score == pytest.approx(score, abs=SCORE_TOLERANCE), f"{match.id}: {match.score} != {score}"


class QueryTests(SuiteBase):
    group: ClassVar[str] = "query"

    @pytest.mark.parametrize("metric", METRICS)
    async def test_order_and_scores_match_numpy(self, new_collection: CollectionFactory, metric: str) -> None:
        collection, records, query = await _loaded(new_collection, metric)
        matches = await collection.query(query, top_k=5)
        assert_matches_reference(matches, ranked(records, metric, query)[:5])

    @pytest.mark.parametrize("metric", METRICS)
    async def test_top_k_above_count_returns_all(self, new_collection: CollectionFactory, metric: str) -> None:
        collection, records, query = await _loaded(new_collection, metric, count=7)
        matches = await collection.query(query, top_k=50)
        assert_matches_reference(matches, ranked(records, metric, query))

    @pytest.mark.parametrize("top_k", [1, 2, 10, 19, 20])
    async def test_top_k_is_exact(self, new_collection: CollectionFactory, top_k: int) -> None:
        collection, records, query = await _loaded(new_collection, "cosine")
        matches = await collection.query(query, top_k=top_k)
        assert_matches_reference(matches, ranked(records, "cosine", query)[:top_k])

    @pytest.mark.parametrize("metric", METRICS)
    async def test_min_score_filters_on_the_score(self, new_collection: CollectionFactory, metric: str) -> None:
        collection, records, query = await _loaded(new_collection, metric)
        reference = ranked(records, metric, query)
        threshold = (reference[5][1] + reference[6][1]) / 2  # between the 6th and 7th best
        matches = await collection.query(query, top_k=20, min_score=threshold)
        assert_matches_reference(matches, reference[:6])

    async def test_min_score_above_everything_returns_nothing(self, new_collection: CollectionFactory) -> None:
        collection, _, query = await _loaded(new_collection, "cosine")
        assert await collection.query(query, top_k=5, min_score=1.01) == []

    @pytest.mark.parametrize("metric", METRICS)
    @uses(Capability.NORMALIZES_COSINE_VECTORS)
    async def test_include_vector(
        self, new_collection: CollectionFactory, adapter_class: type[Adapter], metric: str
    ) -> None:
        collection, records, query = await _loaded(new_collection, metric, count=6)
        by_id = {r.id: r for r in records}
        normalize = metric == "cosine" and Capability.NORMALIZES_COSINE_VECTORS in adapter_class.capabilities
        for match in await collection.query(query, top_k=6, include_vector=True):
            assert match.vector is not None
            assert_vector_equal(match.vector, by_id[match.id].vector, normalize=normalize)

    async def test_vectors_left_out_by_default(self, new_collection: CollectionFactory) -> None:
        collection, _, query = await _loaded(new_collection, "dot", count=4)
        assert all(m.vector is None for m in await collection.query(query, top_k=4))

    async def test_matches_carry_metadata_and_document(self, new_collection: CollectionFactory) -> None:
        collection = await new_collection(dimension=4, metric="euclidean")
        records = [
            vb.Record(id="a", vector=[0, 0, 0, 1], metadata={"k": "a", "n": 1, "tags": ["x"]}, document="doc a"),
            vb.Record(id="b", vector=[0, 0, 1, 1], metadata={"flag": False}),
        ]
        await collection.upsert(records)
        first, second = await collection.query([0, 0, 0, 1], top_k=2)
        assert (first.id, first.document, second.id, second.document) == ("a", "doc a", "b", None)
        assert_same_metadata(first.metadata, records[0].metadata)
        assert_same_metadata(second.metadata, records[1].metadata)

    async def test_match_fields_have_plain_python_types(self, new_collection: CollectionFactory) -> None:
        collection, _, query = await _loaded(new_collection, "dot", count=4)
        for match in await collection.query(query, top_k=4):
            assert type(match.id) is str
            assert isinstance(match.score, float), f"score is {type(match.score).__name__}, not float"
            assert isinstance(match.metadata, dict)

    async def test_empty_collection_returns_nothing(self, new_collection: CollectionFactory) -> None:
        collection = await new_collection(dimension=4)
        assert await collection.query([1.0, 0.0, 0.0, 0.0], top_k=3) == []

    @pytest.mark.parametrize("form", ["list", "tuple", "float32", "float64", "int_list"])
    async def test_query_vector_forms(self, new_collection: CollectionFactory, form: str) -> None:
        collection = await new_collection(dimension=4, metric="euclidean")
        await collection.upsert([vb.Record(id="a", vector=[1, 2, 3, 4]), vb.Record(id="b", vector=[4, 3, 2, 1])])
        values = [1, 2, 3, 4]
        vector: Any = {
            "list": [float(v) for v in values],
            "tuple": tuple(float(v) for v in values),
            "float32": np.array(values, dtype=np.float32),
            "float64": np.array(values, dtype=np.float64),
            "int_list": values,
        }[form]
        [best] = await collection.query(vector, top_k=1)
        assert best.id == "a"
        assert best.score == pytest.approx(0.0, abs=SCORE_TOLERANCE)

    async def test_query_with_filter_returns_full_top_k(self, new_collection: CollectionFactory) -> None:
        vectors, query = separated_vectors(seeded_rng("full top_k"), 30, 8, "cosine")
        records = make_records(vectors, [{"even": i % 2 == 0} for i in range(30)])
        collection = await new_collection(dimension=8)
        await collection.upsert(records)
        matches = await collection.query(query, top_k=10, filter={"even": True})
        expected = ranked(records, "cosine", query, [r.id for r in records if r.metadata["even"]])[:10]
        assert_matches_reference(matches, expected)


class ScoreTests(SuiteBase):
    group: ClassVar[str] = "scores"

    @pytest.mark.parametrize("metric", METRICS)
    @pytest.mark.parametrize("dimension", [4, 16])
    @pytest.mark.parametrize("seed", [1, 2])
    async def test_every_score_matches_numpy(
        self, new_collection: CollectionFactory, metric: str, dimension: int, seed: int
    ) -> None:
        collection, records, query = await _loaded(new_collection, metric, count=12, dimension=dimension, seed=seed)
        matches = await collection.query(query, top_k=12)
        assert_matches_reference(matches, ranked(records, metric, query))

    async def test_cosine_identical_direction_scores_one(self, new_collection: CollectionFactory) -> None:
        collection = await new_collection(dimension=4, metric="cosine")
        await collection.upsert([vb.Record(id="a", vector=[2.0, 4.0, 6.0, 8.0])])
        [match] = await collection.query([1.0, 2.0, 3.0, 4.0], top_k=1)
        assert match.score == pytest.approx(1.0, abs=SCORE_TOLERANCE) and match.score <= 1.0

    async def test_cosine_opposite_direction_scores_minus_one(self, new_collection: CollectionFactory) -> None:
        collection = await new_collection(dimension=4, metric="cosine")
        await collection.upsert([vb.Record(id="a", vector=[1.0, 2.0, 3.0, 4.0])])
        [match] = await collection.query([-1.0, -2.0, -3.0, -4.0], top_k=1)
        assert match.score == pytest.approx(-1.0, abs=SCORE_TOLERANCE) and match.score >= -1.0

    async def test_cosine_ignores_magnitude(self, new_collection: CollectionFactory) -> None:
        collection = await new_collection(dimension=4, metric="cosine")
        await collection.upsert(
            [vb.Record(id="long", vector=[100.0, 1.0, 0.0, 0.0]), vb.Record(id="short", vector=[0.1, 0.1, 0.0, 0.0])]
        )
        matches = await collection.query([1.0, 0.0, 0.0, 0.0], top_k=2)
        assert [m.id for m in matches] == ["long", "short"]
        assert matches[1].score == pytest.approx(np.sqrt(0.5), abs=SCORE_TOLERANCE)

    async def test_dot_is_the_inner_product(self, new_collection: CollectionFactory) -> None:
        collection = await new_collection(dimension=4, metric="dot")
        await collection.upsert(
            [vb.Record(id="big", vector=[10.0, 0.0, 0.0, 0.0]), vb.Record(id="aligned", vector=[0.0, 1.0, 0.0, 0.0])]
        )
        matches = await collection.query([0.5, 0.9, 0.0, 0.0], top_k=2)
        assert [(m.id, round(m.score, 4)) for m in matches] == [("big", 5.0), ("aligned", 0.9)]

    async def test_dot_scores_may_be_negative(self, new_collection: CollectionFactory) -> None:
        collection = await new_collection(dimension=4, metric="dot")
        await collection.upsert([vb.Record(id="a", vector=[-3.0, 0.0, 0.0, 0.0])])
        [match] = await collection.query([2.0, 0.0, 0.0, 0.0], top_k=1)
        assert match.score == pytest.approx(-6.0, abs=SCORE_TOLERANCE)

    async def test_euclidean_identical_vector_scores_zero(self, new_collection: CollectionFactory) -> None:
        collection = await new_collection(dimension=4, metric="euclidean")
        await collection.upsert([vb.Record(id="a", vector=[0.3, -0.2, 5.0, 1.0])])
        [match] = await collection.query([0.3, -0.2, 5.0, 1.0], top_k=1)
        assert match.score == pytest.approx(0.0, abs=SCORE_TOLERANCE)

    async def test_euclidean_is_minus_true_distance_not_squared(self, new_collection: CollectionFactory) -> None:
        collection = await new_collection(dimension=4, metric="euclidean")
        await collection.upsert([vb.Record(id="a", vector=[3.0, 4.0, 0.0, 0.0])])
        [match] = await collection.query([0.0, 0.0, 0.0, 0.0], top_k=1)
        assert match.score == pytest.approx(-5.0, abs=SCORE_TOLERANCE)

    @pytest.mark.parametrize("metric", METRICS)
    async def test_scores_are_best_first(self, new_collection: CollectionFactory, metric: str) -> None:
        collection, _, query = await _loaded(new_collection, metric, count=15, seed="order")
        scores = [m.score for m in await collection.query(query, top_k=15)]
        assert scores == sorted(scores, reverse=True)
        assert len(scores) == 15

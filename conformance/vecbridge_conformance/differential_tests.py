"""Property-based differential test: random records and filters, the backend against ``memory://``.

Hypothesis drives a synchronous function, so the examples run on a dedicated event loop in a worker
thread (the test's own loop stays free); both stores are opened on that loop and closed after.
The number of examples comes from ``--vecbridge-examples``, ``$VECBRIDGE_CONFORMANCE_EXAMPLES``,
or the test class's ``conformance_examples`` (default 25).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

import vecbridge as vb
from vecbridge.filters import MatchAll, parse_filter
from vecbridge_conformance.base import SCORE_TOLERANCE, SuiteBase, reference_scores, unique_name

METRICS = ["cosine", "dot", "euclidean"]
DIMENSION = 6
# Small, colliding pools: equal-looking values of different types (1, 1.0, True, "1") meet often.
STRINGS = ["red", "Red", "", "1", "x'y", "$ne"]
INTS = [0, 1, -1, 2]
FLOATS = [0.0, 1.0, 2.5, -1.5]
SCALARS: list[Any] = [*STRINGS, *INTS, *FLOATS, True, False]
FIELDS = ["s", "i", "f", "b", "l", "m"]

_scalars = st.sampled_from(SCALARS)
_numbers = st.sampled_from([*INTS, *FLOATS])
_values: dict[str, st.SearchStrategy[Any]] = {
    "s": st.sampled_from(STRINGS),
    "i": st.sampled_from(INTS),
    "f": st.sampled_from(FLOATS),
    "b": st.booleans(),
    "l": st.lists(st.sampled_from(STRINGS[:4]), min_size=1, max_size=3),
    "m": _scalars,
}


@st.composite
def _metadata(draw: st.DrawFn) -> dict[str, Any]:
    return {name: draw(_values[name]) for name in FIELDS if draw(st.booleans())}


#: Filter operands per field: the field's own values plus look-alikes of other types.
_OPERANDS: dict[str, list[Any]] = {
    "s": [*STRINGS, 1, True],
    "i": [*INTS, 1.0, 0.0, True, "1"],
    "f": [*FLOATS, 1, 0, False],
    "b": [True, False, 1, 0, 1.0, "1"],
    "l": [*STRINGS[:4], 1],
    "m": SCALARS,
    "zz": SCALARS,
}


@st.composite
def _leaf(draw: st.DrawFn) -> dict[str, Any]:
    field = draw(st.sampled_from(list(_OPERANDS)))
    operands = st.sampled_from(_OPERANDS[field])
    kind = draw(st.sampled_from(["bare", "$eq", "$ne", "range", "$in", "$nin", "$exists"]))
    if kind == "bare":
        return {field: draw(operands)}
    if kind == "range":
        return {field: {draw(st.sampled_from(["$gt", "$gte", "$lt", "$lte"])): draw(_numbers)}}
    if kind in ("$in", "$nin"):
        return {field: {kind: draw(st.lists(operands, min_size=1, max_size=3))}}
    if kind == "$exists":
        return {field: {"$exists": draw(st.booleans())}}
    return {field: {kind: draw(operands)}}


FILTER_STRATEGY: st.SearchStrategy[dict[str, Any]] = st.recursive(
    _leaf(),
    lambda children: st.one_of(
        st.builds(lambda c: {"$and": c}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda c: {"$or": c}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda c: {"$not": c}, children),
    ),
    max_leaves=6,
)


@dataclass
class Scenario:
    metric: str
    metadata: list[dict[str, Any]]
    seed: int
    filters: list[dict[str, Any]]
    top_k: int


SCENARIOS = st.builds(
    Scenario,
    metric=st.sampled_from(METRICS),
    metadata=st.lists(_metadata(), min_size=2, max_size=16),
    seed=st.integers(0, 2**32 - 1),
    filters=st.lists(FILTER_STRATEGY, min_size=1, max_size=6),
    top_k=st.integers(1, 20),
)


class _Pair:
    """One collection per metric on the backend and on the reference engine."""

    def __init__(
        self,
        backend: vb.Store,
        reference: vb.Store,
        layout: vb.Layout | str | None = None,
        drop: Callable[[vb.Store, str], Awaitable[None]] | None = None,
    ) -> None:
        self.backend, self.reference = backend, reference
        #: a native layout to create the backend's collections in, and how to drop those
        self.layout, self._drop = layout, drop
        self.collections: dict[str, tuple[vb.Collection, vb.Collection]] = {}

    async def create(self) -> None:
        for metric in METRICS:
            name = unique_name()
            self.collections[metric] = (
                await self.backend.create_collection(name, DIMENSION, metric, layout=self.layout),
                await self.reference.create_collection(name, DIMENSION, metric),
            )

    async def drop(self) -> None:
        for backend, _ in self.collections.values():
            if self._drop is not None:
                await self._drop(self.backend, backend.name)
            else:
                await self.backend.drop_collection(backend.name, missing_ok=True)

    async def check(self, scenario: Scenario) -> None:
        backend, reference = self.collections[scenario.metric]
        rng = np.random.default_rng(scenario.seed)
        vectors = rng.normal(size=(len(scenario.metadata), DIMENSION)).astype(np.float32)
        query = rng.normal(size=DIMENSION).astype(np.float32)
        records = [vb.Record(id=f"d{i}", vector=vectors[i], metadata=md) for i, md in enumerate(scenario.metadata)]
        for collection in (backend, reference):
            await collection.delete(all=True)
            await collection.upsert(records)
        deleted = False
        for filter_ in scenario.filters:
            node = parse_filter(filter_)
            note(f"filter: {filter_}")
            if not isinstance(node, MatchAll):
                try:
                    self.backend.adapter.compile_filter(node, await backend.spec())
                except vb.UnsupportedFilterError:
                    continue  # refusing a filter is allowed; a different answer is not
            await self.compare_reads(scenario, filter_, backend, reference, records, vectors, query)
            if not deleted and not isinstance(node, MatchAll):
                deleted = True
                await self.compare_delete(filter_, backend, reference)

    @staticmethod
    async def compare_reads(
        scenario: Scenario,
        filter_: dict[str, Any],
        backend: vb.Collection,
        reference: vb.Collection,
        records: list[vb.Record],
        vectors: np.ndarray[Any, np.dtype[np.float32]],
        query: np.ndarray[Any, np.dtype[np.float32]],
    ) -> None:
        assert await backend.count(filter_) == await reference.count(filter_), "count differs"
        got = await backend.query(query, top_k=scenario.top_k, filter=filter_)
        want = await reference.query(query, top_k=scenario.top_k, filter=filter_)
        assert len(got) == len(want), f"query returned {len(got)} matches, reference {len(want)}"
        exact = dict(zip((r.id for r in records), reference_scores(scenario.metric, vectors, query), strict=True))
        matching = {m.id for m in await reference.query(query, top_k=len(records), filter=filter_)}
        for mine, theirs in zip(got, want, strict=True):
            assert mine.id in matching, f"{mine.id} does not match the filter"
            assert mine.score == pytest.approx(theirs.score, abs=SCORE_TOLERANCE), "score at this rank differs"
            assert mine.score == pytest.approx(exact[mine.id], abs=SCORE_TOLERANCE), f"{mine.id}: wrong score"
        assert len({m.id for m in got}) == len(got), "duplicate ids in query result"

    @staticmethod
    async def compare_delete(filter_: dict[str, Any], backend: vb.Collection, reference: vb.Collection) -> None:
        await backend.delete(filter=filter_)
        await reference.delete(filter=filter_)
        left = sorted(r.id for page in [p async for p in backend.scan(100, include_vector=False)] for r in page.records)
        expected = sorted(
            r.id for page in [p async for p in reference.scan(100, include_vector=False)] for r in page.records
        )
        assert left == expected, "delete(filter=) removed a different set of records"
        assert await backend.count() == len(expected)


def run_differential(
    backend_url: str,
    examples: int,
    layout: vb.Layout | str | None = None,
    drop: Callable[[vb.Store, str], Awaitable[None]] | None = None,
) -> None:
    """Run the property on a dedicated event loop (call from a worker thread or a sync context);
    with ``layout``, on collections created in that native layout and removed with ``drop``."""
    loop = asyncio.new_event_loop()
    try:
        backend = loop.run_until_complete(vb.connect(backend_url).open())
        reference = loop.run_until_complete(vb.connect("memory://").open())
        pair = _Pair(backend, reference, layout, drop)
        try:
            loop.run_until_complete(pair.create())

            @settings(
                max_examples=examples,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
                print_blob=True,
            )
            @given(scenario=SCENARIOS)
            def prop(scenario: Scenario) -> None:
                loop.run_until_complete(pair.check(scenario))

            prop()
        finally:
            loop.run_until_complete(pair.drop())
            loop.run_until_complete(backend.close())
            loop.run_until_complete(reference.close())
    finally:
        loop.close()


class DifferentialTests(SuiteBase):
    group: ClassVar[str] = "differential"

    async def test_random_records_and_filters_match_reference(
        self, backend_url: str, conformance_examples_count: int
    ) -> None:
        """query, count and delete(filter=) agree with memory:// on random data and random filters."""
        drop = None if self.layout is None else self.drop_native_collection
        await asyncio.to_thread(run_differential, backend_url, conformance_examples_count, self.layout, drop)

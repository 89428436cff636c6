"""Query-time search effort (``vb.SearchParams``): knobs honoured or refused, exact answers, stored defaults."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import numpy as np
import pytest

import vecbridge as vb
from vecbridge.adapter import Adapter, Capability
from vecbridge_conformance.base import (
    SCORE_TOLERANCE,
    CollectionFactory,
    SuiteBase,
    expected_ids,
    make_records,
    ranked,
    requires,
    seeded_rng,
    separated_vectors,
)

#: one setting per knob, each named by the capability that declares it per query
KNOBS: dict[str, tuple[Capability, vb.SearchParams]] = {
    "ef": (Capability.SEARCH_EF, vb.SearchParams(ef=64)),
    "probes": (Capability.SEARCH_PROBES, vb.SearchParams(probes=4)),
    "exact": (Capability.SEARCH_EXACT, vb.SearchParams(exact=True)),
}


class _Forbidden:
    """Stands in for ``adapter.query``: a refused knob must fail before any request."""

    async def __call__(self, *args: object, **kwargs: object) -> Any:
        raise AssertionError("adapter.query was called: an undeclared search knob must fail before any request")


class _Recording:
    """Wraps ``adapter.query`` and keeps the ``search`` each call was given."""

    def __init__(self, adapter: Adapter) -> None:
        self.query = adapter.query
        self.seen: list[object] = []

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.seen.append(kwargs.get("search"))
        return await self.query(*args, **kwargs)


async def _loaded(
    new_collection: CollectionFactory, count: int = 60, dimension: int = 8
) -> tuple[vb.Collection, list[vb.Record], np.ndarray[Any, np.dtype[np.float32]]]:
    vectors, query = separated_vectors(seeded_rng("search", count, dimension), count, dimension, "cosine")
    records = make_records(vectors, [{"i": i, "half": i % 2} for i in range(count)])
    collection = await new_collection(dimension=dimension, metric="cosine")
    await collection.upsert(records)
    return collection, records, query


@contextlib.asynccontextmanager
async def _another_connection(store: vb.Store, backend_url: str) -> AsyncIterator[vb.Store]:
    """A new connection where connections share collections; else the same one (``memory://``)."""
    if Capability.SHARED_ACROSS_CONNECTIONS not in store.capabilities:
        yield store
        return
    async with vb.connect(backend_url) as other:
        yield other


def _default_setting(adapter: type[Adapter]) -> vb.SearchParams:
    """A default the adapter can store: the first knob it takes per query or keeps as a setting."""
    for capability, setting in KNOBS.values():
        if capability in adapter.capabilities:
            return setting
    if Capability.SEARCH_EF_DEFAULT in adapter.capabilities:
        return KNOBS["ef"][1]
    pytest.skip(f"{adapter.name} lacks every search knob")


class SearchParamsTests(SuiteBase):
    group: ClassVar[str] = "search"

    @pytest.mark.parametrize("knob", sorted(KNOBS))
    async def test_knob_is_honoured_or_refused_before_any_request(
        self, store: vb.Store, new_collection: CollectionFactory, adapter_class: type[Adapter], knob: str
    ) -> None:
        """A declared knob answers a full top_k; an undeclared one raises UnsupportedFeatureError
        without reaching the adapter."""
        capability, setting = KNOBS[knob]
        collection, records, query = await _loaded(new_collection)
        if capability in adapter_class.capabilities:
            matches = await collection.query(query, top_k=10, search=setting)
            assert len(matches) == 10, f"{setting}: {len(matches)} matches for top_k=10 out of {len(records)}"
            return
        store.adapter.query = _Forbidden()  # type: ignore[method-assign]
        try:
            with pytest.raises(vb.UnsupportedFeatureError, match=capability.value):
                await collection.query(query, top_k=10, search=setting)
        finally:
            del store.adapter.query

    @requires(Capability.SEARCH_EF)
    async def test_ef_below_top_k_keeps_the_answer_full(self, new_collection: CollectionFactory) -> None:
        collection, _, query = await _loaded(new_collection)
        matches = await collection.query(query, top_k=20, search=vb.SearchParams(ef=2))
        assert len(matches) == 20

    @requires(Capability.SEARCH_EXACT)
    @pytest.mark.parametrize("filter_", [None, {"half": 1}], ids=["unfiltered", "filtered"])
    async def test_exact_answer_equals_the_reference(
        self, new_collection: CollectionFactory, filter_: dict[str, int] | None
    ) -> None:
        """``exact=True`` returns what the reference engine returns: the numpy top k, in order."""
        collection, records, query = await _loaded(new_collection)
        matches = await collection.query(query, top_k=15, filter=filter_, search=vb.SearchParams(exact=True))
        reference = ranked(records, "cosine", query, expected_ids(records, filter_))[:15]
        assert [m.id for m in matches] == [i for i, _ in reference]
        for match, (_, score) in zip(matches, reference, strict=True):
            assert match.score == pytest.approx(score, abs=SCORE_TOLERANCE)

    async def test_defaults_refused_where_not_stored(
        self, store: vb.Store, new_collection: CollectionFactory, adapter_class: type[Adapter]
    ) -> None:
        if Capability.SEARCH_DEFAULTS in adapter_class.capabilities:
            pytest.skip(f"{adapter_class.name} stores search defaults (see the next test)")
        collection, _, _ = await _loaded(new_collection, count=4)
        with pytest.raises(vb.UnsupportedFeatureError, match="default search"):
            await collection.set_search_defaults(vb.SearchParams(ef=40))

    @requires(Capability.SEARCH_DEFAULTS)
    async def test_stored_default_survives_a_new_connection_and_applies_to_plain_queries(
        self, store: vb.Store, new_collection: CollectionFactory, adapter_class: type[Adapter], backend_url: str
    ) -> None:
        collection, records, query = await _loaded(new_collection)
        setting = _default_setting(adapter_class)
        try:
            await collection.set_search_defaults(setting)
        except vb.UnsupportedFeatureError as exc:
            if self.layout is None:
                raise
            pytest.skip(f"{adapter_class.name} keeps no facts for this native layout: {exc}")
        async with _another_connection(store, backend_url) as other:
            reopened = other.collection(collection.name, layout=self.layout)
            assert (await reopened.spec()).search == setting
            recording = _Recording(other.adapter)
            other.adapter.query = recording  # type: ignore[method-assign]
            matches = await reopened.query(query, top_k=10)
            assert len(matches) == 10
            offered = adapter_class.capabilities
            per_query = vb.SearchParams(
                ef=setting.ef if Capability.SEARCH_EF in offered else None,
                probes=setting.probes if Capability.SEARCH_PROBES in offered else None,
                exact=setting.exact and Capability.SEARCH_EXACT in offered,
            )
            expected = per_query if per_query.to_dict() else None
            assert recording.seen == [expected], "a plain query must run with the stored default"
            del other.adapter.query
            if setting.exact:
                assert [m.id for m in matches] == [i for i, _ in ranked(records, "cosine", query)[:10]]
        await collection.set_search_defaults(None)
        async with _another_connection(store, backend_url) as other:
            assert (await other.collection(collection.name, layout=self.layout).spec()).search is None

    @requires(Capability.SEARCH_DEFAULTS)
    async def test_default_knob_the_backend_cannot_keep_is_refused_before_any_request(
        self, store: vb.Store, new_collection: CollectionFactory, adapter_class: type[Adapter]
    ) -> None:
        offered = adapter_class.capabilities
        kept = {
            "ef": Capability.SEARCH_EF in offered or Capability.SEARCH_EF_DEFAULT in offered,
            "probes": Capability.SEARCH_PROBES in offered,
            "exact": Capability.SEARCH_EXACT in offered,
        }
        refused = [name for name, ok in kept.items() if not ok]
        if not refused:
            pytest.skip(f"{adapter_class.name} keeps every knob as a default")
        collection, _, _ = await _loaded(new_collection, count=4)
        store.adapter.set_search_defaults = _Forbidden()  # type: ignore[method-assign]
        try:
            for name in refused:
                with pytest.raises(vb.UnsupportedFeatureError):
                    await collection.set_search_defaults(KNOBS[name][1])
        finally:
            del store.adapter.set_search_defaults

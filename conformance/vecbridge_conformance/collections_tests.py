"""Collections: lifecycle, and the facts stored with a collection (dimension, metric, index, model)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

import numpy as np
import pytest

import vecbridge as vb
from vecbridge.adapter import Adapter, Capability
from vecbridge_conformance.base import CollectionFactory, SuiteBase, requires, unique_name, uses

METRICS = ["cosine", "dot", "euclidean"]


def _vector(dimension: int) -> list[float]:
    return [float(i + 1) for i in range(dimension)]


OPERATIONS_ON_MISSING: dict[str, Callable[[vb.Collection], Awaitable[Any]]] = {
    "upsert": lambda c: c.upsert([vb.Record(id="a", vector=_vector(4))]),
    "query": lambda c: c.query(_vector(4), top_k=1),
    "get": lambda c: c.get(["a"]),
    "count": lambda c: c.count(),
    "delete_ids": lambda c: c.delete(ids=["a"]),
    "delete_all": lambda c: c.delete(all=True),
    "describe": lambda c: c.describe(),
}


class CollectionTests(SuiteBase):
    group: ClassVar[str] = "collections"

    @pytest.mark.parametrize("metric", METRICS)
    async def test_create_stores_facts(self, store: vb.Store, new_collection: CollectionFactory, metric: str) -> None:
        collection = await new_collection(dimension=12, metric=metric, embedding_model="model-x")
        info = await store.describe_collection(collection.name)
        assert (info.name, info.dimension, info.metric, info.embedding_model) == (
            collection.name,
            12,
            vb.Metric(metric),
            "model-x",
        )
        assert info.count == 0

    @pytest.mark.parametrize("metric", METRICS)
    @requires(Capability.PERSISTENT)
    async def test_facts_survive_reconnect(
        self, backend_url: str, store: vb.Store, new_collection: CollectionFactory, metric: str
    ) -> None:
        collection = await new_collection(dimension=6, metric=metric, embedding_model="all-MiniLM-L6-v2")
        await collection.upsert([vb.Record(id="a", vector=_vector(6))])
        await store.close()
        async with vb.connect(backend_url) as again:
            info = await again.describe_collection(collection.name)
            assert (info.dimension, info.metric, info.embedding_model, info.count) == (
                6,
                vb.Metric(metric),
                "all-MiniLM-L6-v2",
                1,
            )
            handle = again.collection(collection.name)
            with pytest.raises(vb.DimensionMismatchError):
                await handle.query(_vector(5), top_k=1)
        await store.open()

    @requires(Capability.SHARED_ACROSS_CONNECTIONS)
    async def test_second_connection_knows_the_facts(self, backend_url: str, new_collection: CollectionFactory) -> None:
        collection = await new_collection(dimension=5, metric="dot", embedding_model="m")
        async with vb.connect(backend_url) as other:
            spec = await other.collection(collection.name).spec()
            assert (spec.dimension, spec.metric, spec.embedding_model) == (5, vb.Metric.DOT, "m")

    async def test_embedding_model_is_optional(self, store: vb.Store, new_collection: CollectionFactory) -> None:
        collection = await new_collection(dimension=4)
        assert (await store.describe_collection(collection.name)).embedding_model is None

    @pytest.mark.parametrize("index", [vb.HNSW(m=8, ef_construction=64), vb.IVF(nlist=4), vb.Flat()], ids=str)
    @uses(Capability.INDEX_SETTINGS)
    async def test_every_index_kind_is_accepted(
        self, store: vb.Store, new_collection: CollectionFactory, adapter_class: type[Adapter], index: vb.IndexSpec
    ) -> None:
        collection = await new_collection(dimension=4, index=index)
        await collection.upsert([vb.Record(id="a", vector=_vector(4))])
        matches = await collection.query(_vector(4), top_k=1)
        assert [m.id for m in matches] == ["a"]
        if Capability.INDEX_SETTINGS in adapter_class.capabilities:
            assert (await store.describe_collection(collection.name)).index == index

    async def test_list_collections_includes_created(self, store: vb.Store, new_collection: CollectionFactory) -> None:
        first = await new_collection(dimension=4)
        second = await new_collection(dimension=7, metric="euclidean")
        listed = {spec.name: spec for spec in await store.list_collections()}
        assert first.name in listed and second.name in listed
        assert (listed[second.name].dimension, listed[second.name].metric) == (7, vb.Metric.EUCLIDEAN)

    async def test_drop_removes_collection(self, store: vb.Store, new_collection: CollectionFactory) -> None:
        collection = await new_collection(dimension=4)
        await collection.upsert([vb.Record(id="a", vector=_vector(4))])
        await store.drop_collection(collection.name)
        assert not await store.has_collection(collection.name)
        assert collection.name not in {spec.name for spec in await store.list_collections()}

    async def test_drop_then_recreate_is_empty(self, store: vb.Store, new_collection: CollectionFactory) -> None:
        collection = await new_collection(dimension=4)
        await collection.upsert([vb.Record(id="a", vector=_vector(4))])
        await store.drop_collection(collection.name)
        again = await store.create_collection(collection.name, 4, "dot")
        assert await again.count() == 0
        assert (await store.describe_collection(collection.name)).metric is vb.Metric.DOT

    async def test_has_collection(self, store: vb.Store, new_collection: CollectionFactory) -> None:
        collection = await new_collection(dimension=4)
        assert await store.has_collection(collection.name)
        assert not await store.has_collection(unique_name())

    async def test_create_existing_raises(self, store: vb.Store, new_collection: CollectionFactory) -> None:
        collection = await new_collection(dimension=4)
        with pytest.raises(vb.CollectionExistsError):
            await store.create_collection(collection.name, 4)

    async def test_create_exist_ok_same_facts_returns_it(
        self, store: vb.Store, new_collection: CollectionFactory
    ) -> None:
        collection = await new_collection(dimension=4, metric="dot")
        await collection.upsert([vb.Record(id="a", vector=_vector(4))])
        again = await store.create_collection(collection.name, 4, "dot", exist_ok=True)
        assert await again.count() == 1

    async def test_create_exist_ok_different_facts_raises(
        self, store: vb.Store, new_collection: CollectionFactory
    ) -> None:
        collection = await new_collection(dimension=4, metric="dot")
        with pytest.raises(vb.CollectionExistsError):
            await store.create_collection(collection.name, 5, "dot", exist_ok=True)

    async def test_drop_missing_raises(self, store: vb.Store) -> None:
        with pytest.raises(vb.CollectionNotFoundError):
            await store.drop_collection(unique_name())

    async def test_drop_missing_ok(self, store: vb.Store) -> None:
        await store.drop_collection(unique_name(), missing_ok=True)

    async def test_describe_missing_raises(self, store: vb.Store) -> None:
        with pytest.raises(vb.CollectionNotFoundError):
            await store.describe_collection(unique_name())

    @pytest.mark.parametrize("operation", sorted(OPERATIONS_ON_MISSING))
    async def test_operation_on_missing_collection_raises(self, store: vb.Store, operation: str) -> None:
        handle = store.collection(unique_name())
        with pytest.raises(vb.CollectionNotFoundError):
            await OPERATIONS_ON_MISSING[operation](handle)

    async def test_scan_missing_collection_raises(self, store: vb.Store) -> None:
        with pytest.raises(vb.CollectionNotFoundError):
            await self.scan_all(store.collection(unique_name()))

    async def test_embedding_model_mismatch_raises(self, store: vb.Store, new_collection: CollectionFactory) -> None:
        collection = await new_collection(dimension=4, embedding_model="model-a")
        with pytest.raises(vb.EmbeddingModelMismatchError):
            await store.collection(collection.name, embedding_model="model-b").count()
        assert await store.collection(collection.name, embedding_model="model-a").count() == 0

    async def test_describe_counts_every_namespace(self, store: vb.Store, new_collection: CollectionFactory) -> None:
        collection = await new_collection(dimension=4)
        await collection.upsert([vb.Record(id=str(i), vector=_vector(4)) for i in range(3)])
        await collection.with_namespace("other").upsert([vb.Record(id="x", vector=_vector(4))])
        assert (await store.describe_collection(collection.name)).count == 4
        assert (await collection.describe()).count == 3

    async def test_list_namespaces(self, store: vb.Store, new_collection: CollectionFactory) -> None:
        collection = await new_collection(dimension=4)
        await collection.upsert([vb.Record(id="a", vector=_vector(4))])
        await collection.with_namespace("tenant-1").upsert([vb.Record(id="a", vector=_vector(4))])
        assert await store.list_namespaces(collection.name) == ["default", "tenant-1"]

    async def test_collections_are_independent(self, new_collection: CollectionFactory) -> None:
        first = await new_collection(dimension=4)
        second = await new_collection(dimension=4)
        await first.upsert([vb.Record(id="a", vector=_vector(4), metadata={"k": 1})])
        assert await second.count() == 0
        assert await second.get(["a"]) == []
        assert await second.query(np.ones(4), top_k=5) == []

"""Namespaces and consistency: exact isolation in every operation, and read-your-writes."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

import vecbridge as vb
from vecbridge.adapter import Adapter, Capability
from vecbridge_conformance.base import CollectionFactory, SuiteBase, assert_same_metadata, requires, seeded_rng


def _vectors(count: int, seed: object) -> np.ndarray[tuple[int, int], np.dtype[np.float32]]:
    return seeded_rng("namespaces", seed).normal(size=(count, 4)).astype(np.float32)


async def _two_tenants(new_collection: CollectionFactory) -> tuple[vb.Collection, vb.Collection]:
    """The same ids in two namespaces with different metadata: 'ns-a' has 6 records, 'ns-b' has 4."""
    base = await new_collection(dimension=4, metric="euclidean")
    tenant_a, tenant_b = base.with_namespace("ns-a"), base.with_namespace("ns-b")
    va, vb_ = _vectors(6, "a"), _vectors(4, "b")
    await tenant_a.upsert(
        [vb.Record(id=f"id{i}", vector=va[i], metadata={"owner": "a", "i": i}, document="A") for i in range(6)]
    )
    await tenant_b.upsert(
        [vb.Record(id=f"id{i}", vector=vb_[i], metadata={"owner": "b", "i": i}, document="B") for i in range(4)]
    )
    return tenant_a, tenant_b


class NamespaceTests(SuiteBase):
    group: ClassVar[str] = "namespaces"

    async def test_get_is_isolated(self, new_collection: CollectionFactory) -> None:
        a, b = await _two_tenants(new_collection)
        assert {r.metadata["owner"] for r in await a.get([f"id{i}" for i in range(6)])} == {"a"}
        got = await b.get([f"id{i}" for i in range(6)])
        assert sorted(r.id for r in got) == [f"id{i}" for i in range(4)]
        assert {r.document for r in got} == {"B"}

    async def test_query_is_isolated(self, new_collection: CollectionFactory) -> None:
        a, b = await _two_tenants(new_collection)
        assert {m.metadata["owner"] for m in await a.query(np.ones(4), top_k=20)} == {"a"}
        matches = await b.query(_vectors(6, "a")[5], top_k=20)
        assert len(matches) == 4 and {m.metadata["owner"] for m in matches} == {"b"}

    async def test_filtered_query_is_isolated(self, new_collection: CollectionFactory) -> None:
        a, b = await _two_tenants(new_collection)
        assert await b.query(np.ones(4), top_k=10, filter={"owner": "a"}) == []
        assert len(await a.query(np.ones(4), top_k=10, filter={"owner": "a"})) == 6

    async def test_count_is_isolated(self, new_collection: CollectionFactory) -> None:
        a, b = await _two_tenants(new_collection)
        assert (await a.count(), await b.count()) == (6, 4)
        assert (await a.count({"owner": "b"}), await b.count({"owner": "a"})) == (0, 0)

    async def test_scan_is_isolated(self, new_collection: CollectionFactory) -> None:
        a, b = await _two_tenants(new_collection)
        scanned = await self.scan_all(b, page_size=2)
        assert sorted(r.id for r in scanned) == [f"id{i}" for i in range(4)]
        assert {r.metadata["owner"] for r in scanned} == {"b"}
        assert len(await self.scan_all(a, page_size=4)) == 6

    async def test_upsert_replaces_only_in_its_namespace(self, new_collection: CollectionFactory) -> None:
        a, b = await _two_tenants(new_collection)
        await b.upsert([vb.Record(id="id0", vector=np.ones(4), metadata={"owner": "b", "new": True})])
        [in_a] = await a.get(["id0"])
        assert_same_metadata(in_a.metadata, {"owner": "a", "i": 0})
        [in_b] = await b.get(["id0"])
        assert_same_metadata(in_b.metadata, {"owner": "b", "new": True})

    async def test_delete_ids_is_isolated(self, new_collection: CollectionFactory) -> None:
        a, b = await _two_tenants(new_collection)
        await b.delete(ids=["id0", "id1", "id5"])
        assert (await a.count(), await b.count()) == (6, 2)
        assert len(await a.get(["id0", "id1"])) == 2

    async def test_delete_filter_is_isolated(
        self, new_collection: CollectionFactory, adapter_class: type[Adapter]
    ) -> None:
        self.require_filter(adapter_class, {"i": {"$in": [0, 1, 2]}})
        a, b = await _two_tenants(new_collection)
        await a.delete(filter={"i": {"$in": [0, 1, 2]}})
        assert (await a.count(), await b.count()) == (3, 4)

    async def test_delete_all_is_isolated(self, new_collection: CollectionFactory) -> None:
        a, b = await _two_tenants(new_collection)
        await a.delete(all=True)
        assert (await a.count(), await b.count()) == (0, 4)

    async def test_empty_namespace_sees_nothing(self, new_collection: CollectionFactory) -> None:
        a, _ = await _two_tenants(new_collection)
        empty = a.with_namespace("ns-empty")
        assert await empty.count() == 0
        assert await empty.query(np.ones(4), top_k=5) == []
        assert await empty.get(["id0"]) == []
        assert await self.scan_all(empty) == []

    async def test_default_namespace_is_named_default(self, store: vb.Store, new_collection: CollectionFactory) -> None:
        collection = await new_collection(dimension=4)
        await collection.upsert([vb.Record(id="a", vector=np.ones(4))])
        assert collection.namespace == vb.DEFAULT_NAMESPACE == "default"
        assert await store.collection(collection.name, namespace="default").count() == 1
        assert await collection.with_namespace("Default").count() == 0

    @pytest.mark.parametrize("namespace", ["a", "tenant-42", "v1.2_x", "UPPER", "9" * 64])
    async def test_namespace_names(self, new_collection: CollectionFactory, namespace: str) -> None:
        collection = await new_collection(dimension=4)
        scoped = collection.with_namespace(namespace)
        await scoped.upsert([vb.Record(id="a", vector=np.ones(4), metadata={"ns": namespace})])
        assert await collection.count() == 0
        [got] = await scoped.get(["a"])
        assert got.metadata == {"ns": namespace}
        assert namespace in await collection.store.list_namespaces(collection.name)


class ConsistencyTests(SuiteBase):
    group: ClassVar[str] = "consistency"

    async def test_read_your_writes_get(self, new_collection: CollectionFactory) -> None:
        collection = await new_collection(dimension=4)
        for i in range(5):
            await collection.upsert([vb.Record(id=f"r{i}", vector=[1.0, float(i), 0.0, 1.0], metadata={"i": i})])
            [got] = await collection.get([f"r{i}"])
            assert got.metadata == {"i": i}

    async def test_read_your_writes_count_and_query(self, new_collection: CollectionFactory) -> None:
        collection = await new_collection(dimension=4, metric="euclidean")
        for i in range(5):
            vector = [float(i), 1.0, 2.0, 3.0]
            await collection.upsert([vb.Record(id=f"r{i}", vector=vector, metadata={"i": i})])
            assert await collection.count() == i + 1
            assert await collection.count({"i": i}) == 1
            [best] = await collection.query(vector, top_k=1)
            assert best.id == f"r{i}"

    async def test_read_your_writes_scan(self, new_collection: CollectionFactory) -> None:
        collection = await new_collection(dimension=4)
        await collection.upsert([vb.Record(id=f"r{i}", vector=[1.0, 2.0, 3.0, float(i)]) for i in range(7)])
        assert len(await self.scan_all(collection)) == 7

    async def test_read_your_replacements(self, new_collection: CollectionFactory) -> None:
        collection = await new_collection(dimension=4)
        for version in range(4):
            await collection.upsert([vb.Record(id="a", vector=[1.0, 0.0, 0.0, 1.0], metadata={"v": version})])
            [match] = await collection.query([1.0, 0.0, 0.0, 1.0], top_k=1)
            assert match.metadata == {"v": version}
            assert await collection.count({"v": version}) == 1

    async def test_read_your_deletes(self, new_collection: CollectionFactory) -> None:
        collection = await new_collection(dimension=4, metric="euclidean")
        await collection.upsert([vb.Record(id=f"r{i}", vector=[float(i), 0.0, 0.0, 0.0]) for i in range(4)])
        for i in range(4):
            await collection.delete(ids=[f"r{i}"])
            assert await collection.count() == 3 - i
            assert f"r{i}" not in {m.id for m in await collection.query([float(i), 0.0, 0.0, 0.0], top_k=4)}

    async def test_read_your_filtered_deletes(
        self, new_collection: CollectionFactory, adapter_class: type[Adapter]
    ) -> None:
        collection = await new_collection(dimension=4)
        await collection.upsert(
            [vb.Record(id=f"r{i}", vector=[1.0, float(i), 1.0, 1.0], metadata={"i": i}) for i in range(4)]
        )
        await collection.delete(filter={"i": 2})
        assert await collection.count() == 3
        assert await collection.get(["r2"]) == []

    @requires(Capability.SHARED_ACROSS_CONNECTIONS)
    async def test_another_connection_sees_writes(self, backend_url: str, new_collection: CollectionFactory) -> None:
        collection = await new_collection(dimension=4)
        await collection.upsert([vb.Record(id="a", vector=np.ones(4), metadata={"k": "v"})])
        async with vb.connect(backend_url) as other:
            handle = other.collection(collection.name)
            assert await handle.count() == 1
            await handle.delete(ids=["a"])
        assert await collection.count() == 0

    @requires(Capability.PERSISTENT)
    async def test_data_survives_reconnect(
        self, backend_url: str, store: vb.Store, new_collection: CollectionFactory
    ) -> None:
        collection = await new_collection(dimension=4, metric="dot")
        records = [vb.Record(id=f"r{i}", vector=[1.0, float(i), 2.0, 0.5], metadata={"i": i}) for i in range(5)]
        await collection.upsert(records)
        await store.close()
        async with vb.connect(backend_url) as again:
            handle = again.collection(collection.name)
            assert await handle.count() == 5
            assert [r.metadata["i"] for r in await handle.get(["r3", "r1"])] == [3, 1]
        await store.open()

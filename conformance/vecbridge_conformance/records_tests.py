"""Delete, count and scan: explicit deletes, exact counts, and scans that see every record exactly once."""

from __future__ import annotations

from collections import Counter
from typing import Any, ClassVar

import numpy as np
import pytest

import vecbridge as vb
from vecbridge.adapter import Adapter, Capability
from vecbridge_conformance.base import (
    CollectionFactory,
    SuiteBase,
    assert_same_metadata,
    assert_vector_equal,
    expected_ids,
    requires,
    seeded_rng,
)


def _records(count: int, dimension: int = 4, prefix: str = "r", seed: object = 0) -> list[vb.Record]:
    rng = seeded_rng("records", count, dimension, seed)
    vectors = rng.normal(size=(count, dimension)).astype(np.float32)
    return [
        vb.Record(
            id=f"{prefix}{i:03d}",
            vector=vectors[i],
            metadata={"i": i, "parity": "even" if i % 2 == 0 else "odd", "third": i % 3 == 0},
            document=f"doc {i}",
        )
        for i in range(count)
    ]


async def _loaded(new_collection: CollectionFactory, count: int = 12) -> tuple[vb.Collection, list[vb.Record]]:
    collection = await new_collection(dimension=4, metric="euclidean")
    records = _records(count)
    await collection.upsert(records)
    return collection, records


class DeleteTests(SuiteBase):
    group: ClassVar[str] = "delete"

    async def test_delete_ids(self, new_collection: CollectionFactory) -> None:
        collection, records = await _loaded(new_collection)
        await collection.delete(ids=["r001", "r005"])
        assert await collection.count() == len(records) - 2
        assert await collection.get(["r001", "r005", "r002"]) == [r for r in await collection.get(["r002"])]
        assert {m.id for m in await collection.query(records[1].vector, top_k=20)}.isdisjoint({"r001", "r005"})

    async def test_delete_missing_ids_is_not_an_error(self, new_collection: CollectionFactory) -> None:
        collection, records = await _loaded(new_collection)
        await collection.delete(ids=["nope", "also-missing"])
        assert await collection.count() == len(records)

    async def test_delete_mix_of_present_and_missing_ids(self, new_collection: CollectionFactory) -> None:
        collection, records = await _loaded(new_collection)
        await collection.delete(ids=["nope", "r000", "r000", "r011"])
        assert await collection.count() == len(records) - 2

    async def test_delete_empty_id_list_is_a_no_op(self, new_collection: CollectionFactory) -> None:
        collection, records = await _loaded(new_collection)
        await collection.delete(ids=[])
        assert await collection.count() == len(records)

    async def test_delete_returns_nothing(self, new_collection: CollectionFactory) -> None:
        collection, _ = await _loaded(new_collection)
        result = await collection.delete(ids=["r000"])  # type: ignore[func-returns-value]
        assert result is None

    async def test_delete_more_ids_than_max_batch(self, store: vb.Store, new_collection: CollectionFactory) -> None:
        collection, records = await _loaded(new_collection)
        ids = [f"missing-{i}" for i in range(store.adapter.max_batch + 2)] + ["r003"]
        await collection.delete(ids=ids)
        assert await collection.count() == len(records) - 1

    async def test_delete_all(self, new_collection: CollectionFactory) -> None:
        collection, _ = await _loaded(new_collection)
        await collection.delete(all=True)
        assert await collection.count() == 0
        assert await self.scan_all(collection) == []

    async def test_deleted_id_can_be_written_again(self, new_collection: CollectionFactory) -> None:
        collection, records = await _loaded(new_collection)
        await collection.delete(ids=["r004"])
        await collection.upsert([vb.Record(id="r004", vector=records[4].vector, metadata={"back": True})])
        [got] = await collection.get(["r004"])
        assert_same_metadata(got.metadata, {"back": True})
        assert await collection.count() == len(records)

    @pytest.mark.parametrize(
        "filter_",
        [{"parity": "even"}, {"third": True}, {"i": {"$gte": 8}}, {"$or": [{"i": 1}, {"parity": "odd"}]}],
        ids=["eq", "bool", "range", "or"],
    )
    async def test_delete_by_filter(
        self, new_collection: CollectionFactory, adapter_class: type[Adapter], filter_: dict[str, Any]
    ) -> None:
        node = self.require_filter(adapter_class, filter_)
        collection, records = await _loaded(new_collection)
        await self.expect_compiles(collection, node)
        doomed = set(expected_ids(records, node))
        await collection.delete(filter=filter_)
        assert {r.id for r in await self.scan_all(collection)} == {r.id for r in records} - doomed

    async def test_delete_by_filter_matching_nothing(self, new_collection: CollectionFactory) -> None:
        collection, records = await _loaded(new_collection)
        await collection.delete(filter={"parity": "neither"})
        assert await collection.count() == len(records)

    @pytest.mark.parametrize(
        "kwargs",
        [{}, {"filter": {}}, {"ids": ["a"], "all": True}, {"ids": ["a"], "filter": {"k": 1}}, {"ids": "r000"}],
        ids=["nothing", "empty_filter", "ids_and_all", "ids_and_filter", "ids_as_str"],
    )
    async def test_ambiguous_delete_is_an_error(
        self, new_collection: CollectionFactory, kwargs: dict[str, Any]
    ) -> None:
        collection, records = await _loaded(new_collection)
        with pytest.raises(vb.InvalidArgumentError):
            await collection.delete(**kwargs)
        assert await collection.count() == len(records)


class CountTests(SuiteBase):
    group: ClassVar[str] = "count"

    async def test_count_empty(self, new_collection: CollectionFactory) -> None:
        assert await (await new_collection(dimension=4)).count() == 0

    async def test_count_after_upsert(self, new_collection: CollectionFactory) -> None:
        collection, _ = await _loaded(new_collection, count=9)
        assert await collection.count() == 9

    async def test_count_unchanged_by_replacing(self, new_collection: CollectionFactory) -> None:
        collection, records = await _loaded(new_collection, count=5)
        await collection.upsert(records[:3])
        assert await collection.count() == 5

    @pytest.mark.parametrize(
        "filter_",
        [
            {"parity": "odd"},
            {"third": False},
            {"i": {"$lt": 4}},
            {"i": {"$in": [0, 3, 99]}},
            {"parity": {"$ne": "odd"}},
            {"$and": [{"parity": "even"}, {"third": True}]},
            {"$not": {"i": {"$gt": 2}}},
        ],
        ids=["eq", "bool", "range", "in", "ne", "and", "not"],
    )
    async def test_count_with_filter(
        self, new_collection: CollectionFactory, adapter_class: type[Adapter], filter_: dict[str, Any]
    ) -> None:
        node = self.require_filter(adapter_class, filter_)
        collection, records = await _loaded(new_collection)
        await self.expect_compiles(collection, node)
        assert await collection.count(filter_) == len(expected_ids(records, node))

    async def test_count_after_delete(self, new_collection: CollectionFactory) -> None:
        collection, records = await _loaded(new_collection)
        await collection.delete(ids=["r000", "r001", "r002"])
        assert await collection.count() == len(records) - 3
        remaining = [r for r in records if r.id not in {"r000", "r001", "r002"}]
        assert await collection.count({"parity": "even"}) == len(expected_ids(remaining, {"parity": "even"}))


class ScanTests(SuiteBase):
    group: ClassVar[str] = "scan"

    @pytest.mark.parametrize("page_size", [1, 3, 7, 25, 1000])
    async def test_scan_returns_every_record_exactly_once(
        self, new_collection: CollectionFactory, page_size: int
    ) -> None:
        collection, records = await _loaded(new_collection, count=25)
        seen: list[str] = []
        async for page in collection.scan(page_size):
            assert 1 <= len(page.records) <= page_size
            seen.extend(r.id for r in page.records)
        assert Counter(seen) == Counter(r.id for r in records)

    async def test_scan_records_are_complete(
        self, new_collection: CollectionFactory, adapter_class: type[Adapter]
    ) -> None:
        collection, records = await _loaded(new_collection, count=6)
        by_id = {r.id: r for r in records}
        scanned = await self.scan_all(collection, page_size=4, include_vector=True)
        for record in scanned:
            assert record.document == by_id[record.id].document
            assert_same_metadata(record.metadata, by_id[record.id].metadata)
            assert_vector_equal(record.vector, by_id[record.id].vector)

    async def test_scan_resumes_from_cursor(self, new_collection: CollectionFactory) -> None:
        collection, records = await _loaded(new_collection, count=20)
        first: list[str] = []
        cursor = None
        async for page in collection.scan(6):
            first.extend(r.id for r in page.records)
            cursor = page.cursor
            break
        assert isinstance(cursor, str) and cursor
        rest = [r.id async for page in collection.scan(6, cursor=cursor) for r in page.records]
        assert Counter(first + rest) == Counter(r.id for r in records)

    async def test_scan_cursor_resumes_in_a_new_scan_at_every_page(self, new_collection: CollectionFactory) -> None:
        collection, records = await _loaded(new_collection, count=13)
        seen: list[str] = []
        cursor: str | None = None
        for _ in range(20):
            page = await self.first_page(collection, 4, cursor)
            if page is None:
                break
            seen.extend(r.id for r in page.records)
            cursor = page.cursor
            if cursor is None:
                break
        assert Counter(seen) == Counter(r.id for r in records)

    @requires(Capability.SHARED_ACROSS_CONNECTIONS)
    async def test_cursor_resumes_on_another_connection(
        self, backend_url: str, new_collection: CollectionFactory
    ) -> None:
        collection, records = await _loaded(new_collection, count=15)
        page = await self.first_page(collection, 5)
        assert page is not None and page.cursor is not None
        async with vb.connect(backend_url) as other:
            handle = other.collection(collection.name, layout=self.layout)  # a native table: the same layout
            rest = [r.id async for p in handle.scan(5, cursor=page.cursor) for r in p.records]
        assert Counter([r.id for r in page.records] + rest) == Counter(r.id for r in records)

    @pytest.mark.parametrize("cursor", ["", "not a cursor", "eyJ4IjogMX0=", "00000000-0000-0000-0000-00000000000g"])
    async def test_a_cursor_the_backend_did_not_make_is_refused(
        self, new_collection: CollectionFactory, cursor: str
    ) -> None:
        collection, _ = await _loaded(new_collection, count=3)
        with pytest.raises(vb.InvalidArgumentError, match="scan cursor"):
            async for _page in collection.scan(2, cursor=cursor):
                pass

    async def test_scan_with_filter(self, new_collection: CollectionFactory, adapter_class: type[Adapter]) -> None:
        collection, records = await _loaded(new_collection, count=20)
        ids = [r.id for r in await self.scan_all(collection, page_size=3, filter={"parity": "odd"})]
        assert Counter(ids) == Counter(expected_ids(records, {"parity": "odd"}))

    async def test_scan_without_vectors(self, new_collection: CollectionFactory) -> None:
        collection, records = await _loaded(new_collection, count=5)
        scanned = await self.scan_all(collection, include_vector=False)
        assert sorted(r.id for r in scanned) == sorted(r.id for r in records)
        assert all(r.metadata for r in scanned)

    async def test_scan_empty_collection(self, new_collection: CollectionFactory) -> None:
        collection = await new_collection(dimension=4)
        assert await self.scan_all(collection) == []

    async def test_scan_after_deletes(self, new_collection: CollectionFactory) -> None:
        collection, records = await _loaded(new_collection, count=12)
        await collection.delete(ids=[r.id for r in records[::3]])
        ids = [r.id for r in await self.scan_all(collection, page_size=2)]
        assert Counter(ids) == Counter(r.id for i, r in enumerate(records) if i % 3)

"""Partitioned scans: ``Collection.partitions(n)`` splits a namespace into ranges that together hold
every record exactly once, each scannable (and resumable) on its own, which is what a distributed
reader (``vecbridge.ray``, ``migrate --engine ray``) relies on."""

from __future__ import annotations

from collections import Counter
from typing import Any, ClassVar

import numpy as np
import pytest

import vecbridge as vb
from vecbridge.adapter import Capability
from vecbridge_conformance.base import CollectionFactory, SuiteBase, expected_ids, requires, seeded_rng

#: Small pages, so every partition of the test data spans several of them.
PAGE = 5


def _records(count: int, prefix: str) -> list[vb.Record]:
    vectors = seeded_rng("partitions", count, prefix).normal(size=(count, 4)).astype(np.float32)
    return [
        vb.Record(id=f"{prefix}{i:03d}", vector=vectors[i], metadata={"i": i, "odd": i % 2 == 1}, document=f"d{i}")
        for i in range(count)
    ]


async def _read(collection: vb.Collection, cursor: str | None, filter: dict[str, Any] | None = None) -> list[str]:
    """The ids one partition holds, read from its cursor to its end."""
    return [r.id async for page in collection.scan(PAGE, cursor=cursor, filter=filter) for r in page.records]


async def _covered(collection: vb.Collection, count: int, filter: dict[str, Any] | None = None) -> Counter[str]:
    """How often each id appears across the namespace's ``count`` partitions."""
    cursors = await collection.partitions(count)
    assert 1 <= len(cursors) <= count
    seen: Counter[str] = Counter()
    for cursor in cursors:
        seen.update(await _read(collection, cursor, filter))
    return seen


class PartitionTests(SuiteBase):
    group: ClassVar[str] = "partitions"

    async def test_one_partition_is_the_whole_namespace(self, new_collection: CollectionFactory) -> None:
        collection = await new_collection(dimension=4)
        await collection.upsert(_records(12, "r"))
        assert await collection.partitions(1) == [None]

    @requires(Capability.PARTITIONED_SCAN)
    async def test_partitions_hold_every_record_exactly_once(self, new_collection: CollectionFactory) -> None:
        collection = await new_collection(dimension=4)
        records = _records(40, "r")
        await collection.upsert(records)
        for count in (2, 3, 4, 7):
            seen = await _covered(collection, count)
            assert sorted(seen) == sorted(r.id for r in records) and set(seen.values()) == {1}, count
        if self.layout is None:  # vecbridge's own storage splits; a native layout may be one range
            assert len(await collection.partitions(4)) > 1

    @requires(Capability.PARTITIONED_SCAN)
    async def test_partitions_stay_inside_their_namespace(self, new_collection: CollectionFactory) -> None:
        default = await new_collection(dimension=4)
        layout = (await default.spec()).layout
        if layout is not None and layout.namespace is None:
            pytest.skip(f"the layout of {default.name!r} holds one namespace")
        other = default.with_namespace("other")
        await default.upsert(_records(30, "d"))
        await other.upsert(_records(17, "o"))
        for collection, prefix, total in ((default, "d", 30), (other, "o", 17)):
            seen = await _covered(collection, 4)
            assert len(seen) == total and set(seen.values()) == {1}
            assert all(record_id.startswith(prefix) for record_id in seen)

    @requires(Capability.PARTITIONED_SCAN)
    async def test_partitions_scanned_with_a_filter_hold_each_match_once(
        self, new_collection: CollectionFactory
    ) -> None:
        collection = await new_collection(dimension=4)
        records = _records(40, "r")
        await collection.upsert(records)
        filter_ = {"odd": True}
        seen = await _covered(collection, 3, filter_)
        assert sorted(seen) == sorted(expected_ids(records, filter_)) and set(seen.values()) == {1}

    @requires(Capability.PARTITIONED_SCAN)
    async def test_a_partition_resumes_from_a_cursor_inside_it(self, new_collection: CollectionFactory) -> None:
        collection = await new_collection(dimension=4)
        await collection.upsert(_records(40, "r"))
        cursors = await collection.partitions(3)
        for position, cursor in enumerate(cursors):
            whole = await _read(collection, cursor)
            first = None
            async for page in collection.scan(PAGE, cursor=cursor):
                first = page
                break
            if first is None or first.cursor is None:
                continue  # a range smaller than a page has no cursor inside it
            resumed = await _read(collection, first.cursor)
            assert [r.id for r in first.records] + resumed == whole
            later = {i for c in cursors[position + 1 :] for i in await _read(collection, c)}
            assert not later & set(resumed), "a resumed partition read past its end"

"""Backend record limits (``Adapter.check_storable``): checked before any write, reported by the migration plan.

The core half runs on the reference engine with a limit of its own (``TinyLimits``, registered like
``tests/broken_adapters.py`` registers its variants); the migration half also runs on a real engine
with a real limit: Milvus Lite 2.5.1, whose ``doc`` column is VARCHAR(65535).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import ClassVar

import numpy as np
import pytest

import vecbridge as vb
import vecbridge.registry
from vecbridge.adapter import Adapter
from vecbridge.memory import MemoryAdapter
from vecbridge.types import CollectionSpec, Record

#: TinyLimits holds documents of at most this many characters ...
TINY_DOCUMENT = 8
#: ... and a metadata value ``blob`` of at most this many characters.
TINY_BLOB = 4


class TinyLimits(MemoryAdapter):
    """The reference engine with two limits of its own: a short document and a short ``blob`` value."""

    name: ClassVar[str] = "tiny-limits"

    def check_storable(self, collection: CollectionSpec, record: Record) -> None:
        if record.document is not None and len(record.document) > TINY_DOCUMENT:
            raise vb.InvalidRecordError(
                f"document is {len(record.document)} characters; this backend holds at most {TINY_DOCUMENT}",
                record_id=record.id,
                field="document",
            )
        blob = record.metadata.get("blob")
        if isinstance(blob, str) and len(blob) > TINY_BLOB:
            raise vb.InvalidRecordError(
                f"blob is {len(blob)} characters; this backend holds at most {TINY_BLOB}",
                record_id=record.id,
                field="blob",
            )


class WritesCounted(TinyLimits):
    """TinyLimits counting the ``upsert`` calls that reach it (shared by every connection)."""

    name: ClassVar[str] = "tiny-counted"
    calls: ClassVar[list[int]] = []

    async def upsert(self, collection: CollectionSpec, namespace: str, records: object) -> None:  # type: ignore[override]
        WritesCounted.calls.append(len(records))  # type: ignore[arg-type]
        await super().upsert(collection, namespace, records)  # type: ignore[arg-type]


VARIANTS: tuple[type[Adapter], ...] = (TinyLimits, WritesCounted)


@pytest.fixture(autouse=True)
def registered() -> Iterator[None]:
    for variant in VARIANTS:
        vecbridge.registry.register(variant.name, variant, replace=True)
    yield
    for variant in VARIANTS:
        vecbridge.registry.unregister(variant.name)


def records(count: int, prefix: str = "r", seed: int = 0) -> list[vb.Record]:
    vectors = np.random.default_rng(seed).normal(size=(count, 8)).astype(np.float32)
    return [
        vb.Record(id=f"{prefix}{i}", vector=vectors[i], metadata={"i": i, "blob": "ok"}, document="short")
        for i in range(count)
    ]


# --- the core: nothing is written when one record does not fit ------------------------------------------


def test_the_reference_adapters_declare_no_limits_and_the_tiny_one_does() -> None:
    assert not MemoryAdapter.has_record_limits()
    assert TinyLimits.has_record_limits() and WritesCounted.has_record_limits()


async def test_a_list_upsert_with_an_unfit_last_record_writes_nothing() -> None:
    WritesCounted.calls.clear()
    async with vb.connect("tiny-counted://") as store:
        collection = await store.create_collection("docs", 8)
        batch = records(2500)  # three batches of 1,000 at most: the unfit record is in the last one
        batch[-1].document = "far too long for this backend"
        with pytest.raises(vb.InvalidRecordError) as caught:
            await collection.upsert(batch, batch_size=1000)
        assert (caught.value.record_id, caught.value.field) == ("r2499", "document")
        assert WritesCounted.calls == []  # not one upsert reached the adapter
        assert await collection.count() == 0
        batch[-1].document = "fits"
        assert await collection.upsert(batch, batch_size=1000) == 2500
        assert WritesCounted.calls == [1000, 1000, 500]


async def test_a_streamed_upsert_checks_each_record_before_its_batch_is_written() -> None:
    async with vb.connect("tiny-limits://") as store:
        collection = await store.create_collection("docs", 8)
        batch = records(25)
        batch[12].metadata["blob"] = "too long"

        async def stream() -> AsyncIterator[vb.Record]:
            for record in batch:
                yield record

        with pytest.raises(vb.PartialWriteError) as caught:
            await collection.upsert(stream(), batch_size=10, concurrency=1)
        cause = caught.value.__cause__
        assert isinstance(cause, vb.InvalidRecordError) and (cause.record_id, cause.field) == ("r12", "blob")
        assert caught.value.written_ids == [f"r{i}" for i in range(10)]  # the batch holding r12 was never sent
        assert await collection.count() == 10

"""Partitioned scans cover a namespace exactly once; Ray Data reads and writes collections through them."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import vecbridge as vb

DIMENSION = 8


def records(count: int, prefix: str = "r") -> list[vb.Record]:
    rng = np.random.default_rng(count)
    return [
        vb.Record(
            id=f"{prefix}{i}",
            vector=rng.normal(size=DIMENSION).astype(np.float32),
            metadata={"i": i, "odd": i % 2 == 1},
            document=f"doc {i}",
        )
        for i in range(count)
    ]


async def read_partition(collection: vb.Collection, cursor: str | None, **options: object) -> list[str]:
    return [r.id async for page in collection.scan(page_size=7, cursor=cursor, **options) for r in page.records]  # type: ignore[arg-type]


@pytest.mark.parametrize("count", [1, 2, 3, 5, 16])
async def test_partitions_cover_each_namespace_exactly_once(count: int) -> None:
    async with vb.connect("memory://") as store:
        docs = await store.create_collection("docs", DIMENSION)
        await docs.upsert(records(101))
        other = docs.with_namespace("other")
        await other.upsert(records(13, prefix="o"))
        for collection, expected in ((docs, 101), (other, 13)):
            cursors = await collection.partitions(count)
            assert 1 <= len(cursors) <= count
            seen: Counter[str] = Counter()
            odd: Counter[str] = Counter()
            for cursor in cursors:
                seen.update(await read_partition(collection, cursor))
                odd.update(await read_partition(collection, cursor, filter={"odd": True}))
            assert len(seen) == expected and set(seen.values()) == {1}
            assert sum(odd.values()) == expected // 2 and set(odd.values()) == {1}


async def test_a_partition_resumes_from_a_page_cursor_without_leaving_its_range() -> None:
    async with vb.connect("memory://") as store:
        docs = await store.create_collection("docs", DIMENSION)
        await docs.upsert(records(60))
        first, second = await docs.partitions(2)
        whole = await read_partition(docs, first)
        pages = [page async for page in docs.scan(page_size=10, cursor=first)]
        resumed = await read_partition(docs, pages[0].cursor)
        assert [r.id for r in pages[0].records] + resumed == whole
        assert not set(whole) & set(await read_partition(docs, second))


async def test_a_backend_without_partitioned_scans_gives_one_partition(tmp_path: Path) -> None:
    async with vb.connect("memory://") as store:
        docs = await store.create_collection("docs", DIMENSION)
        assert await docs.partitions(1) == [None]
        with pytest.raises(vb.InvalidArgumentError):
            await docs.partitions(0)


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """A local Ray instance on 127.0.0.1 with this machine's two cores, shut down after the module."""
    ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'vecbridge[ray]'")
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_reads_a_collection_by_partitions_and_writes_it_back(tmp_path: Path, local_ray: None) -> None:
    from vecbridge.ray import read_collection, write_collection

    url = f"local://{tmp_path / 'store'}"
    originals = records(500)
    with vb.connect_sync(url) as store:
        store.create_collection("source", DIMENSION, "dot").upsert(originals)
        store.create_collection("copy", DIMENSION, "dot")

    dataset = read_collection(url, "source", partitions=4).materialize()
    rows = dataset.take_all()
    assert sorted(row["id"] for row in rows) == sorted(r.id for r in originals)
    assert dataset.num_blocks() >= 4  # one read task per partition, a block per page
    by_id = {row["id"]: row for row in rows}
    assert json.loads(by_id["r7"]["metadata"]) == {"i": 7, "odd": True}

    write_collection(dataset, url, "copy")
    with vb.connect_sync(url) as store:
        copied = {r.id: r for page in store.collection("copy").scan() for r in page.records}
    assert copied == {r.id: r for r in originals}


def test_ray_map_batches_re_embeds_documents_into_a_new_collection(tmp_path: Path, local_ray: None) -> None:
    from vecbridge.ray import read_collection, write_collection

    url = f"local://{tmp_path / 'store'}"
    with vb.connect_sync(url) as store:
        store.create_collection("source", DIMENSION).upsert(records(120))
        store.create_collection("embedded", 3, embedding_model="length-v1")

    def embed(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        lengths = np.asarray([len(text) for text in batch["document"]], dtype=np.float32)
        batch["vector"] = np.stack([lengths, lengths + 1, np.ones_like(lengths)], axis=1)  # type: ignore[assignment]
        return batch

    write_collection(read_collection(url, "source", partitions=2).map_batches(embed), url, "embedded")
    with vb.connect_sync(url) as store:
        got = store.collection("embedded").get(["r5", "r100"])
    assert [list(np.asarray(r.vector)) for r in got] == [[5.0, 6.0, 1.0], [7.0, 8.0, 1.0]]

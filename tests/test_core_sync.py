"""The synchronous API: the async operations, blocking, from a script, from threads and from inside a running loop."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

import vecbridge as vb
from vecbridge.blocking import open_or_share
from vecbridge.filters import Filter, evaluate, parse_filter
from vecbridge.memory import MemoryAdapter
from vecbridge.registry import unregister

EVEN_BELOW_TEN: Filter = {"group": "even", "rank": {"$lt": 10}}


def _records(count: int, prefix: str = "r") -> list[vb.Record]:
    rng = np.random.default_rng(7)
    return [
        vb.Record(
            f"{prefix}{i}",
            rng.normal(size=4).tolist(),
            {"group": "even" if i % 2 == 0 else "odd", "rank": i},
            f"text {i}",
        )
        for i in range(count)
    ]


def test_every_operation_blocks_and_answers_like_the_async_api() -> None:
    records = _records(12)
    with vb.connect_sync("memory://") as store:
        docs = store.create_collection("docs", dimension=4, metric="euclidean")
        assert docs.upsert(records) == 12
        assert [spec.name for spec in store.list_collections()] == ["docs"]
        assert store.describe_collection("docs").count == 12
        assert store.has_collection("docs") and not store.has_collection("other")
        assert docs.count({"group": "even"}) == 6
        hits = docs.query(records[3].vector, top_k=3, filter={"rank": {"$gte": 2}})
        assert hits[0].id == "r3" and hits[0].score == pytest.approx(0.0, abs=1e-5)
        assert [r.id for r in docs.get(["r1", "missing", "r0"])] == ["r1", "r0"]
        docs.delete(filter={"group": "odd"})
        scanned = [record.id for page in docs.scan(page_size=4) for record in page.records]
        assert sorted(scanned) == sorted(r.id for r in records if r.metadata["group"] == "even")
        other = docs.with_namespace("tenant-b")
        other.upsert(records[:2])
        assert store.list_namespaces("docs") == ["default", "tenant-b"]
        assert other.describe().count == 2
        with docs.bulk_load():
            docs.upsert(records[1:2])
        assert docs.count() == 7
        store.drop_collection("docs")
        assert store.list_collections() == []


def test_errors_of_the_async_api_are_raised_in_the_caller() -> None:
    with vb.connect_sync("memory://") as store:
        with pytest.raises(vb.CollectionNotFoundError):
            store.collection("absent").count()
        docs = store.create_collection("docs", dimension=4)
        with pytest.raises(vb.DimensionMismatchError):
            docs.query([1.0, 2.0], top_k=1)


def test_a_plain_script_uses_it_without_any_event_loop(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import vecbridge as vb
        with vb.connect_sync("local://{tmp_path / "store"}") as store:
            docs = store.create_collection("docs", dimension=2)
            docs.upsert([vb.Record("a", [1.0, 0.0]), vb.Record("b", [0.0, 1.0])])
            print([hit.id for hit in docs.query([1.0, 0.1], top_k=2)])
        with vb.connect_sync("local://{tmp_path / "store"}") as store:
            print(store.collection("docs").count())
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["['a', 'b']", "2"]


def test_many_threads_share_one_store() -> None:
    with vb.connect_sync("memory://") as store:
        docs = store.create_collection("docs", dimension=4)

        def work(worker: int) -> list[str]:
            records = _records(10, prefix=f"w{worker}-")
            docs.upsert(records)
            return [hit.id for hit in docs.query(records[0].vector, top_k=1, filter={"rank": 0})]

        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(work, range(16)))
        assert docs.count() == 160
        assert all(len(answer) == 1 and answer[0].endswith("-0") for answer in answers)


async def test_blocking_calls_work_inside_a_running_event_loop() -> None:
    # what a Jupyter cell or a synchronous framework callback inside an async server does
    asyncio.get_running_loop()
    with vb.connect_sync("memory://") as store:
        docs = store.create_collection("docs", dimension=4)
        docs.upsert(_records(5))
        assert docs.count() == 5
        assert [page.records[0].id for page in docs.scan(page_size=10)] == ["r0"]


async def test_async_callers_await_the_same_store_from_their_own_loop() -> None:
    with vb.connect_sync("memory://") as store:
        docs = store.create_collection("docs", dimension=4)
        records = _records(6)
        await store.arun(docs.collection.upsert(records))
        counts = await asyncio.gather(*(store.arun(docs.collection.count({"rank": i})) for i in range(6)))
        assert counts == [1] * 6
        assert docs.count() == 6  # the blocking API sees what the async one wrote


def test_a_blocking_call_from_the_stores_own_loop_is_refused_not_deadlocked() -> None:
    with vb.connect_sync("memory://") as store:
        docs = store.create_collection("docs", dimension=4)

        async def blocking_inside() -> int:
            return docs.count()

        with pytest.raises(vb.VecbridgeError, match="own event loop"):
            store.run(blocking_inside())


def test_an_abandoned_scan_is_closed_and_a_resumed_one_continues() -> None:
    with vb.connect_sync("memory://") as store:
        docs = store.create_collection("docs", dimension=4)
        docs.upsert(_records(9))
        pages = docs.scan(page_size=4)
        first = next(pages)
        pages.close()
        rest = [record.id for page in docs.scan(page_size=4, cursor=first.cursor) for record in page.records]
        assert sorted(rest + [record.id for record in first.records]) == sorted(f"r{i}" for i in range(9))


def test_close_releases_the_loop_thread_and_later_calls_fail_clearly() -> None:
    before = threading.active_count()
    store = vb.connect_sync("memory://")
    docs = store.create_collection("docs", dimension=4)
    assert threading.active_count() == before + 1
    store.close()
    store.close()  # idempotent
    assert store.closed and threading.active_count() == before
    with pytest.raises(vb.VecbridgeError, match="closed"):
        docs.count()


def test_a_store_dropped_without_close_releases_its_thread() -> None:
    before = threading.active_count()
    store = vb.connect_sync("memory://")
    del store
    assert threading.active_count() == before


class RefusingAdapter(MemoryAdapter):
    name: ClassVar[str] = "refusing"

    @classmethod
    async def connect(cls, url: vb.URL) -> vb.Adapter:
        raise vb.BackendError("refusing: connection refused")


def test_a_failed_connect_raises_and_leaves_no_thread_behind() -> None:
    vb.register("refusing", RefusingAdapter, replace=True)
    before = threading.active_count()
    try:
        with pytest.raises(vb.BackendError, match="connection refused"):
            vb.connect_sync("refusing://")
    finally:
        unregister("refusing")
    assert threading.active_count() == before


@pytest.fixture(scope="module")
def pg_store(pgvector_url: str) -> Iterator[vb.SyncStore]:
    with vb.connect_sync(pgvector_url) as store:
        yield store


async def test_a_pooled_backend_serves_threads_and_a_running_loop_at_once(pg_store: vb.SyncStore) -> None:
    # connections of the pool stay bound to the store's loop, whoever calls
    docs = pg_store.create_collection("sync_threads", dimension=4, exist_ok=True)
    try:
        records = _records(20)
        docs.upsert(records)
        expected = sorted(r.id for r in records if evaluate(parse_filter(EVEN_BELOW_TEN), r.metadata))

        def ids_found(_: int) -> list[str]:
            return sorted(hit.id for hit in docs.query(records[0].vector, top_k=20, filter=EVEN_BELOW_TEN))

        with ThreadPoolExecutor(max_workers=4) as pool:
            answers = list(pool.map(ids_found, range(8)))
        from_loop = await pg_store.arun(docs.collection.query(records[0].vector, top_k=20, filter=EVEN_BELOW_TEN))
        assert answers == [expected] * 8
        assert sorted(hit.id for hit in from_loop) == expected
    finally:
        pg_store.drop_collection("sync_threads")


def test_upsert_creating_creates_the_collection_on_the_first_write_and_bad_input_creates_nothing() -> None:
    with vb.connect_sync("memory://") as store:
        docs = store.collection("docs", namespace="tenant")
        with pytest.raises(vb.InvalidRecordError):
            docs.upsert_creating([vb.Record("a", [1.0, 0.0]), vb.Record("b", [0.0, 1.0], {"bad": None})])  # type: ignore[dict-item]
        assert not store.has_collection("docs")
        assert docs.upsert_creating([vb.Record("a", [1.0, 0.0])], metric="dot", embedding_model="toy") == 1
        facts = store.describe_collection("docs")
        assert (facts.dimension, facts.metric, facts.embedding_model, facts.count) == (2, vb.Metric.DOT, "toy", 1)
        assert docs.upsert_creating([vb.Record("b", [0.0, 1.0])], metric="dot") == 1  # exists: a plain upsert
        with pytest.raises(vb.DimensionMismatchError):
            store.collection("other").upsert_creating([vb.Record("c", [1.0, 0.0])], dimension=3)
        assert not store.has_collection("other")


def test_closing_while_other_threads_wait_on_calls_ends_their_calls_with_an_error() -> None:
    store = vb.connect_sync("memory://")
    started = threading.Event()

    async def long_call() -> None:
        started.set()
        await asyncio.sleep(60)

    with ThreadPoolExecutor(max_workers=2) as pool:
        waiting = pool.submit(store.run, long_call())
        assert started.wait(5)
        store.close()
        with pytest.raises(vb.VecbridgeError, match="closed during the call"):
            waiting.result(timeout=5)
    with pytest.raises(vb.VecbridgeError, match="closed"):
        store.run(long_call())


def test_open_or_share_owns_what_it_opens_and_refuses_both_or_neither() -> None:
    opened, owns = open_or_share("memory://", None)
    assert owns and isinstance(opened, vb.SyncStore)
    try:
        assert open_or_share(None, opened) == (opened, False)
        for url, store in (("memory://", opened), (None, None)):
            with pytest.raises(vb.InvalidArgumentError, match="either url"):
                open_or_share(url, store)
    finally:
        opened.close()

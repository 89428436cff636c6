"""The mirrored store: writes on both sides, a secondary that goes away loses nothing, shadow reads, switch."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from servers.pgvector import dsn_to_url, halt_postgres, restart_postgres, start_postgres, stop_postgres

import vecbridge as vb
from vecbridge.mirror import MirroredStore, mirror

DIMENSION = 8


def records(start: int, stop: int, version: int = 0) -> list[vb.Record]:
    rng = np.random.default_rng(start + 1000 * version)
    return [
        vb.Record(
            id=f"r{i}",
            vector=rng.normal(size=DIMENSION).astype(np.float32),
            metadata={"i": i, "version": version},
            document=f"text {i} v{version}",
        )
        for i in range(start, stop)
    ]


async def everything(store: vb.Store, name: str) -> dict[str, vb.Record]:
    collection = store.collection(name)
    return {r.id: r for page in [p async for p in collection.scan(page_size=500)] for r in page.records}


def unique_memory() -> str:
    return f"memory://mirror_{secrets.token_hex(4)}"


async def test_every_write_lands_on_both_sides(tmp_path: Path) -> None:
    primary, secondary = unique_memory(), f"local://{tmp_path / 'secondary'}"
    async with mirror(primary, secondary, log_dir=tmp_path / "log") as store:
        docs = await store.create_collection("docs", DIMENSION, "cosine")
        await docs.upsert(records(0, 50))
        await docs.delete(ids=["r1", "r2"])
        await docs.delete(filter={"i": {"$gte": 40}})
        assert store.pending == 0
    async with vb.connect(primary) as one, vb.connect(secondary) as two:
        expected = await everything(one, "docs")
        assert sorted(expected) == sorted(f"r{i}" for i in range(40) if i not in (1, 2))
        assert await everything(two, "docs") == expected


@pytest.fixture
def private_postgres() -> Iterator[tuple[str, Path]]:
    """A PostgreSQL server of this test's own, so stopping it disturbs no other test."""
    dsn, data = start_postgres()
    try:
        yield dsn_to_url(dsn), data
    finally:
        stop_postgres(data)


async def test_a_stopped_secondary_fails_no_write_and_catches_up_once_back(
    tmp_path: Path, private_postgres: tuple[str, Path]
) -> None:
    secondary, data = private_postgres
    store = mirror(unique_memory(), secondary, log_dir=tmp_path / "log", secondary_timeout=1.0)
    async with store:
        docs = await store.create_collection("docs", DIMENSION, "euclidean")
        await docs.upsert(records(0, 100))
        assert store.pending == 0

        await asyncio.to_thread(halt_postgres, data)
        await docs.upsert(records(100, 300))  # the secondary is down: none of these may fail
        await docs.upsert(records(0, 50, version=1))
        await docs.delete(ids=[f"r{i}" for i in range(250, 300)])
        await docs.delete(filter={"i": {"$lt": 10}})
        assert store.pending > 0
        assert await docs.count() == 240

        await asyncio.to_thread(restart_postgres, data)
        await store.drain(timeout=120)
        assert store.pending == 0
        expected = await everything(store, "docs")
    async with vb.connect(secondary) as copy:
        assert await everything(copy, "docs") == expected
    assert len(expected) == 240
    assert expected["r20"].metadata == {"i": 20, "version": 1}


async def test_queued_writes_survive_closing_the_store(tmp_path: Path, private_postgres: tuple[str, Path]) -> None:
    secondary, data = private_postgres
    primary = unique_memory()
    async with vb.connect(primary) as keep_alive:  # memory://NAME lives while a connection holds it
        async with mirror(primary, secondary, log_dir=tmp_path / "log", secondary_timeout=1.0) as store:
            docs = await store.create_collection("docs", DIMENSION, "cosine")
            await asyncio.to_thread(halt_postgres, data)
            await docs.upsert(records(0, 30))
            assert store.pending >= 1
        await asyncio.to_thread(restart_postgres, data)
        async with mirror(primary, secondary, log_dir=tmp_path / "log") as reopened:
            await reopened.drain(timeout=120)
            assert reopened.pending == 0
        async with vb.connect(secondary) as copy:
            assert await everything(copy, "docs") == await everything(keep_alive, "docs")


async def test_shadow_reads_measure_agreement_and_latency_of_both_sides(tmp_path: Path) -> None:
    async with mirror(
        unique_memory(), f"local://{tmp_path / 'secondary'}", log_dir=tmp_path / "log", shadow_reads=1.0
    ) as store:
        docs = await store.create_collection("docs", DIMENSION, "dot")
        await docs.upsert(records(0, 200))
        for query in records(500, 520):
            await docs.query(query.vector, top_k=5)
        await asyncio.sleep(0.2)
        assert store.shadow.queries == 20
        assert store.shadow.agreement == 1.0  # two exact engines
        assert len(store.shadow.secondary_ms) == 20


async def test_switch_makes_the_secondary_the_primary(tmp_path: Path) -> None:
    primary, secondary = unique_memory(), f"local://{tmp_path / 'secondary'}"
    store: MirroredStore
    async with mirror(primary, secondary, log_dir=tmp_path / "log") as store:
        docs = await store.create_collection("docs", DIMENSION, "cosine")
        await docs.upsert(records(0, 10))
        await store.switch()
        assert str(store.url).startswith("local://")
        await store.collection("docs").upsert(records(10, 20))
    async with vb.connect(primary) as old, vb.connect(secondary) as new:
        assert await old.collection("docs").count() == 20  # the old primary now follows
        assert await new.collection("docs").count() == 20

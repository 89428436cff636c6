"""vb.sync / vecbridge sync on the reference engine: what changed is found by content and nothing else is
written; prune deletes what the source lost; a failed pass resumes; a whole store moves collection by collection."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import vecbridge as vb
from vecbridge.migrate.compare import DIGEST_SIZE, compare_records, content_digest
from vecbridge.migrate.errors import SyncFailedError
from vecbridge.migrate.retry import RetryPolicy

DIMENSION = 8


def records(start: int, stop: int, seed: int = 0, prefix: str = "r") -> list[vb.Record]:
    rng = np.random.default_rng(seed * 100_003 + start)
    return [
        vb.Record(
            id=f"{prefix}{i}",
            vector=rng.normal(size=DIMENSION).astype(np.float32),
            metadata={"i": i, "tag": f"t{i % 7}"},
            document=f"document {i}",
        )
        for i in range(start, stop)
    ]


async def contents(collection: vb.Collection) -> dict[str, vb.Record]:
    found: dict[str, vb.Record] = {}
    async for page in collection.scan(500):
        found.update((record.id, record) for record in page.records)
    return found


async def assert_equal(source: vb.Collection, destination: vb.Collection) -> None:
    """Record by record: the same ids, vectors within float32 tolerance, typed metadata, documents."""
    want, got = await contents(source), await contents(destination)
    assert sorted(want) == sorted(got)
    for record_id, record in want.items():
        assert compare_records(record, got[record_id], destination.namespace, normalize=False) == []


def test_the_digest_tells_types_and_missing_documents_apart() -> None:
    base = vb.Record(id="a", vector=[0.1, 0.2], metadata={"n": 1}, document=None)
    variants = [
        vb.Record(id="a", vector=[0.1, 0.2], metadata={"n": 1.0}, document=None),
        vb.Record(id="a", vector=[0.1, 0.2], metadata={"n": True}, document=None),
        vb.Record(id="a", vector=[0.1, 0.2], metadata={"n": 1}, document=""),
        vb.Record(id="a", vector=[0.1, 0.2000001], metadata={"n": 1}, document=None),
    ]
    digests = {content_digest(base), *(content_digest(v) for v in variants)}
    assert len(digests) == 5 and all(len(d) == DIGEST_SIZE for d in digests)
    # float64 input equal once rounded to float32 is the same content
    same = vb.Record(id="b", vector=np.float32([0.1, 0.2]).astype(np.float64), metadata={"n": 1}, document=None)
    assert content_digest(same) == content_digest(base)


async def test_sync_adds_updates_deletes_only_what_differs_and_a_second_pass_changes_nothing(tmp_path: Path) -> None:
    checkpoints = tmp_path / "checkpoints"
    async with vb.connect(f"local://{tmp_path / 'a'}") as a, vb.connect(f"local://{tmp_path / 'b'}") as b:
        source = await a.create_collection("docs", DIMENSION, "cosine")
        await source.upsert(records(0, 300))
        await source.with_namespace("tenant-2").upsert(records(0, 40, prefix="t"))
        first = await vb.sync(source, b.collection("docs"), checkpoint_dir=checkpoints, page_size=64)
        assert first.succeeded and first.total("added") == 340 and first.changes == 340

        await source.upsert(records(300, 350))  # 50 new
        changed = records(0, 30, seed=1)  # 30 new vectors
        for record in changed[:10]:
            record.vector = records(record_index := int(record.id[1:]), record_index + 1)[0].vector  # vector kept
            record.metadata = {"i": float(record_index), "tag": f"t{record_index % 7}"}  # int -> float only
        for record in changed[10:20]:
            index = int(record.id[1:])
            record.vector = records(index, index + 1)[0].vector
            record.metadata = records(index, index + 1)[0].metadata
            record.document = None  # document removed only
        await source.upsert(changed)
        await source.delete(ids=[f"r{i}" for i in range(100, 120)])
        await source.with_namespace("tenant-2").delete(all=True)

        kept = await vb.sync(source, b.collection("docs"), checkpoint_dir=checkpoints, page_size=64)
        assert kept.succeeded, kept.error
        assert kept.namespaces["default"] == {"added": 50, "updated": 30, "deleted": 0, "unchanged": 250, "extra": 20}
        assert kept.namespaces["tenant-2"]["extra"] == 40  # a namespace the source emptied is still seen

        pruned = await vb.sync(
            source, b.collection("docs"), prune=True, verify_mode="full", checkpoint_dir=checkpoints, page_size=64
        )
        assert pruned.succeeded, pruned.error
        assert pruned.namespaces["default"] == {"added": 0, "updated": 0, "deleted": 20, "unchanged": 330, "extra": 0}
        assert pruned.namespaces["tenant-2"]["deleted"] == 40
        await assert_equal(source, b.collection("docs"))
        assert await b.collection("docs", namespace="tenant-2").count() == 0

        again = await vb.sync(source, b.collection("docs"), prune=True, checkpoint_dir=checkpoints, page_size=64)
        assert again.succeeded and again.changes == 0 and again.total("unchanged") == 330
        assert not list(checkpoints.glob("sync-*.json"))  # a verified pass leaves no checkpoint


async def test_a_vector_within_float32_tolerance_is_unchanged(tmp_path: Path) -> None:
    async with vb.connect(f"local://{tmp_path / 'a'}") as a, vb.connect(f"local://{tmp_path / 'b'}") as b:
        source = await a.create_collection("docs", DIMENSION, "euclidean")
        original = records(0, 5)
        await source.upsert(original)
        nudged = [
            vb.Record(r.id, np.asarray(r.vector, np.float32) * np.float32(1 + 1e-7), r.metadata, r.document)
            for r in original
        ]
        destination = await b.create_collection("docs", DIMENSION, "euclidean")
        await destination.upsert(nudged)
        report = await vb.sync(source, destination, checkpoint_dir=tmp_path / "c")
        assert report.changes == 0 and report.total("unchanged") == 5


def flaky(call: Callable[..., Awaitable[Any]], failures: int) -> Callable[..., Awaitable[Any]]:
    """``call`` failing transiently ``failures`` times first (a server restarting)."""
    left = [failures]

    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        if left[0] > 0:
            left[0] -= 1
            raise vb.TransientBackendError("connection reset by peer (injected)")
        return await call(*args, **kwargs)

    return wrapper


async def test_a_server_that_comes_back_within_the_budget_is_waited_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with vb.connect(f"local://{tmp_path / 'a'}") as a, vb.connect(f"local://{tmp_path / 'b'}") as b:
        source = await a.create_collection("docs", DIMENSION, "cosine")
        await source.upsert(records(0, 200))

        def server_goes_away(plan: object) -> None:  # once planned: the copy meets the faults
            # each store call retries 4 times itself: 10 failures in a row outlast that, not the run's budget
            monkeypatch.setattr(b.adapter, "upsert", flaky(b.adapter.upsert, 10))
            monkeypatch.setattr(a.adapter, "scan", flaky(a.adapter.scan, 10))

        report = await vb.sync(
            source, b.collection("docs"), checkpoint_dir=tmp_path / "c", retry_delay=0.01, on_plan=server_goes_away
        )
        assert report.succeeded and report.total("added") == 200
        await assert_equal(source, b.collection("docs"))


async def test_past_the_budget_the_pass_stops_with_a_checkpoint_and_resume_finishes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoints = tmp_path / "c"
    async with vb.connect(f"local://{tmp_path / 'a'}") as a, vb.connect(f"local://{tmp_path / 'b'}") as b:
        source = await a.create_collection("docs", DIMENSION, "cosine")
        await source.upsert(records(0, 500))
        destination = await b.create_collection("docs", DIMENSION, "cosine")
        await destination.upsert(records(400, 500, seed=9) + records(900, 950))  # 100 changed, 50 extra
        upsert = b.adapter.upsert
        calls = [0]

        async def dies_after_three_pages(*args: Any, **kwargs: Any) -> Any:
            calls[0] += 1
            if calls[0] > 3:
                raise vb.TransientBackendError("server gone (injected)")
            return await upsert(*args, **kwargs)

        monkeypatch.setattr(b.adapter, "upsert", dies_after_three_pages)
        with pytest.raises(SyncFailedError) as failed:
            await vb.sync(
                source, destination, prune=True, checkpoint_dir=checkpoints, page_size=50, writers=1, retries=2,
                retry_delay=0.01,
            )  # fmt: skip
        assert failed.value.report.status == "failed"
        saved = json.loads(next(checkpoints.glob("sync-*.json")).read_text())
        assert saved["namespaces"]["default"]["written"] < 500  # stopped midway, its progress kept
        monkeypatch.setattr(b.adapter, "upsert", upsert)

        resumed = await vb.sync(
            source, destination, prune=True, resume=True, verify_mode="full", checkpoint_dir=checkpoints, page_size=50
        )
        assert resumed.resumed and resumed.succeeded, resumed.error
        assert resumed.total("deleted") == 50  # ids met before the crash are confirmed at the source, not deleted
        await assert_equal(source, destination)


async def test_retry_policy_gives_up_on_errors_that_are_not_transient() -> None:
    attempts = [0]

    async def broken() -> None:
        attempts[0] += 1
        raise vb.BackendError("syntax error")

    with pytest.raises(vb.BackendError):
        await RetryPolicy(retries=5, base_delay=0.001).call(broken)
    assert attempts[0] == 1


def test_the_digest_map_costs_under_200_bytes_a_record() -> None:
    """The one structure of sync that grows with the collection: id -> 16-byte digest."""
    digest = content_digest(records(0, 1)[0])
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    # ids as a scan makes them (UUID strings, 36 characters), each kept by the map with its digest
    digests = {f"{i:08x}-0000-4000-8000-000000000000": digest[:-4] + i.to_bytes(4, "little") for i in range(50_000)}
    per_record = (tracemalloc.get_traced_memory()[0] - before) / len(digests)
    tracemalloc.stop()
    assert per_record < 200, per_record  # ~170 bytes: ~170 MB per million records (docs/cutover.md)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from vecbridge.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


async def populate(url: str, names: dict[str, int]) -> None:
    async with vb.connect(url) as store:
        for name, dimension in names.items():
            created = await store.create_collection(name, dimension, "cosine")
            rng = np.random.default_rng(len(name))
            await created.upsert(vb.Record(id=f"{name}-{i}", vector=rng.normal(size=dimension)) for i in range(60))


def test_all_collections_move_in_turn_and_a_failure_in_one_stops_none_of_the_others(tmp_path: Path) -> None:
    source, destination = f"local://{tmp_path / 'a'}", f"local://{tmp_path / 'b'}"
    asyncio.run(populate(source, {"alpha": 4, "beta": 4, "gamma": 4}))
    asyncio.run(populate(destination, {"beta": 6}))  # beta cannot take the source's vectors: refused
    checkpoints = str(tmp_path / "c")
    common = ("--checkpoint-dir", checkpoints, "--no-progress")

    for command in ("migrate", "sync"):
        report_path = tmp_path / f"{command}.json"
        first = cli(command, source, destination, "--all", "--report", str(report_path), *common)
        assert first.returncode == 2, first.stdout + first.stderr
        outcomes = {run["collection"]: run["outcome"] for run in json.loads(report_path.read_text())["collections"]}
        assert outcomes == {"alpha": "succeeded", "beta": "refused", "gamma": "succeeded"}

    asyncio.run(_drop(destination, "beta"))
    resumed = cli("migrate", source, destination, "--all", "--resume", "--report", str(report_path), *common)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    outcomes = {run["collection"]: run["outcome"] for run in json.loads(report_path.read_text())["collections"]}
    assert outcomes == {"alpha": "verified_earlier", "beta": "succeeded", "gamma": "verified_earlier"}

    again = cli("sync", source, destination, "--collection", "alpha", "--collection", "beta", *common)
    assert again.returncode == 0 and again.stdout.count("0 changes") == 2, again.stdout
    refused = cli("sync", source, destination, "--all", "--collection", "alpha", *common)
    assert refused.returncode == 2 and "--all" in refused.stderr


async def _drop(url: str, name: str) -> None:
    async with vb.connect(url) as store:
        await store.drop_collection(name)

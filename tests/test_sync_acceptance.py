"""Issue 20's acceptance, on the real engines: after a migration the source changes (1,000 new records,
1,000 changed ones: vector, metadata or document, 500 deleted); ``sync --prune`` makes the destination
equal record by record (pgvector -> Chroma, Chroma -> pgvector, local -> Milvus Lite); a second sync
reports 0 changes; a sync SIGKILLed midway and run again converges the same."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

import vecbridge as vb
from vecbridge.migrate.compare import FloatDifferences, compare_records

DIMENSION = 16
BASE = {"default": 2_500, "tenant-b": 500}
NEW, CHANGED, DELETED = 1_000, 1_000, 500


def record(i: int, version: int = 0, namespace: str = "default") -> vb.Record:
    rng = np.random.default_rng([i, version, len(namespace)])
    return vb.Record(
        id=f"{namespace[0]}{i}",
        vector=rng.normal(size=DIMENSION).astype(np.float32),
        # i / 7 needs all 17 digits: Chroma returns some such floats 1 ulp off (within what it declares)
        metadata={"i": i, "kind": f"k{i % 5}", "score": float(rng.random()), "ratio": i / 7, "flag": i % 2 == 0},
        document=f"document {i} of {namespace}",
    )


async def create_source(url: str, name: str) -> None:
    async with vb.connect(url) as store:
        collection = await store.create_collection(name, DIMENSION, "cosine")
        for namespace, count in BASE.items():
            await collection.with_namespace(namespace).upsert(record(i, namespace=namespace) for i in range(count))


async def change_source(url: str, name: str, round_: int = 1) -> None:
    """1,000 new records, 1,000 changed ones (a third each: vector, metadata, document) and 500 deleted."""
    async with vb.connect(url) as store:
        collection = store.collection(name)
        start = BASE["default"] + (round_ - 1) * NEW
        await collection.upsert(record(i) for i in range(start, start + NEW))
        changed = []
        for n, i in enumerate(range((round_ - 1) * CHANGED, round_ * CHANGED)):
            current = record(i)
            fresh = record(i, version=round_)
            if n % 3 == 0:
                current.vector = fresh.vector
            elif n % 3 == 1:
                current.metadata = {**current.metadata, "kind": f"changed-{round_}", "score": fresh.metadata["score"]}
            else:
                current.document = f"rewritten {round_}: {i}"
            changed.append(current)
        await collection.upsert(changed)
        gone = range(BASE["default"] - round_ * DELETED, BASE["default"] - (round_ - 1) * DELETED)
        await collection.delete(ids=[f"d{i}" for i in gone])


async def contents(store: vb.Store, name: str) -> dict[tuple[str, str], vb.Record]:
    found = {}
    for namespace in await store.list_namespaces(name):
        async for page in store.collection(name, namespace).scan(1000):
            found.update(((namespace, r.id), r) for r in page.records)
    return found


async def assert_equal(source_url: str, destination_url: str, name: str) -> None:
    """Record by record, read independently of sync: same ids per namespace, same content (float
    metadata bit for bit, or within the ulps a destination without exact floats declares)."""
    async with vb.connect(source_url) as source, vb.connect(destination_url) as destination:
        want, got = await contents(source, name), await contents(destination, name)
        exact = vb.Capability.EXACT_FLOATS in destination.capabilities
        floats = None if exact else FloatDifferences(type(destination.adapter).float_error_ulps or 0)
    assert sorted(want) == sorted(got)
    expected = sum(BASE.values())
    assert len(want) >= expected
    for key, wanted in want.items():
        assert compare_records(wanted, got[key], key[0], normalize=False, floats=floats) == [], key


def vecbridge_cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "from vecbridge.cli import main; main()", *args]


PAIRS = {
    "pgvector->chroma": ("pgvector_url", "chroma_url"),
    "chroma->pgvector": ("chroma_url", "pgvector_url"),
    "local->milvus": (None, "milvus_url"),
}


@pytest.mark.parametrize("pair", list(PAIRS))
async def test_sync_prune_after_changes_makes_the_destination_equal(
    request: pytest.FixtureRequest, tmp_path: Path, pair: str
) -> None:
    source_fixture, destination_fixture = PAIRS[pair]
    source = request.getfixturevalue(source_fixture) if source_fixture else f"local://{tmp_path / 'source'}"
    destination = request.getfixturevalue(destination_fixture)
    name = f"vbsync_{uuid.uuid4().hex[:8]}"
    checkpoints = tmp_path / "checkpoints"
    await create_source(source, name)
    try:
        async with vb.connect(source) as src, vb.connect(destination) as dst:
            migrated = await vb.migrate(src.collection(name), dst.collection(name), checkpoint_dir=checkpoints)
            assert migrated.succeeded, migrated.error
        await change_source(source, name)
        async with vb.connect(source) as src, vb.connect(destination) as dst:
            report = await vb.sync(
                src.collection(name), dst.collection(name), prune=True, verify_mode="full", checkpoint_dir=checkpoints
            )
            assert report.succeeded, report.error
            assert report.namespaces["default"] == {
                "added": NEW,
                "updated": CHANGED,
                "deleted": DELETED,
                "unchanged": BASE["default"] - CHANGED - DELETED,
                "extra": 0,
            }
            assert report.namespaces["tenant-b"]["unchanged"] == BASE["tenant-b"]
        await assert_equal(source, destination, name)
        async with vb.connect(source) as src, vb.connect(destination) as dst:
            again = await vb.sync(src.collection(name), dst.collection(name), prune=True, checkpoint_dir=checkpoints)
            assert again.succeeded and again.changes == 0, again.namespaces
    finally:
        await drop(source, name)
        await drop(destination, name)


async def drop(url: str, name: str) -> None:
    async with vb.connect(url) as store:
        await store.drop_collection(name, missing_ok=True)


def written(checkpoints: Path) -> int:
    for path in checkpoints.glob("sync-*.json"):
        try:
            return sum(int(ns["written"]) for ns in json.loads(path.read_text())["namespaces"].values())
        except (OSError, ValueError, KeyError):
            return -1
    return -1


def kill_midway(command: list[str], checkpoints: Path, after: float) -> None:
    """Run ``command`` and SIGKILL it ``after`` seconds into its pass (once its checkpoint exists).

    Both sides are scanned at once and a source page is checkpointed only when each of its records
    is settled, so the written count moves in bursts: the kill is timed, and must find it running."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180
    while process.poll() is None and written(checkpoints) < 0 and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(after)
    assert process.poll() is None, f"the sync ended before it could be killed: {process.stderr.read()!r}"  # type: ignore[union-attr]
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    process.stderr.close()  # type: ignore[union-attr]


# Milvus Lite admits one process per database file: every step on it runs in a subprocess
# run again with --resume (from the checkpoint) and without (a fresh pass): both converge
@pytest.mark.parametrize(
    ("pair", "again"), [("pgvector->chroma", "--resume"), ("local->milvus_private", "from the start")]
)
def test_a_sigkilled_sync_run_again_converges(
    request: pytest.FixtureRequest, tmp_path: Path, pair: str, again: str
) -> None:
    source_name, destination_name = pair.split("->")
    source = (
        f"local://{tmp_path / 'source'}" if source_name == "local" else request.getfixturevalue(f"{source_name}_url")
    )
    destination = request.getfixturevalue(f"{destination_name}_url")
    name = f"vbkill_{uuid.uuid4().hex[:8]}"
    checkpoints = tmp_path / "checkpoints"
    common = ("--collection", name, "--checkpoint-dir", str(checkpoints), "--no-progress")
    asyncio.run(create_source(source, name))
    try:
        migrated = subprocess.run(
            vecbridge_cli("migrate", source, destination, *common), capture_output=True, text=True
        )
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
        asyncio.run(change_source(source, name))

        sync = vecbridge_cli("sync", source, destination, "--prune", "--page-size", "50", "--writers", "1", *common)
        kill_midway(sync, checkpoints, after=random.uniform(0.5, 1.5))
        assert list(checkpoints.glob("sync-*.json")), "killed before it finished: its checkpoint is there"
        rerun = sync + (["--resume"] if again == "--resume" else [])
        finished = subprocess.run(rerun, capture_output=True, text=True, timeout=300)
        assert finished.returncode == 0, finished.stdout + finished.stderr

        report_path = tmp_path / "report.json"
        check = vecbridge_cli("sync", source, destination, "--prune", "--verify", "full", "--report", str(report_path))
        second = subprocess.run([*check, *common], capture_output=True, text=True, timeout=300)
        assert second.returncode == 0, second.stdout + second.stderr
        report = json.loads(report_path.read_text())
        assert report["changes"] == 0, report["namespaces"]
        total = sum(BASE.values()) + NEW - DELETED
        assert report["totals"]["unchanged"] == total
        assert report["verification"]["mismatch_count"] == 0 and report["verification"]["records_matched"] == total
        if destination_name != "milvus_private":
            asyncio.run(assert_equal(source, destination, name))
    finally:
        asyncio.run(drop(source, name))
        if destination_name != "milvus_private":
            asyncio.run(drop(destination, name))

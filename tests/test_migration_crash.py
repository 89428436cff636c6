"""``vecbridge migrate`` killed with SIGKILL at random moments, resumed each time, ends as an exact copy.

The command runs as a subprocess; the test watches its checkpoint file and kills the process at a
random point of the copy (at least five times), then resumes with ``--resume`` until it finishes,
and requires ``--verify full`` to report zero mismatches, exact counts and no duplicate ids.
"""

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

RECORDS_PER_NAMESPACE = 10_000
NAMESPACES = ("default", "tenant-b")
KILLS = 5


def _command(source: str, destination: str, collection: str, checkpoints: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-c",
        "from vecbridge.cli import main; main()",
        "migrate",
        source,
        destination,
        "--collection",
        collection,
        "--checkpoint-dir",
        str(checkpoints),
        "--page-size",
        "100",
        "--no-progress",
        *extra,
    ]


def _written(checkpoints: Path) -> int:
    for path in checkpoints.glob("*.json"):
        try:
            state = json.loads(path.read_text())
        except (OSError, ValueError):
            return -1
        return sum(int(ns["written"]) for ns in state["namespaces"].values())
    return -1


async def _populate(url: str, collection: str) -> None:
    rng = np.random.default_rng(3)
    async with vb.connect(url) as store:
        created = await store.create_collection(collection, 16, "euclidean")
        for namespace in NAMESPACES:
            vectors = rng.normal(size=(RECORDS_PER_NAMESPACE, 16)).astype(np.float32)
            await created.with_namespace(namespace).upsert(
                vb.Record(id=f"{namespace}/{i}", vector=vectors[i], metadata={"i": i, "x": i / 3}, document=f"d{i}")
                for i in range(RECORDS_PER_NAMESPACE)
            )


async def _destination_ids(url: str, collection: str) -> dict[str, list[str]]:
    async with vb.connect(url) as store:
        ids: dict[str, list[str]] = {}
        for namespace in NAMESPACES:
            async for page in store.collection(collection, namespace).scan(1000, include_vector=False):
                ids.setdefault(namespace, []).extend(r.id for r in page.records)
        await store.drop_collection(collection)
        return ids


# Milvus Lite admits one process per database file: the subprocesses get a file of their own
@pytest.mark.parametrize("destination_backend", ["local", "pgvector", "chroma", "milvus_private"])
def test_sigkilled_migration_resumes_to_an_exact_copy(
    request: pytest.FixtureRequest, tmp_path: Path, destination_backend: str
) -> None:
    source = f"local://{tmp_path / 'source'}"
    destination = (
        f"local://{tmp_path / 'destination'}"
        if destination_backend == "local"
        else request.getfixturevalue(f"{destination_backend}_url")
    )
    collection = f"vbcrash_{uuid.uuid4().hex[:8]}"
    checkpoints = tmp_path / "checkpoints"
    asyncio.run(_populate(source, collection))
    total = RECORDS_PER_NAMESPACE * len(NAMESPACES)
    rng = random.Random(os.getpid())

    kills = 0
    progress = [0]
    while kills < KILLS:
        extra = ("--resume",) if kills else ()
        process = subprocess.Popen(
            _command(source, destination, collection, checkpoints, *extra),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        # kill somewhere in the next slice of the copy, so every run is interrupted mid-way
        start = max(_written(checkpoints), 0)
        target = start + int((total - start) * rng.uniform(0.05, 0.25))
        deadline = time.monotonic() + 120
        while process.poll() is None and _written(checkpoints) < target and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.05))
        assert process.poll() is None, f"the run ended before it could be killed: {process.stderr.read()!r}"  # type: ignore[union-attr]
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        process.stderr.close()  # type: ignore[union-attr]
        kills += 1
        progress.append(_written(checkpoints))
    assert progress[-1] < total, "the copy finished before the last kill"
    assert progress == sorted(progress), f"the checkpoint never moves back: {progress}"

    report_path = tmp_path / "report.json"
    finished = subprocess.run(
        _command(
            source, destination, collection, checkpoints, "--resume", "--verify", "full", "--report", str(report_path)
        ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    report = json.loads(report_path.read_text())
    assert report["succeeded"] and report["resumed"]
    verification = report["verification"]
    assert verification["mode"] == "full"
    assert verification["mismatch_count"] == 0, verification["mismatches"][:10]
    assert verification["records_matched"] == total
    assert verification["counts"] == {
        ns: {"source": RECORDS_PER_NAMESPACE, "destination": RECORDS_PER_NAMESPACE} for ns in NAMESPACES
    }
    assert list(checkpoints.glob("*.json")) == [], "the checkpoint is removed after a verified copy"

    ids = asyncio.run(_destination_ids(destination, collection))
    for namespace in NAMESPACES:
        assert len(ids[namespace]) == RECORDS_PER_NAMESPACE
        assert set(ids[namespace]) == {f"{namespace}/{i}" for i in range(RECORDS_PER_NAMESPACE)}

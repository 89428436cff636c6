"""``vecbridge migrate --engine ray`` on real engines, with a local Ray on 127.0.0.1 in the command's
process: pgvector -> Chroma copied exactly with a Ray worker SIGKILLed mid-run, a killed driver resumed
without copying its finished partitions again, and re-embedding migrations (Ray and single-process)
that write the function's vectors, model and dimension."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest
from click.testing import CliRunner
from reembed_functions import text_shape

import vecbridge as vb
from vecbridge.cli import main

pytest.importorskip("ray", reason="--engine ray needs the optional extra: pip install 'vecbridge[ray]'")

NAMESPACES = {"default": 2500, "tenant-b": 500}
TOTAL = sum(NAMESPACES.values())
TESTS = Path(__file__).parent


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
        "--engine",
        "ray",
        "--partitions",
        "4",
        "--checkpoint-dir",
        str(checkpoints),
        "--page-size",
        "50",
        "--no-progress",
        *extra,
    ]


def _checkpoint(checkpoints: Path) -> dict[str, Any] | None:
    for path in checkpoints.glob("*.json"):
        try:
            state: dict[str, Any] = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        return state
    return None


def _written(checkpoints: Path) -> int:
    state = _checkpoint(checkpoints)
    return -1 if state is None else sum(int(ns["written"]) for ns in state["namespaces"].values())


def _finished_partitions(checkpoints: Path) -> int:
    state = _checkpoint(checkpoints) or {}
    return sum(part["done"] for parts in state.get("partitions", {}).values() for part in parts)


async def _populate(url: str, collection: str, scale: int = 1, **documents: str | None) -> None:
    """The test collection: ``NAMESPACES`` records, or a ``scale``-th of them."""
    rng = np.random.default_rng(7)
    async with vb.connect(url) as store:
        created = await store.create_collection(collection, 16, "cosine", embedding_model="old-model")
        for namespace, total in NAMESPACES.items():
            count = total // scale
            vectors = rng.normal(size=(count, 16)).astype(np.float32)
            await created.with_namespace(namespace).upsert(
                vb.Record(
                    id=f"{namespace}/{i}",
                    vector=vectors[i],
                    metadata={"i": i, "x": i / 7, "tags": ["a", str(i % 3)]},
                    document=documents.get(f"{namespace}/{i}", f"document number {i}"),
                )
                for i in range(count)
            )


async def _records(url: str, collection: str) -> dict[tuple[str, str], vb.Record]:
    """Every record of the collection, by namespace and id."""
    async with vb.connect(url) as store:
        found: dict[tuple[str, str], vb.Record] = {}
        for namespace in NAMESPACES:
            async for page in store.collection(collection, namespace).scan(1000):
                found.update(((namespace, r.id), r) for r in page.records)
        return found


def _ray_workers(process: subprocess.Popen[bytes]) -> list[psutil.Process]:
    """The Ray worker processes the command started that are running a copy task (read and write,
    fused) right now."""
    busy = []
    for child in psutil.Process(process.pid).children(recursive=True):
        try:
            title = " ".join(child.cmdline())
        except psutil.Error:
            continue
        if title.startswith("ray::") and "->Write" in title:  # not the ledger actor: ray::PartitionLedger
            busy.append(child)
    return busy


def _wait_for(condition: Any, process: subprocess.Popen[bytes], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert process.poll() is None, "the run ended before the moment the test waits for"
        assert time.monotonic() < deadline, "the run never reached the moment the test waits for"
        time.sleep(0.01)


def _end(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the command and then every process it started (its local Ray), by id."""
    family = psutil.Process(process.pid).children(recursive=True)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    for child in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
    psutil.wait_procs(family, timeout=30)


def _assert_same_metadata(copied: dict[str, Any], original: dict[str, Any]) -> None:
    """Equal, floats within Chroma's declared 1 ulp (``ChromaAdapter.float_error_ulps``)."""
    assert copied.keys() == original.keys()
    for name, value in original.items():
        assert copied[name] == (pytest.approx(value, rel=1e-15) if isinstance(value, float) else value)


def _assert_exact(report: dict[str, Any]) -> None:
    verification = report["verification"]
    assert report["succeeded"], report["error"]
    assert verification["mode"] == "full" and verification["mismatch_count"] == 0, verification["mismatches"][:5]
    assert verification["records_matched"] == TOTAL
    assert {ns: c["destination"] for ns, c in verification["counts"].items()} == NAMESPACES


def test_a_ray_copy_with_a_worker_sigkilled_mid_run_is_an_exact_copy(
    tmp_path: Path, pgvector_url: str, chroma_url: str
) -> None:
    collection = f"vbray_{uuid.uuid4().hex[:8]}"
    checkpoints, report_path = tmp_path / "checkpoints", tmp_path / "report.json"
    asyncio.run(_populate(pgvector_url, collection))
    command = _command(pgvector_url, chroma_url, collection, checkpoints, "--verify", "full")
    process = subprocess.Popen([*command, "--report", str(report_path)], stderr=subprocess.PIPE)
    _wait_for(lambda: _written(checkpoints) >= TOTAL // 5 and _ray_workers(process), process)
    victim = _ray_workers(process)[0]
    victim.kill()
    killed_at = _written(checkpoints)
    _, errors = process.communicate(timeout=600)
    assert killed_at < TOTAL, "the copy finished before the worker was killed"
    if process.returncode != 0:  # the run may fail instead of retrying: a resumed run must then finish it
        resumed = subprocess.run([*command, "--resume", "--report", str(report_path)], timeout=600, check=False)
        assert resumed.returncode == 0, errors.decode()
    _assert_exact(json.loads(report_path.read_text()))
    source, copied = asyncio.run(_records(pgvector_url, collection)), asyncio.run(_records(chroma_url, collection))
    assert copied.keys() == source.keys()
    for key, record in source.items():  # record by record, beyond what the report compared
        other = copied[key]
        assert other.document == record.document
        _assert_same_metadata(other.metadata, record.metadata)
        np.testing.assert_allclose(other.vector, record.vector, rtol=1e-6)


def test_a_killed_driver_resumes_without_copying_finished_partitions_again(tmp_path: Path) -> None:
    source, destination = f"local://{tmp_path / 'source'}", f"local://{tmp_path / 'destination'}"
    collection, checkpoints = "docs", tmp_path / "checkpoints"
    asyncio.run(_populate(source, collection))
    process = subprocess.Popen(_command(source, destination, collection, checkpoints), stderr=subprocess.DEVNULL)
    _wait_for(lambda: _finished_partitions(checkpoints) >= 1 and _written(checkpoints) < TOTAL * 3 // 4, process)
    _end(process)
    state = _checkpoint(checkpoints)
    assert state is not None
    finished = {(ns, i) for ns, parts in state["partitions"].items() for i, part in enumerate(parts) if part["done"]}
    written = _written(checkpoints)
    assert finished and written < TOTAL

    report_path = tmp_path / "report.json"
    resumed = subprocess.run(
        [
            *_command(source, destination, collection, checkpoints, "--resume", "--verify", "full"),
            "--report",
            str(report_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    report = json.loads(report_path.read_text())
    _assert_exact(report)
    assert report["resumed"] and report["copied_this_run"] == TOTAL - written


def test_a_ray_re_embedding_writes_the_function_vectors_model_and_dimension(
    tmp_path: Path, pgvector_url: str, chroma_url: str
) -> None:
    collection = f"vbre_{uuid.uuid4().hex[:8]}"
    asyncio.run(_populate(pgvector_url, collection, scale=10))
    result = CliRunner().invoke(
        main,
        [
            *_command(pgvector_url, chroma_url, collection, tmp_path / "checkpoints")[3:],
            "--re-embed",
            "reembed_functions:text_shape",
            "--embedding-model",
            "text-shape-v1",
            "--verify",
            "full",
        ],
    )
    assert result.exit_code == 0, result.output
    _assert_re_embedded(chroma_url, collection, pgvector_url)


def test_a_single_process_re_embedding_writes_the_function_vectors_model_and_dimension(
    tmp_path: Path, pgvector_url: str
) -> None:
    collection = f"vbre_{uuid.uuid4().hex[:8]}"
    source = f"local://{tmp_path / 'source'}"
    asyncio.run(_populate(source, collection, scale=10))
    result = CliRunner().invoke(
        main,
        [
            "migrate",
            source,
            pgvector_url,
            "--collection",
            collection,
            "--checkpoint-dir",
            str(tmp_path / "checkpoints"),
            "--re-embed",
            "reembed_functions:text_shape",
            "--embedding-model",
            "text-shape-v1",
            "--verify",
            "full",
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    _assert_re_embedded(pgvector_url, collection, source)


def _assert_re_embedded(url: str, collection: str, source: str) -> None:
    copied = asyncio.run(_records(url, collection))
    originals = asyncio.run(_records(source, collection))
    assert copied.keys() == originals.keys()
    for key, record in originals.items():
        assert record.document is not None
        np.testing.assert_array_equal(copied[key].vector, text_shape([record.document])[0])
        _assert_same_metadata(copied[key].metadata, record.metadata)

    async def facts() -> vb.CollectionSpec:
        async with vb.connect(url) as store:
            return await store.collection(collection).spec()

    spec = asyncio.run(facts())
    assert (spec.dimension, spec.embedding_model) == (3, "text-shape-v1")


def test_records_without_a_document_refuse_a_re_embedding_by_id(tmp_path: Path) -> None:
    source = f"local://{tmp_path / 'source'}"
    asyncio.run(_populate(source, "docs", 10, **{"default/3": None, "tenant-b/9": None}))
    result = CliRunner().invoke(
        main,
        [
            "migrate",
            source,
            f"local://{tmp_path / 'destination'}",
            "--collection",
            "docs",
            "--checkpoint-dir",
            str(tmp_path / "checkpoints"),
            "--re-embed",
            "reembed_functions:text_shape",
            "--embedding-model",
            "text-shape-v1",
        ],
    )
    assert result.exit_code == 2, result.output
    assert "no document to re-embed" in result.output
    assert "default:'default/3'" in result.output and "tenant-b:'tenant-b/9'" in result.output
    with vb.connect_sync(f"local://{tmp_path / 'destination'}") as destination:
        assert not destination.has_collection("docs")  # refused before any write


def test_the_ledger_advances_a_partition_only_along_written_pages(tmp_path: Path) -> None:
    from vecbridge.migrate.distributed import PartitionLedger

    state: dict[str, Any] = {
        "version": 1,
        "order": ["default"],
        "namespaces": {"default": {"cursor": None, "done": False, "written": 0}},
        "partitions": {"default": [{"start": "s", "cursor": "s", "done": False, "written": 0}]},
    }
    ledger = PartitionLedger(str(tmp_path / "checkpoint.json"), state)
    ledger.acknowledge("default", 0, "b", "c", 5)  # a later page first: nothing moves
    assert ledger.resume_at("default", 0) == ("s", False) and ledger.written() == 0
    ledger.acknowledge("default", 0, "s", "b", 5)  # the first page: both move, the file is saved
    assert ledger.resume_at("default", 0) == ("c", False) and ledger.written() == 10
    assert json.loads((tmp_path / "checkpoint.json").read_text())["partitions"]["default"][0]["cursor"] == "c"
    ledger.acknowledge("default", 0, "s", "b", 5)  # a page written twice (a retried task) counts once
    ledger.acknowledge("default", 0, "c", None, 3)  # the last page ends the partition and the namespace
    assert ledger.resume_at("default", 0) == ("c", True) and ledger.written() == 13
    assert state["namespaces"]["default"]["done"]


@pytest.mark.parametrize("written_by", ["ray", "process"])
async def test_a_checkpoint_resumes_only_with_the_engine_that_wrote_it(tmp_path: Path, written_by: str) -> None:
    from vecbridge.migrate import migrate, plan_migration
    from vecbridge.migrate.checkpoint import Checkpoint
    from vecbridge.migrate.distributed import RayCopy

    await _populate(f"local://{tmp_path / 'source'}", "docs", 100)
    async with vb.connect(f"local://{tmp_path / 'source'}") as source, vb.connect(f"local://{tmp_path / 'dst'}") as dst:
        handles = (source.collection("docs"), dst.collection("docs"))
        plan = await plan_migration(*handles, checkpoint_dir=tmp_path)
        checkpoint = Checkpoint.fresh(Path(plan.checkpoint_path), {}, plan.namespaces)
        if written_by == "ray":
            checkpoint.state["partitions"] = {"default": [{"start": None, "cursor": "c", "done": False, "written": 5}]}
        else:
            checkpoint.namespace("default")["cursor"] = "c"
        checkpoint.save()
        other = "process" if written_by == "ray" else "ray"
        with pytest.raises(vb.InvalidArgumentError, match=f"resume it with --engine {written_by}"):
            await migrate(*handles, resume=True, checkpoint_dir=tmp_path, engine=RayCopy(2) if other == "ray" else None)

"""``local://``: data written by one process is read by another; a SIGKILL mid-upsert leaves a
readable store in which every upsert call was applied entirely or not at all."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

import vecbridge as vb

WRITER = textwrap.dedent(
    """
    import asyncio, sys
    import numpy as np
    import vecbridge as vb

    async def main(url, count, dimension, per_call):
        rng = np.random.default_rng(0)
        async with vb.connect(url) as store:
            docs = await store.create_collection("docs", dimension=dimension, exist_ok=True)
            vectors = rng.normal(size=(count, dimension)).astype(np.float32)
            records = [vb.Record(f"r{i}", vectors[i], {"i": i, "tag": "t" + str(i % 7)}) for i in range(count)]
            print("start", flush=True)
            for start in range(0, count, per_call):
                await docs.upsert(records[start : start + per_call])
            print("done", flush=True)

    asyncio.run(main(sys.argv[1], *map(int, sys.argv[2:])))
    """
)


def run_writer(url: str, count: int, dimension: int, per_call: int | None = None) -> subprocess.Popen[str]:
    """A process writing ``count`` records in upsert calls of ``per_call`` (default: one call)."""
    arguments = [url, str(count), str(dimension), str(per_call or count)]
    return subprocess.Popen([sys.executable, "-c", WRITER, *arguments], stdout=subprocess.PIPE, text=True)


async def test_another_process_reads_what_one_process_wrote(tmp_path: Path) -> None:
    url = f"local://{tmp_path}"
    writer = run_writer(url, 1000, 8)
    assert writer.wait(timeout=120) == 0
    async with vb.connect(url) as store:
        docs = store.collection("docs")
        assert await docs.count() == 1000
        [record] = await docs.get(["r500"])
        assert record.metadata == {"i": 500, "tag": "t3"}


async def test_a_connection_sees_writes_made_by_another_process_while_open(tmp_path: Path) -> None:
    url = f"local://{tmp_path}"
    async with vb.connect(url) as store:
        await store.create_collection("docs", dimension=8)
        docs = store.collection("docs")
        assert await docs.count() == 0
        assert run_writer(url, 300, 8).wait(timeout=120) == 0
        assert await docs.count() == 300


async def test_sigkill_during_100k_upserts_leaves_a_readable_store_with_whole_calls(tmp_path: Path) -> None:
    url = f"local://{tmp_path}?fsync=false"
    writer = run_writer(url, 100_000, 16, per_call=5000)
    assert writer.stdout is not None and writer.stdout.readline().strip() == "start"
    log = tmp_path / "log-0.vbl"
    deadline = time.monotonic() + 60
    while (not log.exists() or log.stat().st_size < 3_000_000) and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    async with vb.connect(url) as store:
        docs = store.collection("docs")
        count = await docs.count()
        assert 0 < count < 100_000
        assert count % 5000 == 0  # whole calls only: a list upsert is one log entry (ATOMIC_UPSERT)
        ids = [r.id async for page in docs.scan(page_size=4096) for r in page.records]
        assert len(ids) == len(set(ids)) == count
        rng = np.random.default_rng(0)
        expected = rng.normal(size=(100_000, 16)).astype(np.float32)
        [record] = await docs.get(["r0"])
        assert np.array_equal(record.vector, expected[0])
        # the torn tail is cut by the next writer, and writing continues cleanly
        await docs.upsert([vb.Record("after-crash", expected[1])])
        assert await docs.count() == count + 1
    async with vb.connect(url) as store:
        assert await store.collection("docs").count() == count + 1


async def test_compaction_keeps_every_record(tmp_path: Path) -> None:
    from vecbridge.memory import LocalEngine

    LocalEngine.compaction_floor, saved = 50_000, LocalEngine.compaction_floor
    try:
        url = f"local://{tmp_path}?fsync=false"
        async with vb.connect(url) as store:
            docs = await store.create_collection("docs", dimension=8)
            for round_ in range(5):
                await docs.upsert([vb.Record(f"r{i}", [round_ + 1.0] * 8, {"round": round_}) for i in range(500)])
            await docs.delete(ids=[f"r{i}" for i in range(100)])
        assert (tmp_path / "CURRENT").exists()
        async with vb.connect(url) as store:
            docs = store.collection("docs")
            assert await docs.count() == 400
            assert await docs.count({"round": 4}) == 400
    finally:
        LocalEngine.compaction_floor = saved

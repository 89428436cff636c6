"""Sync of an unchanged collection vs the two sides' native scan rates, and its peak memory.

    python benchmarks/bench_sync.py [--count 100000] [--dimension 384]

Against real servers started here (PostgreSQL + pgvector, ``chroma run``), on the same data:

1. the native scan rate of each side: psycopg's server-side cursor over the table (vectors parsed to
   numpy) and chromadb's ``AsyncHttpClient`` ``collection.get(include=embeddings, metadatas,
   documents)`` in pages of the server's maximum batch; the slower of the two is the limit;
2. ``vb.sync`` pgvector -> Chroma of the collection after a migration (nothing to change), with
   ``verify="count"``: its pass rate (records compared per second) and its total time;
3. peak memory (``VmHWM``) of ``vecbridge sync`` as a subprocess on the same pair.

Prints a markdown section for ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_migration import load, native_pg_scan

import vecbridge as vb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from servers.chroma import start_chroma, stop_chroma  # noqa: E402
from servers.pgvector import dsn_to_url, start_postgres, stop_postgres  # noqa: E402


async def native_chroma_scan(port: int, name: str) -> tuple[int, float]:
    """Every record of the Chroma collection vecbridge created for ``name`` (one per namespace), page by page."""
    import chromadb

    client = await chromadb.AsyncHttpClient(host="127.0.0.1", port=port)
    collections = [c for c in await client.list_collections() if name in c.name]
    batch = min(await client.get_max_batch_size(), 5000)
    started = time.perf_counter()
    rows = 0
    for collection in collections:
        offset = 0
        while True:
            got = await collection.get(include=["embeddings", "metadatas", "documents"], limit=batch, offset=offset)
            if not got["ids"]:
                break
            np.asarray(got["embeddings"], dtype=np.float32)
            rows += len(got["ids"])
            offset += len(got["ids"])
    return rows, time.perf_counter() - started


def peak_memory_of_sync(
    src_url: str, dst_url: str, name: str, checkpoints: str
) -> tuple[float, float, dict[str, object]]:
    """``vecbridge sync`` as a subprocess: its peak RSS (``VmHWM``, polled: a child's ``ru_maxrss``
    counts the parent it was forked from), seconds, and its JSON report."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        report_path = handle.name
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", "from vecbridge.cli import main; main()", "sync", src_url, dst_url,
         "--collection", name, "--checkpoint-dir", checkpoints, "--no-progress", "--report", report_path],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    peak_kb = 0
    while process.poll() is None:
        try:
            for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak_kb = max(peak_kb, int(line.split()[1]))
        except OSError:
            pass
        time.sleep(0.1)
    assert process.returncode == 0
    return peak_kb / 1024, time.perf_counter() - started, json.loads(Path(report_path).read_text())


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--dimension", type=int, default=384)
    args = parser.parse_args()
    dsn, pg_data = start_postgres()
    chroma, port, chroma_data = start_chroma()
    pg_url, chroma_url = dsn_to_url(dsn), f"chroma://127.0.0.1:{port}"
    name = "bench_sync"
    checkpoints = tempfile.mkdtemp(prefix="vb-bench-sync-")
    try:
        await load(pg_url, name, args.count, args.dimension, seed=11)
        async with vb.connect(pg_url) as source, vb.connect(chroma_url) as destination:
            migrated = await vb.migrate(
                source.collection(name), destination.collection(name), verify_mode="count", checkpoint_dir=checkpoints
            )
            assert migrated.succeeded, migrated.error
        pg_rows, pg_seconds = native_pg_scan(dsn, f"vb_{name}")
        chroma_rows, chroma_seconds = await native_chroma_scan(port, name)
        async with vb.connect(pg_url) as source, vb.connect(chroma_url) as destination:
            started = time.perf_counter()
            report = await vb.sync(
                source.collection(name), destination.collection(name), verify_mode="count", checkpoint_dir=checkpoints
            )
            total = time.perf_counter() - started
        assert report.succeeded and report.changes == 0, (report.error, report.namespaces)
        peak_mb, cli_seconds, cli_report = peak_memory_of_sync(pg_url, chroma_url, name, checkpoints)
        assert cli_report["changes"] == 0
        rates = {"pg": pg_rows / pg_seconds, "chroma": chroma_rows / chroma_seconds}
        limit = min(rates.values())
        compared = report.total("unchanged")
        print(f"## Sync of an unchanged collection: {args.count:,} x {args.dimension} pgvector -> Chroma\n")
        print("| path | records/s | seconds |\n|---|---|---|")
        print(
            f"| native source scan (psycopg server-side cursor, vectors to numpy) | {rates['pg']:,.0f} | {pg_seconds:.1f} |"
        )
        print(
            f"| native destination scan (chromadb `get`, pages of the server maximum) | {rates['chroma']:,.0f} | {chroma_seconds:.1f} |"
        )
        print(f"| **native limit** (slower of the two) | **{limit:,.0f}** | |")
        print(
            f"| `vb.sync` pass (both scans at once, digests, comparison; plan and verification excluded) | {compared / report.seconds:,.0f} | {report.seconds:.1f} |"
        )
        print(f"| `vb.sync` end to end (incl. plan and `verify=count`) | {compared / total:,.0f} | {total:.1f} |")
        print(
            f"\n**sync rate / native limit: {compared / report.seconds / limit:.2f}** (end to end {compared / total / limit:.2f}); "
            f"{report.changes} changes, {compared:,} unchanged."
        )
        print(
            f"`vecbridge sync` as a subprocess: peak RSS {peak_mb:.0f} MB, {cli_seconds:.1f} s, {cli_report['changes']} changes."
        )
    finally:
        stop_chroma(chroma, chroma_data)
        stop_postgres(pg_data)


if __name__ == "__main__":
    asyncio.run(main())

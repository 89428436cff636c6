"""Migrating from a native pgvector table vs from a vecbridge collection holding the same rows.

    python benchmarks/bench_native_migration.py [--count 100000] [--dimension 384] [--rounds 2] [--write]

In one run, against a PostgreSQL + pgvector server started here (as the tests start it):

1. the article's ``document_embeddings`` table (serial id, tenant_id, content, source_type,
   ``embedding vector(384)``, metadata jsonb, created_at timestamptz, HNSW ``vector_cosine_ops``),
   ``--count`` rows of 10 tenants inserted interleaved (as an application writes them), by binary COPY;
2. for each of two layouts of that table (one namespace, tenant_id a metadata key; tenants as
   namespaces), a vecbridge collection holding the same records, filled by ``vb.migrate`` through
   that layout, so both sides are equal;
3. ``vecbridge migrate ... local:///tmp/... --verify count`` from each, as a subprocess, the native
   side with ``--from-layout``. Rounds alternate which side goes first, so drift in machine load
   hits both alike. Timed: the subprocess's wall time (start-up, plan, copy, verification) and the
   copy phase the report gives; the peak RSS is the child's own ``VmHWM``.

Target: the native side's median wall time within 10 % of the vecbridge side's (ratio <= 1.10).
Prints a markdown section; ``--write`` puts it into ``docs/benchmarks.md`` (replacing an earlier one).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from harness import clustered_vectors

import vecbridge as vb
from vecbridge.migrate import migrate

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from servers.pgvector import dsn_to_url, start_postgres, stop_postgres  # noqa: E402

TABLE = "document_embeddings"
#: variant -> (the table's layout, the vecbridge collection holding the same records through it)
VARIANTS = {
    "one namespace": ({"document": "content"}, "bench_one"),
    "tenants as namespaces": ({"document": "content", "namespace": "tenant_id"}, "bench_tenants"),
}
TENANTS = 10
SECTION = "## Migration from a native pgvector table"


def create_table(dimension: int) -> str:
    return f"""
CREATE TABLE {TABLE} (
    id SERIAL PRIMARY KEY,
    tenant_id VARCHAR(255) NOT NULL,
    content TEXT NOT NULL,
    source_type VARCHAR(50),
    embedding vector({dimension}),
    metadata JSONB DEFAULT '{{}}',
    created_at TIMESTAMPTZ DEFAULT NOW()
)"""


def load_table(dsn: str, count: int, dimension: int) -> None:
    """The article's table, ``count`` rows by binary COPY, then its HNSW cosine index."""
    import psycopg
    from pgvector.psycopg import register_vector
    from psycopg.types.json import Jsonb

    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        register_vector(conn)
        conn.execute(create_table(dimension))
        with conn.cursor().copy(
            f"COPY {TABLE} (tenant_id, content, source_type, embedding, metadata, created_at) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["varchar", "text", "varchar", "vector", "jsonb", "timestamptz"])
            for chunk in range(0, count, 20_000):
                vectors = clustered_vectors(min(20_000, count - chunk), dimension, seed=chunk)
                for j, vector in enumerate(vectors):
                    i = chunk + j
                    metadata = {"page": i % 300, "lang": ("en", "de", "fr")[i % 3], "section": {"h1": f"s{i % 40}"}}
                    copy.write_row(
                        (
                            f"tenant-{i % TENANTS}",
                            f"chunk {i} of a document about feature {i % 97}",
                            ("pdf", "web", "faq", None)[i % 4],
                            vector,
                            Jsonb(metadata),
                            start + dt.timedelta(seconds=i),
                        )
                    )
        conn.execute("SET maintenance_work_mem = '512MB'")
        conn.execute(f"CREATE INDEX ON {TABLE} USING hnsw (embedding vector_cosine_ops)")
        conn.execute(f"ANALYZE {TABLE}")


async def fill_collection(url: str, work: Path, layout: dict[str, str], collection: str) -> None:
    """A vecbridge collection: the table's records, copied through ``layout``, verified whole."""
    async with vb.connect(url) as store:
        report = await migrate(
            store.collection(TABLE, layout=layout),
            store.collection(collection),
            verify_mode="full",
            checkpoint_dir=work,
        )
        assert report.succeeded, report.error


#: the CLI, writing its own peak RSS (``VmHWM``, kB) to ``argv[1]`` at exit: ``ru_maxrss`` of a
#: child also counts the parent's memory it was forked (or vforked) from
_CHILD = """
import atexit, re, sys
peak = sys.argv.pop(1)
def write_peak():
    status = open("/proc/self/status").read()
    open(peak, "w").write(re.search(r"VmHWM:\\s+(\\d+)", status).group(1))
atexit.register(write_peak)
from vecbridge.cli import main
main(sys.argv[1:])
"""


@dataclass
class Run:
    variant: str
    side: str
    seconds: float
    copy_seconds: float
    #: user + system CPU seconds of the migrating process (the server's work is not in it)
    cpu_seconds: float
    peak_mb: float
    records: int


def migrate_once(url: str, variant: str, side: str, work: Path) -> Run:
    """One ``vecbridge migrate`` subprocess to a fresh ``local://`` directory."""
    destination = Path(tempfile.mkdtemp(prefix="vb-bench-copy-"))
    report_path = work / f"report-{side}.json"
    layout, collection_name = VARIANTS[variant]
    if side == "native":
        collection = ["--collection", TABLE, "--from-layout", json.dumps(layout)]
    else:
        collection = ["--collection", collection_name]
    peak_path = work / f"peak-{side}.txt"
    command = [
        sys.executable,
        "-c",
        _CHILD,
        str(peak_path),
        "migrate",
        url,
        f"local://{destination}",
        *collection,
        "--to-collection",
        "copy",
        "--verify",
        "count",
        "--checkpoint-dir",
        str(work / side),
        "--restart",
        "--no-progress",
        "--report",
        str(report_path),
    ]
    try:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)  # the child's own CPU time: less noisy than wall time
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode:
            raise RuntimeError(f"{side}: vecbridge migrate exited with {child.returncode}")
        report = json.loads(report_path.read_text())
        assert report["succeeded"], report["error"]
        peak_mb = int(peak_path.read_text()) / 1024
        cpu = usage.ru_utime + usage.ru_stime
        return Run(variant, side, seconds, report["copy_seconds"], cpu, peak_mb, report["written_total"])
    finally:
        shutil.rmtree(destination, ignore_errors=True)


def section(count: int, dimension: int, versions: str, runs: list[Run], load: str) -> str:
    lines = [
        f"{SECTION}: {count:,} x {dimension} to `local://` (`benchmarks/bench_native_migration.py`)",
        "",
        f"Measured {dt.date.today().isoformat()} in one run of `python benchmarks/bench_native_migration.py` "
        f"({versions}; server and client on this 2-core machine, shared with other engineers' jobs: {load}). "
        f"Source A: the article's `{TABLE}` table (serial id, tenant_id, content, source_type, "
        f"`embedding vector({dimension})`, metadata jsonb with a nested key, created_at timestamptz, HNSW "
        f"`vector_cosine_ops`), {count:,} rows of {TENANTS} tenants inserted interleaved, read through a "
        "declared layout. Source B: a vecbridge collection on the same server holding the same records "
        "(filled from A through that layout by `vb.migrate`, verified whole). Each run is `vecbridge migrate "
        "SRC local:///tmp/... --verify count` as a subprocess into a fresh directory, timed from outside "
        "(start-up, plan, copy, verification); the copy phase is the report's; peak RSS is the child's "
        "`VmHWM`. Rounds alternate which side goes first, so contention from other jobs hits both alike.",
        "",
        "| variant | source | run | wall s | copy phase s | client CPU s | records | peak RSS |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for number, run in enumerate(runs, 1):
        lines.append(
            f"| {run.variant} | {run.side} | {number} | {run.seconds:.1f} | {run.copy_seconds:.1f} "
            f"| {run.cpu_seconds:.1f} | {run.records:,} | {run.peak_mb:.0f} MB |"
        )
    lines.append("")
    for variant, (layout, _) in VARIANTS.items():
        by_side = {
            side: [r for r in runs if r.variant == variant and r.side == side] for side in ("native", "vecbridge")
        }
        if not all(by_side.values()):
            continue
        wall = {side: statistics.median(r.seconds for r in rs) for side, rs in by_side.items()}
        copy = {side: statistics.median(r.copy_seconds for r in rs) for side, rs in by_side.items()}
        cpu = {side: statistics.median(r.cpu_seconds for r in rs) for side, rs in by_side.items()}
        lines.append(
            f"- **{variant}** (`--from-layout '{json.dumps(layout)}'`): median wall native {wall['native']:.1f} s, "
            f"vecbridge {wall['vecbridge']:.1f} s, **ratio {wall['native'] / wall['vecbridge']:.2f}**; copy phase "
            f"{copy['native']:.1f} s and {copy['vecbridge']:.1f} s, ratio {copy['native'] / copy['vecbridge']:.2f}; "
            f"client CPU {cpu['native']:.1f} s and {cpu['vecbridge']:.1f} s, ratio {cpu['native'] / cpu['vecbridge']:.2f}."
        )
    lines += [
        "",
        "Target: ratio native / vecbridge <= 1.10 (reading through a layout costs at most 10 % more than reading "
        "vecbridge's own table); below 1 the native table was faster.",
        "",
    ]
    return "\n".join(lines)


def write_section(text: str) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    current = path.read_text()
    pattern = re.compile(re.escape(SECTION) + r".*?(?=\n## |\Z)", re.S)
    updated = pattern.sub(lambda _: text.rstrip("\n") + "\n", current) if pattern.search(current) else None
    path.write_text(updated if updated is not None else current.rstrip("\n") + "\n\n" + text)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--dimension", type=int, default=384)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--dsn", help="a server this script loaded before (its table and collections are reused)")
    args = parser.parse_args()

    import psycopg

    dsn, pg_data = (args.dsn, None) if args.dsn else start_postgres()
    url = dsn_to_url(dsn)
    work = Path(tempfile.mkdtemp(prefix="vb-bench-native-"))
    try:
        if pg_data is not None:
            started = time.perf_counter()
            load_table(dsn, args.count, args.dimension)
            print(f"table loaded and indexed in {time.perf_counter() - started:.1f} s", flush=True)
        async with vb.connect(url) as store:
            existing = {spec.name for spec in await store.list_collections()}
        for layout, collection in VARIANTS.values():
            if collection in existing:
                continue
            started = time.perf_counter()
            await fill_collection(url, work, layout, collection)
            print(f"vecbridge collection {collection} filled in {time.perf_counter() - started:.1f} s", flush=True)
        with psycopg.connect(dsn) as conn:
            server = conn.execute("SHOW server_version").fetchone()
            extension = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
        versions = f"PostgreSQL {server[0] if server else '?'} + pgvector {extension[0] if extension else '?'}"
        load_before = os.getloadavg()[0]
        runs = []
        for variant in VARIANTS:
            for round_ in range(args.rounds):
                for side in ("native", "vecbridge") if round_ % 2 == 0 else ("vecbridge", "native"):
                    run = migrate_once(url, variant, side, work)
                    assert run.records == args.count, run
                    print(run, flush=True)
                    runs.append(run)
        load = f"load average {load_before:.1f} before the timed runs, {os.getloadavg()[0]:.1f} after"
        text = section(args.count, args.dimension, versions, runs, load)
        print(text)
        if args.write:
            write_section(text)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if pg_data is not None:
            stop_postgres(pg_data)


if __name__ == "__main__":
    asyncio.run(main())

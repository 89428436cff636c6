"""``vecbridge migrate --engine ray`` against the single-process migration, pgvector -> Chroma, in one run.

    python benchmarks/bench_ray_migration.py [--count 100000] [--dimension 384] [--kill-partitions 4]

Against real servers started here (PostgreSQL + pgvector, ``chroma run``), on the same source collection:

1. the single-process migration (``--engine process``);
2. ``--engine ray --partitions 1`` and ``--partitions 2`` (a local Ray on 127.0.0.1 with this machine's
   cores, started and stopped by the command: its start-up is in the wall time, not in the copy time);
3. the acceptance run: ``--engine ray --partitions N`` (``--kill-partitions``) with a Ray worker process
   SIGKILLed mid-copy; the run completes (Ray retries the task from its partition's last cursor) or
   ``--resume`` finishes it.

Every run is the ``vecbridge migrate`` command in a subprocess with ``--verify full`` (every record
compared both ways, exact counts, no duplicates). Prints a markdown section for ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from bench_migration import load

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from servers.chroma import start_chroma, stop_chroma  # noqa: E402
from servers.pgvector import dsn_to_url, start_postgres, stop_postgres  # noqa: E402


def command(source: str, destination: str, to: str, work: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-c",
        "from vecbridge.cli import main; main()",
        "migrate",
        source,
        destination,
        "--collection",
        "bench_src",
        "--to-collection",
        to,
        "--verify",
        "full",
        "--checkpoint-dir",
        str(work),
        "--no-progress",
        "--report",
        str(work / f"{to}.json"),
        *extra,
    ]


def written(work: Path) -> int:
    for path in work.glob("bench_src-to-*.json"):
        try:
            return sum(int(ns["written"]) for ns in json.loads(path.read_text())["namespaces"].values())
        except (OSError, ValueError, KeyError):
            return -1
    return -1


def run(source: str, destination: str, to: str, *extra: str) -> tuple[float, dict[str, Any]]:
    """One migration command; returns (wall seconds, report)."""
    with tempfile.TemporaryDirectory() as directory:
        work = Path(directory)
        started = time.perf_counter()
        subprocess.run(command(source, destination, to, work, *extra), check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - started, json.loads((work / f"{to}.json").read_text())


def run_with_a_killed_worker(source: str, destination: str, to: str, partitions: int, total: int) -> dict[str, Any]:
    """The acceptance run: a Ray worker copying a partition is SIGKILLed once a fifth is written."""
    with tempfile.TemporaryDirectory() as directory:
        work = Path(directory)
        extra = ("--engine", "ray", "--partitions", str(partitions))
        started = time.perf_counter()
        process = subprocess.Popen(command(source, destination, to, work, *extra), stdout=subprocess.DEVNULL)
        while process.poll() is None and written(work) < total // 5:
            time.sleep(0.05)
        victim = None
        while process.poll() is None and victim is None:
            for child in psutil.Process(process.pid).children(recursive=True):
                try:
                    if " ".join(child.cmdline()).startswith("ray::") and "->Write" in " ".join(child.cmdline()):
                        victim = child
                        break
                except psutil.Error:
                    continue
            time.sleep(0.05)
        killed_at = written(work)
        if victim is not None:
            victim.kill()
        process.wait()
        resumed = False
        if process.returncode != 0:
            subprocess.run(command(source, destination, to, work, *extra, "--resume"), check=True)
            resumed = True
        report: dict[str, Any] = json.loads((work / f"{to}.json").read_text())
        report["_bench"] = {
            "killed": victim is not None,
            "killed_at": killed_at,
            "resumed": resumed,
            "seconds": time.perf_counter() - started,
        }
        return report


def row(label: str, seconds: float, report: dict[str, Any]) -> str:
    verification = report["verification"]
    copied = report["copied_this_run"]
    return (
        f"| {label} | {report['copy_seconds']:.1f} | {copied / report['copy_seconds']:,.0f} | {seconds:.1f} | "
        f"{verification['records_matched']:,}/{copied:,}, {verification['mismatch_count']} mismatches |"
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--dimension", type=int, default=384)
    parser.add_argument("--kill-partitions", type=int, default=4, help="partitions of the acceptance run (0: skip)")
    args = parser.parse_args()

    dsn, pg_data = start_postgres()
    chroma_process, chroma_port, chroma_data = start_chroma()
    pg_url, chroma_url = dsn_to_url(dsn), f"chroma://127.0.0.1:{chroma_port}"
    load_average = os.getloadavg()
    rows = []
    try:
        await load(pg_url, "bench_src", args.count, args.dimension, seed=0)
        for label, to, extra in (
            ("single process (`--engine process`)", "bench_process", ()),
            ("Ray, 1 partition", "bench_ray1", ("--engine", "ray", "--partitions", "1")),
            ("Ray, 2 partitions", "bench_ray2", ("--engine", "ray", "--partitions", "2")),
        ):
            seconds, report = run(pg_url, chroma_url, to, *extra)
            assert report["succeeded"], report["error"]
            rows.append(row(label, seconds, report))
            print(rows[-1], flush=True)
        killed = None
        if args.kill_partitions:
            killed = run_with_a_killed_worker(pg_url, chroma_url, "bench_kill", args.kill_partitions, args.count)
            print(json.dumps(killed["_bench"]), killed["succeeded"], flush=True)
    finally:
        stop_chroma(chroma_process, chroma_data)
        stop_postgres(pg_data)

    print(f"\n## Distributed migration on Ray: {args.count:,} x {args.dimension} pgvector -> Chroma\n")
    print(f"`python benchmarks/bench_ray_migration.py --count {args.count} --dimension {args.dimension}`, one run, ")
    print(f"load average at the start {load_average[0]:.1f}.\n")
    print("| run | copy seconds | records/s (copy) | wall seconds (incl. Ray start, plan, verify full) | verified |")
    print("|---|---|---|---|---|")
    for line in rows:
        print(line)
    if killed is not None:
        bench = killed["_bench"]
        verification = killed["verification"]
        print(
            f"\nAcceptance: `--engine ray --partitions {args.kill_partitions}`, a worker SIGKILLed "
            f"{'at ' + format(bench['killed_at'], ',') + ' records written' if bench['killed'] else '(none found)'}; "
            f"{'resumed with --resume' if bench['resumed'] else 'the run completed by itself'} in {bench['seconds']:.1f} s; "
            f"verify full: {verification['records_matched']:,} records matched, {verification['mismatch_count']} "
            f"mismatches, counts {json.dumps(verification['counts'])}."
        )


if __name__ == "__main__":
    asyncio.run(main())

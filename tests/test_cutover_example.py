"""docs/examples/cutover.py, the procedure of docs/cutover.md, runs to its end: on the reference engine, and
from PostgreSQL to a Chroma server (the new store holds every write the application made meanwhile)."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

import vecbridge as vb

SCRIPT = Path(__file__).parent.parent / "docs" / "examples" / "cutover.py"


async def drop(url: str, name: str) -> None:
    async with vb.connect(url) as store:
        await store.drop_collection(name, missing_ok=True)


@pytest.mark.parametrize("pair", ["local->local", "pgvector->chroma"])
def test_the_cutover_example_runs_to_its_end(request: pytest.FixtureRequest, tmp_path: Path, pair: str) -> None:
    old_name, new_name = pair.split("->")
    old = f"local://{tmp_path / 'old'}" if old_name == "local" else request.getfixturevalue(f"{old_name}_url")
    new = f"local://{tmp_path / 'new'}" if new_name == "local" else request.getfixturevalue(f"{new_name}_url")
    name = f"articles_{uuid.uuid4().hex[:8]}"
    try:
        run = subprocess.run(
            [sys.executable, str(SCRIPT), old, new, str(tmp_path / "work"), name],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert run.returncode == 0, run.stdout + run.stderr
        lines = run.stdout.splitlines()
        assert lines[0].startswith("1. migrate: succeeded")
        # at least the 49 edits and 1 deletion made after the copy; writes made during it too, if its scan missed them
        sync = re.match(r"3\. sync: succeeded, (\d+) changes", lines[1])
        assert sync is not None and int(sync.group(1)) >= 50, lines[1]
        assert "a second sync: 0 changes" in lines[2]
        assert "differs by 0 records" in lines[-1]
    finally:
        for url in (old, new):
            asyncio.run(drop(url, name))

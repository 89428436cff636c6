"""A real Milvus for the tests: Milvus Lite 2.5.1 (the Milvus C++ core) on a fresh database file.

``milvus_url`` is ``milvus+lite:///<tmpdir>/vb.db``; pymilvus starts the bundled ``milvus`` server
process for that file on first connect. At teardown the fixture stops that process (found by the
database path it was started for) and removes the directory. ``VECBRIDGE_MILVUS_URL`` (e.g.
``milvus://127.0.0.1:19530``) points the tests at a running server instead.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


def _lite_server_pids(db_file: Path) -> list[int]:
    """PIDs of Milvus Lite server processes serving ``db_file`` (started by pymilvus in this session)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\x00")
        except OSError:
            continue
        if argv and argv[0].endswith(b"/milvus") and str(db_file).encode() in argv:
            pids.append(int(entry.name))
    return pids


def stop_lite_server(db_file: Path) -> None:
    with contextlib.suppress(Exception):  # the PID check below still stops it
        from milvus_lite.server_manager import server_manager_instance

        if str(db_file.resolve()) in server_manager_instance._servers:  # it warns about a file it never served
            server_manager_instance.release_server(str(db_file))
    for pid in _lite_server_pids(db_file):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue


@contextlib.contextmanager
def _milvus() -> Iterator[str]:
    """``VECBRIDGE_MILVUS_URL`` when set, else a fresh Milvus Lite database file whose server process
    is stopped and whose directory is removed afterwards."""
    given = os.environ.get("VECBRIDGE_MILVUS_URL")
    if given:
        yield given
        return
    directory = Path(tempfile.mkdtemp(prefix="vb-milvus-"))
    db_file = directory / "vb.db"
    try:
        yield f"milvus+lite://{db_file}"
    finally:
        stop_lite_server(db_file)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def milvus_url() -> Iterator[str]:
    """``milvus+lite:///<tmp>/vb.db`` on a fresh directory, or ``VECBRIDGE_MILVUS_URL`` when set."""
    with _milvus() as url:
        yield url


@pytest.fixture
def milvus_private_url() -> Iterator[str]:
    """A Milvus this test process never opens itself, for a test that hands it to a subprocess.

    Milvus Lite lets one process at a time open a database file, and the session's ``milvus_url``
    file is held by this process once any test has used it. A server given by
    ``VECBRIDGE_MILVUS_URL`` accepts any number of clients and is used as is.
    """
    with _milvus() as url:
        yield url

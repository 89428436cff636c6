"""Two real Milvus engines for the tests: Milvus Lite 2.5.1 and a Milvus 2.3.5 standalone server.

``milvus_url`` is ``milvus+lite:///<tmpdir>/vb.db``; pymilvus starts the bundled ``milvus`` server
process for that file on first connect. At teardown the fixture stops that process (found by the
database path it was started for) and removes the directory. ``VECBRIDGE_MILVUS_URL`` (e.g.
``milvus://127.0.0.1:19530``) points the tests at a running server instead.

``milvus_server_url`` is ``milvus://127.0.0.1:<port>``: the real Milvus standalone server (Go
coordinators, embedded etcd and RocksMQ, the C++ segment core) that the PyPI package ``milvus``
ships in its wheel, started once per session in a temporary directory (about 9 s), every port free,
and stopped by its PID at the end. ``VECBRIDGE_MILVUS_SERVER_URL`` points it at a running server instead.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

#: Seconds a stopped server gets to shut down cleanly before it is killed.
SERVER_STOP_TIMEOUT = 5
SERVER_STARTUP_TIMEOUT = 120.0
SERVER_START_ATTEMPTS = 3
#: The template's port settings (besides ``etcd_port``), each given a free port.
PORT_KEYS = (
    "root_coord_port",
    "proxy_port",
    "proxy_internal_port",
    "query_coord_port",
    "query_node_port",
    "index_coord_port",
    "index_node_port",
    "data_coord_port",
    "data_node_port",
)
#: Server settings for tests (``section.key`` of milvus.yaml): the time tick paces every Strong read
#: (200 ms by default), the query coordinator's loops pace loading a new collection (about 3 s).
SERVER_SETTINGS: dict[str, int] = {
    "proxy.timeTickInterval": 50,
    "queryCoord.checkInterval": 100,
    "queryCoord.distPullInterval": 50,
    "common.gracefulStopTimeout": 5,
}


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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _etcd_config(path: Path, client_port: int) -> None:
    """The embedded etcd's own config: its client and peer listeners on free 127.0.0.1 ports (by default
    they take 2379 and 2380, so a second server on the machine would fail to start)."""
    peer, client = f"http://127.0.0.1:{_free_port()}", f"http://127.0.0.1:{client_port}"
    path.write_text(
        f"name: vb\nlisten-peer-urls: {peer}\nlisten-client-urls: {client}\nadvertise-client-urls: {client}\n"
        f"initial-advertise-peer-urls: {peer}\ninitial-cluster: vb={peer}\n"
    )


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's PID, SIGKILL if it has not exited after ``SERVER_STOP_TIMEOUT`` s."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=SERVER_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=SERVER_STOP_TIMEOUT)


def _wait_healthy(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    """Until ``/healthz`` answers OK; fails at once when the process exits (the package's own wait keeps
    polling a dead server for 180 s)."""
    deadline = time.monotonic() + SERVER_STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"the Milvus server exited with {process.returncode} while starting:\n{tail}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response,
        ):
            if b"OK" in response.read():
                return
        time.sleep(0.2)
    raise RuntimeError(f"the Milvus server did not become healthy in {SERVER_STARTUP_TIMEOUT:.0f} s (log: {log})")


@contextlib.contextmanager
def _started_server(directory: Path) -> Iterator[str]:
    """One start of the Milvus standalone server of the ``milvus`` package in ``directory``: every port it
    listens on chosen free by the OS (the package would probe upwards from Milvus' defaults, which two
    sessions starting at once both find free). Milvus 2.3 binds all interfaces but etcd's (it has no
    listen address setting). Stopped by PID at the end."""
    from milvus import MilvusServer, MilvusServerConfig

    config = MilvusServerConfig()
    etcd_port = _free_port()
    etcd_config = directory / "etcd.yaml"
    _etcd_config(etcd_config, etcd_port)
    config.template_text = config.template_text.replace(
        "  use:\n    embed: true", f"  config:\n    path: {etcd_config}\n  use:\n    embed: true", 1
    )
    config.set("etcd_port", etcd_port)
    for key in PORT_KEYS:
        config.set(key, _free_port())
    for key, value in SERVER_SETTINGS.items():
        config.set(key, value)
    server = MilvusServer(config, wait_for_started=False)
    server.set_base_dir(str(directory))
    server.webservice_port = _free_port()  # /healthz and metrics (the package starts probing there)
    try:
        server.start()
        process = server.server_proc
        assert process is not None
        server.server_proc = None  # stopped here, by PID, not by the package's 1-second terminate
        try:
            _wait_healthy(process, server.webservice_port, directory / "logs" / "milvus-stdout.log")
            yield f"milvus://127.0.0.1:{server.listen_port}"
        finally:
            stop_server(process)
    finally:
        server.stop()  # closes the log files


@contextlib.contextmanager
def _milvus_server() -> Iterator[str]:
    """``VECBRIDGE_MILVUS_SERVER_URL`` when set, else a Milvus server in a fresh directory (removed
    afterwards); a start that fails (a port taken meanwhile by another process) is retried."""
    given = os.environ.get("VECBRIDGE_MILVUS_SERVER_URL")
    if given:
        yield given
        return
    for attempt in range(1, SERVER_START_ATTEMPTS + 1):
        directory = Path(tempfile.mkdtemp(prefix="vb-milvus-server-"))
        started = False
        try:
            with _started_server(directory) as url:
                started = True
                yield url
            return
        except RuntimeError:
            if started or attempt == SERVER_START_ATTEMPTS:
                raise
        finally:
            shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def milvus_server_url() -> Iterator[str]:
    """``milvus://127.0.0.1:<port>``: a Milvus 2.3.5 standalone server for the session (or
    ``VECBRIDGE_MILVUS_SERVER_URL`` when set)."""
    with _milvus_server() as url:
        yield url

"""A real Chroma for the tests: a ``chroma run`` server (or ``VECBRIDGE_CHROMA_URL``), and embedded Chroma.

The server binds to 127.0.0.1 on a free port with a fresh ``--path`` directory and telemetry off;
the fixture waits for ``/api/v2/heartbeat`` and stops the process by its PID at the end of the session.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

STARTUP_TIMEOUT = 60.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _chroma_executable() -> str:
    beside_python = Path(sys.executable).parent / "chroma"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("chroma")
    if found is None:
        raise RuntimeError("the 'chroma' command is missing: pip install chromadb")
    return found


def start_chroma(data: Path | None = None, port: int | None = None) -> tuple[subprocess.Popen[bytes], int, Path]:
    """Start ``chroma run`` on a free port and a temporary directory (or the ones given, to restart a
    server :func:`halt_chroma` stopped); returns once it answers."""
    data = data if data is not None else Path(tempfile.mkdtemp(prefix="vb-chroma-"))
    port = port if port is not None else _free_port()
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    log = open(data / "server.log", "ab")  # noqa: SIM115 (kept open for the server's lifetime)
    process = subprocess.Popen(
        [_chroma_executable(), "run", "--host", "127.0.0.1", "--port", str(port), "--path", str(data / "db")],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"chroma run exited with {process.returncode}: {(data / 'server.log').read_text()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=2) as response:
                if response.status == 200:
                    return process, port, data
        except OSError:
            time.sleep(0.2)
    stop_chroma(process, data)
    raise RuntimeError(f"chroma run did not answer within {STARTUP_TIMEOUT:.0f} s")


def halt_chroma(process: subprocess.Popen[bytes]) -> None:
    """Stop the server and keep its data (a restart: ``start_chroma(data, port)``)."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()


def stop_chroma(process: subprocess.Popen[bytes], data: Path) -> None:
    halt_chroma(process)
    shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="session")
def chroma_url() -> Iterator[str]:
    """``chroma://127.0.0.1:PORT`` of a fresh ``chroma run`` server, or ``VECBRIDGE_CHROMA_URL`` when set."""
    given = os.environ.get("VECBRIDGE_CHROMA_URL")
    if given:
        yield given
        return
    process, port, data = start_chroma()
    try:
        yield f"chroma://127.0.0.1:{port}"
    finally:
        stop_chroma(process, data)


@pytest.fixture(scope="session")
def chroma_embedded_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``chroma:///<tmpdir>``: embedded Chroma (``PersistentClient``) on a fresh directory."""
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    directory = tmp_path_factory.mktemp("chroma-embedded")
    yield f"chroma://{directory}"

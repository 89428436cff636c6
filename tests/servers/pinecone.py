"""Pinecone for the tests: a local server speaking its REST API (``tests/pinecone_fake``), or the real service.

* ``pinecone_fake_url``: always the local server, started with ``python -m pinecone_fake`` on a free
  127.0.0.1 port and stopped by its PID at the end of the session;
* ``pinecone_live_url``: real Pinecone with the API key in ``VECBRIDGE_PINECONE_API_KEY`` (cloud and
  region from ``VECBRIDGE_PINECONE_CLOUD``/``VECBRIDGE_PINECONE_REGION``); without the key it is an
  error saying Pinecone is not configured, never a skip;
* ``pinecone_url``: live when the key is set, the local server otherwise.

Tests marked ``pinecone_live`` are deselected unless the key is set or ``--pinecone-live`` is given.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

LIVE_KEY_ENV = "VECBRIDGE_PINECONE_API_KEY"
STARTUP_TIMEOUT = 30.0
FAKE_API_KEY = "vecbridge-local"


class PineconeNotConfiguredError(RuntimeError):
    """The live Pinecone tests were asked for without an API key."""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--pinecone-live",
        action="store_true",
        default=False,
        help=f"run the live Pinecone tests (they error unless ${LIVE_KEY_ENV} is set)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "pinecone_live: runs against real Pinecone (needs VECBRIDGE_PINECONE_API_KEY)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get(LIVE_KEY_ENV) or config.getoption("--pinecone-live"):
        return
    kept, dropped = [], []
    for item in items:
        (dropped if item.get_closest_marker("pinecone_live") else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_fake(visibility_delay: float = 0.02) -> tuple[subprocess.Popen[bytes], int]:
    """Start the local Pinecone server; returns once ``GET /indexes`` answers."""
    port = _free_port()
    tests_dir = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(tests_dir), os.environ.get("PYTHONPATH")]))}
    process = subprocess.Popen(
        [sys.executable, "-m", "pinecone_fake", "--port", str(port), "--visibility-delay", str(visibility_delay)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + STARTUP_TIMEOUT
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/indexes", headers={"Api-Key": FAKE_API_KEY, "X-Pinecone-Api-Version": "2026-07"}
    )
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stderr = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"the local Pinecone server exited with {process.returncode}: {stderr}")
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status == 200:
                    return process, port
        except (OSError, urllib.error.URLError):
            time.sleep(0.1)
    stop_fake(process)
    raise RuntimeError(f"the local Pinecone server did not answer within {STARTUP_TIMEOUT:.0f} s")


def stop_fake(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()


def live_url() -> str | None:
    if not os.environ.get(LIVE_KEY_ENV):
        return None
    cloud = os.environ.get("VECBRIDGE_PINECONE_CLOUD", "aws")
    region = os.environ.get("VECBRIDGE_PINECONE_REGION", "us-east-1")
    return f"pinecone://?api_key_env={LIVE_KEY_ENV}&cloud={cloud}&region={region}"


@pytest.fixture(scope="session")
def pinecone_fake() -> Iterator[tuple[str, int]]:
    """(vecbridge URL, port) of the local Pinecone server."""
    process, port = start_fake()
    try:
        yield f"pinecone://127.0.0.1:{port}?api_key={FAKE_API_KEY}&tls=false", port
    finally:
        stop_fake(process)


@pytest.fixture(scope="session")
def pinecone_fake_url(pinecone_fake: tuple[str, int]) -> str:
    return pinecone_fake[0]


@pytest.fixture(scope="session")
def pinecone_live_url() -> str:
    url = live_url()
    if url is None:
        raise PineconeNotConfiguredError(
            f"Pinecone is not configured: set {LIVE_KEY_ENV} to an API key of a Pinecone project to run the live suite"
        )
    return url


@pytest.fixture(scope="session")
def pinecone_url(request: pytest.FixtureRequest) -> str:
    """Real Pinecone when ``VECBRIDGE_PINECONE_API_KEY`` is set, else the local server."""
    url = live_url()
    if url is not None:
        return url
    fake_url: str = request.getfixturevalue("pinecone_fake_url")
    return fake_url

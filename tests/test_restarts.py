"""A real server restarted in the middle of a long run: PostgreSQL under ``migrate``, Chroma under ``sync``.

Each test owns its server (stopping a shared one would disturb other tests). Within the retry budget
the run waits for the server and completes; past it the run stops with its checkpoint and a resumed
run finishes; either way the destination ends an exact copy (``verify full``). Past the budget on
PostgreSQL the URL sets ``pool_timeout=1``: with the default 30 s each attempt waits for the pool
that long (four times per call), minutes before the run gives up.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from servers.chroma import halt_chroma, start_chroma, stop_chroma
from servers.pgvector import dsn_to_url, halt_postgres, restart_postgres, start_postgres, stop_postgres

import vecbridge as vb
from vecbridge.migrate import MigrationFailedError
from vecbridge.migrate.errors import SyncFailedError

DIMENSION = 16
RECORDS = 6_000
PAGE = 100


@pytest.fixture
def own_postgres() -> Iterator[tuple[str, Path]]:
    dsn, data = start_postgres()
    try:
        yield dsn_to_url(dsn), data
    finally:
        stop_postgres(data)


class OwnChroma:
    """A ``chroma run`` server of the test's own that can be stopped and started on the same data and port."""

    def __init__(self) -> None:
        self.process, self.port, self.data = start_chroma()

    @property
    def url(self) -> str:
        return f"chroma://127.0.0.1:{self.port}"

    def halt(self) -> None:
        halt_chroma(self.process)

    def start(self) -> None:
        self.process, _, _ = start_chroma(self.data, self.port)


@pytest.fixture
def own_chroma() -> Iterator[OwnChroma]:
    server = OwnChroma()
    try:
        yield server
    finally:
        stop_chroma(server.process, server.data)


async def populate(url: str) -> vb.Collection:
    store = await vb.connect(url)
    collection = await store.create_collection("docs", DIMENSION, "cosine")
    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(RECORDS, DIMENSION)).astype(np.float32)
    await collection.upsert(
        vb.Record(id=f"r{i}", vector=vectors[i], metadata={"i": i}, document=f"text {i}") for i in range(RECORDS)
    )
    return collection


class Outage:
    """Stops a server once a run has written ``at`` records, keeps it down ``seconds``, starts it again."""

    def __init__(self, halt: object, start: object, at: int, seconds: float, *, start_again: bool = True) -> None:
        self.halt, self.start, self.at, self.seconds, self.start_again = halt, start, at, seconds, start_again
        self.task: asyncio.Task[None] | None = None
        self.halted_at: float | None = None

    def __call__(self, phase: str, done: int, total: int | None) -> None:
        if self.task is None and phase in ("copy", "compare") and done >= self.at:
            self.task = asyncio.get_running_loop().create_task(self._outage())

    async def _outage(self) -> None:
        await asyncio.to_thread(self.halt)  # type: ignore[arg-type]
        self.halted_at = time.monotonic()
        await asyncio.sleep(self.seconds)
        if self.start_again:
            await asyncio.to_thread(self.start)  # type: ignore[arg-type]


async def test_postgresql_restarted_during_a_migration_into_it_is_waited_for(
    tmp_path: Path, own_postgres: tuple[str, Path]
) -> None:
    url, data = own_postgres
    source = await populate(f"local://{tmp_path / 'source'}")
    async with vb.connect(url) as destination:
        outage = Outage(lambda: halt_postgres(data), lambda: restart_postgres(data), RECORDS // 3, 1.0)
        report = await vb.migrate(
            source,
            destination.collection("docs"),
            checkpoint_dir=tmp_path / "c",
            page_size=PAGE,
            writers=2,
            verify_mode="full",
            on_progress=outage,
        )
        assert outage.task is not None and outage.task.done()
        assert report.succeeded and report.copied == RECORDS, report.error
        assert report.verification is not None and report.verification.records_matched == RECORDS
    await source.store.close()


async def test_postgresql_away_past_the_budget_stops_the_migration_and_resume_finishes_it(
    tmp_path: Path, own_postgres: tuple[str, Path]
) -> None:
    url, data = own_postgres
    url += "?pool_timeout=1"  # each attempt waits 1 s for a session, not 30: the budget runs out in seconds
    source = await populate(f"local://{tmp_path / 'source'}")
    checkpoints = tmp_path / "c"
    async with vb.connect(url) as destination:
        outage = Outage(lambda: halt_postgres(data), lambda: None, RECORDS // 3, 0.0, start_again=False)
        with pytest.raises(MigrationFailedError) as failed:
            await vb.migrate(
                source,
                destination.collection("docs"),
                checkpoint_dir=checkpoints,
                page_size=PAGE,
                writers=2,
                retries=2,
                retry_delay=0.2,
                on_progress=outage,
            )
        written = failed.value.report.written_total
        assert 0 < written < RECORDS
        assert list(checkpoints.glob("*.json")), "the checkpoint stays for --resume"
    await asyncio.to_thread(restart_postgres, data)
    async with vb.connect(url) as destination:
        report = await vb.migrate(
            source, destination.collection("docs"), checkpoint_dir=checkpoints, page_size=PAGE, resume=True,
            verify_mode="full",
        )  # fmt: skip
        assert report.resumed and report.succeeded, report.error
        assert report.copied <= RECORDS - written + 2 * PAGE  # the rest, not everything again
        assert report.verification is not None and report.verification.records_matched == RECORDS
    await source.store.close()


async def test_a_chroma_server_restarted_during_a_sync_is_waited_for(tmp_path: Path, own_chroma: OwnChroma) -> None:
    source = await populate(f"local://{tmp_path / 'source'}")
    async with vb.connect(own_chroma.url) as destination:
        outage = Outage(own_chroma.halt, own_chroma.start, RECORDS // 3, 0.5)
        report = await vb.sync(
            source,
            destination.collection("docs"),
            checkpoint_dir=tmp_path / "c",
            page_size=PAGE,
            writers=2,
            verify_mode="full",
            on_progress=outage,
        )
        assert outage.task is not None and outage.task.done()
        assert report.succeeded and report.total("added") == RECORDS, report.error
        assert report.verification is not None and report.verification.records_matched == RECORDS
    await source.store.close()


async def test_chroma_away_past_the_budget_stops_the_sync_and_resume_finishes_it(
    tmp_path: Path, own_chroma: OwnChroma
) -> None:
    source = await populate(f"local://{tmp_path / 'source'}")
    checkpoints = tmp_path / "c"
    async with vb.connect(own_chroma.url) as destination:
        outage = Outage(own_chroma.halt, lambda: None, RECORDS // 3, 0.0, start_again=False)
        with pytest.raises(SyncFailedError):
            await vb.sync(
                source,
                destination.collection("docs"),
                checkpoint_dir=checkpoints,
                page_size=PAGE,
                writers=2,
                retries=2,
                retry_delay=0.2,
                on_progress=outage,
            )
    await asyncio.to_thread(own_chroma.start)
    async with vb.connect(own_chroma.url) as destination:
        report = await vb.sync(
            source, destination.collection("docs"), checkpoint_dir=checkpoints, page_size=PAGE, resume=True,
            verify_mode="full",
        )  # fmt: skip
        assert report.resumed and report.succeeded, report.error
        assert report.total("added") + report.total("unchanged") == RECORDS
        assert report.verification is not None and report.verification.records_matched == RECORDS
    await source.store.close()

"""Backend record limits (``Adapter.check_storable``): checked before any write, reported by the migration plan.

The core half runs on the reference engine with a limit of its own (``TinyLimits``, registered like
``tests/broken_adapters.py`` registers its variants); the migration half also runs on a real engine
with a real limit: Milvus Lite 2.5.1, whose ``doc`` column is VARCHAR(65535).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from click.testing import CliRunner

import vecbridge as vb
import vecbridge.registry
from vecbridge.adapter import Adapter
from vecbridge.cli import main
from vecbridge.memory import MemoryAdapter
from vecbridge.migrate import MigrationRefusedError, migrate
from vecbridge.types import CollectionSpec, Record

#: TinyLimits holds documents of at most this many characters ...
TINY_DOCUMENT = 8
#: ... and a metadata value ``blob`` of at most this many characters.
TINY_BLOB = 4


class TinyLimits(MemoryAdapter):
    """The reference engine with two limits of its own: a short document and a short ``blob`` value."""

    name: ClassVar[str] = "tiny-limits"

    def check_storable(self, collection: CollectionSpec, record: Record) -> None:
        if record.document is not None and len(record.document) > TINY_DOCUMENT:
            raise vb.InvalidRecordError(
                f"document is {len(record.document)} characters; this backend holds at most {TINY_DOCUMENT}",
                record_id=record.id,
                field="document",
            )
        blob = record.metadata.get("blob")
        if isinstance(blob, str) and len(blob) > TINY_BLOB:
            raise vb.InvalidRecordError(
                f"blob is {len(blob)} characters; this backend holds at most {TINY_BLOB}",
                record_id=record.id,
                field="blob",
            )


class WritesCounted(TinyLimits):
    """TinyLimits counting the ``upsert`` calls that reach it (shared by every connection)."""

    name: ClassVar[str] = "tiny-counted"
    calls: ClassVar[list[int]] = []

    async def upsert(self, collection: CollectionSpec, namespace: str, records: object) -> None:  # type: ignore[override]
        WritesCounted.calls.append(len(records))  # type: ignore[arg-type]
        await super().upsert(collection, namespace, records)  # type: ignore[arg-type]


VARIANTS: tuple[type[Adapter], ...] = (TinyLimits, WritesCounted)


@pytest.fixture(autouse=True)
def registered() -> Iterator[None]:
    for variant in VARIANTS:
        vecbridge.registry.register(variant.name, variant, replace=True)
    yield
    for variant in VARIANTS:
        vecbridge.registry.unregister(variant.name)


def records(count: int, prefix: str = "r", seed: int = 0) -> list[vb.Record]:
    vectors = np.random.default_rng(seed).normal(size=(count, 8)).astype(np.float32)
    return [
        vb.Record(id=f"{prefix}{i}", vector=vectors[i], metadata={"i": i, "blob": "ok"}, document="short")
        for i in range(count)
    ]


# --- the core: nothing is written when one record does not fit ------------------------------------------


def test_the_reference_adapters_declare_no_limits_and_the_tiny_one_does() -> None:
    assert not MemoryAdapter.has_record_limits()
    assert TinyLimits.has_record_limits() and WritesCounted.has_record_limits()


async def test_a_list_upsert_with_an_unfit_last_record_writes_nothing() -> None:
    WritesCounted.calls.clear()
    async with vb.connect("tiny-counted://") as store:
        collection = await store.create_collection("docs", 8)
        batch = records(2500)  # three batches of 1,000 at most: the unfit record is in the last one
        batch[-1].document = "far too long for this backend"
        with pytest.raises(vb.InvalidRecordError) as caught:
            await collection.upsert(batch, batch_size=1000)
        assert (caught.value.record_id, caught.value.field) == ("r2499", "document")
        assert WritesCounted.calls == []  # not one upsert reached the adapter
        assert await collection.count() == 0
        batch[-1].document = "fits"
        assert await collection.upsert(batch, batch_size=1000) == 2500
        assert WritesCounted.calls == [2500]  # the reference engine's ATOMIC_UPSERT: one write of every batch


async def test_a_streamed_upsert_checks_each_record_before_its_batch_is_written() -> None:
    async with vb.connect("tiny-limits://") as store:
        collection = await store.create_collection("docs", 8)
        batch = records(25)
        batch[12].metadata["blob"] = "too long"

        async def stream() -> AsyncIterator[vb.Record]:
            for record in batch:
                yield record

        with pytest.raises(vb.PartialWriteError) as caught:
            await collection.upsert(stream(), batch_size=10, concurrency=1)
        cause = caught.value.__cause__
        assert isinstance(cause, vb.InvalidRecordError) and (cause.record_id, cause.field) == ("r12", "blob")
        assert caught.value.written_ids == [f"r{i}" for i in range(10)]  # the batch holding r12 was never sent
        assert await collection.count() == 10


# --- the migration plan: unfit records refuse the run, or are left out with --skip-unfit -----------------


def source_records(namespace: str, count: int, seed: int) -> list[vb.Record]:
    """Records of which ``{ns}-3`` and ``{ns}-7`` have a long document and ``{ns}-5`` a long blob."""
    made = records(count, prefix=f"{namespace}-", seed=seed)
    for record in made:
        record.metadata["kind"] = "even" if int(record.id.rsplit("-", 1)[1]) % 2 == 0 else "odd"
    made[3].document = "a document too long for tiny-limits"
    made[7].document = "another document too long"
    made[5].metadata["blob"] = "a blob too long"
    return made


UNFIT = {("a", "a-3", "document"), ("a", "a-7", "document"), ("a", "a-5", "blob")}
UNFIT |= {("b", "b-3", "document"), ("b", "b-7", "document"), ("b", "b-5", "blob")}


@pytest.fixture
async def source(tmp_path: Path) -> AsyncIterator[vb.Store]:
    async with vb.connect(f"local://{tmp_path / 'src'}") as store:
        docs = await store.create_collection("docs", 8, "cosine", index=vb.Flat())
        await docs.with_namespace("a").upsert(source_records("a", 40, 1))
        await docs.with_namespace("b").upsert(source_records("b", 30, 2))
        yield store


async def test_the_plan_refuses_naming_each_field_and_its_ids_and_writes_nothing(
    source: vb.Store, tmp_path: Path
) -> None:
    async with vb.connect("tiny-limits://") as destination:
        with pytest.raises(MigrationRefusedError) as caught:
            await migrate(source.collection("docs"), destination.collection("docs"), checkpoint_dir=tmp_path)
        plan = caught.value.plan
        assert plan.fit_checked and not plan.skip_unfit
        assert {(r.namespace, r.id, r.field) for r in plan.unfit} == UNFIT
        assert all("tiny-limits" not in r.reason and "this backend holds at most" in r.reason for r in plan.unfit)
        errors = {issue.message.split(":")[0]: issue for issue in plan.errors}
        assert set(errors) == {"field 'document'", "field 'blob'"}
        assert all(issue.code == "record_does_not_fit" for issue in plan.errors)
        document = errors["field 'document'"].message
        assert "cannot hold 4 record(s)" in document and "a:'a-3', a:'a-7', b:'b-3', b:'b-7'" in document
        assert "--skip-unfit" in document
        assert "cannot hold 2 record(s)" in errors["field 'blob'"].message
        assert "field 'document'" in str(caught.value) and "field 'blob'" in str(caught.value)
        assert not await destination.has_collection("docs")


async def test_a_filter_that_leaves_the_unfit_records_out_makes_the_plan_ok(source: vb.Store, tmp_path: Path) -> None:
    async with vb.connect("tiny-limits://") as destination:
        report = await migrate(
            source.collection("docs"),
            destination.collection("docs"),
            filter={"kind": "even"},
            namespaces=["a"],
            dry_run=True,
            checkpoint_dir=tmp_path,
        )
        assert report.plan.fit_checked and report.plan.ok
        assert "limits:       all 20 records fit the destination's record limits" in report.plan.lines()


async def test_a_destination_without_limits_is_not_scanned(source: vb.Store, tmp_path: Path) -> None:
    async with vb.connect("memory://") as destination:
        report = await migrate(
            source.collection("docs"), destination.collection("docs"), dry_run=True, checkpoint_dir=tmp_path
        )
        assert not report.plan.fit_checked and report.plan.unfit == [] and report.plan.ok
        assert "limits:       the destination declares no record limits" in report.plan.lines()


@pytest.mark.parametrize("verify_mode", ["full", "sample"])
async def test_skip_unfit_copies_the_rest_lists_the_skipped_and_verifies_clean(
    source: vb.Store, tmp_path: Path, verify_mode: str
) -> None:
    async with vb.connect("tiny-limits://") as destination:
        report = await migrate(
            source.collection("docs"),
            destination.collection("docs"),
            skip_unfit=True,
            verify_mode=verify_mode,
            page_size=4,  # page a-4..a-7 holds two unfit records, and some pages hold only kept ones
            writers=2,
            checkpoint_dir=tmp_path,
        )
        assert report.succeeded, report.verification and report.verification.mismatches
        assert {(r.namespace, r.id, r.field) for r in report.skipped} == UNFIT
        assert all(issue.severity == "warning" for issue in report.plan.issues if issue.code == "record_does_not_fit")
        assert report.copied == report.written_total == 70 - 6 == report.plan.to_copy
        verification = report.verification
        assert verification is not None and verification.excluded == 6
        assert verification.counts == {
            "a": {"source": 40, "destination": 37, "excluded": 3},
            "b": {"source": 30, "destination": 27, "excluded": 3},
        }
        copied = destination.collection("docs")
        assert await copied.with_namespace("a").get(["a-3", "a-5", "a-7", "a-4"], include_vector=False) == [
            (await source.collection("docs", "a").get(["a-4"], include_vector=False))[0]
        ]
        data = report.to_dict()
        assert {(r["namespace"], r["id"], r["field"]) for r in data["skipped_unfit"]} == UNFIT
        assert data["verification"]["excluded_unfit"] == 6


async def test_a_page_of_only_unfit_records_still_advances_the_checkpoint(tmp_path: Path) -> None:
    async with vb.connect("memory://") as source, vb.connect("tiny-limits://") as destination:
        docs = await source.create_collection("docs", 8)
        batch = records(9)
        for record in batch[3:6]:
            record.document = "too long for tiny-limits"
        await docs.upsert(batch)
        report = await migrate(
            docs, destination.collection("docs"), skip_unfit=True, page_size=3, writers=1, checkpoint_dir=tmp_path
        )
        assert report.succeeded and [r.id for r in report.skipped] == ["r3", "r4", "r5"]
        assert await destination.collection("docs").count() == 6
        assert not list(tmp_path.glob("*.json")), "the finished run removes its checkpoint"


def test_cli_dry_run_shows_the_unfit_records_and_skip_unfit_exits_0(tmp_path: Path) -> None:
    import asyncio

    source_url = f"local://{tmp_path / 'src'}"

    async def populate() -> None:
        async with vb.connect(source_url) as store:
            docs = await store.create_collection("docs", 8)
            await docs.upsert(source_records("default", 12, 3))

    asyncio.run(populate())
    runner = CliRunner()
    base = ["migrate", source_url, "tiny-limits://clifit", "--collection", "docs", "--no-progress"]
    base += ["--checkpoint-dir", str(tmp_path / "ck")]
    dry = runner.invoke(main, [*base, "--dry-run"])
    assert dry.exit_code == 2, dry.output
    assert "limits:       3 of 12 records do not fit the destination and refuse the run" in dry.output
    assert "ERROR: [record_does_not_fit] field 'document'" in dry.output
    assert "default:'default-3', default:'default-7'" in dry.output
    assert "plan: REFUSED" in dry.output
    refused = runner.invoke(main, base)
    assert refused.exit_code == 2
    done = runner.invoke(main, [*base, "--skip-unfit", "--verify", "full", "--report", str(tmp_path / "r.json")])
    assert done.exit_code == 0, done.output
    assert "WARNING: [record_does_not_fit] field 'blob'" in done.output
    assert "left out 3 records the destination cannot hold whole (--skip-unfit):" in done.output
    assert "SKIPPED namespace=default id='default-5' field=blob: blob is 15 characters" in done.output
    assert "counts default 12-3 unfit->9" in done.output and "migration succeeded" in done.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["succeeded"] and [r["id"] for r in report["skipped_unfit"]] == ["default-3", "default-5", "default-7"]


# --- on a real engine: local:// -> Milvus Lite, whose doc column holds 65,535 bytes ----------------------


async def test_local_to_milvus_refuses_then_skips_the_unfit_records_and_verifies_full(
    milvus_url: str, tmp_path: Path
) -> None:
    from vecbridge_milvus.adapter import MAX_DOCUMENT_BYTES, MAX_JSON_BYTES

    vectors = np.random.default_rng(11).normal(size=(60, 16)).astype(np.float32)
    made = [
        vb.Record(id=f"doc {i}", vector=vectors[i], metadata={"i": i, "tag": ["x", "y"]}, document=f"text {i}")
        for i in range(60)
    ]
    made[10].document = "é" * (MAX_DOCUMENT_BYTES // 2 + 1)  # 32,768 characters, 65,536 bytes
    made[41].document = "z" * 100_000
    made[42].document = "z" * MAX_DOCUMENT_BYTES  # exactly at the limit: fits
    made[55].metadata["notes"] = "n" * MAX_JSON_BYTES
    name = f"vbfit_{np.random.default_rng().integers(1 << 30):x}"
    async with vb.connect(f"local://{tmp_path / 'src'}") as source, vb.connect(milvus_url) as milvus:
        docs = await source.create_collection("docs", 16, "euclidean", index=vb.Flat())
        await docs.upsert(made[:30])
        await docs.with_namespace("other").upsert(made[30:])
        try:
            with pytest.raises(MigrationRefusedError) as caught:
                await migrate(docs, milvus.collection(name), checkpoint_dir=tmp_path / "ck")
            plan = caught.value.plan
            assert {(r.namespace, r.id, r.field) for r in plan.unfit} == {
                ("default", "doc 10", "document"),
                ("other", "doc 41", "document"),
                ("other", "doc 55", "metadata"),
            }
            messages = [issue.message for issue in plan.errors]
            assert len(messages) == 2 and all(i.code == "record_does_not_fit" for i in plan.errors)
            assert "field 'document'" in messages[0] and "default:'doc 10', other:'doc 41'" in messages[0]
            assert "65536 bytes of UTF-8" in messages[0]
            assert "field 'metadata'" in messages[1] and "'notes'" in messages[1]
            assert not await milvus.has_collection(name)

            report = await migrate(
                docs, milvus.collection(name), skip_unfit=True, verify_mode="full", checkpoint_dir=tmp_path / "ck"
            )
            assert report.succeeded, report.verification and report.verification.mismatches[:5]
            assert [r.id for r in report.skipped] == ["doc 10", "doc 41", "doc 55"]
            assert report.written_total == 57
            verification = report.verification
            assert verification is not None and verification.records_matched == verification.records_checked == 57
            assert verification.counts["other"] == {"source": 30, "destination": 28, "excluded": 2}
            copied = milvus.collection(name, "other")
            assert await copied.get(["doc 41", "doc 55"]) == []
            assert (await copied.get(["doc 42"]))[0].document == "z" * MAX_DOCUMENT_BYTES
        finally:
            await milvus.drop_collection(name, missing_ok=True)

"""Migration behaviour on the reference engine: plan and refusals, subsets, retries, checkpoints, verification, CLI."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from click.testing import CliRunner

import vecbridge as vb
from vecbridge.cli import main
from vecbridge.memory import MemoryAdapter
from vecbridge.migrate import (
    Checkpoint,
    MigrationFailedError,
    MigrationRefusedError,
    PageTracker,
    migrate,
    verify,
)
from vecbridge.types import CollectionSpec, Record


def make_records(namespace: str, count: int, seed: int = 0) -> list[vb.Record]:
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(count, 8)).astype(np.float32)
    return [
        vb.Record(
            id=f"{namespace}-{i}",
            vector=vectors[i],
            metadata={"i": i, "half": i / 2, "kind": "even" if i % 2 == 0 else "odd"},
            document=f"doc {i}",
        )
        for i in range(count)
    ]


@pytest.fixture
async def source() -> AsyncIterator[vb.Store]:
    async with vb.connect("memory://") as store:
        docs = await store.create_collection("docs", 8, "cosine", index=vb.Flat(), embedding_model="model-a")
        await docs.with_namespace("a").upsert(make_records("a", 500, 1))
        await docs.with_namespace("b").upsert(make_records("b", 300, 2))
        yield store


@pytest.fixture
async def destination(tmp_path: Path) -> AsyncIterator[vb.Store]:
    async with vb.connect(f"local://{tmp_path / 'dst'}") as store:
        yield store


async def test_dry_run_prints_the_plan_and_writes_nothing(
    source: vb.Store, destination: vb.Store, tmp_path: Path
) -> None:
    report = await migrate(
        source.collection("docs"), destination.collection("docs"), dry_run=True, checkpoint_dir=tmp_path / "ck"
    )
    assert report.status == "dry_run"
    plan = report.plan
    assert plan.ok and plan.namespaces == ["a", "b"] and plan.counts == {"a": 500, "b": 300} and plan.total == 800
    assert (plan.destination_spec.dimension, plan.destination_spec.metric) == (8, vb.Metric.COSINE)
    assert plan.destination_spec.embedding_model == "model-a"
    assert plan.metadata_keys == {"half": ["float"], "i": ["int"], "kind": ["str"]}
    assert any(line.startswith("records:      800") for line in plan.lines())
    assert not await destination.has_collection("docs")
    assert not (tmp_path / "ck").exists()


async def test_destination_is_created_with_the_source_facts(
    source: vb.Store, destination: vb.Store, tmp_path: Path
) -> None:
    report = await migrate(source.collection("docs"), destination.collection("copy"), checkpoint_dir=tmp_path)
    assert report.succeeded
    facts = await destination.describe_collection("copy")
    assert (facts.dimension, facts.metric, facts.index, facts.embedding_model, facts.count) == (
        8,
        vb.Metric.COSINE,
        vb.Flat(),
        "model-a",
        800,
    )


async def test_a_metric_change_is_refused_unless_allowed(
    source: vb.Store, destination: vb.Store, tmp_path: Path
) -> None:
    with pytest.raises(MigrationRefusedError) as refused:
        await migrate(source.collection("docs"), destination.collection("docs"), metric="dot", checkpoint_dir=tmp_path)
    assert [issue.code for issue in refused.value.plan.errors] == ["metric_change"]
    assert not await destination.has_collection("docs")
    report = await migrate(
        source.collection("docs"),
        destination.collection("docs"),
        metric="dot",
        allow_metric_change=True,
        verify_mode="full",
        sample_queries=0,
        checkpoint_dir=tmp_path,
    )
    assert report.succeeded
    assert (await destination.describe_collection("docs")).metric is vb.Metric.DOT


async def test_a_non_empty_destination_is_refused(source: vb.Store, destination: vb.Store, tmp_path: Path) -> None:
    other = await destination.create_collection("docs", 8, "cosine", embedding_model="model-a")
    await other.upsert(make_records("x", 3))
    with pytest.raises(MigrationRefusedError) as refused:
        await migrate(source.collection("docs"), destination.collection("docs"), checkpoint_dir=tmp_path)
    assert [issue.code for issue in refused.value.plan.errors] == ["destination_not_empty"]
    assert await other.count() == 3


async def test_a_destination_of_another_dimension_or_model_is_refused(
    source: vb.Store, destination: vb.Store, tmp_path: Path
) -> None:
    await destination.create_collection("docs", 4, "cosine", embedding_model="model-b")
    with pytest.raises(MigrationRefusedError) as refused:
        await migrate(source.collection("docs"), destination.collection("docs"), checkpoint_dir=tmp_path)
    assert {issue.code for issue in refused.value.plan.errors} == {"dimension", "embedding_model"}


async def test_selected_namespaces_and_a_filter_copy_exactly_that_subset(
    source: vb.Store, destination: vb.Store, tmp_path: Path
) -> None:
    subset = {"kind": "even", "i": {"$lt": 100}}
    report = await migrate(
        source.collection("docs"),
        destination.collection("docs"),
        namespaces=["b"],
        filter=subset,
        verify_mode="full",
        checkpoint_dir=tmp_path,
    )
    assert report.succeeded and report.copied == 50
    assert await destination.list_namespaces("docs") == ["b"]
    copied = [r async for page in destination.collection("docs", "b").scan() for r in page.records]
    assert sorted(r.metadata["i"] for r in copied) == list(range(0, 100, 2))  # type: ignore[type-var]


async def test_the_source_is_never_written(source: vb.Store, destination: vb.Store, tmp_path: Path) -> None:
    before = {ns: [r async for p in source.collection("docs", ns).scan() for r in p.records] for ns in ("a", "b")}
    await migrate(source.collection("docs"), destination.collection("docs"), checkpoint_dir=tmp_path)
    assert [c.name for c in await source.list_collections()] == ["docs"]
    for namespace, records in before.items():
        after = [r async for p in source.collection("docs", namespace).scan() for r in p.records]
        assert after == records


def test_the_checkpoint_advances_only_over_a_contiguous_prefix(tmp_path: Path) -> None:
    checkpoint = Checkpoint.fresh(tmp_path / "c.json", {}, ["a", "b"])
    tracker = PageTracker(checkpoint)
    first = tracker.register("a", "cursor-1", 10)
    second = tracker.register("a", "cursor-2", 10)
    end_a = tracker.register("a", None, 0, end=True)
    third = tracker.register("b", "cursor-b1", 5)
    tracker.acknowledge(second)
    tracker.acknowledge(third)
    assert checkpoint.namespace("a") == {"cursor": None, "done": False, "written": 0}
    tracker.acknowledge(first)
    assert checkpoint.namespace("a") == {"cursor": "cursor-2", "done": False, "written": 20}
    tracker.acknowledge(end_a)
    assert checkpoint.namespace("a") == {"cursor": "cursor-2", "done": True, "written": 20}
    assert checkpoint.namespace("b") == {"cursor": "cursor-b1", "done": False, "written": 5}
    saved = Checkpoint.load(tmp_path / "c.json")
    assert saved is not None and saved.state["namespaces"] == checkpoint.state["namespaces"]


class FlakyAdapter(MemoryAdapter):
    """The reference engine, with upserts failing on a schedule (fault injection for retry tests)."""

    name: ClassVar[str] = "flaky"
    max_batch: ClassVar[int] = 50
    failures: ClassVar[list[bool]] = []
    permanent: ClassVar[bool] = False

    async def upsert(self, collection: CollectionSpec, namespace: str, records: Sequence[Record]) -> None:
        if self.failures and self.failures.pop(0):
            if self.permanent:
                raise vb.BackendError("flaky: permanent failure")
            raise vb.TransientBackendError("flaky: try again")
        await super().upsert(collection, namespace, records)


@pytest.fixture
def flaky() -> AsyncIterator[type[FlakyAdapter]]:
    vb.register("flaky", FlakyAdapter, replace=True)
    FlakyAdapter.failures, FlakyAdapter.permanent = [], False
    yield FlakyAdapter
    from vecbridge.registry import unregister

    unregister("flaky")


async def test_transient_write_failures_are_retried_and_nothing_is_skipped(
    source: vb.Store, flaky: type[FlakyAdapter], tmp_path: Path
) -> None:
    flaky.failures = [False, True, True, True, True] + [True] * 4  # more than the core's own three retries, twice
    async with vb.connect("flaky://vbflaky1") as destination:
        report = await migrate(
            source.collection("docs"),
            destination.collection("docs"),
            verify_mode="full",
            retry_delay=0.001,
            checkpoint_dir=tmp_path,
        )
        assert report.succeeded and report.copied == 800
        assert report.verification is not None and report.verification.records_matched == 800


async def test_a_persistent_failure_fails_the_run_and_resume_completes_it(
    source: vb.Store, flaky: type[FlakyAdapter], tmp_path: Path
) -> None:
    flaky.failures = [False] * 5 + [True] * 20
    flaky.permanent = True
    async with vb.connect("flaky://vbflaky2") as destination:
        with pytest.raises(MigrationFailedError) as failed:
            await migrate(
                source.collection("docs"), destination.collection("docs"), page_size=50, checkpoint_dir=tmp_path
            )
        assert failed.value.report.status == "failed"
        saved = list(tmp_path.glob("*.json"))
        assert len(saved) == 1, "the checkpoint survives a failed run"
        with pytest.raises(MigrationRefusedError):  # an interrupted run must be resumed or restarted explicitly
            await migrate(source.collection("docs"), destination.collection("docs"), checkpoint_dir=tmp_path)
        flaky.failures = []
        report = await migrate(
            source.collection("docs"),
            destination.collection("docs"),
            resume=True,
            verify_mode="full",
            checkpoint_dir=tmp_path,
        )
        assert report.succeeded and report.resumed
        assert report.written_total == 800 and report.copied < 800
        assert list(tmp_path.glob("*.json")) == []


async def test_verification_lists_every_kind_of_mismatch(
    source: vb.Store, destination: vb.Store, tmp_path: Path
) -> None:
    report = await migrate(source.collection("docs"), destination.collection("docs"), checkpoint_dir=tmp_path)
    assert report.succeeded
    copied = destination.collection("docs", "a")
    one, two, three = await copied.get(["a-1", "a-2", "a-3"])
    await copied.upsert(
        [
            vb.Record(id="a-1", vector=one.vector, metadata={**one.metadata, "i": 1.0}, document=one.document),
            vb.Record(id="a-2", vector=np.ones(8), metadata=two.metadata, document=two.document),
            vb.Record(id="a-3", vector=three.vector, metadata={"i": 3, "half": 1.5}, document="changed"),
            vb.Record(id="a-extra", vector=np.ones(8)),
        ]
    )
    await copied.delete(ids=["a-4", "a-5"])
    verification = await verify(
        source.collection("docs"), destination.collection("docs"), "full", plan=report.plan, sample_queries=0
    )
    found = {(m.kind, m.id) for m in verification.mismatches}
    assert found == {
        ("count", None),
        ("metadata", "a-1"),
        ("vector", "a-2"),
        ("metadata", "a-3"),
        ("document", "a-3"),
        ("missing", "a-4"),
        ("missing", "a-5"),
        ("extra", "a-extra"),
    }
    assert verification.counts["a"] == {"source": 500, "destination": 499}
    assert verification.counts["b"] == {"source": 300, "destination": 300}
    detail = next(m.detail for m in verification.mismatches if m.id == "a-1")
    assert "1 (int) became 1.0 (float)" in detail
    missing_key = next(m.detail for m in verification.mismatches if m.id == "a-3" and m.kind == "metadata")
    assert "kind: missing" in missing_key


def test_cli_migrate_exit_codes_and_json_report(tmp_path: Path) -> None:
    import asyncio

    source_url = f"local://{tmp_path / 'src'}"

    async def populate() -> None:
        async with vb.connect(source_url) as store:
            docs = await store.create_collection("docs", 8, "cosine")
            await docs.upsert(make_records("default", 200))

    asyncio.run(populate())
    runner = CliRunner()
    base = ["migrate", source_url, f"local://{tmp_path / 'dst'}", "--collection", "docs"]
    base += ["--checkpoint-dir", str(tmp_path / "ck"), "--no-progress"]
    dry = runner.invoke(main, [*base, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "records:      200" in dry.output and "plan: OK" in dry.output
    refused = runner.invoke(main, [*base, "--metric", "dot", "--report", str(tmp_path / "refused.json")])
    assert refused.exit_code == 2
    assert json.loads((tmp_path / "refused.json").read_text())["status"] == "refused"
    done = runner.invoke(main, [*base, "--verify", "full", "--report", str(tmp_path / "report.json")])
    assert done.exit_code == 0, done.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["succeeded"] and report["verification"]["mismatch_count"] == 0
    assert report["verification"]["counts"] == {"default": {"source": 200, "destination": 200}}
    again = runner.invoke(main, base)
    assert again.exit_code == 2, "a second copy into the now non-empty destination is refused"


class NormalizingAdapter(MemoryAdapter):
    """The reference engine storing cosine vectors normalized, as Qdrant does (and declaring it)."""

    name: ClassVar[str] = "normalizing"
    capabilities: ClassVar[frozenset[vb.Capability]] = frozenset(
        {vb.Capability.EXACT_SEARCH, vb.Capability.NORMALIZES_COSINE_VECTORS}
    )

    async def upsert(self, collection: CollectionSpec, namespace: str, records: Sequence[Record]) -> None:
        if collection.metric is vb.Metric.COSINE:
            records = [
                Record(r.id, np.asarray(r.vector) / np.linalg.norm(r.vector), r.metadata, r.document) for r in records
            ]
        await super().upsert(collection, namespace, records)


async def test_verification_compares_normalized_vectors_where_the_destination_normalizes(
    source: vb.Store, tmp_path: Path
) -> None:
    vb.register("normalizing", NormalizingAdapter, replace=True)
    try:
        async with vb.connect("normalizing://vbnorm") as destination:
            report = await migrate(
                source.collection("docs"), destination.collection("docs"), verify_mode="full", checkpoint_dir=tmp_path
            )
            assert "normalized_vectors" in {issue.code for issue in report.plan.issues}
            assert report.succeeded, report.verification
            stored = (await destination.collection("docs", "a").get(["a-0"]))[0]
            assert np.isclose(np.linalg.norm(stored.vector), 1.0)
    finally:
        from vecbridge.registry import unregister

        unregister("normalizing")

"""Migration through layouts, on the fake store of native tables (tests/native_tables.py).

A native source is read through its layout (declared or inferred), a destination is written in a
native shape with ``--to-layout``; the plan names both layouts and every field that does not map,
the report lists what reads left out, verification compares through the layouts, and the
checkpoint of one layout never resumes a copy made through another.
"""

from __future__ import annotations

import copy
import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import native_tables
import numpy as np
import pytest
from click.testing import CliRunner
from native_tables import TABLES, NativeTable, document_embeddings

import vecbridge as vb
from vecbridge.cli import main
from vecbridge.migrate import MigrationRefusedError, migrate

DECLARED = {"document": "content", "namespace": "tenant_id"}


@pytest.fixture
def name() -> Iterator[str]:
    """The name of a fresh fake store holding the article's ``document_embeddings`` table (12 rows)."""
    native_tables.register()
    chosen = f"mig{secrets.token_hex(4)}"
    TABLES[chosen] = {"document_embeddings": document_embeddings(rows=12, dimension=4)}
    yield chosen
    TABLES.pop(chosen, None)


def table(name: str, collection: str = "document_embeddings") -> NativeTable:
    return TABLES[name][collection]


def expected_records(source: NativeTable) -> dict[str, dict[str, object]]:
    """The contract records the article's rows become through DECLARED, by the documented rules."""
    expected = {}
    for row in source.rows:
        expected[str(row["id"])] = {
            "namespace": row["tenant_id"],
            "document": row["content"],
            "metadata": {
                "page": row["metadata"]["page"],
                "lang": "en",
                "tags": ["a", "b"],
                "extra": '{"depth":2}',
                "source_type": row["source_type"],
                "created_at": row["created_at"].isoformat(),
            },
            "vector": row["embedding"],
        }
    return expected


async def test_a_native_table_migrates_through_a_declared_layout_with_every_row_converted(
    name: str, tmp_path: Path
) -> None:
    before = copy.deepcopy(table(name).rows)
    async with vb.connect(f"native-tables://{name}") as source, vb.connect(f"local://{tmp_path / 'dst'}") as dst:
        report = await migrate(
            source.collection("document_embeddings", layout=DECLARED),
            dst.collection("document_embeddings"),
            verify_mode="full",
            checkpoint_dir=tmp_path / "ck",
        )
        assert report.succeeded, report.error
        assert report.verification is not None and not report.verification.mismatches
        copied = dst.collection("document_embeddings")
        assert sorted(await dst.list_namespaces("document_embeddings")) == ["tenant-0", "tenant-1", "tenant-2"]
        expected = expected_records(table(name))
        seen = 0
        for namespace in ("tenant-0", "tenant-1", "tenant-2"):
            async for page in copied.with_namespace(namespace).scan():
                for record in page.records:
                    want = expected[record.id]
                    assert want["namespace"] == namespace
                    assert (record.document, record.metadata) == (want["document"], want["metadata"])
                    np.testing.assert_allclose(record.vector, want["vector"], rtol=1e-6)
                    seen += 1
        assert seen == len(expected) == 12
        assert (await dst.describe_collection("document_embeddings")).metric is vb.Metric.COSINE
    assert table(name).rows == before  # reading never writes


async def test_the_plan_prints_both_layouts_and_every_field_that_does_not_map(name: str, tmp_path: Path) -> None:
    table(name).columns["thumbnail"] = "bytea"
    for row in table(name).rows:
        row["thumbnail"] = b"\x89PNG"
    async with vb.connect(f"native-tables://{name}") as source, vb.connect("memory://") as dst:
        report = await migrate(
            source.collection("document_embeddings", layout=DECLARED),
            dst.collection("document_embeddings"),
            dry_run=True,
            checkpoint_dir=tmp_path,
        )
    lines = report.plan.lines()
    text = "\n".join(lines)
    assert "source layout:" in text and "document=content" in text and "namespace=tenant_id" in text
    assert "destination layout: vecbridge's own" in text
    assert any("thumbnail (bytea)" in line and "not copied" in line for line in lines)
    assert any("created_at (timestamptz)" in line and "ISO-8601" in line for line in lines)
    assert report.plan.ok  # unfit fields are named, not refused: the plan says they stay behind


async def test_the_report_lists_what_reads_left_out(name: str, tmp_path: Path) -> None:
    table(name).columns["thumbnail"] = "bytea"
    for row in table(name).rows[:5]:
        row["thumbnail"] = b"\x89PNG"
    async with vb.connect(f"native-tables://{name}") as source, vb.connect("memory://") as dst:
        report = await migrate(
            source.collection("document_embeddings", layout=DECLARED),
            dst.collection("document_embeddings"),
            checkpoint_dir=tmp_path,
        )
    assert report.succeeded
    assert report.left_out == ["5 value(s) of 'thumbnail' not read: bytea has no lossless contract form"]
    assert report.to_dict()["left_out"] == report.left_out


async def test_an_unknown_metric_is_refused_naming_the_option_and_a_declared_one_is_used(
    name: str, tmp_path: Path
) -> None:
    table(name).metric = None
    async with vb.connect(f"native-tables://{name}") as source, vb.connect("memory://") as dst:
        with pytest.raises(MigrationRefusedError) as refused:
            await migrate(
                source.collection("document_embeddings", layout=DECLARED),
                dst.collection("document_embeddings"),
                checkpoint_dir=tmp_path,
            )
        assert '--from-layout \'{"metric": ' in "\n".join(refused.value.plan.lines())
        assert not await dst.has_collection("document_embeddings")
        report = await migrate(
            source.collection("document_embeddings", layout={**DECLARED, "metric": "dot"}),
            dst.collection("document_embeddings"),
            checkpoint_dir=tmp_path,
        )
        assert report.succeeded
        assert (await dst.describe_collection("document_embeddings")).metric is vb.Metric.DOT


async def test_a_vecbridge_collection_migrates_into_a_new_native_table(name: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    records = [vb.Record(f"r{i}", rng.standard_normal(4), {"i": i, "tag": ["x"]}, f"text {i}") for i in range(20)]
    async with vb.connect("memory://") as source, vb.connect(f"native-tables://{name}") as dst:
        docs = await source.create_collection("docs", 4, "euclidean")
        await docs.upsert(records)
        report = await migrate(
            docs,
            dst.collection("app_chunks", layout={"document": "body"}, writable=True),
            verify_mode="full",
            checkpoint_dir=tmp_path,
        )
        assert report.succeeded, report.error
        created = table(name, "app_chunks")
        assert created.columns["body"] == "text" and created.metric is vb.Metric.EUCLIDEAN
        assert {row["id"]: row["body"] for row in created.rows} == {f"r{i}": f"text {i}" for i in range(20)}
        read_back = await dst.collection("app_chunks").get([r.id for r in records])
        assert read_back == records


async def test_an_existing_native_table_is_filled_writable_and_a_read_only_handle_is_refused(
    name: str, tmp_path: Path
) -> None:
    target = NativeTable({"id": "text", "embedding": "vector(4)", "body": "text", "metadata": "jsonb"})
    target.metric = vb.Metric.COSINE
    TABLES[name]["app_chunks"] = target
    records = [vb.Record(f"r{i}", [1.0, i, 0.0, 1.0], {"i": i}, f"text {i}") for i in range(5)]
    async with vb.connect("memory://") as source, vb.connect(f"native-tables://{name}") as dst:
        docs = await source.create_collection("docs", 4, "cosine")
        await docs.upsert(records)
        report = await migrate(
            docs, dst.collection("app_chunks", writable=True), verify_mode="full", checkpoint_dir=tmp_path
        )
        assert report.succeeded, report.error
        assert len(target.rows) == 5
        with pytest.raises(MigrationRefusedError) as refused:
            await migrate(docs, dst.collection("app_chunks"), allow_existing=True, checkpoint_dir=tmp_path)
        assert "--to-layout" in "\n".join(refused.value.plan.lines())


async def test_a_changed_layout_never_resumes_another_copy(name: str, tmp_path: Path) -> None:
    async with vb.connect(f"native-tables://{name}") as source, vb.connect("memory://") as dst:
        plans = [
            (
                await migrate(
                    source.collection("document_embeddings", layout=layout),
                    dst.collection("document_embeddings"),
                    dry_run=True,
                    checkpoint_dir=tmp_path,
                )
            ).plan
            for layout in (DECLARED, {**DECLARED, "document": "source_type"})
        ]
    assert plans[0].checkpoint_path != plans[1].checkpoint_path


def test_cli_migrate_from_a_layout_file_copies_and_verifies(name: str, tmp_path: Path) -> None:
    destination = f"local://{tmp_path / 'dst'}"
    layout_file = tmp_path / "layout.json"
    layout_file.write_text(json.dumps(DECLARED))
    result = CliRunner().invoke(
        main,
        [
            "migrate",
            f"native-tables://{name}",
            destination,
            "--collection",
            "document_embeddings",
            "--from-layout",
            str(layout_file),
            "--verify",
            "full",
            "--checkpoint-dir",
            str(tmp_path / "ck"),
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "source layout: preset native, id=id, vector=embedding, document=content" in result.output
    assert "records 12/12 match" in result.output


def test_cli_refuses_a_bad_layout_before_connecting(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["migrate", "memory://", "memory://", "--collection", "docs", "--to-layout", "{oops"]
    )
    assert result.exit_code == 2
    assert "--to-layout" in result.output and "not valid JSON" in result.output


async def test_a_native_name_that_is_not_portable_is_refused_by_the_plan_naming_to_collection(
    name: str, tmp_path: Path
) -> None:
    TABLES[name]["Document Embeddings"] = TABLES[name].pop("document_embeddings")
    async with vb.connect(f"native-tables://{name}") as source, vb.connect("memory://") as dst:
        with pytest.raises(MigrationRefusedError) as refused:
            await migrate(
                source.collection("Document Embeddings", layout=DECLARED),
                dst.collection("Document Embeddings"),
                checkpoint_dir=tmp_path,
            )
        assert "[destination_name]" in "\n".join(refused.value.plan.lines())
        assert "--to-collection" in str(refused.value)
        report = await migrate(
            source.collection("Document Embeddings", layout=DECLARED),
            dst.collection("document_embeddings"),
            checkpoint_dir=tmp_path,
        )
        assert report.succeeded

"""Parquet export -> import round trip: every record, type and collection fact survives the file."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import vecbridge as vb
from vecbridge.cli import main
from vecbridge.transfer import export_parquet, import_parquet, read_facts


def records(namespace: str, count: int) -> list[vb.Record]:
    rng = np.random.default_rng(len(namespace))
    vectors = rng.normal(size=(count, 12)).astype(np.float32)
    out = [
        vb.Record(
            id=f"{namespace} ✓ 'q' {i}",
            vector=vectors[i],
            metadata={"i": i, "f": float(i), "half": i / 2, "on": i % 2 == 0, "tags": ["x", f"t{i % 3}"]}
            if i % 5
            else {},
            document=None if i % 3 == 0 else f"doc {i}",
        )
        for i in range(count)
    ]
    out.append(vb.Record(id=namespace + ":" + "L" * 400, vector=vectors[0], metadata={"big": 2**53}))
    return out


async def populate(store: vb.Store) -> dict[str, list[vb.Record]]:
    docs = await store.create_collection("docs", 12, "euclidean", index=vb.IVF(nlist=8), embedding_model="m-12")
    data = {"default": records("default", 2500), "tenant-b": records("tenant-b", 700)}
    for namespace, rows in data.items():
        await docs.with_namespace(namespace).upsert(rows)
    return data


async def test_export_then_import_restores_the_collection_exactly(tmp_path: Path) -> None:
    path = tmp_path / "docs.parquet"
    async with vb.connect("memory://") as source, vb.connect(f"local://{tmp_path / 'restored'}") as target:
        data = await populate(source)
        exported = await export_parquet(source.collection("docs"), path, row_group_size=1000)
        assert exported.counts == {"default": 2501, "tenant-b": 701}

        imported = await import_parquet(path, target, collection="restored")
        assert imported.ok and imported.counts == exported.counts
        facts = await target.describe_collection("restored")
        assert (facts.dimension, facts.metric, facts.index, facts.embedding_model, facts.count) == (
            12,
            vb.Metric.EUCLIDEAN,
            vb.IVF(nlist=8),
            "m-12",
            3202,
        )
        for namespace, rows in data.items():
            back = await target.collection("restored", namespace).get([r.id for r in rows])
            assert back == rows  # Record equality: id, exact float32 vector, metadata, document
            for want, got in zip(rows, back, strict=True):
                assert {k: type(v) for k, v in got.metadata.items()} == {k: type(v) for k, v in want.metadata.items()}


async def test_the_file_is_plain_parquet_with_the_facts_in_its_metadata(tmp_path: Path) -> None:
    path = tmp_path / "docs.parquet"
    async with vb.connect("memory://") as source:
        await populate(source)
        await export_parquet(source.collection("docs"), path, namespaces=["tenant-b"], filter={"on": True})
    parquet = pq.ParquetFile(path)
    schema = parquet.schema_arrow
    assert schema.field("vector").type == pa.list_(pa.float32(), 12)
    assert schema.names == ["id", "vector", "metadata", "document", "namespace"]
    table = parquet.read()
    assert set(table.column("namespace").to_pylist()) == {"tenant-b"}
    first = json.loads(table.column("metadata")[0].as_py())
    assert first["on"] is True and isinstance(first["f"], float) and isinstance(first["i"], int)
    facts = read_facts(path)
    assert facts["collection"]["metric"] == "euclidean" and facts["filter"] == {"on": {"$eq": True}}
    assert facts["namespaces"] == {"tenant-b": table.num_rows}


async def test_import_refuses_a_collection_that_holds_records(tmp_path: Path) -> None:
    path = tmp_path / "docs.parquet"
    async with vb.connect("memory://") as source:
        await populate(source)
        await export_parquet(source.collection("docs"), path)
        with pytest.raises(vb.CollectionExistsError):
            await import_parquet(path, source)


def test_cli_export_and_import(tmp_path: Path) -> None:
    source_url = f"local://{tmp_path / 'src'}"

    async def setup() -> None:
        async with vb.connect(source_url) as store:
            await populate(store)

    asyncio.run(setup())
    runner = CliRunner()
    out = tmp_path / "backup.parquet"
    exported = runner.invoke(main, ["export", source_url, str(out), "--collection", "docs", "--no-progress"])
    assert exported.exit_code == 0, exported.output
    target_url = f"local://{tmp_path / 'dst'}"
    imported = runner.invoke(main, ["import", str(out), target_url, "--no-progress"])
    assert imported.exit_code == 0, imported.output

    async def check() -> None:
        async with vb.connect(target_url) as store:
            assert (await store.describe_collection("docs")).count == 3202
            assert await store.list_namespaces("docs") == ["default", "tenant-b"]

    asyncio.run(check())

"""Chroma -> Milvus Lite, 10,000 x 128: ``vb.migrate`` (with verification) vs a plain hand-written
streaming copy, in one run on the same source data.

    python benchmarks/bench_migration_chroma_milvus.py [--count 10000] [--dimension 128]

The hand-written copy is what a user writes without vecbridge: page through the Chroma collection
with ``get(limit, offset)`` and ``insert`` each page into a Milvus collection of id / vector / JSON
metadata / document (no replace semantics, no namespaces, no verification). The migration reads
the same records, replaces rather than inserts, keeps namespaces and ids exact, and then verifies
(counts, 1,000 record digests, 20 queries).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path

from harness import clustered_vectors

import vecbridge as vb
from vecbridge.migrate import migrate

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from servers.chroma import start_chroma, stop_chroma  # noqa: E402
from servers.milvus import stop_lite_server  # noqa: E402


async def load_source(url: str, count: int, dimension: int) -> None:
    vectors = clustered_vectors(count, dimension, seed=5)
    async with vb.connect(url) as store:
        docs = await store.create_collection("bench_src", dimension, "cosine", embedding_model="bench")
        await docs.upsert(
            vb.Record(f"doc-{i}", vectors[i], {"i": i, "group": f"g{i % 17}"}, f"text {i}") for i in range(count)
        )


def hand_written_copy(port: int, db_file: Path, dimension: int) -> tuple[int, float]:
    import chromadb
    from pymilvus import DataType, MilvusClient

    source = chromadb.HttpClient(host="127.0.0.1", port=port).get_collection("bench_src", embedding_function=None)
    client = MilvusClient(str(db_file))
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=512)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
    schema.add_field("metadata", DataType.JSON)
    schema.add_field("document", DataType.VARCHAR, max_length=65535)
    index = client.prepare_index_params()
    index.add_index("vector", index_type="FLAT", metric_type="COSINE")
    client.create_collection("handwritten", schema=schema, index_params=index)
    start = time.perf_counter()
    copied, offset, page = 0, 0, 1000
    while True:
        got = source.get(limit=page, offset=offset, include=["embeddings", "metadatas", "documents"])
        if not got["ids"]:
            break
        rows = [
            {"id": i, "vector": list(v), "metadata": m or {}, "document": d or ""}
            for i, v, m, d in zip(got["ids"], got["embeddings"], got["metadatas"], got["documents"], strict=True)
        ]
        client.insert("handwritten", rows)
        copied += len(rows)
        offset += page
    elapsed = time.perf_counter() - start
    client.close()
    return copied, elapsed


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--dimension", type=int, default=128)
    args = parser.parse_args()
    process, port, data = start_chroma()
    work = Path(tempfile.mkdtemp(prefix="vb-bench-"))
    try:
        source_url = f"chroma://127.0.0.1:{port}"
        await load_source(source_url, args.count, args.dimension)
        copied, seconds = await asyncio.to_thread(hand_written_copy, port, work / "native.db", args.dimension)
        stop_lite_server(work / "native.db")
        destination_url = f"milvus+lite://{work / 'vb.db'}"
        async with vb.connect(source_url) as src, vb.connect(destination_url) as dst:
            started = time.perf_counter()
            report = await migrate(
                src.collection("bench_src"),
                dst.collection("bench_dst"),
                verify_mode="sample",
                checkpoint_dir=work / "checkpoints",
            )
            total = time.perf_counter() - started
        assert report.succeeded, report.to_dict()
        assert report.verification is not None
        print(f"## Migration Chroma -> Milvus Lite 2.5.1: {args.count:,} x {args.dimension}\n")
        print("| path | records | seconds | records/s |")
        print("|---|---|---|---|")
        print(
            f"| hand-written streaming copy (get/offset -> insert) | {copied:,} | {seconds:.2f} | {copied / seconds:,.0f} |"
        )
        print(f"| `vb.migrate` copy phase | {report.copied:,} | {report.copy_seconds:.2f} | {report.rate:,.0f} |")
        print(
            f"| `vb.migrate` end to end, verification `sample` included | {report.copied:,} | {total:.2f} "
            f"| {report.copied / total:,.0f} |"
        )
        v = report.verification
        print(
            f"\nverification: {v.records_matched}/{v.records_checked} records and {v.queries_matched}/{v.queries_checked} queries matched, {len(v.mismatches)} mismatches"
        )
    finally:
        stop_lite_server(work / "vb.db")
        stop_chroma(process, data)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())

"""Milvus: bulk upsert and top-10 query latency through vecbridge vs native pymilvus, in one run.

    python benchmarks/bench_milvus.py [--count 100000] [--dimension 384] [--url milvus+lite:///tmp/b.db]

Without ``--url`` a fresh Milvus Lite 2.5.1 database in a temporary directory is used (as the tests
do) and its server process is stopped at the end. First a batch-size sweep (native inserts of 20,000
records at several batch sizes: the measurement behind ``MilvusAdapter.max_batch``), then both sides
load the same Gaussian-mixture vectors with the same metadata and documents into two fresh
collections (native: a plain schema ``id VARCHAR PK, vec, meta JSON, doc VARCHAR`` and ``insert`` in
batches of 1,000, one after another, as a script would; vecbridge: ``Collection.upsert`` with its
defaults), then answer the same queries returning metadata and documents.
Targets (issue 7): upsert throughput >= 0.9x native, query overhead <= 10 %.
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import clustered_vectors, report, time_async
from pymilvus import AsyncMilvusClient, DataType, MilvusClient

import vecbridge as vb
from vecbridge.url import URL

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from servers.milvus import stop_lite_server

NATIVE_BATCH = 1000


def metadata_of(i: int) -> dict[str, Any]:
    return {"category": ("billing", "shipping", "account", "other")[i % 4], "year": 2000 + i % 27, "score": i / 1000}


def client_for(url: URL) -> AsyncMilvusClient:
    if url.driver == "lite":
        return AsyncMilvusClient(uri=url.path)
    return AsyncMilvusClient(uri=f"http://{url.host}:{url.port or 19530}", token=url.get("token") or "")


async def create_native(client: AsyncMilvusClient, name: str, dimension: int) -> None:
    schema = AsyncMilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=2048)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=dimension)
    schema.add_field("meta", DataType.JSON)
    schema.add_field("doc", DataType.VARCHAR, max_length=65535)
    index = MilvusClient.prepare_index_params()
    index.add_index(field_name="vec", index_type="FLAT", metric_type="COSINE")
    await client.create_collection(name, schema=schema, index_params=index, consistency_level="Strong")


async def native_load(
    client: AsyncMilvusClient, name: str, vectors: Any, ids: list[str], batch: int, count: int
) -> float:
    start = time.perf_counter()
    for low in range(0, count, batch):
        high = min(count, low + batch)
        rows = [
            {"id": ids[i], "vec": vectors[i].tolist(), "meta": metadata_of(i), "doc": f"text of document {i}"}
            for i in range(low, high)
        ]
        await client.insert(name, rows)
    return time.perf_counter() - start


async def run(url_text: str, count: int, dimension: int, repeat: int) -> str:
    url = URL.parse(url_text)
    vectors = clustered_vectors(count, dimension, seed=1)
    queries = clustered_vectors(64, dimension, seed=2)
    ids = [f"doc-{i}" for i in range(count)]
    client = client_for(url)
    sections = [f"## Milvus ({'Lite 2.5.1' if url.driver == 'lite' else 'server'}): {count:,} x {dimension}", ""]

    sweep = [
        f"### native insert throughput by batch size (first {min(count, 20_000):,} records)",
        "",
        "| batch | records/s |",
        "|---|---|",
    ]
    for batch in (250, 500, 1000, 2000, 5000):
        name = f"bench_sweep_{batch}"
        await create_native(client, name, dimension)
        sample = min(count, 20_000)
        seconds = await native_load(client, name, vectors, ids, batch, sample)
        sweep.append(f"| {batch} | {sample / seconds:,.0f} |")
        await client.drop_collection(name)
        print(sweep[-1], flush=True)
    sweep.append("")
    sections.append("\n".join(sweep))

    await create_native(client, "bench_native", dimension)
    native_seconds = await native_load(client, "bench_native", vectors, ids, NATIVE_BATCH, count)
    async with vb.connect(url_text) as store:
        await store.drop_collection("bench_vecbridge", missing_ok=True)
        collection = await store.create_collection("bench_vecbridge", dimension, "cosine", index=vb.Flat())
        start = time.perf_counter()
        await collection.upsert(
            vb.Record(ids[i], vectors[i], metadata_of(i), f"text of document {i}") for i in range(count)
        )
        ours_seconds = time.perf_counter() - start
        assert await collection.count() == count
        lines = [
            "### bulk upsert",
            "",
            "| path | seconds | records/s |",
            "|---|---|---|",
            f"| vecbridge (upsert, batches of {store.adapter.max_batch}) | {ours_seconds:.1f} "
            f"| {count / ours_seconds:,.0f} |",
            f"| native pymilvus (insert, batches of {NATIVE_BATCH}) | {native_seconds:.1f} "
            f"| {count / native_seconds:,.0f} |",
            "",
            f"**throughput ratio vecbridge / native: {native_seconds / ours_seconds:.3f}** (target: >= 0.9)",
            "",
        ]
        print("\n".join(lines), flush=True)
        sections.append("\n".join(lines))

        cycles = {side: itertools.cycle(queries).__next__ for side in ("vecbridge", "native")}

        async def through_vecbridge() -> object:
            return await collection.query(cycles["vecbridge"](), top_k=10)

        async def through_native() -> object:
            return await client.search(
                "bench_native",
                data=[cycles["native"]().tolist()],
                limit=10,
                output_fields=["meta", "doc"],
                search_params={"metric_type": "COSINE", "params": {}},
                consistency_level="Strong",
            )

        ours = await time_async("vecbridge query", through_vecbridge, repeat=repeat, warmup=5)
        native = await time_async("native pymilvus search", through_native, repeat=repeat, warmup=5)
        sections.append(report("top-10 query latency", ours, native, target="<= 1.10"))
        await store.drop_collection("bench_vecbridge")
    await client.drop_collection("bench_native")
    await client.close()
    return "\n".join(sections)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--dimension", type=int, default=384)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--url", default=None)
    args = parser.parse_args()
    directory = None
    url = args.url
    if url is None:
        directory = Path(tempfile.mkdtemp(prefix="vb-bench-milvus-"))
        url = f"milvus+lite://{directory / 'bench.db'}"
    try:
        import asyncio

        print(asyncio.run(run(url, args.count, args.dimension, args.repeat)))
    finally:
        if directory is not None:
            stop_lite_server(directory / "bench.db")
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()

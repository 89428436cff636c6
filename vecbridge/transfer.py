"""The portable file format: a collection as one Parquet file (``pip install 'vecbridge[parquet]'``).

Columns, one row per record::

    id         string                          the vecbridge id, unchanged
    vector     fixed_size_list<float32>[dim]   the vector as stored
    metadata   string                          JSON object; ``1`` stays an int, ``1.0`` a float, missing keys absent
    document   string (nullable)
    namespace  string

The file's key-value metadata holds ``vecbridge`` = JSON ``{"format": "vecbridge-parquet", "version": 1,
"collection": <CollectionSpec.to_dict()>, "namespaces": {name: rows}, "filter": ...}``. Rows are
written and read in row groups while scanning, so memory stays flat whatever the collection size.
Any Parquet tool (DuckDB, pandas, polars) reads the file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vecbridge.errors import CollectionExistsError, InvalidArgumentError, UnsupportedFeatureError
from vecbridge.filters import Filter, format_filter, parse_filter
from vecbridge.store import Collection, Store
from vecbridge.types import CollectionSpec, Record

FORMAT = "vecbridge-parquet"
FORMAT_VERSION = 1
METADATA_KEY = b"vecbridge"
ProgressCallback = Callable[[str, int, "int | None"], None]


def _pyarrow() -> tuple[Any, Any]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise UnsupportedFeatureError("Parquet export/import needs pyarrow: pip install 'vecbridge[parquet]'") from None
    return pa, pq


def parquet_schema(dimension: int) -> Any:
    pa, _ = _pyarrow()
    return pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("vector", pa.list_(pa.float32(), dimension), nullable=False),
            pa.field("metadata", pa.string(), nullable=False),
            pa.field("document", pa.string(), nullable=True),
            pa.field("namespace", pa.string(), nullable=False),
        ]
    )


@dataclass(slots=True)
class TransferSummary:
    """What an export or import moved, per namespace."""

    path: str
    collection: CollectionSpec
    counts: dict[str, int] = field(default_factory=dict)
    verified: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def ok(self) -> bool:
        return all(entry["expected"] == entry["actual"] for entry in self.verified.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "collection": self.collection.to_dict(),
            "counts": self.counts,
            "total": self.total,
            "verified": self.verified,
            "ok": self.ok,
        }


def _batch(pa: Any, schema: Any, records: list[Record], namespace: str, dimension: int) -> Any:
    vectors = np.stack([np.asarray(r.vector, dtype=np.float32) for r in records]).reshape(-1)
    return pa.record_batch(
        [
            pa.array([r.id for r in records], type=pa.string()),
            pa.FixedSizeListArray.from_arrays(pa.array(vectors, type=pa.float32()), dimension),
            pa.array(
                [json.dumps(r.metadata, ensure_ascii=False, allow_nan=False, sort_keys=True) for r in records],
                type=pa.string(),
            ),
            pa.array([r.document for r in records], type=pa.string()),
            pa.array([namespace] * len(records), type=pa.string()),
        ],
        schema=schema,
    )


async def export_parquet(
    source: Collection,
    path: str | os.PathLike[str],
    *,
    namespaces: Sequence[str] | None = None,
    filter: Filter | None = None,
    page_size: int = 1000,
    row_group_size: int = 10_000,
    on_progress: ProgressCallback | None = None,
) -> TransferSummary:
    """Write every record of the selected namespaces (default: all) matching ``filter`` to ``path``.

    The file is written to a temporary name and renamed when complete: a crash never leaves a
    truncated file that looks whole.
    """
    pa, pq = _pyarrow()
    spec = await source.spec()
    selected = list(namespaces) if namespaces else await source.store.list_namespaces(source.name)
    schema = parquet_schema(spec.dimension)
    target = Path(path)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    summary = TransferSummary(path=str(target), collection=spec)
    canonical = format_filter(parse_filter(filter)) or None
    total = sum([await source.with_namespace(ns).count(filter=filter) for ns in selected])
    done = 0
    try:
        with pq.ParquetWriter(str(temporary), schema, compression="zstd") as writer:
            for namespace in selected:
                pending: list[Any] = []
                pending_rows = 0
                count = 0
                async for page in source.with_namespace(namespace).scan(page_size, filter=filter):
                    pending.append(_batch(pa, schema, page.records, namespace, spec.dimension))
                    pending_rows += len(page.records)
                    count += len(page.records)
                    if pending_rows >= row_group_size:
                        writer.write_table(pa.Table.from_batches(pending, schema=schema))
                        pending, pending_rows = [], 0
                    done += len(page.records)
                    if on_progress is not None:
                        on_progress("export", done, total)
                if pending:
                    writer.write_table(pa.Table.from_batches(pending, schema=schema))
                summary.counts[namespace] = count
            facts = {
                "format": FORMAT,
                "version": FORMAT_VERSION,
                "collection": spec.to_dict(),
                "namespaces": summary.counts,
                "filter": canonical,
            }
            writer.add_key_value_metadata({METADATA_KEY: json.dumps(facts).encode()})
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return summary


def read_facts(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``vecbridge`` facts stored in a file written by :func:`export_parquet`."""
    _, pq = _pyarrow()
    metadata = pq.ParquetFile(str(path)).metadata.metadata or {}
    raw = metadata.get(METADATA_KEY)
    if raw is None:
        raise InvalidArgumentError(f"{path} is not a vecbridge export (no 'vecbridge' key in the file metadata)")
    facts: dict[str, Any] = json.loads(raw)
    if facts.get("format") != FORMAT or facts.get("version") != FORMAT_VERSION:
        raise InvalidArgumentError(f"{path}: unknown format {facts.get('format')!r} version {facts.get('version')!r}")
    return facts


def _records(batch: Any, dimension: int) -> list[tuple[str, Record]]:
    ids = batch.column("id").to_pylist()
    vectors = batch.column("vector").flatten().to_numpy(zero_copy_only=False).reshape(-1, dimension)
    metadata = batch.column("metadata").to_pylist()
    documents = batch.column("document").to_pylist()
    namespaces = batch.column("namespace").to_pylist()
    return [
        (namespaces[i], Record(id=ids[i], vector=vectors[i], metadata=json.loads(metadata[i]), document=documents[i]))
        for i in range(len(ids))
    ]


async def import_parquet(
    path: str | os.PathLike[str],
    store: Store,
    *,
    collection: str | None = None,
    namespaces: Sequence[str] | None = None,
    allow_existing: bool = False,
    batch_size: int = 1000,
    on_progress: ProgressCallback | None = None,
) -> TransferSummary:
    """Load a file written by :func:`export_parquet` into ``store`` (collection name from the file unless given).

    The collection is created with the file's facts. An existing non-empty collection is refused
    unless ``allow_existing``. Afterwards each namespace's count is compared with the file's.
    """
    _, pq = _pyarrow()
    facts = read_facts(path)
    stored = CollectionSpec.from_dict(facts["collection"])
    name = collection or stored.name
    prior = (await store.describe_collection(name)).count if await store.has_collection(name) else 0
    if prior and not allow_existing:
        raise CollectionExistsError(
            f"collection {name!r} already holds records; import into a new collection or pass allow_existing"
        )
    target = await store.create_collection(
        name,
        stored.dimension,
        stored.metric,
        index=stored.index,
        embedding_model=stored.embedding_model,
        exist_ok=True,
    )
    spec = await target.spec()
    wanted = set(namespaces) if namespaces else None
    file_counts: dict[str, int] = facts.get("namespaces") or {}
    total = sum(file_counts[ns] for ns in file_counts if wanted is None or ns in wanted)
    summary = TransferSummary(path=str(path), collection=spec)
    done = 0
    parquet = pq.ParquetFile(str(path))
    async with target.bulk_load():  # index builds deferred to the end where the backend supports it
        for batch in parquet.iter_batches(batch_size=batch_size):
            grouped: dict[str, list[Record]] = {}
            for namespace, record in _records(batch, stored.dimension):
                if wanted is None or namespace in wanted:
                    grouped.setdefault(namespace, []).append(record)
            for namespace, records in grouped.items():
                await target.with_namespace(namespace).upsert(records)
                summary.counts[namespace] = summary.counts.get(namespace, 0) + len(records)
                done += len(records)
            if on_progress is not None:
                on_progress("import", done, total)
    if not prior:  # into an empty collection: each namespace must now hold exactly the file's rows
        for namespace, rows in summary.counts.items():
            actual = await target.with_namespace(namespace).count()
            summary.verified[namespace] = {"expected": file_counts.get(namespace, rows), "actual": actual}
    return summary


__all__ = ["FORMAT", "TransferSummary", "export_parquet", "import_parquet", "parquet_schema", "read_facts"]

"""Where audit queries come from: a file of vectors, or the collection's own vectors drawn with a seed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vecbridge.errors import InvalidArgumentError
from vecbridge.store import Collection
from vecbridge.types import FloatArray


@dataclass(frozen=True, slots=True)
class QuerySet:
    """Query vectors (one row each) and, for a query drawn from the collection, its record's id,
    which the exact answer leaves out (a record is trivially its own nearest neighbour)."""

    vectors: FloatArray
    own_ids: tuple[str | None, ...]
    source: str

    def __len__(self) -> int:
        return len(self.vectors)


def load_queries(path: str | Path, dimension: int) -> QuerySet:
    """Query vectors from ``.npy`` (a 2-d array), ``.parquet`` (a ``vector`` column) or ``.jsonl``
    (one list of floats, or an object with a ``vector`` key, per line)."""
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix == ".npy":
        vectors = np.load(file, allow_pickle=False)
    elif suffix == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise InvalidArgumentError("reading Parquet needs pyarrow: pip install 'vecbridge[parquet]'") from None
        column = pq.read_table(file, columns=["vector"]).column("vector").to_pylist()
        vectors = np.asarray(column, dtype=np.float32)
    elif suffix in (".jsonl", ".ndjson"):
        rows = []
        for line in file.read_text().splitlines():
            if line.strip():
                item = json.loads(line)
                rows.append(item["vector"] if isinstance(item, dict) else item)
        vectors = np.asarray(rows, dtype=np.float32)
    else:
        raise InvalidArgumentError(f"query file {file.name!r}: use .npy, .parquet or .jsonl")
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[1] != dimension or len(vectors) == 0:
        raise InvalidArgumentError(
            f"query file {file.name!r} holds an array of shape {vectors.shape}; expected (n, {dimension}), n >= 1"
        )
    if not np.isfinite(vectors).all():
        raise InvalidArgumentError(f"query file {file.name!r} holds NaN or infinite values")
    return QuerySet(vectors, (None,) * len(vectors), f"file {file.name}")


async def sample_queries(collection: Collection, count: int, seed: int) -> QuerySet:
    """``count`` records of the collection drawn uniformly with ``seed`` (reservoir sampling over a
    scan of ids, then one ``get`` for their vectors); fewer when the collection is smaller."""
    if count < 1:
        raise InvalidArgumentError(f"the number of sampled queries must be >= 1, got {count}")
    rng = np.random.default_rng(seed)
    chosen: list[str] = []
    seen = 0
    async for page in collection.scan(page_size=1000, include_vector=False):
        for record in page.records:
            if len(chosen) < count:
                chosen.append(record.id)
            else:
                slot = int(rng.integers(0, seen + 1))
                if slot < count:
                    chosen[slot] = record.id
            seen += 1
    chosen.sort()
    records = await collection.get(chosen, include_vector=True)
    if not records:
        raise InvalidArgumentError(f"collection {collection.name!r} holds no records to draw queries from")
    vectors = np.stack([np.asarray(r.vector, dtype=np.float32) for r in records])
    return QuerySet(vectors, tuple(r.id for r in records), f"{len(records)} records of the collection, seed {seed}")

"""Ray Data over vecbridge collections (``pip install 'vecbridge[ray]'``).

``read_collection(url, name)`` is a ``ray.data.Dataset`` of a collection: one read task per
partition (``Collection.partitions``), each scanning its range on its own connection, one block per
page. ``write_collection(dataset, url, name)`` writes a dataset through the same validated upserts
as any caller. Both are usable on their own: batch embedding with ``map_batches``, analytics, or
the distributed migration (``vecbridge migrate --engine ray``).

Rows have the columns ``id`` (string), ``vector`` (list of float32), ``metadata`` (JSON text: a
record's metadata holds several types per key, which Arrow columns cannot), ``document`` (string
or null) and ``namespace`` (string).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from functools import partial
from typing import Any

import numpy as np

from vecbridge.blocking import connect_sync
from vecbridge.errors import VecbridgeError
from vecbridge.layout import LayoutInput
from vecbridge.types import DEFAULT_NAMESPACE, Record

try:
    import pyarrow as pa
    import ray.data
    from ray.data import Datasink, Datasource, ReadTask
    from ray.data.block import BlockMetadata
except ImportError as missing:  # pragma: no cover - the module is an optional extra
    raise VecbridgeError("vecbridge.ray needs Ray Data: pip install 'vecbridge[ray]'") from missing

COLUMNS = ("id", "vector", "metadata", "document", "namespace")


def records_to_table(records: Iterable[Record], namespace: str) -> pa.Table:
    """One block: a page of records as an Arrow table with :data:`COLUMNS`."""
    rows = list(records)
    vectors = [np.asarray(r.vector, dtype=np.float32) for r in rows]
    return pa.table(
        {
            "id": pa.array([r.id for r in rows], pa.string()),
            "vector": pa.array(vectors, pa.list_(pa.float32())),
            "metadata": pa.array([json.dumps(r.metadata, ensure_ascii=False) for r in rows], pa.string()),
            "document": pa.array([r.document for r in rows], pa.string()),
            "namespace": pa.array([namespace] * len(rows), pa.string()),
        }
    )


def rows_to_records(batch: dict[str, Any]) -> list[Record]:
    """Records from a batch of rows (``id``, ``vector``, optional ``metadata`` JSON text and ``document``)."""
    ids = list(batch["id"])
    metadata = batch.get("metadata")
    documents = batch.get("document")
    return [
        Record(
            id=str(record_id),
            vector=np.asarray(batch["vector"][i], dtype=np.float32),
            metadata={} if metadata is None or metadata[i] is None else json.loads(metadata[i]),
            document=None if documents is None or documents[i] is None else str(documents[i]),
        )
        for i, record_id in enumerate(ids)
    ]


class CollectionDatasource(Datasource):
    """A collection's namespace as read tasks, one per partition."""

    def __init__(
        self,
        url: str,
        collection: str,
        namespace: str = DEFAULT_NAMESPACE,
        *,
        partitions: int | None = None,
        page_size: int = 1000,
        layout: LayoutInput = None,
    ) -> None:
        self.url = url
        self.collection = collection
        self.namespace = namespace
        self.partitions = partitions
        self.page_size = page_size
        self.layout = layout

    def estimate_inmemory_data_size(self) -> int | None:
        return None

    def get_read_tasks(
        self, parallelism: int, per_task_row_limit: int | None = None, data_context: Any = None
    ) -> list[ReadTask]:
        with connect_sync(self.url) as store:
            cursors = store.collection(self.collection, self.namespace, layout=self.layout).partitions(
                self.partitions or max(1, parallelism)
            )
        return [
            ReadTask(
                partial(self._read, cursor),
                BlockMetadata(num_rows=None, size_bytes=None, exec_stats=None, input_files=None),
            )
            for cursor in cursors
        ]

    def _read(self, cursor: str | None) -> Iterator[pa.Table]:
        with connect_sync(self.url) as store:
            collection = store.collection(self.collection, self.namespace, layout=self.layout)
            for page in collection.scan(self.page_size, cursor=cursor):
                yield records_to_table(page.records, self.namespace)


class CollectionDatasink(Datasink[int]):
    """Writes blocks into a collection through validated upserts (the collection must exist)."""

    def __init__(self, url: str, collection: str, namespace: str = DEFAULT_NAMESPACE) -> None:
        self.url = url
        self.collection = collection
        self.namespace = namespace

    def write(self, blocks: Iterable[Any], ctx: Any) -> int:
        written = 0
        with connect_sync(self.url) as store:
            collection = store.collection(self.collection, self.namespace)
            for block in blocks:
                table = block if isinstance(block, pa.Table) else pa.Table.from_pandas(block)
                written += collection.upsert(rows_to_records(table.to_pydict()))
        return written


def read_collection(
    url: str,
    collection: str,
    namespace: str = DEFAULT_NAMESPACE,
    *,
    partitions: int | None = None,
    page_size: int = 1000,
    layout: LayoutInput = None,
) -> ray.data.Dataset:
    """The namespace as a ``ray.data.Dataset``, read in ``partitions`` parallel tasks (default: Ray's choice)."""
    source = CollectionDatasource(url, collection, namespace, partitions=partitions, page_size=page_size, layout=layout)
    dataset: ray.data.Dataset = ray.data.read_datasource(source, override_num_blocks=partitions)
    return dataset


def write_collection(dataset: ray.data.Dataset, url: str, collection: str, namespace: str = DEFAULT_NAMESPACE) -> None:
    """Write ``dataset`` (rows with :data:`COLUMNS`; ``namespace`` is ignored) into an existing collection."""
    dataset.write_datasink(CollectionDatasink(url, collection, namespace))

"""vecbridge: one async API for every vector database.

>>> import vecbridge as vb
>>> async with vb.connect("memory://") as store:  # doctest: +SKIP
...     docs = await store.create_collection("docs", dimension=384, metric="cosine")
"""

from vecbridge.adapter import Adapter, Capability
from vecbridge.blocking import SyncCollection, SyncStore, connect_sync
from vecbridge.errors import (
    AdapterNotInstalledError,
    BackendError,
    CollectionExistsError,
    CollectionNotFoundError,
    ConsistencyTimeoutError,
    DimensionMismatchError,
    EmbeddingModelMismatchError,
    InvalidArgumentError,
    InvalidFilterError,
    InvalidRecordError,
    InvalidURLError,
    PartialWriteError,
    TransientBackendError,
    UnsupportedFeatureError,
    UnsupportedFilterError,
    VecbridgeError,
)
from vecbridge.filters import FilterCompiler, parse_filter
from vecbridge.layout import FieldRole, Layout, LayoutError, NativeField
from vecbridge.migrate import migrate
from vecbridge.migrate.sync import SyncReport, sync
from vecbridge.mirror import MirroredStore, mirror
from vecbridge.registry import register
from vecbridge.store import Collection, Store, connect
from vecbridge.types import (
    DEFAULT_NAMESPACE,
    HNSW,
    IVF,
    CollectionInfo,
    CollectionSpec,
    Flat,
    IndexSpec,
    Match,
    Metric,
    Page,
    Record,
    SearchParams,
)
from vecbridge.url import URL

__version__ = "0.1.0"


__all__ = [
    "DEFAULT_NAMESPACE",
    "HNSW",
    "IVF",
    "URL",
    "Adapter",
    "AdapterNotInstalledError",
    "BackendError",
    "Capability",
    "Collection",
    "CollectionExistsError",
    "CollectionInfo",
    "CollectionNotFoundError",
    "CollectionSpec",
    "ConsistencyTimeoutError",
    "DimensionMismatchError",
    "EmbeddingModelMismatchError",
    "FieldRole",
    "FilterCompiler",
    "Flat",
    "IndexSpec",
    "InvalidArgumentError",
    "InvalidFilterError",
    "InvalidRecordError",
    "InvalidURLError",
    "Layout",
    "LayoutError",
    "Match",
    "Metric",
    "MirroredStore",
    "NativeField",
    "Page",
    "PartialWriteError",
    "Record",
    "SearchParams",
    "Store",
    "SyncCollection",
    "SyncReport",
    "SyncStore",
    "TransientBackendError",
    "UnsupportedFeatureError",
    "UnsupportedFilterError",
    "VecbridgeError",
    "connect",
    "connect_sync",
    "migrate",
    "mirror",
    "parse_filter",
    "register",
    "sync",
]

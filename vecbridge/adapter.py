"""The adapter SPI: the few narrow primitives a backend implements.

Everything shared (validation, batching, concurrency limits, retries, namespaces as an argument,
``min_score``, score-order checks) lives once in :mod:`vecbridge.store`. An adapter receives
validated input only: records already checked against the contract, vectors as float32 arrays of
the collection's dimension, filters already parsed and compiled by its own ``filter_compiler``.

Each primitive's docstring names the conformance tests (``vecbridge_conformance``) that pin it.
"""

from __future__ import annotations

import base64
import enum
import json
import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

from vecbridge.errors import (
    BackendError,
    CollectionNotFoundError,
    InvalidArgumentError,
    UnsupportedFeatureError,
    VecbridgeError,
)
from vecbridge.filters import FilterCompiler, FilterNode
from vecbridge.layout import Layout
from vecbridge.types import CollectionSpec, FloatArray, Match, Page, Record, SearchParams
from vecbridge.url import URL

#: Reserved metadata keys an adapter may use to carry contract data through a backend.
ID_KEY = "_vb_id"
NAMESPACE_KEY = "_vb_ns"
DOCUMENT_KEY = "_vb_doc"

_ID_NAMESPACE = uuid.UUID("6f1b4c9e-3d2a-5e8f-9a7b-0c1d2e3f4a5b")


def uuid_for_id(record_id: str) -> str:
    """Deterministic UUID for a vecbridge id, for backends whose ids must be UUIDs (uuid5, so
    two distinct ids never collide in practice and the same id always maps to the same UUID)."""
    return str(uuid.uuid5(_ID_NAMESPACE, record_id))


def encode_cursor(state: Any) -> str:
    """A scan cursor holding ``state`` (anything JSON holds): opaque and URL-safe for the caller,
    and readable by any connection to the same backend, so a scan resumes from another process."""
    return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str, backend: str, valid: Callable[[Any], bool] = lambda state: True) -> Any:
    """The state :func:`encode_cursor` put into ``cursor``; ``InvalidArgumentError`` naming ``backend``
    for a cursor it did not make, or whose state ``valid`` refuses."""
    try:
        state = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except ValueError:  # binascii.Error, UnicodeDecodeError and JSONDecodeError are ValueErrors
        pass
    else:
        if valid(state):
            return state
    raise InvalidArgumentError(f"not a {backend} scan cursor: {cursor!r}")


class Capability(enum.StrEnum):
    """What a backend can do beyond the contract every adapter must meet.

    The runtime and the conformance suite read the same flags; a conformance test that needs one
    is skipped with the adapter's name and the missing flag.
    """

    #: Data survives closing the connection and connecting again to the same URL.
    PERSISTENT = "persistent"
    #: Cosine collections store vectors normalized to unit length; reads return the normalized vector.
    NORMALIZES_COSINE_VECTORS = "normalizes_cosine_vectors"
    #: Queries are exact (brute force) on any collection size; otherwise exact only on small data.
    EXACT_SEARCH = "exact_search"
    #: The index settings (HNSW, IVF, Flat) are honoured rather than mapped to the closest kind.
    INDEX_SETTINGS = "index_settings"
    #: A deferred-index bulk load mode exists (``Adapter.bulk_load``).
    BULK_LOAD = "bulk_load"
    #: Two connections to the same URL see each other's writes.
    SHARED_ACROSS_CONNECTIONS = "shared_across_connections"
    #: A list upsert of any size is one transaction (``Adapter.upsert_atomic``): the core validates
    #: each batch while the previous one is being written, and any failure leaves nothing written.
    ATOMIC_UPSERT = "atomic_upsert"
    #: Collections vecbridge did not create are discovered and read through a ``Layout``
    #: (``Adapter.list_native_collections``, ``Adapter.describe_native_collection``), and written
    #: in their own shape when the caller opts in (``Layout.writable``).
    NATIVE_LAYOUTS = "native_layouts"
    #: ``SearchParams.ef`` is honoured per query (the HNSW candidate list).
    SEARCH_EF = "search_ef"
    #: ``SearchParams.probes`` is honoured per query (IVF lists searched).
    SEARCH_PROBES = "search_probes"
    #: ``SearchParams.exact`` runs a query by brute force, bypassing the index.
    SEARCH_EXACT = "search_exact"
    #: ``Adapter.set_search_defaults`` stores a collection's default search effort in its facts.
    SEARCH_DEFAULTS = "search_defaults"
    #: ``SearchParams.ef`` can be a collection's default although no query can set it: the backend
    #: keeps it as a collection setting (Chroma's ``ef_search``, Weaviate's class ``ef``), which
    #: every query then uses without naming it.
    SEARCH_EF_DEFAULT = "search_ef_default"
    #: ``Adapter.partitions`` splits a namespace into several disjoint, independently scannable ranges
    #: (otherwise a namespace is one partition: distributed readers get no parallelism from it).
    PARTITIONED_SCAN = "partitioned_scan"
    #: Float metadata values read back bit for bit: correctly rounded both ways, ``-0.0``, subnormals
    #: and the extremes included (conformance: ``test_floats_read_back_bit_for_bit``). Without it,
    #: ``Adapter.float_error_ulps`` is the measured bound, and migration verify reports every float
    #: that differs instead of failing on it.
    EXACT_FLOATS = "exact_floats"


class Adapter(ABC):
    """One backend. Subclasses set the class attributes and implement the abstract primitives.

    ``connect`` is the only constructor the core calls. Every primitive that names a collection
    raises ``CollectionNotFoundError`` when it does not exist. Client exceptions are mapped in
    one place, :meth:`errors`, and never leak raw.
    """

    #: Short backend name used in messages ("qdrant", "pgvector").
    name: ClassVar[str]
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    #: Largest number of records the core sends in one ``upsert`` call.
    max_batch: ClassVar[int] = 1000
    #: Largest estimated request size in bytes (``None``: no limit); batches are cut by bytes too.
    max_request_bytes: ClassVar[int | None] = None
    #: Largest number of concurrent write batches the core runs against this backend.
    max_concurrency: ClassVar[int] = 4
    #: Largest ``top_k`` a query may ask for.
    max_top_k: ClassVar[int] = 10_000
    #: Without ``Capability.EXACT_FLOATS``: the largest difference measured between a float metadata
    #: value written and read back, in units in the last place (``None``: not measured).
    float_error_ulps: ClassVar[int | None] = None
    filter_compiler: ClassVar[type[FilterCompiler[Any]]] = FilterCompiler

    @classmethod
    def variant(cls, url: URL) -> type[Adapter]:
        """The class serving ``url`` when a driver (``qdrant+edge``) changes the capabilities; default: ``cls``."""
        return cls

    @classmethod
    @abstractmethod
    async def connect(cls, url: URL) -> Adapter:
        """Open connections for ``url``; raise ``InvalidURLError`` for options this backend does not know."""

    @abstractmethod
    async def close(self) -> None:
        """Release every connection; idempotent."""

    @classmethod
    def supported_filter_operators(cls) -> frozenset[str]:
        return cls.filter_compiler.supported_operators()

    def compile_filter(self, node: FilterNode, collection: CollectionSpec) -> Any:
        """Compile a parsed filter (never ``MatchAll`` at the root: the core passes ``None`` then).

        Raises ``UnsupportedFilterError`` before any request. Override only when the compiler
        needs per-collection state (a schema); the default builds ``filter_compiler()``.
        """
        return self.filter_compiler().compile(node)

    @contextmanager
    def errors(self, action: str) -> Iterator[None]:
        """Map client exceptions to the vecbridge hierarchy; adapters extend :meth:`map_error`."""
        try:
            yield
        except VecbridgeError:
            raise
        except Exception as exc:
            raise self.map_error(exc, action) from exc

    def map_error(self, exc: Exception, action: str) -> VecbridgeError:
        """Translate one client exception; the default wraps it in ``BackendError`` keeping ``.orig``."""
        return BackendError(f"{self.name}: {action} failed: {type(exc).__name__}: {exc}", orig=exc)

    # --- collections (conformance: CollectionTests, NamespaceTests) -------------------------------

    @abstractmethod
    async def create_collection(self, spec: CollectionSpec) -> None:
        """Create the collection and store its facts; ``CollectionExistsError`` if the name is taken.

        With ``spec.layout`` set (``Capability.NATIVE_LAYOUTS``), create it in that native shape (a
        framework's tables, a plain table) instead, so its own application can read what is written."""

    @abstractmethod
    async def drop_collection(self, name: str) -> None:
        """Drop the collection and all its namespaces; ``CollectionNotFoundError`` if missing."""

    @abstractmethod
    async def list_collections(self) -> list[CollectionSpec]:
        """Facts of every vecbridge collection, any order."""

    @abstractmethod
    async def describe_collection(self, name: str) -> CollectionSpec:
        """The facts stored at creation (dimension, metric, index, embedding model)."""

    @abstractmethod
    async def list_namespaces(self, collection: CollectionSpec) -> list[str]:
        """Namespaces holding at least one record."""

    # --- existing data (Capability.NATIVE_LAYOUTS; conformance: NativeReadTests) ----------------
    #
    # A spec whose ``layout`` is set reaches every primitive above and below: the adapter reads and
    # writes the collection's own fields through it. Reading never writes: discovering, describing
    # and reading a native collection leave it exactly as it was (no registry row, no column, no
    # index, no collection metadata). Writes arrive only when ``layout.writable`` (the core refuses
    # them otherwise) and replace whole records in the collection's own shape. Native values become
    # contract values by ``Layout.metadata_from`` / ``vecbridge.layout.metadata_value``, never by
    # rules of the adapter's own. With a layout that has no namespace field, the collection is one
    # namespace, ``DEFAULT_NAMESPACE``; reads of any other namespace find nothing.

    async def list_native_collections(self) -> list[CollectionSpec]:
        """Every collection vecbridge did not create, each with its inferred layout and the fields
        discovery found (``layout.fields``); one whose layout is ambiguous is listed with the
        candidates in its fields' notes. Default: none."""
        return []

    async def describe_native_collection(self, name: str, layout: Layout) -> CollectionSpec:
        """The collection ``name`` read through ``layout`` (declared keys win over inference), resolved:
        every role filled or declared absent, ``fields`` listed. ``CollectionNotFoundError`` when no
        such native collection exists, ``LayoutError`` (naming the candidates and the option to pass)
        when inference is ambiguous or the declared layout does not fit. Default: not found."""
        raise CollectionNotFoundError(f"{self.name} reads no collections it did not create ({name!r})")

    # --- records (conformance: UpsertTests QueryTests ScoreTests FilterTests DeleteTests CountTests
    # ScanTests NamespaceTests ConsistencyTests DifferentialTests) -----------------------------------

    def check_storable(self, collection: CollectionSpec, record: Record) -> None:
        """Raise ``InvalidRecordError(..., record_id=record.id, field=...)`` when this backend cannot hold
        ``record`` whole because of a limit of its own (a document longer than a text column, metadata
        over a per-record size cap); the default: every valid record fits.

        Why a hook and not a check inside :meth:`upsert`: the core calls it on every validated record
        of a list upsert before the first write, so an unfit record fails the call with nothing written
        (a check inside ``upsert`` runs per batch, after earlier batches were written). The migration
        plan calls it on the source's records read *without* vectors (``record.vector`` may be empty):
        look at the id, metadata and document only, never the vector. Pure and cheap: no I/O.
        Conformance: none (a backend limit, not the contract); the core pins the nothing-written rule.
        """
        return None

    @classmethod
    def has_record_limits(cls) -> bool:
        """Whether this adapter overrides :meth:`check_storable`; the core skips the per-record loop otherwise."""
        return cls.check_storable is not Adapter.check_storable

    @abstractmethod
    async def upsert(self, collection: CollectionSpec, namespace: str, records: Sequence[Record]) -> None:
        """Insert or wholly replace (never merge) up to ``max_batch`` validated records with distinct ids.

        ``records[i].vector`` is a float32 array. When this returns, every later read sees the write.
        """

    async def upsert_atomic(
        self, collection: CollectionSpec, namespace: str, batches: AsyncIterator[list[Record]]
    ) -> None:
        """Write every batch of ``batches`` in one transaction (``Capability.ATOMIC_UPSERT``).

        Each batch is what :meth:`upsert` takes; ids are distinct across all batches of one call.
        The core validates a batch only when it is asked for the next one, so that validation runs
        while the backend works on the batches before it. If ``batches`` raises (a bad record found
        late) or a write fails, the exception propagates and nothing of the call is written.
        """
        raise NotImplementedError(f"{self.name} does not declare Capability.ATOMIC_UPSERT")

    @abstractmethod
    async def query(
        self,
        collection: CollectionSpec,
        namespace: str,
        vector: FloatArray,
        top_k: int,
        filter: Any | None,
        include_vectors: bool,
    ) -> list[Match]:
        """Up to ``top_k`` best matches in the namespace, scores in the vecbridge convention, best first.

        Must return the full ``top_k`` when that many records match ``filter``. ``vector`` is set on
        each match only when ``include_vectors``. An adapter declaring a ``SEARCH_*`` capability takes
        a keyword ``search: SearchParams``; the core passes it only when the query or the collection's
        facts set one, and only with knobs the adapter declares (conformance: SearchParamsTests).
        """

    @abstractmethod
    async def get(
        self, collection: CollectionSpec, namespace: str, ids: Sequence[str], include_vectors: bool
    ) -> list[Record]:
        """Records for the ids that exist in the namespace, any order; missing ids are absent.

        When ``include_vectors`` is false the returned records may carry an empty vector.
        """

    @abstractmethod
    async def delete_ids(self, collection: CollectionSpec, namespace: str, ids: Sequence[str]) -> None:
        """Delete the ids that exist in the namespace; missing ids are not an error."""

    @abstractmethod
    async def delete_where(self, collection: CollectionSpec, namespace: str, filter: Any | None) -> None:
        """Delete every record of the namespace matching ``filter`` (``None``: all of the namespace)."""

    @abstractmethod
    async def count(self, collection: CollectionSpec, namespace: str, filter: Any | None) -> int:
        """Exact number of records in the namespace matching ``filter`` (``None``: all)."""

    @abstractmethod
    async def scan(
        self,
        collection: CollectionSpec,
        namespace: str,
        cursor: str | None,
        page_size: int,
        filter: Any | None,
        include_vectors: bool,
    ) -> Page:
        """Up to ``page_size`` records after ``cursor`` (``None``: from the start).

        A cursor is an opaque string that another connection can resume from; the returned
        ``Page.cursor`` is ``None`` once no record is left. Each record appears exactly once in a
        scan of an unchanging namespace.
        """

    async def set_search_defaults(self, collection: CollectionSpec, search: SearchParams | None) -> None:
        """Store ``search`` as the collection's default search effort in its persisted facts
        (``Capability.SEARCH_DEFAULTS``; ``None`` removes it). Default: not offered."""
        raise UnsupportedFeatureError(f"{self.name} cannot store a collection's default search settings")

    async def partitions(self, collection: CollectionSpec, namespace: str, count: int) -> list[str | None]:
        """Up to ``count`` disjoint ranges that together cover the namespace exactly once, each given as
        the scan cursor it starts from (``Capability.PARTITIONED_SCAN``).

        Each cursor carries its range's end: :meth:`scan` from it returns the range's records only and
        a ``None`` cursor at the range's end, and every cursor a page returns keeps the end, so a
        partition is resumable like any scan. Default: one partition, ``None`` (the whole namespace).
        Conformance: PartitionTests (exactly once, with namespaces and filters).
        """
        return [None]

    async def bulk_load(self, collection: CollectionSpec) -> BulkLoad:
        """A context for loading many records with index maintenance deferred (``Capability.BULK_LOAD``)."""
        return BulkLoad()


class BulkLoad:
    """Async context manager an adapter returns from :meth:`Adapter.bulk_load`; default does nothing."""

    async def __aenter__(self) -> BulkLoad:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

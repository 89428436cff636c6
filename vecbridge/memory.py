"""The reference engine: exact search with numpy, the zero-setup default and the oracle.

* ``memory://`` is private to its connection; ``memory://NAME`` is shared by every connection to
  that name in the process.
* ``local:///dir`` persists to an append-only log of checksummed frames, one frame per write
  batch. A batch is applied entirely or not at all: a process killed mid-write leaves a torn last
  frame that readers ignore and the next writer truncates. Writers serialize on an ``flock``;
  every operation first replays frames other processes appended, so another process opening the
  same directory sees the data. The log is compacted into a fresh generation as it grows.

Scores come from one matrix product per query (never a Python loop over records); the top
candidates are then re-scored in float64 so scores are exact to well within 1e-6.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import struct
import threading
import zlib
from bisect import bisect_left, bisect_right
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np

from vecbridge.adapter import Adapter, Capability, decode_cursor, encode_cursor
from vecbridge.errors import CollectionExistsError, CollectionNotFoundError, InvalidURLError, VecbridgeError
from vecbridge.filters import (
    And,
    Eq,
    Exists,
    FilterCompiler,
    FilterNode,
    Gt,
    Gte,
    In,
    Lt,
    Lte,
    MatchAll,
    Ne,
    Nin,
    Not,
    Or,
    evaluate,
)
from vecbridge.types import CollectionSpec, FloatArray, Match, Metadata, Metric, Page, Record, SearchParams
from vecbridge.url import URL

T = TypeVar("T")


class ReferenceCompiler(FilterCompiler[FilterNode]):
    """The reference engine evaluates the parsed tree itself, so every node compiles to itself."""

    adapter_name = "memory"

    def visit_match_all(self, node: MatchAll) -> FilterNode:
        return node

    def visit_eq(self, node: Eq) -> FilterNode:
        return node

    def visit_ne(self, node: Ne) -> FilterNode:
        return node

    def visit_gt(self, node: Gt) -> FilterNode:
        return node

    def visit_gte(self, node: Gte) -> FilterNode:
        return node

    def visit_lt(self, node: Lt) -> FilterNode:
        return node

    def visit_lte(self, node: Lte) -> FilterNode:
        return node

    def visit_in(self, node: In) -> FilterNode:
        return node

    def visit_nin(self, node: Nin) -> FilterNode:
        return node

    def visit_exists(self, node: Exists) -> FilterNode:
        return node

    def visit_and(self, node: And) -> FilterNode:
        return node

    def visit_or(self, node: Or) -> FilterNode:
        return node

    def visit_not(self, node: Not) -> FilterNode:
        return node


@dataclass
class Namespace:
    """Rows of one namespace: a growable float32 matrix plus parallel id/metadata/document lists."""

    dimension: int
    ids: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    metadata: list[Metadata] = field(default_factory=list)
    documents: list[str | None] = field(default_factory=list)
    vectors: FloatArray = field(init=False)
    squared_norms: np.ndarray[Any, np.dtype[np.float32]] = field(init=False)
    _sorted_ids: list[str] | None = None

    def __post_init__(self) -> None:
        self.vectors = np.zeros((16, self.dimension), dtype=np.float32)
        self.squared_norms = np.zeros(16, dtype=np.float32)

    def __len__(self) -> int:
        return len(self.ids)

    def _reserve(self, extra: int) -> None:
        needed = len(self.ids) + extra
        if needed > self.vectors.shape[0]:
            capacity = max(needed, 2 * self.vectors.shape[0])
            vectors = np.zeros((capacity, self.dimension), dtype=np.float32)
            vectors[: len(self.ids)] = self.vectors[: len(self.ids)]
            norms = np.zeros(capacity, dtype=np.float32)
            norms[: len(self.ids)] = self.squared_norms[: len(self.ids)]
            self.vectors, self.squared_norms = vectors, norms

    def upsert(
        self, ids: Sequence[str], vectors: FloatArray, metadata: Sequence[Metadata], documents: Sequence[str | None]
    ) -> None:
        self._reserve(len(ids))
        norms = np.einsum("ij,ij->i", vectors.astype(np.float64), vectors.astype(np.float64)).astype(np.float32)
        for position, record_id in enumerate(ids):
            row = self.rows.get(record_id)
            if row is None:
                row = len(self.ids)
                self.rows[record_id] = row
                self.ids.append(record_id)
                self.metadata.append(metadata[position])
                self.documents.append(documents[position])
                self._sorted_ids = None
            else:
                self.metadata[row] = metadata[position]
                self.documents[row] = documents[position]
            self.vectors[row] = vectors[position]
            self.squared_norms[row] = norms[position]

    def delete(self, ids: Sequence[str]) -> None:
        for record_id in ids:
            row = self.rows.pop(record_id, None)
            if row is None:
                continue
            last = len(self.ids) - 1
            if row != last:  # move the last row into the hole
                moved = self.ids[last]
                self.ids[row], self.metadata[row], self.documents[row] = (
                    moved,
                    self.metadata[last],
                    self.documents[last],
                )
                self.vectors[row] = self.vectors[last]
                self.squared_norms[row] = self.squared_norms[last]
                self.rows[moved] = row
            self.ids.pop()
            self.metadata.pop()
            self.documents.pop()
            self._sorted_ids = None

    def sorted_ids(self) -> list[str]:
        if self._sorted_ids is None:
            self._sorted_ids = sorted(self.ids)
        return self._sorted_ids

    def record(self, row: int, include_vector: bool) -> Record:
        vector = self.vectors[row].copy() if include_vector else np.zeros(0, dtype=np.float32)
        return Record(self.ids[row], vector, dict(self.metadata[row]), self.documents[row])

    def matching_rows(self, node: FilterNode | None) -> np.ndarray[Any, np.dtype[np.intp]] | None:
        if node is None:
            return None
        return np.fromiter((row for row, md in enumerate(self.metadata) if evaluate(node, md)), dtype=np.intp)


def exact_scores(metric: Metric, vectors: np.ndarray[Any, Any], query: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Scores in the vecbridge convention, in float64, computed directly (no norm-expansion shortcut)."""
    vectors64 = vectors.astype(np.float64)
    query64 = query.astype(np.float64)
    if metric is Metric.DOT:
        result: np.ndarray[Any, Any] = vectors64 @ query64
    elif metric is Metric.COSINE:
        result = (vectors64 @ query64) / (np.linalg.norm(vectors64, axis=1) * np.linalg.norm(query64))
    else:
        result = -np.linalg.norm(vectors64 - query64, axis=1)
    return result


class Engine:
    """The in-memory state of one reference store: collections -> namespaces -> rows."""

    def __init__(self) -> None:
        self.specs: dict[str, CollectionSpec] = {}
        self.data: dict[str, dict[str, Namespace]] = {}
        self.lock = threading.RLock()

    # state changes, shared by live writes and log replay
    def apply(self, header: Mapping[str, Any], vectors: FloatArray | None) -> None:
        op = header["op"]
        if op == "create":
            spec = CollectionSpec.from_dict(header["spec"])
            self.specs[spec.name] = spec
            self.data[spec.name] = {}
        elif op == "drop":
            self.specs.pop(header["name"], None)
            self.data.pop(header["name"], None)
        elif op == "upsert":
            spec = self.specs[header["collection"]]
            spaces = self.data[spec.name]
            namespace = header["namespace"]
            if namespace not in spaces:
                spaces[namespace] = Namespace(spec.dimension)
            target = spaces[namespace]
            assert vectors is not None
            target.upsert(
                header["ids"],
                vectors.reshape(len(header["ids"]), spec.dimension),
                header["metadata"],
                header["documents"],
            )
        elif op == "delete":
            space = self.data.get(header["collection"], {}).get(header["namespace"])
            if space is not None:
                space.delete(header["ids"])
        elif op == "search":
            search = header["search"]
            self.specs[header["name"]] = replace(
                self.specs[header["name"]], search=None if search is None else SearchParams.from_dict(search)
            )
        else:
            raise VecbridgeError(f"unknown log operation {op!r}")

    def spec(self, name: str) -> CollectionSpec:
        try:
            return self.specs[name]
        except KeyError:
            raise CollectionNotFoundError(f"collection {name!r} does not exist") from None

    def namespace(self, name: str, namespace: str) -> Namespace | None:
        self.spec(name)
        return self.data[name].get(namespace)

    def query(
        self,
        collection: CollectionSpec,
        namespace: str,
        query: FloatArray,
        top_k: int,
        node: FilterNode | None,
        include_vectors: bool,
    ) -> list[Match]:
        space = self.namespace(collection.name, namespace)
        if space is None or not len(space):
            return []
        size = len(space)
        candidates = space.matching_rows(node)
        if candidates is not None and not candidates.size:
            return []
        matrix = space.vectors[:size] if candidates is None else space.vectors[candidates]
        products = matrix @ query
        if collection.metric is Metric.DOT:
            approximate = products
        else:
            norms = space.squared_norms[:size] if candidates is None else space.squared_norms[candidates]
            # cosine ranks by similarity; euclidean ranks like -|x - q|^2 = 2 x.q - |x|^2 - |q|^2
            approximate = products / np.sqrt(norms) if collection.metric is Metric.COSINE else 2 * products - norms
        shortlist = min(len(approximate), 2 * top_k + 8)
        if shortlist < len(approximate):
            picked = np.argpartition(-approximate, shortlist - 1)[:shortlist]
        else:
            picked = np.arange(len(approximate))
        rows = picked if candidates is None else candidates[picked]
        scores = exact_scores(collection.metric, space.vectors[rows], query)
        order = sorted(range(len(rows)), key=lambda i: (-scores[i], space.ids[rows[i]]))[:top_k]
        return [
            Match(
                id=space.ids[rows[i]],
                score=float(scores[i]),
                metadata=dict(space.metadata[rows[i]]),
                document=space.documents[rows[i]],
                vector=space.vectors[rows[i]].copy() if include_vectors else None,
            )
            for i in order
        ]

    def get(
        self, collection: CollectionSpec, namespace: str, ids: Sequence[str], include_vectors: bool
    ) -> list[Record]:
        space = self.namespace(collection.name, namespace)
        if space is None:
            return []
        return [space.record(space.rows[i], include_vectors) for i in ids if i in space.rows]

    def matching_ids(self, collection: CollectionSpec, namespace: str, node: FilterNode | None) -> list[str]:
        space = self.namespace(collection.name, namespace)
        if space is None:
            return []
        if node is None:
            return list(space.ids)
        return [space.ids[row] for row, md in enumerate(space.metadata) if evaluate(node, md)]

    def count(self, collection: CollectionSpec, namespace: str, node: FilterNode | None) -> int:
        space = self.namespace(collection.name, namespace)
        if space is None:
            return 0
        if node is None:
            return len(space)
        return sum(1 for md in space.metadata if evaluate(node, md))

    def scan(
        self,
        collection: CollectionSpec,
        namespace: str,
        cursor: str | None,
        page_size: int,
        node: FilterNode | None,
        include_vectors: bool,
    ) -> Page:
        space = self.namespace(collection.name, namespace)
        if space is None:
            return Page([], None)
        ordered = space.sorted_ids()
        after, until = _scan_range(cursor)
        start = 0 if after is None else bisect_right(ordered, after)
        end = len(ordered) if until is None else bisect_left(ordered, until)
        rows: list[int] = []
        position = start
        while position < end and len(rows) < page_size:
            row = space.rows[ordered[position]]
            if node is None or evaluate(node, space.metadata[row]):
                rows.append(row)
            position += 1
        # the page's vectors in one copy (rows of it per record), not one small copy per record
        block = space.vectors[rows] if include_vectors else None
        records = [
            Record(
                space.ids[row],
                block[i] if block is not None else np.zeros(0, dtype=np.float32),
                dict(space.metadata[row]),
                space.documents[row],
            )
            for i, row in enumerate(rows)
        ]
        if position >= end:
            return Page(records, None)
        return Page(records, encode_cursor([ordered[position - 1], until]))

    def partitions(self, collection: CollectionSpec, namespace: str, count: int) -> list[str | None]:
        """Id ranges of about equal size: ``[after, until)`` over the sorted ids, as scan cursors."""
        space = self.namespace(collection.name, namespace)
        ordered = [] if space is None else space.sorted_ids()
        if len(ordered) < 2 or count < 2:
            return [None]
        bounds = sorted({ordered[len(ordered) * i // count] for i in range(1, count)})
        starts: list[str | None] = [None, *bounds]
        ends: list[str | None] = [*bounds, None]
        # a range [after, until) whose "after" is exclusive: start just before its first id
        return [
            encode_cursor([None if start is None else _before(ordered, start), end])
            for start, end in zip(starts, ends, strict=True)
        ]

    def namespaces(self, collection: CollectionSpec) -> list[str]:
        self.spec(collection.name)
        return [name for name, space in self.data[collection.name].items() if len(space)]


def _scan_range(cursor: str | None) -> tuple[str | None, str | None]:
    """``(after, until)`` of a scan cursor: ids after ``after`` (exclusive) and before ``until``
    (exclusive, ``None``: to the end). A cursor of the last id alone (before partitions) still reads."""

    def valid(state: Any) -> bool:
        if isinstance(state, str):
            return True
        return isinstance(state, list) and len(state) == 2 and all(b is None or isinstance(b, str) for b in state)

    if cursor is None:
        return None, None
    state = decode_cursor(cursor, "reference engine", valid)
    return (state, None) if isinstance(state, str) else (state[0], state[1])


def _before(ordered: list[str], first: str) -> str | None:
    """The id just before ``first`` (the exclusive start of a range beginning at ``first``)."""
    position = bisect_left(ordered, first)
    return ordered[position - 1] if position else None


# --- persistence -----------------------------------------------------------------------------

_MAGIC = b"VBF1"
_FRAME_HEAD = struct.Struct("<4sQI")  # magic, payload length, crc32 of payload
_JSON_LEN = struct.Struct("<I")


def encode_frame(header: Mapping[str, Any], vectors: FloatArray | None = None) -> bytes:
    body = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode()
    payload = (
        _JSON_LEN.pack(len(body))
        + body
        + (b"" if vectors is None else np.ascontiguousarray(vectors, dtype="<f4").tobytes())
    )
    return _FRAME_HEAD.pack(_MAGIC, len(payload), zlib.crc32(payload)) + payload


def decode_frames(data: bytes) -> Iterator[tuple[int, dict[str, Any], FloatArray | None]]:
    """Complete, intact frames from ``data`` with the offset just past each; stops at a torn tail."""
    offset = 0
    while offset + _FRAME_HEAD.size <= len(data):
        magic, length, crc = _FRAME_HEAD.unpack_from(data, offset)
        start, end = offset + _FRAME_HEAD.size, offset + _FRAME_HEAD.size + length
        if magic != _MAGIC or end > len(data) or zlib.crc32(data[start:end]) != crc:
            return
        (json_length,) = _JSON_LEN.unpack_from(data, start)
        header = json.loads(data[start + _JSON_LEN.size : start + _JSON_LEN.size + json_length])
        raw = data[start + _JSON_LEN.size + json_length : end]
        vectors = np.frombuffer(raw, dtype="<f4").astype(np.float32) if raw else None
        offset = end
        yield offset, header, vectors


class LocalEngine(Engine):
    """An engine mirrored to ``directory``: log ``log-<generation>.vbl``, ``CURRENT`` names the generation."""

    compaction_floor = 64 * 2**20

    def __init__(self, directory: Path, fsync: bool = True) -> None:
        super().__init__()
        self.directory = directory
        self.fsync = fsync
        directory.mkdir(parents=True, exist_ok=True)
        self.generation = -1
        self.offset = 0
        self.live_bytes = 0

    def _log_path(self, generation: int) -> Path:
        return self.directory / f"log-{generation}.vbl"

    def _current_generation(self) -> int:
        try:
            return int((self.directory / "CURRENT").read_text().strip())
        except FileNotFoundError:
            return 0

    def sync(self) -> None:
        """Replay whatever other writers appended since the last sync."""
        for _ in range(5):
            generation = self._current_generation()
            if generation != self.generation:
                self.specs, self.data = {}, {}
                self.generation, self.offset = generation, 0
            try:
                with open(self._log_path(generation), "rb") as log:
                    log.seek(self.offset)
                    data = log.read()
            except FileNotFoundError:
                if generation == 0:
                    return
                continue  # compacted under us: read CURRENT again
            base = self.offset
            for end, header, vectors in decode_frames(data):
                self.apply(header, vectors)
                self.offset = base + end
            return
        raise VecbridgeError(f"{self.directory}: the log kept changing while being read")

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Exclusive write access: lock, catch up, cut a torn tail left by a crashed writer."""
        with self.lock, open(self.directory / "LOCK", "a+b") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                self.sync()
                log_path = self._log_path(self.generation)
                if log_path.exists() and log_path.stat().st_size > self.offset:
                    with open(log_path, "r+b") as log:
                        log.truncate(self.offset)
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    def append(self, header: Mapping[str, Any], vectors: FloatArray | None = None) -> None:
        """Write one frame (one atomic batch) and apply it; call inside :meth:`writing`."""
        frame = encode_frame(header, vectors)
        with open(self._log_path(self.generation), "ab") as log:
            log.write(frame)
            log.flush()
            if self.fsync:
                os.fsync(log.fileno())
        self.apply(header, vectors)
        self.offset += len(frame)
        if self.offset > max(self.compaction_floor, 3 * self.live_bytes):
            self.compact()

    def compact(self) -> None:
        """Rewrite the live state as a new generation and switch ``CURRENT`` to it atomically."""
        generation = self.generation + 1
        path = self._log_path(generation)
        size = 0
        with open(path, "wb") as log:
            for frame in self._state_frames():
                log.write(frame)
                size += len(frame)
            log.flush()
            os.fsync(log.fileno())
        pointer = self.directory / "CURRENT.tmp"
        pointer.write_text(f"{generation}\n")
        os.replace(pointer, self.directory / "CURRENT")
        old = self._log_path(self.generation)
        self.generation, self.offset, self.live_bytes = generation, size, size
        old.unlink(missing_ok=True)

    def _state_frames(self) -> Iterator[bytes]:
        for name, spec in self.specs.items():
            yield encode_frame({"op": "create", "spec": spec.to_dict()})
            for namespace, space in self.data[name].items():
                for start in range(0, len(space), 4096):
                    stop = min(start + 4096, len(space))
                    header = {
                        "op": "upsert",
                        "collection": name,
                        "namespace": namespace,
                        "ids": space.ids[start:stop],
                        "metadata": space.metadata[start:stop],
                        "documents": space.documents[start:stop],
                    }
                    yield encode_frame(header, space.vectors[start:stop])


_shared_engines: dict[str, Engine] = {}
_shared_lock = threading.Lock()


class MemoryAdapter(Adapter):
    """``memory://`` (private) and ``memory://NAME`` (shared in the process): exact search, nothing persisted."""

    name: ClassVar[str] = "memory"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.EXACT_SEARCH,
            Capability.ATOMIC_UPSERT,
            Capability.EXACT_FLOATS,
            Capability.PARTITIONED_SCAN,
            Capability.SEARCH_EXACT,
            Capability.SEARCH_DEFAULTS,
        }
    )
    max_batch: ClassVar[int] = 4096
    max_concurrency: ClassVar[int] = 1
    filter_compiler = ReferenceCompiler

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    async def connect(cls, url: URL) -> Adapter:
        if url.path not in ("", "/") or url.query:
            raise InvalidURLError(f"{url}: memory URLs take only a name, as in memory:// or memory://NAME")
        if not url.host:
            return cls(Engine())
        with _shared_lock:
            engine = _shared_engines.setdefault(url.host, Engine())
        return cls(engine)

    async def close(self) -> None:
        return None

    async def run(self, operation: Callable[[], T], write: bool = False) -> T:
        """Run an engine operation; the in-memory engine needs no I/O, so it runs inline."""
        with self.engine.lock:
            return operation()

    async def write(
        self, header: Mapping[str, Any], vectors: FloatArray | None = None, check: Callable[[], object] | None = None
    ) -> None:
        def apply() -> None:
            if check is not None:
                check()
            self.engine.apply(header, vectors)

        await self.run(apply, write=True)

    async def create_collection(self, spec: CollectionSpec) -> None:
        def check() -> None:
            if spec.name in self.engine.specs:
                raise CollectionExistsError(f"collection {spec.name!r} already exists")

        await self.write({"op": "create", "spec": spec.to_dict()}, check=check)

    async def drop_collection(self, name: str) -> None:
        await self.write({"op": "drop", "name": name}, check=lambda: self.engine.spec(name))

    async def list_collections(self) -> list[CollectionSpec]:
        return await self.run(lambda: list(self.engine.specs.values()))

    async def describe_collection(self, name: str) -> CollectionSpec:
        return await self.run(lambda: self.engine.spec(name))

    async def list_namespaces(self, collection: CollectionSpec) -> list[str]:
        return await self.run(lambda: self.engine.namespaces(collection))

    async def upsert(self, collection: CollectionSpec, namespace: str, records: Sequence[Record]) -> None:
        header = {
            "op": "upsert",
            "collection": collection.name,
            "namespace": namespace,
            "ids": [r.id for r in records],
            "metadata": [r.metadata for r in records],
            "documents": [r.document for r in records],
        }
        vectors = np.stack([np.asarray(r.vector, dtype=np.float32) for r in records])
        await self.write(header, vectors, check=lambda: self.engine.spec(collection.name))

    async def upsert_atomic(
        self, collection: CollectionSpec, namespace: str, batches: AsyncIterator[list[Record]]
    ) -> None:
        """Every batch gathered first (a bad record raises before anything is applied), then one
        write: one log entry on ``local://``, so a crash keeps all of the call or none of it."""
        await self.upsert(collection, namespace, [record async for batch in batches for record in batch])

    async def query(
        self,
        collection: CollectionSpec,
        namespace: str,
        vector: FloatArray,
        top_k: int,
        filter: Any | None,
        include_vectors: bool,
        search: SearchParams | None = None,
    ) -> list[Match]:
        """Every query is exact: ``search`` can only ask for that (``SEARCH_EXACT``; no ef, no probes)."""
        return await self.run(lambda: self.engine.query(collection, namespace, vector, top_k, filter, include_vectors))

    async def set_search_defaults(self, collection: CollectionSpec, search: SearchParams | None) -> None:
        """A log operation of its own on ``local://``: the default persists with the collection."""
        header = {"op": "search", "name": collection.name, "search": None if search is None else search.to_dict()}
        await self.write(header, check=lambda: self.engine.spec(collection.name))

    async def get(
        self, collection: CollectionSpec, namespace: str, ids: Sequence[str], include_vectors: bool
    ) -> list[Record]:
        return await self.run(lambda: self.engine.get(collection, namespace, ids, include_vectors))

    async def delete_ids(self, collection: CollectionSpec, namespace: str, ids: Sequence[str]) -> None:
        header = {"op": "delete", "collection": collection.name, "namespace": namespace, "ids": list(ids)}
        await self.write(header, check=lambda: self.engine.spec(collection.name))

    async def delete_where(self, collection: CollectionSpec, namespace: str, filter: Any | None) -> None:
        def delete() -> None:
            ids = self.engine.matching_ids(collection, namespace, filter)
            if ids:
                self._apply_locked({"op": "delete", "collection": collection.name, "namespace": namespace, "ids": ids})

        await self.run(delete, write=True)

    def _apply_locked(self, header: Mapping[str, Any], vectors: FloatArray | None = None) -> None:
        self.engine.apply(header, vectors)

    async def count(self, collection: CollectionSpec, namespace: str, filter: Any | None) -> int:
        return await self.run(lambda: self.engine.count(collection, namespace, filter))

    async def scan(
        self,
        collection: CollectionSpec,
        namespace: str,
        cursor: str | None,
        page_size: int,
        filter: Any | None,
        include_vectors: bool,
    ) -> Page:
        return await self.run(
            lambda: self.engine.scan(collection, namespace, cursor, page_size, filter, include_vectors)
        )

    async def partitions(self, collection: CollectionSpec, namespace: str, count: int) -> list[str | None]:
        return await self.run(lambda: self.engine.partitions(collection, namespace, count))


class LocalAdapter(MemoryAdapter):
    """``local:///dir``: the reference engine persisted to a directory, shared between processes.

    File I/O runs in a worker thread, off the event loop. ``?fsync=false`` trades durability on
    power loss (not on a process crash) for write speed.
    """

    name: ClassVar[str] = "local"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.EXACT_SEARCH,
            Capability.EXACT_FLOATS,
            Capability.PERSISTENT,
            Capability.SHARED_ACROSS_CONNECTIONS,
            Capability.ATOMIC_UPSERT,
            Capability.PARTITIONED_SCAN,
            Capability.SEARCH_EXACT,
            Capability.SEARCH_DEFAULTS,
        }
    )
    engine: LocalEngine

    @classmethod
    async def connect(cls, url: URL) -> Adapter:
        if url.host or not url.path or url.path == "/":
            raise InvalidURLError(f"{url}: use local:///absolute/dir or local://./relative/dir (no host)")
        unknown = set(url.query) - {"fsync"}
        if unknown:
            raise InvalidURLError(f"{url}: unknown option(s) {sorted(unknown)}; known: fsync")
        fsync = url.query.get("fsync", "true").lower() not in ("false", "0", "no")
        engine = LocalEngine(Path(url.path), fsync=fsync)
        await asyncio.to_thread(cls._synced, engine)
        return cls(engine)

    @staticmethod
    def _synced(engine: LocalEngine) -> None:
        with engine.lock:
            engine.sync()

    async def run(self, operation: Callable[[], T], write: bool = False) -> T:
        def synced() -> T:
            if write:
                with self.engine.writing():
                    return operation()
            with self.engine.lock:
                self.engine.sync()
                return operation()

        return await asyncio.to_thread(synced)

    async def write(
        self, header: Mapping[str, Any], vectors: FloatArray | None = None, check: Callable[[], object] | None = None
    ) -> None:
        def append() -> None:
            if check is not None:
                check()
            self.engine.append(header, vectors)

        await self.run(append, write=True)

    def _apply_locked(self, header: Mapping[str, Any], vectors: FloatArray | None = None) -> None:
        self.engine.append(header, vectors)

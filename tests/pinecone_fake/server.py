"""The HTTP server: Pinecone's control plane (``/indexes``) and data plane (``/idx/<host>/...``) on one port.

Faithful to the documented API where the SDK or the docs pin it (paths, JSON shapes, camelCase,
limits: 1,000 vectors and 2 MB per upsert, 40 KB of metadata per vector, ASCII ids of at most 512
characters, ``top_k`` <= 10,000 and <= 1,000 with metadata or values, list pages <= 100, all-zero
dense vectors rejected, every metadata number held as a float64: an int comes back as ``3.0``).
Where the docs are silent it answers in the least convenient documented-compatible way: euclidean
scores are squared distances, ``$ne``/``$nin`` skip missing fields, writes become visible
``visibility_delay`` seconds after they are acknowledged, deleting from an unknown namespace is a
404, a new index is "Initializing" for a moment and a deleted one "Terminating".

LSN headers: writes answer ``x-pinecone-lsn-committed`` (the write's position in the index log);
queries answer ``x-pinecone-lsn-reconciled`` (the last position applied to the index). Fetch, list and
stats answer no LSN, like the real service, and see writes earlier than queries do (after half the
delay): "fetch and search see a new write at different times" (SDK ``ResponseInfo`` docs).
"""

from __future__ import annotations

import base64
import json
import math
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np

from pinecone_fake.filters import FilterError, matches
from vecbridge.memory import Engine, exact_scores
from vecbridge.types import CollectionSpec, Flat, Metric

MAX_UPSERT_VECTORS = 1000
MAX_REQUEST_BYTES = 2 * 1024 * 1024
MAX_METADATA_BYTES = 40 * 1024
MAX_TOP_K = 10_000
MAX_TOP_K_WITH_DATA = 1000
MAX_LIST_LIMIT = 100
INDEX_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,43}[a-z0-9])?")
METRICS = {"cosine": Metric.COSINE, "dotproduct": Metric.DOT, "euclidean": Metric.EUCLIDEAN}
STATE_CHANGE_SECONDS = 0.02
DATA = "data"


class ApiFailure(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class FakeIndex:
    name: str
    host_id: str
    dimension: int
    metric: str
    cloud: str
    region: str
    tags: dict[str, str] | None
    deletion_protection: str
    created: float = field(default_factory=time.monotonic)
    deleted: float | None = None
    #: what queries see (the index)
    engine: Engine = field(default_factory=Engine)
    #: what fetch, list and stats see: the same log, applied after half the delay
    reads: Engine = field(default_factory=Engine)
    committed: int = 0
    applied: int = 0
    pending: list[tuple[int, float, Callable[[Engine], None]]] = field(default_factory=list)
    pending_reads: list[tuple[int, float, Callable[[Engine], None]]] = field(default_factory=list)
    namespaces: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        spec = CollectionSpec(DATA, self.dimension, METRICS[self.metric], Flat())
        for engine in (self.engine, self.reads):
            engine.apply({"op": "create", "spec": spec.to_dict()}, None)

    def settle(self) -> None:
        """Apply every acknowledged write whose visibility delay has passed, in log order, to each view."""
        now = time.monotonic()
        while self.pending_reads and self.pending_reads[0][1] <= now:
            self.pending_reads.pop(0)[2](self.reads)
        while self.pending and self.pending[0][1] <= now:
            lsn, _, apply = self.pending.pop(0)
            apply(self.engine)
            self.applied = lsn

    def log(self, apply: Callable[[Engine], None], delay: float) -> int:
        """Acknowledge a write: fetch/list/stats see it after ``delay / 2``, queries after ``delay``."""
        self.committed += 1
        now = time.monotonic()
        self.pending_reads.append((self.committed, now + delay / 2, apply))
        self.pending.append((self.committed, now + delay, apply))
        self.settle()
        return self.committed

    def model(self, port: int) -> dict[str, Any]:
        now = time.monotonic()
        if self.deleted is not None:
            ready, state = False, "Terminating"
        elif now - self.created < STATE_CHANGE_SECONDS:
            ready, state = False, "Initializing"
        else:
            ready, state = True, "Ready"
        return {
            "name": self.name,
            "host": f"127.0.0.1:{port}/idx/{self.host_id}",
            "status": {"ready": ready, "state": state},
            "schema": {
                "fields": {"_values": {"type": "dense_vector", "dimension": self.dimension, "metric": self.metric}}
            },
            "deployment": {"deployment_type": "managed", "cloud": self.cloud, "region": self.region},
            "deletion_protection": self.deletion_protection,
            "read_capacity": {"mode": "OnDemand", "status": {"state": "Ready"}},
            "tags": self.tags,
        }


class FakePinecone:
    """All state of one fake project; every request runs under one lock."""

    def __init__(self, port: int, visibility_delay: float) -> None:
        self.port = port
        self.visibility_delay = visibility_delay
        self.indexes: dict[str, FakeIndex] = {}
        self.hosts: dict[str, FakeIndex] = {}
        self.generation = 0
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str, int, int]] = []

    # --- control plane -------------------------------------------------------------------------

    def _live(self, name: str) -> FakeIndex:
        index = self.indexes.get(name)
        if index is not None and index.deleted is not None and time.monotonic() - index.deleted > STATE_CHANGE_SECONDS:
            del self.indexes[name]
            index = None
        if index is None:
            raise ApiFailure(404, "NOT_FOUND", f"Resource {name} not found")
        return index

    def create_index(self, body: dict[str, Any]) -> tuple[int, Any]:
        name = body.get("name")
        if not isinstance(name, str) or not INDEX_NAME.fullmatch(name):
            raise ApiFailure(400, "INVALID_ARGUMENT", f"invalid index name {name!r}")
        fields = (body.get("schema") or {}).get("fields") or {}
        dense = fields.get("_values")
        if set(fields) != {"_values"} or not isinstance(dense, dict) or dense.get("type") != "dense_vector":
            raise ApiFailure(400, "INVALID_ARGUMENT", "this server serves dense vector indexes only")
        dimension, metric = dense.get("dimension"), dense.get("metric", "cosine")
        if not isinstance(dimension, int) or not 1 <= dimension <= 20_000 or metric not in METRICS:
            raise ApiFailure(400, "INVALID_ARGUMENT", f"bad dimension {dimension!r} or metric {metric!r}")
        deployment = body.get("deployment") or {}
        if deployment.get("deployment_type") != "managed":
            raise ApiFailure(400, "INVALID_ARGUMENT", "only managed (serverless) deployments are served")
        tags = body.get("tags")
        if name in self.indexes:
            try:
                self._live(name)
                raise ApiFailure(409, "ALREADY_EXISTS", f"Resource {name} already exists")
            except ApiFailure as exc:
                if exc.status != 404:
                    raise
        self.generation += 1
        index = FakeIndex(
            name=name,
            host_id=f"{name}-{self.generation:06x}",
            dimension=dimension,
            metric=metric,
            cloud=str(deployment.get("cloud")),
            region=str(deployment.get("region")),
            tags=dict(tags) if tags else None,
            deletion_protection=body.get("deletion_protection") or "disabled",
        )
        self.indexes[name] = index
        self.hosts[index.host_id] = index
        return 201, index.model(self.port)

    def delete_index(self, name: str) -> tuple[int, Any]:
        index = self._live(name)
        if index.deletion_protection == "enabled":
            raise ApiFailure(403, "FORBIDDEN", "deletion protection is enabled")
        if index.deleted is None:
            index.deleted = time.monotonic()
            self.hosts.pop(index.host_id, None)
        return 202, None

    def configure_index(self, name: str, body: dict[str, Any]) -> tuple[int, Any]:
        index = self._live(name)
        if "tags" in body:
            tags = dict(index.tags or {})
            tags.update(body["tags"] or {})
            index.tags = {k: v for k, v in tags.items() if v != ""} or None
        if "deletion_protection" in body:
            index.deletion_protection = body["deletion_protection"]
        return 202, index.model(self.port)

    # --- data plane ----------------------------------------------------------------------------

    def _index(self, host_id: str) -> FakeIndex:
        index = self.hosts.get(host_id)
        if index is None:
            raise ApiFailure(404, "NOT_FOUND", "index not found")
        index.settle()
        return index

    def _vector(self, index: FakeIndex, values: Any, where: str) -> np.ndarray[Any, Any]:
        if not isinstance(values, list) or len(values) != index.dimension:
            size = len(values) if isinstance(values, list) else values
            raise ApiFailure(
                400,
                "INVALID_ARGUMENT",
                f"{where}: vector dimension {size} does not match the dimension of the index {index.dimension}",
            )
        if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in values):
            raise ApiFailure(400, "INVALID_ARGUMENT", f"{where}: values must be finite numbers")
        return np.asarray(values, dtype=np.float32)

    @staticmethod
    def _check_metadata(record_id: str, metadata: Any) -> dict[str, Any]:
        if metadata is None:
            return {}
        if not isinstance(metadata, dict):
            raise ApiFailure(400, "INVALID_ARGUMENT", f"metadata of {record_id!r} must be an object")
        for key, value in metadata.items():
            ok = isinstance(value, str | bool) or (isinstance(value, int | float) and math.isfinite(value))
            ok = ok or (isinstance(value, list) and all(isinstance(v, str) for v in value))
            if not ok:
                raise ApiFailure(
                    400,
                    "INVALID_ARGUMENT",
                    f"metadata value of {key!r} must be a string, number, boolean or list of strings",
                )
        if len(json.dumps(metadata, ensure_ascii=False).encode()) > MAX_METADATA_BYTES:
            raise ApiFailure(
                400, "INVALID_ARGUMENT", f"metadata size of {record_id!r} exceeds the limit of 40960 bytes"
            )
        # Pinecone keeps every number as a float64: an int written comes back as a float
        return {
            key: float(value) if isinstance(value, int) and not isinstance(value, bool) else value
            for key, value in metadata.items()
        }

    @staticmethod
    def _check_id(record_id: Any) -> str:
        if (
            not isinstance(record_id, str)
            or not 1 <= len(record_id) <= 512
            or not record_id.isascii()
            or "\x00" in record_id
        ):
            raise ApiFailure(400, "INVALID_ARGUMENT", f"invalid vector id {record_id!r}")
        return record_id

    def upsert(self, host_id: str, body: dict[str, Any], size: int) -> tuple[int, Any, int]:
        index = self._index(host_id)
        if size > MAX_REQUEST_BYTES:
            raise ApiFailure(
                413, "REQUEST_TOO_LARGE", f"request size {size} exceeds the limit of {MAX_REQUEST_BYTES} bytes"
            )
        vectors = body.get("vectors")
        if not isinstance(vectors, list) or not vectors:
            raise ApiFailure(400, "INVALID_ARGUMENT", "vectors must be a non-empty array")
        if len(vectors) > MAX_UPSERT_VECTORS:
            raise ApiFailure(400, "INVALID_ARGUMENT", f"at most {MAX_UPSERT_VECTORS} vectors per upsert")
        namespace = body.get("namespace") or ""
        latest: dict[str, tuple[np.ndarray[Any, Any], dict[str, Any]]] = {}
        for item in vectors:
            record_id = self._check_id(item.get("id"))
            vector = self._vector(index, item.get("values"), record_id)
            if not vector.any():
                raise ApiFailure(400, "INVALID_ARGUMENT", "Dense vectors must contain at least one non-zero value")
            latest[record_id] = (vector, self._check_metadata(record_id, item.get("metadata")))
        ids = list(latest)
        matrix = np.stack([latest[i][0] for i in ids])
        header = {
            "op": "upsert",
            "collection": DATA,
            "namespace": namespace,
            "ids": ids,
            "metadata": [latest[i][1] for i in ids],
            "documents": [None] * len(ids),
        }
        index.namespaces.add(namespace)
        lsn = index.log(lambda engine: engine.apply(header, matrix), self.visibility_delay)
        return 200, {"upsertedCount": len(vectors)}, lsn

    def _ids_matching(self, index: FakeIndex, namespace: str, filter_: Any) -> list[str]:
        space = index.reads.data[DATA].get(namespace)
        if space is None:
            return []
        return [space.ids[row] for row, md in enumerate(space.metadata) if matches(filter_, md)]

    def delete(self, host_id: str, body: dict[str, Any]) -> tuple[int, Any, int]:
        index = self._index(host_id)
        namespace = body.get("namespace") or ""
        if namespace not in index.namespaces:
            raise ApiFailure(404, "NOT_FOUND", f"Namespace {namespace} not found")
        ids, delete_all, filter_ = body.get("ids"), body.get("deleteAll", False), body.get("filter")
        if sum(x is not None and x is not False for x in (ids, filter_)) + bool(delete_all) != 1:
            raise ApiFailure(400, "INVALID_ARGUMENT", "exactly one of ids, deleteAll and filter")
        if ids is not None:
            if not isinstance(ids, list) or len(ids) > 1000:
                raise ApiFailure(400, "INVALID_ARGUMENT", "ids must be an array of at most 1000 ids")
            doomed = [self._check_id(i) for i in ids]
        elif filter_ is not None:
            try:
                doomed = self._ids_matching(index, namespace, filter_)
            except FilterError as exc:
                raise ApiFailure(400, "INVALID_ARGUMENT", str(exc)) from None
        else:
            doomed = None
            index.namespaces.discard(namespace)

        def apply(engine: Engine) -> None:
            targets = doomed
            if targets is None:
                space = engine.data[DATA].get(namespace)
                targets = list(space.ids) if space is not None else []
            engine.apply({"op": "delete", "collection": DATA, "namespace": namespace, "ids": targets}, None)

        return 200, {}, index.log(apply, self.visibility_delay)

    def query(self, host_id: str, body: dict[str, Any]) -> tuple[int, Any, int]:
        index = self._index(host_id)
        top_k = body.get("topK")
        include_values, include_metadata = bool(body.get("includeValues")), bool(body.get("includeMetadata"))
        limit = MAX_TOP_K_WITH_DATA if include_values or include_metadata else MAX_TOP_K
        if not isinstance(top_k, int) or not 1 <= top_k <= limit:
            raise ApiFailure(400, "INVALID_ARGUMENT", f"topK must be from 1 to {limit}, got {top_k!r}")
        query = self._vector(index, body.get("vector"), "query")
        namespace = body.get("namespace") or ""
        space = index.engine.data[DATA].get(namespace)
        found: list[dict[str, Any]] = []
        if space is not None and len(space):
            try:
                filter_ = body.get("filter")
                rows = [row for row, md in enumerate(space.metadata) if filter_ is None or matches(filter_, md)]
            except FilterError as exc:
                raise ApiFailure(400, "INVALID_ARGUMENT", str(exc)) from None
            if rows:
                picked = np.asarray(rows, dtype=np.intp)
                scores = exact_scores(METRICS[index.metric], space.vectors[picked], query)
                if index.metric == "euclidean":
                    scores = scores**2  # undocumented scaling: a squared distance, lower is better
                    order = np.argsort(scores, kind="stable")
                else:
                    order = np.argsort(-scores, kind="stable")
                for position in order[:top_k]:
                    row = int(picked[position])
                    match: dict[str, Any] = {"id": space.ids[row], "score": float(np.float32(scores[position]))}
                    if include_values:
                        match["values"] = space.vectors[row].tolist()
                    if include_metadata:
                        match["metadata"] = space.metadata[row]
                    found.append(match)
        return 200, {"matches": found, "namespace": namespace, "usage": {"readUnits": 1}}, index.applied

    def fetch(self, host_id: str, params: dict[str, list[str]]) -> tuple[int, Any]:
        index = self._index(host_id)
        namespace = (params.get("namespace") or [""])[0]
        ids = params.get("ids") or []
        if not ids:
            raise ApiFailure(400, "INVALID_ARGUMENT", "ids are required")
        space = index.reads.data[DATA].get(namespace)
        vectors: dict[str, Any] = {}
        for record_id in ids:
            if space is not None and record_id in space.rows:
                row = space.rows[record_id]
                vectors[record_id] = {
                    "id": record_id,
                    "values": space.vectors[row].tolist(),
                    "metadata": space.metadata[row] or None,
                }
        return 200, {"vectors": vectors, "namespace": namespace, "usage": {"readUnits": 1}}

    def list_ids(self, host_id: str, params: dict[str, list[str]]) -> tuple[int, Any]:
        index = self._index(host_id)
        namespace = (params.get("namespace") or [""])[0]
        prefix = (params.get("prefix") or [""])[0]
        try:
            limit = int((params.get("limit") or [str(MAX_LIST_LIMIT)])[0])
        except ValueError:
            raise ApiFailure(400, "INVALID_ARGUMENT", "limit must be an integer") from None
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise ApiFailure(400, "INVALID_ARGUMENT", f"limit must be from 1 to {MAX_LIST_LIMIT}")
        token = (params.get("paginationToken") or [None])[0]
        after = ""
        if token is not None:
            try:
                after = base64.urlsafe_b64decode(token.encode()).decode()
            except ValueError:
                raise ApiFailure(400, "INVALID_ARGUMENT", "bad pagination token") from None
        space = index.reads.data[DATA].get(namespace)
        ordered = [i for i in (space.sorted_ids() if space is not None else []) if i.startswith(prefix) and i > after]
        page = ordered[:limit]
        body: dict[str, Any] = {"vectors": [{"id": i} for i in page], "namespace": namespace, "usage": {"readUnits": 1}}
        if len(ordered) > limit:
            body["pagination"] = {"next": base64.urlsafe_b64encode(page[-1].encode()).decode()}
        return 200, body

    def stats(self, host_id: str, body: dict[str, Any]) -> tuple[int, Any]:
        index = self._index(host_id)
        if body.get("filter") is not None:
            raise ApiFailure(
                400, "INVALID_ARGUMENT", "serverless indexes do not support describe_index_stats with a filter"
            )
        namespaces = {name: {"vectorCount": len(space)} for name, space in index.reads.data[DATA].items() if len(space)}
        return 200, {
            "namespaces": namespaces,
            "dimension": index.dimension,
            "indexFullness": 0.0,
            "totalVectorCount": sum(n["vectorCount"] for n in namespaces.values()),
            "metric": index.metric,
            "vectorType": "dense",
        }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: PineconeHTTPServer

    def setup(self) -> None:
        super().setup()
        # headers and body leave in separate writes: without NODELAY each reply waits for a delayed ACK
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method: str) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        fake = self.server.fake
        try:
            if not self.headers.get("Api-Key"):
                raise ApiFailure(401, "UNAUTHENTICATED", "missing Api-Key header")
            if not self.headers.get("X-Pinecone-Api-Version"):
                raise ApiFailure(400, "INVALID_ARGUMENT", "missing X-Pinecone-Api-Version header")
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                raise ApiFailure(400, "INVALID_ARGUMENT", "body is not JSON") from None
            if not isinstance(body, dict):
                raise ApiFailure(400, "INVALID_ARGUMENT", "body must be a JSON object")
            params = parse_qs(parts.query, keep_blank_values=True)
            with fake.lock:
                status, reply, headers = self._route(fake, method, unquote(parts.path), body, params, len(raw))
                if not parts.path.startswith("/_fake"):
                    fake.requests.append((method, parts.path, len(raw), len(body.get("vectors") or [])))
        except ApiFailure as exc:
            self._send(exc.status, {"error": {"code": exc.code, "message": exc.message}, "status": exc.status})
            return
        self._send(status, reply, headers)

    def _route(
        self, fake: FakePinecone, method: str, path: str, body: Any, params: dict[str, list[str]], size: int
    ) -> tuple[int, Any, dict[str, str]]:
        segments = [s for s in path.split("/") if s]
        if segments[:1] == ["_fake"]:  # test-only knobs, not Pinecone API
            if method == "GET":
                return 200, {"requests": [list(r) for r in fake.requests]}, {}
            if "visibility_delay" in body:
                fake.visibility_delay = float(body["visibility_delay"])
            if body.get("clear_requests"):
                fake.requests.clear()
            return 200, {"visibility_delay": fake.visibility_delay}, {}
        if segments == ["indexes"]:
            if method == "GET":
                names = sorted(fake.indexes)
                models = []
                for name in names:
                    try:
                        models.append(fake._live(name).model(fake.port))
                    except ApiFailure:
                        continue
                return 200, {"indexes": models}, {}
            if method == "POST":
                status, reply = fake.create_index(body)
                return status, reply, {}
        if len(segments) == 2 and segments[0] == "indexes":
            if method == "GET":
                return 200, fake._live(segments[1]).model(fake.port), {}
            if method == "DELETE":
                status, reply = fake.delete_index(segments[1])
                return status, reply, {}
            if method == "PATCH":
                status, reply = fake.configure_index(segments[1], body)
                return status, reply, {}
        if len(segments) >= 3 and segments[0] == "idx":
            host_id, route = segments[1], "/".join(segments[2:])
            if route == "vectors/upsert" and method == "POST":
                status, reply, lsn = fake.upsert(host_id, body, size)
                return status, reply, {"x-pinecone-lsn-committed": str(lsn)}
            if route == "vectors/delete" and method == "POST":
                status, reply, lsn = fake.delete(host_id, body)
                return status, reply, {"x-pinecone-lsn-committed": str(lsn)}
            if route == "query" and method == "POST":
                status, reply, applied = fake.query(host_id, body)
                return status, reply, {"x-pinecone-lsn-reconciled": str(applied)}
            if route == "vectors/fetch" and method == "GET":
                status, reply = fake.fetch(host_id, params)
                return status, reply, {}
            if route == "vectors/list" and method == "GET":
                status, reply = fake.list_ids(host_id, params)
                return status, reply, {}
            if route == "describe_index_stats" and method == "POST":
                status, reply = fake.stats(host_id, body)
                return status, reply, {}
        raise ApiFailure(404, "NOT_FOUND", f"no route for {method} {path}")

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_PATCH(self) -> None:
        self._handle("PATCH")


class PineconeHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, visibility_delay: float) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.fake = FakePinecone(self.server_address[1], visibility_delay)

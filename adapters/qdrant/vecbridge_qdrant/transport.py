"""How requests reach a Qdrant engine: the only part that differs between the URL variants.

* :class:`ClientTransport`: ``AsyncQdrantClient`` for a server (REST or gRPC) and for the client's
  local mode (``:memory:`` or a directory), which is a Python imitation of the server.
* :class:`EdgeTransport`: ``qdrant-edge-py``, the real Qdrant segment engine embedded in-process.
  It has one ``EdgeShard`` per collection (a sub-directory of the URL's path) and a synchronous
  API, so every call runs in a worker thread, off the event loop.

Both take the same compiled ``qdrant_client.models.Filter``; the edge transport translates it.
Point ids are UUID strings (the adapter maps vecbridge ids) or, in collections vecbridge did not
create, unsigned integers; a scroll offset is a point id. ``using`` names the vector a call reads
or writes (``""``: the unnamed one), and :meth:`Transport.vectors` reads a collection's vector
configuration (``vecbridge_qdrant.native``).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

from qdrant_client import AsyncQdrantClient
from qdrant_client.http import models

from vecbridge.errors import CollectionExistsError, CollectionNotFoundError
from vecbridge.types import FloatArray
from vecbridge_qdrant.filters import to_edge

T = TypeVar("T")

#: Upper bound on distinct namespaces ``facet`` reports (a facet request needs a limit).
MAX_NAMESPACES = 1_000_000

#: A Qdrant point id: a UUID string or an unsigned integer.
PointId = str | int


@dataclass(slots=True)
class Hit:
    """A point as a transport returns it: payload, score (queries only) and vector (when asked)."""

    id: str
    payload: dict[str, Any]
    score: float = 0.0
    vector: Any = None


@dataclass(frozen=True, slots=True)
class Layout:
    """What a new collection needs from the engine: one dense vector (unnamed, or named
    ``vector_name``) and an HNSW config."""

    dimension: int
    distance: models.Distance
    hnsw_m: int | None = None
    hnsw_ef_construct: int | None = None
    vector_name: str = ""


@dataclass(frozen=True, slots=True)
class VectorConfig:
    """One vector of a collection as its configuration declares it."""

    #: ``dense`` (one vector a point), ``multi`` (a multivector) or ``sparse``
    kind: str
    size: int = 0
    #: Qdrant's distance name (``Cosine``, ``Dot``, ``Euclid``, ``Manhattan``); empty for sparse vectors
    distance: str = ""


@dataclass(frozen=True, slots=True)
class CollectionConfig:
    """What a collection's configuration says about its vectors and index (``""``: the unnamed vector)."""

    vectors: dict[str, VectorConfig]
    hnsw_m: int | None = None
    hnsw_ef_construct: int | None = None


class Transport(Protocol):
    """The narrow set of engine calls the adapter makes; every filter already holds the namespace."""

    async def close(self) -> None: ...

    async def collection_names(self) -> list[str]: ...

    async def create(self, name: str, layout: Layout, tenant_key: str | None) -> None:
        """Create the collection (with a tenant keyword index on ``tenant_key`` where the engine has them)."""
        ...

    async def config(self, name: str) -> CollectionConfig: ...

    async def drop(self, name: str) -> None: ...

    async def upsert(
        self,
        name: str,
        ids: Sequence[PointId],
        vectors: FloatArray,
        payloads: Sequence[dict[str, Any]],
        using: str = "",
    ) -> None:
        """Insert or replace whole points; returns once the write is applied (``wait=True``)."""
        ...

    async def search(
        self,
        name: str,
        vector: FloatArray,
        limit: int,
        filter: models.Filter,
        with_vectors: bool,
        exact: bool,
        using: str = "",
        hnsw_ef: int | None = None,
    ) -> list[Hit]:
        """``exact``: a full scan; ``hnsw_ef``: the HNSW candidate list (``None``: the engine's)."""
        ...

    async def retrieve(self, name: str, ids: Sequence[PointId], with_vectors: bool, using: str = "") -> list[Hit]: ...

    async def delete_ids(self, name: str, ids: Sequence[PointId]) -> None: ...

    async def delete_where(self, name: str, filter: models.Filter) -> None: ...

    async def count(self, name: str, filter: models.Filter) -> int: ...

    async def scroll(
        self,
        name: str,
        offset: PointId | None,
        limit: int,
        filter: models.Filter,
        with_vectors: bool,
        using: str = "",
    ) -> tuple[list[Hit], PointId | None]: ...

    async def facet(self, name: str, key: str) -> list[str]:
        """Distinct string values of ``key`` over the collection."""
        ...


def _vector(raw: Any, using: str = "") -> Any:
    """The vector called ``using`` of a point (engines return a dict for named vectors, ``{"": ...}``
    for a configuration naming the unnamed one; ``None`` when the point lacks it)."""
    return raw.get(using) if isinstance(raw, dict) else raw


def _point_id(point_id: Any) -> PointId:
    """A point id as returned (an int stays an int; a UUID becomes its hyphenated string)."""
    return point_id if isinstance(point_id, int) else str(point_id)


def _vector_config(params: Any) -> VectorConfig:
    multi = getattr(params, "multivector_config", None) is not None
    return VectorConfig("multi" if multi else "dense", int(params.size), str(params.distance.value))


# --- AsyncQdrantClient -----------------------------------------------------------------------------


class ClientTransport:
    """``AsyncQdrantClient``: a server over REST or gRPC, or the client's local mode."""

    def __init__(self, client: AsyncQdrantClient, local: bool) -> None:
        self.client = client
        self.local = local

    async def close(self) -> None:
        await self.client.close()

    async def collection_names(self) -> list[str]:
        response = await self.client.get_collections()
        return [c.name for c in response.collections]

    async def create(self, name: str, layout: Layout, tenant_key: str | None) -> None:
        if await self.client.collection_exists(name):
            raise CollectionExistsError(f"collection {name!r} already exists")
        hnsw = None
        if layout.hnsw_m is not None:
            hnsw = models.HnswConfigDiff(m=layout.hnsw_m, ef_construct=layout.hnsw_ef_construct)
        params = models.VectorParams(size=layout.dimension, distance=layout.distance)
        vectors_config = {layout.vector_name: params} if layout.vector_name else params
        await self.client.create_collection(name, vectors_config=vectors_config, hnsw_config=hnsw)
        if tenant_key is not None and not self.local:  # local mode has no payload indexes (and warns)
            await self.client.create_payload_index(
                name,
                tenant_key,
                field_schema=models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, is_tenant=True),
                wait=True,
            )

    async def config(self, name: str) -> CollectionConfig:
        info = await self.client.get_collection(name)
        params = info.config.params
        dense = params.vectors
        vectors = (
            {key: _vector_config(value) for key, value in dense.items()}
            if isinstance(dense, dict)
            else ({} if dense is None else {"": _vector_config(dense)})
        )
        vectors.update((key, VectorConfig("sparse")) for key in params.sparse_vectors or {})
        hnsw = info.config.hnsw_config
        return CollectionConfig(vectors, hnsw.m, hnsw.ef_construct)

    async def drop(self, name: str) -> None:
        if not await self.client.collection_exists(name):
            raise CollectionNotFoundError(f"collection {name!r} does not exist")
        await self.client.delete_collection(name)

    async def upsert(
        self,
        name: str,
        ids: Sequence[PointId],
        vectors: FloatArray,
        payloads: Sequence[dict[str, Any]],
        using: str = "",
    ) -> None:
        rows = vectors.tolist()
        points = [
            models.PointStruct(id=point_id, vector={using: row} if using else row, payload=payload)
            for point_id, row, payload in zip(ids, rows, payloads, strict=True)
        ]
        await self.client.upsert(name, points, wait=True)

    async def search(
        self,
        name: str,
        vector: FloatArray,
        limit: int,
        filter: models.Filter,
        with_vectors: bool,
        exact: bool,
        using: str = "",
        hnsw_ef: int | None = None,
    ) -> list[Hit]:
        response = await self.client.query_points(
            name,
            query=vector.tolist(),
            using=using or None,
            limit=limit,
            query_filter=filter,
            with_payload=True,
            with_vectors=with_vectors,
            # local mode always searches exactly (and warns about any search_params)
            search_params=None if self.local else models.SearchParams(hnsw_ef=hnsw_ef, exact=exact),
        )
        return [Hit(str(p.id), p.payload or {}, p.score, _vector(p.vector, using)) for p in response.points]

    async def retrieve(self, name: str, ids: Sequence[PointId], with_vectors: bool, using: str = "") -> list[Hit]:
        points = await self.client.retrieve(name, list(ids), with_payload=True, with_vectors=with_vectors)
        return [Hit(str(p.id), p.payload or {}, 0.0, _vector(p.vector, using)) for p in points]

    async def delete_ids(self, name: str, ids: Sequence[PointId]) -> None:
        await self.client.delete(name, models.PointIdsList(points=list(ids)), wait=True)

    async def delete_where(self, name: str, filter: models.Filter) -> None:
        await self.client.delete(name, models.FilterSelector(filter=filter), wait=True)

    async def count(self, name: str, filter: models.Filter) -> int:
        return (await self.client.count(name, count_filter=filter, exact=True)).count

    async def scroll(
        self,
        name: str,
        offset: PointId | None,
        limit: int,
        filter: models.Filter,
        with_vectors: bool,
        using: str = "",
    ) -> tuple[list[Hit], PointId | None]:
        points, next_offset = await self.client.scroll(
            name, scroll_filter=filter, limit=limit, offset=offset, with_payload=True, with_vectors=with_vectors
        )
        hits = [Hit(str(p.id), p.payload or {}, 0.0, _vector(p.vector, using)) for p in points]
        return hits, None if next_offset is None else _point_id(next_offset)

    async def facet(self, name: str, key: str) -> list[str]:
        response = await self.client.facet(name, key, limit=MAX_NAMESPACES, exact=True)
        return [hit.value for hit in response.hits if isinstance(hit.value, str)]


# --- qdrant-edge -----------------------------------------------------------------------------------


class EdgeRoot:
    """The open shards under one directory, shared by every connection to it in this process.

    An ``EdgeShard`` holds a lock on its write-ahead log, so a second ``load`` of the same shard
    fails; connections therefore share one root and the last one to close flushes and closes it.
    """

    _roots: ClassVar[dict[str, EdgeRoot]] = {}
    _roots_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, path: Path) -> None:
        self.path = path
        self.shards: dict[str, Any] = {}
        self.lock = threading.RLock()
        self.users = 0

    @classmethod
    def acquire(cls, path: Path) -> EdgeRoot:
        key = os.path.realpath(path)
        with cls._roots_lock:
            root = cls._roots.get(key)
            if root is None:  # the directory is made by the first create: connecting writes nothing
                root = cls._roots[key] = EdgeRoot(Path(key))
            root.users += 1
            return root

    def release(self) -> None:
        with self._roots_lock:
            self.users -= 1
            if self.users > 0:
                return
            self._roots.pop(str(self.path), None)
        with self.lock:
            for shard in self.shards.values():
                shard.flush()
                shard.close()
            self.shards.clear()

    def _is_shard(self, directory: Path) -> bool:
        return directory.is_dir() and (directory / "edge_config.json").exists()

    def names(self) -> list[str]:
        with self.lock:
            if not self.path.is_dir():
                return []
            return sorted(p.name for p in self.path.iterdir() if self._is_shard(p))

    def shard(self, name: str) -> Any:
        import qdrant_edge as edge

        with self.lock:
            shard = self.shards.get(name)
            if shard is not None:
                return shard
            directory = self.path / name
            if not self._is_shard(directory):
                raise CollectionNotFoundError(f"collection {name!r} does not exist")
            shard = self.shards[name] = edge.EdgeShard.load(str(directory))
            return shard

    def config(self, name: str) -> CollectionConfig:
        """The shard's vectors, read from its ``edge_config.json`` (the bindings have no accessor)."""
        with self.lock:
            directory = self.path / name
            if not self._is_shard(directory):
                raise CollectionNotFoundError(f"collection {name!r} does not exist")
            config = json.loads((directory / "edge_config.json").read_text())
        vectors = {
            key: VectorConfig(
                "multi" if value.get("multivector_config") else "dense", int(value["size"]), str(value["distance"])
            )
            for key, value in (config.get("vectors") or {}).items()
        }
        vectors.update((key, VectorConfig("sparse")) for key in config.get("sparse_vectors") or {})
        hnsw = config.get("hnsw_config") or {}
        return CollectionConfig(vectors, hnsw.get("m"), hnsw.get("ef_construct"))

    def create(self, name: str, layout: Layout, tenant_key: str | None) -> None:
        import qdrant_edge as edge

        distance = {
            models.Distance.COSINE: edge.Distance.Cosine,
            models.Distance.DOT: edge.Distance.Dot,
            models.Distance.EUCLID: edge.Distance.Euclid,
        }[layout.distance]
        hnsw = None
        if layout.hnsw_m is not None:
            hnsw = edge.HnswIndexConfig(
                m=layout.hnsw_m, ef_construct=layout.hnsw_ef_construct or 100, full_scan_threshold=10_000
            )
        params = edge.EdgeVectorParams(size=layout.dimension, distance=distance)
        config = edge.EdgeConfig(
            vectors={layout.vector_name: params} if layout.vector_name else params, hnsw_config=hnsw
        )
        with self.lock:
            directory = self.path / name
            if self._is_shard(directory):
                raise CollectionExistsError(f"collection {name!r} already exists")
            if directory.exists():  # a half-created collection left by a crash
                shutil.rmtree(directory)
            self.path.mkdir(parents=True, exist_ok=True)
            shard = edge.EdgeShard.create(str(directory), config)
            if tenant_key is not None:
                index = edge.KeywordIndexParams(is_tenant=True)
                shard.update(edge.UpdateOperation.create_field_index(tenant_key, index))
            self.shards[name] = shard

    def drop(self, name: str) -> None:
        with self.lock:
            shard = self.shard(name)
            self.shards.pop(name, None)
            shard.close()
            shutil.rmtree(self.path / name)


class EdgeTransport:
    """``qdrant-edge-py``: the Qdrant segment engine in-process, one shard per collection.

    The library is synchronous; each call runs in a worker thread. Every edge update is applied
    before ``update`` returns (there is no asynchronous ``wait=false`` mode to opt out of).
    Searches run with ``exact=True`` unless they name an ``hnsw_ef``: the shard never builds an HNSW
    graph on its own (that needs an explicit ``optimize()``), and an exact plan keeps results
    identical to the reference engine. With ``hnsw_ef`` the engine plans the search itself: the
    graph of every segment that has one (built by ``optimize()``), a full scan of the others.
    """

    def __init__(self, root: EdgeRoot) -> None:
        self.root = root
        self._closed = False

    @classmethod
    def open(cls, path: Path) -> EdgeTransport:
        return cls(EdgeRoot.acquire(path))

    async def _run(self, operation: Callable[[], T]) -> T:
        return await asyncio.to_thread(operation)

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await self._run(self.root.release)

    async def collection_names(self) -> list[str]:
        return await self._run(self.root.names)

    async def create(self, name: str, layout: Layout, tenant_key: str | None) -> None:
        await self._run(lambda: self.root.create(name, layout, tenant_key))

    async def config(self, name: str) -> CollectionConfig:
        return await self._run(lambda: self.root.config(name))

    async def drop(self, name: str) -> None:
        await self._run(lambda: self.root.drop(name))

    async def upsert(
        self,
        name: str,
        ids: Sequence[PointId],
        vectors: FloatArray,
        payloads: Sequence[dict[str, Any]],
        using: str = "",
    ) -> None:
        import qdrant_edge as edge

        def write() -> None:
            rows = vectors.tolist()  # the bindings convert lists faster than numpy rows
            points = [
                edge.Point(point_id, {using: row} if using else row, payload)
                for point_id, row, payload in zip(ids, rows, payloads, strict=True)
            ]
            self.root.shard(name).update(edge.UpdateOperation.upsert_points(points))

        await self._run(write)

    async def search(
        self,
        name: str,
        vector: FloatArray,
        limit: int,
        filter: models.Filter,
        with_vectors: bool,
        exact: bool,
        using: str = "",
        hnsw_ef: int | None = None,
    ) -> list[Hit]:
        import qdrant_edge as edge

        request = edge.QueryRequest(
            limit=limit,
            query=edge.Query.Nearest(vector.tolist(), using=using or None),
            filter=to_edge(filter),
            with_payload=True,
            with_vector=with_vectors,
            params=edge.SearchParams(hnsw_ef=hnsw_ef, exact=exact or hnsw_ef is None),
        )
        points = await self._run(lambda: self.root.shard(name).query(request))
        return [Hit(str(p.id), p.payload or {}, p.score, _vector(p.vector, using)) for p in points]

    async def retrieve(self, name: str, ids: Sequence[PointId], with_vectors: bool, using: str = "") -> list[Hit]:
        points = await self._run(lambda: self.root.shard(name).retrieve(list(ids), True, with_vectors))
        return [Hit(str(p.id), p.payload or {}, 0.0, _vector(p.vector, using)) for p in points]

    async def delete_ids(self, name: str, ids: Sequence[PointId]) -> None:
        import qdrant_edge as edge

        operation = edge.UpdateOperation.delete_points(list(ids))
        await self._run(lambda: self.root.shard(name).update(operation))

    async def delete_where(self, name: str, filter: models.Filter) -> None:
        import qdrant_edge as edge

        operation = edge.UpdateOperation.delete_points_by_filter(to_edge(filter))
        await self._run(lambda: self.root.shard(name).update(operation))

    async def count(self, name: str, filter: models.Filter) -> int:
        import qdrant_edge as edge

        request = edge.CountRequest(exact=True, filter=to_edge(filter))
        return int(await self._run(lambda: self.root.shard(name).count(request)))

    async def scroll(
        self,
        name: str,
        offset: PointId | None,
        limit: int,
        filter: models.Filter,
        with_vectors: bool,
        using: str = "",
    ) -> tuple[list[Hit], PointId | None]:
        import qdrant_edge as edge

        request = edge.ScrollRequest(
            offset=offset if offset is None or isinstance(offset, int) else uuid.UUID(offset),
            limit=limit,
            filter=to_edge(filter),
            with_payload=True,
            with_vector=with_vectors,
        )
        points, next_offset = await self._run(lambda: self.root.shard(name).scroll(request))
        hits = [Hit(str(p.id), p.payload or {}, 0.0, _vector(p.vector, using)) for p in points]
        return hits, None if next_offset is None else _point_id(next_offset)

    async def facet(self, name: str, key: str) -> list[str]:
        import qdrant_edge as edge

        request = edge.FacetRequest(key=key, limit=MAX_NAMESPACES, exact=True)
        response = await self._run(lambda: self.root.shard(name).facet(request))
        return [hit.value for hit in response.hits if isinstance(hit.value, str)]

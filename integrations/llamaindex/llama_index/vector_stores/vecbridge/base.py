"""``VecbridgeVectorStore``: LlamaIndex's ``BasePydanticVectorStore`` over one vecbridge collection and namespace.

Nodes are stored as LlamaIndex stores them everywhere (``node_to_metadata_dict``): the text as the
record's document, the user's metadata flat (so filters reach it) next to ``_node_content`` (the whole
node as JSON, relationships included), ``_node_type``, ``document_id``, ``doc_id`` and ``ref_doc_id``.
``None`` and ``[]`` are not vecbridge values: they are left out of the flat copy and kept in
``_node_content``, so nodes round-trip unchanged.

As in the LangChain integration, every operation is one coroutine of vecbridge's async API run on the
event loop of the ``vecbridge.SyncStore`` behind the store: sync methods block on it, async methods
await it from the caller's loop.
"""

from __future__ import annotations

import contextlib
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

import numpy as np
from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.schema import BaseNode, MetadataMode
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
    VectorStoreQueryResult,
)
from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict
from llama_index.vector_stores.vecbridge.filters import to_vecbridge_filter

import vecbridge as vb
from vecbridge.blocking import open_or_share
from vecbridge.filters import Filter, evaluate, parse_filter
from vecbridge.memory import exact_scores
from vecbridge.types import Metadata
from vecbridge.validation import refuse_unknown_options

T = TypeVar("T")
DEFAULT_COLLECTION = "llamaindex"


class VecbridgeVectorStore(BasePydanticVectorStore):
    """A vecbridge collection seen as a LlamaIndex vector store.

    Give either ``url`` (the store connects, and ``close`` releases the connection) or an open
    ``store`` (``vb.connect_sync(url)``, shared and closed by its owner). The collection is created on
    the first ``add`` when missing, with the nodes' embedding dimension and ``metric``; until then it
    reads as empty. Every call is scoped to ``namespace``. Similarities are vecbridge's scores (cosine
    similarity, inner product, minus the L2 distance: higher is better, equal on every backend).
    """

    stores_text: bool = True
    url: str | None = None
    collection_name: str = DEFAULT_COLLECTION
    namespace: str = vb.DEFAULT_NAMESPACE
    metric: str = vb.Metric.COSINE.value

    _sync_store: vb.SyncStore = PrivateAttr()
    _collection: vb.Collection = PrivateAttr()
    _owns_store: bool = PrivateAttr()

    def __init__(
        self,
        url: str | None = None,
        collection_name: str = DEFAULT_COLLECTION,
        *,
        store: vb.SyncStore | None = None,
        namespace: str = vb.DEFAULT_NAMESPACE,
        metric: str | vb.Metric = vb.Metric.COSINE,
    ) -> None:
        sync_store, owns_store = open_or_share(url, store)
        fields: dict[str, Any] = {
            "url": str(sync_store.url),
            "collection_name": collection_name,
            "namespace": namespace,
            "metric": vb.Metric.parse(metric).value,
        }
        super().__init__(**fields)
        self._sync_store, self._owns_store = sync_store, owns_store
        self._collection = self._sync_store.store.collection(collection_name, namespace)

    @classmethod
    def class_name(cls) -> str:
        return "VecbridgeVectorStore"

    @property
    def client(self) -> vb.SyncStore:
        return self._sync_store

    def close(self) -> None:
        """Release the connection when this vector store opened it (a ``store=`` given stays open)."""
        if self._owns_store:
            self._sync_store.close()

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self._sync_store.run(coroutine)

    async def _arun(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return await self._sync_store.arun(coroutine)

    # --- writes --------------------------------------------------------------------------------

    def add(self, nodes: Sequence[BaseNode], **add_kwargs: Any) -> list[str]:
        """Upsert ``nodes`` (each needs its embedding); a node id that exists is replaced whole."""
        refuse_unknown_options(add_kwargs, "VecbridgeVectorStore.add")
        return self._run(self._add(_records(nodes)))

    async def async_add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[str]:
        refuse_unknown_options(kwargs, "VecbridgeVectorStore.async_add")
        return await self._arun(self._add(_records(nodes)))

    async def _add(self, records: list[vb.Record]) -> list[str]:
        await self._collection.upsert_creating(records, metric=self.metric)
        return [record.id for record in records]

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Delete every node of the source document ``ref_doc_id``."""
        refuse_unknown_options(delete_kwargs, "VecbridgeVectorStore.delete")
        self._run(self._delete(None, {"ref_doc_id": ref_doc_id}))

    async def adelete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        refuse_unknown_options(delete_kwargs, "VecbridgeVectorStore.adelete")
        await self._arun(self._delete(None, {"ref_doc_id": ref_doc_id}))

    def delete_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None, **delete_kwargs: Any
    ) -> None:
        """Delete the nodes with these ids, or matching ``filters``, or both (ids that match); one is needed."""
        refuse_unknown_options(delete_kwargs, "VecbridgeVectorStore.delete_nodes")
        self._run(self._delete(node_ids, _filter_of(filters)))

    async def adelete_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None, **delete_kwargs: Any
    ) -> None:
        refuse_unknown_options(delete_kwargs, "VecbridgeVectorStore.adelete_nodes")
        await self._arun(self._delete(node_ids, _filter_of(filters)))

    async def _delete(self, node_ids: list[str] | None, filter_: Filter | None) -> None:
        if node_ids is None and not filter_:
            raise vb.InvalidArgumentError("delete_nodes needs node_ids, filters or both (clear() deletes everything)")
        with contextlib.suppress(vb.CollectionNotFoundError):  # nothing written yet: nothing to delete
            if node_ids is None:
                await self._collection.delete(filter=filter_)
            elif not filter_:
                await self._collection.delete(list(node_ids))
            else:
                chosen = [record.id for record in await self._get_records(node_ids, filter_, include_vector=False)]
                await self._collection.delete(chosen)

    def clear(self) -> None:
        """Delete every node of the namespace."""
        self._run(self._clear())

    async def aclear(self) -> None:
        await self._arun(self._clear())

    async def _clear(self) -> None:
        with contextlib.suppress(vb.CollectionNotFoundError):
            await self._collection.delete(all=True)

    # --- reads ---------------------------------------------------------------------------------

    def get_nodes(self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None) -> list[BaseNode]:
        """The nodes with these ids (in that order), or matching ``filters``, or both; all without either."""
        return self._run(self._get_nodes(node_ids, _filter_of(filters)))

    async def aget_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None
    ) -> list[BaseNode]:
        return await self._arun(self._get_nodes(node_ids, _filter_of(filters)))

    async def _get_nodes(self, node_ids: list[str] | None, filter_: Filter | None) -> list[BaseNode]:
        try:
            if node_ids is not None:
                records = await self._get_records(node_ids, filter_, include_vector=False)
            else:
                records = [
                    record
                    async for page in self._collection.scan(filter=filter_ or None, include_vector=False)
                    for record in page.records
                ]
        except vb.CollectionNotFoundError:
            return []
        return [_node(record.metadata, record.document) for record in records]

    async def _get_records(self, node_ids: list[str], filter_: Filter | None, include_vector: bool) -> list[vb.Record]:
        """The records of ``node_ids`` that match ``filter_``, judged by the reference evaluator (the definition)."""
        node = parse_filter(filter_)
        records = await self._collection.get(list(node_ids), include_vector=include_vector)
        return [record for record in records if evaluate(node, record.metadata)]

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """The ``similarity_top_k`` nodes nearest ``query.query_embedding`` among those matching
        ``query.filters``, ``query.doc_ids`` (source documents) and ``query.node_ids``."""
        refuse_unknown_options(kwargs, "VecbridgeVectorStore.query")
        return self._run(self._query(query))

    async def aquery(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        refuse_unknown_options(kwargs, "VecbridgeVectorStore.aquery")
        return await self._arun(self._query(query))

    async def _query(self, query: VectorStoreQuery) -> VectorStoreQueryResult:
        vector, filter_ = _checked_query(query)
        try:
            spec = await self._collection.spec()
        except vb.CollectionNotFoundError:
            return VectorStoreQueryResult(nodes=[], similarities=[], ids=[])
        if query.node_ids:  # LlamaIndex's indexes pass [] for "no restriction"
            matches = await self._query_among(query.node_ids, vector, filter_, query.similarity_top_k, spec)
        else:
            matches = await self._collection.query(vector, query.similarity_top_k, filter=filter_ or None)
        return VectorStoreQueryResult(
            nodes=[_node(match.metadata, match.document) for match in matches],
            similarities=[match.score for match in matches],
            ids=[match.id for match in matches],
        )

    async def _query_among(
        self, node_ids: list[str], vector: list[float], filter_: Filter | None, top_k: int, spec: vb.CollectionSpec
    ) -> list[vb.Match]:
        """Exact search over an explicit set of nodes: vecbridge filters reach metadata, not ids."""
        records = await self._get_records(node_ids, filter_, include_vector=True)
        if not records:
            return []
        query_vector = np.asarray(vector, dtype=np.float32)
        if query_vector.shape != (spec.dimension,):
            raise vb.DimensionMismatchError(
                f"query vector has {query_vector.size} dimensions, collection {spec.name!r} has {spec.dimension}"
            )
        scores = exact_scores(
            spec.metric, np.stack([np.asarray(r.vector, dtype=np.float32) for r in records]), query_vector
        )
        if spec.metric is vb.Metric.COSINE:
            scores = np.clip(scores, -1.0, 1.0)
        order = np.argsort(-scores, kind="stable")[:top_k]
        return [
            vb.Match(
                id=records[i].id, score=float(scores[i]), metadata=records[i].metadata, document=records[i].document
            )
            for i in order
        ]


def _filter_of(filters: MetadataFilters | None) -> Filter | None:
    return None if filters is None else to_vecbridge_filter(filters)


def _checked_query(query: VectorStoreQuery) -> tuple[list[float], Filter | None]:
    """The query vector and the whole filter, or an error before any request for what this store cannot do."""
    if query.mode is not VectorStoreQueryMode.DEFAULT:
        raise vb.UnsupportedFeatureError(
            f"query mode {query.mode.value!r}: vecbridge answers dense vector queries (mode 'default') only"
        )
    if query.output_fields is not None or query.embedding_field is not None:
        raise vb.UnsupportedFeatureError("output_fields and embedding_field are not supported: nodes come back whole")
    if query.query_embedding is None:
        raise vb.InvalidArgumentError("a query needs query_embedding")
    parts = [] if query.filters is None else [to_vecbridge_filter(query.filters)]
    if query.doc_ids:
        parts.append({"ref_doc_id": {"$in": list(query.doc_ids)}})
    parts = [part for part in parts if part]
    filter_: Filter | None = None if not parts else parts[0] if len(parts) == 1 else {"$and": parts}
    return query.query_embedding, filter_


def _records(nodes: Sequence[BaseNode]) -> list[vb.Record]:
    records = []
    for node in nodes:
        metadata = node_to_metadata_dict(node, remove_text=True, flat_metadata=False)
        records.append(
            vb.Record(
                id=node.node_id,
                vector=node.get_embedding(),
                metadata={key: value for key, value in metadata.items() if value is not None and value != []},
                document=node.get_content(metadata_mode=MetadataMode.NONE),
            )
        )
    return records


def _node(metadata: Metadata, text: str | None) -> BaseNode:
    return metadata_dict_to_node(dict(metadata), text=text)

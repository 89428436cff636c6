"""``VecbridgeDocumentStore``: a Haystack ``DocumentStore`` over one vecbridge collection and namespace.

A Document is a vecbridge record: ``id``, ``embedding`` as the vector, ``content`` as the document and
``meta`` as the metadata (the record contract: flat, values str, bool, int, float or a list of str;
anything else is refused before any write). Haystack stores documents without an embedding too: those
get a placeholder vector and the metadata key ``haystack_without_embedding``, are read back with
``embedding=None`` and are never returned by an embedding search. ``blob`` and ``sparse_embedding``
are refused. As in the other integrations, every operation is one coroutine of vecbridge's async API
run on the event loop of the ``vecbridge.SyncStore`` behind the store (sync methods block on it, async
methods await it from the caller's loop).
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Coroutine
from typing import Any, TypeVar

from haystack import default_from_dict, default_to_dict
from haystack.dataclasses import Document
from haystack.document_stores.errors import DuplicateDocumentError
from haystack.document_stores.types import DuplicatePolicy
from haystack_integrations.document_stores.vecbridge.filters import to_vecbridge_filter

import vecbridge as vb
from vecbridge.blocking import open_or_share
from vecbridge.filters import Filter

T = TypeVar("T")
DEFAULT_COLLECTION = "haystack"
#: metadata key marking a document stored without an embedding
WITHOUT_EMBEDDING = "haystack_without_embedding"


class VecbridgeDocumentStore:
    """A vecbridge collection seen as a Haystack document store.

    Give either ``url`` (the store connects, and ``close`` releases the connection) or an open
    ``store`` (``vb.connect_sync(url)``, shared and closed by its owner; ``to_dict`` records its URL).
    The collection is created on the first write when missing, with ``embedding_dim`` and ``metric``;
    until then it reads as empty. Every call is scoped to ``namespace``.
    """

    def __init__(
        self,
        url: str | None = None,
        collection_name: str = DEFAULT_COLLECTION,
        *,
        store: vb.SyncStore | None = None,
        namespace: str = vb.DEFAULT_NAMESPACE,
        embedding_dim: int = 768,
        metric: str | vb.Metric = vb.Metric.COSINE,
    ) -> None:
        self.sync_store, self._owns_store = open_or_share(url, store)
        self.embedding_dim = embedding_dim
        self.metric = vb.Metric.parse(metric)
        self.url = str(self.sync_store.url)
        self.collection = self.sync_store.store.collection(collection_name, namespace)

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(
            self,
            url=self.url,
            collection_name=self.collection.name,
            namespace=self.collection.namespace,
            embedding_dim=self.embedding_dim,
            metric=self.metric.value,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VecbridgeDocumentStore:
        store: VecbridgeDocumentStore = default_from_dict(cls, data)
        return store

    def close(self) -> None:
        """Release the connection when this document store opened it (a ``store=`` given stays open)."""
        if self._owns_store:
            self.sync_store.close()

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.sync_store.run(coroutine)

    async def _arun(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return await self.sync_store.arun(coroutine)

    # --- reads ---------------------------------------------------------------------------------

    def count_documents(self) -> int:
        return self._run(self._count())

    async def count_documents_async(self) -> int:
        return await self._arun(self._count())

    async def _count(self) -> int:
        try:
            return await self.collection.count()
        except vb.CollectionNotFoundError:
            return 0

    def filter_documents(self, filters: dict[str, Any] | None = None) -> list[Document]:
        """The documents matching Haystack ``filters`` (translated exactly, see ``filters.py``), all without."""
        return self._run(self._filter(to_vecbridge_filter(filters)))

    async def filter_documents_async(self, filters: dict[str, Any] | None = None) -> list[Document]:
        return await self._arun(self._filter(to_vecbridge_filter(filters)))

    async def _filter(self, filter_: Filter) -> list[Document]:
        try:
            return [
                _document(record.id, record.document, record.metadata, record.vector, None)
                async for page in self.collection.scan(filter=filter_ or None)
                for record in page.records
            ]
        except vb.CollectionNotFoundError:
            return []

    def embedding_retrieval(
        self,
        query_embedding: list[float],
        top_k: int = 10,
        filters: dict[str, Any] | None = None,
        return_embedding: bool = False,
    ) -> list[Document]:
        """The ``top_k`` documents nearest ``query_embedding`` matching ``filters``, best first, each with
        vecbridge's score (cosine similarity, inner product or minus the L2 distance)."""
        return self._run(self._search(query_embedding, top_k, to_vecbridge_filter(filters), return_embedding))

    async def embedding_retrieval_async(
        self,
        query_embedding: list[float],
        top_k: int = 10,
        filters: dict[str, Any] | None = None,
        return_embedding: bool = False,
    ) -> list[Document]:
        return await self._arun(self._search(query_embedding, top_k, to_vecbridge_filter(filters), return_embedding))

    async def _search(
        self, query_embedding: list[float], top_k: int, filter_: Filter, return_embedding: bool
    ) -> list[Document]:
        parts = [filter_, {WITHOUT_EMBEDDING: {"$exists": False}}]
        filter_ = {"$and": [part for part in parts if part]}
        try:
            matches = await self.collection.query(
                query_embedding, top_k, filter=filter_, include_vector=return_embedding
            )
        except vb.CollectionNotFoundError:
            return []
        return [_document(m.id, m.document, m.metadata, m.vector, m.score) for m in matches]

    # --- writes --------------------------------------------------------------------------------

    def write_documents(self, documents: list[Document], policy: DuplicatePolicy = DuplicatePolicy.NONE) -> int:
        """Write ``documents``; ``policy`` NONE and FAIL raise ``DuplicateDocumentError`` when an id exists
        (or repeats) and write nothing, SKIP writes the new ones only, OVERWRITE replaces. Returns how many
        were written."""
        records = self._records(documents)
        return self._run(self._write(records, policy))

    async def write_documents_async(
        self, documents: list[Document], policy: DuplicatePolicy = DuplicatePolicy.NONE
    ) -> int:
        records = self._records(documents)
        return await self._arun(self._write(records, policy))

    def _records(self, documents: list[Document]) -> list[vb.Record]:
        if not isinstance(documents, list) or not all(isinstance(doc, Document) for doc in documents):
            raise ValueError("write_documents takes a list of haystack Documents")
        return [self._record(document) for document in documents]

    def _record(self, document: Document) -> vb.Record:
        if document.blob is not None or document.sparse_embedding is not None:
            raise vb.UnsupportedFeatureError(
                f"document {document.id!r}: vecbridge stores no blob or sparse embedding (nothing is dropped silently)"
            )
        metadata = dict(document.meta)
        if WITHOUT_EMBEDDING in metadata:
            raise vb.InvalidRecordError(f"metadata key {WITHOUT_EMBEDDING!r} is reserved", record_id=document.id)
        vector = document.embedding
        if vector is None:
            vector = [1.0] + [0.0] * (self.embedding_dim - 1)
            metadata[WITHOUT_EMBEDDING] = True
        return vb.Record(id=document.id, vector=vector, metadata=metadata, document=document.content)

    async def _write(self, records: list[vb.Record], policy: DuplicatePolicy) -> int:
        if not records:
            return 0
        if policy is DuplicatePolicy.OVERWRITE:
            return await self._upsert(records)
        ids = [record.id for record in records]
        try:
            existing = {record.id for record in await self.collection.get(ids, include_vector=False)}
        except vb.CollectionNotFoundError:
            existing = set()
        if policy is DuplicatePolicy.SKIP:
            fresh: dict[str, vb.Record] = {}
            for record in records:  # the first of a repeated id, as Haystack's own stores
                if record.id not in existing and record.id not in fresh:
                    fresh[record.id] = record
            return await self._upsert(list(fresh.values())) if fresh else 0
        repeated = sorted(existing | {i for i, n in Counter(ids).items() if n > 1})
        if repeated:
            raise DuplicateDocumentError(f"documents with ids {repeated} exist already (policy {policy.value})")
        return await self._upsert(records)

    async def _upsert(self, records: list[vb.Record]) -> int:
        return await self.collection.upsert_creating(records, metric=self.metric, dimension=self.embedding_dim)

    def delete_documents(self, document_ids: list[str]) -> None:
        """Delete these ids; missing ids are fine."""
        self._run(self._delete(document_ids))

    async def delete_documents_async(self, document_ids: list[str]) -> None:
        await self._arun(self._delete(document_ids))

    async def _delete(self, document_ids: list[str]) -> None:
        with contextlib.suppress(vb.CollectionNotFoundError):  # nothing written yet: nothing to delete
            await self.collection.delete(list(document_ids))


def _document(record_id: str, text: str | None, metadata: dict[str, Any], vector: Any, score: float | None) -> Document:
    meta = dict(metadata)
    without = meta.pop(WITHOUT_EMBEDDING, False)
    embedding = None if without or vector is None else [float(x) for x in vector]
    return Document(id=record_id, content=text, meta=meta, embedding=embedding, score=score)

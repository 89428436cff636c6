"""``VecbridgeVectorStore``: LangChain's ``VectorStore`` over one vecbridge collection and namespace.

Every operation is written once, as a coroutine of vecbridge's async API, and runs on the event loop
of the ``vecbridge.SyncStore`` behind the vector store: the sync methods block on it
(``SyncStore.run``), the async ones await it from the caller's loop (``SyncStore.arun``) without a
thread-pool fallback. One connection, one loop, so sync and async callers share the adapter's pool,
and a sync call from inside a running loop (a notebook, an async server) neither deadlocks nor
raises "event loop is already running".

What vecbridge promises holds through LangChain: ``filter`` is vecbridge's filter language with one
meaning on every backend (a filter a backend cannot express exactly raises
``UnsupportedFilterError`` before any request), ``similarity_search_with_score`` returns vecbridge's
score (higher is better, the same number on every backend) and keyword arguments the store does not
know raise ``TypeError`` instead of being ignored.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Coroutine, Iterable, Sequence
from typing import Any, Self, TypeVar

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore
from langchain_core.vectorstores.utils import maximal_marginal_relevance

import vecbridge as vb
from langchain_vecbridge.relevance import RELEVANCE
from vecbridge.blocking import open_or_share
from vecbridge.filters import Filter
from vecbridge.types import Metadata
from vecbridge.validation import refuse_unknown_options

T = TypeVar("T")
DEFAULT_COLLECTION = "langchain"


class VecbridgeVectorStore(VectorStore):
    """A vecbridge collection seen as a LangChain vector store.

    Give either ``url`` (the store connects, and ``close`` releases the connection) or an open
    ``store`` (``vb.connect_sync(url)``, shared by several vector stores and closed by its owner).
    The collection is created on the first write when it does not exist, with the embeddings'
    dimension and ``metric``; until then it reads as empty. Every call is scoped to ``namespace``.
    With ``embedding_model`` the collection is created for that model, and a collection made for
    another model is refused (``EmbeddingModelMismatchError``) instead of mixing vectors.
    ``relevance_score_fn`` replaces the documented per-metric mapping of scores to [0, 1]
    (``langchain_vecbridge.relevance``).
    """

    def __init__(
        self,
        embedding: Embeddings,
        url: str | None = None,
        collection_name: str = DEFAULT_COLLECTION,
        *,
        store: vb.SyncStore | None = None,
        namespace: str = vb.DEFAULT_NAMESPACE,
        metric: str | vb.Metric = vb.Metric.COSINE,
        embedding_model: str | None = None,
        relevance_score_fn: Callable[[float], float] | None = None,
    ) -> None:
        self.sync_store, self._owns_store = open_or_share(url, store)
        self.embedding = embedding
        self.metric = vb.Metric.parse(metric)
        self.embedding_model = embedding_model
        self.override_relevance_score_fn = relevance_score_fn
        self.collection = self.sync_store.store.collection(collection_name, namespace, embedding_model=embedding_model)

    @property
    def embeddings(self) -> Embeddings:
        return self.embedding

    def close(self) -> None:
        """Release the connection when this vector store opened it (a ``store=`` given stays open)."""
        if self._owns_store:
            self.sync_store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<VecbridgeVectorStore {self.collection.name!r} namespace={self.collection.namespace!r} on {self.sync_store.url}>"

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.sync_store.run(coroutine)

    async def _arun(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return await self.sync_store.arun(coroutine)

    # --- writes --------------------------------------------------------------------------------

    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        batch_size: int | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Embed and upsert ``texts``; an id given (or a document's id) replaces that record whole,
        a missing id gets a new uuid4. ``batch_size`` caps the records per write request (LangChain's
        indexing API passes it). Returns the ids in order."""
        refuse_unknown_options(kwargs, "VecbridgeVectorStore.add_texts")
        items = list(texts)
        chosen = _ids_for(items, ids)
        if not items:
            return []
        vectors = self.embedding.embed_documents(items)
        return self._run(self._upsert(chosen, items, vectors, _metadatas_for(items, metadatas), batch_size))

    async def aadd_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        batch_size: int | None = None,
        **kwargs: Any,
    ) -> list[str]:
        refuse_unknown_options(kwargs, "VecbridgeVectorStore.aadd_texts")
        items = list(texts)
        chosen = _ids_for(items, ids)
        if not items:
            return []
        vectors = await self.embedding.aembed_documents(items)
        return await self._arun(self._upsert(chosen, items, vectors, _metadatas_for(items, metadatas), batch_size))

    async def _upsert(
        self,
        ids: list[str],
        texts: list[str],
        vectors: list[list[float]],
        metadatas: list[dict[str, Any]],
        batch_size: int | None,
    ) -> list[str]:
        records = [
            vb.Record(id=record_id, vector=vector, metadata=dict(metadata), document=text)
            for record_id, text, vector, metadata in zip(ids, texts, vectors, metadatas, strict=True)
        ]
        await self.collection.upsert_creating(
            records, metric=self.metric, embedding_model=self.embedding_model, batch_size=batch_size
        )
        return ids

    def delete(
        self, ids: list[str] | None = None, *, filter: Filter | None = None, all: bool = False, **kwargs: Any
    ) -> bool:
        """Delete by ``ids`` (missing ids are fine), by a non-empty vecbridge ``filter``, or everything
        in the namespace with ``all=True``: exactly one of them (deleting everything is never implicit)."""
        refuse_unknown_options(kwargs, "VecbridgeVectorStore.delete")
        return self._run(self._delete(ids, filter, all))

    async def adelete(
        self, ids: list[str] | None = None, *, filter: Filter | None = None, all: bool = False, **kwargs: Any
    ) -> bool:
        refuse_unknown_options(kwargs, "VecbridgeVectorStore.adelete")
        return await self._arun(self._delete(ids, filter, all))

    async def _delete(self, ids: list[str] | None, filter: Filter | None, all: bool) -> bool:
        with contextlib.suppress(vb.CollectionNotFoundError):  # nothing written yet: nothing to delete
            await self.collection.delete(ids, filter=filter, all=all)
        return True

    # --- reads ---------------------------------------------------------------------------------

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """The documents of the ids that exist, in the order asked; missing ids are absent."""
        return self._run(self._get(ids))

    async def aget_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        return await self._arun(self._get(ids))

    async def _get(self, ids: Sequence[str]) -> list[Document]:
        try:
            records = await self.collection.get(list(ids), include_vector=False)
        except vb.CollectionNotFoundError:
            return []
        return [_document(record.id, record.document, record.metadata) for record in records]

    async def _query(
        self, vector: Sequence[float], k: int, filter: Filter | None, min_score: float | None, include_vector: bool
    ) -> tuple[list[vb.Match], vb.Metric]:
        """The matches, best first, and the collection's metric (none yet: no matches)."""
        try:
            spec = await self.collection.spec()
        except vb.CollectionNotFoundError:
            return [], self.metric
        matches = await self.collection.query(
            vector, k, filter=filter, min_score=min_score, include_vector=include_vector
        )
        return matches, spec.metric

    def similarity_search(
        self, query: str, k: int = 4, *, filter: Filter | None = None, min_score: float | None = None, **kwargs: Any
    ) -> list[Document]:
        """The ``k`` documents most similar to ``query``; ``filter`` is vecbridge's filter language and
        ``min_score`` keeps matches whose vecbridge score is at least that."""
        refuse_unknown_options(kwargs, "VecbridgeVectorStore.similarity_search")
        return self.similarity_search_by_vector(
            self.embedding.embed_query(query), k, filter=filter, min_score=min_score
        )

    async def asimilarity_search(
        self, query: str, k: int = 4, *, filter: Filter | None = None, min_score: float | None = None, **kwargs: Any
    ) -> list[Document]:
        refuse_unknown_options(kwargs, "VecbridgeVectorStore.asimilarity_search")
        vector = await self.embedding.aembed_query(query)
        return await self.asimilarity_search_by_vector(vector, k, filter=filter, min_score=min_score)

    def similarity_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        *,
        filter: Filter | None = None,
        min_score: float | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        refuse_unknown_options(kwargs, "VecbridgeVectorStore.similarity_search_by_vector")
        matches, _ = self._run(self._query(embedding, k, filter, min_score, False))
        return [_match_document(match) for match in matches]

    async def asimilarity_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        *,
        filter: Filter | None = None,
        min_score: float | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        refuse_unknown_options(kwargs, "VecbridgeVectorStore.asimilarity_search_by_vector")
        matches, _ = await self._arun(self._query(embedding, k, filter, min_score, False))
        return [_match_document(match) for match in matches]

    def similarity_search_with_score(
        self, query: str, k: int = 4, *, filter: Filter | None = None, min_score: float | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Documents with vecbridge's score: cosine similarity, inner product or minus the L2
        distance by the collection's metric; higher is better, the same number on every backend."""
        refuse_unknown_options(kwargs, "VecbridgeVectorStore.similarity_search_with_score")
        matches, _ = self._run(self._query(self.embedding.embed_query(query), k, filter, min_score, False))
        return [(_match_document(match), match.score) for match in matches]

    async def asimilarity_search_with_score(
        self, query: str, k: int = 4, *, filter: Filter | None = None, min_score: float | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        refuse_unknown_options(kwargs, "VecbridgeVectorStore.asimilarity_search_with_score")
        vector = await self.embedding.aembed_query(query)
        matches, _ = await self._arun(self._query(vector, k, filter, min_score, False))
        return [(_match_document(match), match.score) for match in matches]

    def _relevance_fn(self, metric: vb.Metric) -> Callable[[float], float]:
        return self.override_relevance_score_fn or RELEVANCE[metric]

    def _similarity_search_with_relevance_scores(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Relevance in [0, 1] by the collection's metric (``langchain_vecbridge.relevance``); LangChain's
        ``similarity_search_with_relevance_scores`` applies ``score_threshold`` to it."""
        filter, min_score = _search_options(kwargs, "similarity_search_with_relevance_scores")
        matches, metric = self._run(self._query(self.embedding.embed_query(query), k, filter, min_score, False))
        relevance = self._relevance_fn(metric)
        return [(_match_document(match), relevance(match.score)) for match in matches]

    async def _asimilarity_search_with_relevance_scores(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        filter, min_score = _search_options(kwargs, "asimilarity_search_with_relevance_scores")
        vector = await self.embedding.aembed_query(query)
        matches, metric = await self._arun(self._query(vector, k, filter, min_score, False))
        relevance = self._relevance_fn(metric)
        return [(_match_document(match), relevance(match.score)) for match in matches]

    def max_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        *,
        filter: Filter | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """``k`` documents chosen among the ``fetch_k`` best for similarity to the query and diversity
        (LangChain's MMR, on the stored vectors)."""
        refuse_unknown_options(kwargs, "VecbridgeVectorStore.max_marginal_relevance_search")
        return self.max_marginal_relevance_search_by_vector(
            self.embedding.embed_query(query), k, fetch_k, lambda_mult, filter=filter
        )

    async def amax_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        *,
        filter: Filter | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        refuse_unknown_options(kwargs, "VecbridgeVectorStore.amax_marginal_relevance_search")
        vector = await self.embedding.aembed_query(query)
        return await self.amax_marginal_relevance_search_by_vector(vector, k, fetch_k, lambda_mult, filter=filter)

    def max_marginal_relevance_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        *,
        filter: Filter | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        refuse_unknown_options(kwargs, "VecbridgeVectorStore.max_marginal_relevance_search_by_vector")
        matches, _ = self._run(self._query(embedding, max(k, fetch_k), filter, None, True))
        return _mmr(embedding, matches, k, lambda_mult)

    async def amax_marginal_relevance_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        *,
        filter: Filter | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        refuse_unknown_options(kwargs, "VecbridgeVectorStore.amax_marginal_relevance_search_by_vector")
        matches, _ = await self._arun(self._query(embedding, max(k, fetch_k), filter, None, True))
        return _mmr(embedding, matches, k, lambda_mult)

    # --- construction --------------------------------------------------------------------------

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> Self:
        """A vector store (``kwargs`` as for the constructor: ``url=`` or ``store=``, ``collection_name``,
        ``namespace``, ...) holding ``texts``."""
        vector_store = cls(embedding, **kwargs)
        vector_store.add_texts(texts, metadatas, ids=ids)
        return vector_store

    @classmethod
    async def afrom_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> Self:
        vector_store = cls(embedding, **kwargs)
        await vector_store.aadd_texts(texts, metadatas, ids=ids)
        return vector_store


def _search_options(kwargs: dict[str, Any], method: str) -> tuple[Filter | None, float | None]:
    filter = kwargs.pop("filter", None)
    min_score = kwargs.pop("min_score", None)
    refuse_unknown_options(kwargs, f"VecbridgeVectorStore.{method}")
    return filter, min_score


def _ids_for(texts: list[str], ids: Sequence[str | None] | None) -> list[str]:
    """The ids given, with a new uuid4 wherever none is (LangChain passes ``None`` for a document without id)."""
    if ids is None:
        return [str(uuid.uuid4()) for _ in texts]
    if len(ids) != len(texts):
        raise vb.InvalidArgumentError(f"got {len(ids)} ids for {len(texts)} texts")
    return [str(uuid.uuid4()) if record_id is None else record_id for record_id in ids]


def _metadatas_for(texts: list[str], metadatas: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    if metadatas is None:
        return [{} for _ in texts]
    if len(metadatas) != len(texts):
        raise vb.InvalidArgumentError(f"got {len(metadatas)} metadatas for {len(texts)} texts")
    return metadatas


def _document(record_id: str, text: str | None, metadata: Metadata) -> Document:
    return Document(id=record_id, page_content=text or "", metadata=dict(metadata))


def _match_document(match: vb.Match) -> Document:
    return _document(match.id, match.document, match.metadata)


def _mmr(query: Sequence[float], matches: list[vb.Match], k: int, lambda_mult: float) -> list[Document]:
    if not matches:
        return []
    vectors = [np.asarray(match.vector, dtype=np.float32).tolist() for match in matches]
    chosen = maximal_marginal_relevance(np.asarray(query, dtype=np.float32), vectors, k=k, lambda_mult=lambda_mult)
    return [_match_document(matches[i]) for i in chosen]

"""``VecbridgeEmbeddingRetriever``: the documents nearest a query embedding, from a ``VecbridgeDocumentStore``."""

from __future__ import annotations

from typing import Any

from haystack import Document, component, default_from_dict, default_to_dict
from haystack.document_stores.types import FilterPolicy
from haystack.document_stores.types.filter_policy import apply_filter_policy
from haystack_integrations.document_stores.vecbridge import VecbridgeDocumentStore


@component
class VecbridgeEmbeddingRetriever:
    """Dense retrieval with Haystack filters (translated exactly or refused) and vecbridge's scores.

    ``filters`` given at construction and at ``run`` combine by ``filter_policy`` (REPLACE: the run's
    filters win; MERGE: both apply).
    """

    def __init__(
        self,
        document_store: VecbridgeDocumentStore,
        filters: dict[str, Any] | None = None,
        top_k: int = 10,
        return_embedding: bool = False,
        filter_policy: str | FilterPolicy = FilterPolicy.REPLACE,
    ) -> None:
        if not isinstance(document_store, VecbridgeDocumentStore):
            raise ValueError("document_store must be a VecbridgeDocumentStore")
        self.document_store = document_store
        self.filters = filters or {}
        self.top_k = top_k
        self.return_embedding = return_embedding
        self.filter_policy = FilterPolicy.from_str(filter_policy) if isinstance(filter_policy, str) else filter_policy

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(
            self,
            document_store=self.document_store.to_dict(),
            filters=self.filters,
            top_k=self.top_k,
            return_embedding=self.return_embedding,
            filter_policy=self.filter_policy.value,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VecbridgeEmbeddingRetriever:
        parameters = data["init_parameters"]
        store = VecbridgeDocumentStore.from_dict(parameters["document_store"])
        retriever: VecbridgeEmbeddingRetriever = default_from_dict(
            cls, {**data, "init_parameters": {**parameters, "document_store": store}}
        )
        return retriever

    @component.output_types(documents=list[Document])
    def run(
        self, query_embedding: list[float], filters: dict[str, Any] | None = None, top_k: int | None = None
    ) -> dict[str, list[Document]]:
        documents = self.document_store.embedding_retrieval(
            query_embedding,
            top_k=top_k or self.top_k,
            filters=apply_filter_policy(self.filter_policy, self.filters, filters),
            return_embedding=self.return_embedding,
        )
        return {"documents": documents}

    @component.output_types(documents=list[Document])
    async def run_async(
        self, query_embedding: list[float], filters: dict[str, Any] | None = None, top_k: int | None = None
    ) -> dict[str, list[Document]]:
        documents = await self.document_store.embedding_retrieval_async(
            query_embedding,
            top_k=top_k or self.top_k,
            filters=apply_filter_policy(self.filter_policy, self.filters, filters),
            return_embedding=self.return_embedding,
        )
        return {"documents": documents}

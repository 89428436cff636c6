"""Haystack retriever over ``VecbridgeDocumentStore``."""

from haystack_integrations.components.retrievers.vecbridge.embedding_retriever import VecbridgeEmbeddingRetriever

__all__ = ["VecbridgeEmbeddingRetriever"]

"""LlamaIndex integration of vecbridge: ``VecbridgeVectorStore``, a LlamaIndex vector store on any vecbridge URL."""

from llama_index.vector_stores.vecbridge.base import VecbridgeVectorStore
from llama_index.vector_stores.vecbridge.filters import to_vecbridge_filter

__all__ = ["VecbridgeVectorStore", "to_vecbridge_filter"]

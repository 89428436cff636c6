"""LangChain integration of vecbridge: ``VecbridgeVectorStore``, a LangChain ``VectorStore`` on any vecbridge URL."""

from langchain_vecbridge.relevance import cosine_relevance, dot_relevance, euclidean_relevance
from langchain_vecbridge.vectorstores import VecbridgeVectorStore

__version__ = "0.1.0"

__all__ = ["VecbridgeVectorStore", "cosine_relevance", "dot_relevance", "euclidean_relevance"]

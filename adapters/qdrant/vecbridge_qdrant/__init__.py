"""vecbridge adapter for Qdrant: a server (REST/gRPC), the client's local mode, and the embedded edge engine."""

from vecbridge_qdrant.adapter import QdrantAdapter
from vecbridge_qdrant.filters import QdrantFilterCompiler

__all__ = ["QdrantAdapter", "QdrantFilterCompiler"]

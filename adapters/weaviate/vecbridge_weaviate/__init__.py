"""vecbridge adapter for Weaviate (``weaviate://host:8080?grpc_port=50051``, ``weaviate+cloud://...``)."""

from vecbridge_weaviate.adapter import WeaviateAdapter
from vecbridge_weaviate.filters import WeaviateFilterCompiler

__all__ = ["WeaviateAdapter", "WeaviateFilterCompiler"]

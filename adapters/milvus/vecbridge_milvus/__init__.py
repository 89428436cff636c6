"""vecbridge adapter for Milvus: ``milvus://host:19530`` and ``milvus+lite:///path/file.db``."""

from vecbridge_milvus.adapter import MilvusAdapter, primary_key
from vecbridge_milvus.filters import MilvusFilterCompiler

__all__ = ["MilvusAdapter", "MilvusFilterCompiler", "primary_key"]

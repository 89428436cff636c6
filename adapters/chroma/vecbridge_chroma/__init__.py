"""vecbridge adapter for Chroma: ``chroma://host:port`` (server) and ``chroma:///path`` (embedded)."""

from vecbridge_chroma.adapter import ChromaAdapter
from vecbridge_chroma.filters import ChromaFilterCompiler

__all__ = ["ChromaAdapter", "ChromaFilterCompiler"]

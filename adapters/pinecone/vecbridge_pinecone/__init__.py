"""vecbridge-pinecone: the Pinecone adapter (entry point ``pinecone``)."""

from vecbridge_pinecone.adapter import PineconeAdapter
from vecbridge_pinecone.filters import PineconeFilter, PineconeFilterCompiler

__all__ = ["PineconeAdapter", "PineconeFilter", "PineconeFilterCompiler"]

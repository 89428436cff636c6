"""Haystack integration of vecbridge: ``VecbridgeDocumentStore``, a Haystack document store on any vecbridge URL."""

from haystack_integrations.document_stores.vecbridge.document_store import VecbridgeDocumentStore
from haystack_integrations.document_stores.vecbridge.filters import to_vecbridge_filter

__all__ = ["VecbridgeDocumentStore", "to_vecbridge_filter"]

"""The shapes framework integrations write into Chroma, so their collections are read and written as they expect.

Read from the packages' source (langchain-chroma 1.1.0 ``vectorstores.py``; llama-index-vector-stores-chroma
0.6.0 ``base.py`` with llama-index-core 0.14 ``vector_stores/utils.py``; chroma-haystack 5.0):

``native``
    What chromadb's own client writes: Chroma ids, embeddings, ``documents``, flat metadata.
``langchain``
    langchain-chroma: ids are the Chroma ids (``uuid4`` strings by default), ``documents`` hold
    ``page_content``, the metadata is the Document's flat metadata (``None`` when empty); the default
    collection is named ``langchain``; its relevance function follows the configuration's
    ``hnsw.space``. ``Document.page_content`` must be a string, so a record without a document is
    written with the empty document ``""``.
``llamaindex``
    llama-index-vector-stores-chroma: ids are node ids, ``documents`` hold the node text, the metadata
    is the node's flat metadata plus ``_node_content`` (the node as JSON, text emptied), ``_node_type``,
    ``document_id``, ``doc_id`` and ``ref_doc_id`` (``"None"`` without a source document); ``None``
    values are written as ``""``. LlamaIndex rebuilds every node from ``_node_content``, so these five
    keys are kept verbatim as metadata: a copy into another LlamaIndex store keeps working.
``haystack``
    chroma-haystack (``document_store.py``): ids are the Document ids, ``documents`` hold ``content``
    (a Document without content is not written, one read without it has ``content=None``), ``meta``
    is the flat metadata (scalars and non-empty single-type lists); the default collection is named
    ``documents`` and its metric is set through the legacy ``hnsw:space`` collection metadata.

On Chroma the four share one record shape (id, embedding, documents, flat metadata); a preset
changes how its fields are described and how a record without a document is written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from vecbridge.layout import LayoutError

NATIVE = "native"
LANGCHAIN = "langchain"
LLAMAINDEX = "llamaindex"
HAYSTACK = "haystack"
PRESETS = (NATIVE, LANGCHAIN, LLAMAINDEX, HAYSTACK)

#: the keys LlamaIndex adds to every node's metadata (``node_to_metadata_dict``)
LLAMAINDEX_KEYS = ("_node_content", "_node_type", "document_id", "doc_id", "ref_doc_id")
#: the frameworks' default collection names
DEFAULT_COLLECTIONS = {"langchain": LANGCHAIN, "documents": HAYSTACK}


def check_preset(name: str) -> str:
    """``name`` when it is a Chroma preset, else ``LayoutError`` listing them."""
    if name not in PRESETS:
        raise LayoutError(f"chroma knows no preset {name!r}; known: {', '.join(PRESETS)}")
    return name


def detect_preset(collection: str, metadatas: Iterable[Mapping[str, object] | None]) -> str:
    """The preset a sample of a collection looks written by: LlamaIndex's keys in any record, or
    langchain-chroma's or chroma-haystack's default collection name; ``native`` otherwise."""
    if any(metadata and "_node_content" in metadata and "_node_type" in metadata for metadata in metadatas):
        return LLAMAINDEX
    return DEFAULT_COLLECTIONS.get(collection, NATIVE)


def key_note(preset: str, key: str) -> str:
    """Why a metadata key of ``preset`` is what it is (empty for a user's own key)."""
    if preset == LLAMAINDEX and key in LLAMAINDEX_KEYS:
        return "LlamaIndex node data, kept verbatim (LlamaIndex rebuilds nodes from it)"
    return ""


def document_when_absent(preset: str) -> str | None:
    """What a record without a document is written with: ``""`` where the framework needs text, else
    ``None`` (the record gets no document, as chromadb's own ``add`` without one leaves it)."""
    return "" if preset == LANGCHAIN else None

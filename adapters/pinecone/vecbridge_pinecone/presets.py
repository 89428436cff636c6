"""The records framework integrations write into Pinecone, so their indexes are read and written as they expect.

Read from the packages' source (langchain-pinecone 0.2.13 ``vectorstores.py``; llama-index-vector-stores-pinecone
0.9.0 ``base.py`` with llama-index-core 0.14 ``vector_stores/utils.py``; pinecone-haystack 7.0.0
``document_stores/pinecone/document_store.py``). Every one writes Pinecone vectors ``{id, values, metadata}``
with flat metadata; they differ in where the text is, which namespace is their default and which numbers
they turn back into ints (Pinecone holds every number as a float64):

``native``
    What the Pinecone SDK writes: ids, values, flat metadata; no document unless declared; the default
    namespace is Pinecone's ``""``.
``langchain``
    langchain-pinecone ``PineconeVectorStore``: the text under ``text`` (``text_key``) in the metadata,
    the Document's flat metadata beside it; ids ``uuid4`` strings, ``<id_prefix>#<id>`` with
    ``id_prefix`` (kept whole: LangChain returns and deletes them so); namespace ``None`` = ``""``. A
    vector without ``text`` is skipped by LangChain's searches, so a record without a document is
    written with ``text: ""``.
``llamaindex``
    llama-index-vector-stores-pinecone: the metadata is ``node_to_metadata_dict(node, remove_text=False)``:
    the node's flat metadata, ``_node_content`` (the whole node as JSON, *the only copy of the text*),
    ``_node_type``, ``document_id``, ``doc_id``, ``ref_doc_id``; ids ``<ref_doc_id>#<node_id>`` (kept
    whole). LlamaIndex rebuilds nodes from ``_node_content`` alone: a read takes the document out of it
    (the key is kept with its ``text`` emptied, the shape LlamaIndex keeps on stores with a text field),
    a write puts the document back (and writes a minimal ``TextNode`` when a record has none), so
    LlamaIndex reads what vecbridge wrote. A flat number whose copy in ``_node_content``'s metadata is an
    int reads back as that int.
``haystack``
    pinecone-haystack ``PineconeDocumentStore``: ``content`` in the metadata beside the flattened
    ``meta``; namespace ``default``; ``split_id``, ``split_idx_start`` and ``page_number`` turned back
    into ints (its ``_convert_meta_to_int``); documents without an embedding are stored with the dummy
    vector ``[-10.0] * dim`` (read as that vector).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from vecbridge.layout import LayoutError

NATIVE = "native"
LANGCHAIN = "langchain"
LLAMAINDEX = "llamaindex"
HAYSTACK = "haystack"
PRESETS = (NATIVE, LANGCHAIN, LLAMAINDEX, HAYSTACK)

#: where LlamaIndex keeps the node (and, on Pinecone, its text)
NODE_CONTENT = "_node_content"
#: the keys LlamaIndex adds to every node's metadata (``node_to_metadata_dict``)
LLAMAINDEX_KEYS = (NODE_CONTENT, "_node_type", "document_id", "doc_id", "ref_doc_id")


@dataclass(frozen=True, slots=True)
class Preset:
    """What a framework's records look like on Pinecone."""

    name: str
    #: the metadata key holding the document (``""``: none)
    document: str
    #: the Pinecone namespace vecbridge's ``default`` namespace is
    default_namespace: str = ""
    #: metadata keys whose float values that are exact integers read back as ints (``Layout.integers``)
    int_keys: frozenset[str] = frozenset()
    #: what a record without a document is written with under ``document`` (``None``: the key is left out)
    absent_document: str | None = None


_PRESETS = {
    NATIVE: Preset(NATIVE, document=""),
    LANGCHAIN: Preset(LANGCHAIN, document="text", absent_document=""),
    LLAMAINDEX: Preset(LLAMAINDEX, document=NODE_CONTENT),
    HAYSTACK: Preset(
        HAYSTACK,
        document="content",
        default_namespace="default",
        int_keys=frozenset({"split_id", "split_idx_start", "page_number"}),
    ),
}


def preset(name: str | None) -> Preset:
    """The preset called ``name`` (``None``: ``native``); ``LayoutError`` names the known ones."""
    found = _PRESETS.get(name or NATIVE)
    if found is None:
        raise LayoutError(f"pinecone knows no preset {name!r}; known: {', '.join(PRESETS)}")
    return found


def detect_preset(metadatas: Iterable[Mapping[str, object]]) -> str:
    """The preset a sample of records looks written by: LlamaIndex's node keys, else the text key of
    LangChain (``text``) or Haystack (``content``); ``native`` when none of them is there."""
    sample = list(metadatas)
    if any(NODE_CONTENT in metadata and "_node_type" in metadata for metadata in sample):
        return LLAMAINDEX
    for name in (LANGCHAIN, HAYSTACK):
        key = _PRESETS[name].document
        if any(isinstance(metadata.get(key), str) for metadata in sample):
            return name
    return NATIVE


def key_note(name: str, key: str) -> str:
    """Why a metadata key of preset ``name`` reads as it does (empty for a user's own key)."""
    found = preset(name)
    if found.name == LLAMAINDEX and key in LLAMAINDEX_KEYS:
        return "LlamaIndex node data, kept verbatim (LlamaIndex rebuilds nodes from it)"
    return ""

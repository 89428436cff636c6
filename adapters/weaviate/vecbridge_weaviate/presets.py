"""The objects framework integrations write into Weaviate, so their classes are read and written as they expect.

Read from the packages' source (langchain-weaviate 0.0.8 ``vectorstores.py``; llama-index-vector-stores-weaviate
1.7.1 ``utils.py`` ``get_data_object`` / ``to_node`` with llama-index-core 0.14; weaviate-haystack 8.0.0
``document_store.py`` ``_to_data_object`` / ``_to_document``). All three write the vector as the class's
default vector and keep metadata as top-level properties (auto-schema types them: ints become
``number``, ISO-looking strings ``date``):

``native``
    What weaviate-client writes: the object's uuid is the id, properties by data type, no document
    unless a text property has a well-known name (:data:`DOCUMENT_NAMES`) or one is declared.
``langchain``
    langchain-weaviate ``WeaviateVectorStore``: class ``index_name`` or ``LangChain_<hex>``; uuid4 ids
    (given ids must be UUIDs); the text in the ``text`` property (``text_key``), each metadata key a
    property (datetimes written as ISO strings).
``llamaindex``
    llama-index-vector-stores-weaviate: class ``index_name`` or ``LlamaIndex_<hex>``; uuid = node id;
    the text in ``text``; the node's flat metadata as properties plus ``_node_content`` (the node as
    JSON, text emptied), ``_node_type``, ``document_id``, ``doc_id``, ``ref_doc_id``, kept verbatim so
    LlamaIndex rebuilds the node (its ``to_node`` puts the ``text`` property back into it).
``haystack``
    weaviate-haystack ``WeaviateDocumentStore``: class ``Default``; uuid = ``generate_uuid5(id)``
    (uuid5 of the DNS namespace) with the original id in ``_original_id``; ``content``; the meta
    flattened into top-level properties; ``blob_data``/``blob_mime_type`` (a blob: not read) and
    ``score`` (Haystack's last query score: not metadata).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from vecbridge.layout import LayoutError

NATIVE = "native"
LANGCHAIN = "langchain"
LLAMAINDEX = "llamaindex"
HAYSTACK = "haystack"
PRESETS = (NATIVE, LANGCHAIN, LLAMAINDEX, HAYSTACK)

#: text properties taken as the document of a plain class (the one of them present)
DOCUMENT_NAMES = ("text", "content", "page_content", "document", "body", "chunk")
#: the keys LlamaIndex adds to every node's metadata (``node_to_metadata_dict``)
LLAMAINDEX_KEYS = ("_node_content", "_node_type", "document_id", "doc_id", "ref_doc_id")
#: Haystack's original id property (its uuid is ``generate_uuid5`` of it)
HAYSTACK_ID = "_original_id"


@dataclass(frozen=True, slots=True)
class Preset:
    """What a framework's objects look like on Weaviate."""

    name: str
    #: the text property holding the document (``None``: inferred from :data:`DOCUMENT_NAMES`)
    document: str | None
    #: the property holding the original id (``""``: the object's uuid is the id)
    id: str = ""
    #: properties that are the framework's own bookkeeping, never metadata
    ignored: frozenset[str] = frozenset()
    #: the properties a class created in this shape declares (name -> Weaviate data type)
    properties: tuple[tuple[str, str], ...] = ()


_PRESETS = {
    NATIVE: Preset(NATIVE, document=None),
    LANGCHAIN: Preset(LANGCHAIN, document="text", properties=(("text", "text"),)),
    LLAMAINDEX: Preset(
        LLAMAINDEX,
        document="text",
        properties=(("text", "text"), ("ref_doc_id", "text"), ("_node_content", "text"), ("_node_type", "text")),
    ),
    HAYSTACK: Preset(
        HAYSTACK,
        document="content",
        id=HAYSTACK_ID,
        ignored=frozenset({"blob_data", "blob_mime_type", "score"}),
        properties=(
            (HAYSTACK_ID, "text"),
            ("content", "text"),
            ("blob_data", "blob"),
            ("blob_mime_type", "text"),
            ("score", "number"),
        ),
    ),
}


def preset(name: str | None) -> Preset:
    """The preset called ``name`` (``None``: ``native``); ``LayoutError`` names the known ones."""
    found = _PRESETS.get(name or NATIVE)
    if found is None:
        raise LayoutError(f"weaviate knows no preset {name!r}; known: {', '.join(PRESETS)}")
    return found


def detect_preset(class_name: str, properties: Collection[str]) -> str:
    """The preset a class looks written by: Haystack's id and content properties, LlamaIndex's node
    properties, LangChain's default class name or its ``text`` property; else ``native``."""
    if HAYSTACK_ID in properties and "content" in properties:
        return HAYSTACK
    if "_node_content" in properties and "text" in properties:
        return LLAMAINDEX
    if class_name.startswith("LlamaIndex_") and "text" in properties:
        return LLAMAINDEX
    if class_name.startswith("LangChain_") or "text" in properties:
        return LANGCHAIN
    return NATIVE


def key_note(name: str, key: str) -> str:
    """Why a property of preset ``name`` reads as it does (empty for a user's own key)."""
    if preset(name).name == LLAMAINDEX and key in LLAMAINDEX_KEYS:
        return "LlamaIndex node data, kept verbatim (LlamaIndex rebuilds nodes from it)"
    return ""

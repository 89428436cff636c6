"""The payloads framework integrations write into Qdrant, so their collections are read and written as they expect.

Read from the packages' source (langchain-qdrant 1.1.0 ``qdrant.py``; llama-index-vector-stores-qdrant
0.10.4 ``base.py`` with llama-index-core 0.14 ``vector_stores/utils.py``; qdrant-haystack 13.1.0
``converters.py``):

``native``
    What qdrant-client's own ``upsert`` writes: point ids (unsigned integers or UUIDs), flat payload
    keys, at most one well-known text key (``page_content``, ``text``, ``content``, ``document``)
    as the document.
``langchain``
    langchain-qdrant: payload ``{"page_content": text, "metadata": dict or null}``; the vector is
    ``vector_name`` (``""``, the unnamed one, by default); ids are passed through (``uuid4().hex``
    by default) and Qdrant returns them hyphenated, so a LangChain id reads back as the hyphenated
    UUID (what ``similarity_search`` puts in ``metadata["_id"]``). The metadata is the keys of
    ``metadata``; ``page_content`` must be a string, so a record without a document is written
    with ``""``.
``llamaindex``
    llama-index-vector-stores-qdrant: the point id is the node id; the payload is
    ``node_to_metadata_dict(node, remove_text=False)``: the node's flat metadata plus
    ``_node_content`` (the whole node as JSON, text included: the ONLY copy of the text),
    ``_node_type``, ``doc_id``, ``ref_doc_id`` and ``document_id`` (``"None"`` without a source
    document). LlamaIndex rebuilds every node from ``_node_content``: the document is read from its
    ``text``; the five keys are metadata (a copy into another LlamaIndex store keeps working),
    ``_node_content`` read with its text emptied, as the stores that keep the text elsewhere (Chroma,
    PostgreSQL) hold it, so a node reads the same everywhere; a write puts the document and the
    metadata back into ``_node_content`` (a node is made for a record that has none). The vector is unnamed, or ``text-dense`` in hybrid
    collections: the collection's configuration says.
``haystack``
    qdrant-haystack: point id = ``uuid5(3896d314-1e95-4a3a-b45a-945f9f0b541d, Document.id)``, the
    original id in payload ``id``; payload ``Document.to_dict(flatten=False)`` without the
    embedding: ``id``, ``content``, ``blob``, ``meta`` (a nested dict: the metadata), ``score``,
    ``sparse_embedding``; the vector is unnamed (``text-dense`` with sparse embeddings).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from vecbridge.adapter import uuid_for_id
from vecbridge.layout import Layout, LayoutError, metadata_value
from vecbridge.types import Metadata

NATIVE = "native"
LANGCHAIN = "langchain"
LLAMAINDEX = "llamaindex"
HAYSTACK = "haystack"
PRESETS = (NATIVE, LANGCHAIN, LLAMAINDEX, HAYSTACK)

#: payload keys a plain collection's text is recognised under (one of them, alone)
TEXT_KEYS = ("page_content", "text", "content", "document")
#: the keys LlamaIndex adds to every node's metadata (``node_to_metadata_dict``)
LLAMAINDEX_KEYS = ("_node_content", "_node_type", "document_id", "doc_id", "ref_doc_id")
NODE_CONTENT = "_node_content"
#: qdrant-haystack's namespace for point ids (``converters.UUID_NAMESPACE``)
HAYSTACK_NAMESPACE = uuid.UUID("3896d314-1e95-4a3a-b45a-945f9f0b541d")
#: keys of Haystack's ``Document.to_dict`` that are neither id, content nor meta
HAYSTACK_EXTRAS = ("blob", "score", "sparse_embedding", "embedding")

_LAYOUTS = {
    NATIVE: Layout(preset=NATIVE, id=""),
    LANGCHAIN: Layout(preset=LANGCHAIN, id="", document="page_content", metadata=(), metadata_keys_from=("metadata",)),
    LLAMAINDEX: Layout(preset=LLAMAINDEX, id="", document=NODE_CONTENT, metadata_keys_from=()),
    HAYSTACK: Layout(preset=HAYSTACK, id="id", document="content", metadata=(), metadata_keys_from=("meta",)),
}


def check_preset(name: str) -> str:
    """``name`` when it is a Qdrant preset, else ``LayoutError`` listing them."""
    if name not in PRESETS:
        raise LayoutError(f"qdrant knows no preset {name!r}; known: {', '.join(PRESETS)}")
    return name


def preset_layout(name: str) -> Layout:
    """The roles ``name`` fixes (vector and metric come from the collection's configuration)."""
    return _LAYOUTS[check_preset(name)]


def detect_preset(payloads: Iterable[Mapping[str, Any]]) -> str:
    """The preset a sample of payloads looks written by; ``native`` when none fits every point."""
    sample = list(payloads)
    if any(NODE_CONTENT in payload and "_node_type" in payload for payload in sample):
        return LLAMAINDEX
    if not sample:
        return NATIVE
    if all(
        set(payload) == {"page_content", "metadata"} and isinstance(payload.get("metadata"), dict | None)
        for payload in sample
    ):
        return LANGCHAIN
    if all({"id", "content", "meta"} <= set(payload) and isinstance(payload["meta"], dict) for payload in sample):
        return HAYSTACK
    return NATIVE


def ignored_keys(preset: str) -> tuple[str, ...]:
    """Payload keys a framework keeps for itself: never metadata."""
    return HAYSTACK_EXTRAS if preset == HAYSTACK else ()


def key_note(preset: str, key: str) -> str:
    """Why a payload key of ``preset`` is what it is (empty for a user's own key)."""
    if preset == LLAMAINDEX and key == NODE_CONTENT:
        return "LlamaIndex's node JSON (LlamaIndex rebuilds nodes from it), read with its text emptied; filters refused"
    if preset == LLAMAINDEX and key in LLAMAINDEX_KEYS:
        return "LlamaIndex node data, kept verbatim (LlamaIndex rebuilds nodes from it)"
    if preset == HAYSTACK and key in HAYSTACK_EXTRAS:
        return "Haystack's own field, not read"
    return ""


def payload_id_point(preset: str, record_id: str) -> str:
    """The point id written for a record whose id lives in a payload key: Haystack's uuid5 of the
    original id under its preset, vecbridge's own uuid5 otherwise."""
    return str(uuid.uuid5(HAYSTACK_NAMESPACE, record_id)) if preset == HAYSTACK else uuid_for_id(record_id)


def absent_document(preset: str) -> str | None:
    """What a record without a document is written with: ``""`` where the framework needs text."""
    return "" if preset in (LANGCHAIN, LLAMAINDEX) else None


# --- LlamaIndex nodes --------------------------------------------------------------------------------


def _node(payload: Mapping[str, Any]) -> dict[str, Any] | None:
    content = payload.get(NODE_CONTENT)
    if not isinstance(content, str):
        return None
    try:
        node = json.loads(content)
    except ValueError:
        return None
    return node if isinstance(node, dict) else None


def node_text(payload: Mapping[str, Any]) -> str | None:
    """The node's text inside ``_node_content`` (LlamaIndex keeps no other copy on Qdrant)."""
    node = _node(payload)
    text = None if node is None else node.get("text")
    return text if isinstance(text, str) else None


def node_content_without_text(payload: Mapping[str, Any]) -> Any:
    """``_node_content`` as the stores that keep the text elsewhere hold it (LlamaIndex's
    ``remove_text=True``: ``text`` emptied, ``text_resource`` removed), so a node reads the same from
    Qdrant as from Chroma or PostgreSQL; the stored value when it is not a node's JSON."""
    node = _node(payload)
    if node is None:
        return payload.get(NODE_CONTENT)
    node["text"] = ""
    node.pop("text_resource", None)
    return json.dumps(node, ensure_ascii=False)


def llamaindex_payload(record_id: str, metadata: Metadata, document: str | None) -> dict[str, Any]:
    """The payload LlamaIndex reads a node from: the record's own metadata flat, and ``_node_content``
    holding the document as the node's text and the metadata (a stored node's values are kept where
    the record's equal them by the conversion rules, so nothing LlamaIndex wrote changes type)."""
    user = {key: value for key, value in metadata.items() if key not in LLAMAINDEX_KEYS}
    node = _node(metadata) or {"id_": record_id, "embedding": None, "relationships": {}, "class_name": "TextNode"}
    previous = node.get("metadata")
    stored: dict[str, Any] = previous if isinstance(previous, dict) else {}
    order = [key for key in stored if key in user] + [key for key in user if key not in stored]
    node["metadata"] = {key: _kept(stored.get(key), user[key]) for key in order}
    node["id_"] = record_id
    node["text"] = document if document is not None else ""
    node["embedding"] = None
    payload: dict[str, Any] = dict(user)
    payload[NODE_CONTENT] = json.dumps(node, ensure_ascii=False)
    payload["_node_type"] = metadata.get("_node_type", "TextNode")
    for key in ("document_id", "doc_id", "ref_doc_id"):
        payload[key] = metadata.get(key, "None")
    return payload


def _kept(stored: object, value: object) -> object:
    """The stored node value when it reads as ``value``, else ``value``."""
    if stored is None:
        return value
    try:
        return stored if metadata_value(stored) == value else value
    except ValueError:
        return value

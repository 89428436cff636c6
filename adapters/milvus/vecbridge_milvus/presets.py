"""The schemas framework integrations write into Milvus, so their collections are read and written as they expect.

Read from the packages' source (langchain-milvus 0.3.3 ``vectorstores/milvus.py``;
llama-index-vector-stores-milvus 1.2.0 ``base.py`` with llama-index-core 0.14 ``vector_stores/utils.py``):

``native``
    What pymilvus' own ``create_collection`` / ``insert`` write: the primary key (INT64 or VARCHAR)
    is the id, the only FLOAT_VECTOR field the vector, at most one well-known VARCHAR text field
    (``text``, ``page_content``, ``content``, ``document``) the document, every other scalar field
    and every dynamic (``$meta``) key the metadata, the keys of a JSON field named ``metadata``
    merged in.
``langchain``
    langchain-milvus: collection ``LangChainCollection``; primary key ``pk`` (VARCHAR(65535) when the
    caller gives ids, INT64 ``auto_id`` when not), ``text`` VARCHAR(65535), ``vector``; metadata as
    one typed field per key (fixed by the first document), or dynamic keys
    (``enable_dynamic_field=True``), or a legacy JSON ``metadata`` field whose keys are the metadata.
    LangChain puts ``pk`` into each ``Document.metadata`` it returns; vecbridge reads ``pk`` as the
    record id and not as metadata (a copy into another store would otherwise carry a stale key).
    A collection vecbridge creates with this preset has a VARCHAR ``pk`` and dynamic keys for the
    metadata: open it with ``Milvus(..., enable_dynamic_field=True)``.
``llamaindex``
    llama-index-vector-stores-milvus: collection ``llamacollection``; primary key ``id`` VARCHAR =
    the node id, ``doc_id`` VARCHAR, ``text`` VARCHAR (the node's text), ``embedding``; dynamic keys
    hold ``node_to_metadata_dict(node, remove_text=True)``: the node's flat metadata,
    ``_node_content`` (the node's JSON with its text emptied), ``_node_type``, ``document_id``,
    ``ref_doc_id``. All of those and ``doc_id`` are metadata (a copy into another LlamaIndex store
    keeps working); the default metric is IP.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from vecbridge.layout import Layout, LayoutError

NATIVE = "native"
LANGCHAIN = "langchain"
LLAMAINDEX = "llamaindex"
PRESETS = (NATIVE, LANGCHAIN, LLAMAINDEX)

#: VARCHAR fields a plain collection's text is recognised under (one of them, alone)
TEXT_FIELDS = ("text", "page_content", "content", "document")
#: a JSON field of this name holds metadata keys (LangChain's legacy ``metadata_field``)
METADATA_FIELD = "metadata"
#: the keys LlamaIndex adds to every node's metadata (``node_to_metadata_dict``)
LLAMAINDEX_KEYS = ("_node_content", "_node_type", "document_id", "doc_id", "ref_doc_id")
#: default collection names of the frameworks
DEFAULT_NAMES = {"LangChainCollection": LANGCHAIN, "llamacollection": LLAMAINDEX}

_LAYOUTS = {
    NATIVE: Layout(preset=NATIVE),
    LANGCHAIN: Layout(preset=LANGCHAIN, id="pk", vector="vector", document="text"),
    LLAMAINDEX: Layout(preset=LLAMAINDEX, id="id", vector="embedding", document="text"),
}
#: fields each preset's collections are created with, besides the vector (name -> max_length)
CREATED_FIELDS: dict[str, dict[str, int]] = {
    NATIVE: {},
    LANGCHAIN: {},
    LLAMAINDEX: {"doc_id": 65_535},
}
#: what a record written through a preset has in a required field its metadata lacks
DEFAULTS: dict[str, dict[str, str]] = {NATIVE: {}, LANGCHAIN: {}, LLAMAINDEX: {"doc_id": "None"}}


def check_preset(name: str) -> str:
    """``name`` when it is a Milvus preset, else ``LayoutError`` listing them."""
    if name not in PRESETS:
        raise LayoutError(f"milvus knows no preset {name!r}; known: {', '.join(PRESETS)}")
    return name


def preset_layout(name: str) -> Layout:
    """The roles ``name`` fixes (metric and dimension come from the collection's schema and index)."""
    return _LAYOUTS[check_preset(name)]


def detect_preset(name: str, fields: Iterable[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """The preset a collection looks written by: its field names (and a sample's dynamic keys), or a
    framework's default collection name; ``native`` when none fits."""
    names = set(fields)
    if {"id", "doc_id", "text", "embedding"} <= names and (
        DEFAULT_NAMES.get(name) == LLAMAINDEX or any("_node_content" in row for row in rows)
    ):
        return LLAMAINDEX
    if {"pk", "text", "vector"} <= names:
        return LANGCHAIN
    return NATIVE

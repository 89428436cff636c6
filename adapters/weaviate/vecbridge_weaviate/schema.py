"""How vecbridge data is laid out in a Weaviate collection (pure functions, no I/O).

Everything the adapter sends is built here, so the golden tests serialize exactly these objects.

Layout of one Weaviate object (one vecbridge record):

* uuid: ``uuid_for_id(namespace + "/" + id)`` (a namespace never contains ``/``), so the same id in
  two namespaces is two objects.
* ``_vb_id`` the original id (returned as the record id), ``_vb_ns`` the namespace (exact
  ``Equal`` with field tokenization enforces isolation), ``_vb_rec`` the record's metadata and
  document as JSON (what reads return: exact types, int vs float, str vs list, whitespace),
  ``_vb_doc`` the document (word tokenization, for Weaviate's own BM25/hybrid search only),
  ``_vb_keys`` the metadata keys present plus ``n:<key>`` for keys holding a number (what
  ``$exists`` and negated ranges test).
* For each metadata key ``k``, four typed, explicitly declared properties (auto-schema is never
  relied on): ``s_k`` text (scalar strings), ``l_k`` text[] (lists of strings), ``n_k`` number
  (ints and floats, as float64: exact for |x| <= 2**53, and ints equal floats as the contract
  says), ``b_k`` boolean. A key may hold different types in different records, so no write ever
  meets a type conflict; a property of the right name but another type (a schema edited outside
  vecbridge) is reported as ``InvalidRecordError``.
* Strings are stored in ``s_``/``l_`` properties with ``field`` tokenization, so ``Equal`` compares
  whole values. Field tokenization trims surrounding whitespace, so a value that is empty, has
  leading/trailing whitespace or starts with the escape character is stored wrapped in U+0001 on
  both sides (see :func:`encode_text`); filter values are encoded the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from weaviate.classes.config import Configure, DataType, Property, Tokenization, VectorDistances
from weaviate.collections.classes.config import _CollectionConfigCreate
from weaviate.collections.classes.config_vector_index import _VectorIndexConfigCreate

from vecbridge.adapter import uuid_for_id
from vecbridge.types import Flat, IndexSpec, Metadata, Metric, Record

VECTOR_NAME = "default"
ID_PROP = "_vb_id"
NS_PROP = "_vb_ns"
REC_PROP = "_vb_rec"
DOC_PROP = "_vb_doc"
KEYS_PROP = "_vb_keys"
#: Always in ``_vb_keys``, so the property is never empty (Weaviate treats [] as null).
KEYS_SENTINEL = "*"
FACTS_MARKER = "vecbridge"
ESCAPE = "\x01"

TYPE_PREFIXES: dict[str, DataType] = {
    "s_": DataType.TEXT,
    "l_": DataType.TEXT_ARRAY,
    "n_": DataType.NUMBER,
    "b_": DataType.BOOL,
}

DISTANCES: dict[Metric, VectorDistances] = {
    Metric.COSINE: VectorDistances.COSINE,
    Metric.DOT: VectorDistances.DOT,
    Metric.EUCLIDEAN: VectorDistances.L2_SQUARED,
}


def class_name(collection: str) -> str:
    """vecbridge names are ``[a-z][a-z0-9_]*``; Weaviate class names start with a capital."""
    return collection[0].upper() + collection[1:]


def collection_name(weaviate_class: str) -> str:
    return weaviate_class[0].lower() + weaviate_class[1:]


def object_uuid(namespace: str, record_id: str) -> str:
    return uuid_for_id(f"{namespace}/{record_id}")


def text_prop(key: str) -> str:
    return f"s_{key}"


def list_prop(key: str) -> str:
    return f"l_{key}"


def number_prop(key: str) -> str:
    return f"n_{key}"


def bool_prop(key: str) -> str:
    return f"b_{key}"


def number_marker(key: str) -> str:
    return f"n:{key}"


def encode_text(value: str) -> str:
    """The stored (and filtered) form of a string under field tokenization; injective."""
    if not value or value[0] == ESCAPE or value != value.strip():
        return f"{ESCAPE}{value}{ESCAPE}"
    return value


def _base_properties() -> list[Property]:
    return [
        Property(name=ID_PROP, data_type=DataType.TEXT, index_filterable=False, index_searchable=False),
        Property(
            name=NS_PROP,
            data_type=DataType.TEXT,
            tokenization=Tokenization.FIELD,
            index_filterable=True,
            index_searchable=False,
        ),
        Property(name=REC_PROP, data_type=DataType.TEXT, index_filterable=False, index_searchable=False),
        Property(
            name=DOC_PROP,
            data_type=DataType.TEXT,
            tokenization=Tokenization.WORD,
            index_filterable=False,
            index_searchable=True,
        ),
        Property(
            name=KEYS_PROP,
            data_type=DataType.TEXT_ARRAY,
            tokenization=Tokenization.FIELD,
            index_filterable=True,
            index_searchable=False,
        ),
    ]


def key_properties(key: str) -> list[Property]:
    """The four typed properties declared for a metadata key when it first appears."""
    text = {"tokenization": Tokenization.FIELD, "index_filterable": True, "index_searchable": False}
    return [
        Property(name=text_prop(key), data_type=DataType.TEXT, **text),  # type: ignore[arg-type]
        Property(name=list_prop(key), data_type=DataType.TEXT_ARRAY, **text),  # type: ignore[arg-type]
        Property(name=number_prop(key), data_type=DataType.NUMBER, index_filterable=True),
        Property(name=bool_prop(key), data_type=DataType.BOOL, index_filterable=True),
    ]


def facts_description(facts: Mapping[str, object]) -> str:
    return json.dumps({FACTS_MARKER: dict(facts)}, sort_keys=True)


def facts_from_description(description: str | None) -> dict[str, Any] | None:
    """The stored ``CollectionSpec.to_dict()``, or ``None`` for a class vecbridge did not create."""
    if not description:
        return None
    try:
        data = json.loads(description)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get(FACTS_MARKER), dict):
        return None
    facts: dict[str, Any] = data[FACTS_MARKER]
    return facts


def collection_payload(facts: Mapping[str, object], metric: Metric, index: IndexSpec) -> dict[str, Any]:
    """The REST body of ``POST /v1/schema`` (sent with ``collections.create_from_dict``)."""
    distance = DISTANCES[metric]
    vector_index: _VectorIndexConfigCreate
    if isinstance(index, Flat):
        vector_index = Configure.VectorIndex.flat(distance_metric=distance)
    else:
        m = getattr(index, "m", None)
        ef = getattr(index, "ef_construction", None)
        vector_index = Configure.VectorIndex.hnsw(distance_metric=distance, max_connections=m, ef_construction=ef)
    config = _CollectionConfigCreate(
        name=class_name(str(facts["name"])),
        description=facts_description(facts),
        properties=_base_properties(),
        vector_config=Configure.Vectors.self_provided(name=VECTOR_NAME, vector_index_config=vector_index),
    )
    payload: dict[str, Any] = config._to_dict(emit_default_vector_index_type=True)
    return payload


def property_payload(prop: Property) -> dict[str, Any]:
    """The REST body of ``POST /v1/schema/{class}/properties`` (what ``config.add_property`` sends)."""
    payload: dict[str, Any] = prop._to_dict()
    return payload


def metadata_keys(records: Iterable[Record]) -> set[str]:
    keys: set[str] = set()
    for record in records:
        keys.update(record.metadata)
    return keys


def object_properties(namespace: str, record: Record) -> dict[str, Any]:
    """The properties of the Weaviate object for one validated record."""
    metadata: Metadata = record.metadata
    keys = [KEYS_SENTINEL]
    props: dict[str, Any] = {
        ID_PROP: record.id,
        NS_PROP: namespace,
        REC_PROP: json.dumps({"m": metadata, "d": record.document}, ensure_ascii=False, sort_keys=True),
    }
    if record.document is not None:
        props[DOC_PROP] = record.document
    for key, value in sorted(metadata.items()):
        keys.append(key)
        if isinstance(value, bool):
            props[bool_prop(key)] = value
        elif isinstance(value, int | float):
            props[number_prop(key)] = float(value)
            keys.append(number_marker(key))
        elif isinstance(value, str):
            props[text_prop(key)] = encode_text(value)
        else:
            props[list_prop(key)] = [encode_text(v) for v in value]
    props[KEYS_PROP] = keys
    return props


def record_fields(properties: Mapping[str, Any]) -> tuple[str, Metadata, str | None]:
    """``(id, metadata, document)`` read back from an object's properties."""
    data = json.loads(str(properties[REC_PROP]))
    metadata: Metadata = data.get("m") or {}
    document = data.get("d")
    return str(properties[ID_PROP]), metadata, None if document is None else str(document)


READ_PROPERTIES = [ID_PROP, NS_PROP, REC_PROP]

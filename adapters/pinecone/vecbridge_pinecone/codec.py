"""How vecbridge records map onto Pinecone vectors: ids, metadata types, documents, collection facts."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from vecbridge.adapter import DOCUMENT_KEY, ID_KEY
from vecbridge.errors import InvalidArgumentError
from vecbridge.filters import RESERVED_PREFIX
from vecbridge.types import HNSW, CollectionSpec, FloatArray, Metadata, MetadataValue, Metric
from vecbridge_pinecone.filters import BOOL, FLOAT, INT, LIST, STRING, TYPES_KEY, TYPES_SENTINEL, type_tag

#: Pinecone's own id rule (SDK ``require_valid_vector_id``): ASCII, no NUL, 1-512 characters.
MAX_NATIVE_ID = 512
HASHED_ID_PREFIX = "vbh-"
#: Pinecone rejects all-zero dense vectors; one is stored as (ZERO_STANDIN, 0, ...) flagged ``_vb_zero``.
ZERO_KEY = "_vb_zero"
ZERO_STANDIN = 1e-30
#: Pinecone's limit on the metadata of one record ("40 KB"), in bytes.
MAX_METADATA_BYTES = 40_960
#: Index names: 1-45 characters of lowercase letters, digits and ``-``.
MAX_INDEX_NAME = 45
#: Tags marking an index as a vecbridge collection and holding its facts.
MARKER_TAG = "vecbridge"
FACTS_TAG = "vb_facts_"
TAG_VALUE_LIMIT = 120
MAX_TAGS = 20

METRIC_TO_PINECONE = {Metric.COSINE: "cosine", Metric.DOT: "dotproduct", Metric.EUCLIDEAN: "euclidean"}
METRIC_FROM_PINECONE = {native: metric for metric, native in METRIC_TO_PINECONE.items()}


def native_id(record_id: str) -> str:
    """The Pinecone id of a vecbridge id: itself when Pinecone accepts it, else a sha256 digest."""
    if record_id.isascii() and len(record_id) <= MAX_NATIVE_ID:
        return record_id
    return HASHED_ID_PREFIX + hashlib.sha256(record_id.encode("utf-8")).hexdigest()


def index_name(collection: str) -> str:
    """Pinecone index name of a collection: ``_`` becomes ``-`` (vecbridge names never hold ``-``)."""
    name = collection.replace("_", "-")
    if len(name) > MAX_INDEX_NAME:
        raise InvalidArgumentError(
            f"collection name {collection!r} is {len(name)} characters; Pinecone index names have at most "
            f"{MAX_INDEX_NAME}"
        )
    return name


def collection_name(index: str) -> str:
    return index.replace("-", "_")


def _type_letter(value: MetadataValue) -> str:
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return INT
    if isinstance(value, float):
        return FLOAT
    if isinstance(value, str):
        return STRING
    return LIST


def encode_values(vector: Any) -> tuple[list[float], bool]:
    """Pinecone values of a float32 vector, and whether it is the all-zero vector (stored as a stand-in)."""
    values: list[float] = np.asarray(vector, dtype=np.float32).tolist()
    if any(values):
        return values, False
    return [ZERO_STANDIN, *values[1:]], True


def decode_values(values: Sequence[float], raw: Mapping[str, Any] | None) -> FloatArray:
    if raw and raw.get(ZERO_KEY) is True:
        return np.zeros(len(values), dtype=np.float32)
    return np.asarray(values, dtype=np.float32)


def encode_metadata(record_id: str, metadata: Metadata, document: str | None, zero: bool = False) -> dict[str, Any]:
    """Pinecone metadata for a record: user keys, their types, the document and (if hashed) the id."""
    encoded: dict[str, Any] = dict(metadata)
    if zero:
        encoded[ZERO_KEY] = True
    encoded[TYPES_KEY] = [TYPES_SENTINEL] + [type_tag(key, _type_letter(value)) for key, value in metadata.items()]
    if document is not None:
        encoded[DOCUMENT_KEY] = document
    if native_id(record_id) != record_id:
        encoded[ID_KEY] = record_id
    return encoded


def metadata_bytes(encoded: Mapping[str, Any]) -> int:
    """Size of the metadata of one record as counted against :data:`MAX_METADATA_BYTES`: UTF-8 JSON with
    ``", "`` and ``": "`` separators, an upper bound of the compact JSON the SDK sends (the service does not
    document its exact measure; the local test server measures exactly this)."""
    return len(json.dumps(encoded, ensure_ascii=False).encode("utf-8", "surrogatepass"))


def oversize_metadata(
    record_id: str, metadata: Metadata, document: str | None, zero: bool
) -> tuple[str, int, str] | None:
    """``None`` when the metadata the adapter sends for this record fits Pinecone's 40 KB, else
    ``(field, size, detail)``: ``field`` is ``"document"`` when the document is the largest part of it
    (the vecbridge copy in ``_vb_doc``), else ``"metadata"``."""
    encoded = encode_metadata(record_id, metadata, document, zero)
    size = metadata_bytes(encoded)
    if size <= MAX_METADATA_BYTES:
        return None
    document_size = metadata_bytes({DOCUMENT_KEY: document}) if document is not None else 0
    user_size = metadata_bytes(metadata) if metadata else 0
    largest = max(metadata, key=lambda key: metadata_bytes({key: metadata[key]}), default=None)
    largest_size = metadata_bytes({largest: metadata[largest]}) if largest is not None else 0
    field = "document" if document_size >= largest_size else "metadata"
    detail = (
        f"the metadata sent to Pinecone is {size} bytes (document {document_size}, user metadata {user_size}"
        + (f", largest key {largest!r} {largest_size}" if largest is not None else "")
        + f", vecbridge's type tags and id {max(0, size - document_size - user_size)}); Pinecone holds at most "
        f"{MAX_METADATA_BYTES} bytes of metadata per record"
    )
    return field, size, detail


def _restore(value: Any, letter: str | None) -> MetadataValue:
    if letter == INT and isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    if letter == FLOAT and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, list):
        return [str(v) for v in value]
    restored: MetadataValue = value
    return restored


def decode_metadata(native: str, raw: Mapping[str, Any] | None) -> tuple[str, Metadata, str | None]:
    """(vecbridge id, metadata, document) of a Pinecone vector; tolerates vectors vecbridge did not write."""
    raw = raw or {}
    letters: dict[str, str] = {}
    tags = raw.get(TYPES_KEY)
    if isinstance(tags, list):
        for tag in tags:
            field, _, letter = str(tag).rpartition(":")
            if field:
                letters[field] = letter
    metadata: Metadata = {
        key: _restore(value, letters.get(key)) for key, value in raw.items() if not key.startswith(RESERVED_PREFIX)
    }
    document = raw.get(DOCUMENT_KEY)
    record_id = raw.get(ID_KEY)
    return (
        str(record_id) if isinstance(record_id, str) else native,
        metadata,
        document if isinstance(document, str) else None,
    )


def facts_tags(spec: CollectionSpec) -> dict[str, str]:
    """Index tags holding the collection facts: printable-ASCII JSON cut into 120-character values."""
    text = json.dumps(spec.to_dict(), ensure_ascii=True, separators=(",", ":"), sort_keys=True)
    chunks = [text[start : start + TAG_VALUE_LIMIT] for start in range(0, len(text), TAG_VALUE_LIMIT)]
    if len(chunks) + 1 > MAX_TAGS:
        raise InvalidArgumentError(
            f"the facts of collection {spec.name!r} (embedding model name) do not fit in Pinecone's index tags"
        )
    tags = {MARKER_TAG: "1"}
    tags.update({f"{FACTS_TAG}{position}": chunk for position, chunk in enumerate(chunks)})
    return tags


def spec_from_index(name: str, dimension: int, metric: str, tags: Mapping[str, str] | None) -> CollectionSpec:
    """Facts from the tags, or (an index vecbridge did not create) from the index's own schema."""
    tags = tags or {}
    chunks = []
    position = 0
    while f"{FACTS_TAG}{position}" in tags:
        chunks.append(tags[f"{FACTS_TAG}{position}"])
        position += 1
    if chunks:
        try:
            data = json.loads("".join(chunks))
            return CollectionSpec.from_dict({**data, "name": collection_name(name)})
        except (ValueError, KeyError, TypeError):
            pass  # damaged tags: fall back to what the index itself says
    return CollectionSpec(
        name=collection_name(name), dimension=dimension, metric=METRIC_FROM_PINECONE[metric], index=HNSW()
    )


def is_vecbridge_index(tags: Mapping[str, str] | None) -> bool:
    return bool(tags) and MARKER_TAG in (tags or {})

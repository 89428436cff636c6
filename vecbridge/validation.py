"""The contract's input rules, checked once in the core before anything reaches a backend."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from vecbridge.errors import DimensionMismatchError, InvalidArgumentError, InvalidRecordError
from vecbridge.filters import FIELD_PATTERN, MAX_SAFE_INT, RESERVED_PREFIX
from vecbridge.types import CollectionSpec, FloatArray, Metadata, MetadataValue, Metric, Record, Vector

MAX_ID_LENGTH = 512
COLLECTION_NAME = re.compile(r"[a-z][a-z0-9_]{1,46}[a-z0-9]")
NAMESPACE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def check_collection_name(name: object) -> str:
    """Portable collection names: 3-48 chars of ``[a-z0-9_]``, starting with a letter, not ending in ``_``."""
    if not isinstance(name, str) or not COLLECTION_NAME.fullmatch(name):
        raise InvalidArgumentError(
            f"collection name {name!r} is not portable: use 3-48 characters of a-z, 0-9 and _, "
            "starting with a letter and not ending with _"
        )
    return name


def check_native_name(name: object) -> str:
    """A collection vecbridge did not create keeps the store's own name (``LangChainCollection``,
    ``document_embeddings``): any non-empty text of at most 255 characters without control characters."""
    if not isinstance(name, str) or not 1 <= len(name) <= 255 or not name.isprintable():
        raise InvalidArgumentError(f"collection name {name!r} is not a name: use 1-255 printable characters")
    return name


def check_namespace(namespace: object) -> str:
    if not isinstance(namespace, str) or not NAMESPACE_NAME.fullmatch(namespace):
        raise InvalidArgumentError(
            f"namespace {namespace!r} is not portable: use 1-64 characters of A-Z a-z 0-9 _ . -, starting alphanumeric"
        )
    return namespace


def check_dimension(dimension: object) -> int:
    if isinstance(dimension, bool) or not isinstance(dimension, int) or not 1 <= dimension <= 16_000:
        raise InvalidArgumentError(f"dimension must be an int from 1 to 16000, got {dimension!r}")
    return dimension


def check_id(record_id: object) -> str:
    if not isinstance(record_id, str):
        raise InvalidRecordError(f"id must be a str, got {type(record_id).__name__}", field="id")
    if not record_id:
        raise InvalidRecordError("id must not be empty", field="id")
    if len(record_id) > MAX_ID_LENGTH:
        raise InvalidRecordError(f"id is longer than {MAX_ID_LENGTH} characters", record_id=record_id[:40] + "...")
    if "\x00" in record_id:
        raise InvalidRecordError("id must not contain NUL", record_id=record_id)
    return record_id


_FLOAT32 = np.dtype(np.float32)


def check_vector(
    vector: Vector, spec: CollectionSpec, record_id: str | None = None, *, copy: bool = True
) -> FloatArray:
    """A read-only float32 copy of ``vector``, or a typed error (wrong length, NaN/inf, zero for cosine).

    ``copy=False`` (query vectors, read only during the call): a float32 array comes back as it is.
    """
    if type(vector) is np.ndarray and vector.dtype == _FLOAT32:
        array = vector.copy() if copy else vector  # the common case: no conversion, nothing can overflow
    else:
        try:
            with np.errstate(over="ignore"):
                array = np.array(vector, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise InvalidRecordError(
                f"vector is not a sequence of floats: {exc}", record_id=record_id, field="vector"
            ) from None
    if array.ndim != 1:
        raise InvalidRecordError(
            f"vector must be one-dimensional, got shape {array.shape}", record_id=record_id, field="vector"
        )
    if array.shape[0] != spec.dimension:
        raise DimensionMismatchError(
            f"vector has {array.shape[0]} dimensions, collection {spec.name!r} has {spec.dimension}",
            record_id=record_id,
            field="vector",
        )
    # one dot product clears the common case: NaN and infinity carry through it, and only a zero
    # vector (or a float32 overflow or underflow of the sum, both rare) leaves it outside (0, inf)
    norm = float(np.dot(array, array))
    if not 0 < norm < math.inf:
        peak = float(np.abs(array).max())
        if not peak < math.inf:
            raise InvalidRecordError(
                "vector contains NaN or infinity (or a value beyond float32)", record_id=record_id, field="vector"
            )
        if spec.metric is Metric.COSINE and peak == 0:
            raise InvalidRecordError("a zero vector has no cosine direction", record_id=record_id, field="vector")
    if array is not vector:
        array.flags.writeable = False
    return array


def _check_string(value: str, record_id: str | None, key: str) -> None:
    if "\x00" in value:
        raise InvalidRecordError("strings must not contain NUL", record_id=record_id, field=key)


def check_metadata_value(value: object, record_id: str | None, key: str) -> MetadataValue:
    if value is None:
        raise InvalidRecordError(
            "None is not a value: leave the key out to mean 'absent'", record_id=record_id, field=key
        )
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        _check_string(value, record_id, key)
        return value
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INT:
            raise InvalidRecordError(f"integer {value} is outside +-2**53", record_id=record_id, field=key)
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidRecordError(f"{value} is not a finite number", record_id=record_id, field=key)
        return value
    if isinstance(value, list | tuple):
        if not value:
            raise InvalidRecordError("an empty list is not portable: leave the key out", record_id=record_id, field=key)
        if not all(isinstance(v, str) for v in value):
            raise InvalidRecordError("lists may hold only strings", record_id=record_id, field=key)
        for element in value:
            _check_string(element, record_id, key)
        return list(value)
    raise InvalidRecordError(
        f"{type(value).__name__} is not a metadata value (str, bool, int, float or list of str; no nesting)",
        record_id=record_id,
        field=key,
    )


#: Metadata keys already found valid (bounded), so the common case skips the pattern match.
_VALID_KEYS: set[str] = set()


def _plain_values(metadata: dict[Any, Any]) -> bool:
    """True when every value is a str without NUL, a bool, a safe int or a finite float: the common case."""
    for value in metadata.values():
        kind = type(value)
        if kind is str:
            if "\x00" in value:
                return False
        elif kind is int:
            if not -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
                return False
        elif kind is float:
            if not math.isfinite(value):
                return False
        elif kind is not bool:
            return False
    return True


def check_metadata(metadata: object, record_id: str | None = None) -> Metadata:
    if type(metadata) is dict and _VALID_KEYS.issuperset(metadata) and _plain_values(metadata):
        return dict(metadata)  # keys seen valid before, plain scalar values
    if not isinstance(metadata, Mapping):
        raise InvalidRecordError(
            f"metadata must be a dict, got {type(metadata).__name__}", record_id=record_id, field="metadata"
        )
    checked: Metadata = {}
    for key, value in metadata.items():
        if not isinstance(key, str) or not FIELD_PATTERN.fullmatch(key):
            raise InvalidRecordError(
                "metadata keys match [A-Za-z_][A-Za-z0-9_]* and have at most 64 characters",
                record_id=record_id,
                field=str(key),
            )
        if key.startswith(RESERVED_PREFIX):
            raise InvalidRecordError(
                f"keys starting with {RESERVED_PREFIX!r} are reserved", record_id=record_id, field=key
            )
        checked[key] = check_metadata_value(value, record_id, key)
        if len(_VALID_KEYS) < 10_000:
            _VALID_KEYS.add(key)
    return checked


_FLOAT_DTYPES = (_FLOAT32, np.dtype(np.float64))


def check_records(records: Iterable[object], spec: CollectionSpec, first_position: int = 0) -> list[Record]:
    """``check_record`` over many records, with the vector checks done once for the whole list.

    Same result and same first error as checking one by one, several times faster for numpy
    vectors (one float32 matrix, one finiteness/zero reduction); any other input falls back.
    ``first_position``: the caller's position of ``records[0]``, for error messages.
    """
    items = list(records)
    given: list[Record] = []
    arrays: list[npt.NDArray[Any]] = []
    shape = (spec.dimension,)
    for item in items:
        vector = item.vector if isinstance(item, Record) else None
        if not (
            isinstance(item, Record)
            and isinstance(vector, np.ndarray)
            and vector.shape == shape
            and vector.dtype in _FLOAT_DTYPES
        ):
            return [check_record(record, spec, position) for position, record in enumerate(items, first_position)]
        given.append(item)
        arrays.append(vector)
    if not items:
        return []
    with np.errstate(over="ignore", invalid="ignore"):
        matrix = np.array(arrays, dtype=np.float32)
        peaks = np.abs(matrix).max(axis=1)
    bad = ~(peaks < np.inf)  # NaN, infinity, or beyond float32
    if spec.metric is Metric.COSINE:
        bad |= peaks == 0
    first_bad = int(np.argmax(bad)) if bad.any() else len(items)
    matrix.flags.writeable = False
    rows = list(matrix)
    checked: list[Record] = []
    for position, item in enumerate(given):
        if position == first_bad:
            check_record(item, spec, first_position + position)  # raises its error, in check_record's order
        record_id, document = item.id, item.document
        if (
            type(record_id) is str
            and 0 < len(record_id) <= MAX_ID_LENGTH
            and "\x00" not in record_id
            and (document is None or (type(document) is str and "\x00" not in document))
        ):  # the common case, inline: check_record's id and document rules hold
            checked.append(Record(record_id, rows[position], check_metadata(item.metadata, record_id), document))
        else:
            checked.append(check_record(item, spec, first_position + position, checked_vector=rows[position]))
    return checked


def check_record(
    record: object, spec: CollectionSpec, position: int | None = None, *, checked_vector: FloatArray | None = None
) -> Record:
    """A validated copy of ``record``: float32 vector, checked metadata and document.

    ``checked_vector``: the record's vector, already checked by the caller (``check_records``).

    ``position`` (the record's index in the caller's input) names records whose id itself is bad.
    """
    where = "record" if position is None else f"record at position {position}"
    if not isinstance(record, Record):
        raise InvalidRecordError(f"{where}: expected a vecbridge.Record, got {type(record).__name__}")
    try:
        record_id = check_id(record.id)
    except InvalidRecordError as exc:
        raise InvalidRecordError(f"{where}: {exc}") from None
    document = record.document
    if document is not None:
        if not isinstance(document, str):
            raise InvalidRecordError("document must be a str or None", record_id=record_id, field="document")
        _check_string(document, record_id, "document")
    return Record(
        id=record_id,
        vector=check_vector(record.vector, spec, record_id) if checked_vector is None else checked_vector,
        metadata=check_metadata(record.metadata, record_id),
        document=document,
    )


def refuse_unknown_options(options: Mapping[str, object], where: str) -> None:
    """An option the callee does not know is an error, never silently ignored (framework interfaces
    pass ``**kwargs`` through: a store that dropped unknown ones would answer a different question)."""
    if options:
        raise TypeError(f"{where} got unknown keyword argument(s): {', '.join(sorted(options))}")

"""How a collection vecbridge did not create maps onto the contract.

A native collection (a table written with plain SQL, a Chroma collection made by chromadb's own
client, the tables LangChain or LlamaIndex write) has fields of its own. A :class:`Layout` says
which field is the id, the vector, the document, the metadata and the namespace, and which metric
the vectors are compared with. Adapters *infer* a layout from what the store declares (columns,
index operator classes, collection configuration, the shape a framework writes) and apply a
*declared* one on top: every field the caller names wins over inference.

Backend knowledge (how to list a table's columns, what LangChain writes on Chroma) stays in the
adapters; the core owns the model, its JSON form, and the one set of conversion rules that turns a
native value into a contract value (:func:`metadata_value`), so every backend converts alike.

Conversion rules (``docs/existing-data.md`` has the table):

* null / ``None``: the key is absent (the contract has no null);
* a float that is an exact integer, under a key the layout lists in ``integers``: that int (for
  stores that hold every number as a float, such as Pinecone: the layout says which keys are ints);
* str, bool, an int within +-2**53, a finite float, a non-empty list of str: unchanged;
* an int beyond +-2**53, a ``Decimal`` that is not exactly a float: its decimal string;
* a ``Decimal`` that is exactly an int or a float: that number;
* NaN and +-infinity: the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``;
* a timestamp, date or time: its ISO-8601 string (``datetime.isoformat()``);
* a UUID: its canonical hyphenated string;
* a nested object, an empty list, a list of anything but strings: its JSON text (compact, keys
  in stored order, values inside converted by the same rules);
* anything else (bytes, geometry, ...): not convertible; the field is named, never dropped silently.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import json
import math
import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from vecbridge.errors import InvalidArgumentError, UnsupportedFeatureError
from vecbridge.filters import FIELD_PATTERN, MAX_SAFE_INT, RESERVED_PREFIX
from vecbridge.types import Metadata, MetadataValue, Metric


class LayoutError(InvalidArgumentError):
    """A layout cannot be inferred (two candidates for one role) or does not fit the collection.

    ``candidates`` lists the fields that could fill ``role``; ``option`` is the exact layout key to pass.
    """

    def __init__(self, message: str, *, role: str | None = None, candidates: Iterable[str] = ()) -> None:
        self.role = role
        self.candidates = tuple(candidates)
        if role is not None and self.candidates:
            choices = ", ".join(self.candidates)
            example = json.dumps({role: self.candidates[0]})
            message = f"{message}: candidates for {role!r} are {choices}; declare one, e.g. --from-layout '{example}'"
        super().__init__(message)


class FieldRole(enum.StrEnum):
    """What a native field became in the contract."""

    ID = "id"
    VECTOR = "vector"
    DOCUMENT = "document"
    METADATA = "metadata"
    #: a JSON field whose keys are merged into the metadata
    METADATA_KEYS = "metadata keys"
    NAMESPACE = "namespace"
    #: a field the layout leaves out on purpose (a surrogate key, a framework's duplicate copy)
    IGNORED = "ignored"
    #: a field whose values cannot become contract values; named, never copied
    UNFIT = "unfit"


@dataclass(frozen=True, slots=True)
class NativeField:
    """One field of a native collection, as discovery saw it."""

    name: str
    #: the store's own type name (``timestamptz``, ``vector(64)``, ``jsonb``) or, where the store has
    #: no schema, the Python types found in a sample (``str``, ``int|float``)
    type: str
    role: FieldRole
    #: the conversion rule applied, or why the field does not fit
    note: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "type": self.type, "role": self.role.value, "note": self.note}


class Drops:
    """Counts of native values a read could not turn into contract values, by (key, reason).

    Shared by every read through one layout, so a migration report can say what it left out.
    """

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()

    def add(self, key: str, reason: str) -> None:
        self.counts[key, reason] += 1

    def lines(self) -> list[str]:
        return [
            f"{count} value(s) of {key!r} not read: {reason}" for (key, reason), count in sorted(self.counts.items())
        ]


#: keys of the JSON form of a layout, in the order they are printed
LAYOUT_KEYS = (
    "preset",
    "id",
    "vector",
    "document",
    "metadata",
    "metadata_keys_from",
    "integers",
    "namespace",
    "metric",
    "writable",
)


@dataclass(frozen=True, slots=True)
class Layout:
    """Where the contract's parts live in a native collection; ``None`` means "infer it".

    Declared by the caller (``store.collection(name, layout=...)``, ``--from-layout``) or inferred
    by the adapter; :meth:`Store.collection` hands the adapter the declared one, and the adapter
    returns it resolved, with every discovered field in :attr:`fields`.
    """

    #: a framework's layout known to the adapter (``langchain``, ``llamaindex``, ``haystack``), or
    #: ``native`` for a plain collection; every other key overrides what the preset says
    preset: str | None = None
    #: field holding the id; ``""`` is the store's own record id (a Chroma id, a Qdrant point id)
    id: str | None = None
    #: vector field, or the name of a named vector; ``""`` is the store's only (unnamed) vector
    vector: str | None = None
    #: text field holding the document; ``""`` declares that there is none
    document: str | None = None
    #: fields read as metadata keys; ``None`` is every field not used otherwise
    metadata: tuple[str, ...] | None = None
    #: JSON fields whose keys are merged into the metadata (a field's own keys win over theirs)
    metadata_keys_from: tuple[str, ...] | None = None
    #: metadata keys holding integers in a store that keeps every number as a float (Pinecone):
    #: a float value that is an exact integer reads back as an int
    integers: tuple[str, ...] | None = None
    #: field holding the namespace (``tenant_id``); ``""`` is the store's native namespace
    #: (a Pinecone namespace, a Milvus partition); ``None`` when inferred as neither: one namespace
    namespace: str | None = None
    #: the metric vectors are compared with; ``None`` while nothing in the store declares it
    metric: Metric | None = None
    #: whether writes (upsert, delete) are allowed; reading never writes in any case
    writable: bool = False
    #: every field discovery found and what it became (filled in by the adapter)
    fields: tuple[NativeField, ...] = ()
    #: values reads had to leave out, counted (shared by every read through this layout)
    drops: Drops = field(default_factory=Drops, compare=False, hash=False, repr=False)

    @classmethod
    def parse(cls, value: Layout | str | Mapping[str, Any] | None) -> Layout | None:
        """A layout from code or the command line: a ``Layout``, a mapping, JSON text, a JSON file's
        path, or a preset's name (``"langchain"``)."""
        if value is None or isinstance(value, Layout):
            return value
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("{"):
                return cls.from_dict(_json_object(text, "the layout"))
            if text.endswith(".json") or Path(text).is_file():
                try:
                    content = Path(text).read_text()
                except OSError as exc:
                    raise InvalidArgumentError(f"cannot read the layout file {text!r}: {exc}") from None
                return cls.from_dict(_json_object(content, f"the layout file {text!r}"))
            if not _PRESET_NAME.fullmatch(text):
                raise InvalidArgumentError(
                    f"a layout is JSON text ({{...}}), a JSON file or a preset name, not {value!r}"
                )
            return cls(preset=text)
        if isinstance(value, Mapping):
            return cls.from_dict(value)
        raise InvalidArgumentError(f"a layout is a Layout, a dict, JSON text, a file or a preset name, not {value!r}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Layout:
        unknown = set(data) - set(LAYOUT_KEYS)
        if unknown:
            raise InvalidArgumentError(
                f"unknown layout key(s) {', '.join(sorted(unknown))}; known: {', '.join(LAYOUT_KEYS)}"
            )

        def text(key: str) -> str | None:
            value = data.get(key)
            if value is None or isinstance(value, str):
                return value
            raise InvalidArgumentError(f"layout {key!r} must be a field name (a string), got {value!r}")

        def names(key: str) -> tuple[str, ...] | None:
            value = data.get(key)
            if value is None or value == "*":
                return None
            if isinstance(value, str):
                return (value,)
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                return tuple(value)
            raise InvalidArgumentError(f"layout {key!r} must be a list of field names or '*', got {value!r}")

        metric = data.get("metric")
        writable = data.get("writable", False)
        if not isinstance(writable, bool):
            raise InvalidArgumentError(f"layout 'writable' must be true or false, got {writable!r}")
        return cls(
            preset=text("preset"),
            id=text("id"),
            vector=text("vector"),
            document=text("document"),
            metadata=names("metadata"),
            metadata_keys_from=names("metadata_keys_from"),
            integers=names("integers"),
            namespace=text("namespace"),
            metric=None if metric is None else Metric.parse(str(metric)),
            writable=writable,
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (what ``--from-layout`` takes, and what ``info --json`` and plans print)."""
        return {
            "preset": self.preset,
            "id": self.id,
            "vector": self.vector,
            "document": self.document,
            "metadata": "*" if self.metadata is None else list(self.metadata),
            "metadata_keys_from": [] if self.metadata_keys_from is None else list(self.metadata_keys_from),
            "integers": None if self.integers is None else list(self.integers),
            "namespace": self.namespace,
            "metric": None if self.metric is None else self.metric.value,
            "writable": self.writable,
        }

    def describe(self) -> str:
        """One line for plans and ``info``."""
        parts = [f"preset {self.preset}"] if self.preset else []
        parts.append(f"id={_shown(self.id, 'native id')}")
        parts.append(f"vector={_shown(self.vector, 'unnamed')}")
        parts.append(f"document={_shown(self.document, 'none')}" if self.document is not None else "document=none")
        keys = "every other field" if self.metadata is None else ", ".join(self.metadata) or "none"
        if self.metadata_keys_from:
            keys += f" + keys of {', '.join(self.metadata_keys_from)}"
        parts.append(f"metadata={keys}")
        if self.integers:
            parts.append(f"integers={', '.join(self.integers)}")
        namespace = {None: "none", "": "native"}.get(self.namespace, self.namespace)
        parts.append(f"namespace={namespace}")
        parts.append(f"metric={'unknown' if self.metric is None else self.metric.value}")
        if self.writable:
            parts.append("writable")
        return ", ".join(parts)

    def over(self, inferred: Layout) -> Layout:
        """This (declared) layout on top of ``inferred``: every key declared here wins. The result
        counts its own drops: ``inferred`` may be a preset's constant shared by many collections."""
        return replace(
            inferred,
            drops=Drops(),
            preset=self.preset if self.preset is not None else inferred.preset,
            id=self.id if self.id is not None else inferred.id,
            vector=self.vector if self.vector is not None else inferred.vector,
            document=self.document if self.document is not None else inferred.document,
            metadata=self.metadata if self.metadata is not None else inferred.metadata,
            metadata_keys_from=(
                self.metadata_keys_from if self.metadata_keys_from is not None else inferred.metadata_keys_from
            ),
            integers=self.integers if self.integers is not None else inferred.integers,
            namespace=self.namespace if self.namespace is not None else inferred.namespace,
            metric=self.metric if self.metric is not None else inferred.metric,
            writable=self.writable or inferred.writable,
        )

    @property
    def declares_roles(self) -> bool:
        """Whether anything beyond ``writable`` is declared (a bare ``writable=True`` may mean a
        vecbridge collection too)."""
        return any(
            value is not None
            for value in (
                self.preset,
                self.id,
                self.vector,
                self.document,
                self.metadata,
                self.metadata_keys_from,
                self.integers,
            )
        ) or any(value is not None for value in (self.namespace, self.metric))

    def unfit_fields(self) -> list[NativeField]:
        return [f for f in self.fields if f.role is FieldRole.UNFIT]

    def require_metric(self, collection: str) -> Metric:
        """The metric, or ``UnsupportedFeatureError`` saying how to declare it (queries need it)."""
        if self.metric is None:
            raise UnsupportedFeatureError(
                f"collection {collection!r}: nothing in the store declares its metric; "
                'declare it, e.g. layout={"metric": "cosine"} or --from-layout \'{"metric": "cosine"}\''
            )
        return self.metric

    def metadata_from(self, values: Mapping[str, object], record_id: str | None = None) -> Metadata:
        """Contract metadata from native ``values`` (field or JSON key -> native value), converted by
        :func:`metadata_value`; a key or value outside the contract is counted in :attr:`drops`."""
        metadata: Metadata = {}
        for key, value in values.items():
            if value is None:
                continue
            reason = _cached_key_problem(key)
            if reason is not None:
                self.drops.add(key, reason)
                continue
            if self.integers and key in self.integers and isinstance(value, float) and value.is_integer():
                value = int(value)
            if isinstance(value, str | bool) or (type(value) is int and -MAX_SAFE_INT <= value <= MAX_SAFE_INT):
                metadata[key] = value  # most values: nothing to convert
                continue
            try:
                metadata[key] = metadata_value(value)
            except NotConvertibleError as exc:
                self.drops.add(key, str(exc))
        return metadata


def _shown(value: str | None, empty: str) -> str:
    if value is None:
        return "?"
    return value or empty


def _json_object(text: str, what: str) -> Mapping[str, Any]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InvalidArgumentError(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidArgumentError(f"{what} must be a JSON object, got {text!r}")
    return data


_PRESET_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")


class NotConvertibleError(ValueError):
    """A native value with no lossless contract form; the message names its type."""


def key_problem(key: object) -> str | None:
    """Why a native field name cannot be a metadata key, or ``None`` when it can."""
    if not isinstance(key, str) or not FIELD_PATTERN.fullmatch(key):
        return "not a portable key ([A-Za-z_][A-Za-z0-9_]*, at most 64 characters)"
    if key.startswith(RESERVED_PREFIX):
        return f"keys starting with {RESERVED_PREFIX!r} are reserved"
    return None


#: reads check the same few keys on every record: the answer is remembered
_cached_key_problem = functools.lru_cache(maxsize=4096)(key_problem)


def metadata_value(value: object) -> MetadataValue:
    """A native value as a contract value, by the rules in this module's docstring.

    ``None`` is handled by the caller (absent); raises :class:`NotConvertibleError` otherwise.
    """
    convert = _BY_TYPE.get(type(value))  # the common native types in one lookup (reads call this per value)
    if convert is not None:
        return convert(value)
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value if -MAX_SAFE_INT <= value <= MAX_SAFE_INT else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else _NON_FINITE[str(value)]
    if isinstance(value, Decimal):
        return _decimal(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple) and value and all(isinstance(v, str) for v in value):
        return list(value)
    if isinstance(value, list | tuple | Mapping):
        return _json_text(value)
    raise NotConvertibleError(f"{type(value).__name__} has no lossless contract form")


#: compact JSON, keys in stored order; one encoder, not one per value as ``json.dumps(..., separators=...)`` makes
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _json_text(value: object) -> str:
    return _JSON.encode(_json_ready(value))


def _list_value(value: list[object]) -> MetadataValue:
    if value and all(isinstance(v, str) for v in value):
        return [str(v) for v in value]
    return _json_text(value)


#: exact types :func:`metadata_value` converts without walking its ``isinstance`` chain (the same rules)
_BY_TYPE: dict[type, Callable[[Any], MetadataValue]] = {
    dt.datetime: dt.datetime.isoformat,
    dt.date: dt.date.isoformat,
    dt.time: dt.time.isoformat,
    dict: _json_text,
    list: _list_value,
    uuid.UUID: str,
}


def conversion_note(native_type: str, sample: object = None) -> str:
    """The rule :func:`metadata_value` applies to a field of ``native_type`` (for ``info`` and plans)."""
    kind = native_type.lower()
    if any(word in kind for word in ("timestamp", "date", "time")):
        return "converted: ISO-8601 string"
    if any(word in kind for word in ("json", "object", "dict", "list", "[]", "array")):
        return "converted: nested values become JSON text"
    if any(word in kind for word in ("numeric", "decimal")):
        return "converted: exact number, else decimal string"
    if "uuid" in kind:
        return "converted: canonical UUID string"
    if kind in ("bigint", "int8", "int64", "uint64"):
        return "converted: beyond +-2**53 a decimal string"
    return ""


_NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def _decimal(value: Decimal) -> MetadataValue:
    if not value.is_finite():
        return _NON_FINITE.get(str(float(value)), str(value))
    if value == value.to_integral_value() and abs(value) <= MAX_SAFE_INT:
        return int(value)
    as_float = float(value)
    return as_float if Decimal(as_float) == value else str(value)


def _json_ready(value: object) -> object:
    """``value`` with every leaf JSON can hold: nested values follow the same rules as top-level ones."""
    if value is None or type(value) is str or type(value) is bool:
        return value  # what JSON columns hold most: decided without the ABC checks below
    if type(value) is int and -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
        return value
    if type(value) is dict:
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, bool | str):
        return value
    if isinstance(value, Mapping):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, int):
        return value if -MAX_SAFE_INT <= value <= MAX_SAFE_INT else str(value)
    return metadata_value(value)


def sampled_type(value: object) -> str:
    """A native value's type as ``info`` shows a field sampled from a schemaless store: ``int`` (or
    ``bigint`` beyond +-2**53), ``float``, ``str``, ``bool``, ``null``, ``object``, ``list[int|str]``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int" if -MAX_SAFE_INT <= value <= MAX_SAFE_INT else "bigint"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list | tuple):
        inner = sorted({sampled_type(element) for element in value}) or ["empty"]
        return f"list[{'|'.join(inner)}]"
    return type(value).__name__


def converted_types(types: Iterable[str]) -> bool:
    """Whether values of these sampled types (:func:`sampled_type`) are converted by :func:`metadata_value`
    (nested objects and non-string lists to JSON text, big integers to decimal strings), so that a filter
    on them cannot keep its meaning and is refused."""
    return any(name in ("object", "bigint") or (name.startswith("list[") and name != "list[str]") for name in types)


def native_id(value: object) -> str:
    """A native id as a contract id: an integer as its decimal string, a UUID in canonical form."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        raise NotConvertibleError("a boolean is not an id")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    raise NotConvertibleError(f"{type(value).__name__} is not an id type (text, integer or UUID)")


#: what the public API takes where a layout may be given
LayoutInput = Layout | str | Mapping[str, Any] | None

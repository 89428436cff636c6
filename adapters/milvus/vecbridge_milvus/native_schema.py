"""The schema of a Milvus collection vecbridge did not create, and values between it and the contract.

:class:`Column` and :class:`Schema` are what reads and writes need to know of the collection's
fields; a layout carries them in its ``fields`` (the type text :attr:`Column.type_text` writes and
:meth:`Column.parse` reads), so a spec holds everything its primitives need. :func:`created_layout`
is the schema vecbridge creates for a preset; :func:`column_value` turns a contract value back into
what a typed field holds (the conversion rules reversed).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from pymilvus import DataType

from vecbridge.errors import InvalidRecordError
from vecbridge.layout import FieldRole, Layout, LayoutError, NativeField
from vecbridge_milvus import presets

DYNAMIC_FIELD = "$meta"
MAX_VARCHAR = 65_535
MAX_JSON_BYTES = 65_536
_VECTORS = ("FLOAT_VECTOR", "BINARY_VECTOR", "FLOAT16_VECTOR", "BFLOAT16_VECTOR", "SPARSE_FLOAT_VECTOR", "INT8_VECTOR")
_INT_TYPES = ("INT8", "INT16", "INT32", "INT64")


@dataclass(frozen=True, slots=True)
class Column:
    """One field of a collection's schema, as ``describe_collection`` gives it."""

    name: str
    #: the ``DataType`` name (``INT64``, ``VARCHAR``, ``ARRAY``, ``FLOAT_VECTOR``)
    type: str
    element: str | None = None
    max_length: int | None = None
    dim: int | None = None
    primary: bool = False
    auto_id: bool = False
    nullable: bool = False
    partition_key: bool = False

    @classmethod
    def of(cls, field: Mapping[str, Any], auto_id: bool) -> Column:
        params = field.get("params") or {}
        element = field.get("element_type")
        primary = bool(field.get("is_primary"))
        return cls(
            name=str(field["name"]),
            type=DataType(field["type"]).name,
            element=None if element is None else DataType(element).name,
            max_length=int(params["max_length"]) if "max_length" in params else None,
            dim=int(params["dim"]) if "dim" in params else None,
            primary=primary,
            auto_id=primary and (auto_id or bool(field.get("auto_id"))),
            nullable=bool(field.get("nullable")),
            partition_key=bool(field.get("is_partition_key")),
        )

    @property
    def type_text(self) -> str:
        """The type as ``info`` shows it and :meth:`parse` reads it back: ``VARCHAR(200) nullable``."""
        text = self.type if self.element is None else f"{self.type}[{self.element}]"
        size = self.dim if self.dim is not None else self.max_length
        flags = [name for name, on in self._flags() if on]
        return " ".join([text if size is None else f"{text}({size})", *flags])

    def _flags(self) -> list[tuple[str, bool]]:
        return [
            ("primary", self.primary),
            ("auto_id", self.auto_id),
            ("nullable", self.nullable),
            ("partition_key", self.partition_key),
        ]

    @classmethod
    def parse(cls, name: str, text: str) -> Column:
        head, *flags = text.split(" ")
        kind, _, size = head.partition("(")
        base, _, element = kind.partition("[")
        length = int(size.rstrip(")")) if size else None
        vector = base in _VECTORS
        return cls(
            name=name,
            type=base,
            element=element.rstrip("]") or None,
            max_length=None if vector else length,
            dim=length if vector else None,
            primary="primary" in flags,
            auto_id="auto_id" in flags,
            nullable="nullable" in flags,
            partition_key="partition_key" in flags,
        )

    @property
    def is_vector(self) -> bool:
        return self.type in _VECTORS


@dataclass(frozen=True, slots=True)
class Schema:
    """What reads and writes need to know of a collection: its columns, and whether it has ``$meta``."""

    columns: dict[str, Column]
    dynamic: bool

    @classmethod
    def of(cls, layout: Layout) -> Schema:
        columns = {
            f.name: Column.parse(f.name, f.type) for f in layout.fields if "." not in f.name and f.name != DYNAMIC_FIELD
        }
        return cls(columns, any(f.name == DYNAMIC_FIELD for f in layout.fields))

    @property
    def key(self) -> Column:
        return next(column for column in self.columns.values() if column.primary)

    def scalar_names(self) -> list[str]:
        """Every non-vector field (what a read without vectors asks for)."""
        names = [name for name, column in self.columns.items() if not column.is_vector]
        return [*names, DYNAMIC_FIELD] if self.dynamic else names


def created_layout(declared: Layout, dimension: int) -> Layout:
    """The layout of a collection vecbridge creates: the preset's field names (``id``, ``vector``,
    ``text`` where the preset names none), all VARCHAR(65535) but the vector and a namespace field
    (VARCHAR(64)), the metadata in ``$meta``."""
    preset = presets.check_preset(declared.preset or presets.NATIVE)
    shape = declared.over(presets.preset_layout(preset))
    if shape.namespace == "":
        raise LayoutError("milvus: partitions as namespaces are not supported; declare a namespace field")
    key, vector = shape.id or "id", shape.vector or "vector"
    document = "text" if shape.document is None else shape.document
    columns = [
        Column(key, "VARCHAR", max_length=MAX_VARCHAR, primary=True),
        Column(vector, "FLOAT_VECTOR", dim=dimension),
    ]
    if document:
        columns.append(Column(document, "VARCHAR", max_length=MAX_VARCHAR))
    columns += [Column(name, "VARCHAR", max_length=length) for name, length in presets.CREATED_FIELDS[preset].items()]
    if shape.namespace:
        columns.append(Column(shape.namespace, "VARCHAR", max_length=64))
    fields = [NativeField(c.name, c.type_text, FieldRole.IGNORED) for c in columns]
    fields.append(NativeField(DYNAMIC_FIELD, "JSON dynamic", FieldRole.METADATA_KEYS))
    return replace(shape, preset=preset, id=key, vector=vector, document=document, fields=tuple(fields))


def key_value(key: Column, record_id: str) -> int | str:
    if key.type != "INT64":
        if key.max_length is not None and len(record_id.encode("utf-8", "surrogatepass")) > key.max_length:
            raise InvalidRecordError(
                f"the primary key {key.name!r} holds at most {key.max_length} bytes", record_id=record_id, field="id"
            )
        return record_id
    number = int_id(record_id)
    if number is None:
        raise InvalidRecordError(
            f"this collection's primary key {key.name!r} is INT64: an id is a decimal integer as it reads back "
            "(e.g. '42')",
            record_id=record_id,
            field="id",
        )
    return number


def int_id(record_id: str) -> int | None:
    text = record_id.removeprefix("-")
    if not (text.isdigit() and text.isascii()):
        return None
    number = int(record_id)
    return number if str(number) == record_id and -(2**63) <= number < 2**63 else None


def check_length(column: Column, text: str, record_id: str, field: str) -> None:
    limit = column.max_length
    if limit is not None and len(text) * 4 > limit and len(text.encode("utf-8", "surrogatepass")) > limit:
        raise InvalidRecordError(
            f"{field} is over {limit} bytes of UTF-8, the length of field {column.name!r}",
            record_id=record_id,
            field=field,
        )


def column_value(column: Column, value: Any, record_id: str) -> Any:
    """A contract metadata value as the field's type holds it (the conversion rules reversed)."""
    kind = column.type
    ok: Any = None
    if kind == "BOOL" and isinstance(value, bool):
        ok = value
    elif kind in _INT_TYPES and not isinstance(value, bool):
        if isinstance(value, int):
            ok = value
        elif kind == "INT64" and isinstance(value, str):
            ok = int_id(value)
    elif kind in ("FLOAT", "DOUBLE") and isinstance(value, int | float) and not isinstance(value, bool):
        ok = float(value)
    elif kind == "VARCHAR" and isinstance(value, str):
        check_length(column, value, record_id, column.name)
        ok = value
    elif kind == "ARRAY" and column.element == "VARCHAR":
        ok = value if isinstance(value, list) else ([] if value == "[]" else None)
    elif kind in ("ARRAY", "JSON"):
        ok = from_json_text(value)
    if ok is None:
        raise InvalidRecordError(
            f"field {column.name!r} is {column.type_text}; it cannot hold {value!r}",
            record_id=record_id,
            field=column.name,
        )
    return ok


def from_json_text(value: Any) -> Any:
    """The JSON value a JSON-text metadata value was read from (the conversion rule reversed)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value

"""The compiled Weaviate filters mean what the contract says, under Weaviate's documented filter rules.

``weaviate_matches`` interprets the gRPC ``Filters`` message the client builds (the one the golden
tests pin) over objects laid out exactly as the adapter writes them (``object_properties``), by
these rules of the Weaviate server (``docs/backends/weaviate.md`` cites them):

* ``Equal`` on a scalar property matches an equal value; on an array property, any element;
  null / missing never matches. ``ContainsAny``: any of the values is an ``Equal`` match.
* ``NotEqual`` is the complement of ``Equal`` over all objects (so it matches missing values).
* ``GreaterThan`` ... compare present numbers only.
* The value type must match the property type (``valueNumber`` for number, ``valueText`` for
  text/text[], ``valueBoolean`` for boolean): the server rejects a mismatch, so the model does too.

Expected answers come from the reference evaluator ``vecbridge.filters.evaluate``. This proves the
translation, not the server: a live run (``VECBRIDGE_WEAVIATE_URL``) is what checks the server.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_weaviate_golden import EXTRA_FILTERS
from vecbridge_conformance.differential_tests import FILTER_STRATEGY, _metadata
from vecbridge_conformance.filters_tests import DATASET, FILTERS
from vecbridge_weaviate.adapter import scoped
from vecbridge_weaviate.filters import WeaviateFilterCompiler
from vecbridge_weaviate.schema import (
    DOC_PROP,
    ID_PROP,
    KEYS_PROP,
    NS_PROP,
    REC_PROP,
    TYPE_PREFIXES,
    encode_text,
    object_properties,
    record_fields,
)
from weaviate.collections.filters import _FilterToGRPC
from weaviate.proto.v1 import base_pb2

from vecbridge.filters import evaluate, parse_filter
from vecbridge.types import Record

F = base_pb2.Filters
BASE_TYPES = {ID_PROP: "text", NS_PROP: "text", REC_PROP: "text", DOC_PROP: "text", KEYS_PROP: "text[]"}
PREFIX_TYPES = {prefix: str(data_type.value) for prefix, data_type in TYPE_PREFIXES.items()}


def schema_for(keys: set[str]) -> dict[str, str]:
    schema = dict(BASE_TYPES)
    for key in keys:
        for prefix, data_type in PREFIX_TYPES.items():
            schema[prefix + key] = data_type
    return schema


def _operand(message: base_pb2.Filters, data_type: str) -> list[Any]:
    kind = message.WhichOneof("test_value")
    expected = {"number": "value_number", "boolean": "value_boolean", "text": "value_text", "text[]": "value_text"}
    if message.operator == F.OPERATOR_CONTAINS_ANY:
        if data_type in ("text", "text[]") and kind == "value_text_array":
            return list(message.value_text_array.values)
        if data_type == "number" and kind == "value_number_array":
            return list(message.value_number_array.values)
        raise AssertionError(f"ContainsAny with {kind} on a {data_type} property")
    if kind != expected[data_type]:
        raise AssertionError(f"{kind} sent for a {data_type} property: the server would reject it")
    return [getattr(message, kind)]


def weaviate_matches(message: base_pb2.Filters, obj: Mapping[str, Any], schema: Mapping[str, str]) -> bool:
    if message.operator == F.OPERATOR_AND:
        return all(weaviate_matches(child, obj, schema) for child in message.filters)
    if message.operator == F.OPERATOR_OR:
        return any(weaviate_matches(child, obj, schema) for child in message.filters)
    assert message.operator != F.OPERATOR_NOT, "the adapter must not need the newer Not operator"
    prop = message.target.property
    assert prop in schema, f"filter on {prop!r}, which the schema does not declare"
    data_type = schema[prop]
    operands = _operand(message, data_type)
    stored = obj.get(prop)
    values = [] if stored is None else stored if isinstance(stored, list) else [stored]
    if message.operator in (F.OPERATOR_EQUAL, F.OPERATOR_CONTAINS_ANY):
        return any(v == o and type(v) is type(o) for v in values for o in operands)
    if message.operator == F.OPERATOR_NOT_EQUAL:
        return not any(v == o and type(v) is type(o) for v in values for o in operands)
    assert data_type == "number", "range on a non-number property"
    (operand,) = operands
    compare = {
        F.OPERATOR_GREATER_THAN: lambda v: v > operand,
        F.OPERATOR_GREATER_THAN_EQUAL: lambda v: v >= operand,
        F.OPERATOR_LESS_THAN: lambda v: v < operand,
        F.OPERATOR_LESS_THAN_EQUAL: lambda v: v <= operand,
    }[message.operator]
    return any(compare(v) for v in values)


def matching(filter_: dict[str, Any], metadata: list[dict[str, Any]], namespaces: list[str]) -> list[int]:
    """Indices of the objects that the filter, as sent for namespace "a", selects."""
    keys = {key for m in metadata for key in m}
    lowered = WeaviateFilterCompiler(keys).compile(parse_filter(filter_))
    if lowered is False:
        return []
    message = _FilterToGRPC.convert(scoped("a", lowered))
    objects = [
        object_properties(ns, Record(id=f"r{i}", vector=np.zeros(1), metadata=m))
        for i, (m, ns) in enumerate(zip(metadata, namespaces, strict=True))
    ]
    schema = schema_for(keys)
    return [i for i, obj in enumerate(objects) if weaviate_matches(message, obj, schema)]


def expected(filter_: dict[str, Any], metadata: list[dict[str, Any]], namespaces: list[str]) -> list[int]:
    node = parse_filter(filter_)
    return [i for i, (m, ns) in enumerate(zip(metadata, namespaces, strict=True)) if ns == "a" and evaluate(node, m)]


@pytest.mark.parametrize("case", sorted(FILTERS))
def test_conformance_filter_selects_what_the_reference_selects(case: str) -> None:
    namespaces = ["a"] * len(DATASET)
    assert matching(FILTERS[case], DATASET, namespaces) == expected(FILTERS[case], DATASET, namespaces)


def test_namespace_scoping_excludes_other_namespaces() -> None:
    namespaces = ["a" if i % 2 else "b" for i in range(len(DATASET))]
    for filter_ in FILTERS.values():
        assert matching(filter_, DATASET, namespaces) == expected(filter_, DATASET, namespaces)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    metadata=st.lists(_metadata(), min_size=1, max_size=12),
    filter_=FILTER_STRATEGY,
    data=st.data(),
)
def test_random_filters_agree_with_the_reference(
    metadata: list[dict[str, Any]], filter_: dict[str, Any], data: st.DataObject
) -> None:
    namespaces = [data.draw(st.sampled_from(["a", "b"])) for _ in metadata]
    assert matching(filter_, metadata, namespaces) == expected(filter_, metadata, namespaces)


@given(st.text(max_size=6))
def test_text_encoding_survives_field_tokenization(value: str) -> None:
    """Field tokenization trims whitespace (Go ``strings.TrimSpace``); encoded values are never
    trimmed, and distinct strings stay distinct."""
    encoded = encode_text(value)
    assert encoded == encoded.strip() and encoded
    assert encode_text(value + " ") != encoded


@given(_metadata(), st.one_of(st.none(), st.text(max_size=5)))
def test_records_read_back_exactly(metadata: dict[str, Any], document: str | None) -> None:
    props = object_properties("ns", Record(id="id ' ü", vector=np.zeros(1), metadata=metadata, document=document))
    record_id, read_metadata, read_document = record_fields(props)
    assert (record_id, read_document) == ("id ' ü", document)
    assert read_metadata == metadata
    assert [type(read_metadata[k]) for k in metadata] == [type(metadata[k]) for k in metadata]


SPECIAL_STRINGS: list[dict[str, Any]] = [
    {"color": " red"},
    {"color": "red\n"},
    {"color": "\x01red"},
    {"color": "red"},
    {"color": ""},
    {"color": "naïve ü 東京"},
    {"tags": [" red", "red"]},
    {"tags": [""]},
    {"n": -0.5, "flag": False},
    {},
]


@pytest.mark.parametrize("case", sorted(EXTRA_FILTERS))
def test_extra_golden_filters_select_what_the_reference_selects(case: str) -> None:
    namespaces = ["a"] * len(SPECIAL_STRINGS)
    for data in (SPECIAL_STRINGS, DATASET):
        spaces = namespaces if data is SPECIAL_STRINGS else ["a"] * len(DATASET)
        assert matching(EXTRA_FILTERS[case], data, spaces) == expected(EXTRA_FILTERS[case], data, spaces)

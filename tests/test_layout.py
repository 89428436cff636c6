"""The core layout model: parsing a declared layout, the conversion rules, and the store's guards."""

from __future__ import annotations

import collections
import datetime as dt
import json
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

import vecbridge as vb
from vecbridge.layout import Layout, LayoutError, NotConvertibleError, metadata_value, native_id


def test_a_layout_parses_from_json_text_a_file_a_dict_and_a_preset_name(tmp_path: Path) -> None:
    declared = {"id": "id", "document": "content", "namespace": "tenant_id", "metadata": ["source_type"]}
    file = tmp_path / "layout.json"
    file.write_text(json.dumps(declared))
    expected = Layout(id="id", document="content", namespace="tenant_id", metadata=("source_type",))
    assert Layout.parse(json.dumps(declared)) == expected
    assert Layout.parse(str(file)) == expected
    assert Layout.parse(declared) == expected
    assert Layout.parse("langchain") == Layout(preset="langchain")


def test_the_json_form_round_trips() -> None:
    layout = Layout(
        preset="native",
        id="id",
        vector="embedding",
        document="",
        metadata_keys_from=("metadata",),
        namespace="tenant_id",
        metric=vb.Metric.COSINE,
        writable=True,
    )
    assert Layout.from_dict(layout.to_dict()) == layout


@pytest.mark.parametrize(
    "bad",
    [{"colour": "x"}, {"id": 3}, {"metadata": [1]}, {"metric": "hamming"}, {"writable": "yes"}, "[1, 2]", "{oops"],
)
def test_a_bad_layout_is_an_invalid_argument(bad: object) -> None:
    with pytest.raises(vb.InvalidArgumentError):
        Layout.parse(bad)  # type: ignore[arg-type]


def test_declared_keys_win_over_inferred_ones() -> None:
    inferred = Layout(id="id", vector="embedding", document="content", metric=vb.Metric.COSINE)
    declared = Layout(document="", namespace="tenant_id", writable=True)
    assert declared.over(inferred) == Layout(
        id="id", vector="embedding", document="", namespace="tenant_id", metric=vb.Metric.COSINE, writable=True
    )


def test_an_ambiguity_names_the_candidates_and_the_option_to_pass() -> None:
    error = LayoutError("two text columns could be the document", role="document", candidates=["content", "title"])
    assert error.candidates == ("content", "title")
    assert "content, title" in str(error)
    assert '--from-layout \'{"document": "content"}\'' in str(error)
    assert isinstance(error, vb.InvalidArgumentError)


@pytest.mark.parametrize(
    ("native", "contract"),
    [
        ("text", "text"),
        (True, True),
        (2**53, 2**53),
        (2**53 + 1, "9007199254740993"),
        (-(2**63), "-9223372036854775808"),
        (0.1, 0.1),
        (float("nan"), "NaN"),
        (float("-inf"), "-Infinity"),
        (Decimal("12.50"), 12.5),
        (Decimal("3"), 3),
        (Decimal("0.1"), "0.1"),
        (Decimal("123456789012345678901"), "123456789012345678901"),
        (dt.datetime(2026, 3, 1, 12, 30, tzinfo=dt.UTC), "2026-03-01T12:30:00+00:00"),
        (dt.date(2026, 3, 1), "2026-03-01"),
        (uuid.UUID("12345678123456781234567812345678"), "12345678-1234-5678-1234-567812345678"),
        (["a", "b"], ["a", "b"]),
        ([], "[]"),
        ([1, 2.5], "[1,2.5]"),
        ({"a": {"b": [1, None]}, "when": dt.date(2026, 1, 2)}, '{"a":{"b":[1,null]},"when":"2026-01-02"}'),
        (dt.time(9, 5, 1, 250), "09:05:01.000250"),
        ({"big": 2**60, "x": float("nan"), "t": ("é", True)}, '{"big":"1152921504606846976","x":"NaN","t":["é",true]}'),
        (collections.OrderedDict(b=1, a=[]), '{"b":1,"a":[]}'),
        (("a", "b"), ["a", "b"]),
    ],
)
def test_native_values_convert_by_the_documented_rules(native: object, contract: object) -> None:
    converted = metadata_value(native)
    assert converted == contract
    assert type(converted) is type(contract)


def test_a_value_without_a_lossless_form_is_not_converted() -> None:
    with pytest.raises(NotConvertibleError, match="bytes"):
        metadata_value(b"\x00\x01")


def test_metadata_from_leaves_nulls_out_and_counts_what_it_cannot_read() -> None:
    layout = Layout()
    metadata = layout.metadata_from({"a": 1, "gone": None, "bad-key": "x", "blob": b"\x00", "_vbx": 1})
    assert metadata == {"a": 1}
    lines = layout.drops.lines()
    assert len(lines) == 3
    assert any("'bad-key'" in line for line in lines)
    assert any("'blob'" in line and "bytes" in line for line in lines)


def test_native_ids_become_strings_losslessly() -> None:
    assert native_id(42) == "42"
    assert native_id(2**64 - 1) == "18446744073709551615"
    assert native_id(uuid.UUID(int=1)) == "00000000-0000-0000-0000-000000000001"
    assert native_id("kb-1") == "kb-1"
    with pytest.raises(NotConvertibleError):
        native_id(1.5)


async def test_a_backend_without_native_layouts_refuses_a_declared_layout() -> None:
    async with vb.connect("memory://") as store:
        with pytest.raises(vb.UnsupportedFeatureError, match="native layout"):
            await store.collection("document_embeddings", layout={"document": "content"}).count()
        with pytest.raises(vb.CollectionNotFoundError):
            await store.collection("Document_Embeddings").count()
        assert await store.list_collections(native=True) == []


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, "null"),
        (True, "bool"),
        (3, "int"),
        (2**60, "bigint"),
        (1.5, "float"),
        ("a", "str"),
        ({"a": 1}, "object"),
        ([1, "a", 2], "list[int|str]"),
        ([], "list[empty]"),
    ],
)
def test_sampled_types_name_what_the_conversion_rules_will_do(value: object, shown: str) -> None:
    from vecbridge.layout import converted_types, sampled_type

    assert sampled_type(value) == shown
    assert converted_types({shown}) is (shown in ("bigint", "object", "list[int|str]", "list[empty]"))

"""``vecbridge info``: every collection, native ones marked with their layout, fields and problems.

Run in-process against the fake store of native tables (tests/native_tables.py), so the core's
side of discovery is pinned whatever the real adapters do; their end-to-end tests live with them.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterator
from typing import Any

import native_tables
import pytest
from click.testing import CliRunner
from native_tables import TABLES, NativeTable, document_embeddings

import vecbridge as vb
from vecbridge.cli import main


@pytest.fixture
def url() -> Iterator[str]:
    """A fresh fake store holding one vecbridge collection and no native table yet."""
    native_tables.register()
    name = f"info{secrets.token_hex(4)}"

    async def make() -> None:
        async with vb.connect(f"native-tables://{name}") as store:
            docs = await store.create_collection("docs", dimension=2, metric="dot", embedding_model="m")
            await docs.upsert([vb.Record("a", [1.0, 0.0])])

    asyncio.run(make())
    yield f"native-tables://{name}"
    TABLES.pop(name, None)


def tables(url: str) -> dict[str, NativeTable]:
    return TABLES.setdefault(url.removeprefix("native-tables://"), {})


def info_json(url: str) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["info", url, "--json"])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.output)
    return data


def by_name(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in data["collections"]}


def test_info_json_lists_vecbridge_collections_unmarked(url: str) -> None:
    docs = by_name(info_json(url))["docs"]
    assert docs == {
        "name": "docs",
        "native": False,
        "preset": None,
        "dimension": 2,
        "metric": "dot",
        "index": "hnsw",
        "embedding_model": "m",
        "namespaces": ["default"],
        "records": 1,
        "layout": None,
        "fields": [],
        "unfit": [],
        "problem": None,
    }


def test_info_json_marks_a_native_table_with_its_facts_fields_and_roles(url: str) -> None:
    table = document_embeddings(rows=5, dimension=4)
    del table.columns["tenant_id"], table.columns["source_type"]  # one text column: inferable
    tables(url)["Document_Embeddings"] = table
    entry = by_name(info_json(url))["Document_Embeddings"]
    assert entry["native"] is True
    assert entry["preset"] == "native"
    assert (entry["dimension"], entry["metric"], entry["records"], entry["namespaces"]) == (4, "cosine", 5, ["default"])
    roles = {field["name"]: (field["type"], field["role"]) for field in entry["fields"]}
    assert roles == {
        "id": ("serial", "id"),
        "content": ("text", "document"),
        "embedding": ("vector(4)", "vector"),
        "metadata": ("jsonb", "metadata keys"),
        "created_at": ("timestamptz", "metadata"),
    }
    notes = {field["name"]: field["note"] for field in entry["fields"]}
    assert notes["created_at"] == "converted: ISO-8601 string"
    assert entry["layout"]["document"] == "content"
    assert entry["unfit"] == [] and entry["problem"] is None


def test_a_metric_nothing_declares_is_unknown(url: str) -> None:
    table = document_embeddings(rows=2, metric=None)
    del table.columns["tenant_id"], table.columns["source_type"]
    tables(url)["plain"] = table
    entry = by_name(info_json(url))["plain"]
    assert entry["metric"] == "unknown"
    assert entry["layout"]["metric"] is None


def test_unfit_fields_are_named(url: str) -> None:
    table = document_embeddings(rows=2)
    del table.columns["tenant_id"], table.columns["source_type"]
    table.columns["thumbnail"] = "bytea"
    tables(url)["with_blob"] = table
    entry = by_name(info_json(url))["with_blob"]
    assert entry["unfit"] == [
        {"name": "thumbnail", "type": "bytea", "role": "unfit", "note": "bytea has no lossless contract form"}
    ]


def test_an_ambiguous_table_is_listed_with_its_candidates_and_the_option_to_pass(url: str) -> None:
    tables(url)["document_embeddings"] = document_embeddings(rows=3)
    entry = by_name(info_json(url))["document_embeddings"]
    assert entry["native"] is True
    assert entry["records"] == 3  # how many rows there are does not depend on which column is the document
    problem = entry["problem"]
    assert problem["role"] == "document"
    assert problem["candidates"] == ["tenant_id", "content", "source_type"]
    assert '--from-layout \'{"document": "tenant_id"}\'' in problem["message"]


def test_info_tables_show_native_fields_and_problems(url: str) -> None:
    tables(url)["document_embeddings"] = document_embeddings(rows=3)
    blob = document_embeddings(rows=2)
    del blob.columns["tenant_id"], blob.columns["source_type"]
    blob.columns["thumbnail"] = "bytea"
    tables(url)["with_blob"] = blob
    result = CliRunner().invoke(main, ["info", url], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    out = result.output
    assert "document_embeddings: native fields" in out
    assert "layout not inferred" in out and "candidates for 'document'" in out
    assert "does not fit: thumbnail (bytea)" in out
    assert "layout: preset native, id=id, vector=embedding, document=content" in out


def test_info_help_documents_the_json_keys() -> None:
    result = CliRunner().invoke(main, ["info", "--help"])
    for key in ("native", "preset", "dimension", "metric", "records", "layout", "fields", "unfit", "problem"):
        assert key in result.output


def test_a_table_whose_layout_does_not_resolve_is_listed_with_the_message(url: str) -> None:
    table = document_embeddings(rows=2)
    del table.columns["tenant_id"], table.columns["source_type"]
    table.columns["key"] = table.columns.pop("id")  # no id column: nothing to infer the id from
    tables(url)["no_id"] = table
    entry = by_name(info_json(url))["no_id"]
    assert entry["native"] is True and entry["records"] is None
    assert entry["problem"] == {"message": "table 'no_id' has no column 'id'", "role": None, "candidates": []}
    assert by_name(info_json(url))["docs"]["records"] == 1  # the others are listed as usual


def test_field_types_print_as_text_not_as_markup(capsys: pytest.CaptureFixture[str]) -> None:
    from vecbridge.cli import _print_collections

    field = {"name": "tags", "type": "list[str]", "role": "metadata", "note": "[kept] as is"}
    entry = {
        "name": "docs[1]", "native": True, "preset": None, "dimension": 4, "metric": "cosine", "index": "hnsw",
        "embedding_model": None, "namespaces": ["default"], "records": 1, "fields": [field], "unfit": [],
        "problem": None, "layout": vb.Layout(metric=vb.Metric.COSINE).to_dict(),
    }  # fmt: skip
    _print_collections("memory://", [entry])
    printed = capsys.readouterr().out
    assert "list[str]" in printed and "[kept] as is" in printed and "docs[1]" in printed

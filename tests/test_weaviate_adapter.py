"""Weaviate adapter pieces that need no server: URLs, scores, names, errors, discovery."""

from __future__ import annotations

import math
import re
from types import SimpleNamespace
from typing import Any

import httpx
import numpy as np
import pytest
from vecbridge_weaviate import WeaviateAdapter
from vecbridge_weaviate.adapter import distance_to_score
from vecbridge_weaviate.schema import (
    class_name,
    collection_name,
    facts_description,
    facts_from_description,
    key_properties,
    object_uuid,
)
from weaviate.classes.config import DataType
from weaviate.exceptions import UnexpectedStatusCodeError, WeaviateQueryError

import vecbridge as vb
from vecbridge.errors import (
    BackendError,
    CollectionNotFoundError,
    InvalidRecordError,
    InvalidURLError,
    TransientBackendError,
    UnsupportedFilterError,
)
from vecbridge.filters import NODE_TYPES, MatchAll
from vecbridge.registry import adapter_for
from vecbridge.types import HNSW, CollectionSpec, Metric, Record
from vecbridge.url import URL


def test_scheme_is_registered_by_entry_point() -> None:
    assert adapter_for("weaviate") is WeaviateAdapter


def test_local_url_options_reach_the_client() -> None:
    client = WeaviateAdapter.client_for(URL.parse("weaviate://db.example:8081?grpc_port=50052&grpc_host=g.example"))
    params = client._connection._connection_params
    assert (params.http.host, params.http.port, params.http.secure) == ("db.example", 8081, False)
    assert (params.grpc.host, params.grpc.port) == ("g.example", 50052)


def test_default_ports() -> None:
    params = WeaviateAdapter.client_for(URL.parse("weaviate://localhost"))._connection._connection_params
    assert (params.http.port, params.grpc.port) == (8080, 50051)


def test_cloud_url_reads_the_api_key_from_the_named_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_WCD_KEY", "secret")
    client = WeaviateAdapter.client_for(
        URL.parse("weaviate+cloud://abc.c0.europe-west3.gcp.weaviate.cloud?api_key_env=MY_WCD_KEY")
    )
    params = client._connection._connection_params
    assert params.http.secure and params.http.host == "abc.c0.europe-west3.gcp.weaviate.cloud"


@pytest.mark.parametrize(
    "url",
    [
        "weaviate://localhost?nope=1",
        "weaviate://localhost?grpc_port=abc",
        "weaviate://localhost?secure=maybe",
        "weaviate+cloud://abc.weaviate.cloud",
        "weaviate+cloud://abc.weaviate.cloud?api_key_env=VB_SURELY_UNSET_VARIABLE",
        "weaviate+grpc://localhost",
        "weaviate://",
    ],
)
def test_bad_urls_are_rejected_before_connecting(url: str) -> None:
    with pytest.raises(InvalidURLError):
        WeaviateAdapter.client_for(URL.parse(url))


async def test_connecting_to_nothing_is_a_clean_backend_error() -> None:
    with pytest.raises(BackendError, match="cannot connect"):
        async with vb.connect("weaviate://127.0.0.1:1?grpc_port=2"):
            pass


@pytest.mark.parametrize(
    ("metric", "distance", "score"),
    [
        (Metric.COSINE, 0.0, 1.0),
        (Metric.COSINE, 0.25, 0.75),
        (Metric.COSINE, 2.0, -1.0),
        (Metric.DOT, -3.5, 3.5),
        (Metric.DOT, 2.0, -2.0),
        (Metric.EUCLIDEAN, 9.0, -3.0),
        (Metric.EUCLIDEAN, 0.0, 0.0),
        (Metric.EUCLIDEAN, -1e-7, 0.0),  # rounding below zero is still distance 0
    ],
)
def test_distances_become_vecbridge_scores(metric: Metric, distance: float, score: float) -> None:
    assert math.isclose(distance_to_score(metric, distance), score, abs_tol=1e-12)


def test_collection_names_map_to_class_names_and_back() -> None:
    for name in ("docs", "vbt_1a2b3c4d", "a_b_c"):
        assert class_name(name)[0].isupper()
        assert collection_name(class_name(name)) == name


def test_facts_round_trip_through_the_class_description() -> None:
    spec = CollectionSpec("docs", 384, Metric.DOT, HNSW(8, 64), "all-MiniLM-L6-v2")
    facts = facts_from_description(facts_description(spec.to_dict()))
    assert facts is not None and CollectionSpec.from_dict(facts) == spec
    assert facts_from_description("a collection someone else made") is None
    assert facts_from_description('{"other": 1}') is None


def test_same_id_in_two_namespaces_is_two_objects() -> None:
    assert object_uuid("a", "kb-1") != object_uuid("b", "kb-1")
    assert object_uuid("a", "kb-1") == object_uuid("a", "kb-1")


def test_every_filter_operator_is_supported() -> None:
    every = {node.operator for node in NODE_TYPES if node is not MatchAll}
    assert WeaviateAdapter.supported_filter_operators() >= every
    assert not issubclass(UnsupportedFilterError, BackendError)


def test_error_mapping() -> None:
    adapter = WeaviateAdapter.__new__(WeaviateAdapter)
    missing = WeaviateQueryError("could not find class Docs in schema", "GRPC search")
    assert isinstance(adapter.map_error(missing, "query"), CollectionNotFoundError)

    busy = UnexpectedStatusCodeError("busy", httpx.Response(503, json={"error": "unavailable"}))
    mapped = adapter.map_error(busy, "count")
    assert isinstance(mapped, TransientBackendError) and mapped.orig is busy


class _SchemaOnly:
    """Stands in for ``client.collections`` with a fixed property list (the schema-reading logic only)."""

    def __init__(self, properties: list[tuple[str, DataType]]) -> None:
        self.properties = [SimpleNamespace(name=name, data_type=data_type) for name, data_type in properties]

    async def exists(self, name: str) -> bool:
        return True

    def use(self, name: str) -> Any:
        properties = self.properties

        class Config:
            async def get(self) -> Any:
                return SimpleNamespace(properties=properties)

        return SimpleNamespace(config=Config())


def _adapter_with_schema(properties: list[tuple[str, DataType]]) -> WeaviateAdapter:
    adapter = WeaviateAdapter.__new__(WeaviateAdapter)
    adapter.client = SimpleNamespace(collections=_SchemaOnly(properties))  # type: ignore[assignment]
    adapter._keys = {}
    return adapter


async def test_a_key_is_known_once_all_four_typed_properties_exist() -> None:
    complete = [(p.name, p.dataType) for p in key_properties("year")]
    partial = [(p.name, p.dataType) for p in key_properties("color")][:2]
    adapter = _adapter_with_schema([("_vb_id", DataType.TEXT), *complete, *partial])
    assert await adapter._read_keys("docs") == {"year"}


async def test_a_typed_property_of_another_type_is_an_invalid_record_error() -> None:
    conflicting = [(p.name, DataType.INT if p.name == "n_year" else p.dataType) for p in key_properties("year")]
    adapter = _adapter_with_schema(conflicting)
    with pytest.raises(InvalidRecordError, match="n_year") as caught:
        await adapter._read_keys("docs")
    assert caught.value.field == "year"


def test_weaviate_declares_no_record_limits_and_any_contract_key_makes_valid_property_names() -> None:
    """Weaviate holds every contract record whole: no text length limit, and the typed properties of any
    metadata key (at most 64 characters of ``[A-Za-z0-9_]``) follow Weaviate's property-name rule
    ``[_A-Za-z][_0-9A-Za-z]{0,230}`` and never hit a reserved name (id, _id, _additional, meta, vector).
    The adapter's own InvalidRecordError is a schema conflict found by reading the server (a typed
    property edited outside vecbridge), not a limit of the record, so ``check_storable`` passes every
    record of vecbridge's own classes (it checks only classes in a native layout)."""
    spec = CollectionSpec(name="vbt_limits", dimension=1, metric=Metric.COSINE, index=HNSW())
    long = Record(
        id="x" * 10_000, vector=np.ones(1, dtype=np.float32), metadata={"k": "v" * 100_000}, document="d" * 10**6
    )
    WeaviateAdapter.check_storable(None, spec, long)  # type: ignore[arg-type]
    rule = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,230}")
    for key in ("k" * 64, "_" + "9" * 63, "id", "_id", "meta", "vector", "_additional"):
        for prop in key_properties(key):
            assert rule.fullmatch(prop.name), prop.name
            assert prop.name not in {"id", "_id", "_additional", "meta", "vector"}

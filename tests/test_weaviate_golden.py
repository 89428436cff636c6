"""Golden tests of everything the Weaviate adapter sends, as the weaviate-client itself serializes it.

No Weaviate server runs here. A real ``WeaviateAsyncClient`` is built for an unreachable address and
its connection's send methods (``grpc_search``, ``grpc_aggregate``, ``grpc_batch_objects``,
``grpc_batch_delete``, REST ``post``) are replaced by a recorder that keeps the request the client
built and stops there. The real adapter methods are driven through that client, so each golden
file is the exact protobuf message / REST body the client would put on the wire for that call
(protobuf via ``google.protobuf.json_format``, with the client's set-ordered property list sorted).

Golden files live in ``tests/golden/weaviate/``. After an intended change, regenerate them with
``VECBRIDGE_UPDATE_GOLDEN=1 pytest tests/test_weaviate_golden.py`` and review the diff; otherwise
any difference in the compiler's output fails the test.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import weaviate
from google.protobuf import json_format
from google.protobuf.message import Message
from vecbridge_conformance.filters_tests import DATASET, DELETE_FILTERS, FILTERS, OPERATOR_EXAMPLES
from vecbridge_weaviate import WeaviateAdapter
from vecbridge_weaviate.adapter import CompiledFilter, scoped
from vecbridge_weaviate.filters import WeaviateFilterCompiler
from vecbridge_weaviate.schema import class_name, collection_payload, key_properties, property_payload
from weaviate.collections.filters import _FilterToGRPC
from weaviate.util import _ServerVersion

from vecbridge.filters import parse_filter
from vecbridge.types import HNSW, IVF, CollectionSpec, Flat, Metric, Record

GOLDEN = Path(__file__).parent / "golden" / "weaviate"
UPDATE = os.environ.get("VECBRIDGE_UPDATE_GOLDEN") == "1"
#: The server version the recorded client believes it talks to (some request fields depend on it).
SERVER_VERSION = (1, 33, 0)
NAMESPACE = "default"
DATASET_KEYS = sorted({key for metadata in DATASET for key in metadata})

#: Cases beyond the conformance suite's: negation of every operator, escapes, unknown keys.
EXTRA_FILTERS: dict[str, dict[str, Any]] = {
    "not_eq_number": {"$not": {"n": 1}},
    "not_eq_bool": {"$not": {"flag": False}},
    "not_eq_list": {"$not": {"tags": "a"}},
    "not_gt": {"$not": {"n": {"$gt": 1}}},
    "not_gte": {"$not": {"n": {"$gte": 1}}},
    "not_lt": {"$not": {"n": {"$lt": 1}}},
    "not_lte": {"$not": {"n": {"$lte": 1.5}}},
    "not_in": {"$not": {"color": {"$in": ["red", 1, True]}}},
    "not_nin": {"$not": {"tags": {"$nin": ["a", "b"]}}},
    "not_exists_false": {"$not": {"color": {"$exists": False}}},
    "not_and": {"$not": {"$and": [{"color": "red"}, {"n": {"$lt": 2}}]}},
    "not_not_or": {"$not": {"$not": {"$or": [{"color": "red"}, {"flag": True}]}}},
    "eq_leading_space": {"color": " red"},
    "eq_trailing_newline": {"color": "red\n"},
    "eq_escape_char": {"color": "\x01red"},
    "in_unknown_and_known": {"$or": [{"absent_field": 1}, {"color": "red"}]},
    "and_with_unknown_is_nothing": {"$and": [{"absent_field": 1}, {"color": "red"}]},
    "not_unknown_is_everything": {"$not": {"absent_field": {"$gt": 1}}},
    "eq_float_fraction": {"n": -0.5},
    "eq_unicode": {"color": "naïve ü 東京"},
}


def _all_filter_cases() -> dict[str, dict[str, Any]]:
    cases = {f"conformance_{name}": value for name, value in FILTERS.items()}
    cases.update({f"operator_{op.lstrip('$')}": value for op, value in OPERATOR_EXAMPLES.items()})
    cases.update({f"extra_{name}": value for name, value in EXTRA_FILTERS.items()})
    return cases


FILTER_CASES = _all_filter_cases()


def _normalize(data: Any) -> Any:
    """The client builds the returned-property list from a set: sort it for a stable file."""
    if isinstance(data, dict):
        return {
            key: sorted(value) if key == "nonRefProperties" and isinstance(value, list) else _normalize(value)
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [_normalize(item) for item in data]
    return data


def message_json(message: Message) -> Any:
    return _normalize(json_format.MessageToDict(message))


def check_golden(name: str, data: Any) -> None:
    path = GOLDEN / f"{name}.json"
    text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"no golden file {path}; run with VECBRIDGE_UPDATE_GOLDEN=1 and review it"
    expected = path.read_text(encoding="utf-8")
    if expected != text:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), text.splitlines(True), str(path), "now"))
        pytest.fail(f"the adapter now sends something else for {name}:\n{diff}")


# --- the recording client -----------------------------------------------------------------------


class Sent(Exception):
    """Raised by the recorder once the client has built its request."""

    def __init__(self, method: str, payload: Any) -> None:
        super().__init__(method)
        self.method = method
        self.payload = payload


def recording_adapter() -> WeaviateAdapter:
    client = weaviate.use_async_with_custom(
        http_host="127.0.0.1", http_port=9, http_secure=False, grpc_host="127.0.0.1", grpc_port=10, grpc_secure=False
    )
    connection: Any = client._connection
    connection._weaviate_version = _ServerVersion(*SERVER_VERSION)

    def recorder(method: str) -> Callable[..., Coroutine[Any, Any, None]]:
        async def send(*args: Any, **kwargs: Any) -> None:
            request = kwargs.get("request", args[0] if args else None)
            if method == "post":
                request = {"path": kwargs.get("path"), "body": kwargs.get("weaviate_object")}
            raise Sent(method, request)

        return send

    for method in ("grpc_search", "grpc_aggregate", "grpc_batch_objects", "grpc_batch_delete", "post"):
        setattr(connection, method, recorder(method))
    adapter = WeaviateAdapter(client)
    return adapter


def spec_for(metric: Metric = Metric.COSINE) -> CollectionSpec:
    return CollectionSpec(name="vbt_golden", dimension=3, metric=metric, index=HNSW(), embedding_model="m")


async def capture(adapter: WeaviateAdapter, call: Coroutine[Any, Any, Any]) -> Sent:
    try:
        await call
    except Exception as exc:
        sent = exc.__cause__ if isinstance(exc.__cause__, Sent) else exc
        if isinstance(sent, Sent):
            return sent
        raise
    raise AssertionError("the adapter sent nothing")


@pytest.fixture
def adapter() -> WeaviateAdapter:
    recorded = recording_adapter()
    known = set(DATASET_KEYS)  # the schema after the dataset's upsert: its keys, and no other

    async def read_keys(name: str) -> set[str]:
        recorded._keys[class_name(name)] = known
        return known

    recorded._keys[class_name(spec_for().name)] = known
    recorded._read_keys = read_keys  # type: ignore[method-assign]
    return recorded


def compiled(adapter: WeaviateAdapter, filter_: dict[str, Any]) -> CompiledFilter | None:
    node = parse_filter(filter_)
    if not filter_:
        return None
    result = adapter.compile_filter(node, spec_for())
    assert isinstance(result, CompiledFilter)
    return result


# --- filters ------------------------------------------------------------------------------------


def test_every_conformance_filter_has_a_case() -> None:
    assert set(DELETE_FILTERS) <= set(FILTERS)
    assert all(f"conformance_{name}" in FILTER_CASES for name in FILTERS)


@pytest.mark.parametrize("case", sorted(FILTER_CASES))
async def test_filter_as_sent_in_a_count(adapter: WeaviateAdapter, case: str) -> None:
    """The gRPC ``Filters`` message of a count (the same filter object goes into query and delete)."""
    filter_ = FILTER_CASES[case]
    lowered = WeaviateFilterCompiler(DATASET_KEYS).compile(parse_filter(filter_))
    if lowered is False:
        answer = await adapter.count(spec_for(), NAMESPACE, compiled(adapter, filter_))
        assert answer == 0
        check_golden(f"filters/{case}", {"filter": filter_, "sent": "nothing: no record can match"})
        return
    sent = await capture(adapter, adapter.count(spec_for(), NAMESPACE, compiled(adapter, filter_)))
    assert sent.method == "grpc_aggregate"
    assert sent.payload.filters == _FilterToGRPC.convert(scoped(NAMESPACE, lowered))
    check_golden(f"filters/{case}", {"filter": filter_, "sent": message_json(sent.payload.filters)})


def test_golden_directory_has_no_stale_filter_files() -> None:
    present = {path.stem for path in (GOLDEN / "filters").glob("*.json")}
    assert present == set(FILTER_CASES)


# --- queries, reads, deletes, writes ------------------------------------------------------------


@pytest.mark.parametrize("include_vectors", [False, True])
async def test_query_request(adapter: WeaviateAdapter, include_vectors: bool) -> None:
    vector = np.array([0.5, -1.0, 2.0], dtype=np.float32)
    call = adapter.query(spec_for(), "tenant-1", vector, 7, compiled(adapter, {"color": "red"}), include_vectors)
    sent = await capture(adapter, call)
    assert sent.method == "grpc_search"
    check_golden(f"requests/query_include_vectors_{str(include_vectors).lower()}", message_json(sent.payload))


async def test_query_without_filter_still_scoped_to_namespace(adapter: WeaviateAdapter) -> None:
    sent = await capture(adapter, adapter.query(spec_for(), "ns", np.ones(3, dtype=np.float32), 3, None, False))
    check_golden("requests/query_no_filter", message_json(sent.payload))


async def test_get_request(adapter: WeaviateAdapter) -> None:
    sent = await capture(adapter, adapter.get(spec_for(), "ns", ["kb-1", "a b", "ü"], True))
    assert sent.method == "grpc_search"
    check_golden("requests/get", message_json(sent.payload))


@pytest.mark.parametrize("cursor", [None, "3f1a2b3c-0000-5000-8000-000000000000"])
async def test_scan_request(adapter: WeaviateAdapter, cursor: str | None) -> None:
    sent = await capture(adapter, adapter.scan(spec_for(), "ns", cursor, 100, None, False))
    assert sent.method == "grpc_search"
    assert sent.payload.HasField("filters") is False  # Weaviate's `after` cursor cannot carry a filter
    check_golden(f"requests/scan_{'start' if cursor is None else 'resume'}", message_json(sent.payload))


async def test_delete_by_ids_request(adapter: WeaviateAdapter) -> None:
    sent = await capture(adapter, adapter.delete_ids(spec_for(), "ns", ["kb-1", "kb-2"]))
    assert sent.method == "grpc_batch_delete"
    check_golden("requests/delete_ids", message_json(sent.payload))


async def test_delete_by_filter_request(adapter: WeaviateAdapter) -> None:
    sent = await capture(adapter, adapter.delete_where(spec_for(), "ns", compiled(adapter, {"n": {"$gte": 2}})))
    assert sent.method == "grpc_batch_delete"
    check_golden("requests/delete_where", message_json(sent.payload))


async def test_delete_all_of_namespace_request(adapter: WeaviateAdapter) -> None:
    sent = await capture(adapter, adapter.delete_where(spec_for(), "ns", None))
    check_golden("requests/delete_namespace", message_json(sent.payload))


async def test_count_request(adapter: WeaviateAdapter) -> None:
    sent = await capture(adapter, adapter.count(spec_for(), "ns", None))
    assert sent.method == "grpc_aggregate"
    check_golden("requests/count", message_json(sent.payload))


async def test_upsert_request(adapter: WeaviateAdapter) -> None:
    records = [
        Record(id="kb-1", vector=np.array([1, 0, 0], dtype=np.float32), metadata=DATASET[0], document="Hello"),
        Record(id="a b ' \"", vector=np.array([0, 1, 0], dtype=np.float32), metadata=DATASET[8]),
        Record(id="empty", vector=np.array([0, 0, 1], dtype=np.float32), metadata={}),
    ]
    sent = await capture(adapter, adapter.upsert(spec_for(), "ns", records))
    assert sent.method == "grpc_batch_objects"
    check_golden("requests/upsert", message_json(sent.payload))


# --- schema (REST) ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metric", "index"),
    [(Metric.COSINE, HNSW()), (Metric.DOT, HNSW(m=32, ef_construction=200)), (Metric.EUCLIDEAN, Flat())],
)
async def test_create_collection_payload(metric: Metric, index: HNSW | Flat) -> None:
    spec = CollectionSpec(name="vbt_golden", dimension=3, metric=metric, index=index, embedding_model="m")
    payload = collection_payload(spec.to_dict(), metric, index)
    adapter = recording_adapter()
    sent = await capture(adapter, adapter.client.collections.create_from_dict(payload))
    assert sent.method == "post"
    assert sent.payload == {"path": "/schema", "body": payload}
    check_golden(f"schema/create_{metric.value}_{index.kind}", sent.payload)


def test_ivf_is_created_as_hnsw() -> None:
    payload = collection_payload(spec_for().to_dict(), Metric.COSINE, IVF())
    assert payload["vectorConfig"]["default"]["vectorIndexType"] == "hnsw"


def test_metadata_key_properties_payload() -> None:
    check_golden("schema/key_properties", [property_payload(prop) for prop in key_properties("year")])

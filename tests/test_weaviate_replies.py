"""The adapter reads the client's own parsing of Weaviate replies correctly.

The connection's gRPC send methods of a real ``WeaviateAsyncClient`` return reply protobufs built
here (the shape the server sends), so the client's own reply parsing produces the result objects
the adapter consumes. This checks the adapter's reading of results (ids, metadata, scores,
vectors, cursors, counts, the delete loop), not the server: the replies are hand-built.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import weaviate
from vecbridge_weaviate import WeaviateAdapter
from vecbridge_weaviate.adapter import CompiledFilter
from vecbridge_weaviate.schema import class_name
from weaviate.proto.v1 import aggregate_pb2, base_pb2, batch_delete_pb2, batch_pb2, properties_pb2, search_get_pb2
from weaviate.util import _ServerVersion

from vecbridge.errors import BackendError
from vecbridge.filters import parse_filter
from vecbridge.types import HNSW, CollectionSpec, Metric

SPEC = CollectionSpec(name="vbt_replies", dimension=3, metric=Metric.EUCLIDEAN, index=HNSW())


def _result(record_id: str, namespace: str, metadata: dict[str, Any], distance: float) -> search_get_pb2.SearchResult:
    props = properties_pb2.Properties(
        fields={
            "_vb_id": properties_pb2.Value(text_value=record_id),
            "_vb_ns": properties_pb2.Value(text_value=namespace),
            "_vb_rec": properties_pb2.Value(text_value=json.dumps({"m": metadata, "d": None})),
        }
    )
    vector = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    return search_get_pb2.SearchResult(
        properties=search_get_pb2.PropertiesResult(non_ref_props=props, target_collection=class_name(SPEC.name)),
        metadata=search_get_pb2.MetadataResult(
            id=str(uuid.uuid5(uuid.NAMESPACE_URL, record_id)),
            id_as_bytes=uuid.uuid5(uuid.NAMESPACE_URL, record_id).bytes,
            distance=distance,
            distance_present=True,
            vectors=[
                base_pb2.Vectors(
                    name="default", vector_bytes=vector.tobytes(), type=base_pb2.Vectors.VECTOR_TYPE_SINGLE_FP32
                )
            ],
        ),
    )


def replying_adapter(**replies: Callable[[Any], Any]) -> WeaviateAdapter:
    client = weaviate.use_async_with_custom(
        http_host="127.0.0.1", http_port=9, http_secure=False, grpc_host="127.0.0.1", grpc_port=10, grpc_secure=False
    )
    connection: Any = client._connection
    connection._weaviate_version = _ServerVersion(1, 33, 0)
    for method, reply in replies.items():

        def bind(reply: Callable[[Any], Any]) -> Callable[..., Any]:
            async def send(*args: Any, **kwargs: Any) -> Any:
                return reply(kwargs.get("request", args[0] if args else None))

            return send

        setattr(connection, method, bind(reply))
    adapter = WeaviateAdapter(client)
    known = {"color", "n"}

    async def read_keys(name: str) -> set[str]:  # the schema read is REST; these tests cover gRPC replies
        adapter._keys[class_name(name)] = known
        return known

    adapter._keys[class_name(SPEC.name)] = known
    adapter._read_keys = read_keys  # type: ignore[method-assign]
    return adapter


async def test_query_reads_ids_metadata_and_scores() -> None:
    reply = search_get_pb2.SearchReply(
        results=[_result("kb 1", "ns", {"color": "red", "n": 1}, 4.0), _result("ü", "ns", {"n": 2.0}, 9.0)]
    )
    adapter = replying_adapter(grpc_search=lambda request: reply)
    matches = await adapter.query(SPEC, "ns", np.ones(3, dtype=np.float32), 2, None, False)
    assert [(m.id, m.score, m.metadata) for m in matches] == [
        ("kb 1", -2.0, {"color": "red", "n": 1}),
        ("ü", -3.0, {"n": 2.0}),
    ]
    assert isinstance(matches[1].metadata["n"], float) and matches[0].vector is None


async def test_scan_cursor_is_the_last_uuid_read_and_other_namespaces_are_dropped() -> None:
    results = [_result(f"r{i}", "ns" if i % 2 else "other", {"n": i}, 0.0) for i in range(4)]
    adapter = replying_adapter(grpc_search=lambda request: search_get_pb2.SearchReply(results=results))
    page = await adapter.scan(SPEC, "ns", None, 4, None, False)
    assert [r.id for r in page.records] == ["r1", "r3"]
    assert page.cursor == results[-1].metadata.id
    short = await adapter.scan(SPEC, "ns", page.cursor, 5, None, False)
    assert short.cursor is None  # fewer objects than asked: the class is exhausted


async def test_filtered_scan_uses_the_reference_evaluator() -> None:
    results = [_result(f"r{i}", "ns", {"n": i}, 0.0) for i in range(5)]
    adapter = replying_adapter(grpc_search=lambda request: search_get_pb2.SearchReply(results=results))
    page = await adapter.scan(SPEC, "ns", None, 10, CompiledFilter(parse_filter({"n": {"$gte": 3}})), False)
    assert [r.id for r in page.records] == ["r3", "r4"]


async def test_count_reads_the_aggregate_total() -> None:
    reply = aggregate_pb2.AggregateReply(single_result=aggregate_pb2.AggregateReply.Single(objects_count=42))
    adapter = replying_adapter(grpc_aggregate=lambda request: reply)
    assert await adapter.count(SPEC, "ns", None) == 42


async def test_delete_by_filter_repeats_until_nothing_matches() -> None:
    matches = [10_000, 10_000, 3, 0]
    calls: list[int] = []

    def reply(request: Any) -> batch_delete_pb2.BatchDeleteReply:
        left = matches[len(calls)]
        calls.append(left)
        return batch_delete_pb2.BatchDeleteReply(matches=left, successful=left, failed=0)

    adapter = replying_adapter(grpc_batch_delete=reply)
    await adapter.delete_where(SPEC, "ns", CompiledFilter(parse_filter({"n": 1})))
    assert calls == matches


async def test_failed_deletes_raise() -> None:
    reply = batch_delete_pb2.BatchDeleteReply(matches=2, successful=1, failed=1)
    adapter = replying_adapter(grpc_batch_delete=lambda request: reply)
    with pytest.raises(BackendError, match="could not be deleted"):
        await adapter.delete_ids(SPEC, "ns", ["a", "b"])


async def test_a_rejected_object_fails_the_upsert() -> None:
    from vecbridge.types import Record

    reply = batch_pb2.BatchObjectsReply(errors=[batch_pb2.BatchObjectsReply.BatchError(index=1, error="bad value")])
    # the connection method itself turns the reply into {index: error}
    adapter = replying_adapter(grpc_batch_objects=lambda request: {e.index: e.error for e in reply.errors})
    records = [Record(id=f"r{i}", vector=np.ones(3, dtype=np.float32), metadata={"n": i}) for i in range(2)]
    with pytest.raises(BackendError, match="bad value"):
        await adapter.upsert(SPEC, "ns", records)


async def test_query_returns_the_named_vector_when_asked() -> None:
    reply = search_get_pb2.SearchReply(results=[_result("a", "ns", {}, 0.0)])
    adapter = replying_adapter(grpc_search=lambda request: reply)
    (match,) = await adapter.query(SPEC, "ns", np.ones(3, dtype=np.float32), 1, None, True)
    assert match.vector is not None and match.vector.tolist() == [1.0, 2.0, 3.0]
    (record,) = await adapter.get(SPEC, "ns", ["a"], True)
    assert record.vector.tolist() == [1.0, 2.0, 3.0]


async def test_namespaces_come_from_the_grouped_aggregate() -> None:
    group = aggregate_pb2.AggregateReply.Group
    reply = aggregate_pb2.AggregateReply(
        grouped_results=aggregate_pb2.AggregateReply.Grouped(
            groups=[
                group(objects_count=3, grouped_by=group.GroupedBy(path=["_vb_ns"], text="default")),
                group(objects_count=1, grouped_by=group.GroupedBy(path=["_vb_ns"], text="tenant.42")),
            ]
        )
    )
    requests: list[Any] = []
    adapter = replying_adapter(grpc_aggregate=lambda request: requests.append(request) or reply)
    assert sorted(await adapter.list_namespaces(SPEC)) == ["default", "tenant.42"]
    assert requests[0].group_by.property == "_vb_ns"

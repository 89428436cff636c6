"""Weaviate classes vecbridge did not create, at the wire (no Weaviate server runs here).

A real ``WeaviateAsyncClient`` talks to :class:`Wire`: its REST requests go to an httpx
``MockTransport`` answering ``GET /v1/schema`` with class JSON shaped like Weaviate's own replies, and
its gRPC send methods get reply protobufs built here, so the client's own request builders and reply
parsers run on both sides. Every request the adapter sends is recorded: reads must send no write.

The objects are what the frameworks write: langchain-weaviate 0.0.8 ``WeaviateVectorStore``,
llama-index-vector-stores-weaviate 1.7.1 ``WeaviateVectorStore`` and weaviate-haystack 8.0.0
``WeaviateDocumentStore`` run on a synchronous client on the same wire (their batch requests are stored
as Weaviate would store them, auto-schema typing ints as ``number``), and their pure builders (``get_data_object``, weaviate-haystack 8.0.0
``WeaviateDocumentStore._to_data_object`` with uuid ``generate_uuid5(id)``) make objects directly. What
vecbridge reads is compared with what the frameworks' own readers return (``similarity_search``,
``query``, ``to_node``, ``_to_document``), and what vecbridge writes through a preset is read back by them.
"""

from __future__ import annotations

import datetime as dt
import json
import struct
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import pytest
import weaviate
from google.protobuf import json_format
from haystack import Document
from haystack_integrations.document_stores.weaviate import WeaviateDocumentStore
from haystack_integrations.document_stores.weaviate.document_store import DOCUMENT_COLLECTION_PROPERTIES
from langchain_core.embeddings import Embeddings
from langchain_weaviate import WeaviateVectorStore as LangChainWeaviate
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores.types import VectorStoreQuery
from llama_index.vector_stores.weaviate import WeaviateVectorStore as LlamaWeaviate
from llama_index.vector_stores.weaviate.utils import get_data_object, to_node
from vecbridge_weaviate import WeaviateAdapter
from weaviate.connect.base import ConnectionParams
from weaviate.proto.v1 import (
    aggregate_pb2,
    base_pb2,
    batch_delete_pb2,
    batch_pb2,
    properties_pb2,
    search_get_pb2,
    tenants_pb2,
)
from weaviate.util import _ServerVersion, generate_uuid5

import vecbridge as vb
from vecbridge.filters import parse_filter
from vecbridge.layout import FieldRole
from vecbridge.types import DEFAULT_NAMESPACE

DIMENSION = 3
HNSW_CONFIG = {
    "skip": False,
    "cleanupIntervalSeconds": 300,
    "maxConnections": 32,
    "efConstruction": 128,
    "ef": -1,
    "dynamicEfMin": 100,
    "dynamicEfMax": 500,
    "dynamicEfFactor": 8,
    "vectorCacheMaxObjects": 1000000000000,
    "flatSearchCutoff": 40000,
    "distance": "cosine",
    "pq": {
        "enabled": False,
        "bitCompression": False,
        "segments": 0,
        "centroids": 256,
        "trainingLimit": 100000,
        "encoder": {"type": "kmeans", "distribution": "log-normal"},
    },
    "bq": {"enabled": False},
    "sq": {"enabled": False, "trainingLimit": 100000, "rescoreLimit": 20},
    "filterStrategy": "sweeping",
    "multivector": {"enabled": False, "aggregation": "maxSim"},
}
WRITES = ("grpc_batch_objects", "grpc_batch_delete", "POST", "PUT", "PATCH", "DELETE")


def prop(name: str, kind: str, tokenization: str | None = None, **extra: Any) -> dict[str, Any]:
    """A property as ``GET /v1/schema`` returns it (auto-schema text gets word tokenization)."""
    if tokenization is None and kind in ("text", "text[]"):
        tokenization = "word"
    found: dict[str, Any] = {
        "dataType": [kind],
        "indexFilterable": True,
        "indexRangeFilters": False,
        "indexSearchable": kind in ("text", "text[]"),
        "name": name,
        **extra,
    }
    if tokenization is not None:
        found["tokenization"] = tokenization
    return found


def class_json(
    name: str,
    properties: list[dict[str, Any]],
    *,
    multi_tenant: bool = False,
    named: dict[str, str] | None = None,
    distance: str = "cosine",
) -> dict[str, Any]:
    """A class as ``GET /v1/schema/{class}`` returns it (Weaviate 1.33): the default vector, or named ones."""
    schema: dict[str, Any] = {
        "class": name,
        "invertedIndexConfig": {
            "bm25": {"b": 0.75, "k1": 1.2},
            "cleanupIntervalSeconds": 60,
            "stopwords": {"additions": None, "preset": "en", "removals": None},
        },
        "multiTenancyConfig": {"autoTenantActivation": False, "autoTenantCreation": False, "enabled": multi_tenant},
        "properties": properties,
        "replicationConfig": {"asyncEnabled": False, "deletionStrategy": "NoAutomatedResolution", "factor": 1},
    }
    if not multi_tenant:
        schema["shardingConfig"] = {
            "actualCount": 1,
            "actualVirtualCount": 128,
            "desiredCount": 1,
            "desiredVirtualCount": 128,
            "function": "murmur3",
            "key": "_id",
            "strategy": "hash",
            "virtualPerPhysical": 128,
        }
    if named:
        schema["vectorConfig"] = {
            vector: {
                "vectorizer": {"none": {}},
                "vectorIndexConfig": {**HNSW_CONFIG, "distance": kind},
                "vectorIndexType": "hnsw",
            }
            for vector, kind in named.items()
        }
    else:
        schema.update(
            vectorIndexConfig={**HNSW_CONFIG, "distance": distance}, vectorIndexType="hnsw", vectorizer="none"
        )
    return schema


def value(item: Any, kind: str) -> properties_pb2.Value:
    """A property value as Weaviate's gRPC reply holds it for a property of data type ``kind``."""
    if item is None:
        return properties_pb2.Value(null_value=0)
    if kind == "date":
        return properties_pb2.Value(date_value=item)
    if kind == "uuid":
        return properties_pb2.Value(uuid_value=str(item))
    if kind == "int":
        return properties_pb2.Value(int_value=int(item))
    if kind == "number":
        return properties_pb2.Value(number_value=float(item))
    if kind == "boolean":
        return properties_pb2.Value(bool_value=item)
    if kind in ("text", "blob"):
        return properties_pb2.Value(text_value=item)
    if kind == "text[]":
        return properties_pb2.Value(
            list_value=properties_pb2.ListValue(text_values=properties_pb2.TextValues(values=item))
        )
    if kind == "number[]":
        packed = struct.pack(f"<{len(item)}d", *item)
        return properties_pb2.Value(
            list_value=properties_pb2.ListValue(number_values=properties_pb2.NumberValues(values=packed))
        )
    if kind == "int[]":
        packed = struct.pack(f"<{len(item)}q", *item)
        return properties_pb2.Value(
            list_value=properties_pb2.ListValue(int_values=properties_pb2.IntValues(values=packed))
        )
    if kind == "object":
        fields = {k: value(v, "text" if isinstance(v, str) else "number") for k, v in item.items()}
        return properties_pb2.Value(object_value=properties_pb2.Properties(fields=fields))
    raise AssertionError(f"no reply form for {kind}")


class Obj:
    """One stored object: uuid, properties (typed by the class schema), vector."""

    def __init__(self, object_id: str, properties: dict[str, Any], vector: list[float], tenant: str = "") -> None:
        self.uuid, self.properties, self.vector, self.tenant = object_id, properties, vector, tenant


class Wire:
    """What the adapter's client talks to: schema JSON over REST, objects over gRPC; every request recorded."""

    def __init__(self, classes: list[dict[str, Any]], objects: dict[str, list[Obj]], tenants: list[str] = ()) -> None:  # type: ignore[assignment]
        self.classes = {c["class"]: c for c in classes}
        self.objects = objects
        self.tenants = list(tenants)
        self.sent: list[tuple[str, Any]] = []
        self.searches: list[search_get_pb2.SearchRequest] = []
        self.posted: list[dict[str, Any]] = []

    def rest(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((request.method, request.url.path))
        path = request.url.path
        if request.method == "GET" and path == "/v1/schema":
            return httpx.Response(200, json={"classes": list(self.classes.values())})
        if request.method == "GET" and path.startswith("/v1/schema/"):
            name = path.split("/")[3]
            if name in self.classes:
                return httpx.Response(200, json=self.classes[name])
            return httpx.Response(404, json={"error": [{"message": f"class {name} not found"}]})
        if request.method == "POST" and path == "/v1/schema":  # Weaviate fills in the defaults
            posted = json.loads(request.content)
            properties = [prop(p["name"], p["dataType"][0]) for p in posted["properties"]]
            distance = posted.get("vectorIndexConfig", {}).get("distance", "cosine")
            created = class_json(posted["class"], properties, distance=distance)
            self.classes[posted["class"]] = created
            self.posted.append(posted)
            return httpx.Response(200, json=created)
        return httpx.Response(404, json={})

    def kinds(self, name: str) -> dict[str, str]:
        return {p["name"]: p["dataType"][0] for p in self.classes[name]["properties"]}

    def search(self, request: search_get_pb2.SearchRequest) -> search_get_pb2.SearchReply:
        self.sent.append(("grpc_search", request))
        self.searches.append(request)
        kinds = self.kinds(request.collection)
        chosen = [o for o in self.objects.get(request.collection, []) if o.tenant == request.tenant]
        if request.filters.target.property == "_id":  # a get by uuids; other filters are checked as sent
            chosen = [o for o in chosen if o.uuid in request.filters.value_text_array.values]
        query = None
        if request.HasField("near_vector"):
            query = np.frombuffer(request.near_vector.vector_bytes, dtype=np.float32)
            if not len(query) and request.near_vector.vectors:
                query = np.frombuffer(request.near_vector.vectors[0].vector_bytes, dtype=np.float32)

        def distance(obj: Obj) -> float:
            v = np.asarray(obj.vector, dtype=np.float64)
            q = np.asarray(query, dtype=np.float64)
            return float(1.0 - v @ q / (np.linalg.norm(v) * np.linalg.norm(q)))

        if query is not None:
            chosen.sort(key=distance)
        else:  # object listing: uuid order, resumed ``after`` a uuid
            chosen = sorted((o for o in chosen if o.uuid > request.after), key=lambda o: o.uuid)
        results = []
        for obj in chosen[: request.limit or None]:
            fields = {k: value(v, kinds[k]) for k, v in obj.properties.items() if k in kinds}
            vector = np.asarray(obj.vector, dtype=np.float32)
            named = list(self.classes[request.collection].get("vectorConfig") or ["default"])
            results.append(
                search_get_pb2.SearchResult(
                    properties=search_get_pb2.PropertiesResult(
                        non_ref_props=properties_pb2.Properties(fields=fields), target_collection=request.collection
                    ),
                    metadata=search_get_pb2.MetadataResult(
                        id=obj.uuid,
                        id_as_bytes=uuid.UUID(obj.uuid).bytes,
                        distance=distance(obj) if query is not None else 0.0,
                        distance_present=query is not None,
                        vectors=[
                            base_pb2.Vectors(
                                name=named[0],
                                vector_bytes=vector.tobytes(),
                                type=base_pb2.Vectors.VECTOR_TYPE_SINGLE_FP32,
                            )
                        ],
                    ),
                )
            )
        return search_get_pb2.SearchReply(results=results)

    def aggregate(self, request: aggregate_pb2.AggregateRequest) -> aggregate_pb2.AggregateReply:
        self.sent.append(("grpc_aggregate", request))
        count = len([o for o in self.objects.get(request.collection, []) if o.tenant == request.tenant])
        return aggregate_pb2.AggregateReply(single_result=aggregate_pb2.AggregateReply.Single(objects_count=count))

    def tenants_get(self, request: tenants_pb2.TenantsGetRequest) -> tenants_pb2.TenantsGetReply:
        self.sent.append(("grpc_tenants_get", request))
        return tenants_pb2.TenantsGetReply(
            tenants=[
                tenants_pb2.Tenant(name=name, activity_status=tenants_pb2.TENANT_ACTIVITY_STATUS_HOT)
                for name in self.tenants
            ]
        )

    def batch_objects(self, request: batch_pb2.BatchObjectsRequest) -> dict[int, str]:
        """Store the objects as sent (a batch replaces an object of the same uuid); a property the class
        does not have is added as Weaviate's auto-schema types it (ints as number)."""
        self.sent.append(("grpc_batch_objects", request))
        for item in request.objects:
            properties = json_format.MessageToDict(item.properties.non_ref_properties)
            properties.update({p.prop_name: list(p.values) for p in item.properties.text_array_properties})
            raw = item.vector_bytes or (item.vectors[0].vector_bytes if item.vectors else b"")
            schema = self.classes[item.collection]["properties"]
            known = {p["name"] for p in schema}
            for key, found in properties.items():
                if key not in known:
                    kind = {str: "text", bool: "boolean", list: "text[]"}.get(type(found), "number")
                    schema.append(prop(key, kind))
            kept = [o for o in self.objects.get(item.collection, []) if (o.uuid, o.tenant) != (item.uuid, item.tenant)]
            vector = np.frombuffer(raw, dtype=np.float32).tolist()
            self.objects[item.collection] = [*kept, Obj(item.uuid, properties, vector, item.tenant)]
        return {}

    def batch_delete(self, request: Any) -> batch_delete_pb2.BatchDeleteReply:
        self.sent.append(("grpc_batch_delete", request))
        return batch_delete_pb2.BatchDeleteReply(matches=0, successful=0, failed=0)

    def writes(self) -> list[tuple[str, Any]]:
        return [s for s in self.sent if s[0] in WRITES]

    def client(self) -> weaviate.WeaviateAsyncClient:
        client = weaviate.use_async_with_custom(
            http_host="127.0.0.1",
            http_port=9,
            http_secure=False,
            grpc_host="127.0.0.1",
            grpc_port=10,
            grpc_secure=False,
        )
        connection: Any = client._connection
        connection._weaviate_version = _ServerVersion(1, 33, 0)
        connection._client = httpx.AsyncClient(transport=httpx.MockTransport(self.rest))
        connection.is_connected = lambda: True

        def answering(handler: Callable[[Any], Any]) -> Callable[..., Any]:
            async def send(*args: Any, **kwargs: Any) -> Any:
                return handler(kwargs.get("request", args[0] if args else None))

            return send

        for method, handler in self.handlers().items():
            setattr(connection, method, answering(handler))
        return client

    def handlers(self) -> dict[str, Callable[[Any], Any]]:
        """The connection's gRPC send methods, answered here."""
        return {
            "grpc_search": self.search,
            "grpc_aggregate": self.aggregate,
            "grpc_tenants_get": self.tenants_get,
            "grpc_batch_objects": self.batch_objects,
            "grpc_batch_delete": self.batch_delete,
        }

    def store(self) -> vb.Store:
        """A store whose adapter runs on this wire (what ``vb.connect("weaviate://...")`` opens)."""
        store = vb.Store("weaviate://127.0.0.1:9")
        store._adapter = WeaviateAdapter(self.client())
        return store


# --- data --------------------------------------------------------------------------------------------------

RNG = np.random.default_rng(3)


def vectors(count: int) -> list[list[float]]:
    return [[float(x) for x in row] for row in RNG.normal(size=(count, DIMENSION)).astype(np.float32)]


PLAIN_PROPS = [
    prop("title", "text"),
    prop("body", "text"),
    prop("category", "text", tokenization="field"),
    prop("tags", "text[]", tokenization="field"),
    prop("year", "int"),
    prop("price", "number"),
    prop("public", "boolean"),
    prop("published", "date"),
    prop("scores", "number[]"),
    prop("ranks", "int[]"),
    prop("info", "object", nestedProperties=[prop("a", "text")]),
    prop("location", "geoCoordinates"),
    {"dataType": ["Author"], "name": "writtenBy", "indexFilterable": True, "indexSearchable": False},
]
PLAIN_VALUES = [
    {
        "title": "First",
        "body": "the body",
        "category": "news",
        "tags": ["a", "b"],
        "year": 2021,
        "price": 9.5,
        "public": True,
        "published": "2026-01-05T12:00:00Z",
        "scores": [0.5, 1.0],
        "ranks": [3, 1],
        "info": {"a": "x"},
    },
    {"title": "Second", "category": "sport", "tags": [], "year": 2024, "price": 3.0, "public": False},
]


def plain_wire(multi_tenant: bool = False) -> Wire:
    values = vectors(3)
    tenant = "tenant-a" if multi_tenant else ""
    objects = [Obj(str(uuid.UUID(int=n + 1)), props, values[n], tenant) for n, props in enumerate(PLAIN_VALUES)]
    classes = [class_json("Article", PLAIN_PROPS, multi_tenant=multi_tenant)]
    return Wire(classes, {"Article": objects}, tenants=["tenant-a"] if multi_tenant else [])


# --- plain classes -----------------------------------------------------------------------------------------


async def test_a_plain_class_is_listed_with_its_fields_typed_by_data_type() -> None:
    wire = plain_wire()
    store = wire.store()
    (spec,) = await store.list_collections(native=True)
    assert spec.layout is not None
    assert (spec.name, spec.dimension, spec.metric, spec.layout.preset) == ("Article", 3, vb.Metric.COSINE, "native")
    assert (spec.layout.id, spec.layout.vector, spec.layout.document, spec.layout.namespace) == ("", "", "body", None)
    roles = {f.name: (f.role, f.note) for f in spec.layout.fields}
    assert roles["title"] == (FieldRole.METADATA, "")
    assert roles["published"] == (FieldRole.METADATA, "converted: ISO-8601 string")
    assert roles["scores"][1] == roles["info"][1] == "converted: JSON text"
    assert roles["location"][0] is roles["writtenBy"][0] is FieldRole.UNFIT
    assert not wire.writes()


async def test_objects_read_by_data_type_and_the_document_from_its_property() -> None:
    wire = plain_wire()
    store = wire.store()
    collection = store.collection("Article")
    first_id, second_id = str(uuid.UUID(int=1)), str(uuid.UUID(int=2))
    records = {r.id: r for r in await collection.get([first_id, second_id, "not-a-uuid"], include_vector=True)}
    first = records[first_id]
    assert first.document == "the body"
    assert first.metadata == {
        "title": "First",
        "category": "news",
        "tags": ["a", "b"],
        "year": 2021,
        "price": 9.5,
        "public": True,
        "published": "2026-01-05T12:00:00+00:00",
        "scores": "[0.5,1.0]",
        "ranks": "[3,1]",
        "info": '{"a":"x"}',
    }
    assert records[second_id].document is None
    assert "tags" not in records[second_id].metadata  # Weaviate counts [] as null: absent
    np.testing.assert_allclose(first.vector, wire.objects["Article"][0].vector, rtol=1e-6)
    assert await collection.count() == 2
    scanned = [r.id async for page in collection.scan(page_size=10) for r in page.records]
    assert sorted(scanned) == [first_id, second_id]
    assert await store.collection("Article", namespace="other").count() == 0
    assert not wire.writes()


async def test_a_query_sends_the_compiled_filter_and_reads_scores_in_the_one_convention() -> None:
    wire = plain_wire()
    collection = wire.store().collection("Article")
    query = np.asarray([0.3, -0.2, 1.0], dtype=np.float32)
    matches = await collection.query(query, top_k=2, filter={"category": "news", "year": {"$gt": 2020.5}})
    request = wire.searches[-1]
    assert request.collection == "Article" and request.limit == 2
    sent = json.dumps(json_format.MessageToDict(request.filters))
    assert '"category"' in sent and '"news"' in sent and '"year"' in sent and '"valueInt": "2020"' in sent
    expected = {
        o.uuid: float(np.dot(o.vector, query) / (np.linalg.norm(o.vector) * np.linalg.norm(query)))
        for o in wire.objects["Article"]
    }
    assert [m.score for m in matches] == pytest.approx([expected[m.id] for m in matches], abs=1e-6)
    assert not wire.writes()


@pytest.mark.parametrize(
    ("filter_", "reason"),
    [
        ({"title": "First"}, "Equal compares words"),
        ({"published": "2026"}, "converted on read"),
        ({"body": "x"}, "document"),
        ({"year": {"$exists": True}}, "IsNull"),
        ({"$not": {"year": {"$gt": 1}}}, "not \\$gt"),
    ],
)
async def test_filters_weaviate_cannot_answer_exactly_are_refused_before_any_request(
    filter_: dict[str, Any], reason: str
) -> None:
    wire = plain_wire()
    collection = wire.store().collection("Article")
    await collection.count()
    sent = len(wire.sent)
    with pytest.raises(vb.UnsupportedFilterError, match=reason):
        await collection.query([1.0, 0.0, 0.0], top_k=2, filter=filter_)
    assert len(wire.sent) == sent


async def test_values_of_another_type_than_the_property_fold_to_constants() -> None:
    wire = plain_wire()
    store = wire.store()
    spec = await store.collection("Article").spec()
    native = store.adapter.native  # type: ignore[attr-defined]
    assert native.compile_filter(parse_filter({"year": "2021"}), spec).lowered is False
    assert native.compile_filter(parse_filter({"year": {"$ne": 1.5}}), spec).lowered is True
    assert native.compile_filter(parse_filter({"absent": 1}), spec).lowered is False
    assert await store.collection("Article").count({"public": 1}) == 0  # a bool is never a number
    assert not [s for s in wire.sent if s[0] == "grpc_aggregate" and s[1].HasField("filters")]


async def test_a_multi_tenant_class_has_its_tenants_as_namespaces() -> None:
    wire = plain_wire(multi_tenant=True)
    store = wire.store()
    spec = await store.collection("Article").spec()
    assert spec.layout is not None and spec.layout.namespace == ""
    assert await store.list_namespaces("Article") == ["tenant-a"]
    tenant = store.collection("Article", namespace="tenant-a")
    assert len([r async for page in tenant.scan() for r in page.records]) == 2
    assert wire.searches[-1].tenant == "tenant-a"
    assert await store.collection("Article", namespace=DEFAULT_NAMESPACE).count() == 0
    assert not wire.writes()


async def test_named_vectors_are_picked_or_listed() -> None:
    one = Wire([class_json("Named", [prop("text", "text")], named={"text_vec": "dot"})], {"Named": []})
    spec = await one.store().collection("Named").spec()
    assert spec.layout is not None and (spec.layout.vector, spec.metric) == ("text_vec", vb.Metric.DOT)
    two = Wire([class_json("Two", [prop("text", "text")], named={"a": "cosine", "b": "cosine"})], {"Two": []})
    with pytest.raises(vb.LayoutError, match="candidates for 'vector' are a, b"):
        await two.store().collection("Two").spec()
    spec = await two.store().collection("Two", layout={"vector": "b"}).spec()
    assert spec.layout is not None and spec.layout.vector == "b"


async def test_reading_never_writes_through_every_read() -> None:
    wire = plain_wire()
    store = wire.store()
    await store.list_collections(native=True)
    collection = store.collection("Article")
    await collection.get([str(uuid.UUID(int=1))])
    await collection.query([1.0, 0.0, 0.0], top_k=2, filter={"category": {"$in": ["news", "sport"]}})
    await collection.count({"price": {"$lt": 5}})
    _ = [page async for page in collection.scan(page_size=1, filter={"public": True})]
    await store.describe_collection("Article")
    assert wire.sent and not wire.writes()
    assert {method for method, _ in wire.sent} <= {"GET", "grpc_search", "grpc_aggregate", "grpc_tenants_get"}


async def test_writes_need_opting_in_and_send_properties_by_their_types() -> None:
    wire = plain_wire()
    store = wire.store()
    record = vb.Record(
        id=str(uuid.UUID(int=9)),
        vector=[1.0, 2.0, 3.0],
        metadata={"year": 2030.0, "price": 4, "scores": "[1.5]", "category": "news"},
        document="a body",
    )
    with pytest.raises(vb.VecbridgeError, match="writable"):
        await store.collection("Article").upsert([record])
    writable = store.collection("Article", writable=True)
    with pytest.raises(vb.InvalidRecordError, match="UUID"):
        await writable.upsert([vb.Record(id="kb-1", vector=[1.0, 0, 0])])
    with pytest.raises(vb.InvalidRecordError, match="int property"):
        await writable.upsert([vb.Record(id=str(uuid.UUID(int=8)), vector=[1.0, 0, 0], metadata={"year": 1.5})])
    assert not wire.writes()
    await writable.upsert([record])
    (_, request) = wire.writes()[-1]
    (sent,) = request if isinstance(request, list) else request.objects
    assert sent.uuid == record.id
    text = str(sent)
    assert "a body" in text and "2030" in text and "news" in text


# --- framework layouts -------------------------------------------------------------------------------------


async def test_langchain_objects_read_as_langchain_reads_them() -> None:
    values = vectors(2)
    # langchain-weaviate add_texts: {text_key: text, **metadata}, datetimes as isoformat(); auto-schema types
    # the int as number and the ISO string as date
    written = [
        {"text": "hello world", "source": "a.txt", "page": 1, "when": dt.datetime(2026, 1, 5, 12).isoformat()},
        {"text": "second doc", "source": "b.txt"},
    ]
    properties = [prop("text", "text"), prop("source", "text"), prop("page", "number"), prop("when", "date")]
    objects = [
        Obj(str(uuid.uuid4()), {**p, "when": p.get("when") and p["when"] + "Z"}, values[n])
        for n, p in enumerate(written)
    ]
    wire = Wire([class_json("LangChain_0a1b", properties)], {"LangChain_0a1b": objects})
    collection = wire.store().collection("LangChain_0a1b")
    spec = await collection.spec()
    assert spec.layout is not None and (spec.layout.preset, spec.layout.document) == ("langchain", "text")
    got = {r.id: (r.document, r.metadata) for r in await collection.get([o.uuid for o in objects])}
    assert got[objects[0].uuid] == (
        "hello world",
        {"source": "a.txt", "page": 1.0, "when": "2026-01-05T12:00:00+00:00"},
    )
    assert got[objects[1].uuid] == ("second doc", {"source": "b.txt"})
    integers = wire.store().collection("LangChain_0a1b", layout={"integers": ["page"]})
    assert (await integers.get([objects[0].uuid]))[0].metadata["page"] == 1


def _llama_nodes() -> list[TextNode]:
    return [
        TextNode(
            id_=str(uuid.UUID(int=100 + n)),
            text=text,
            metadata={"topic": topic},
            embedding=vectors(1)[0],
            relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id="doc-1")},
        )
        for n, (text, topic) in enumerate([("alpha text", "a"), ("beta text", "b")])
    ]


async def test_llamaindex_objects_read_as_llamaindex_reads_them_and_back() -> None:
    nodes = _llama_nodes()
    data = [get_data_object(node) for node in nodes]  # the package's own object for each node
    kinds = {"topic": "text", "text": "text"} | {k: "text" for k in data[0].properties if k not in ("topic", "text")}
    properties = [prop(name, kind) for name, kind in kinds.items()]
    objects = [Obj(str(d.uuid), dict(d.properties), list(d.vector)) for d in data]
    wire = Wire([class_json("LlamaIndex_9f", properties)], {"LlamaIndex_9f": objects})
    store = wire.store()
    collection = store.collection("LlamaIndex_9f")
    spec = await collection.spec()
    assert spec.layout is not None and spec.layout.preset == "llamaindex"
    records = {r.id: r for r in await collection.get([o.uuid for o in objects], include_vector=True)}
    for node in nodes:
        record = records[node.node_id]
        assert (record.document, record.metadata["topic"], record.metadata["ref_doc_id"]) == (
            node.text,
            "a" if node.text.startswith("alpha") else "b",
            "doc-1",
        )
        # LlamaIndex's own reader, on the properties vecbridge would write back for this record
        writable = store.collection("LlamaIndex_9f", writable=True)
        written = store.adapter.native.properties(await writable.spec(), record)  # type: ignore[attr-defined]
        rebuilt = to_node({"properties": dict(written), "metadata": type("M", (), {})(), "vector": {}})
        assert (rebuilt.node_id, rebuilt.get_content(), rebuilt.metadata) == (node.node_id, node.text, node.metadata)


async def test_haystack_objects_read_with_their_original_ids_as_haystack_reads_them() -> None:
    documents = [
        Document(id="doc-a", content="first content", meta={"file": "a.pdf", "page": 3}, embedding=vectors(1)[0]),
        Document(id="doc-b", content="second content", meta={"file": "b.pdf"}, embedding=vectors(1)[0]),
    ]
    # weaviate-haystack: properties = _to_data_object(document), uuid = generate_uuid5(document.id)
    data = [WeaviateDocumentStore._to_data_object(doc) for doc in documents]
    properties = [
        prop("_original_id", "text"),
        prop("content", "text"),
        prop("blob_data", "blob"),
        prop("blob_mime_type", "text"),
        prop("score", "number"),
        prop("file", "text"),
        prop("page", "number"),
    ]
    objects = [
        Obj(str(generate_uuid5(doc.id)), {k: v for k, v in d.items() if v is not None}, list(doc.embedding or []))
        for doc, d in zip(documents, data, strict=True)
    ]
    wire = Wire([class_json("Default", properties)], {"Default": objects})
    store = wire.store()
    collection = store.collection("Default")
    spec = await collection.spec()
    assert spec.layout is not None and (spec.layout.preset, spec.layout.id, spec.layout.document) == (
        "haystack",
        "_original_id",
        "content",
    )
    roles = {f.name: f.role for f in spec.layout.fields}
    assert roles["score"] is roles["blob_mime_type"] is FieldRole.IGNORED and roles["blob_data"] is FieldRole.IGNORED
    got = {r.id: (r.document, r.metadata) for r in await collection.get(["doc-a", "doc-b", "doc-c"])}
    # Haystack's own reader of the same reply (the client's parsed objects)
    reply = await store.adapter.client.collections.use("Default").query.fetch_objects(limit=10)  # type: ignore[attr-defined]
    theirs = {d.id: (d.content, d.meta) for d in (WeaviateDocumentStore._to_document(o) for o in reply.objects)}
    assert (
        got
        == theirs
        == {"doc-a": ("first content", {"file": "a.pdf", "page": 3.0}), "doc-b": ("second content", {"file": "b.pdf"})}
    )
    request = next(r for r in wire.searches if r.HasField("filters"))
    assert str(generate_uuid5("doc-a")) in str(request.filters)  # get by the same uuid Haystack writes


async def test_a_class_created_in_a_preset_shape_is_what_the_framework_creates() -> None:
    wire = Wire([], {})
    store = wire.store()
    created = await store.create_collection("Default", DIMENSION, "dot", layout="haystack")
    assert wire.posted == [
        {
            "class": "Default",
            "properties": [
                {"name": "_original_id", "dataType": ["text"]},
                {"name": "content", "dataType": ["text"]},
                {"name": "blob_data", "dataType": ["blob"]},
                {"name": "blob_mime_type", "dataType": ["text"]},
                {"name": "score", "dataType": ["number"]},
            ],
            "vectorizer": "none",
            "vectorIndexConfig": {"distance": "dot"},
        }
    ]
    spec = await created.spec()
    assert spec.layout is not None and (spec.dimension, spec.metric, spec.layout.id) == (
        3,
        vb.Metric.DOT,
        "_original_id",
    )
    await created.upsert([vb.Record(id="doc-1", vector=[1.0, 0.0, 0.0], metadata={"file": "a.pdf"}, document="hi")])
    (_, request) = wire.writes()[-1]
    (sent,) = request if isinstance(request, list) else request.objects
    assert sent.uuid == str(generate_uuid5("doc-1"))  # where weaviate-haystack looks for Document "doc-1"
    with pytest.raises(vb.CollectionExistsError):
        await store.create_collection("Default", DIMENSION, "dot", layout="haystack")


# --- the frameworks' own stores on the wire, both ways ------------------------------------------------


def sync_client(wire: Wire) -> weaviate.WeaviateClient:
    """A synchronous ``WeaviateClient`` (what langchain-weaviate and llama-index-vector-stores-weaviate
    take) on the same wire."""
    params = ConnectionParams.from_params(
        http_host="127.0.0.1", http_port=9, http_secure=False, grpc_host="127.0.0.1", grpc_port=10, grpc_secure=False
    )
    client = weaviate.WeaviateClient(connection_params=params, skip_init_checks=True)
    connection: Any = client._connection
    connection._weaviate_version = _ServerVersion(1, 33, 0)
    connection._client = httpx.Client(transport=httpx.MockTransport(wire.rest))
    connection.is_connected = lambda: True
    for method, handler in wire.handlers().items():

        def answer(*args: Any, handler: Callable[[Any], Any] = handler, **kwargs: Any) -> Any:
            return handler(kwargs.get("request", args[0] if args else None))

        setattr(connection, method, answer)
    return client


class FixedEmbeddings(Embeddings):
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [[1.0, float(len(text)), 0.5] for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return [1.0, 0.0, 0.5]


def _langchain_reads(wire: Wire, name: str) -> list[tuple[str, dict[str, Any]]]:
    store = LangChainWeaviate(client=sync_client(wire), index_name=name, text_key="text", embedding=FixedEmbeddings())
    return sorted((d.page_content, d.metadata) for d in store.similarity_search("q", k=10))


async def test_langchain_weaviate_writes_vecbridge_reads_and_a_preset_copy_reads_the_same_in_langchain() -> None:
    wire = Wire([], {})
    writer = LangChainWeaviate(
        client=sync_client(wire), index_name="LangChain_src", text_key="text", embedding=FixedEmbeddings()
    )
    writer.add_texts(["hello world", "second doc"], metadatas=[{"source": "a.txt", "page": 1}, {"source": "b.txt"}])
    theirs = _langchain_reads(wire, "LangChain_src")
    assert theirs == [("hello world", {"page": 1.0, "source": "a.txt"}), ("second doc", {"source": "b.txt"})]
    store = wire.store()
    source = store.collection("LangChain_src")
    records = [r async for page in source.scan() for r in page.records]
    assert sorted((r.document, r.metadata) for r in records) == theirs
    copy = await store.create_collection("LangChain_copy", DIMENSION, "cosine", layout="langchain")
    await copy.upsert(records)
    assert _langchain_reads(wire, "LangChain_copy") == theirs


async def test_llamaindex_weaviate_writes_vecbridge_reads_and_a_preset_copy_rebuilds_the_nodes() -> None:
    wire = Wire([], {})
    nodes = _llama_nodes()
    LlamaWeaviate(weaviate_client=sync_client(wire), index_name="LlamaIndex_src").add(nodes)
    store = wire.store()
    source = store.collection("LlamaIndex_src")
    spec = await source.spec()
    assert spec.layout is not None and spec.layout.preset == "llamaindex"
    records = [r async for page in source.scan() for r in page.records]
    assert sorted((r.id, r.document) for r in records) == sorted((n.node_id, n.text) for n in nodes)
    copy = await store.create_collection("LlamaIndex_copy", DIMENSION, "cosine", layout="llamaindex")
    await copy.upsert(records)
    reader = LlamaWeaviate(weaviate_client=sync_client(wire), index_name="LlamaIndex_copy")
    found = reader.query(VectorStoreQuery(query_embedding=[1.0, 0.0, 0.5], similarity_top_k=10))
    assert sorted((n.node_id, n.get_content(), n.metadata["topic"]) for n in found.nodes or []) == sorted(
        (n.node_id, n.text, n.metadata["topic"]) for n in nodes
    )


def _haystack_store(wire: Wire, name: str, create: bool) -> WeaviateDocumentStore:
    """weaviate-haystack's store on the wire (its client handed in; the class created as its own
    ``client`` property creates it)."""
    settings = {
        "class": name,
        "invertedIndexConfig": {"indexNullState": True},
        "properties": DOCUMENT_COLLECTION_PROPERTIES,
    }
    store = WeaviateDocumentStore(collection_settings=settings)
    store._client = sync_client(wire)
    if create:
        store._client.collections.create_from_dict(store._collection_settings)
    return store


def _haystack_reads(store: WeaviateDocumentStore) -> list[tuple[str, str | None, dict[str, Any]]]:
    found = store._embedding_retrieval(query_embedding=[1.0, 0.0, 0.5], top_k=10)
    return sorted((d.id, d.content, d.meta) for d in found)


async def test_weaviate_haystack_writes_vecbridge_reads_and_a_preset_copy_reads_the_same_in_haystack() -> None:
    wire = Wire([], {})
    writer = _haystack_store(wire, "Default", create=True)
    documents = [
        Document(id="doc-a", content="first content", meta={"file": "a.pdf", "page": 3}, embedding=[1.0, 0.2, 0.1]),
        Document(id="doc-b", content="second content", meta={"file": "b.pdf"}, embedding=[0.3, 1.0, 0.1]),
    ]
    writer.write_documents(documents)
    theirs = _haystack_reads(writer)
    assert [(i, c) for i, c, _ in theirs] == [("doc-a", "first content"), ("doc-b", "second content")]
    store = wire.store()
    source = store.collection("Default")
    records = [r async for page in source.scan() for r in page.records]
    assert sorted((r.id, r.document, r.metadata) for r in records) == theirs
    copy = await store.create_collection("HaystackCopy", DIMENSION, "cosine", layout="haystack")
    await copy.upsert(records)
    assert _haystack_reads(_haystack_store(wire, "HaystackCopy", create=False)) == theirs

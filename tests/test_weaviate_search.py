"""Weaviate's ``ef`` as a collection's default search setting, at the wire: a real
``WeaviateAsyncClient`` on an httpx ``MockTransport`` holding the class JSON; what the adapter sends
is read from the recorded requests. (Weaviate itself cannot run here.)"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import weaviate
from vecbridge_weaviate import WeaviateAdapter
from vecbridge_weaviate.schema import collection_payload
from weaviate.util import _ServerVersion

import vecbridge as vb
from vecbridge.types import CollectionSpec

#: The HNSW settings and class defaults Weaviate 1.33 returns in ``GET /v1/schema/{class}``.
HNSW_CONFIG = {
    "skip": False, "cleanupIntervalSeconds": 300, "maxConnections": 16, "efConstruction": 128, "ef": -1,
    "dynamicEfMin": 100, "dynamicEfMax": 500, "dynamicEfFactor": 8, "vectorCacheMaxObjects": 1000000000000,
    "flatSearchCutoff": 40000, "distance": "cosine",
    "pq": {"enabled": False, "bitCompression": False, "segments": 0, "centroids": 256, "trainingLimit": 100000,
           "encoder": {"type": "kmeans", "distribution": "log-normal"}},
    "bq": {"enabled": False}, "sq": {"enabled": False, "trainingLimit": 100000, "rescoreLimit": 20},
    "filterStrategy": "sweeping", "multivector": {"enabled": False, "aggregation": "maxSim"},
}  # fmt: skip
SERVER_DEFAULTS = {
    "invertedIndexConfig": {"bm25": {"b": 0.75, "k1": 1.2}, "cleanupIntervalSeconds": 60,
                            "stopwords": {"additions": None, "preset": "en", "removals": None}},
    "multiTenancyConfig": {"autoTenantActivation": False, "autoTenantCreation": False, "enabled": False},
    "replicationConfig": {"asyncEnabled": False, "deletionStrategy": "NoAutomatedResolution", "factor": 1},
    "shardingConfig": {"actualCount": 1, "actualVirtualCount": 128, "desiredCount": 1, "desiredVirtualCount": 128,
                       "function": "murmur3", "key": "_id", "strategy": "hash", "virtualPerPhysical": 128},
}  # fmt: skip


class Schema:
    """``GET`` / ``PUT /v1/schema/{class}`` over one class, every ``PUT`` body kept."""

    def __init__(self, spec: CollectionSpec) -> None:
        created = collection_payload(spec.to_dict(), spec.metric, spec.index)
        vector = created["vectorConfig"]["default"]
        vector.update(vectorIndexType="hnsw", vectorIndexConfig={**HNSW_CONFIG, "distance": "cosine"})
        created.update(SERVER_DEFAULTS)  # what Weaviate adds to a created class
        self.classes = {created["class"]: created}
        self.puts: list[dict[str, Any]] = []

    def rest(self, request: httpx.Request) -> httpx.Response:
        name = request.url.path.split("/")[3] if request.url.path.startswith("/v1/schema/") else ""
        if request.method == "GET" and name in self.classes:
            return httpx.Response(200, json=self.classes[name])
        if request.method == "PUT" and name in self.classes:
            body = json.loads(request.content)
            self.puts.append(body)
            self.classes[name] = body
            return httpx.Response(200, json=body)
        return httpx.Response(404, json={"error": [{"message": "not found"}]})

    def store(self) -> vb.Store:
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
        store = vb.Store("weaviate://127.0.0.1:9")
        store._adapter = WeaviateAdapter(client)
        return store


async def test_a_default_ef_is_the_vector_index_ef_and_a_key_of_the_facts_and_none_restores_dynamic_ef() -> None:
    schema = Schema(CollectionSpec("docs", 8))
    store = schema.store()
    docs = store.collection("docs")
    await docs.set_search_defaults(vb.SearchParams(ef=96))
    (sent,) = schema.puts
    assert sent["vectorConfig"]["default"]["vectorIndexConfig"]["ef"] == 96
    assert json.loads(sent["description"])["vecbridge"]["search"] == {"ef": 96}
    assert (await store.collection("docs").spec()).search == vb.SearchParams(ef=96)
    await docs.set_search_defaults(None)
    assert schema.puts[1]["vectorConfig"]["default"]["vectorIndexConfig"]["ef"] == -1
    assert "search" not in json.loads(schema.puts[1]["description"])["vecbridge"]


async def test_no_query_takes_an_ef_and_other_knobs_are_refused_before_any_request() -> None:
    schema = Schema(CollectionSpec("docs", 8))
    docs = schema.store().collection("docs")
    with pytest.raises(vb.UnsupportedFeatureError, match="search_ef"):
        await docs.query([0.1] * 8, search=vb.SearchParams(ef=40))
    with pytest.raises(vb.UnsupportedFeatureError, match="search_exact"):
        await docs.set_search_defaults(vb.SearchParams(exact=True))
    assert schema.puts == []


async def test_a_flat_index_has_no_ef_to_set() -> None:
    schema = Schema(CollectionSpec("docs", 8, index=vb.Flat()))  # the facts say flat (the class JSON is HNSW's)
    with pytest.raises(vb.UnsupportedFeatureError, match="flat index"):
        await schema.store().collection("docs").set_search_defaults(vb.SearchParams(ef=64))
    assert schema.puts == []

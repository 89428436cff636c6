"""llama-index-vector-stores-vecbridge on every engine that runs here. LlamaIndex ships no store test suite, so this
one builds a ``VectorStoreIndex`` and checks filtered retrieval (AND, OR, NOT, nested) against exact answers: LlamaIndex's
own per-operator semantics (``build_metadata_filter_fn``, what its ``SimpleVectorStore`` does) combined by condition,
then cosine top-k with numpy. Nodes round-trip; what the store cannot do is refused before any request."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from llama_index.core import StorageContext, VectorStoreIndex
from llama_index.core.embeddings import BaseEmbedding
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)
from llama_index.core.vector_stores.utils import build_metadata_filter_fn
from llama_index.vector_stores.vecbridge import VecbridgeVectorStore

import vecbridge as vb

DIMENSION = 8
QUESTIONS = [f"question {i}" for i in range(2)]


class TableEmbedding(BaseEmbedding):
    """Known query vectors (nodes come with their embeddings), so exact answers can be computed."""

    table: dict[str, list[float]]

    def _get_query_embedding(self, query: str) -> list[float]:
        return self.table[query]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self.table[query]

    def _get_text_embedding(self, text: str) -> list[float]:
        raise AssertionError("nodes are embedded by the test")


def _nodes(count: int = 36) -> tuple[TableEmbedding, list[TextNode]]:
    rng = np.random.default_rng(61)
    categories = ["billing", "shipping", "returns"]
    nodes = []
    for i in range(count):
        metadata: dict[str, Any] = {"category": categories[i % 3], "year": 2020 + i % 7, "score": i / 4}
        if i % 4:
            metadata["tags"] = ["urgent"] if i % 5 == 0 else ["normal", "kb"]
        if i % 6 == 0:
            metadata["draft"] = ""
        if i % 9 == 0:
            metadata["reviewer"] = None  # kept in the node, not a filterable value
        node = TextNode(
            id_=f"node-{i}", text=f"text of node {i}", metadata=metadata, embedding=rng.normal(size=DIMENSION).tolist()
        )
        node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=f"doc-{i // 4}")
        nodes.append(node)
    table = {question: rng.normal(size=DIMENSION).tolist() for question in QUESTIONS}
    return TableEmbedding(table=table), nodes


def _leaf(operator: FilterOperator, key: str, value: Any) -> MetadataFilter:
    return MetadataFilter(key=key, operator=operator, value=value)


FILTERS: dict[str, MetadataFilters] = {
    "and": MetadataFilters(
        filters=[_leaf(FilterOperator.EQ, "category", "billing"), _leaf(FilterOperator.GTE, "year", 2023)]
    ),
    "or-nested-and": MetadataFilters(
        filters=[
            _leaf(FilterOperator.ANY, "tags", ["urgent"]),
            MetadataFilters(
                filters=[_leaf(FilterOperator.EQ, "category", "shipping"), _leaf(FilterOperator.LT, "year", 2022)]
            ),
        ],
        condition=FilterCondition.OR,
    ),
    "not": MetadataFilters(
        filters=[_leaf(FilterOperator.IN, "category", ["billing", "returns"])], condition=FilterCondition.NOT
    ),
    "not-nested-or": MetadataFilters(
        filters=[
            MetadataFilters(
                filters=[_leaf(FilterOperator.GT, "score", 6.0), _leaf(FilterOperator.CONTAINS, "tags", "kb")],
                condition=FilterCondition.OR,
            ),
            _leaf(FilterOperator.NE, "year", 2021),
        ],
        condition=FilterCondition.NOT,
    ),
    "nin-ne-lte": MetadataFilters(
        filters=[
            _leaf(FilterOperator.NIN, "category", ["shipping"]),
            _leaf(FilterOperator.NE, "year", 2024),
            _leaf(FilterOperator.LTE, "score", 7.5),
        ]
    ),
    "all-is-empty": MetadataFilters(
        filters=[
            MetadataFilters(
                filters=[
                    _leaf(FilterOperator.ALL, "tags", ["normal", "kb"]),
                    _leaf(FilterOperator.IS_EMPTY, "draft", None),
                ],
                condition=FilterCondition.OR,
            ),
            _leaf(FilterOperator.IS_EMPTY, "tags", None),
        ],
        condition=FilterCondition.OR,
    ),
}


def _matches(filters: MetadataFilters, metadata: dict[str, Any]) -> bool:
    """LlamaIndex's own leaf semantics, combined by condition (its SimpleVectorStore cannot nest)."""
    results = [
        _matches(part, metadata)
        if isinstance(part, MetadataFilters)
        else build_metadata_filter_fn(lambda _: metadata, MetadataFilters(filters=[part]))("node")
        for part in filters.filters
    ]
    if filters.condition == FilterCondition.OR:
        return any(results)
    if filters.condition == FilterCondition.NOT:
        return not any(results)
    return all(results)


def _exact_top(nodes: list[TextNode], query: list[float], filters: MetadataFilters | None, k: int) -> list[str]:
    vector = np.asarray(query)
    scored = []
    for node in nodes:
        if filters is None or _matches(filters, node.metadata):
            stored = np.asarray(node.embedding)
            scored.append((float(vector @ stored / np.linalg.norm(vector) / np.linalg.norm(stored)), node.node_id))
    scored.sort(reverse=True)
    return [node_id for _, node_id in scored[:k]]


@pytest.fixture(scope="module")
def collection_name(sync_engine: vb.SyncStore) -> Iterator[str]:
    name = f"li_{uuid.uuid4().hex[:8]}"
    # exact search, so the answers can be compared id for id with an exact evaluation on every engine
    sync_engine.create_collection(name, DIMENSION, "cosine", index=vb.Flat())
    yield name
    sync_engine.drop_collection(name, missing_ok=True)


@pytest.fixture
def index(
    sync_engine: vb.SyncStore, collection_name: str
) -> Iterator[tuple[VectorStoreIndex, VecbridgeVectorStore, list[TextNode]]]:
    embed_model, nodes = _nodes()
    vector_store = VecbridgeVectorStore(
        store=sync_engine, collection_name=collection_name, namespace=f"t{uuid.uuid4().hex[:12]}"
    )
    storage = StorageContext.from_defaults(vector_store=vector_store)
    built = VectorStoreIndex([node.model_copy() for node in nodes], storage_context=storage, embed_model=embed_model)
    yield built, vector_store, nodes
    vector_store.clear()


@pytest.mark.parametrize("name", list(FILTERS))
async def test_a_filtered_retriever_returns_exactly_the_ids_of_an_exact_evaluation(
    index: tuple[VectorStoreIndex, VecbridgeVectorStore, list[TextNode]], name: str
) -> None:
    built, _, nodes = index
    embed_model = built._embed_model
    assert isinstance(embed_model, TableEmbedding)
    retriever = built.as_retriever(similarity_top_k=5, filters=FILTERS[name])
    for question in QUESTIONS:
        expected = _exact_top(nodes, embed_model.table[question], FILTERS[name], 5)
        assert expected, "the filter selects some nodes"
        assert [hit.node.node_id for hit in retriever.retrieve(question)] == expected
        assert [hit.node.node_id for hit in await retriever.aretrieve(question)] == expected


def test_similarities_are_vecbridge_scores(
    index: tuple[VectorStoreIndex, VecbridgeVectorStore, list[TextNode]],
) -> None:
    built, _, nodes = index
    embed_model = built._embed_model
    assert isinstance(embed_model, TableEmbedding)
    query = np.asarray(embed_model.table["question 0"])
    for hit in built.as_retriever(similarity_top_k=3).retrieve("question 0"):
        stored = np.asarray(next(node for node in nodes if node.node_id == hit.node.node_id).embedding)
        assert hit.score == pytest.approx(
            float(query @ stored / np.linalg.norm(query) / np.linalg.norm(stored)), abs=1e-4
        )


def test_nodes_round_trip_with_text_metadata_and_relationships(
    index: tuple[VectorStoreIndex, VecbridgeVectorStore, list[TextNode]],
) -> None:
    _, vector_store, nodes = index
    wanted = ["node-9", "node-1", "missing", "node-18"]
    found = vector_store.get_nodes(node_ids=wanted)
    assert [node.node_id for node in found] == ["node-9", "node-1", "node-18"]
    for node in found:
        original = next(n for n in nodes if n.node_id == node.node_id)
        assert node.get_content() == original.get_content()
        assert node.metadata == original.metadata  # None values included
        assert node.ref_doc_id == original.ref_doc_id
    by_filter = vector_store.get_nodes(filters=MetadataFilters(filters=[_leaf(FilterOperator.EQ, "reviewer", None)]))
    assert sorted(n.node_id for n in by_filter) == sorted(
        n.node_id for n in nodes if n.metadata.get("reviewer") is None
    )


def test_deletes_by_source_document_by_ids_and_filters_and_clear(
    index: tuple[VectorStoreIndex, VecbridgeVectorStore, list[TextNode]],
) -> None:
    _, vector_store, nodes = index
    vector_store.delete("doc-0")
    assert not vector_store.get_nodes(node_ids=[f"node-{i}" for i in range(4)])
    billing = MetadataFilters(filters=[_leaf(FilterOperator.EQ, "category", "billing")])
    vector_store.delete_nodes(node_ids=["node-5", "node-6", "node-7"], filters=billing)  # only node-6 is billing
    assert [n.node_id for n in vector_store.get_nodes(node_ids=["node-5", "node-6", "node-7"])] == ["node-5", "node-7"]
    vector_store.delete_nodes(filters=billing)
    left = {n.node_id for n in vector_store.get_nodes()}
    assert left == {n.node_id for n in nodes[4:] if n.metadata["category"] != "billing"}
    vector_store.clear()
    assert vector_store.get_nodes() == []


async def test_queries_among_node_ids_and_source_documents_are_exact(
    index: tuple[VectorStoreIndex, VecbridgeVectorStore, list[TextNode]],
) -> None:
    built, vector_store, nodes = index
    embed_model = built._embed_model
    assert isinstance(embed_model, TableEmbedding)
    query = embed_model.table["question 1"]
    among = [f"node-{i}" for i in range(0, 36, 3)]
    filters = FILTERS["not"]
    result = await vector_store.aquery(
        VectorStoreQuery(query_embedding=query, similarity_top_k=3, node_ids=among, filters=filters)
    )
    assert result.ids == _exact_top([n for n in nodes if n.node_id in among], query, filters, 3)
    by_document = vector_store.query(
        VectorStoreQuery(query_embedding=query, similarity_top_k=4, doc_ids=["doc-2", "doc-5"])
    )
    assert by_document.ids == _exact_top([n for n in nodes if n.ref_doc_id in ("doc-2", "doc-5")], query, None, 4)


def test_what_the_store_cannot_do_is_refused_before_any_request(
    index: tuple[VectorStoreIndex, VecbridgeVectorStore, list[TextNode]],
) -> None:
    _, vector_store, _ = index
    query = [0.1] * DIMENSION
    text_match = MetadataFilters(filters=[_leaf(FilterOperator.TEXT_MATCH, "category", "bill")])
    with pytest.raises(vb.UnsupportedFilterError, match="text_match"):
        vector_store.query(VectorStoreQuery(query_embedding=query, filters=text_match))
    string_bound = MetadataFilters(filters=[_leaf(FilterOperator.GT, "category", "a")])
    with pytest.raises(vb.InvalidFilterError):
        vector_store.query(VectorStoreQuery(query_embedding=query, filters=string_bound))
    with pytest.raises(vb.UnsupportedFeatureError, match="hybrid"):
        vector_store.query(VectorStoreQuery(query_embedding=query, mode=VectorStoreQueryMode.HYBRID, query_str="x"))
    with pytest.raises(TypeError, match="alpha_boost"):
        vector_store.query(VectorStoreQuery(query_embedding=query), alpha_boost=2)
    with pytest.raises(vb.InvalidArgumentError):
        vector_store.delete_nodes()


async def test_a_missing_collection_reads_empty_and_the_first_add_creates_it(sync_engine: vb.SyncStore) -> None:
    name = f"li_new_{uuid.uuid4().hex[:8]}"
    vector_store = VecbridgeVectorStore(store=sync_engine, collection_name=name, metric="dot")
    try:
        assert vector_store.query(VectorStoreQuery(query_embedding=[1.0, 0.0])).ids == []
        assert await vector_store.aget_nodes(node_ids=["x"]) == []
        node = TextNode(id_="only", text="hello", embedding=[0.5, 2.0])
        assert await vector_store.async_add([node]) == ["only"]
        facts = sync_engine.describe_collection(name)
        assert (facts.dimension, facts.metric, facts.count) == (2, vb.Metric.DOT, 1)
        result = vector_store.query(VectorStoreQuery(query_embedding=[1.0, 1.0], similarity_top_k=1))
        assert result.ids == ["only"] and result.similarities == pytest.approx([2.5])
    finally:
        sync_engine.drop_collection(name, missing_ok=True)

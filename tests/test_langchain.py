"""langchain-vecbridge on every engine that runs here: LangChain's own ``VectorStoreIntegrationTests`` (sync and
async, unmodified) and the promises LangChain's suite does not check: a filtered retriever returns exactly the ids of
an exact evaluation, scores are vecbridge's scores, options are never silently ignored."""

from __future__ import annotations

import math
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.indexing import InMemoryRecordManager, aindex, index
from langchain_tests.integration_tests import VectorStoreIntegrationTests
from langchain_vecbridge import VecbridgeVectorStore

import vecbridge as vb
from vecbridge.filters import Filter, evaluate, parse_filter


@pytest.fixture(scope="module")
def engine(sync_engine: vb.SyncStore) -> Iterator[tuple[vb.SyncStore, str]]:
    """The engine's store and a collection name for this module, dropped at the end."""
    collection = f"lc_{uuid.uuid4().hex[:8]}"
    yield sync_engine, collection
    sync_engine.drop_collection(collection, missing_ok=True)


def _fresh_namespace() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


class TestLangChainStandardSuite(VectorStoreIntegrationTests):
    """LangChain's suite as published; each test gets an empty namespace of the engine's collection."""

    @pytest.fixture
    def vectorstore(self, engine: tuple[vb.SyncStore, str]) -> Iterator[VecbridgeVectorStore]:
        store, collection = engine
        vector_store = VecbridgeVectorStore(
            self.get_embeddings(), store=store, collection_name=collection, namespace=_fresh_namespace()
        )
        yield vector_store
        vector_store.delete(all=True)


class TableEmbeddings(Embeddings):
    """Known vectors for known texts, so exact answers can be computed with numpy."""

    def __init__(self, table: dict[str, list[float]]) -> None:
        self.table = table

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.table[text] for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.table[text]


def _corpus(size: int = 40, dimension: int = 8) -> tuple[TableEmbeddings, list[Document]]:
    rng = np.random.default_rng(16)
    categories = ["billing", "shipping", "returns"]
    table: dict[str, list[float]] = {}
    documents = []
    for i in range(size):
        text = f"doc {i}"
        table[text] = rng.normal(size=dimension).tolist()
        metadata: dict[str, object] = {"category": categories[i % 3], "year": 2020 + i % 7}
        if i % 4:
            metadata["tags"] = ["urgent"] if i % 5 == 0 else ["normal", "kb"]
        if i % 6 == 0:
            metadata["draft"] = True
        documents.append(Document(id=f"kb-{i}", page_content=text, metadata=metadata))
    for i in range(3):
        table[f"question {i}"] = rng.normal(size=dimension).tolist()
    return TableEmbeddings(table), documents


FILTERS: list[Filter] = [
    {"category": "billing"},
    {"year": {"$gte": 2023}, "category": {"$ne": "returns"}},
    {"$or": [{"tags": "urgent"}, {"$and": [{"category": "shipping"}, {"year": {"$lt": 2022}}]}]},
    {"$not": {"category": {"$in": ["billing", "returns"]}}},
    {"draft": {"$exists": False}, "tags": {"$nin": ["kb"]}},
]


def _exact_top(
    embeddings: TableEmbeddings, documents: list[Document], question: str, filter_: Filter, k: int
) -> list[str]:
    node = parse_filter(filter_)
    query = np.asarray(embeddings.embed_query(question))
    scored = []
    for document in documents:
        if evaluate(node, document.metadata):
            vector = np.asarray(embeddings.embed_query(document.page_content))
            scored.append((float(query @ vector / np.linalg.norm(query) / np.linalg.norm(vector)), document.id))
    scored.sort(reverse=True)
    return [str(document_id) for _, document_id in scored[:k]]


@pytest.fixture
def corpus_store(engine: tuple[vb.SyncStore, str]) -> Iterator[tuple[VecbridgeVectorStore, list[Document]]]:
    store, collection = engine
    embeddings, documents = _corpus()
    # exact search, so the answers can be compared id for id with an exact evaluation on every engine
    store.create_collection(f"{collection}_c", 8, "cosine", index=vb.Flat())
    vector_store = VecbridgeVectorStore(
        embeddings, store=store, collection_name=f"{collection}_c", namespace=_fresh_namespace()
    )
    vector_store.add_documents(documents)
    yield vector_store, documents
    store.drop_collection(f"{collection}_c", missing_ok=True)


@pytest.mark.parametrize("filter_", FILTERS, ids=[f"filter{i}" for i in range(len(FILTERS))])
async def test_a_filtered_retriever_returns_exactly_the_ids_of_an_exact_evaluation(
    corpus_store: tuple[VecbridgeVectorStore, list[Document]], filter_: Filter
) -> None:
    vector_store, documents = corpus_store
    assert isinstance(vector_store.embedding, TableEmbeddings)
    retriever = vector_store.as_retriever(search_kwargs={"k": 5, "filter": filter_})
    for question in ("question 0", "question 1"):
        expected = _exact_top(vector_store.embedding, documents, question, filter_, 5)
        assert [document.id for document in retriever.invoke(question)] == expected
        assert [document.id for document in await retriever.ainvoke(question)] == expected


def test_scores_are_vecbridge_scores_and_relevance_maps_them_into_0_1(
    corpus_store: tuple[VecbridgeVectorStore, list[Document]],
) -> None:
    vector_store, documents = corpus_store
    assert isinstance(vector_store.embedding, TableEmbeddings)
    query = np.asarray(vector_store.embedding.embed_query("question 2"))
    scored = vector_store.similarity_search_with_score("question 2", k=4)
    relevance = vector_store.similarity_search_with_relevance_scores("question 2", k=4)
    for (document, score), (same, relevant) in zip(scored, relevance, strict=True):
        vector = np.asarray(vector_store.embedding.embed_query(document.page_content))
        cosine = float(query @ vector / np.linalg.norm(query) / np.linalg.norm(vector))
        assert score == pytest.approx(cosine, abs=1e-4)
        assert same.id == document.id and relevant == pytest.approx((1 + cosine) / 2, abs=1e-4)
    assert [document.id for document, _ in scored] == _exact_top(vector_store.embedding, documents, "question 2", {}, 4)


def test_max_marginal_relevance_without_diversity_is_the_similarity_order(
    corpus_store: tuple[VecbridgeVectorStore, list[Document]],
) -> None:
    vector_store, _ = corpus_store
    similar = [
        document.id for document in vector_store.similarity_search("question 0", k=4, filter={"year": {"$gt": 2021}})
    ]
    mmr = vector_store.max_marginal_relevance_search(
        "question 0", k=4, fetch_k=10, lambda_mult=1.0, filter={"year": {"$gt": 2021}}
    )
    assert [document.id for document in mmr] == similar
    diverse = vector_store.max_marginal_relevance_search("question 0", k=4, fetch_k=10, lambda_mult=0.1)
    assert len({document.id for document in diverse}) == 4


def test_a_missing_collection_reads_empty_and_the_first_write_creates_it(engine: tuple[vb.SyncStore, str]) -> None:
    store, collection = engine
    name = f"{collection}_new"
    vector_store = VecbridgeVectorStore(
        TableEmbeddings({"a": [1.0, 0.0, 0.0], "b": [0.0, 1.0, 0.0]}),
        store=store,
        collection_name=name,
        metric="euclidean",
    )
    try:
        assert vector_store.similarity_search("a") == []
        assert vector_store.get_by_ids(["x"]) == []
        assert vector_store.delete(["x"]) is True
        assert not store.has_collection(name)
        ids = vector_store.add_texts(["a", "b"], metadatas=[{"n": 1}, {"n": 2}])
        assert all(str(uuid.UUID(record_id)) == record_id for record_id in ids)
        facts = store.describe_collection(name)
        assert (facts.dimension, facts.metric, facts.count) == (3, vb.Metric.EUCLIDEAN, 2)
        [(nearest, score)] = vector_store.similarity_search_with_relevance_scores("b", k=1)
        assert nearest.id == ids[1] and nearest.metadata == {"n": 2} and score == pytest.approx(1.0, abs=1e-4)
        [(farther, distance)] = vector_store.similarity_search_with_score("a", k=1, filter={"n": 2})
        assert farther.id == ids[1] and distance == pytest.approx(-math.sqrt(2), abs=1e-4)
    finally:
        store.drop_collection(name, missing_ok=True)


def test_options_the_store_does_not_know_are_refused_not_ignored(
    corpus_store: tuple[VecbridgeVectorStore, list[Document]],
) -> None:
    vector_store, _ = corpus_store
    with pytest.raises(TypeError, match="where_document"):
        vector_store.similarity_search("question 0", where_document={"$contains": "doc"})
    with pytest.raises(TypeError, match="hybrid"):
        vector_store.as_retriever(search_kwargs={"k": 2, "hybrid": True}).invoke("question 0")
    with pytest.raises(vb.InvalidFilterError):
        vector_store.similarity_search("question 0", filter={"year": {"$regex": "20"}})
    with pytest.raises(vb.InvalidArgumentError):
        vector_store.delete()  # deleting everything is explicit: delete(all=True)


def test_delete_by_filter_and_documents_keep_their_ids(
    corpus_store: tuple[VecbridgeVectorStore, list[Document]],
) -> None:
    vector_store, documents = corpus_store
    vector_store.delete(filter={"category": "billing"})
    remaining = vector_store.get_by_ids([str(document.id) for document in documents])
    assert [document.id for document in remaining] == [d.id for d in documents if d.metadata["category"] != "billing"]
    assert remaining[0] == next(d for d in documents if d.metadata["category"] != "billing")


async def test_langchains_indexing_api_adds_updates_and_cleans_up(engine: tuple[vb.SyncStore, str]) -> None:
    store, collection = engine
    embeddings, documents = _corpus(size=6)
    for document in documents:
        document.metadata["source"] = f"file-{document.id}"
        document.id = None
    vector_store = VecbridgeVectorStore(
        embeddings, store=store, collection_name=f"{collection}_idx", namespace=_fresh_namespace()
    )
    manager = InMemoryRecordManager(namespace="vecbridge-test")
    manager.create_schema()
    try:
        first = index(
            documents,
            manager,
            vector_store,
            cleanup="incremental",
            source_id_key="source",
            batch_size=4,
            key_encoder="sha256",
        )
        assert (first["num_added"], first["num_deleted"]) == (6, 0)
        again = await aindex(
            documents[:5], manager, vector_store, cleanup="full", source_id_key="source", key_encoder="sha256"
        )
        assert (again["num_added"], again["num_skipped"], again["num_deleted"]) == (0, 5, 1)
        assert store.collection(f"{collection}_idx", vector_store.collection.namespace).count() == 5
    finally:
        store.drop_collection(f"{collection}_idx", missing_ok=True)


async def test_sync_methods_work_inside_a_running_event_loop(engine: tuple[vb.SyncStore, str]) -> None:
    store, collection = engine
    embeddings, documents = _corpus(size=6)
    vector_store = VecbridgeVectorStore.from_documents(
        documents, embeddings, store=store, collection_name=f"{collection}_loop", namespace=_fresh_namespace()
    )
    try:
        found = vector_store.similarity_search("question 0", k=6)
        assert sorted(str(document.id) for document in found) == sorted(str(d.id) for d in documents)
        assert [d.id for d in await vector_store.asimilarity_search("question 0", k=6)] == [d.id for d in found]
    finally:
        store.drop_collection(f"{collection}_loop", missing_ok=True)


async def test_from_texts_opens_its_own_connection_and_close_releases_it() -> None:
    embeddings, documents = _corpus(size=4)
    vector_store = await VecbridgeVectorStore.afrom_texts(
        [d.page_content for d in documents], embeddings, ids=[str(d.id) for d in documents], url="memory://"
    )
    with vector_store:
        assert [d.id for d in await vector_store.aget_by_ids(["kb-3", "kb-0"])] == ["kb-3", "kb-0"]
    assert vector_store.sync_store.closed


@pytest.mark.parametrize("url_fixture", [None, "pgvector_url"], ids=["memory", "pgvector"])
def test_the_rag_script_of_the_docs_runs_unchanged_on_each_url(
    url_fixture: str | None, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = "memory://" if url_fixture is None else request.getfixturevalue(url_fixture)
    docs = (Path(__file__).resolve().parent.parent / "docs" / "integrations.md").read_text()
    script = re.search(r"### A small RAG script.*?```python\n(.*?)```", docs, re.DOTALL)
    assert script is not None
    (tmp_path / "rag.py").write_text(script.group(1))
    done = subprocess.run([sys.executable, str(tmp_path / "rag.py"), url], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "A declined card" in done.stdout and "Parcels" not in done.stdout

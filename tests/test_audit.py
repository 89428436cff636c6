"""vb.audit and vb.tune on the reference engine and on a deliberately approximate one whose recall
depends on ``ef``; every number is checked against an independent brute-force computation here."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from click.testing import CliRunner

import vecbridge as vb
from vecbridge.adapter import Adapter, Capability
from vecbridge.audit import QuerySet, audit, load_queries, sample_queries, tune
from vecbridge.cli import main
from vecbridge.filters import evaluate, parse_filter
from vecbridge.memory import MemoryAdapter
from vecbridge.registry import register, unregister
from vecbridge.types import CollectionSpec, FloatArray, Match

DIMENSION = 16


class ApproximateAdapter(MemoryAdapter):
    """An "ANN" over the exact engine: a true neighbour is found with a probability growing with ef
    (decided by a hash of query and id, so answers are repeatable); the answer is filled up from lower
    ranks, and with a filter it comes back short (like a post-filtering index)."""

    name: ClassVar[str] = "approximate"
    capabilities: ClassVar[frozenset[Capability]] = MemoryAdapter.capabilities | {
        Capability.SEARCH_EF,
        Capability.SEARCH_DEFAULTS,
    }
    seen: ClassVar[list[vb.SearchParams | None]] = []

    @classmethod
    async def connect(cls, url: vb.URL) -> Adapter:
        return cls(_ENGINE)

    async def query(
        self,
        collection: CollectionSpec,
        namespace: str,
        vector: FloatArray,
        top_k: int,
        filter: Any | None,
        include_vectors: bool,
        search: vb.SearchParams | None = None,
    ) -> list[Match]:
        ApproximateAdapter.seen.append(search)
        ef = search.ef if search is not None and search.ef is not None else 10
        candidates = self.engine.query(collection, namespace, vector, top_k * 4, filter, include_vectors)
        kept = [m for m in candidates if found(vector, m.id, ef)]
        return kept[: top_k if filter is None else max(1, top_k // 2)]

    async def set_search_defaults(self, collection: CollectionSpec, search: vb.SearchParams | None) -> None:
        from dataclasses import replace

        self.engine.specs[collection.name] = replace(self.engine.specs[collection.name], search=search)


def found(vector: FloatArray, record_id: str, ef: int) -> bool:
    digest = hashlib.sha256(np.asarray(vector, dtype=np.float32).tobytes() + record_id.encode()).digest()
    return digest[0] / 256 < min(1.0, 0.4 + ef / 250)


_ENGINE = __import__("vecbridge.memory", fromlist=["Engine"]).Engine()


@pytest.fixture
def approximate() -> Iterator[str]:
    register("approximate", ApproximateAdapter, replace=True)
    _ENGINE.specs.clear()
    _ENGINE.data.clear()
    ApproximateAdapter.seen.clear()
    yield "approximate://"
    unregister("approximate")


def clustered(count: int, seed: int = 7) -> list[vb.Record]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(12, DIMENSION)) * 3
    return [
        vb.Record(
            id=f"r{i:05d}",
            vector=(centres[i % 12] + rng.normal(size=DIMENSION)).astype(np.float32),
            metadata={"cluster": i % 12, "even": i % 2 == 0},
        )
        for i in range(count)
    ]


def brute_force(
    records: Sequence[vb.Record], metric: str, query: np.ndarray, k: int, own: str | None, filter_: Any
) -> list[str]:
    node = parse_filter(filter_)
    rows = [r for r in records if r.id != own and evaluate(node, r.metadata)]
    vectors = np.stack([np.asarray(r.vector, dtype=np.float64) for r in rows])
    q = query.astype(np.float64)
    if metric == "cosine":
        scores = vectors @ q / np.linalg.norm(vectors, axis=1) / np.linalg.norm(q)
    elif metric == "dot":
        scores = vectors @ q
    else:
        scores = -np.linalg.norm(vectors - q, axis=1)
    order = sorted(range(len(rows)), key=lambda i: (-scores[i], rows[i].id))[:k]
    return [rows[i].id for i in order]


def independent_recall(
    records: Sequence[vb.Record], metric: str, queries: QuerySet, answers: list[list[str]], k: int, filter_: Any
) -> float:
    recalls = []
    for row, answer in enumerate(answers):
        truth = brute_force(records, metric, queries.vectors[row], k, queries.own_ids[row], filter_)
        recalls.append(len(set(truth) & set(answer)) / len(truth))
    return float(np.mean(recalls))


@pytest.mark.parametrize("metric", ["cosine", "dot", "euclidean"])
async def test_the_exact_engine_audits_at_recall_one_with_exact_scores(metric: str) -> None:
    async with vb.connect("memory://") as store:
        docs = await store.create_collection("docs", DIMENSION, metric)
        await docs.upsert(clustered(600))
        report = await audit(docs, sample=25, seed=3, k=10, filters=[None, {"cluster": {"$in": [1, 2]}}])
    assert [r.quality.recall for r in report.filters] == [1.0, 1.0]
    assert [r.quality.ndcg for r in report.filters] == [1.0, 1.0]
    assert all(r.quality.short_answers == 0 for r in report.filters)
    assert all(r.quality.score_error_max < 1e-4 for r in report.filters)
    assert report.filters[1].matching_mean == pytest.approx(100, abs=1)


async def test_recall_and_short_answers_equal_an_independent_computation(approximate: str) -> None:
    records = clustered(800)
    async with vb.connect(approximate) as store:
        docs = await store.create_collection("docs", DIMENSION, "euclidean")
        await docs.upsert(records)
        queries = QuerySet(
            np.stack([np.asarray(r.vector) for r in records[:40]]), tuple(r.id for r in records[:40]), "test"
        )
        report = await audit(docs, queries=queries, k=10, filters=[None, {"even": True}], concurrency=[1, 4])
        answers = [[m.id for m in await docs.query(q, top_k=10)] for q in queries.vectors]
        filtered = [[m.id for m in await docs.query(q, top_k=10, filter={"even": True})] for q in queries.vectors]
    unfiltered, even = report.filters
    assert unfiltered.quality.recall == pytest.approx(
        independent_recall(records, "euclidean", queries, answers, 10, None), abs=1e-9
    )
    assert 0.3 < unfiltered.quality.recall < 0.9
    assert unfiltered.quality.short_answers == 0
    assert even.quality.short_answers == 1.0  # every filtered answer came back with fewer than 10 of 400 matches
    assert even.quality.recall == pytest.approx(
        independent_recall(records, "euclidean", queries, filtered, 10, {"even": True}), abs=1e-9
    )
    assert [lat.concurrency for lat in unfiltered.latency] == [1, 4]
    assert all(0 < lat.p50_ms <= lat.p95_ms <= lat.p99_ms for lat in unfiltered.latency)


async def test_the_exact_answers_take_one_scan_whatever_the_number_of_queries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pages = 0
    original = MemoryAdapter.scan

    async def counting(self: MemoryAdapter, *args: Any) -> vb.Page:
        nonlocal pages
        pages += 1
        return await original(self, *args)

    async with vb.connect("memory://") as store:
        docs = await store.create_collection("docs", DIMENSION, "cosine")
        await docs.upsert(clustered(5000))
        queries = QuerySet(np.random.default_rng(1).normal(size=(200, DIMENSION)).astype(np.float32), (None,) * 200, "")
        monkeypatch.setattr(MemoryAdapter, "scan", counting)
        await audit(docs, queries=queries, k=10, filters=[None, {"even": False}])
    assert pages == 3  # 5000 records in pages of 2000, once, for 200 queries and 2 filters


async def test_tune_names_the_smallest_ef_meeting_the_target_and_apply_makes_it_the_default(approximate: str) -> None:
    records = clustered(700)
    async with vb.connect(approximate) as store:
        docs = await store.create_collection("docs", DIMENSION, "cosine")
        await docs.upsert(records)
        report = await tune(docs, target_recall=0.9, values=[10, 50, 100, 150, 200], sample=30, seed=5, apply=True)
        assert report.chosen is not None
        chosen = vb.SearchParams(ef=report.chosen["ef"])
        queries = await sample_queries(docs, 30, 5)  # the same draw as tune's
        answers = [
            [m.id for m in await docs.query(q, top_k=11, search=chosen) if m.id != own][:10]
            for q, own in zip(queries.vectors, queries.own_ids, strict=True)
        ]
        assert independent_recall(records, "cosine", queries, answers, 10, None) >= 0.9 - 1e-9
        assert all(p.recall < 0.9 for p in report.curve if p.setting["ef"] < report.chosen["ef"])
        assert report.applied
        ApproximateAdapter.seen.clear()
        await store.collection("docs").query(records[0].vector, top_k=5)  # a new handle reads the stored default
        assert ApproximateAdapter.seen == [chosen]


async def test_tune_says_when_no_setting_reaches_the_target(approximate: str) -> None:
    async with vb.connect(approximate) as store:
        docs = await store.create_collection("docs", DIMENSION, "cosine")
        await docs.upsert(clustered(300))
        report = await tune(docs, target_recall=0.99, values=[10, 20], sample=10)
    assert report.chosen is None
    assert "no ef in [10, 20] reaches recall@10 0.99" in report.reason


async def test_a_knob_the_backend_lacks_is_refused_before_any_query() -> None:
    async with vb.connect("memory://") as store:
        docs = await store.create_collection("docs", DIMENSION, "cosine")
        await docs.upsert(clustered(50))
        with pytest.raises(vb.UnsupportedFeatureError, match="no query-time search setting"):
            await tune(docs, target_recall=0.9)
        with pytest.raises(vb.UnsupportedFeatureError, match="search_ef"):
            await docs.query(clustered(1)[0].vector, search=vb.SearchParams(ef=40))


def test_query_files_load_from_npy_and_jsonl_and_bad_shapes_are_refused(tmp_path: Path) -> None:
    vectors = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    np.save(tmp_path / "q.npy", vectors)
    (tmp_path / "q.jsonl").write_text("\n".join(json.dumps({"vector": v.tolist()}) for v in vectors))
    assert np.array_equal(load_queries(tmp_path / "q.npy", 4).vectors, vectors)
    assert np.allclose(load_queries(tmp_path / "q.jsonl", 4).vectors, vectors)
    with pytest.raises(vb.InvalidArgumentError, match=r"expected \(n, 8\)"):
        load_queries(tmp_path / "q.npy", 8)


def test_the_cli_writes_documented_json_and_a_readable_plot(tmp_path: Path) -> None:
    async def fill() -> None:
        async with vb.connect(f"local://{tmp_path / 'store'}") as store:
            docs = await store.create_collection("docs", DIMENSION, "cosine")
            await docs.upsert(clustered(400))

    import asyncio

    asyncio.run(fill())
    result = CliRunner().invoke(
        main,
        [
            "audit",
            f"local://{tmp_path / 'store'}",
            "--collection",
            "docs",
            "--sample",
            "20",
            "--filter",
            '{"cluster": {"$lt": 6}}',
            "--concurrency",
            "1,2",
            "--json",
            str(tmp_path / "audit.json"),
            "--plot",
            str(tmp_path / "audit.svg"),
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "audit.json").read_text())
    assert set(report) == {
        "url", "collection", "namespace", "metric", "k", "queries", "search", "ground_truth_seconds", "filters",
    }  # fmt: skip
    assert [f["filter"] for f in report["filters"]] == [None, {"cluster": {"$lt": 6}}]
    assert report["filters"][0]["recall"] == 1.0
    assert [lat["concurrency"] for lat in report["filters"][1]["latency"]] == [1, 2]
    svg = (tmp_path / "audit.svg").read_text()
    assert svg.startswith("<svg") and "recall@k" in svg and svg.count("<circle") == 4


async def test_migration_verify_reports_recall_of_both_sides_against_exact_search(
    approximate: str, tmp_path: Path
) -> None:
    """The copy on an approximate store answers worse than the exact original: verify says by how
    much, as recall@k of each side on the verify queries (with the migration's filter)."""
    from vecbridge.migrate import migrate

    records = clustered(600)
    async with vb.connect("memory://") as source, vb.connect(approximate) as destination:
        docs = await source.create_collection("docs", DIMENSION, "cosine")
        await docs.upsert(records)
        report = await migrate(
            docs,
            destination.collection("copy"),
            filter={"even": True},
            verify_mode="sample",
            sample_queries=20,
            checkpoint_dir=tmp_path,
        )
        verification = report.verification
        assert verification is not None and verification.search_recall is not None
        copy = destination.collection("copy")
        queries = [r for r in records if r.metadata["even"]][:20]  # the first copied records are the queries
        query_set = QuerySet(np.stack([np.asarray(r.vector) for r in queries]), tuple(r.id for r in queries), "")
        answers = [[m.id for m in await copy.query(r.vector, top_k=11) if m.id != r.id][:10] for r in queries]
    assert verification.search_recall["source"] == 1.0
    expected = independent_recall(records, "cosine", query_set, answers, 10, {"even": True})
    assert verification.search_recall["destination"] == pytest.approx(expected, abs=5e-5)  # rounded to 4 places
    assert expected < 0.9
    assert verification.to_dict()["search_recall"] == verification.search_recall

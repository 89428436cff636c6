"""pgvector-specific behaviour on a real PostgreSQL + pgvector (fixture ``pgvector_url``): nothing
reaches the server as SQL text, filtered HNSW queries come back full, per-query settings survive
psycopg's auto-prepare, the bulk-load mode defers the index build, and indexes follow the spec."""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import warnings
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import psycopg
import pytest
import pytest_asyncio
from psycopg import sql
from vecbridge_pgvector import PgvectorAdapter

import vecbridge as vb
from vecbridge.errors import InvalidArgumentError, InvalidFilterError, InvalidRecordError, InvalidURLError
from vecbridge.filters import parse_filter

HOSTILE = [
    "'; DROP TABLE {canary}; --",
    '" OR 1=1; --',
    "x' OR 'a'='a",
    "Robert'); DROP TABLE students;--",
    "$1",
    "%s",
    "%(name)s",
    "{}",
    "?",
    "\\",
    "' || pg_sleep(5) || '",
    "$$; SELECT 1; $$",
    "*/ SELECT 1; /*",
    'ünï "cödé" ✓ 𝄞',
    " leading and trailing ",
]


def dsn_of(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(("postgresql", parts.netloc, parts.path, "", ""))


def with_options(url: str, options: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{options}"


def unique(prefix: str = "vbp") -> str:
    return f"{prefix}_{secrets.token_hex(4)}"


@pytest_asyncio.fixture
async def store(pgvector_url: str) -> AsyncIterator[vb.Store]:
    async with vb.connect(pgvector_url) as connected:
        yield connected


async def index_definitions(url: str, table: str, schema: str = "public") -> dict[str, str]:
    async with await psycopg.AsyncConnection.connect(dsn_of(url), autocommit=True) as conn:
        rows = await (
            await conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s AND tablename = %s", (schema, table)
            )
        ).fetchall()
    return {name: definition for name, definition in rows}


# --- injection --------------------------------------------------------------------------------


async def test_injection_corpus_is_stored_and_matched_as_data(pgvector_url: str, store: vb.Store) -> None:
    canary = unique("canary")
    async with await psycopg.AsyncConnection.connect(dsn_of(pgvector_url), autocommit=True) as conn:
        await conn.execute(sql.SQL("CREATE TABLE {} (x int)").format(sql.Identifier(canary)))
        await conn.execute(sql.SQL("INSERT INTO {} VALUES (1)").format(sql.Identifier(canary)))
    corpus = [text.replace("{canary}", canary) for text in HOSTILE]
    name = unique()
    collection = await store.create_collection(name, dimension=4, metric="euclidean")
    rng = np.random.default_rng(7)
    records = [
        vb.Record(
            id=text,
            vector=rng.normal(size=4),
            metadata={"value": text, "tags": [text, "plain"], "n": i},
            document=text,
        )
        for i, text in enumerate(corpus)
    ]
    await collection.upsert(records)
    await collection.upsert(records[:3])  # the replace path (staging table + ON CONFLICT) too

    got = {record.id: record for record in await collection.get(corpus)}
    assert set(got) == set(corpus)
    for record in records:
        assert got[record.id].metadata == record.metadata
        assert got[record.id].document == record.document
    for text in corpus:
        assert [m.id for m in await collection.query(np.zeros(4), top_k=50, filter={"value": text})] == [text]
        assert await collection.count({"tags": text}) == 1
        assert await collection.count({"value": {"$in": [text, "absent"]}}) == 1
        assert await collection.count({"value": {"$ne": text}}) == len(corpus) - 1
    scanned = [r.id async for page in collection.scan(page_size=4) for r in page.records]
    assert sorted(scanned) == sorted(corpus)

    await collection.delete(ids=[corpus[0]])
    await collection.delete(filter={"value": corpus[1]})
    assert await collection.count() == len(corpus) - 2

    for bad_name in [f"x; DROP TABLE {canary}", 'a"b', "vb_'x'", "Robert');--"]:
        with pytest.raises(InvalidArgumentError):
            await store.create_collection(bad_name, dimension=4)
    for bad_key in ["a'b", 'x"; DROP TABLE t; --', "a b", "$where"]:
        with pytest.raises(InvalidRecordError):
            await collection.upsert([vb.Record(id="k", vector=[1, 2, 3, 4], metadata={bad_key: 1})])
        with pytest.raises(InvalidFilterError):
            await collection.count({bad_key: 1})

    async with await psycopg.AsyncConnection.connect(dsn_of(pgvector_url), autocommit=True) as conn:
        rows = await (await conn.execute(sql.SQL("SELECT x FROM {}").format(sql.Identifier(canary)))).fetchall()
        assert rows == [(1,)]
        await conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(canary)))
    await store.drop_collection(name)


async def test_hostile_schema_name_is_an_identifier(pgvector_url: str) -> None:
    schema = f'vb"; DROP SCHEMA public CASCADE; -- {secrets.token_hex(2)}'
    url = with_options(pgvector_url, "schema=" + schema.replace("%", "%25").replace(" ", "%20").replace(";", "%3B"))
    async with vb.connect(url) as store:
        collection = await store.create_collection(unique(), dimension=3)
        await collection.upsert([vb.Record(id="a", vector=[1, 0, 0])])
        assert [m.id for m in await collection.query([1, 0, 0], top_k=1)] == ["a"]
    async with await psycopg.AsyncConnection.connect(dsn_of(pgvector_url), autocommit=True) as conn:
        found = await (
            await conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname IN (%s, 'public')", (schema,))
        ).fetchone()
        assert found == (2,)
        await conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


# --- filtered ANN search on 20,000 rows --------------------------------------------------------

# On 20,000 rows the planner estimates a jsonb filter as very selective and prefers an exact
# scan + sort (correct, and what the fallback does); these sessions (no sorts) make it take the HNSW index,
# which post-filters: the path under test.
INDEX_PLAN = "options=-c%20enable_sort%3Doff"
ROWS = 20_000
DIMENSION = 32
GROUPS = 20  # a group filter matches 5 % of the rows


@pytest.fixture(scope="module")
def filtered_collection(pgvector_url: str) -> Iterator[tuple[str, np.ndarray]]:
    """20,000 clustered vectors in an HNSW collection, loaded once for this module.

    The metadata GIN index is dropped: with it the planner answers a 5 % filter from the GIN index
    and sorts exactly; without it the HNSW index is used and post-filters, which is the trap here.
    """
    name = unique("vbp20k")
    rng = np.random.default_rng(20)
    centers = rng.normal(size=(32, DIMENSION))
    vectors = (centers[rng.integers(0, 32, size=ROWS)] + 0.3 * rng.normal(size=(ROWS, DIMENSION))).astype(np.float32)

    async def load() -> None:
        async with vb.connect(pgvector_url) as store:
            collection = await store.create_collection(
                name, DIMENSION, "cosine", index=vb.HNSW(m=16, ef_construction=64)
            )
            async with collection.bulk_load():
                await collection.upsert(
                    vb.Record(id=f"r{i}", vector=vectors[i], metadata={"group": f"g{i % GROUPS}", "i": i})
                    for i in range(ROWS)
                )
        async with await psycopg.AsyncConnection.connect(dsn_of(pgvector_url), autocommit=True) as conn:
            await conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(f"vb_{name}_meta")))
            await conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(f"vb_{name}")))

    asyncio.run(load())
    yield name, vectors

    async def drop() -> None:
        async with vb.connect(pgvector_url) as store:
            await store.drop_collection(name)

    asyncio.run(drop())


def exact_top(vectors: np.ndarray, query: np.ndarray, rows: np.ndarray, k: int) -> list[str]:
    subset = vectors[rows].astype(np.float64)
    scores = subset @ query / (np.linalg.norm(subset, axis=1) * np.linalg.norm(query))
    return [f"r{rows[i]}" for i in np.argsort(-scores)[:k]]


@pytest.mark.parametrize("top_k", [10, 100])
async def test_filtered_hnsw_query_returns_exactly_top_k(
    pgvector_url: str, filtered_collection: tuple[str, np.ndarray], top_k: int
) -> None:
    name, vectors = filtered_collection
    async with vb.connect(with_options(pgvector_url, INDEX_PLAN)) as store:
        adapter = store.adapter
        assert isinstance(adapter, PgvectorAdapter)
        collection = store.collection(name)
        rows = np.arange(7, ROWS, GROUPS)
        recalls = []
        for q in range(5):
            query = vectors[q * 101]
            matches = await collection.query(query, top_k=top_k, filter={"group": "g7"})
            assert len(matches) == top_k
            assert all(m.metadata["group"] == "g7" for m in matches)
            recalls.append(len({m.id for m in matches} & set(exact_top(vectors, query, rows, top_k))) / top_k)
        assert adapter.stats.exact_fallbacks == 0, "the HNSW scan itself must deliver top_k (iterative scan)"
        # HNSW is approximate: recall against brute force measured 0.85-1.0 here; random rows would give ~0.05
        assert np.mean(recalls) >= 0.75
        spec = await collection.spec()
        compiled = adapter.compile_filter(parse_filter({"group": "g7"}), spec)
        statement, params = adapter._query_sql(spec, "default", vectors[0], top_k, compiled)
        async with adapter._connection("test", transaction=False) as conn:
            plan = await (await conn.execute(b"EXPLAIN " + statement, params)).fetchall()
        assert f"Index Scan using vb_{name}_ann" in "\n".join(row[0] for row in plan)


async def test_filtered_query_on_the_default_plan_returns_exactly_top_k(
    pgvector_url: str, filtered_collection: tuple[str, np.ndarray]
) -> None:
    name, vectors = filtered_collection
    async with vb.connect(pgvector_url) as store:
        matches = await store.collection(name).query(vectors[1], top_k=10, filter={"group": "g11"})
    assert len(matches) == 10
    assert all(m.metadata["group"] == "g11" for m in matches)
    expected = exact_top(vectors, vectors[1], np.arange(11, ROWS, GROUPS), 10)
    assert len({m.id for m in matches} & set(expected)) >= 8  # whichever plan the planner picks


async def test_without_iterative_scan_the_same_query_comes_back_short(
    pgvector_url: str, filtered_collection: tuple[str, np.ndarray]
) -> None:
    """The control: the trap the adapter avoids is real on this data."""
    name, vectors = filtered_collection
    async with vb.connect(pgvector_url) as store:
        adapter = store.adapter
        assert isinstance(adapter, PgvectorAdapter)
        spec = await store.collection(name).spec()
        compiled = adapter.compile_filter(parse_filter({"group": "g7"}), spec)
        statement, params = adapter._query_sql(spec, "default", vectors[0], 10, compiled)
    async with await psycopg.AsyncConnection.connect(dsn_of(pgvector_url), autocommit=True) as conn:
        from pgvector.psycopg import register_vector_async

        await register_vector_async(conn)
        await conn.execute("SET hnsw.iterative_scan = off")
        await conn.execute("SET enable_sort = off")
        rows = await (await conn.execute(statement, params)).fetchall()
    assert len(rows) < 10


async def test_unfiltered_queries_scan_iteratively_only_in_namespaces_that_need_it(pgvector_url: str) -> None:
    """A namespace holding 5 % of an HNSW-indexed table comes back short from a plain scan: the query
    is rerun iteratively and the namespace scans iteratively from then on; the namespace filling the
    graph never pays for iterative scanning, and every answer is full."""
    name = unique()
    rng = np.random.default_rng(8)
    vectors = rng.normal(size=(4000, 16)).astype(np.float32)
    async with vb.connect(with_options(pgvector_url, "pool_min=1&pool_max=1&" + INDEX_PLAN)) as store:
        adapter = store.adapter
        assert isinstance(adapter, PgvectorAdapter)
        await store.create_collection(name, 16, "cosine", index=vb.HNSW(m=8, ef_construction=32))
        big, small = store.collection(name, namespace="big"), store.collection(name, namespace="small")
        await big.upsert([vb.Record(f"b{i}", vectors[i]) for i in range(3800)])
        await small.upsert([vb.Record(f"s{i}", vectors[i]) for i in range(3800, 4000)])
        for q in range(6):
            assert len(await small.query(vectors[q], top_k=10)) == 10
            assert len(await big.query(vectors[q], top_k=10)) == 10
        assert (adapter.stats.iterative_retries, adapter.stats.exact_fallbacks) == (1, 0)
        # the one session: its last query was in "big"
        async with adapter._connection("test", transaction=False) as conn:
            setting = await (await conn.execute("SHOW hnsw.iterative_scan")).fetchone()
        assert setting == ("off",)
        truth = np.argsort(-(vectors[3800:] @ vectors[0]) / np.linalg.norm(vectors[3800:], axis=1))[:10]
        got = {m.id for m in await small.query(vectors[0], top_k=10)}
        assert len(got & {f"s{3800 + i}" for i in truth}) >= 8
        await store.drop_collection(name)


async def test_cancelled_operations_give_their_session_back(pgvector_url: str) -> None:
    """With one pooled session, queries and upserts cancelled at any point must not keep it: the next
    call would wait for the pool's 30 s timeout and fail."""
    name = unique()
    rng = np.random.default_rng(9)
    vectors = rng.normal(size=(3000, 16)).astype(np.float32)
    async with vb.connect(with_options(pgvector_url, "pool_min=1&pool_max=1")) as store:
        collection = await store.create_collection(name, 16, "cosine", index=vb.HNSW(m=8, ef_construction=32))
        await collection.upsert([vb.Record(f"r{i}", vectors[i]) for i in range(2000)])
        for attempt in range(12):
            delay = attempt * 0.0005
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(collection.query(vectors[attempt], top_k=10, filter={"a": 1}), delay)
            with contextlib.suppress(asyncio.TimeoutError):
                more = [vb.Record(f"n{attempt}-{i}", vectors[2000 + i]) for i in range(1000)]
                await asyncio.wait_for(collection.upsert(more), delay * 4)
            assert len(await asyncio.wait_for(collection.query(vectors[attempt], top_k=10), 10)) == 10
        await store.drop_collection(name)


async def test_set_local_settings_apply_after_psycopg_auto_prepares(
    pgvector_url: str, filtered_collection: tuple[str, np.ndarray]
) -> None:
    name, vectors = filtered_collection
    top_k = 100  # above the session ef_search (40): the query sets hnsw.ef_search with SET LOCAL
    async with vb.connect(with_options(pgvector_url, "pool_min=1&pool_max=1&" + INDEX_PLAN)) as store:
        adapter = store.adapter
        assert isinstance(adapter, PgvectorAdapter)
        collection = store.collection(name)
        for q in range(8):  # psycopg prepares a statement on its 5th execution
            matches = await collection.query(vectors[q], top_k=top_k, filter={"group": "g3"})
            assert len(matches) == top_k
        assert adapter.stats.exact_fallbacks == 0

        spec = await collection.spec()
        settings = adapter._search_settings(spec, top_k)
        assert settings is not None
        # the one pooled session that ran the queries
        async with adapter._connection("test", transaction=False) as conn:
            prepared = await (
                await conn.execute(
                    "SELECT name, generic_plans + custom_plans FROM pg_prepared_statements "
                    "WHERE statement LIKE %s AND statement LIKE %s",
                    ("%ORDER BY distance%", "%@>%"),
                )
            ).fetchall()
            assert prepared, "psycopg should have prepared the query statement"
            statement_name = prepared[0][0]
            assert prepared[0][1] >= 3
            compiled = adapter.compile_filter(parse_filter({"group": "g3"}), spec)
            _, params = adapter._query_sql(spec, "default", vectors[0], top_k, compiled)
            # EXECUTE's arguments cannot be bound parameters: spell them out (test-only, values we made)
            arguments = sql.SQL("{}::vector, {}::text, {}::jsonb[]").format(*map(sql.Literal, params))
            async with conn.transaction():
                await conn.execute(*settings)
                await conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
                plan = await (
                    await conn.execute(
                        sql.SQL("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) EXECUTE {} ({})").format(
                            sql.Identifier(statement_name), arguments
                        ),
                    )
                ).fetchall()
        text = "\n".join(row[0] for row in plan)
        scan = next(line for line in text.splitlines() if f"Index Scan using vb_{name}_ann" in line)
        assert re.search(rf"actual rows={top_k}(\.0+)? ", scan), text  # ef_search and iterative scan applied
        assert "Order By: (embedding <=> $1)" in text, text  # the generic plan of the prepared statement


# --- atomic upserts -----------------------------------------------------------------------------


@pytest.mark.parametrize("namespace_state", ["empty", "holding_ids_of_the_call"])
async def test_a_server_error_in_a_late_batch_writes_nothing(
    pgvector_url: str, store: vb.Store, namespace_state: str
) -> None:
    """A list upsert is one transaction: a row the server refuses (here a trigger) in the third
    batch rolls back the two batches already streamed, on the straight COPY and the staging path."""
    name = unique()
    collection = await store.create_collection(name, dimension=4, metric="euclidean")
    rng = np.random.default_rng(5)
    records = [vb.Record(id=f"r{i}", vector=rng.normal(size=4), metadata={"v": 2}) for i in range(5000)]
    if namespace_state != "empty":
        await collection.upsert(
            [vb.Record(id=f"r{i}", vector=rng.normal(size=4), metadata={"v": 1}) for i in range(10)]
        )
    async with await psycopg.AsyncConnection.connect(dsn_of(pgvector_url), autocommit=True) as conn:
        await conn.execute(
            "CREATE FUNCTION pg_temp.refuse_boom() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN IF NEW.id = 'r4500' THEN RAISE EXCEPTION 'refused r4500'; END IF; RETURN NEW; END $$"
        )
        await conn.execute(
            sql.SQL("CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON {} FOR EACH ROW EXECUTE FUNCTION {}()").format(
                sql.Identifier(f"vb_{name}"), sql.SQL("pg_temp.refuse_boom")
            )
        )
        with pytest.raises(vb.BackendError, match="refused r4500"):
            await collection.upsert(records)  # max_batch 2000: r4500 is in the third batch
    assert await collection.count() == (0 if namespace_state == "empty" else 10)
    if namespace_state != "empty":
        assert {r.metadata["v"] for r in await collection.get([f"r{i}" for i in range(10)])} == {1}
    await store.drop_collection(name)


# --- bulk load and index specs ------------------------------------------------------------------


async def test_bulk_load_defers_the_index_build_to_the_end(pgvector_url: str, store: vb.Store) -> None:
    name = unique()
    collection = await store.create_collection(name, dimension=8, metric="dot", index=vb.HNSW(m=8, ef_construction=32))
    table = f"vb_{name}"
    assert set(await index_definitions(pgvector_url, table)) == {f"{table}_pkey", f"{table}_ann", f"{table}_meta"}
    rng = np.random.default_rng(3)
    records = [vb.Record(id=f"b{i}", vector=rng.normal(size=8), metadata={"i": i}) for i in range(500)]
    async with collection.bulk_load():
        assert set(await index_definitions(pgvector_url, table)) == {f"{table}_pkey"}
        await collection.upsert(records)
        during = await collection.query(records[0].vector, top_k=5)  # exact meanwhile
    definitions = await index_definitions(pgvector_url, table)
    assert "USING hnsw (embedding vector_ip_ops) WITH (m='8', ef_construction='32')" in definitions[f"{table}_ann"]
    assert "USING gin (metadata jsonb_path_ops)" in definitions[f"{table}_meta"]
    after = await collection.query(records[0].vector, top_k=5)
    assert [m.id for m in after] == [m.id for m in during]
    assert await collection.count() == 500
    await store.drop_collection(name)


@pytest.mark.parametrize(
    ("metric", "index", "expected"),
    [
        ("cosine", vb.HNSW(m=12, ef_construction=48), "USING hnsw (embedding vector_cosine_ops) WITH (m='12'"),
        ("euclidean", vb.HNSW(), "USING hnsw (embedding vector_l2_ops)"),
        ("dot", vb.IVF(nlist=4), "USING ivfflat (embedding vector_ip_ops) WITH (lists='4')"),
        ("euclidean", vb.Flat(), None),
    ],
)
async def test_index_follows_the_spec_with_the_metric_operator_class(
    pgvector_url: str, store: vb.Store, metric: str, index: vb.IndexSpec, expected: str | None
) -> None:
    name = unique()
    collection = await store.create_collection(name, dimension=4, metric=metric, index=index)
    definitions = await index_definitions(pgvector_url, f"vb_{name}")
    if expected is None:
        assert f"vb_{name}_ann" not in definitions
    else:
        assert expected in definitions[f"vb_{name}_ann"]
    assert (await store.describe_collection(name)).index == index
    rng = np.random.default_rng(4)
    await collection.upsert([vb.Record(id=f"x{i}", vector=rng.normal(size=4)) for i in range(50)])
    assert len(await collection.query(rng.normal(size=4), top_k=20)) == 20
    await store.drop_collection(name)


async def test_dimensions_beyond_the_index_limit_are_searched_exactly(pgvector_url: str, store: vb.Store) -> None:
    name = unique()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        collection = await store.create_collection(name, dimension=2001)
    assert any("2000" in str(w.message) for w in caught)
    assert f"vb_{name}_ann" not in await index_definitions(pgvector_url, f"vb_{name}")
    await collection.upsert([vb.Record(id="a", vector=np.ones(2001)), vb.Record(id="b", vector=-np.ones(2001))])
    assert [m.id for m in await collection.query(np.ones(2001), top_k=2)] == ["a", "b"]
    await store.drop_collection(name)


# --- URL --------------------------------------------------------------------------------------


async def test_unknown_url_option_is_rejected(pgvector_url: str) -> None:
    with pytest.raises(InvalidURLError, match="unknown option"):
        await vb.connect(with_options(pgvector_url, "shcema=x")).open()


async def test_schemas_keep_collections_apart(pgvector_url: str) -> None:
    schema = unique("vbs")
    name = unique()
    async with vb.connect(with_options(pgvector_url, f"schema={schema}")) as inside:
        await inside.create_collection(name, dimension=2)
        assert name in [spec.name for spec in await inside.list_collections()]
        async with vb.connect(pgvector_url) as outside:
            assert name not in [spec.name for spec in await outside.list_collections()]
        await inside.drop_collection(name)
    async with await psycopg.AsyncConnection.connect(dsn_of(pgvector_url), autocommit=True) as conn:
        await conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))

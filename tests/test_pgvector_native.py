"""Existing PostgreSQL tables read (and, when opted in, written) through a layout, on a real
PostgreSQL + pgvector (fixture ``pgvector_url``): the article's ``document_embeddings`` table written
with plain SQL, ambiguous and unusual tables, and tables written by the real langchain-postgres and
llama-index-vector-stores-postgres. Reading leaves the database exactly as it was."""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import psycopg
import pytest
import pytest_asyncio
from psycopg import sql

import vecbridge as vb
from vecbridge.errors import InvalidRecordError, UnsupportedFeatureError, UnsupportedFilterError
from vecbridge.filters import evaluate, parse_filter
from vecbridge.layout import FieldRole, LayoutError
from vecbridge.migrate.plan import plan_migration

DIMENSION = 64
ROWS = 90
TENANTS = ("acme", "globex", "initech")


def dsn_of(url: str, *, driver: str = "postgresql") -> str:
    parts = urlsplit(url)
    return urlunsplit((driver, parts.netloc, parts.path, "", ""))


def with_schema(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}schema={schema}"


def unique(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(4)}"


async def execute(url: str, *statements: Any) -> None:
    async with await psycopg.AsyncConnection.connect(dsn_of(url), autocommit=True) as conn:
        for statement in statements:
            if isinstance(statement, tuple):
                await conn.execute(*statement)
            else:
                await conn.execute(statement)


async def fetch(url: str, statement: Any, params: Any = None) -> list[Any]:
    async with await psycopg.AsyncConnection.connect(dsn_of(url), autocommit=True) as conn:
        return await (await conn.execute(statement, params)).fetchall()


def vectors(seed: int, count: int, dimension: int = DIMENSION) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(count, dimension)).astype(np.float32)


def literal(vector: np.ndarray) -> str:
    return "[" + ",".join(repr(float(x)) for x in vector) + "]"


# --- the article's table ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def article(pgvector_url: str) -> Iterator[tuple[str, np.ndarray]]:
    """``document_embeddings`` as the article builds it, written with plain SQL in its own schema;
    returns the vecbridge URL of that schema and the vectors (row i has id i + 1)."""
    schema = unique("article")
    data = vectors(7, ROWS)
    rows = []
    for i in range(ROWS):
        metadata: dict[str, Any] = {"page": i % 7, "tags": ["a", "b"] if i % 2 else ["c"], "score": i / 4}
        if i % 5 == 0:
            metadata["nested"] = {"section": i, "deep": [1, 2]}
        rows.append(
            (
                TENANTS[i % 3],
                f"chunk {i}",
                None if i % 4 == 0 else ("pdf" if i % 3 else "html"),
                literal(data[i]),
                json.dumps(metadata),
            )
        )

    async def build() -> None:
        await execute(
            pgvector_url,
            "CREATE EXTENSION IF NOT EXISTS vector",
            sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)),
            sql.SQL(
                "CREATE TABLE {}.document_embeddings (id serial PRIMARY KEY, tenant_id text NOT NULL, "
                "content text NOT NULL, source_type varchar(50), embedding vector(64), metadata jsonb DEFAULT '{{}}', "
                "created_at timestamptz DEFAULT now())"
            ).format(sql.Identifier(schema)),
            sql.SQL(
                "CREATE INDEX document_embeddings_hnsw ON {}.document_embeddings USING hnsw (embedding vector_cosine_ops)"
            ).format(sql.Identifier(schema)),
        )
        connect = psycopg.AsyncConnection.connect(dsn_of(pgvector_url), autocommit=True)
        async with await connect as conn, conn.cursor() as cursor:
            await cursor.executemany(
                sql.SQL(
                    "INSERT INTO {}.document_embeddings (tenant_id, content, source_type, embedding, metadata) "
                    "VALUES (%s, %s, %s, %s::vector, %s::jsonb)"
                ).format(sql.Identifier(schema)),
                rows,
            )

    asyncio.run(build())
    yield with_schema(pgvector_url, schema), data
    asyncio.run(execute(pgvector_url, sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema))))


ARTICLE_LAYOUT = {"document": "content", "namespace": "tenant_id"}


@pytest_asyncio.fixture
async def article_store(article: tuple[str, np.ndarray]) -> AsyncIterator[vb.Store]:
    async with vb.connect(article[0]) as store:
        yield store


async def snapshot(url: str, schema: str) -> str:
    """A digest of the schema's catalog (tables, columns, indexes, comments), its extensions, and
    every row of its tables: equal digests mean nothing was written."""
    catalog = await fetch(
        url,
        "SELECT c.relname, c.relkind, a.attname, format_type(a.atttypid, a.atttypmod), obj_description(c.oid) "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 "
        "WHERE n.nspname = %s ORDER BY 1, 3",
        (schema,),
    )
    indexes = await fetch(url, "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s ORDER BY 1", (schema,))
    extensions = await fetch(url, "SELECT extname, extversion FROM pg_extension ORDER BY 1")
    contents = []
    for (table,) in await fetch(url, "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY 1", (schema,)):
        contents.append(
            await fetch(
                url,
                sql.SQL("SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {}.{} AS t").format(
                    sql.Identifier(schema), sql.Identifier(table)
                ),
            )
        )
    return hashlib.sha256(repr((catalog, indexes, extensions, contents)).encode()).hexdigest()


async def test_the_article_table_is_listed_and_described(article_store: vb.Store) -> None:
    listed = {spec.name: spec for spec in await article_store.list_collections(native=True)}
    spec = listed["document_embeddings"]
    assert spec.native and spec.dimension == DIMENSION and spec.metric is vb.Metric.COSINE
    assert isinstance(spec.index, vb.HNSW)
    info = await article_store.describe_collection("document_embeddings", layout=ARTICLE_LAYOUT)
    assert info.count == ROWS
    layout = info.spec.layout
    assert layout is not None
    roles = {f.name: f.role for f in layout.fields}
    assert roles == {
        "id": FieldRole.ID,
        "tenant_id": FieldRole.NAMESPACE,
        "content": FieldRole.DOCUMENT,
        "source_type": FieldRole.METADATA,
        "embedding": FieldRole.VECTOR,
        "metadata": FieldRole.METADATA_KEYS,
        "created_at": FieldRole.METADATA,
    }
    types = {f.name: f.type for f in layout.fields}
    assert types["embedding"] == "vector(64)" and types["created_at"] == "timestamp with time zone"
    notes = {f.name: f.note for f in layout.fields}
    assert "ISO-8601" in notes["created_at"] and "decimal string" in notes["id"]
    assert sorted(await article_store.list_namespaces("document_embeddings", layout=ARTICLE_LAYOUT)) == list(TENANTS)


async def test_inferred_layout_takes_the_well_known_document_column(article_store: vb.Store) -> None:
    spec = await article_store.collection("document_embeddings").spec()
    assert spec.layout is not None
    assert (spec.layout.id, spec.layout.document, spec.layout.namespace) == ("id", "content", None)
    assert spec.layout.metadata_keys_from == ("metadata",)


async def exact_ids(url: str, where: str, params: tuple[Any, ...], query: np.ndarray, k: int) -> list[str]:
    schema = urlsplit(url).query.split("schema=")[1]
    rows = await fetch(
        url,
        sql.SQL("SELECT id FROM {}.document_embeddings WHERE {} ORDER BY embedding <=> %s::vector, id LIMIT %s").format(
            sql.Identifier(schema), sql.SQL(where)
        ),
        (*params, literal(query), k),
    )
    return [str(row[0]) for row in rows]


@pytest.mark.parametrize(
    ("filter_", "where", "params"),
    [
        (None, "tenant_id = %s", ("acme",)),
        ({"source_type": "pdf"}, "tenant_id = %s AND source_type = 'pdf'", ("acme",)),
        ({"source_type": {"$ne": "pdf"}}, "tenant_id = %s AND source_type IS DISTINCT FROM 'pdf'", ("acme",)),
        ({"page": {"$gte": 3}}, "tenant_id = %s AND (metadata->>'page')::int >= 3", ("acme",)),
        (
            {"tags": "a", "page": {"$in": [1, 2, 5]}},
            "tenant_id = %s AND metadata @> '{\"tags\":[\"a\"]}' AND (metadata->>'page')::int IN (1, 2, 5)",
            ("acme",),
        ),
    ],
)
async def test_filtered_top_10_equals_exact_sql(
    article: tuple[str, np.ndarray],
    article_store: vb.Store,
    filter_: dict[str, Any] | None,
    where: str,
    params: tuple[Any, ...],
) -> None:
    url, data = article
    query = vectors(99, 1)[0]
    collection = article_store.collection("document_embeddings", "acme", layout=ARTICLE_LAYOUT)
    matches = await collection.query(query, top_k=10, filter=filter_)
    assert [m.id for m in matches] == await exact_ids(url, where, params, query, 10)
    for match in matches:
        row = data[int(match.id) - 1].astype(np.float64)
        expected = row @ query / (np.linalg.norm(row) * np.linalg.norm(query))
        assert match.score == pytest.approx(expected, abs=1e-5)
    assert await collection.count(filter=filter_) == len(await exact_ids(url, where, params, query, ROWS))


async def test_get_scan_and_count_read_every_row_converted(
    article: tuple[str, np.ndarray], article_store: vb.Store
) -> None:
    data = article[1]
    collection = article_store.collection("document_embeddings", "globex", layout=ARTICLE_LAYOUT)
    seen: list[vb.Record] = []
    async for page in collection.scan(page_size=7):
        seen += page.records
    expected = [i + 1 for i in range(ROWS) if TENANTS[i % 3] == "globex"]
    assert sorted(int(r.id) for r in seen) == expected
    assert await collection.count() == len(expected)
    record = (await collection.get(["2", "3", "nope"]))[0]  # id 3 is initech's
    assert record.id == "2" and record.document == "chunk 1"
    np.testing.assert_allclose(record.vector, data[1], rtol=1e-6)
    assert record.metadata["source_type"] == "pdf" and record.metadata["page"] == 1
    assert record.metadata["tags"] == ["a", "b"] and record.metadata["score"] == 0.25
    assert isinstance(record.metadata["created_at"], str) and "T" in record.metadata["created_at"]
    nested = (await collection.get(["11"]))[0]  # row 10: a nested object becomes JSON text
    assert json.loads(str(nested.metadata["nested"])) == {"section": 10, "deep": [1, 2]}
    assert "source_type" in nested.metadata
    acme = article_store.collection("document_embeddings", "acme", layout=ARTICLE_LAYOUT)
    null_source = (await acme.get(["1"]))[0]  # row 0: NULL is an absent key
    assert "source_type" not in null_source.metadata


async def test_a_filter_on_a_converted_column_is_refused_before_any_request(article_store: vb.Store) -> None:
    collection = article_store.collection("document_embeddings", "acme", layout=ARTICLE_LAYOUT)
    with pytest.raises(UnsupportedFilterError, match="created_at"):
        await collection.count(filter={"created_at": "2026-01-01"})


async def test_typed_column_filters_agree_with_the_reference_evaluator(article_store: vb.Store) -> None:
    collection = article_store.collection("document_embeddings", "initech", layout=ARTICLE_LAYOUT)
    records = [r async for page in collection.scan(include_vector=False) for r in page.records]
    for filter_ in (
        {"source_type": {"$nin": ["pdf"]}},
        {"source_type": {"$exists": False}},
        {"source_type": 1},
        {"$not": {"source_type": "html"}},
        {"page": {"$lt": 2.5}},
        {"nested": {"$exists": True}},
        {"tags": {"$ne": "c"}},
    ):
        expected = sorted(r.id for r in records if evaluate(parse_filter(filter_), r.metadata))
        found = sorted(r.id for page in [p async for p in collection.scan(filter=filter_)] for r in page.records)
        assert found == expected, filter_


async def test_reading_leaves_the_database_unchanged(article: tuple[str, np.ndarray]) -> None:
    url, _ = article
    schema = urlsplit(url).query.split("schema=")[1]
    base = url.split("?")[0]
    before = await snapshot(base, schema)
    async with vb.connect(url) as store:
        await store.list_collections(native=True)
        await store.list_collections()
        await store.describe_collection("document_embeddings", layout=ARTICLE_LAYOUT)
        collection = store.collection("document_embeddings", "acme", layout=ARTICLE_LAYOUT)
        await collection.query(vectors(1, 1)[0], top_k=5, filter={"page": {"$gt": 1}})
        await collection.count()
        await collection.get(["1"])
        async for _ in collection.scan(page_size=10):
            pass
        with pytest.raises(UnsupportedFeatureError):
            await collection.upsert([vb.Record(id="1", vector=vectors(1, 1)[0])])
        with pytest.raises(vb.CollectionNotFoundError):
            await store.describe_collection("missing_table")
    assert await snapshot(base, schema) == before
    registry = await fetch(base, "SELECT to_regclass(%s)", (f"{schema}.vecbridge_collections",))
    assert registry == [(None,)]


async def test_connecting_to_a_fresh_database_creates_nothing(pgvector_url: str) -> None:
    database = unique("fresh")
    await execute(pgvector_url, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    fresh = pgvector_url.rsplit("/", 1)[0] + "/" + database
    try:
        before = await snapshot(fresh, "public")
        async with vb.connect(fresh) as store:
            assert await store.list_collections(native=True) == []
            with pytest.raises(vb.CollectionNotFoundError):
                await store.describe_collection("anything")
            await store.drop_collection("anything", missing_ok=True)
        assert await snapshot(fresh, "public") == before
        assert await fetch(fresh, "SELECT extname FROM pg_extension WHERE extname = 'vector'") == []
        async with vb.connect(fresh) as store:  # the first creation installs what is missing, then works
            collection = await store.create_collection("first", dimension=3)
            await collection.upsert([vb.Record(id="a", vector=[1, 0, 0])])
            assert [m.id for m in await collection.query([1, 0, 0], top_k=1)] == ["a"]
    finally:
        await execute(pgvector_url, sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(database)))


# --- ambiguity, conversions, writes -------------------------------------------------------------


@pytest_asyncio.fixture
async def scratch(pgvector_url: str) -> AsyncIterator[tuple[str, str]]:
    """An empty schema of its own: (vecbridge URL of it, its name)."""
    schema = unique("scratch")
    await execute(
        pgvector_url,
        "CREATE EXTENSION IF NOT EXISTS vector",
        sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)),
    )
    yield with_schema(pgvector_url, schema), schema
    await execute(pgvector_url, sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


async def test_two_text_columns_are_ambiguous_until_the_document_is_declared(
    pgvector_url: str, scratch: tuple[str, str]
) -> None:
    url, schema = scratch
    await execute(
        pgvector_url,
        sql.SQL("CREATE TABLE {}.notes (id text PRIMARY KEY, title text, summary text, v vector(3))").format(
            sql.Identifier(schema)
        ),
        (sql.SQL("INSERT INTO {}.notes VALUES ('n1', 'T', 'S', '[1,0,0]')").format(sql.Identifier(schema)),),
    )
    async with vb.connect(url) as store:
        with pytest.raises(LayoutError) as caught:
            await store.describe_collection("notes")
        assert caught.value.role == "document" and set(caught.value.candidates) == {"title", "summary"}
        assert '{"document": ' in str(caught.value)
        listed = {spec.name: spec for spec in await store.list_collections(native=True)}
        assert "candidates" in listed["notes"].layout.fields[0].note  # type: ignore[union-attr]
        info = await store.describe_collection("notes", layout={"document": "summary", "metric": "cosine"})
        record = (await store.collection("notes", layout={"document": "summary"}).get(["n1"]))[0]
        assert info.count == 1 and record.document == "S" and record.metadata == {"title": "T"}


async def test_two_vector_columns_are_ambiguous(pgvector_url: str, scratch: tuple[str, str]) -> None:
    url, schema = scratch
    await execute(
        pgvector_url,
        sql.SQL("CREATE TABLE {}.pairs (id int PRIMARY KEY, a vector(2), b vector(2))").format(sql.Identifier(schema)),
    )
    async with vb.connect(url) as store:
        with pytest.raises(LayoutError) as caught:
            await store.describe_collection("pairs")
        assert caught.value.role == "vector" and set(caught.value.candidates) == {"a", "b"}
        info = await store.describe_collection("pairs", layout={"vector": "b"})
        assert info.spec.dimension == 2 and info.spec.layout.metric is None  # type: ignore[union-attr]
        with pytest.raises(UnsupportedFeatureError, match="metric"):
            await store.collection("pairs", layout={"vector": "b"}).query([1, 0], top_k=1)


async def test_values_outside_the_contract_are_converted_or_named(pgvector_url: str, scratch: tuple[str, str]) -> None:
    url, schema = scratch
    await execute(
        pgvector_url,
        sql.SQL(
            "CREATE TABLE {}.odd (id uuid PRIMARY KEY, price numeric, big bigint, ratio float8, blob bytea, "
            "extra json, day date, e vector(2))"
        ).format(sql.Identifier(schema)),
        (
            sql.SQL(
                "INSERT INTO {}.odd VALUES ('8d6f4c1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f', 12.50, 9007199254740993, "
                "'NaN', '\\x00ff', '{{\"a\": [1, {{\"b\": null}}]}}', '2024-02-29', '[1,0]')"
            ).format(sql.Identifier(schema)),
        ),
    )
    async with vb.connect(url) as store:
        info = await store.describe_collection("odd", layout={"metric": "euclidean"})
        roles = {f.name: (f.role, f.note) for f in info.spec.layout.fields}  # type: ignore[union-attr]
        assert roles["blob"][0] is FieldRole.UNFIT and "bytea" in roles["blob"][1]
        collection = store.collection("odd", layout={"metric": "euclidean"})
        record = (await collection.get(["8d6f4c1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f"]))[0]
        assert record.metadata == {
            "price": 12.5,
            "big": "9007199254740993",
            "ratio": "NaN",
            "extra": '{"a":[1,{"b":null}]}',
            "day": "2024-02-29",
        }
        assert await collection.count(filter={"big": "9007199254740993"}) == 1
        assert await collection.count(filter={"ratio": "NaN"}) == 1
        with pytest.raises(UnsupportedFilterError, match="price"):
            await collection.count(filter={"price": 12.5})
        [match] = await collection.query([1, 0], top_k=1)
        assert match.id == record.id and match.score == pytest.approx(0.0)


TYPED_FILTERS = [
    {"flag": True},
    {"flag": 1},
    {"flag": {"$ne": False}},
    {"n": 3},
    {"n": 3.0},
    {"n": {"$gt": 2.5}},
    {"n": {"$nin": [1, 3]}},
    {"n": True},
    {"big": {"$gte": 5}},
    {"big": "9007199254740993"},
    {"big": {"$lt": 0}},
    {"x": 0.5},
    {"x": {"$lte": 0.5}},
    {"x": "NaN"},
    {"x": "Infinity"},
    {"x": {"$gt": -1e308}},
    {"label": "a"},
    {"label": {"$in": ["b", "c"]}},
    {"label": {"$exists": False}},
    {"label": 1},
    {"tags": "p"},
    {"tags": {"$ne": "p"}},
    {"tags": {"$in": ["q", "zz"]}},
    {"tags": {"$exists": True}},
    {"j": 1},
    {"j": {"$exists": True}},
    {"j": {"$exists": False}},
    {"$or": [{"flag": False}, {"n": {"$gte": 4}}]},
    {"$not": {"label": "a", "flag": True}},
]


async def test_typed_columns_filter_exactly_as_the_reference_evaluator(
    pgvector_url: str, scratch: tuple[str, str]
) -> None:
    url, schema = scratch
    table = sql.SQL("{}.typed").format(sql.Identifier(schema))
    await execute(
        pgvector_url,
        sql.SQL(
            "CREATE TABLE {} (id int PRIMARY KEY, flag boolean, n int, big bigint, x float8, label text, "
            "tags text[], meta jsonb, v vector)"
        ).format(table),
        (
            sql.SQL(
                "INSERT INTO {} VALUES "
                "(1, true, 3, 5, 0.5, 'a', '{{p,q}}', '{{\"j\": 1}}', '[1,0]'), "
                "(2, false, 1, 9007199254740993, 'NaN', 'b', '{{}}', '{{\"j\": null}}', '[0,1]'), "
                "(3, NULL, 4, -7, 'Infinity', NULL, '{{p,NULL}}', '{{\"j\": [1]}}', '[1,1]'), "
                "(4, true, NULL, NULL, NULL, 'c', NULL, NULL, '[1,2]'), "
                "(5, false, 2, 0, -2.5, 'a', '{{zz}}', '{{\"j\": 1.0}}', '[2,1]'), "
                "(6, NULL, NULL, NULL, NULL, NULL, NULL, '[1, 2]', '[3,1]')"
            ).format(table),
        ),
    )
    async with vb.connect(url) as store:
        collection = store.collection("typed", layout={"document": "", "metric": "cosine"})
        spec = await collection.spec()
        assert spec.dimension == 2  # an untyped vector column: its first row says
        records = [r async for page in collection.scan() for r in page.records]
        assert {r.id: r.metadata.get("big") for r in records}["2"] == "9007199254740993"
        assert {r.id: r.metadata.get("tags") for r in records}["3"] == '["p",null]'
        for filter_ in TYPED_FILTERS:
            expected = sorted(r.id for r in records if evaluate(parse_filter(filter_), r.metadata))
            found = sorted([r.id async for page in collection.scan(filter=filter_) for r in page.records])
            assert found == expected, filter_
            assert await collection.count(filter=filter_) == len(expected), filter_
        drops = spec.layout.drops.lines()  # type: ignore[union-attr]
        assert any(line.endswith("of 'meta' not read: not a JSON object: no keys to merge") for line in drops)


async def test_writes_need_the_opt_in_and_replace_whole_rows(pgvector_url: str, scratch: tuple[str, str]) -> None:
    url, schema = scratch
    table = sql.SQL("{}.items").format(sql.Identifier(schema))
    await execute(
        pgvector_url,
        sql.SQL(
            "CREATE TABLE {} (id bigint PRIMARY KEY, body text, kind text, n int, flags text[], v vector(2), "
            "metadata jsonb, created_at timestamptz DEFAULT now(), status text NOT NULL DEFAULT '100%')"
        ).format(table),
        (
            sql.SQL(
                "INSERT INTO {} (id, body, kind, n, v, metadata) VALUES (1, 'old', 'k', 5, '[1,0]', '{{\"x\": 1}}')"
            ).format(table),
        ),
    )
    async with vb.connect(url) as store:
        read_only = store.collection("items", layout={"metric": "cosine"})
        with pytest.raises(UnsupportedFeatureError, match="writable"):
            await read_only.delete(ids=["1"])
        items = store.collection("items", layout={"metric": "cosine"}, writable=True)
        await items.upsert(
            [
                vb.Record(
                    id="1", vector=[0, 1], metadata={"kind": "new", "flags": ["p", "q"], "y": True}, document="b"
                ),
                vb.Record(id="2", vector=[1, 1], metadata={"n": 7}),
            ]
        )
        rows = await fetch(
            pgvector_url, sql.SQL("SELECT id, body, kind, n, flags, metadata, status FROM {} ORDER BY id").format(table)
        )
        # a key absent from a record is NULL, except in a NOT NULL column with a default: the default
        assert rows == [(1, "b", "new", None, ["p", "q"], {"y": True}, "100%"), (2, None, None, 7, None, {}, "100%")]
        assert await items.count(filter={"flags": "q"}) == 1 and await items.count(filter={"n": {"$ne": 7}}) == 1
        with pytest.raises(InvalidRecordError, match="'n'"):
            await items.upsert(
                [vb.Record(id="3", vector=[1, 0]), vb.Record(id="4", vector=[1, 0], metadata={"n": "x"})]
            )
        with pytest.raises(InvalidRecordError, match="id"):
            await items.upsert([vb.Record(id="not-a-number", vector=[1, 0])])
        assert await items.count() == 2  # nothing of the refused calls was written
        await items.delete(filter={"kind": "new"})
        await items.delete(ids=["2"])
        assert await items.count() == 0


async def test_writes_keep_namespaces_apart_when_the_key_is_the_id_alone(
    pgvector_url: str, scratch: tuple[str, str]
) -> None:
    url, schema = scratch
    table = sql.SQL("{}.docs").format(sql.Identifier(schema))
    await execute(
        pgvector_url,
        sql.SQL("CREATE TABLE {} (id serial PRIMARY KEY, tenant_id text NOT NULL, content text, v vector(2))").format(
            table
        ),
        (sql.SQL("INSERT INTO {} (tenant_id, content, v) VALUES ('acme', 'a', '[1,0]')").format(table),),
    )
    layout = {"namespace": "tenant_id", "metric": "cosine"}
    async with vb.connect(url) as store:
        globex = store.collection("docs", "globex", layout=layout, writable=True)
        with pytest.raises(InvalidRecordError, match="another collection or namespace"):
            await globex.upsert([vb.Record(id="1", vector=[0, 1], document="stolen")])
        await globex.upsert([vb.Record(id="7", vector=[0, 1], document="g")])
        acme = store.collection("docs", "acme", layout=layout, writable=True)
        await acme.upsert([vb.Record(id="1", vector=[1, 1], document="a2")])
    rows = await fetch(pgvector_url, sql.SQL("SELECT id, tenant_id, content FROM {} ORDER BY id").format(table))
    assert rows == [(1, "acme", "a2"), (7, "globex", "g")]


async def test_a_plain_layout_without_a_json_column_refuses_unknown_keys(
    pgvector_url: str, scratch: tuple[str, str]
) -> None:
    url, schema = scratch
    await execute(
        pgvector_url,
        sql.SQL("CREATE TABLE {}.bare (id text PRIMARY KEY, v vector(2), tag text)").format(sql.Identifier(schema)),
    )
    async with vb.connect(url) as store:
        bare = store.collection("bare", layout={"metric": "dot", "document": ""}, writable=True)
        with pytest.raises(InvalidRecordError, match="other"):
            await bare.upsert([vb.Record(id="a", vector=[1, 0], metadata={"tag": "t", "other": 1})])
        await bare.upsert([vb.Record(id="a", vector=[1, 0], metadata={"tag": "t"})])
        assert [(r.id, r.metadata) for r in await bare.get(["a"])] == [("a", {"tag": "t"})]


async def test_filtered_hnsw_queries_come_back_full_when_the_index_stops_short(
    pgvector_url: str, scratch: tuple[str, str]
) -> None:
    url, schema = scratch
    table = sql.SQL("{}.many").format(sql.Identifier(schema))
    data = vectors(3, 2000, 16)
    await execute(
        pgvector_url,
        sql.SQL("CREATE TABLE {} (id int PRIMARY KEY, grp text, v vector(16))").format(table),
        (
            sql.SQL(
                "INSERT INTO {} SELECT i, 'g' || (i %% 50), (%s::real[])[i * 16 + 1 : i * 16 + 16]::vector "
                "FROM generate_series(0, 1999) AS i"
            ).format(table),
            (data.ravel().tolist(),),
        ),
        sql.SQL("CREATE INDEX ON {} USING hnsw (v vector_l2_ops)").format(table),
        sql.SQL("ANALYZE {}").format(table),
    )
    # the planner takes the index (no sorts) and the scan gives up after 100 tuples: 2 % of the rows match
    options = "options=-c%20enable_sort%3Doff%20-c%20hnsw.max_scan_tuples%3D100"
    async with vb.connect(f"{url}&{options}") as store:
        collection = store.collection("many", layout={"document": ""})  # grp, the only text column, is metadata
        query = vectors(4, 1, 16)[0]
        matches = await collection.query(query, top_k=25, filter={"grp": "g7"})
        rows = [i for i in range(2000) if i % 50 == 7]
        distances = np.linalg.norm(data[rows].astype(np.float64) - query, axis=1)
        assert [m.id for m in matches] == [str(rows[i]) for i in np.argsort(distances)[:25]]
        assert [m.score for m in matches] == pytest.approx(sorted(-distances, reverse=True)[:25], abs=1e-4)
        assert store.adapter.stats.exact_fallbacks >= 1  # type: ignore[attr-defined]


async def test_an_ivfflat_inner_product_index_gives_the_metric_and_exact_answers(
    pgvector_url: str, scratch: tuple[str, str]
) -> None:
    url, schema = scratch
    table = sql.SQL("{}.ivf").format(sql.Identifier(schema))
    data = vectors(5, 300, 8)
    await execute(
        pgvector_url,
        sql.SQL("CREATE TABLE {} (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), n int, e vector(8))").format(table),
        (
            sql.SQL(
                "INSERT INTO {} (n, e) SELECT i, (%s::real[])[i * 8 + 1 : i * 8 + 8]::vector "
                "FROM generate_series(0, 299) AS i"
            ).format(table),
            (data.ravel().tolist(),),
        ),
        sql.SQL("CREATE INDEX ON {} USING ivfflat (e vector_ip_ops) WITH (lists = 10)").format(table),
    )
    async with vb.connect(url) as store:
        collection = store.collection("ivf")
        spec = await collection.spec()
        assert spec.metric is vb.Metric.DOT and spec.index == vb.IVF(nlist=10)
        query = vectors(6, 1, 8)[0]
        matches = await collection.query(query, top_k=20, filter={"n": {"$lt": 150}})
        products = data.astype(np.float64) @ query
        # IVF is approximate: the answer is full, filtered, best first, each score the true inner product
        assert len(matches) == 20 and all(int(m.metadata["n"]) < 150 for m in matches)
        assert [m.score for m in matches] == pytest.approx([products[int(m.metadata["n"])] for m in matches], abs=1e-4)
        assert [m.score for m in matches] == sorted((m.score for m in matches), reverse=True)
        records = {r.id: r for r in await collection.get([m.id for m in matches[:3]])}
        assert set(records) == {m.id for m in matches[:3]}  # uuid ids are cast back


async def test_namespace_values_that_are_not_names_are_named(pgvector_url: str, scratch: tuple[str, str]) -> None:
    url, schema = scratch
    await execute(
        pgvector_url,
        sql.SQL("CREATE TABLE {}.tenants (id text PRIMARY KEY, org text, v vector(2))").format(sql.Identifier(schema)),
        (
            sql.SQL("INSERT INTO {}.tenants VALUES ('a', 'ok-1', '[1,0]'), ('b', 'not ok!', '[0,1]')").format(
                sql.Identifier(schema)
            ),
        ),
    )
    async with vb.connect(url) as store:
        with pytest.raises(LayoutError, match="'not ok!'"):
            await store.list_namespaces("tenants", layout={"namespace": "org"})
        ok = store.collection("tenants", "ok-1", layout={"namespace": "org", "metric": "cosine"})
        assert [r.id for r in await ok.get(["a", "b"])] == ["a"]


async def test_rows_without_a_vector_or_a_namespace_are_not_read_and_are_counted(
    pgvector_url: str, scratch: tuple[str, str], tmp_path: Path
) -> None:
    """A row whose vector is NULL cannot be a record, nor one whose namespace is NULL: count, scan,
    get and query all leave them out alike, and info, the plan and the layout's drops say how many."""
    url, schema = scratch
    await execute(
        pgvector_url,
        sql.SQL("CREATE TABLE {}.partial (id int PRIMARY KEY, org text, body text, v vector(2))").format(
            sql.Identifier(schema)
        ),
        (
            sql.SQL(
                "INSERT INTO {}.partial VALUES (1, 'a', 'one', '[1,0]'), (2, 'a', 'two', NULL), "
                "(3, 'b', 'three', '[0,1]'), (4, NULL, 'four', '[1,1]'), (5, 'b', 'five', NULL)"
            ).format(sql.Identifier(schema)),
        ),
    )
    layout = {"namespace": "org", "metric": "cosine"}
    async with vb.connect(url) as store:
        info = await store.describe_collection("partial", layout=layout)
        assert info.spec.dimension == 2
        notes = {f.name: f.note for f in info.spec.layout.fields}  # type: ignore[union-attr]
        assert notes["v"] == "2 rows without a vector are not read"
        assert notes["org"] == "1 rows where it is NULL are in no namespace: not read"
        assert await store.list_namespaces("partial", layout=layout) == ["a", "b"]
        for namespace, expected in (("a", ["1"]), ("b", ["3"])):
            collection = store.collection("partial", namespace, layout=layout)
            scanned = [r.id async for page in collection.scan(page_size=1) for r in page.records]
            assert scanned == expected and await collection.count() == len(scanned)
            assert [r.id for r in await collection.get(["1", "2", "3", "5"])] == expected
            assert [m.id for m in await collection.query([1.0, 1.0], top_k=5)] == expected
        async with vb.connect(f"local://{tmp_path / 'copy'}") as local:
            source = store.collection("partial", layout=layout)
            plan = await plan_migration(source, local.collection("partial"), checkpoint_dir=tmp_path)
            lines = "\n".join(plan.lines())
            assert "field:        source v (vector(2)): 2 rows without a vector are not read" in lines
            assert "field:        source org (text): 1 rows where it is NULL are in no namespace: not read" in lines
            assert plan.ok and plan.total == 2
            report = await vb.migrate(source, local.collection("partial"), verify_mode="full", checkpoint_dir=tmp_path)
            assert report.written_total == 2 and report.verification is not None and report.verification.ok


# --- frameworks ----------------------------------------------------------------------------------


def fake_embeddings() -> Any:
    from langchain_core.embeddings import DeterministicFakeEmbedding

    return DeterministicFakeEmbedding(size=8)


def test_langchain_pgvector_collections_read_back_as_langchain_reads_them(pgvector_url: str) -> None:
    from langchain_core.documents import Document
    from langchain_postgres import PGVector

    name = unique("lc")
    embeddings = fake_embeddings()
    store = PGVector(
        embeddings=embeddings,
        collection_name=name,
        connection=dsn_of(pgvector_url, driver="postgresql+psycopg"),
        use_jsonb=True,
    )  # no embedding_length: langchain-postgres keeps the first one it sees for the whole process
    documents = [
        Document(page_content="cats purr", metadata={"animal": "cat", "legs": 4, "tags": ["pet"]}),
        Document(page_content="dogs bark", metadata={"animal": "dog", "legs": 4, "when": {"y": 2024}}),
        Document(page_content="birds fly", metadata={"animal": "bird", "legs": 2}),
    ]
    ids = store.add_documents(documents, ids=["c", "d", "b"])
    expected = store.similarity_search_with_score("cats purr", k=3, filter={"legs": {"$eq": 4}})

    async def read() -> None:
        async with vb.connect(pgvector_url) as vstore:
            listed = {s.name: s for s in await vstore.list_collections(native=True)}
            assert listed[name].layout.preset == "langchain"  # type: ignore[union-attr]
            collection = vstore.collection(name)
            assert await collection.count() == 3
            records = {r.id: r for r in await collection.get(ids)}
            assert records["d"].metadata == {"animal": "dog", "legs": 4, "when": '{"y":2024}'}
            assert records["c"].document == "cats purr" and records["c"].metadata["tags"] == ["pet"]
            query = embeddings.embed_query("cats purr")
            matches = await collection.query(query, top_k=3, filter={"legs": 4})
            assert [m.id for m in matches] == [doc.id for doc, _ in expected]
            for match, (_, distance) in zip(matches, expected, strict=True):
                assert match.score == pytest.approx(1 - distance, abs=1e-5)

    asyncio.run(read())
    store.delete_collection()


def test_a_langchain_preset_collection_is_read_by_langchain_pgvector(pgvector_url: str) -> None:
    from langchain_postgres import PGVector

    name = unique("lcw")
    embeddings = fake_embeddings()
    texts = ["red apple", "green pear", "yellow banana"]

    async def write() -> None:
        async with vb.connect(pgvector_url) as vstore:
            collection = await vstore.create_collection(name, dimension=8, layout="langchain")
            await collection.upsert(
                vb.Record(
                    id=f"f{i}", vector=embeddings.embed_query(t), metadata={"i": i, "color": t.split()[0]}, document=t
                )
                for i, t in enumerate(texts)
            )

    asyncio.run(write())

    async def foreign_id() -> None:  # ids are unique across LangChain collections: another one's id is refused
        async with vb.connect(pgvector_url) as vstore:
            other = await vstore.create_collection(unique("lco"), dimension=8, layout="langchain")
            with pytest.raises(InvalidRecordError, match="another collection"):
                await other.upsert([vb.Record(id="f0", vector=embeddings.embed_query("x"))])
            assert await other.count() == 0

    asyncio.run(foreign_id())
    store = PGVector(
        embeddings=embeddings,
        collection_name=name,
        connection=dsn_of(pgvector_url, driver="postgresql+psycopg"),
        use_jsonb=True,
    )
    found = store.similarity_search("green pear", k=2, filter={"i": {"$gte": 1}})
    assert len(found) == 2
    assert (found[0].id, found[0].page_content, found[0].metadata) == ("f1", "green pear", {"i": 1, "color": "green"})
    store.delete_collection()


def test_llamaindex_tables_read_back_with_the_node_bookkeeping(pgvector_url: str) -> None:
    from llama_index.core.schema import TextNode
    from llama_index.vector_stores.postgres import PGVectorStore

    name = unique("li")
    store = PGVectorStore(
        connection_string=dsn_of(pgvector_url, driver="postgresql+psycopg"),
        async_connection_string=dsn_of(pgvector_url, driver="postgresql+asyncpg"),
        table_name=name,
        embed_dim=4,
    )
    nodes = [
        TextNode(
            id_=f"n{i}",
            text=f"text {i}",
            metadata={"topic": "t" if i % 2 else "u", "i": i},
            embedding=[1.0, i, 0.0, 1.0],
        )
        for i in range(4)
    ]
    store.add(nodes)
    store.add(
        [TextNode(id_="n1", text="text 1 again", metadata={"topic": "t", "i": 11}, embedding=[1.0, 1.0, 0.0, 1.0])]
    )

    async def read() -> None:
        async with vb.connect(pgvector_url) as vstore:
            listed = {s.name: s for s in await vstore.list_collections(native=True)}
            assert listed[name].layout.preset == "llamaindex"  # type: ignore[union-attr]
            collection = vstore.collection(name)
            assert await collection.count() == 4  # n1 twice: the newest row wins
            again = (await collection.get(["n1"]))[0]
            assert again.document == "text 1 again" and again.metadata["i"] == 11
            assert {"_node_content", "_node_type", "doc_id", "ref_doc_id", "document_id"} <= set(again.metadata)
            assert await collection.count(filter={"topic": "t"}) == 2
            layout = (await collection.spec()).layout
            assert layout is not None
            assert "1 older row" in next(f.note for f in layout.fields if f.name == "node_id")
            assert any("newest row is read" in line for line in layout.drops.lines())

    asyncio.run(read())


def test_langchain_v2_tables_read_back_and_a_preset_table_is_read_by_pgvectorstore(pgvector_url: str) -> None:
    from langchain_core.documents import Document
    from langchain_postgres import Column, PGEngine, PGVectorStore

    written, created = unique("lcv2"), unique("lcv2w")
    embeddings = fake_embeddings()
    engine = PGEngine.from_connection_string(url=dsn_of(pgvector_url, driver="postgresql+psycopg"))
    engine.init_vectorstore_table(table_name=written, vector_size=8, metadata_columns=[Column("category", "TEXT")])
    store = PGVectorStore.create_sync(
        engine=engine, embedding_service=embeddings, table_name=written, metadata_columns=["category"]
    )
    ids = ["00000000-0000-4000-8000-00000000000" + str(i) for i in range(3)]
    store.add_documents(
        [Document(page_content=f"doc {i}", metadata={"category": "ab"[i % 2], "n": i}) for i in range(3)], ids=ids
    )

    async def read_and_write() -> list[vb.Record]:
        async with vb.connect(pgvector_url) as vstore:
            listed = {s.name: s for s in await vstore.list_collections(native=True)}
            assert listed[written].layout.preset == "langchain-v2"  # type: ignore[union-attr]
            collection = vstore.collection(written)
            records = sorted(await collection.get(ids), key=lambda r: r.id)
            assert [(r.document, r.metadata) for r in records] == [
                ("doc 0", {"category": "a", "n": 0}),
                ("doc 1", {"category": "b", "n": 1}),
                ("doc 2", {"category": "a", "n": 2}),
            ]
            assert await collection.count(filter={"category": "a", "n": {"$gt": 0}}) == 1
            target = await vstore.create_collection(created, dimension=8, layout="langchain-v2")
            await target.upsert(records_with_vectors := await collection.get(ids, include_vector=True))
            return records_with_vectors

    records = asyncio.run(read_and_write())
    copy = PGVectorStore.create_sync(engine=engine, embedding_service=embeddings, table_name=created)
    found = copy.similarity_search("doc 1", k=1)
    assert [(d.page_content, d.metadata) for d in found] == [("doc 1", {"category": "b", "n": 1})]
    assert len(records) == 3
    engine.drop_table(written)
    engine.drop_table(created)


def test_a_llamaindex_preset_table_is_queried_by_llamaindex(pgvector_url: str) -> None:
    from llama_index.core.schema import TextNode
    from llama_index.core.vector_stores.types import VectorStoreQuery
    from llama_index.vector_stores.postgres import PGVectorStore

    source, target = unique("lisrc"), unique("lidst")

    def li_store(name: str) -> PGVectorStore:
        return PGVectorStore(
            connection_string=dsn_of(pgvector_url, driver="postgresql+psycopg"),
            async_connection_string=dsn_of(pgvector_url, driver="postgresql+asyncpg"),
            table_name=name,
            embed_dim=3,
        )

    li_store(source).add(
        [TextNode(id_=f"n{i}", text=f"node {i}", metadata={"k": i}, embedding=[1.0, float(i), 0.5]) for i in range(3)]
    )

    async def copy() -> None:
        async with vb.connect(pgvector_url) as vstore:
            records = [r async for page in vstore.collection(source).scan() for r in page.records]
            destination = await vstore.create_collection(target, dimension=3, layout="llamaindex")
            await destination.upsert(records)
            await destination.upsert(records[:1])  # replacing a node leaves one row for it
            assert await destination.count() == 3

    asyncio.run(copy())
    result = li_store(target).query(VectorStoreQuery(query_embedding=[1.0, 2.0, 0.5], similarity_top_k=1))
    assert result.nodes is not None
    [node] = result.nodes
    assert (node.node_id, node.get_content(), node.metadata) == ("n2", "node 2", {"k": 2})

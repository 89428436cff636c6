"""``pgvector://user:password@host:port/dbname?schema=NAME``: PostgreSQL with the pgvector extension.

Storage, in the URL's schema (default ``public``):

* ``vecbridge_collections``: one row per collection, its facts (``CollectionSpec.to_dict()``) as jsonb.
* ``vb_<collection>``: one table per collection, ``(namespace, id)`` primary key (``id`` in the
  byte-order ``C`` collation, which keyset scans walk), ``embedding vector(d)``, ``metadata jsonb``
  and ``document text``; an HNSW or IVFFlat index with the metric's operator class, and a GIN
  index over the metadata for filters.

Every statement is composed with ``psycopg.sql`` (identifiers quoted) and every value is a bound
parameter. The client is psycopg 3 async with an ``AsyncConnectionPool``; vectors travel in
pgvector's binary format both ways.
"""

from __future__ import annotations

import json
import struct
import warnings
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

import numpy as np
import psycopg
import psycopg_pool
from pgvector.psycopg import register_vector_async
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg.types.json import Jsonb

from vecbridge.adapter import Adapter, BulkLoad, Capability
from vecbridge.errors import (
    BackendError,
    CollectionExistsError,
    CollectionNotFoundError,
    InvalidURLError,
    TransientBackendError,
    UnsupportedFeatureError,
    VecbridgeError,
)
from vecbridge.filters import FilterNode
from vecbridge.layout import Layout
from vecbridge.types import HNSW, IVF, CollectionSpec, FloatArray, Match, Metadata, Metric, Page, Record, SearchParams
from vecbridge.url import URL
from vecbridge_pgvector.compat import vector_array
from vecbridge_pgvector.filters import PgvectorFilterCompiler, SqlFilter
from vecbridge_pgvector.metrics import OPCLASS as _OPCLASS
from vecbridge_pgvector.metrics import OPERATOR as _OPERATOR
from vecbridge_pgvector.metrics import SCORE_OFFSET as _SCORE_OFFSET
from vecbridge_pgvector.native import NativeTables
from vecbridge_pgvector.ranges import decode_range, key_quantiles, partition_cursors

REGISTRY_TABLE = "vecbridge_collections"
TABLE_PREFIX = "vb_"
#: pgvector indexes ``vector`` columns of at most this many dimensions.
MAX_INDEXED_DIMENSION = 2000
#: The largest ``hnsw.ef_search`` pgvector accepts.
MAX_EF_SEARCH = 1000
_URL_OPTIONS = frozenset(
    {
        "schema",
        "pool_min",
        "pool_max",
        "pool_timeout",
        "ef_search",
        "options",
        "sslmode",
        "connect_timeout",
        "application_name",
    }
)
_LOCK_KEY = 0x7662_6467  # advisory lock serializing DDL of vecbridge collections ("vbdg")


_IDLE = psycopg.pq.TransactionStatus.IDLE

_TRANSIENT = (
    psycopg.OperationalError,
    pg_errors.SerializationFailure,
    pg_errors.DeadlockDetected,
    pg_errors.UniqueViolation,  # a concurrent first insert of the same id: the retry takes the merge path
    pg_errors.LockNotAvailable,
    pg_errors.QueryCanceled,
    psycopg_pool.PoolTimeout,
)


@dataclass(slots=True)
class QueryStats:
    """Counters a caller (and the tests) can read: how often a short ANN answer was redone exactly."""

    ann_queries: int = 0
    #: unfiltered HNSW scans that came back short without iterative scanning and were rerun with it
    iterative_retries: int = 0
    exact_fallbacks: int = 0
    #: queries that asked for ``SearchParams(exact=True)``: run without the index
    exact_queries: int = 0
    #: the ``hnsw.ef_search`` / ``ivfflat.probes`` the last ANN query ran with (what a caller can check)
    last_effort: dict[str, int] | None = None


def _int_option(url: URL, key: str, default: int) -> int:
    raw = url.get(key)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidURLError(f"{url}: option {key} must be an integer, got {raw!r}") from None
    if value < 1:
        raise InvalidURLError(f"{url}: option {key} must be positive")
    return value


class PgvectorAdapter(Adapter):
    """PostgreSQL + pgvector; native async (psycopg 3 ``AsyncConnection`` through a pool)."""

    name: ClassVar[str] = "pgvector"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.PERSISTENT,
            Capability.SHARED_ACROSS_CONNECTIONS,
            Capability.INDEX_SETTINGS,
            Capability.BULK_LOAD,
            Capability.ATOMIC_UPSERT,
            Capability.NATIVE_LAYOUTS,
            Capability.PARTITIONED_SCAN,
            Capability.SEARCH_EF,
            Capability.SEARCH_PROBES,
            Capability.SEARCH_EXACT,
            Capability.SEARCH_DEFAULTS,
        }
    )
    max_batch: ClassVar[int] = 2000
    max_concurrency: ClassVar[int] = 2
    #: Measured: every float reads back bit for bit except ``-0.0``, which comes back as ``0.0``
    #: (metadata is JSONB, whose numbers are ``numeric``: no negative zero). No EXACT_FLOATS, 0 ulp.
    float_error_ulps: ClassVar[int | None] = 0
    filter_compiler = PgvectorFilterCompiler

    def __init__(
        self, conninfo: str, schema: str, pool_min: int, pool_max: int, ef_search: int, pool_timeout: int = 30
    ) -> None:
        self.schema = schema
        self.ef_search = ef_search
        self.stats = QueryStats()
        #: tables vecbridge did not create (``native.py``): specs with a layout are dispatched there
        self.native = NativeTables(self)
        #: (collection, namespace) pairs whose upserts met existing ids: they take the replace path directly
        self._replacing: set[tuple[str, str]] = set()
        #: idle sessions kept out of the pool, reused last-in first-out (see ``_connection``)
        self._idle: list[psycopg.AsyncConnection[Any]] = []
        #: (collection, namespace) pairs whose unfiltered HNSW scan came back short without iterative
        #: scanning (other namespaces fill the graph): their queries scan iteratively from the start
        self._sparse: set[tuple[str, str]] = set()
        #: each pooled session's ``hnsw.iterative_scan`` (True: strict_order) by ``id(conn)``, switched
        #: only on a change; ``_configure`` writes it for every new session, so a reused id starts afresh
        self._iterative: dict[int, bool] = {}
        #: rendered search statements around the filter, per (collection, metric, IVF?, top_k, vectors?)
        self._query_frames: dict[tuple[str, Metric, bool, int, bool], tuple[bytes, bytes]] = {}
        self.pool = psycopg_pool.AsyncConnectionPool(
            conninfo,
            min_size=pool_min,
            max_size=pool_max,
            open=False,
            configure=self._configure,
            kwargs={"autocommit": True},
            # how long a call waits for a session: while the server is down, each attempt of a call
            # (and of a long run's retries) waits this long before it fails as transient
            timeout=pool_timeout,
        )

    # --- connection ------------------------------------------------------------------------------

    @classmethod
    async def connect(cls, url: URL) -> Adapter:
        unknown = set(url.query) - _URL_OPTIONS
        if unknown:
            raise InvalidURLError(
                f"{url}: unknown option(s) {sorted(unknown)}; known: {', '.join(sorted(_URL_OPTIONS))}"
            )
        dbname = url.path.lstrip("/") or None
        if dbname is not None and "/" in dbname:
            raise InvalidURLError(f"{url}: the path names one database, as in pgvector://host/dbname")
        schema = url.get("schema") or "public"
        params: dict[str, Any] = {
            "host": url.host,
            "port": url.port,
            "user": url.username,
            "password": url.password,
            "dbname": dbname,
            "sslmode": url.get("sslmode"),
            "options": url.get("options"),
            "connect_timeout": url.get("connect_timeout", "10"),
            "application_name": url.get("application_name", "vecbridge"),
        }
        conninfo = make_conninfo("", **{k: v for k, v in params.items() if v is not None})
        pool_min = _int_option(url, "pool_min", 1)
        pool_max = max(pool_min, _int_option(url, "pool_max", 8))
        ef_search = _int_option(url, "ef_search", 40)
        if ef_search > MAX_EF_SEARCH:
            raise InvalidURLError(f"{url}: ef_search is at most {MAX_EF_SEARCH}")
        adapter = cls(conninfo, schema, pool_min, pool_max, ef_search, _int_option(url, "pool_timeout", 30))
        with adapter.errors(f"connect to {url}"):
            await adapter.pool.open(wait=True, timeout=30)
        return adapter

    async def _install_extension(self, conn: psycopg.AsyncConnection[Any]) -> bool:
        """Create the extension and the schema where missing, in the caller's transaction (which holds
        the DDL advisory lock). Only creating a collection calls it: connecting and reading never
        write. True when the extension was created just now (see :meth:`_sessions_know_vectors`)."""
        installed = await (await conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'")).fetchone()
        if installed is None:
            await conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        await conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema)))
        return installed is None

    async def _sessions_know_vectors(self) -> None:
        """After the extension was created: sessions opened before it have no ``vector`` type
        registered (see :meth:`_configure`), so they are replaced."""
        while self._idle:
            await self.pool.putconn(self._idle.pop())
        await self.pool.drain()

    async def _configure(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Per pooled session: vector types and the search defaults (nothing is created: the staging
        table for replacing upserts comes with the first one, see :meth:`upsert_atomic`).

        The session defaults (iterative index scans, ``ef_search``) let a common query run as one
        autocommit statement, one round trip; a query that needs other values sets them with
        ``SET LOCAL`` in its own transaction, except ``hnsw.iterative_scan``, which :meth:`query`
        switches per session when it changes (see there). The pool's sessions belong to this adapter.
        """
        try:
            await register_vector_async(conn)
        except psycopg.ProgrammingError:  # no extension yet: creating a collection installs it, then renews sessions
            return
        await conn.execute(
            "SELECT set_config('hnsw.iterative_scan', 'strict_order', false), "
            "set_config('ivfflat.iterative_scan', 'relaxed_order', false), set_config('hnsw.ef_search', %s, false)",
            (str(self.ef_search),),
        )
        if len(self._iterative) > 1000:  # ids of closed sessions
            self._iterative.clear()
        self._iterative[id(conn)] = True

    async def close(self) -> None:
        while self._idle:
            await self.pool.putconn(self._idle.pop())
        await self.pool.close()

    def map_error(self, exc: Exception, action: str) -> VecbridgeError:
        message = f"{self.name}: {action} failed: {type(exc).__name__}: {exc}".strip()
        if isinstance(exc, pg_errors.UndefinedTable):
            return CollectionNotFoundError(f"{self.name}: {action}: the collection's table does not exist")
        if isinstance(exc, _TRANSIENT):
            return TransientBackendError(message, orig=exc)
        return BackendError(message, orig=exc)

    @asynccontextmanager
    async def _connection(self, action: str, transaction: bool = True) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A pooled (autocommit) connection, errors mapped; with ``transaction`` inside one
        transaction, committed on success. Single statements skip it: one round trip less.

        Up to ``pool_min`` idle sessions stay with the adapter and are reused last-in first-out:
        the pool hands its idle connections out in turn, so after a burst of concurrent work every
        query would land on another server process, with cold caches (a few percent per query;
        PgBouncer reuses server connections LIFO for the same reason). A session that failed, or is
        left in a transaction, goes back to the pool, which checks it and replaces it if broken.
        """
        with self.errors(action):
            conn = await self._checkout()
            try:
                if transaction:
                    async with conn.transaction():
                        yield conn
                else:
                    yield conn
            except BaseException:
                await self.pool.putconn(conn)
                raise
            await self._release(conn)

    async def _checkout(self) -> psycopg.AsyncConnection[Any]:
        """The session used last (see :meth:`_connection`), or one from the pool."""
        return self._idle.pop() if self._idle else await self.pool.getconn()

    async def _release(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """After success: keep ``conn`` for reuse (see :meth:`_connection`) or give it back to the pool."""
        if len(self._idle) < self.pool.min_size and conn.info.transaction_status == _IDLE and not conn.closed:
            self._idle.append(conn)
        else:
            await self.pool.putconn(conn)

    # --- names -----------------------------------------------------------------------------------

    def _table(self, name: str) -> sql.Composed:
        return sql.SQL("{}.{}").format(sql.Identifier(self.schema), sql.Identifier(TABLE_PREFIX + name))

    def _registry(self) -> sql.Composed:
        return sql.SQL("{}.{}").format(sql.Identifier(self.schema), sql.Identifier(REGISTRY_TABLE))

    @staticmethod
    def _index_names(name: str) -> tuple[str, str]:
        return f"{TABLE_PREFIX}{name}_ann", f"{TABLE_PREFIX}{name}_meta"

    # --- collections -----------------------------------------------------------------------------

    async def create_collection(self, spec: CollectionSpec) -> None:
        """The registry table (on the first creation), the collection's table, indexes and registry
        row, in one transaction; with ``spec.layout`` the native shape it names (``native.py``)."""
        async with self._connection(f"create collection {spec.name!r}") as conn:
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            extension_created = await self._install_extension(conn)
            if spec.layout is not None:
                await self.native.create(conn, spec)
            else:
                await self._create_vecbridge_collection(conn, spec)
        if extension_created:
            await self._sessions_know_vectors()

    async def _create_vecbridge_collection(self, conn: psycopg.AsyncConnection[Any], spec: CollectionSpec) -> None:
        await conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (name text PRIMARY KEY, spec jsonb NOT NULL, "
                "created_at timestamptz NOT NULL DEFAULT now())"
            ).format(self._registry())
        )
        taken = await (
            await conn.execute(sql.SQL("SELECT 1 FROM {} WHERE name = %s").format(self._registry()), (spec.name,))
        ).fetchone()
        if taken is not None:
            raise CollectionExistsError(f"collection {spec.name!r} already exists")
        await conn.execute(
            sql.SQL(
                'CREATE TABLE {} (namespace text NOT NULL, id text COLLATE "C" NOT NULL, '
                "embedding vector({}) NOT NULL, metadata jsonb NOT NULL DEFAULT '{{}}'::jsonb, document text, "
                "PRIMARY KEY (namespace, id))"
            ).format(self._table(spec.name), sql.Literal(spec.dimension))
        )
        await self._create_indexes(conn, spec)
        await conn.execute(
            sql.SQL("INSERT INTO {} (name, spec) VALUES (%s, %s)").format(self._registry()),
            (spec.name, Jsonb(spec.to_dict())),
        )

    async def _create_indexes(self, conn: psycopg.AsyncConnection[Any], spec: CollectionSpec) -> None:
        """The ANN index the spec asks for (none for ``Flat``) and the metadata GIN index; idempotent."""
        ann, meta = self._index_names(spec.name)
        table = self._table(spec.name)
        await conn.execute(
            sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} USING gin (metadata jsonb_path_ops)").format(
                sql.Identifier(meta), table
            )
        )
        index = spec.index
        if not isinstance(index, HNSW | IVF):
            return
        if spec.dimension > MAX_INDEXED_DIMENSION:
            warnings.warn(
                f"pgvector indexes at most {MAX_INDEXED_DIMENSION} dimensions; collection {spec.name!r} "
                f"({spec.dimension}) is searched exactly, without an ANN index",
                stacklevel=2,
            )
            return
        opclass = sql.SQL(_OPCLASS[spec.metric])
        if isinstance(index, HNSW):
            method, options = "hnsw", {"m": index.m, "ef_construction": index.ef_construction}
        else:
            method, options = "ivfflat", {"lists": index.nlist}
        with_clause = sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.SQL(k), sql.Literal(v)) for k, v in options.items()
        )
        await conn.execute(
            sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} USING {} (embedding {}) WITH ({})").format(
                sql.Identifier(ann), table, sql.SQL(method), opclass, with_clause
            )
        )

    async def drop_collection(self, name: str) -> None:
        async with self._connection(f"drop collection {name!r}") as conn:
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            rows = await self._registry_rows(conn, "DELETE FROM {} WHERE name = %s RETURNING name", (name,))
            if not rows:
                raise CollectionNotFoundError(f"collection {name!r} does not exist")
            await conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(self._table(name)))

    async def list_collections(self) -> list[CollectionSpec]:
        async with self._connection("list collections", transaction=False) as conn:
            rows = await self._registry_rows(conn, "SELECT spec FROM {}", ())
        return [CollectionSpec.from_dict(row[0]) for row in rows]

    async def describe_collection(self, name: str) -> CollectionSpec:
        async with self._connection(f"describe collection {name!r}", transaction=False) as conn:
            rows = await self._registry_rows(conn, "SELECT spec FROM {} WHERE name = %s", (name,))
        if not rows:
            raise CollectionNotFoundError(f"collection {name!r} does not exist")
        return CollectionSpec.from_dict(rows[0][0])

    async def set_search_defaults(self, collection: CollectionSpec, search: SearchParams | None) -> None:
        """The default is a key of the collection's registry row (``spec -> 'search'``). A table
        vecbridge did not create has no row, and reading it never writes one: not offered there."""
        if collection.layout is not None:
            raise UnsupportedFeatureError(
                f"{self.name}: collection {collection.name!r} is not vecbridge's: no registry row to keep "
                "a default search setting in (pass search= per query)"
            )
        value = Jsonb({} if search is None else {"search": search.to_dict()})
        statement = "UPDATE {} SET spec = (spec - 'search') || %s WHERE name = %s RETURNING name"
        async with self._connection(f"set search defaults of {collection.name!r}") as conn:
            if not await self._registry_rows(conn, statement, (value, collection.name)):
                raise CollectionNotFoundError(f"collection {collection.name!r} does not exist")

    async def _registry_rows(
        self, conn: psycopg.AsyncConnection[Any], statement: str, params: tuple[Any, ...]
    ) -> list[Any]:
        """Rows of ``statement`` on the registry table (``{}``); none while the table (or the schema)
        does not exist: it is created with the first collection, never by reading."""
        query = sql.SQL(statement).format(self._registry())
        try:
            if conn.info.transaction_status == _IDLE:  # autocommit: a failed statement leaves nothing behind
                return await (await conn.execute(query, params)).fetchall()
            async with conn.transaction():  # a savepoint inside the caller's transaction
                return await (await conn.execute(query, params)).fetchall()
        except (pg_errors.UndefinedTable, pg_errors.InvalidSchemaName):
            return []

    async def list_native_collections(self) -> list[CollectionSpec]:
        return await self.native.list_collections()

    async def describe_native_collection(self, name: str, layout: Layout) -> CollectionSpec:
        return await self.native.describe(name, layout)

    def compile_filter(self, node: FilterNode, collection: CollectionSpec) -> Any:
        if collection.layout is not None:
            return self.native.compile_filter(node, collection)
        return self.filter_compiler().compile(node)

    async def list_namespaces(self, collection: CollectionSpec) -> list[str]:
        if collection.layout is not None:
            return await self.native.list_namespaces(collection)
        # a loose index scan over the primary key: one index probe per namespace, not a full scan
        statement = sql.SQL(
            "WITH RECURSIVE ns AS ((SELECT namespace FROM {t} ORDER BY namespace LIMIT 1) UNION ALL "
            "SELECT (SELECT namespace FROM {t} WHERE namespace > ns.namespace ORDER BY namespace LIMIT 1) "
            "FROM ns WHERE ns.namespace IS NOT NULL) SELECT namespace FROM ns WHERE namespace IS NOT NULL"
        ).format(t=self._table(collection.name))
        async with self._connection(f"list namespaces of {collection.name!r}", transaction=False) as conn:
            rows = await (await conn.execute(statement)).fetchall()
        return [row[0] for row in rows]

    # --- records ---------------------------------------------------------------------------------

    async def upsert(self, collection: CollectionSpec, namespace: str, records: Sequence[Record]) -> None:
        if collection.layout is not None:
            await self.native.upsert(collection, namespace, _batches_of([records]))
            return
        await self.upsert_atomic(collection, namespace, _batches_of([records]))

    async def upsert_atomic(
        self, collection: CollectionSpec, namespace: str, batches: AsyncIterator[Sequence[Record]]
    ) -> None:
        """One transaction and one binary COPY stream for all batches: PostgreSQL parses the rows sent
        while the core validates the next batch (a COPY per batch would wait for the server at each
        end). Straight into the table while the namespace takes new ids only; when an id exists (a
        unique violation rolls back to a savepoint), and from then on for that namespace, every batch
        goes into a staging table, then ``INSERT ... ON CONFLICT DO UPDATE`` replaces whole rows.

        Into an empty namespace (a fresh load) the batches sent are not kept for that fallback: the
        ids of one call are distinct, so only a concurrent writer of the same id can collide, and
        its unique violation is a transient error the core retries. Keeping them would hold every
        validated record to the end, and the garbage collector would walk them again and again."""
        if collection.layout is not None:
            await self.native.upsert(collection, namespace, batches)
            return
        table = self._table(collection.name)
        key = (collection.name, namespace)
        async with self._connection(f"upsert into {collection.name!r}") as conn:
            sent: list[Sequence[Record]] | None = []  # replayed into the staging table after a unique violation
            if key not in self._replacing:
                empty = await (
                    await conn.execute(
                        sql.SQL("SELECT NOT EXISTS (SELECT FROM {} WHERE namespace = %s)").format(table), (namespace,)
                    )
                ).fetchone()
                if empty is not None and empty[0]:
                    sent = None
                copy_sql = sql.SQL(
                    "COPY {} (namespace, id, embedding, metadata, document) FROM STDIN (FORMAT BINARY)"
                ).format(table)
                try:
                    async with conn.transaction(), conn.cursor().copy(copy_sql) as copy:  # in a savepoint
                        await _copy_batches(copy, batches, collection.dimension, namespace, sent)
                    return
                except pg_errors.UniqueViolation:
                    if sent is None:
                        raise
                    if len(self._replacing) > 10_000:
                        self._replacing.clear()
                    self._replacing.add(key)
            # rows staged for an upsert that replaces existing records; emptied at each commit. Made
            # here, not per session: a session that only reads creates nothing, not even a temp table
            await conn.execute(
                "CREATE TEMP TABLE IF NOT EXISTS vb_stage "
                "(id text, embedding vector, metadata jsonb, document text) ON COMMIT DELETE ROWS"
            )
            async with conn.cursor().copy(
                "COPY vb_stage (id, embedding, metadata, document) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                await _copy_batches(copy, _batches_of(sent or [], batches), collection.dimension, None, None)
            await conn.execute(
                sql.SQL(
                    "INSERT INTO {} (namespace, id, embedding, metadata, document) "
                    "SELECT %s, id, embedding, metadata, document FROM vb_stage "
                    "ON CONFLICT (namespace, id) DO UPDATE SET embedding = EXCLUDED.embedding, "
                    "metadata = EXCLUDED.metadata, document = EXCLUDED.document"
                ).format(table),
                (namespace,),
            )

    @staticmethod
    def _where(namespace: str, filter: SqlFilter | None) -> tuple[sql.Composable, tuple[Any, ...]]:
        if filter is None:
            return sql.SQL("namespace = %s"), (namespace,)
        return sql.SQL("namespace = %s AND ({})").format(filter.clause), (namespace, *filter.params)

    def _search_settings(
        self, collection: CollectionSpec, top_k: int, search: SearchParams | None = None
    ) -> tuple[str, tuple[Any, ...]] | None:
        """Index settings one query needs beyond the session defaults, or ``None``.

        They are applied with ``set_config(..., true)``, which is ``SET LOCAL`` with bound values:
        they end with the query's transaction and are read when the statement runs, so a statement
        psycopg has prepared (after 5 runs) obeys them too; ``test_pgvector`` checks the plan.
        ``search.ef`` is ``hnsw.ef_search`` and ``search.probes`` ``ivfflat.probes``, as given (an
        ``ef`` below ``top_k`` keeps the answer full: see :meth:`query`); without them an HNSW
        query looks at ``max(ef_search, top_k)`` candidates, an IVF query at a tenth of the lists.
        """
        if isinstance(collection.index, IVF):
            probes = search.probes if search is not None and search.probes is not None else None
            if probes is None:
                probes = max(1, min(collection.index.nlist, collection.index.nlist // 10 or 1))
            self.stats.last_effort = {"probes": probes}
            return (
                "SELECT set_config('ivfflat.iterative_scan', 'relaxed_order', true), "
                "set_config('ivfflat.probes', %s, true)",
                (str(probes),),
            )
        if search is not None and search.ef is not None:
            ef = min(MAX_EF_SEARCH, search.ef)
            self.stats.last_effort = {"ef": ef}
            return "SELECT set_config('hnsw.ef_search', %s, true)", (str(ef),)
        self.stats.last_effort = {"ef": max(self.ef_search, min(MAX_EF_SEARCH, top_k))}
        if top_k <= self.ef_search:
            return None
        return "SELECT set_config('hnsw.ef_search', %s, true)", (str(min(MAX_EF_SEARCH, top_k)),)

    def _query_sql(
        self,
        collection: CollectionSpec,
        namespace: str,
        vector: FloatArray,
        top_k: int,
        filter: SqlFilter | None,
        include_vectors: bool = False,
    ) -> tuple[bytes, tuple[Any, ...]]:
        """The search statement, rendered, and its parameters. The statement's frame (all but the
        filter) is rendered once per collection and shape: composing it anew cost more per query
        than the rest of the adapter's Python."""
        key = (collection.name, collection.metric, isinstance(collection.index, IVF), top_k, include_vectors)
        frame = self._query_frames.get(key)
        if frame is None:
            frame = self._query_frame(collection, top_k, include_vectors)
            if len(self._query_frames) >= 1024:
                self._query_frames.clear()
            self._query_frames[key] = frame
        head, tail = frame
        if filter is None:
            return head + tail, (vector, namespace)
        return head + b" AND (" + filter.clause.as_bytes(None) + b")" + tail, (vector, namespace, *filter.params)

    def _query_frame(self, collection: CollectionSpec, top_k: int, include_vectors: bool) -> tuple[bytes, bytes]:
        """``SELECT ... WHERE namespace = %s`` and `` ORDER BY ... LIMIT k``, between which a filter goes."""
        head = sql.SQL("SELECT {columns}, embedding {op} %s AS distance FROM {t} WHERE namespace = %s").format(
            columns=self._columns(include_vectors),
            op=sql.SQL(_OPERATOR[collection.metric]),
            t=self._table(collection.name),
        )
        # LIMIT is a literal (a validated int): a bound LIMIT makes PostgreSQL plan every execution anew
        tail = sql.SQL(" ORDER BY distance LIMIT {k}").format(k=sql.Literal(int(top_k)))
        if isinstance(collection.index, IVF):  # ivfflat's iterative scan returns rows in relaxed order
            head = sql.SQL("SELECT * FROM ({}").format(head)
            tail = sql.SQL("{}) AS hits ORDER BY distance").format(tail)
        return head.as_bytes(None), tail.as_bytes(None)

    async def query(
        self,
        collection: CollectionSpec,
        namespace: str,
        vector: FloatArray,
        top_k: int,
        filter: Any | None,
        include_vectors: bool,
        search: SearchParams | None = None,
    ) -> list[Match]:
        """Iterative HNSW scans (``strict_order``) keep a filtered query's answer full, at a cost of a
        few percent on every scan. An unfiltered query in a namespace that fills the graph does not
        need them: it runs without, and only if it comes back short (the namespace shares the graph
        with others) is it rerun iteratively, and that namespace scans iteratively from then on. A
        full answer of the plain scan is the same as the iterative scan's: both return the same
        candidates first, in the same order.

        ``search`` (:meth:`_search_settings`): an ``ef`` below ``top_k`` scans iteratively, so the
        answer is still ``top_k`` long: the first ``ef`` candidates as a plain scan finds them, then
        the scan goes on (pgvector alone would return only ``ef`` rows). ``exact`` plans the
        statement without index scans: a sequential scan and a sort, the exact answer."""
        if collection.layout is not None:
            return await self.native.query(collection, namespace, vector, top_k, filter, include_vectors, search)
        statement, params = self._query_sql(collection, namespace, vector, top_k, filter, include_vectors)
        if search is not None and search.exact:
            return await self._exact_query(collection, statement, params, include_vectors)
        settings = self._search_settings(collection, top_k, search)
        hnsw = isinstance(collection.index, HNSW) and collection.dimension <= MAX_INDEXED_DIMENSION
        key = (collection.name, namespace)
        below_k = search is not None and search.ef is not None and search.ef < top_k
        iterative = filter is not None or key in self._sparse or below_k
        # what ``_connection`` does, inline: its two context managers cost a few percent of a query
        conn: psycopg.AsyncConnection[Any] | None = None
        try:
            conn = await self._checkout()
            rows = await self._search(conn, statement, params, settings, iterative if hnsw else None)
            self.stats.ann_queries += 1
            if hnsw and not iterative and len(rows) < top_k:
                if len(self._sparse) > 10_000:
                    self._sparse.clear()
                self._sparse.add(key)
                rows = await self._search(conn, statement, params, settings, True)
                self.stats.iterative_retries += 1
            if len(rows) < top_k:
                exact_rows = await self._exact(conn, statement, params)
                if len(exact_rows) > len(rows):
                    rows = exact_rows
        except BaseException as exc:  # cancellation too: the session goes back to the pool
            if conn is not None:
                await self.pool.putconn(conn)
            if isinstance(exc, Exception):
                raise self.map_error(exc, f"query {collection.name!r}") from exc
            raise
        await self._release(conn)
        return self._matches(collection, rows, include_vectors)

    def _matches(self, collection: CollectionSpec, rows: list[Any], include_vectors: bool) -> list[Match]:
        offset = _SCORE_OFFSET[collection.metric]
        return [
            Match(row[0], offset - row[4], row[1], row[2], vector_array(row[3]) if include_vectors else None)
            for row in rows
        ]

    async def _exact_query(
        self, collection: CollectionSpec, statement: bytes, params: tuple[Any, ...], include_vectors: bool
    ) -> list[Match]:
        """``SearchParams(exact=True)``: the statement planned without index scans."""
        async with self._connection(f"query {collection.name!r}", transaction=False) as conn:
            rows = await self._exact(conn, statement, params, fallback=False)
        return self._matches(collection, rows, include_vectors)

    async def _exact(
        self, conn: psycopg.AsyncConnection[Any], statement: bytes, params: tuple[Any, ...], fallback: bool = True
    ) -> list[Any]:
        """``statement`` without index scans: the ANN scan may stop short (hnsw.max_scan_tuples, IVF
        probes); the exact plan does not. prepare=False: a plan cached before the switch would ignore it.
        ``fallback``: counted as a rerun of a short answer (else as an exact query asked for)."""
        async with conn.transaction():
            await conn.execute("SELECT set_config('enable_indexscan', 'off', true)")
            exact = await conn.execute(statement, params, binary=True, prepare=False)
            rows = await exact.fetchall()
        if fallback:
            self.stats.exact_fallbacks += 1
        else:
            self.stats.exact_queries += 1
        return rows

    async def _search(
        self,
        conn: psycopg.AsyncConnection[Any],
        statement: bytes,
        params: tuple[Any, ...],
        settings: tuple[str, tuple[Any, ...]] | None,
        iterative: bool | None,
    ) -> list[Any]:
        """Run the search statement; ``iterative`` (``None``: leave as is) switches the session's
        ``hnsw.iterative_scan`` first when it differs: a session setting, in autocommit, so it
        holds for later queries on this session and costs a round trip only on a change."""
        if iterative is not None and self._iterative.get(id(conn)) is not iterative:
            value = "strict_order" if iterative else "off"
            await conn.execute("SELECT set_config('hnsw.iterative_scan', %s, false)", (value,))
            self._iterative[id(conn)] = iterative
        if settings is None:
            return await (await conn.execute(statement, params, binary=True)).fetchall()
        async with conn.transaction():
            await conn.execute(*settings)
            return await (await conn.execute(statement, params, binary=True)).fetchall()

    @staticmethod
    def _record(row: Sequence[Any], include_vectors: bool) -> Record:
        vector = vector_array(row[3]) if include_vectors else np.zeros(0, dtype=np.float32)
        return Record(id=row[0], vector=vector, metadata=row[1], document=row[2])

    def _columns(self, include_vectors: bool) -> sql.SQL:
        return sql.SQL("id, metadata, document, embedding" if include_vectors else "id, metadata, document, NULL")

    async def get(
        self, collection: CollectionSpec, namespace: str, ids: Sequence[str], include_vectors: bool
    ) -> list[Record]:
        if collection.layout is not None:
            return await self.native.get(collection, namespace, ids, include_vectors)
        statement = sql.SQL("SELECT {} FROM {} WHERE namespace = %s AND id = ANY(%s)").format(
            self._columns(include_vectors), self._table(collection.name)
        )
        async with self._connection(f"get from {collection.name!r}", transaction=False) as conn:
            rows = await (await conn.execute(statement, (namespace, list(ids)), binary=True)).fetchall()
        return [self._record(row, include_vectors) for row in rows]

    async def delete_ids(self, collection: CollectionSpec, namespace: str, ids: Sequence[str]) -> None:
        if collection.layout is not None:
            return await self.native.delete_ids(collection, namespace, ids)
        statement = sql.SQL("DELETE FROM {} WHERE namespace = %s AND id = ANY(%s)").format(self._table(collection.name))
        async with self._connection(f"delete from {collection.name!r}", transaction=False) as conn:
            await conn.execute(statement, (namespace, list(ids)))

    async def delete_where(self, collection: CollectionSpec, namespace: str, filter: Any | None) -> None:
        if collection.layout is not None:
            return await self.native.delete_where(collection, namespace, filter)
        where, params = self._where(namespace, filter)
        statement = sql.SQL("DELETE FROM {} WHERE {}").format(self._table(collection.name), where)
        async with self._connection(f"delete from {collection.name!r}", transaction=False) as conn:
            await conn.execute(statement, params)

    async def count(self, collection: CollectionSpec, namespace: str, filter: Any | None) -> int:
        if collection.layout is not None:
            return await self.native.count(collection, namespace, filter)
        where, params = self._where(namespace, filter)
        statement = sql.SQL("SELECT count(*) FROM {} WHERE {}").format(self._table(collection.name), where)
        async with self._connection(f"count {collection.name!r}", transaction=False) as conn:
            row = await (await conn.execute(statement, params)).fetchone()
        return int(row[0]) if row else 0

    async def scan(
        self,
        collection: CollectionSpec,
        namespace: str,
        cursor: str | None,
        page_size: int,
        filter: Any | None,
        include_vectors: bool,
    ) -> Page:
        if collection.layout is not None:
            return await self.native.scan(collection, namespace, cursor, page_size, filter, include_vectors)
        where, params = self._where(namespace, filter)
        scope = decode_range(cursor)
        bounds, bound_params = scope.clause(sql.SQL("id"), str)
        statement = sql.SQL("SELECT {} FROM {} WHERE {} ORDER BY id LIMIT %s").format(
            self._columns(include_vectors), self._table(collection.name), sql.SQL(" AND ").join([where, *bounds])
        )
        async with self._connection(f"scan {collection.name!r}", transaction=False) as conn:
            rows = await (
                await conn.execute(statement, (*params, *bound_params, page_size + 1), binary=True)
            ).fetchall()
        records = [self._record(row, include_vectors) for row in rows[:page_size]]
        next_cursor = scope.after(records[-1].id) if len(rows) > page_size else None
        return Page(records, next_cursor)

    async def partitions(self, collection: CollectionSpec, namespace: str, count: int) -> list[str | None]:
        """Ranges of the id between its quantiles in the namespace (see :mod:`vecbridge_pgvector.ranges`)."""
        if collection.layout is not None:
            return await self.native.partitions(collection, namespace, count)
        where, params = self._where(namespace, None)
        async with self._connection(f"partition {collection.name!r}", transaction=False) as conn:
            bounds = await key_quantiles(conn, sql.SQL("id"), self._table(collection.name), where, params, count)
        return partition_cursors(bounds)

    # --- bulk load -------------------------------------------------------------------------------

    async def bulk_load(self, collection: CollectionSpec) -> BulkLoad:
        if collection.layout is not None:  # a native table's indexes are its application's: left alone
            return BulkLoad()
        return PgvectorBulkLoad(self, collection)

    async def drop_indexes(self, collection: CollectionSpec) -> None:
        ann, meta = self._index_names(collection.name)
        async with self._connection(f"drop the indexes of {collection.name!r}") as conn:
            for index in (ann, meta):
                await conn.execute(
                    sql.SQL("DROP INDEX IF EXISTS {}.{}").format(sql.Identifier(self.schema), sql.Identifier(index))
                )

    async def build_indexes(self, collection: CollectionSpec) -> None:
        """(Re)create the collection's indexes; a no-op for those that exist."""
        async with self._connection(f"build the indexes of {collection.name!r}") as conn:
            await conn.execute("SELECT set_config('maintenance_work_mem', '1GB', true)")
            await self._create_indexes(conn, collection)
            # fresh statistics: without them the planner guesses `namespace = ...` matches 0.5 % of the
            # rows and sorts a primary-key scan (exact, but a full scan) instead of using the new index
            await conn.execute(sql.SQL("ANALYZE {}").format(self._table(collection.name)))


class PgvectorBulkLoad(BulkLoad):
    """Drop the ANN and metadata indexes on entry, build them once on exit: COPY into an unindexed
    table runs orders of magnitude faster than maintaining an HNSW graph row by row. Queries during
    the load stay correct (they scan exactly). The exit builds the indexes even when the load failed,
    if the server still answers: when it does not (it went away, which is why the load failed), the
    load's own error is the one raised, and the resumed load builds them at its end."""

    def __init__(self, adapter: PgvectorAdapter, collection: CollectionSpec) -> None:
        self.adapter = adapter
        self.collection = collection

    async def __aenter__(self) -> PgvectorBulkLoad:
        self.adapter._replacing = {k for k in self.adapter._replacing if k[0] != self.collection.name}
        await self.adapter.drop_indexes(self.collection)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if exc_info[0] is None:
            await self.adapter.build_indexes(self.collection)
            return
        with suppress(VecbridgeError):
            await self.adapter.build_indexes(self.collection)


def _json_float(value: float) -> str:
    """A float as JSON text that jsonb keeps a float: jsonb stores numbers as ``numeric`` and prints
    ``1.25e+300`` back as bare digits (which would read back as an int), so integral floats written in
    exponent form are spelled out in full with a ``.0`` scale. The decimal is the float's shortest
    repr, so numeric comparisons with filter operands (also shortest reprs) stay exact."""
    text = repr(value)
    if "e+" in text:
        return format(Decimal(text), "f") + ".0"
    return text


_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
#: the stdlib's C encoder with ``_JSON``'s options, called directly: ``JSONEncoder.encode`` builds
#: one per call, which cost as much as the encoding itself (``None`` where the C module is missing)
_make_c_encoder: Callable[..., Callable[[object, int], tuple[str, ...]]] | None = getattr(
    json.encoder, "c_make_encoder", None
)
_C_ENCODE = (
    _make_c_encoder(None, _JSON.default, json.encoder.encode_basestring, None, ":", ",", False, False, True)
    if _make_c_encoder is not None
    else None
)


def metadata_json(metadata: Metadata) -> str:
    """Metadata as JSON text whose every value reads back with its Python type."""
    text = "".join(_C_ENCODE(metadata, 0)) if _C_ENCODE is not None else _JSON.encode(metadata)
    if "e+" not in text:  # no float in exponent form (a string holding "e+" only costs the slow path)
        return text
    parts = []
    for key, value in metadata.items():
        encoded = _json_float(value) if isinstance(value, float) else _JSON.encode(value)
        parts.append(f"{_JSON.encode(key)}:{encoded}")
    return "{" + ",".join(parts) + "}"


_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_COPY_TRAILER = b"\xff\xff"


async def _batches_of(
    first: Iterable[Sequence[Record]], rest: AsyncIterator[Sequence[Record]] | None = None
) -> AsyncIterator[Sequence[Record]]:
    for batch in first:
        yield batch
    if rest is not None:
        async for batch in rest:
            yield batch


async def _copy_batches(
    copy: psycopg.AsyncCopy,
    batches: AsyncIterator[Sequence[Record]],
    dimension: int,
    namespace: str | None,
    sent: list[Sequence[Record]] | None,
) -> None:
    """Send ``batches`` as one binary COPY stream, appending each to ``sent`` (when given) first."""
    await copy.write(_COPY_HEADER)
    async for batch in batches:
        if sent is not None:
            sent.append(batch)
        for chunk in copy_rows(batch, dimension, namespace):
            await copy.write(chunk)
    await copy.write(_COPY_TRAILER)


def copy_rows(
    records: Sequence[Record], dimension: int, namespace: str | None, rows_per_chunk: int = 256
) -> Iterator[bytes]:
    """Rows of a ``COPY ... (FORMAT BINARY)`` stream for ``[namespace,] id, embedding, metadata,
    document``, in chunks: the caller sends each before the next is built, so PostgreSQL parses
    rows while the rest are encoded (and other writers' streams keep flowing) instead of waiting.

    Each chunk is built column-wise (each column encoded by one comprehension, every length word
    of a column by one ``struct.pack``, the vectors by one numpy conversion to pgvector's
    big-endian wire format), then each row by one bytes formatting: a few microseconds a record,
    where adapting row by row costs tens. jsonb's binary form is a version byte then the JSON text.
    """
    width = 4 * dimension
    vector_head = struct.pack(">iHH", width + 4, dimension, 0)
    if namespace is None:
        row_head = struct.pack(">h", 4)
    else:
        encoded = namespace.encode()
        row_head = struct.pack(">hi", 5, len(encoded)) + encoded
    for start in range(0, len(records), rows_per_chunk):
        chunk = records[start : start + rows_per_chunk]
        count = len(chunk)
        vectors = np.stack([np.asarray(r.vector, dtype=np.float32) for r in chunk]).astype(">f4").tobytes()
        ids = [r.id.encode() for r in chunk]
        metadatas = [b"\x01" + metadata_json(r.metadata).encode() for r in chunk]
        documents = [b"" if r.document is None else r.document.encode() for r in chunk]
        id_lengths = struct.pack(f">{count}i", *map(len, ids))
        metadata_lengths = struct.pack(f">{count}i", *map(len, metadatas))
        document_lengths = struct.pack(
            f">{count}i", *(-1 if r.document is None else len(d) for r, d in zip(chunk, documents, strict=True))
        )
        yield b"".join(
            [
                b"%b%b%b%b%b%b%b%b%b"
                % (
                    row_head,
                    id_lengths[4 * i : 4 * i + 4],
                    ids[i],
                    vector_head,
                    vectors[width * i : width * (i + 1)],
                    metadata_lengths[4 * i : 4 * i + 4],
                    metadatas[i],
                    document_lengths[4 * i : 4 * i + 4],
                    documents[i],
                )
                for i in range(count)
            ]
        )

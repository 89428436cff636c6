"""The synchronous API: ``vb.connect_sync(url)`` gives a ``SyncStore`` with the same operations as ``Store``, blocking.

Each ``SyncStore`` owns a private event loop running in a daemon thread; its async ``Store`` lives on
that loop, so the adapter's connections and pools stay bound to one loop for the store's lifetime.
A blocking call submits a coroutine to that loop (``asyncio.run_coroutine_threadsafe``) and waits for
its result. The caller's thread never runs the loop, so the same calls work from a plain script,
from many threads at once, and from code that is itself running inside an event loop (a Jupyter
cell, a synchronous framework callback inside an async server): never "event loop is already
running", never a deadlock. Async code that shares the store (a framework integration with both
sync and async methods) awaits the same loop with ``SyncStore.arun``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import weakref
from collections.abc import AsyncIterator, Coroutine, Generator, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from vecbridge.errors import InvalidArgumentError, VecbridgeError
from vecbridge.filters import Filter
from vecbridge.layout import LayoutInput
from vecbridge.store import Collection, Store
from vecbridge.types import (
    DEFAULT_NAMESPACE,
    CollectionInfo,
    CollectionSpec,
    IndexSpec,
    Match,
    Metric,
    Page,
    Record,
    SearchParams,
    Vector,
)
from vecbridge.url import URL

T = TypeVar("T")


class LoopThread:
    """A private event loop running forever in a daemon thread, until ``stop``.

    Submissions and ``stop`` take one lock, so a call submitted before ``stop`` is a task the
    shutdown cancels (its caller gets an error, never a wait on a stopped loop) and a call after
    ``stop`` is refused.
    """

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._lock = threading.Lock()
        self._stopping = False
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    @property
    def in_loop_thread(self) -> bool:
        return threading.current_thread() is self._thread

    @property
    def stopping(self) -> bool:
        return self._stopping

    def _submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        with self._lock:
            if self._stopping:
                coroutine.close()
                raise VecbridgeError("the synchronous store is closed")
            return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the private loop and block until it is done; its exception is raised here."""
        if self.in_loop_thread:
            coroutine.close()
            raise VecbridgeError(
                "a blocking vecbridge call was made from the store's own event loop: await the async API there"
            )
        try:
            return self._submit(coroutine).result()
        except concurrent.futures.CancelledError:
            raise VecbridgeError("the synchronous store was closed during the call") from None

    async def arun(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Await ``coroutine`` on the private loop from any other loop, without blocking that loop.

        Cancelling the caller cancels the coroutine on the private loop.
        """
        if asyncio.get_running_loop() is self.loop:
            return await coroutine
        return await asyncio.wrap_future(self._submit(coroutine))

    def stop(self) -> None:
        """Cancel what still runs on the loop, stop it and, unless called from it, wait for its thread
        and close the loop."""
        with self._lock:
            if self._stopping:
                return
            self._stopping = True
        asyncio.run_coroutine_threadsafe(_cancel_all_and_stop(self.loop), self.loop)
        if not self.in_loop_thread:
            self._thread.join()
            self.loop.close()


async def _cancel_all_and_stop(loop: asyncio.AbstractEventLoop) -> None:
    pending = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    loop.stop()


def _shut_down(loop_thread: LoopThread, store: Store) -> None:
    """Close ``store`` on its loop, then stop the loop: run by ``SyncStore.close`` and at garbage collection."""
    if loop_thread.stopping:
        return
    if loop_thread.in_loop_thread:  # collected on its own loop: nothing may block there
        loop_thread.loop.create_task(_close_then_stop(loop_thread, store))
        return
    loop_thread.run(store.close())
    loop_thread.stop()


async def _close_then_stop(loop_thread: LoopThread, store: Store) -> None:
    await store.close()
    loop_thread.stop()


class SyncStore:
    """A connection to one backend with blocking methods: ``with vb.connect_sync(url) as store: ...``.

    Thread-safe: any number of threads may call it at once (the calls run concurrently on the
    store's loop, as concurrent tasks would on ``Store``). ``close`` (or the ``with`` block) releases
    the connection and the loop's thread; a store that is garbage-collected unclosed releases them too.
    """

    def __init__(self, url: str | URL) -> None:
        self.store = Store(url)
        self.url = self.store.url
        self._loop_thread = LoopThread(name=f"vecbridge-sync {self.url.backend}")
        self._finalizer = weakref.finalize(self, _shut_down, self._loop_thread, self.store)
        try:
            self.run(self.store.open())
        except BaseException:
            self._finalizer()
            raise

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine of the async API (``self.store``) on the store's loop; block for its result."""
        return self._loop_thread.run(coroutine)

    async def arun(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Await a coroutine of the async API (``self.store``) from any event loop, on the store's loop."""
        return await self._loop_thread.arun(coroutine)

    def close(self) -> None:
        self._finalizer()

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive

    def __enter__(self) -> SyncStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<vecbridge.SyncStore {self.url}>"

    def create_collection(
        self,
        name: str,
        dimension: int,
        metric: str | Metric = Metric.COSINE,
        *,
        index: IndexSpec | None = None,
        embedding_model: str | None = None,
        namespace: str = DEFAULT_NAMESPACE,
        exist_ok: bool = False,
        layout: LayoutInput = None,
    ) -> SyncCollection:
        """``Store.create_collection``, blocking."""
        collection = self.run(
            self.store.create_collection(
                name,
                dimension,
                metric,
                index=index,
                embedding_model=embedding_model,
                namespace=namespace,
                exist_ok=exist_ok,
                layout=layout,
            )
        )
        return SyncCollection(self, collection)

    def collection(
        self,
        name: str,
        namespace: str = DEFAULT_NAMESPACE,
        *,
        embedding_model: str | None = None,
        layout: LayoutInput = None,
        writable: bool = False,
    ) -> SyncCollection:
        """``Store.collection``: a handle whose facts are read on first use."""
        collection = self.store.collection(
            name, namespace, embedding_model=embedding_model, layout=layout, writable=writable
        )
        return SyncCollection(self, collection)

    def describe_collection(self, name: str, *, layout: LayoutInput = None) -> CollectionInfo:
        return self.run(self.store.describe_collection(name, layout=layout))

    def list_collections(self, *, native: bool = False) -> list[CollectionSpec]:
        return self.run(self.store.list_collections(native=native))

    def drop_collection(self, name: str, *, missing_ok: bool = False) -> None:
        self.run(self.store.drop_collection(name, missing_ok=missing_ok))

    def has_collection(self, name: str) -> bool:
        return self.run(self.store.has_collection(name))

    def list_namespaces(self, name: str, *, layout: LayoutInput = None) -> list[str]:
        return self.run(self.store.list_namespaces(name, layout=layout))


class SyncCollection:
    """``Collection`` with blocking methods; ``collection`` is the async handle, on the store's loop."""

    def __init__(self, store: SyncStore, collection: Collection) -> None:
        self.store = store
        self.collection = collection

    @property
    def name(self) -> str:
        return self.collection.name

    @property
    def namespace(self) -> str:
        return self.collection.namespace

    def __repr__(self) -> str:
        return f"<vecbridge.SyncCollection {self.name!r} namespace={self.namespace!r} on {self.store.url}>"

    def with_namespace(self, namespace: str) -> SyncCollection:
        return SyncCollection(self.store, self.collection.with_namespace(namespace))

    def spec(self) -> CollectionSpec:
        return self.store.run(self.collection.spec())

    def describe(self) -> CollectionInfo:
        return self.store.run(self.collection.describe())

    def upsert(
        self, records: Iterable[Record], *, batch_size: int | None = None, concurrency: int | None = None
    ) -> int:
        """``Collection.upsert`` of an iterable (read here, in the caller's thread), blocking."""
        items = list(records)
        return self.store.run(self.collection.upsert(items, batch_size=batch_size, concurrency=concurrency))

    def upsert_creating(
        self,
        records: Iterable[Record],
        *,
        metric: str | Metric = Metric.COSINE,
        dimension: int | None = None,
        embedding_model: str | None = None,
        batch_size: int | None = None,
    ) -> int:
        """``Collection.upsert_creating``: creates the collection on the first write, blocking."""
        items = list(records)
        return self.store.run(
            self.collection.upsert_creating(
                items, metric=metric, dimension=dimension, embedding_model=embedding_model, batch_size=batch_size
            )
        )

    def delete(self, ids: Sequence[str] | None = None, *, filter: Filter | None = None, all: bool = False) -> None:
        self.store.run(self.collection.delete(ids, filter=filter, all=all))

    def query(
        self,
        vector: Vector,
        top_k: int = 10,
        *,
        filter: Filter | None = None,
        min_score: float | None = None,
        include_vector: bool = False,
        search: SearchParams | None = None,
    ) -> list[Match]:
        return self.store.run(
            self.collection.query(
                vector, top_k, filter=filter, min_score=min_score, include_vector=include_vector, search=search
            )
        )

    def partitions(self, count: int) -> list[str | None]:
        """``Collection.partitions``: disjoint ranges covering the namespace, as scan cursors."""
        return self.store.run(self.collection.partitions(count))

    def get(self, ids: Sequence[str], *, include_vector: bool = True) -> list[Record]:
        return self.store.run(self.collection.get(ids, include_vector=include_vector))

    def count(self, filter: Filter | None = None) -> int:
        return self.store.run(self.collection.count(filter))

    def scan(
        self,
        page_size: int = 1000,
        *,
        cursor: str | None = None,
        filter: Filter | None = None,
        include_vector: bool = True,
    ) -> Generator[Page, None, None]:
        """``Collection.scan`` as a plain iterator of pages, each fetched when asked for."""
        pages: AsyncIterator[Page] = self.collection.scan(
            page_size, cursor=cursor, filter=filter, include_vector=include_vector
        )
        try:
            while (page := self.store.run(_next_page(pages))) is not None:
                yield page
        finally:
            if not self.store.closed:
                self.store.run(_close_pages(pages))

    @contextmanager
    def bulk_load(self) -> Iterator[SyncCollection]:
        """``Collection.bulk_load``: index maintenance deferred until the block ends."""
        block = self.collection.bulk_load()
        self.store.run(block.__aenter__())
        try:
            yield self
        except BaseException as exc:
            if not self.store.run(block.__aexit__(type(exc), exc, exc.__traceback__)):
                raise
        else:
            self.store.run(block.__aexit__(None, None, None))


async def _next_page(pages: AsyncIterator[Page]) -> Page | None:
    return await anext(pages, None)


async def _close_pages(pages: AsyncIterator[Page]) -> None:
    close = getattr(pages, "aclose", None)
    if close is not None:
        await close()


def open_or_share(url: str | URL | None, store: SyncStore | None) -> tuple[SyncStore, bool]:
    """For a framework store built with ``url=`` or ``store=``: the sync store to use, and whether
    the framework store owns it (it opened it, so it closes it); exactly one of the two is given."""
    if url is not None and store is None:
        return SyncStore(url), True
    if store is not None and url is None:
        return store, False
    raise InvalidArgumentError("give either url=... or store=vb.connect_sync(url), not both or neither")


def connect_sync(url: str | URL) -> SyncStore:
    """A connected ``SyncStore`` for ``url``: ``with vb.connect_sync("memory://") as store: ...``."""
    return SyncStore(url)

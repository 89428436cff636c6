"""Fixtures, gates and reference helpers shared by every conformance group.

An adapter's test module subclasses :class:`~vecbridge_conformance.ConformanceSuite` (or one group)
and overrides one fixture, ``backend_url``. Everything else here is the suite's own machinery:

* ``store``: a fresh ``vb.connect(backend_url)`` per test, closed afterwards;
* ``new_collection``: creates uniquely named collections (``vbt_<8 hex>``) and drops them at teardown;
* capability gates (:func:`requires`) that skip with "<adapter> lacks <capability>";
* reference answers from :func:`vecbridge.filters.evaluate` and numpy, never hand-written lists.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pytest
import pytest_asyncio

import vecbridge as vb
from vecbridge.adapter import Adapter, Capability
from vecbridge.filters import FilterNode, MatchAll, evaluate, parse_filter
from vecbridge.registry import adapter_for
from vecbridge.url import URL

SCORE_TOLERANCE = 1e-4
VECTOR_TOLERANCE = 1e-5
DEFAULT_EXAMPLES = 25
EXAMPLES_ENV = "VECBRIDGE_CONFORMANCE_EXAMPLES"
URL_ENV = "VECBRIDGE_CONFORMANCE_URL"

Float64Array = npt.NDArray[np.float64]


class BackendNotConfiguredError(RuntimeError):
    """The test class did not say which backend to test: an error, never a silent skip."""


def requires(*capabilities: Capability) -> pytest.MarkDecorator:
    """Mark a test as needing ``capabilities``; it is skipped with "<adapter> lacks <capability>" otherwise."""
    return pytest.mark.vb_requires(*capabilities)


def uses(*capabilities: Capability) -> pytest.MarkDecorator:
    """Mark a test whose expectation depends on ``capabilities`` (it runs either way; reports group it)."""
    return pytest.mark.vb_uses(*capabilities)


def unique_name(prefix: str = "vbt") -> str:
    """A portable, collision-free collection name (``vbt_1a2b3c4d``)."""
    return f"{prefix}_{secrets.token_hex(4)}"


def seeded_rng(*parts: object) -> np.random.Generator:
    """A generator seeded from the test's own identity, so a failure reproduces."""
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def operators_of(node: FilterNode) -> set[str]:
    """Every operator a parsed filter uses (``$eq``, ``$and``...)."""
    from vecbridge.filters import And, Not, Or

    if isinstance(node, MatchAll):
        return set()
    found = {node.operator}
    if isinstance(node, And | Or):
        for child in node.children:
            found |= operators_of(child)
    elif isinstance(node, Not):
        found |= operators_of(node.child)
    return found


def reference_scores(metric: vb.Metric | str, vectors: npt.ArrayLike, query: npt.ArrayLike) -> Float64Array:
    """Scores in the vecbridge convention computed with numpy in float64 from float32 inputs."""
    matrix = np.asarray(np.asarray(vectors, dtype=np.float32), dtype=np.float64)
    q = np.asarray(np.asarray(query, dtype=np.float32), dtype=np.float64)
    metric = vb.Metric.parse(metric)
    if metric is vb.Metric.DOT:
        result: Float64Array = matrix @ q
    elif metric is vb.Metric.COSINE:
        result = (matrix @ q) / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(q))
    else:
        result = -np.sqrt(((matrix - q) ** 2).sum(axis=1))
    return result


def separated_vectors(
    rng: np.random.Generator, count: int, dimension: int, metric: vb.Metric | str, gap: float = 2e-3
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """``count`` vectors and a query whose scores are pairwise at least ``gap`` apart (no ties)."""
    for _ in range(1000):
        vectors = rng.normal(size=(count, dimension)).astype(np.float32)
        query = rng.normal(size=dimension).astype(np.float32)
        scores = np.sort(reference_scores(metric, vectors, query))
        if count < 2 or float(np.min(np.diff(scores))) > gap:
            return vectors, query
    raise RuntimeError("could not draw well-separated vectors")  # pragma: no cover


def expected_ids(records: Iterable[vb.Record], filter_: Mapping[str, Any] | FilterNode | None) -> list[str]:
    """Ids of ``records`` the reference evaluator says match ``filter_``."""
    node = parse_filter(filter_)
    return [record.id for record in records if evaluate(node, record.metadata)]


def ranked(
    records: Sequence[vb.Record], metric: vb.Metric | str, query: npt.ArrayLike, ids: Iterable[str] | None = None
) -> list[tuple[str, float]]:
    """(id, reference score) best first, restricted to ``ids`` when given."""
    wanted = None if ids is None else set(ids)
    chosen = [r for r in records if wanted is None or r.id in wanted]
    if not chosen:
        return []
    scores = reference_scores(metric, np.stack([np.asarray(r.vector, dtype=np.float32) for r in chosen]), query)
    pairs = [(record.id, float(score)) for record, score in zip(chosen, scores, strict=True)]
    return sorted(pairs, key=lambda pair: -pair[1])


def normalized(vector: npt.ArrayLike) -> npt.NDArray[np.float64]:
    array = np.asarray(vector, dtype=np.float64)
    norm = float(np.linalg.norm(array))
    return array / norm if norm else array


def assert_vector_equal(actual: npt.ArrayLike, expected: npt.ArrayLike, *, normalize: bool = False) -> None:
    """Read-back equality within float32 tolerance (compared normalized when the backend normalizes)."""
    got = np.asarray(actual, dtype=np.float64)
    want = np.asarray(np.asarray(expected, dtype=np.float32), dtype=np.float64)
    if normalize:
        got, want = normalized(got), normalized(want)
    assert got.shape == want.shape, f"vector shape {got.shape} != {want.shape}"
    np.testing.assert_allclose(got, want, rtol=VECTOR_TOLERANCE, atol=VECTOR_TOLERANCE)


def assert_same_metadata(actual: Mapping[str, Any], expected: Mapping[str, Any]) -> None:
    """Metadata equal key by key, with the Python type of every value preserved."""
    assert set(actual) == set(expected), f"metadata keys {sorted(actual)} != {sorted(expected)}"
    for key, value in expected.items():
        got = actual[key]
        assert type(got) is type(value), (
            f"{key}: {got!r} ({type(got).__name__}) is not {value!r} ({type(value).__name__})"
        )
        if isinstance(value, float):
            assert got == pytest.approx(value, rel=1e-12, abs=0.0), f"{key}: {got!r} != {value!r}"
        else:
            assert got == value, f"{key}: {got!r} != {value!r}"


class CollectionFactory:
    """Creates uniquely named collections on the test's store and remembers them for teardown.

    With a ``layout`` the collections are created in that native shape (writable), and ``drop``
    removes them: vecbridge never drops a collection it did not create in its own storage.
    """

    def __init__(
        self,
        store: vb.Store,
        layout: vb.Layout | str | None = None,
        drop: Callable[[vb.Store, str], Awaitable[None]] | None = None,
    ) -> None:
        self.store = store
        self.names: list[str] = []
        self.layout = layout
        self._drop = drop

    async def __call__(
        self,
        dimension: int = 8,
        metric: str | vb.Metric = "cosine",
        *,
        namespace: str = vb.DEFAULT_NAMESPACE,
        index: vb.IndexSpec | None = None,
        embedding_model: str | None = None,
        name: str | None = None,
    ) -> vb.Collection:
        chosen = name or unique_name()
        self.names.append(chosen)
        return await self.store.create_collection(
            chosen,
            dimension,
            metric,
            namespace=namespace,
            index=index,
            embedding_model=embedding_model,
            layout=self.layout,
        )

    async def drop_all(self) -> None:
        for name in self.names:
            with contextlib.suppress(vb.VecbridgeError):  # the test itself may have broken the store
                if self._drop is not None:
                    await self._drop(self.store, name)
                else:
                    await self.store.drop_collection(name, missing_ok=True)


#: Read-only collections shared by the tests of one session (validation tests need a collection,
#: not a fresh one each): (backend URL, purpose) -> name. Dropped at session end by the plugin.
_SHARED: dict[tuple[str, str], str] = {}


async def shared_collection(store: vb.Store, backend_url: str, purpose: str) -> vb.Collection:
    """A 4-d cosine collection reused by every test of the session that asks for ``purpose``."""
    name = _SHARED.setdefault((backend_url, purpose), unique_name("vbs"))
    return await store.create_collection(name, 4, "cosine", exist_ok=True)


def drop_shared_collections() -> None:
    """Drop every shared collection (called from ``pytest_sessionfinish``, outside any event loop)."""

    async def drop(url: str, name: str) -> None:
        async with vb.connect(url) as store:
            await store.drop_collection(name, missing_ok=True)

    for (url, _), name in list(_SHARED.items()):
        with contextlib.suppress(Exception):
            asyncio.run(drop(url, name))
    _SHARED.clear()


class SuiteBase:
    """Fixtures and helpers every group shares. Subclasses override ``backend_url``.

    Class attributes an adapter's test class may set:

    * ``known_bugs = {"test_name": "why"}``: those tests are strict xfails (a fix makes them fail);
    * ``conformance_examples = 50``: hypothesis examples of the differential test.
    * ``layout = "native"`` (a preset name, a dict or a ``vb.Layout``): run the class against
      collections created in that native layout (``Capability.NATIVE_LAYOUTS``); the class then
      overrides :meth:`drop_native_collection`. Meant for the read-side groups (query, filters,
      scan, count, differential), which must answer exactly as on vecbridge's own storage.
    """

    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [pytest.mark.asyncio]
    #: Name of the operation group a class tests (used in reports).
    group: ClassVar[str] = "base"
    known_bugs: ClassVar[Mapping[str, str]] = {}
    conformance_examples: ClassVar[int | None] = None
    layout: ClassVar[vb.Layout | str | None] = None

    async def drop_native_collection(self, store: vb.Store, name: str) -> None:
        """Remove a collection the suite created in :attr:`layout` (override with the store's own call)."""
        raise NotImplementedError(f"{type(self).__name__} sets a layout: it must override drop_native_collection")

    @pytest.fixture
    def backend_url(self, request: pytest.FixtureRequest) -> str:
        """Override in the adapter's test class to return the URL of a running backend."""
        url = request.config.getoption("vecbridge_url", default=None) or os.environ.get(URL_ENV)
        if not url:
            raise BackendNotConfiguredError(
                f"backend not configured: {type(self).__name__} must override the 'backend_url' fixture "
                "(or run pytest with --vecbridge-url URL)"
            )
        return str(url)

    @pytest.fixture
    def adapter_class(self, backend_url: str) -> type[Adapter]:
        url = URL.parse(backend_url)
        return adapter_for(url.backend).variant(url)

    @pytest.fixture(autouse=True)
    def _vb_capability_gate(self, request: pytest.FixtureRequest, adapter_class: type[Adapter]) -> None:
        for marker in request.node.iter_markers("vb_requires"):
            for capability in marker.args:
                if capability not in adapter_class.capabilities:
                    pytest.skip(f"{adapter_class.name} lacks {Capability(capability).value}")

    @pytest.fixture
    def conformance_examples_count(self, request: pytest.FixtureRequest) -> int:
        option = request.config.getoption("vecbridge_examples", default=None)
        value = option or os.environ.get(EXAMPLES_ENV) or self.conformance_examples or DEFAULT_EXAMPLES
        return max(1, int(value))

    @pytest_asyncio.fixture
    async def store(self, backend_url: str) -> AsyncIterator[vb.Store]:
        async with vb.connect(backend_url) as connected:
            yield connected

    @pytest_asyncio.fixture
    async def new_collection(self, store: vb.Store) -> AsyncIterator[CollectionFactory]:
        drop = None if self.layout is None else self.drop_native_collection
        factory = CollectionFactory(store, self.layout, drop)
        yield factory
        await factory.drop_all()

    @pytest_asyncio.fixture
    async def empty_collection(self, store: vb.Store, backend_url: str) -> vb.Collection:
        """A shared 4-d cosine collection nothing is ever written to (for validation tests)."""
        return await shared_collection(store, backend_url, "empty")

    # --- helpers -----------------------------------------------------------------------------

    @staticmethod
    def require_filter(adapter: type[Adapter] | Adapter, filter_: Mapping[str, Any] | FilterNode) -> FilterNode:
        """Skip unless the adapter's compiler implements every operator of ``filter_``."""
        node = parse_filter(filter_)
        missing = sorted(operators_of(node) - set(adapter.supported_filter_operators()))
        if missing:
            pytest.skip(f"{adapter.name} does not support filter operator {', '.join(missing)}")
        return node

    @staticmethod
    async def expect_compiles(collection: vb.Collection, node: FilterNode) -> None:
        """Skip (naming the adapter and its reason) when the adapter refuses this exact filter shape."""
        spec = await collection.spec()
        if isinstance(node, MatchAll):
            return
        adapter = collection.store.adapter
        try:
            adapter.compile_filter(node, spec)
        except vb.UnsupportedFilterError as exc:
            pytest.skip(f"{adapter.name} cannot express this filter exactly: {exc}")

    @staticmethod
    async def scan_all(
        collection: vb.Collection,
        *,
        page_size: int = 1000,
        filter: Mapping[str, Any] | None = None,
        include_vector: bool = True,
    ) -> list[vb.Record]:
        found: list[vb.Record] = []
        async for page in collection.scan(page_size, filter=filter, include_vector=include_vector):
            found.extend(page.records)
        return found

    @staticmethod
    async def first_page(collection: vb.Collection, page_size: int, cursor: str | None = None) -> vb.Page | None:
        """The first page of a scan starting at ``cursor`` (the scan is then abandoned)."""
        async for page in collection.scan(page_size, cursor=cursor):
            return page
        return None

    @staticmethod
    async def expect_error(
        error: type[BaseException], action: Callable[[], Awaitable[Any]], match: str | None = None
    ) -> BaseException:
        with pytest.raises(error, match=match) as info:
            await action()
        return info.value


def make_records(
    vectors: npt.NDArray[np.float32],
    metadata: Sequence[Mapping[str, Any]] | None = None,
    *,
    prefix: str = "r",
    documents: Sequence[str | None] | None = None,
) -> list[vb.Record]:
    """Records ``<prefix>0..`` over ``vectors`` with optional metadata and documents."""
    out = []
    for position, vector in enumerate(vectors):
        md: dict[str, Any] = dict(metadata[position]) if metadata is not None else {"i": position}
        document = documents[position] if documents is not None else f"document {position}"
        out.append(vb.Record(id=f"{prefix}{position}", vector=vector, metadata=md, document=document))
    return out

"""Deliberately broken variants of the reference adapter: the conformance suite must catch each one.

Each variant changes one behaviour of ``MemoryAdapter`` (or ``LocalAdapter``) the way a real adapter
gets it wrong, and ``register_all()`` registers each under its own scheme (``broken-<name>://``).
``VARIANTS`` says which conformance group is expected to catch it, so the meta-test runs only that group.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np

import vecbridge.registry
from vecbridge.adapter import Adapter
from vecbridge.filters import And, Eq, Exists, FilterCompiler, FilterNode, In, Ne, Nin, Not, Or
from vecbridge.memory import LocalAdapter, MemoryAdapter, ReferenceCompiler
from vecbridge.types import CollectionSpec, FloatArray, Match, Metric, Page, Record


def _rewrite(node: FilterNode, change: Any) -> FilterNode:
    """Apply ``change`` to every node of a tree, bottom-up."""
    if isinstance(node, And | Or):
        node = type(node)(tuple(_rewrite(c, change) for c in node.children))
    elif isinstance(node, Not):
        node = Not(_rewrite(node.child, change))
    result: FilterNode = change(node)
    return result


class NeExcludesMissing(MemoryAdapter):
    """``$ne`` / ``$nin`` behave like SQL ``<>``: records missing the field are left out."""

    name: ClassVar[str] = "broken-ne"

    def compile_filter(self, node: FilterNode, collection: CollectionSpec) -> Any:
        def change(n: FilterNode) -> FilterNode:
            if isinstance(n, Ne | Nin):
                return And((Exists(n.field, True), n))
            return n

        return _rewrite(node, change)


class ScoresAsDistances(MemoryAdapter):
    """Returns the backend's native distance (lower is better) instead of the vecbridge score."""

    name: ClassVar[str] = "broken-distance"

    async def query(self, collection: CollectionSpec, namespace: str, *args: Any) -> list[Match]:
        matches = await super().query(collection, namespace, *args)
        for match in matches:
            match.score = 1.0 - match.score if collection.metric is Metric.COSINE else -match.score
        return matches


class SquaredL2(MemoryAdapter):
    """Euclidean score is minus the squared distance (what many engines report natively)."""

    name: ClassVar[str] = "broken-squared"

    async def query(self, collection: CollectionSpec, namespace: str, *args: Any) -> list[Match]:
        matches = await super().query(collection, namespace, *args)
        if collection.metric is Metric.EUCLIDEAN:
            for match in matches:
                match.score = -(match.score**2)
        return matches


class UpsertMerges(MemoryAdapter):
    """Upsert merges new metadata into the stored record (a PATCH) instead of replacing it."""

    name: ClassVar[str] = "broken-merge"

    async def upsert(self, collection: CollectionSpec, namespace: str, records: Sequence[Record]) -> None:
        old = {r.id: r for r in await self.get(collection, namespace, [r.id for r in records], False)}
        merged = [replace(r, metadata={**old[r.id].metadata, **r.metadata}) if r.id in old else r for r in records]
        await super().upsert(collection, namespace, merged)


class AtomicUpsertWritesAsItGoes(MemoryAdapter):
    """Declares ``ATOMIC_UPSERT`` but writes each batch as it arrives: a late failure leaves a half-write."""

    name: ClassVar[str] = "broken-atomic"

    async def upsert_atomic(
        self, collection: CollectionSpec, namespace: str, batches: AsyncIterator[list[Record]]
    ) -> None:
        async for batch in batches:
            await self.upsert(collection, namespace, batch)


class NamespaceLeak(MemoryAdapter):
    """Queries search every namespace of the collection (a forgotten tenant filter)."""

    name: ClassVar[str] = "broken-leak"

    async def query(
        self,
        collection: CollectionSpec,
        namespace: str,
        vector: FloatArray,
        top_k: int,
        filter: Any | None,
        include_vectors: bool,
    ) -> list[Match]:
        found: list[Match] = []
        for space in await self.list_namespaces(collection) or [namespace]:
            found += await super().query(collection, space, vector, top_k, filter, include_vectors)
        return sorted(found, key=lambda m: -m.score)[:top_k]


class ScanSkipsPage(MemoryAdapter):
    """The cursor after the first page points past the second page (an off-by-a-page bug)."""

    name: ClassVar[str] = "broken-scan"

    async def scan(
        self,
        collection: CollectionSpec,
        namespace: str,
        cursor: str | None,
        page_size: int,
        filter: Any | None,
        include_vectors: bool,
    ) -> Page:
        page = await super().scan(collection, namespace, cursor, page_size, filter, include_vectors)
        if cursor is None and page.cursor is not None:
            skipped = await super().scan(collection, namespace, page.cursor, page_size, filter, include_vectors)
            return Page(page.records, skipped.cursor)
        return page


class CursorNotResumable(LocalAdapter):
    """Cursors are tokens into this connection's memory: another connection starts over from the top."""

    name: ClassVar[str] = "broken-cursor"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.tokens: dict[str, str] = {}

    async def scan(
        self,
        collection: CollectionSpec,
        namespace: str,
        cursor: str | None,
        page_size: int,
        filter: Any | None,
        include_vectors: bool,
    ) -> Page:
        real = self.tokens.get(cursor) if cursor is not None else None
        page = await super().scan(collection, namespace, real, page_size, filter, include_vectors)
        if page.cursor is None:
            return page
        token = secrets.token_hex(8)
        self.tokens[token] = page.cursor
        return Page(page.records, token)


class WithoutNin(ReferenceCompiler):
    """A compiler that cannot express ``$nin`` (so it does not declare it)."""

    adapter_name = "broken-ignore"
    visit_nin = FilterCompiler.visit_nin


class IgnoresUnsupportedOperator(MemoryAdapter):
    """Swallows UnsupportedFilterError and runs the query unfiltered: a silently different answer."""

    name: ClassVar[str] = "broken-ignore"
    filter_compiler = WithoutNin

    def compile_filter(self, node: FilterNode, collection: CollectionSpec) -> Any:
        try:
            return super().compile_filter(node, collection)
        except Exception:
            return None


class BoolEqualsNumber(MemoryAdapter):
    """``{"x": 1}`` also matches ``true`` (a JSON store comparing loosely)."""

    name: ClassVar[str] = "broken-bool"

    def compile_filter(self, node: FilterNode, collection: CollectionSpec) -> Any:
        def change(n: FilterNode) -> FilterNode:
            if isinstance(n, Eq) and not isinstance(n.value, str | bool) and n.value in (0, 1):
                return Or((n, Eq(n.field, bool(n.value))))
            if isinstance(n, In):
                extra = tuple(bool(v) for v in n.values if not isinstance(v, str | bool) and v in (0, 1))
                return In(n.field, n.values + extra)
            return n

        return _rewrite(node, change)


class TopKShort(MemoryAdapter):
    """A filtered query returns fewer than ``top_k`` matches although more match (post-filtering an ANN list)."""

    name: ClassVar[str] = "broken-topk"

    async def query(
        self,
        collection: CollectionSpec,
        namespace: str,
        vector: FloatArray,
        top_k: int,
        filter: Any | None,
        include_vectors: bool,
    ) -> list[Match]:
        unfiltered = await super().query(collection, namespace, vector, top_k, None, include_vectors)
        if filter is None:
            return unfiltered
        allowed = {m.id for m in await super().query(collection, namespace, vector, 10_000, filter, False)}
        return [m for m in unfiltered if m.id in allowed]


class IntsBecomeFloats(MemoryAdapter):
    """Every number comes back as a float (a store that keeps only doubles and no type tag)."""

    name: ClassVar[str] = "broken-floats"

    @staticmethod
    def _floats(metadata: dict[str, Any]) -> dict[str, Any]:
        return {k: float(v) if isinstance(v, int) and not isinstance(v, bool) else v for k, v in metadata.items()}

    async def get(
        self, collection: CollectionSpec, namespace: str, ids: Sequence[str], include_vectors: bool
    ) -> list[Record]:
        records = await super().get(collection, namespace, ids, include_vectors)
        for record in records:
            record.metadata = self._floats(record.metadata)
        return records


class DeleteMissingRaises(MemoryAdapter):
    """Deleting an id that does not exist raises (the contract says it is not an error)."""

    name: ClassVar[str] = "broken-delete"

    async def delete_ids(self, collection: CollectionSpec, namespace: str, ids: Sequence[str]) -> None:
        present = {r.id for r in await self.get(collection, namespace, ids, False)}
        missing = [i for i in ids if i not in present]
        if missing:
            from vecbridge.errors import BackendError

            raise BackendError(f"ids not found: {missing}")
        await super().delete_ids(collection, namespace, ids)


class Float16Vectors(MemoryAdapter):
    """Vectors are stored as float16, so read-back and scores drift beyond float32 tolerance."""

    name: ClassVar[str] = "broken-float16"

    async def upsert(self, collection: CollectionSpec, namespace: str, records: Sequence[Record]) -> None:
        lossy = [
            Record(r.id, np.asarray(r.vector, dtype=np.float16).astype(np.float32), r.metadata, r.document)
            for r in records
        ]
        await super().upsert(collection, namespace, lossy)


@dataclass(frozen=True)
class Variant:
    adapter: type[Adapter]
    #: Conformance group class (in ``vecbridge_conformance``) expected to catch it.
    group: str
    #: True when the variant needs a directory (a ``local://``-style URL).
    local: bool = False


VARIANTS: dict[str, Variant] = {
    "ne_excludes_missing": Variant(NeExcludesMissing, "FilterTests"),
    "scores_as_distances": Variant(ScoresAsDistances, "ScoreTests"),
    "squared_l2": Variant(SquaredL2, "ScoreTests"),
    "upsert_merges_metadata": Variant(UpsertMerges, "UpsertTests"),
    "atomic_upsert_writes_as_it_goes": Variant(AtomicUpsertWritesAsItGoes, "UpsertTests"),
    "namespace_leak": Variant(NamespaceLeak, "NamespaceTests"),
    "scan_skips_page": Variant(ScanSkipsPage, "ScanTests"),
    "cursor_not_resumable": Variant(CursorNotResumable, "ScanTests", local=True),
    "ignores_unsupported_operator": Variant(IgnoresUnsupportedOperator, "FilterTests"),
    "bool_equals_number": Variant(BoolEqualsNumber, "FilterTests"),
    "filtered_top_k_short": Variant(TopKShort, "QueryTests"),
    "ints_become_floats": Variant(IntsBecomeFloats, "UpsertTests"),
    "delete_missing_id_raises": Variant(DeleteMissingRaises, "DeleteTests"),
    "vectors_stored_as_float16": Variant(Float16Vectors, "ScoreTests"),
}


def url_for(variant: str, directory: str) -> str:
    """The URL that reaches ``variant`` (a directory-backed one stores its data under ``directory``)."""
    scheme = VARIANTS[variant].adapter.name
    return f"{scheme}://{directory}" if VARIANTS[variant].local else f"{scheme}://"


def register_all() -> None:
    for variant in VARIANTS.values():
        vecbridge.registry.register(variant.adapter.name, variant.adapter, replace=True)


def unregister_all() -> None:
    for variant in VARIANTS.values():
        vecbridge.registry.unregister(variant.adapter.name)

"""Upsert: whole-record replacement, idempotence, every id shape and metadata type, batching."""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import numpy as np
import pytest

import vecbridge as vb
from vecbridge.adapter import Adapter, Capability
from vecbridge_conformance.base import (
    CollectionFactory,
    SuiteBase,
    assert_same_metadata,
    assert_vector_equal,
    requires,
    seeded_rng,
    uses,
)

#: Ids that must round-trip unchanged: unicode, spaces, quotes, separators, syntax look-alikes, long.
TRICKY_IDS: dict[str, str] = {
    "unicode": "naïve-日本語-Ωμέγα",
    "emoji": "doc-🚀-✓",
    "spaces": "  two  spaces inside and around  ",
    "single_quote": "it's",
    "double_quote": 'say "hi"',
    "backslash": "C:\\path\\to\\file",
    "slashes": "a/b/c?d=e#f",
    "sql": "1'; DROP TABLE records; --",
    "json": '{"id": 1, "$eq": [true]}',
    "numeric": "12345",
    "uuid_like": "6f1b4c9e-3d2a-5e8f-9a7b-0c1d2e3f4a5b",
    "newline_tab": "line1\nline2\tend",
    "percent_url": "a%20b+c&d=e",
    "reserved_word": "default",
    "long_256": "x" * 256,
    "long_512_unicode": "é" * 512,
}

#: Metadata values that must come back with the same value and Python type.
METADATA_VALUES: dict[str, Any] = {
    "str": "hello",
    "empty_str": "",
    "unicode_str": "Grüße, 世界 🌍",
    "true": True,
    "false": False,
    "zero": 0,
    "negative_int": -42,
    "max_safe_int": 2**53,
    "min_safe_int": -(2**53),
    "float": 2.5,
    "integral_float": 2.0,
    "negative_float": -0.125,
    "small_float": 1.5e-300,
    "large_float": 1.25e300,
    "list_one": ["only"],
    "list_many": ["a", "b", "c", "a"],
    "list_unicode": ["ü", "日本", "a b"],
}

#: Strings that look like SQL, JSON or filter syntax; stored and returned verbatim.
LOOKALIKES: dict[str, str] = {
    "sql_injection": "x' OR '1'='1",
    "sql_comment": "a -- b /* c */",
    "json_object": '{"$ne": null}',
    "json_array": "[1, 2, 3]",
    "mongo_operator": "$gt",
    "filter_expression": 'color == "red" && year > 2020',
    "template": "{{ value }} ${HOME} %(name)s",
    "quotes_mix": "'\"`",
}


#: Floats a decimal round trip gets wrong unless it is correctly rounded both ways: sevenths (about
#: 15% of ``i / 7`` came back one unit in the last place off from a Chroma server), a sum that is
#: not 0.3, the extremes, the smallest subnormal, a signed zero and the largest odd integral float.
HARD_FLOATS: list[float] = [i / 7 for i in range(1, 10_001, 50)] + [
    0.1 + 0.2,
    1e300,
    -1e300,
    1.7976931348623157e308,
    2.2250738585072014e-308,
    5e-324,
    -0.0,
    float(2**53 - 1),
    -float(2**53 - 1),
]


def float_bits(value: float) -> bytes:
    """The IEEE 754 bytes of ``value``: equal bits, not just equal numbers (``-0.0 != 0.0`` here)."""
    return struct.pack(">d", value)


def differing_floats(
    read: Iterable[tuple[str, Mapping[str, Any]]], written: Mapping[str, Mapping[str, float]]
) -> list[str]:
    """``id.key: written -> read`` for every float of ``(id, metadata)`` pairs not read back bit for bit."""
    found = []
    for record_id, metadata in read:
        for key, value in written[record_id].items():
            got = metadata.get(key)
            if type(got) is not float or float_bits(got) != float_bits(value):
                found.append(f"{record_id}.{key}: {value!r} -> {got!r}")
    return found


def _vec(seed: int, dimension: int = 8) -> np.ndarray[Any, np.dtype[np.float32]]:
    return seeded_rng("vec", seed).normal(size=dimension).astype(np.float32)


class UpsertTests(SuiteBase):
    group: ClassVar[str] = "upsert"

    async def test_upsert_then_get_round_trips(
        self, new_collection: CollectionFactory, adapter_class: type[Adapter]
    ) -> None:
        collection = await new_collection(dimension=8, metric="euclidean")
        record = vb.Record(id="a", vector=_vec(1), metadata={"k": "v", "n": 3}, document="text")
        assert await collection.upsert([record]) == 1
        [got] = await collection.get(["a"])
        assert (got.id, got.document) == ("a", "text")
        assert_same_metadata(got.metadata, record.metadata)
        assert_vector_equal(got.vector, record.vector)

    @pytest.mark.parametrize("metric", ["cosine", "dot", "euclidean"])
    @uses(Capability.NORMALIZES_COSINE_VECTORS)
    async def test_vector_reads_back(
        self, new_collection: CollectionFactory, adapter_class: type[Adapter], metric: str
    ) -> None:
        collection = await new_collection(dimension=16, metric=metric)
        vector = _vec(2, 16) * 3.0
        await collection.upsert([vb.Record(id="a", vector=vector)])
        [got] = await collection.get(["a"], include_vector=True)
        normalize = metric == "cosine" and Capability.NORMALIZES_COSINE_VECTORS in adapter_class.capabilities
        assert_vector_equal(got.vector, vector, normalize=normalize)

    async def test_upsert_replaces_whole_record(self, new_collection: CollectionFactory) -> None:
        collection = await new_collection(dimension=8, metric="euclidean")
        await collection.upsert([vb.Record(id="a", vector=_vec(1), metadata={"old": 1, "keep": "x"}, document="d1")])
        await collection.upsert([vb.Record(id="a", vector=_vec(2), metadata={"keep": "y"}, document="d2")])
        [got] = await collection.get(["a"])
        assert_same_metadata(got.metadata, {"keep": "y"})
        assert got.document == "d2"
        assert_vector_equal(got.vector, _vec(2))
        assert await collection.count() == 1
        if "$exists" in collection.store.adapter.supported_filter_operators():
            assert await collection.count({"old": {"$exists": True}}) == 0

    async def test_replacing_without_metadata_clears_it(self, new_collection: CollectionFactory) -> None:
        collection = await new_collection(dimension=8)
        await collection.upsert([vb.Record(id="a", vector=_vec(1), metadata={"k": "v"}, document="doc")])
        await collection.upsert([vb.Record(id="a", vector=_vec(1))])
        [got] = await collection.get(["a"])
        assert got.metadata == {}
        assert got.document is None

    async def test_replaced_vector_is_what_query_sees(self, new_collection: CollectionFactory) -> None:
        collection = await new_collection(dimension=8, metric="euclidean")
        await collection.upsert([vb.Record(id="a", vector=_vec(1)), vb.Record(id="b", vector=_vec(2))])
        await collection.upsert([vb.Record(id="a", vector=_vec(3))])
        [best] = await collection.query(_vec(3), top_k=1)
        assert best.id == "a"
        assert best.score == pytest.approx(0.0, abs=1e-4)

    async def test_upsert_is_idempotent(self, new_collection: CollectionFactory) -> None:
        collection = await new_collection(dimension=8)
        records = [vb.Record(id=f"r{i}", vector=_vec(i), metadata={"i": i}) for i in range(5)]
        await collection.upsert(records)
        await collection.upsert(records)
        assert await collection.count() == 5
        got = {r.id: r for r in await collection.get([r.id for r in records])}
        for record in records:
            assert_same_metadata(got[record.id].metadata, record.metadata)

    async def test_duplicate_ids_in_one_call_last_wins(self, new_collection: CollectionFactory) -> None:
        collection = await new_collection(dimension=8)
        await collection.upsert(
            [
                vb.Record(id="a", vector=_vec(1), metadata={"v": 1}),
                vb.Record(id="a", vector=_vec(2), metadata={"v": 2}),
            ]
        )
        assert await collection.count() == 1
        [got] = await collection.get(["a"])
        assert got.metadata == {"v": 2}

    @pytest.mark.parametrize("kind", sorted(TRICKY_IDS))
    async def test_id_round_trips_everywhere(self, new_collection: CollectionFactory, kind: str) -> None:
        record_id = TRICKY_IDS[kind]
        collection = await new_collection(dimension=8, metric="euclidean")
        await collection.upsert([vb.Record(id=record_id, vector=_vec(1)), vb.Record(id="other", vector=_vec(2))])
        assert [r.id for r in await collection.get([record_id])] == [record_id]
        [best] = await collection.query(_vec(1), top_k=1)
        assert best.id == record_id
        assert record_id in {r.id for r in await self.scan_all(collection)}
        await collection.delete(ids=[record_id])
        assert await collection.get([record_id]) == []
        assert await collection.count() == 1

    async def test_ids_differing_only_in_case_or_whitespace_are_distinct(
        self, new_collection: CollectionFactory
    ) -> None:
        collection = await new_collection(dimension=8)
        ids = ["doc", "Doc", "DOC", "doc ", " doc"]
        await collection.upsert([vb.Record(id=i, vector=_vec(n), metadata={"n": n}) for n, i in enumerate(ids)])
        assert await collection.count() == len(ids)
        for n, record_id in enumerate(ids):
            [got] = await collection.get([record_id])
            assert got.metadata == {"n": n}

    @pytest.mark.parametrize("kind", sorted(METADATA_VALUES))
    async def test_metadata_value_round_trips(self, new_collection: CollectionFactory, kind: str) -> None:
        value = METADATA_VALUES[kind]
        collection = await new_collection(dimension=8)
        await collection.upsert([vb.Record(id="a", vector=_vec(1), metadata={"field": value, "other": "x"})])
        [got] = await collection.get(["a"])
        assert_same_metadata(got.metadata, {"field": value, "other": "x"})
        [match] = await collection.query(_vec(1), top_k=1)
        assert_same_metadata(match.metadata, {"field": value, "other": "x"})
        [scanned] = await self.scan_all(collection)
        assert_same_metadata(scanned.metadata, {"field": value, "other": "x"})

    @requires(Capability.EXACT_FLOATS)
    async def test_floats_read_back_bit_for_bit(self, new_collection: CollectionFactory) -> None:
        collection = await new_collection(dimension=8)
        written: dict[str, dict[str, Any]] = {
            f"f{n}": {f"w{k}": value for k, value in enumerate(HARD_FLOATS[start : start + 10])}
            for n, start in enumerate(range(0, len(HARD_FLOATS), 10))
        }
        records = [vb.Record(id=i, vector=_vec(n), metadata=md) for n, (i, md) in enumerate(written.items())]
        await collection.upsert(records)
        got = await collection.get(list(written))
        assert len(got) == len(written)
        assert differing_floats(((r.id, r.metadata) for r in got), written) == []
        scanned = await self.scan_all(collection, include_vector=False)
        assert differing_floats(((r.id, r.metadata) for r in scanned), written) == []
        matches = await collection.query(_vec(0), top_k=len(written))
        assert differing_floats(((m.id, m.metadata) for m in matches), written) == []

    @pytest.mark.parametrize("kind", sorted(LOOKALIKES))
    async def test_syntax_lookalike_strings_are_verbatim(self, new_collection: CollectionFactory, kind: str) -> None:
        text = LOOKALIKES[kind]
        collection = await new_collection(dimension=8)
        await collection.upsert(
            [
                vb.Record(id=text, vector=_vec(1), metadata={"s": text, "tags": [text, "plain"]}, document=text),
                vb.Record(id="plain", vector=_vec(2), metadata={"s": "plain"}, document="plain"),
            ]
        )
        [got] = await collection.get([text])
        assert (got.id, got.document, got.metadata) == (text, text, {"s": text, "tags": [text, "plain"]})
        assert await collection.count({"s": text}) == 1
        assert await collection.count({"tags": text}) == 1
        if "$ne" in collection.store.adapter.supported_filter_operators():
            assert await collection.count({"s": {"$ne": text}}) == 1

    async def test_every_type_in_one_record(self, new_collection: CollectionFactory) -> None:
        collection = await new_collection(dimension=8)
        metadata = {key: value for key, value in METADATA_VALUES.items()}
        await collection.upsert([vb.Record(id="a", vector=_vec(1), metadata=metadata)])
        [got] = await collection.get(["a"])
        assert_same_metadata(got.metadata, metadata)

    async def test_metadata_key_shapes(self, new_collection: CollectionFactory) -> None:
        collection = await new_collection(dimension=8)
        metadata: dict[str, Any] = {"a": 1, "A": 2, "_private": "p", "x" * 64: "long", "snake_case_9": True}
        await collection.upsert([vb.Record(id="a", vector=_vec(1), metadata=metadata)])
        [got] = await collection.get(["a"])
        assert_same_metadata(got.metadata, metadata)
        assert await collection.count({"A": 2}) == 1 and await collection.count({"a": 2}) == 0

    async def test_many_metadata_keys(self, new_collection: CollectionFactory) -> None:
        collection = await new_collection(dimension=8)
        metadata: dict[str, Any] = {f"k{i}": i for i in range(40)}
        await collection.upsert([vb.Record(id="a", vector=_vec(1), metadata=metadata)])
        [got] = await collection.get(["a"])
        assert_same_metadata(got.metadata, metadata)

    @pytest.mark.parametrize("document", ["", "plain", "ünïcödé 文書 🚀", "line1\nline2", "d" * 10_000])
    async def test_document_round_trips(self, new_collection: CollectionFactory, document: str) -> None:
        collection = await new_collection(dimension=8)
        await collection.upsert([vb.Record(id="a", vector=_vec(1), document=document)])
        [got] = await collection.get(["a"])
        assert got.document == document
        [match] = await collection.query(_vec(1), top_k=1)
        assert match.document == document

    async def test_missing_document_is_none(self, new_collection: CollectionFactory) -> None:
        collection = await new_collection(dimension=8)
        await collection.upsert([vb.Record(id="a", vector=_vec(1), metadata={"k": 1})])
        [got] = await collection.get(["a"])
        assert got.document is None

    async def test_empty_batch_writes_nothing(self, new_collection: CollectionFactory) -> None:
        collection = await new_collection(dimension=8)
        assert await collection.upsert([]) == 0
        assert await collection.count() == 0

    async def test_batch_larger_than_max_batch(self, store: vb.Store, new_collection: CollectionFactory) -> None:
        collection = await new_collection(dimension=4, metric="dot")
        total = store.adapter.max_batch + 3
        rng = seeded_rng("big batch")
        vectors = rng.normal(size=(total, 4)).astype(np.float32)
        records = [vb.Record(id=f"r{i}", vector=vectors[i], metadata={"i": i}) for i in range(total)]
        assert await collection.upsert(records) == total
        assert await collection.count() == total
        got = await collection.get(["r0", f"r{total - 1}", f"r{total // 2}"])
        assert [r.metadata["i"] for r in got] == [0, total - 1, total // 2]
        assert len({r.id for r in await self.scan_all(collection, include_vector=False)}) == total

    async def test_batch_size_argument_splits_writes(self, new_collection: CollectionFactory) -> None:
        collection = await new_collection(dimension=4)
        records = [vb.Record(id=f"r{i}", vector=[1.0, float(i), 0.5, 0.25]) for i in range(11)]
        assert await collection.upsert(records, batch_size=3) == 11
        assert await collection.count() == 11

    async def test_bad_record_in_a_later_batch_writes_nothing(self, new_collection: CollectionFactory) -> None:
        collection = await new_collection(dimension=4)
        await collection.upsert([vb.Record(id="kept", vector=[1.0, 0.0, 0.0, 0.0], metadata={"v": 1})])
        records = [vb.Record(id=f"r{i}", vector=[1.0, float(i), 0.5, 0.25]) for i in range(10)]
        records[1] = vb.Record(id="kept", vector=[0.0, 1.0, 0.0, 0.0], metadata={"v": 2})
        records.append(vb.Record(id="", vector=[1.0, 1.0, 1.0, 1.0]))
        with pytest.raises(vb.InvalidRecordError, match="position 10"):
            await collection.upsert(records, batch_size=3)
        assert await collection.count() == 1
        [kept] = await collection.get(["kept"])
        assert kept.metadata == {"v": 1}

    async def test_duplicate_ids_across_batches_last_wins(self, new_collection: CollectionFactory) -> None:
        collection = await new_collection(dimension=4)
        await collection.upsert([vb.Record(id="r1", vector=[0.0, 1.0, 0.0, 0.0], metadata={"i": -1})])
        records = [vb.Record(id=f"r{i % 4}", vector=[1.0, float(i), 0.5, 0.25], metadata={"i": i}) for i in range(10)]
        assert await collection.upsert(records, batch_size=3) == 4
        assert await collection.count() == 4
        got = {r.id: r.metadata["i"] for r in await collection.get(["r0", "r1", "r2", "r3"])}
        assert got == {"r0": 8, "r1": 9, "r2": 6, "r3": 7}

    @requires(Capability.ATOMIC_UPSERT)
    @pytest.mark.parametrize("namespace_state", ["empty", "holding_an_id_of_the_call"])
    async def test_atomic_upsert_failing_late_writes_nothing(
        self, store: vb.Store, new_collection: CollectionFactory, namespace_state: str
    ) -> None:
        """``Adapter.upsert_atomic``: batches the adapter already took are not written when a later one raises."""
        collection = await new_collection(dimension=4)
        if namespace_state != "empty":
            await collection.upsert([vb.Record(id="kept", vector=[1.0, 0.0, 0.0, 0.0], metadata={"v": 1})])
        taken = 0

        async def batches() -> Any:
            nonlocal taken
            for b in range(3):
                taken += 1
                batch = [vb.Record(f"b{b}-{i}", _vec(10 * b + i, 4), {"b": b}) for i in range(3)]
                if b == 1:
                    batch.append(vb.Record("kept", _vec(99, 4), {"v": 2}))
                yield batch
            raise vb.InvalidRecordError("a bad record found late")

        with pytest.raises(vb.InvalidRecordError, match="found late"):
            await store.adapter.upsert_atomic(await collection.spec(), collection.namespace, batches())
        assert taken == 3
        assert await collection.count() == (0 if namespace_state == "empty" else 1)
        if namespace_state != "empty":
            [kept] = await collection.get(["kept"])
            assert kept.metadata == {"v": 1}

    @requires(Capability.ATOMIC_UPSERT)
    async def test_atomic_upsert_replaces_ids_in_any_batch(
        self, store: vb.Store, new_collection: CollectionFactory
    ) -> None:
        collection = await new_collection(dimension=4)
        await collection.upsert([vb.Record(id=f"old{i}", vector=_vec(i, 4), metadata={"v": 1}) for i in range(3)])

        async def batches() -> Any:
            yield [vb.Record("new0", _vec(10, 4), {"v": 2}), vb.Record("new1", _vec(11, 4), {"v": 2})]
            yield [vb.Record("old2", _vec(12, 4), {"v": 2})]
            yield [vb.Record("old0", _vec(13, 4), {"w": 3}, "replaced")]

        await store.adapter.upsert_atomic(await collection.spec(), collection.namespace, batches())
        got = {r.id: (r.metadata, r.document) for r in await collection.get(["old0", "old1", "old2", "new0", "new1"])}
        assert got == {
            "old0": ({"w": 3}, "replaced"),
            "old1": ({"v": 1}, None),
            "old2": ({"v": 2}, None),
            "new0": ({"v": 2}, None),
            "new1": ({"v": 2}, None),
        }
        assert await collection.count() == 5

    async def test_async_iterable_upsert(self, new_collection: CollectionFactory) -> None:
        collection = await new_collection(dimension=4)

        async def stream() -> Any:
            for i in range(7):
                yield vb.Record(id=f"s{i}", vector=[1.0, float(i), 2.0, 3.0])

        assert await collection.upsert(stream(), batch_size=2) == 7
        assert await collection.count() == 7

    async def test_get_without_vectors_keeps_everything_else(self, new_collection: CollectionFactory) -> None:
        collection = await new_collection(dimension=8)
        record = vb.Record(id="a", vector=_vec(1), metadata={"k": "v", "n": 2, "tags": ["x"]}, document="doc")
        await collection.upsert([record])
        [got] = await collection.get(["a"], include_vector=False)
        assert (got.id, got.document) == ("a", "doc")
        assert_same_metadata(got.metadata, record.metadata)
        assert len(got.vector) in (0, 8)

    async def test_get_missing_ids_are_absent(self, new_collection: CollectionFactory) -> None:
        collection = await new_collection(dimension=8)
        await collection.upsert([vb.Record(id="a", vector=_vec(1)), vb.Record(id="b", vector=_vec(2))])
        got = await collection.get(["zz", "b", "missing", "a"])
        assert [r.id for r in got] == ["b", "a"]
        assert await collection.get(["nope"]) == []
        assert await collection.get([]) == []

"""Errors: every bad input gets a typed error before anything is written."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

import vecbridge as vb
from vecbridge_conformance.base import SuiteBase, shared_collection

GOOD = [0.5, 1.0, -1.0, 2.0]


def _record(**changes: Any) -> vb.Record:
    fields: dict[str, Any] = {"id": "bad", "vector": GOOD, "metadata": {"ok": 1}, "document": None}
    fields.update(changes)
    return vb.Record(**fields)


BAD_RECORDS: dict[str, tuple[type[vb.VecbridgeError], Any]] = {
    "vector_nan": (vb.InvalidRecordError, _record(vector=[float("nan"), 1.0, 1.0, 1.0])),
    "vector_inf": (vb.InvalidRecordError, _record(vector=[float("inf"), 1.0, 1.0, 1.0])),
    "vector_minus_inf": (vb.InvalidRecordError, _record(vector=[1.0, float("-inf"), 1.0, 1.0])),
    "vector_beyond_float32": (vb.InvalidRecordError, _record(vector=[1e39, 1.0, 1.0, 1.0])),
    "vector_too_short": (vb.DimensionMismatchError, _record(vector=[1.0, 2.0, 3.0])),
    "vector_too_long": (vb.DimensionMismatchError, _record(vector=[1.0] * 5)),
    "vector_empty": (vb.DimensionMismatchError, _record(vector=[])),
    "vector_nested": (vb.InvalidRecordError, _record(vector=[[1.0, 2.0], [3.0, 4.0]])),
    "vector_strings": (vb.InvalidRecordError, _record(vector=["a", "b", "c", "d"])),
    "vector_zero_cosine": (vb.InvalidRecordError, _record(vector=[0.0, 0.0, 0.0, 0.0])),
    "id_empty": (vb.InvalidRecordError, _record(id="")),
    "id_int": (vb.InvalidRecordError, _record(id=7)),
    "id_none": (vb.InvalidRecordError, _record(id=None)),
    "id_too_long": (vb.InvalidRecordError, _record(id="x" * 513)),
    "id_nul": (vb.InvalidRecordError, _record(id="a\x00b")),
    "metadata_none_value": (vb.InvalidRecordError, _record(metadata={"k": None})),
    "metadata_nested_dict": (vb.InvalidRecordError, _record(metadata={"k": {"a": 1}})),
    "metadata_empty_list": (vb.InvalidRecordError, _record(metadata={"k": []})),
    "metadata_list_of_ints": (vb.InvalidRecordError, _record(metadata={"k": [1, 2]})),
    "metadata_int_too_big": (vb.InvalidRecordError, _record(metadata={"k": 2**53 + 1})),
    "metadata_float_nan": (vb.InvalidRecordError, _record(metadata={"k": float("nan")})),
    "metadata_float_inf": (vb.InvalidRecordError, _record(metadata={"k": float("inf")})),
    "metadata_bytes": (vb.InvalidRecordError, _record(metadata={"k": b"x"})),
    "metadata_key_dash": (vb.InvalidRecordError, _record(metadata={"bad-key": 1})),
    "metadata_key_digit": (vb.InvalidRecordError, _record(metadata={"1k": 1})),
    "metadata_key_dotted": (vb.InvalidRecordError, _record(metadata={"a.b": 1})),
    "metadata_key_too_long": (vb.InvalidRecordError, _record(metadata={"k" * 65: 1})),
    "metadata_key_reserved": (vb.InvalidRecordError, _record(metadata={"_vb_ns": "other"})),
    "metadata_not_a_dict": (vb.InvalidRecordError, _record(metadata=[("k", 1)])),
    "metadata_nul_string": (vb.InvalidRecordError, _record(metadata={"k": "a\x00"})),
    "document_not_str": (vb.InvalidRecordError, _record(document=42)),
    "not_a_record": (vb.InvalidRecordError, {"id": "x", "vector": GOOD}),
}

BAD_FILTERS: dict[str, Any] = {
    "not_a_dict": "color = 'red'",
    "unknown_logical": {"$xor": [{"a": 1}]},
    "unknown_field_operator": {"a": {"$regex": ".*"}},
    "none_value": {"a": None},
    "list_value": {"a": [1, 2]},
    "dict_value_without_operator": {"a": {"b": 1}},
    "empty_operator_dict": {"a": {}},
    "range_on_string": {"a": {"$gt": "x"}},
    "range_on_bool": {"a": {"$lte": True}},
    "in_empty": {"a": {"$in": []}},
    "in_not_list": {"a": {"$in": "x"}},
    "in_with_none": {"a": {"$in": ["x", None]}},
    "in_with_list": {"a": {"$nin": [["x"]]}},
    "exists_not_bool": {"a": {"$exists": 1}},
    "and_empty": {"$and": []},
    "and_not_list": {"$and": {"a": 1}},
    "or_empty": {"$or": []},
    "not_list": {"$not": [{"a": 1}]},
    "reserved_field": {"_vb_ns": "other"},
    "bad_field_name": {"1abc": 1},
    "eq_nan": {"a": {"$eq": float("nan")}},
    "int_too_big": {"a": 2**60},
}


class ErrorTests(SuiteBase):
    group: ClassVar[str] = "errors"

    @pytest.mark.parametrize("case", sorted(BAD_RECORDS))
    async def test_bad_record_is_rejected_and_nothing_written(self, empty_collection: vb.Collection, case: str) -> None:
        error, bad = BAD_RECORDS[case]
        collection = empty_collection
        good = vb.Record(id="good", vector=GOOD)
        with pytest.raises(error):
            await collection.upsert([good, bad])
        assert await collection.count() == 0

    @pytest.mark.parametrize(
        ("record", "field"),
        [
            (_record(id="rec-7", vector=[float("nan"), 1.0, 1.0, 1.0]), "vector"),
            (_record(id="rec-7", vector=[1.0, 2.0]), "vector"),
            (_record(id="rec-7", metadata={"color": None}), "color"),
            (_record(id="rec-7", metadata={"nested": {"a": 1}}), "nested"),
            (_record(id="rec-7", document=3), "document"),
        ],
        ids=["nan", "dimension", "none_value", "nested", "document"],
    )
    async def test_record_error_names_record_and_field(
        self, empty_collection: vb.Collection, record: vb.Record, field: str
    ) -> None:
        collection = empty_collection
        with pytest.raises(vb.InvalidRecordError) as info:
            await collection.upsert([record])
        assert (info.value.record_id, info.value.field) == ("rec-7", field)
        assert "rec-7" in str(info.value) and field in str(info.value)

    @pytest.mark.parametrize("case", sorted(BAD_FILTERS))
    async def test_malformed_filter_is_invalid_everywhere(self, store: vb.Store, backend_url: str, case: str) -> None:
        filter_ = BAD_FILTERS[case]
        collection = await shared_collection(store, backend_url, "one record")
        await collection.upsert([vb.Record(id="a", vector=GOOD, metadata={"a": 1})])
        with pytest.raises(vb.InvalidFilterError):
            await collection.query(GOOD, top_k=1, filter=filter_)
        with pytest.raises(vb.InvalidFilterError):
            await collection.count(filter_)
        with pytest.raises(vb.InvalidFilterError):
            await collection.delete(filter=filter_)
        assert await collection.count() == 1

    async def test_invalid_filter_names_the_path(self, empty_collection: vb.Collection) -> None:
        collection = empty_collection
        with pytest.raises(vb.InvalidFilterError) as info:
            await collection.count({"$and": [{"a": 1}, {"b": {"$gt": "x"}}]})
        assert info.value.path == "$and[1].b.$gt"

    @pytest.mark.parametrize(
        "name", ["", "ab", "Upper", "with-dash", "1starts_with_digit", "ends_with_", "x" * 49, "sp ace", "ünï"]
    )
    async def test_bad_collection_name(self, store: vb.Store, name: str) -> None:
        with pytest.raises(vb.InvalidArgumentError):
            await store.create_collection(name, 4)

    @pytest.mark.parametrize("dimension", [0, -1, 1.5, True, 16_001, "8"], ids=repr)
    async def test_bad_dimension(self, store: vb.Store, dimension: Any) -> None:
        with pytest.raises(vb.InvalidArgumentError):
            await store.create_collection("vbt_bad_dimension", dimension)
        assert not await store.has_collection("vbt_bad_dimension")

    async def test_unknown_metric(self, store: vb.Store) -> None:
        with pytest.raises(vb.InvalidArgumentError):
            await store.create_collection("vbt_bad_metric", 4, "manhattan")

    @pytest.mark.parametrize("namespace", ["", "has space", "-leading", "x" * 65, "a/b"])
    async def test_bad_namespace(self, store: vb.Store, namespace: str) -> None:
        with pytest.raises(vb.InvalidArgumentError):
            store.collection("vbt_namespaces", namespace=namespace)

    @pytest.mark.parametrize("top_k", [0, -1, True, 1.5, "3", 10**9], ids=repr)
    async def test_bad_top_k(self, empty_collection: vb.Collection, top_k: Any) -> None:
        collection = empty_collection
        with pytest.raises(vb.InvalidArgumentError):
            await collection.query(GOOD, top_k=top_k)

    @pytest.mark.parametrize("min_score", [float("nan"), float("inf"), True], ids=repr)
    async def test_bad_min_score(self, empty_collection: vb.Collection, min_score: Any) -> None:
        collection = empty_collection
        with pytest.raises(vb.InvalidArgumentError):
            await collection.query(GOOD, top_k=1, min_score=min_score)

    @pytest.mark.parametrize(
        ("vector", "error"),
        [
            ([1.0, 2.0, 3.0], vb.DimensionMismatchError),
            ([1.0] * 5, vb.DimensionMismatchError),
            ([float("nan"), 1.0, 1.0, 1.0], vb.InvalidRecordError),
            ([0.0, 0.0, 0.0, 0.0], vb.InvalidRecordError),
        ],
        ids=["short", "long", "nan", "zero_cosine"],
    )
    async def test_bad_query_vector(
        self, empty_collection: vb.Collection, vector: list[float], error: type[Exception]
    ) -> None:
        collection = empty_collection
        with pytest.raises(error):
            await collection.query(vector, top_k=1)

    @pytest.mark.parametrize("page_size", [0, -5, True, 2.5], ids=repr)
    async def test_bad_page_size(self, empty_collection: vb.Collection, page_size: Any) -> None:
        collection = empty_collection
        with pytest.raises(vb.InvalidArgumentError):
            await self.scan_all(collection, page_size=page_size)

    @pytest.mark.parametrize("ids", ["single-string", [""], [7], ["x" * 513]], ids=["str", "empty", "int", "too_long"])
    async def test_bad_ids_for_get(self, empty_collection: vb.Collection, ids: Any) -> None:
        collection = empty_collection
        with pytest.raises((vb.InvalidArgumentError, vb.InvalidRecordError)):
            await collection.get(ids)

    async def test_errors_share_one_base(self) -> None:
        for error in (
            vb.InvalidRecordError,
            vb.DimensionMismatchError,
            vb.InvalidFilterError,
            vb.UnsupportedFilterError,
            vb.CollectionNotFoundError,
            vb.CollectionExistsError,
            vb.BackendError,
            vb.InvalidArgumentError,
        ):
            assert issubclass(error, vb.VecbridgeError)

    async def test_upsert_into_missing_collection_is_typed(self, store: vb.Store) -> None:
        with pytest.raises(vb.CollectionNotFoundError):
            await store.collection("vbt_never_created").upsert([vb.Record(id="a", vector=GOOD)])

"""The Pinecone adapter through the real ``pinecone`` SDK against the local server (``tests/pinecone_fake``):
what the conformance suite cannot see from the public API: the wire (batching, ids, tags), the
consistency handling, URLs, and the live-mode guard."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import pytest_asyncio
from pinecone import AsyncPinecone
from vecbridge_pinecone.codec import HASHED_ID_PREFIX, encode_metadata, metadata_bytes, native_id

import vecbridge as vb

API_KEY = "vecbridge-local"


def _fake(port: int, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """Talk to the local server's test-only ``/_fake`` endpoint (GET without a body)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/_fake",
        data=data,
        method="GET" if body is None else "POST",
        headers={"Api-Key": API_KEY, "X-Pinecone-Api-Version": "2026-07", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        result: dict[str, Any] = json.loads(response.read())
        return result


@pytest.fixture
def port(pinecone_fake: tuple[str, int]) -> int:
    return pinecone_fake[1]


@pytest.fixture
def visibility_delay(port: int) -> Iterator[Any]:
    """Set the server's visibility delay for one test; restores the default afterwards."""
    default = _fake(port, {})["visibility_delay"]

    def set_delay(seconds: float) -> None:
        _fake(port, {"visibility_delay": seconds})

    yield set_delay
    set_delay(default)


@pytest_asyncio.fixture
async def store(pinecone_fake_url: str) -> AsyncIterator[vb.Store]:
    async with vb.connect(pinecone_fake_url) as connected:
        yield connected


@pytest_asyncio.fixture
async def sdk(port: int) -> AsyncIterator[AsyncPinecone]:
    """The raw SDK on the same server, to look at what the adapter stored."""
    async with AsyncPinecone(api_key=API_KEY, host=f"http://127.0.0.1:{port}") as client:
        yield client


@pytest_asyncio.fixture
async def collection(store: vb.Store) -> AsyncIterator[vb.Collection]:
    created = await store.create_collection("vbt_pinecone", 4, "euclidean", embedding_model="org/model ü")
    yield created
    await store.drop_collection("vbt_pinecone", missing_ok=True)


def _index(sdk: AsyncPinecone, host: str) -> Any:
    return sdk.IndexAsyncio(host=host.replace("https://", "http://"))


async def _host(sdk: AsyncPinecone, name: str) -> str:
    model = await sdk.describe_index(name)
    assert model.host is not None
    return model.host


async def test_writes_are_invisible_until_reconciled_and_the_adapter_waits(
    collection: vb.Collection, sdk: AsyncPinecone, visibility_delay: Any
) -> None:
    visibility_delay(0.4)
    index = _index(sdk, await _host(sdk, "vbt-pinecone"))
    written = await index.upsert(vectors=[("raw", [1.0, 0.0, 0.0, 0.0])], namespace="default")
    assert (await index.fetch(ids=["raw"], namespace="default")).vectors == {}  # the server really lags
    lsn = written.response_info.lsn_committed
    assert lsn is not None
    assert not (await index.query(top_k=1, vector=[1.0, 0, 0, 0], namespace="default")).response_info.is_reconciled(lsn)
    await collection.upsert([vb.Record(id="a", vector=[0.0, 1.0, 0.0, 0.0], metadata={"k": 1})])
    assert [r.id for r in await collection.get(["a"])] == ["a"]  # visible as soon as upsert returns
    assert await collection.count() == 2
    await collection.delete(ids=["a"])
    assert await collection.get(["a"]) == []
    await index.close()


async def test_a_write_that_never_reconciles_raises_consistency_timeout(
    pinecone_fake_url: str, visibility_delay: Any
) -> None:
    async with vb.connect(pinecone_fake_url + "&consistency_timeout=0.3") as store:
        collection = await store.create_collection("vbt_slow", 4, "dot")
        try:
            visibility_delay(3.0)
            with pytest.raises(vb.ConsistencyTimeoutError, match=r"not readable after 0\.3 s"):
                await collection.upsert([vb.Record(id="a", vector=[1.0, 2.0, 3.0, 4.0])])
        finally:
            visibility_delay(0.0)
            await store.drop_collection("vbt_slow")


async def test_upserts_are_cut_at_1000_vectors_and_2_mb(collection: vb.Collection, store: vb.Store, port: int) -> None:
    wide = await store.create_collection("vbt_wide", 2000, "cosine")
    try:
        _fake(port, {"clear_requests": True})
        rng = np.random.default_rng(7)
        await collection.upsert([vb.Record(id=f"n{i}", vector=rng.normal(size=4)) for i in range(2500)])
        await wide.upsert([vb.Record(id=f"w{i}", vector=rng.normal(size=2000)) for i in range(150)])
        upserts = [r for r in _fake(port)["requests"] if r[1].endswith("/vectors/upsert")]
        assert sum(r[3] for r in upserts) == 2650
        assert max(r[3] for r in upserts) == 1000
        assert all(r[2] <= 2 * 1024 * 1024 for r in upserts)
        assert sum(1 for r in upserts if "vbt-wide" in r[1]) >= 3  # 150 x 2000 floats is several MB of JSON
        assert await collection.count() == 2500
        assert await wide.count() == 150
    finally:
        await store.drop_collection("vbt_wide")


async def test_ids_pinecone_rejects_are_hashed_and_returned_unchanged(
    collection: vb.Collection, sdk: AsyncPinecone
) -> None:
    unicode_id, long_id, plain_id = "ünïcödé 🚀", "é" * 512, "plain id with spaces & 'quotes'"
    await collection.upsert(
        [vb.Record(id=i, vector=[1.0, 2.0, 3.0, float(n)]) for n, i in enumerate([unicode_id, long_id, plain_id])]
    )
    index = _index(sdk, await _host(sdk, "vbt-pinecone"))
    stored = (await index.fetch(ids=[native_id(unicode_id), native_id(long_id), plain_id], namespace="default")).vectors
    assert native_id(plain_id) == plain_id
    assert native_id(unicode_id).startswith(HASHED_ID_PREFIX) and native_id(long_id).startswith(HASHED_ID_PREFIX)
    assert stored[native_id(unicode_id)].metadata["_vb_id"] == unicode_id
    assert "_vb_id" not in (stored[plain_id].metadata or {})
    assert {r.id for r in await collection.get([unicode_id, long_id, plain_id])} == {unicode_id, long_id, plain_id}
    assert {m.id for m in await collection.query([1.0, 2.0, 3.0, 0.0], top_k=3)} == {unicode_id, long_id, plain_id}
    await index.close()


async def test_facts_live_in_index_tags(collection: vb.Collection, sdk: AsyncPinecone) -> None:
    model = await sdk.describe_index("vbt-pinecone")
    assert model.tags is not None and model.tags["vecbridge"] == "1" and "vb_facts_0" in model.tags
    async with vb.connect(collection.store.url) as other:
        info = await other.describe_collection("vbt_pinecone")
    assert (info.dimension, info.metric, info.embedding_model) == (4, vb.Metric.EUCLIDEAN, "org/model ü")


async def test_euclidean_score_is_minus_true_distance_whatever_pinecone_returns(
    collection: vb.Collection, sdk: AsyncPinecone
) -> None:
    await collection.upsert([vb.Record(id="a", vector=[3.0, 4.0, 0.0, 0.0])])
    index = _index(sdk, await _host(sdk, "vbt-pinecone"))
    raw = await index.query(top_k=1, vector=[0.0, 0.0, 0.0, 0.0], namespace="default")
    assert raw.matches[0].score == pytest.approx(25.0)  # this server answers the squared distance
    [match] = await collection.query([0.0, 0.0, 0.0, 0.0], top_k=1)
    assert match.score == pytest.approx(-5.0)
    await index.close()


async def test_zero_vector_round_trips(store: vb.Store) -> None:
    collection = await store.create_collection("vbt_zero", 3, "dot")
    try:
        await collection.upsert([vb.Record(id="z", vector=[0.0, 0.0, 0.0]), vb.Record(id="o", vector=[1.0, 1.0, 1.0])])
        [zero] = await collection.get(["z"], include_vector=True)
        assert zero.vector.tolist() == [0.0, 0.0, 0.0]
        scores = {m.id: m.score for m in await collection.query([1.0, 2.0, 3.0], top_k=2)}
        assert scores == pytest.approx({"o": 6.0, "z": 0.0})
    finally:
        await store.drop_collection("vbt_zero")


async def test_scan_crosses_list_pages_and_resumes_on_another_connection(
    collection: vb.Collection, pinecone_fake_url: str
) -> None:
    await collection.upsert([vb.Record(id=f"r{i:03d}", vector=[1.0, 0.0, 0.0, float(i)]) for i in range(250)])
    first = None
    async for page in collection.scan(70):
        first = page
        break
    assert first is not None and len(first.records) == 70 and first.cursor is not None
    seen = [r.id for r in first.records]
    async with vb.connect(pinecone_fake_url) as other:
        async for page in other.collection("vbt_pinecone").scan(70, cursor=first.cursor):
            seen.extend(r.id for r in page.records)
    assert sorted(seen) == [f"r{i:03d}" for i in range(250)]


async def test_delete_in_a_namespace_never_written_is_a_no_op(collection: vb.Collection) -> None:
    empty = collection.with_namespace("never-written")
    await empty.delete(ids=["a"])
    await empty.delete(all=True)
    assert await empty.count() == 0


async def test_handle_follows_a_drop_and_recreate_by_another_connection(
    collection: vb.Collection, pinecone_fake_url: str
) -> None:
    await collection.upsert([vb.Record(id="old", vector=[1.0, 0.0, 0.0, 0.0])])
    async with vb.connect(pinecone_fake_url) as other:
        await other.drop_collection("vbt_pinecone")
        recreated = await other.create_collection("vbt_pinecone", 4, "euclidean")
        await recreated.upsert([vb.Record(id="new", vector=[1.0, 0.0, 0.0, 0.0])])
    assert [m.id for m in await collection.query([1.0, 0.0, 0.0, 0.0], top_k=5)] == ["new"]


async def test_collection_names_too_long_for_pinecone_are_rejected(store: vb.Store) -> None:
    with pytest.raises(vb.InvalidArgumentError, match="at most 45"):
        await store.create_collection("v" * 46, 4)


async def test_missing_api_key_says_not_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VB_TEST_NO_SUCH_KEY", raising=False)
    with pytest.raises(vb.InvalidURLError, match=r"not configured.*VB_TEST_NO_SUCH_KEY"):
        await vb.connect("pinecone://?api_key_env=VB_TEST_NO_SUCH_KEY")


async def test_unknown_url_option_is_rejected() -> None:
    with pytest.raises(vb.InvalidURLError, match="unknown option"):
        await vb.connect("pinecone://127.0.0.1:1?api_key=x&colour=blue")


def test_live_suite_without_a_key_is_an_error_not_a_skip() -> None:
    env = {k: v for k, v in os.environ.items() if k != "VECBRIDGE_PINECONE_API_KEY"}
    root = Path(__file__).parent.parent
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/test_conformance_pinecone.py::TestPineconeLive::test_embedding_model_is_optional",
            "--pinecone-live",
            "-q",
            "-p",
            "no:cacheprovider",
            "--noconftest",  # load only the Pinecone server plugin: faster, and nothing else can interfere
            "-p",
            "servers.pinecone",
        ],
        cwd=root,
        env={**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(root / "tests"), env.get("PYTHONPATH")]))},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "1 error" in result.stdout and "Pinecone is not configured" in result.stdout
    assert "skipped" not in result.stdout


async def test_the_server_takes_the_hostile_reading_the_compiler_guards_against(
    collection: vb.Collection, sdk: AsyncPinecone
) -> None:
    """Raw ``$ne`` skips a missing field and ``$in`` refuses booleans here; through vecbridge both are exact."""
    await collection.upsert(
        [
            vb.Record(id="red", vector=[1.0, 0.0, 0.0, 0.0], metadata={"color": "red", "flag": True}),
            vb.Record(id="blue", vector=[0.0, 1.0, 0.0, 0.0], metadata={"color": "blue", "flag": False}),
            vb.Record(id="none", vector=[0.0, 0.0, 1.0, 0.0]),
        ]
    )
    index = _index(sdk, await _host(sdk, "vbt-pinecone"))
    raw = await index.query(top_k=3, vector=[1.0, 1.0, 1.0, 0.0], namespace="default", filter={"color": {"$ne": "red"}})
    assert {m.id for m in raw.matches} == {"blue"}
    with pytest.raises(Exception, match="strings or numbers"):
        await index.query(top_k=3, vector=[1.0, 1.0, 1.0, 0.0], namespace="default", filter={"flag": {"$in": [True]}})
    await index.close()
    ne = await collection.query([1.0, 1.0, 1.0, 0.0], top_k=3, filter={"color": {"$ne": "red"}})
    assert {m.id for m in ne} == {"blue", "none"}
    flags = await collection.query([1.0, 1.0, 1.0, 0.0], top_k=3, filter={"flag": {"$in": [True]}})
    assert {m.id for m in flags} == {"red"}


async def test_an_index_vecbridge_did_not_create_can_be_read(store: vb.Store, sdk: AsyncPinecone) -> None:
    """Migrating away from an existing Pinecone index: facts come from its schema, records read as written."""
    from pinecone import ServerlessSpec

    await sdk.create_index(
        name="legacy-idx", dimension=3, metric="dotproduct", spec=ServerlessSpec(cloud="aws", region="us-east-1")
    )
    try:
        index = _index(sdk, await _host(sdk, "legacy-idx"))
        written = await index.upsert(
            vectors=[("doc-1", [1.0, 2.0, 3.0], {"genre": "drama", "year": 2020})], namespace=""
        )
        lsn = written.response_info.lsn_committed
        while not (await index.query(top_k=1, vector=[1.0, 0, 0], namespace="")).response_info.is_reconciled(lsn):
            await asyncio.sleep(0.01)  # the raw SDK write is eventually visible: wait like its docs say
        await index.close()
        info = await store.describe_collection("legacy_idx")
        assert (info.dimension, info.metric) == (3, vb.Metric.DOT)
        assert "legacy_idx" not in {spec.name for spec in await store.list_collections()}  # not tagged as ours
        records = await store.collection("legacy_idx").get(["doc-1"])
        # Pinecone's default namespace is vecbridge's; its numbers are floats (tests/test_pinecone_native.py)
        assert [(r.id, r.metadata) for r in records] == [("doc-1", {"genre": "drama", "year": 2020.0})]
    finally:
        await sdk.delete_index("legacy-idx", timeout=-1)


# --- record limits (PineconeAdapter.check_storable): 40 KB of metadata, checked before the first write ----


def _document_of_metadata_size(record_id: str, size: int) -> str:
    """A document whose record's Pinecone metadata (as the adapter sends it) is exactly ``size`` bytes."""
    base = metadata_bytes(encode_metadata(record_id, {}, "", False))
    return "x" * (size - base)


async def test_the_40_kb_metadata_limit_is_the_servers_own_to_the_byte(
    collection: vb.Collection, store: vb.Store
) -> None:
    spec = await collection.spec()
    largest = vb.Record(id="edge", vector=[1.0, 2.0, 3.0, 4.0], document=_document_of_metadata_size("edge", 40_960))
    over = vb.Record(id="edge", vector=[1.0, 2.0, 3.0, 4.0], document=largest.document + "x")  # type: ignore[operator]
    await collection.upsert([largest])
    assert (await collection.get(["edge"]))[0].document == largest.document
    with pytest.raises(vb.InvalidRecordError, match="40960") as caught:
        await collection.upsert([over])
    assert (caught.value.record_id, caught.value.field) == ("edge", "document")
    # what the check spares us: sent anyway, the server refuses it (here, after nothing else was sent)
    with pytest.raises(vb.BackendError, match="exceeds the limit of 40960"):
        await store.adapter.upsert(spec, "default", [over])


async def test_a_multi_batch_upsert_with_oversize_metadata_at_the_end_sends_nothing(
    collection: vb.Collection, port: int
) -> None:
    rng = np.random.default_rng(8)
    records = [vb.Record(id=f"m{i}", vector=rng.normal(size=4), metadata={"i": i}) for i in range(2100)]
    records[-1].metadata["notes"] = ["ü" * 100] * 250  # 25,000 characters, over 50,000 bytes of UTF-8 JSON
    _fake(port, {"clear_requests": True})
    with pytest.raises(vb.InvalidRecordError) as caught:
        await collection.upsert(records)
    assert (caught.value.record_id, caught.value.field) == ("m2099", "metadata")
    assert "'notes'" in str(caught.value)
    assert not [r for r in _fake(port)["requests"] if r[1].endswith("/vectors/upsert")]
    assert await collection.count() == 0


async def test_without_the_vector_the_zero_flag_is_counted_so_the_plan_is_never_looser(
    collection: vb.Collection, store: vb.Store
) -> None:
    spec = await collection.spec()
    fits_with_vector = vb.Record(
        id="z", vector=[1.0, 0.0, 0.0, 0.0], document=_document_of_metadata_size("z", 40_960 - 5)
    )
    store.adapter.check_storable(spec, fits_with_vector)
    read_without_vector = vb.Record(id="z", vector=np.zeros(0, dtype=np.float32), document=fits_with_vector.document)
    with pytest.raises(vb.InvalidRecordError, match="40960"):
        store.adapter.check_storable(spec, read_without_vector)
    assert store.adapter.has_record_limits()

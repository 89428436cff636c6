"""Pinecone indexes vecbridge did not create, through the real ``pinecone`` SDK and the local server
(``tests/pinecone_fake``: Pinecone's REST API; no Pinecone runs here).

The data is written with the Pinecone SDK itself, in the shapes the frameworks write:

* plain SDK records (every metadata type Pinecone holds; numbers come back as floats);
* LangChain: ``langchain-pinecone`` ``add_texts`` puts the text under ``metadata["text"]`` and, with
  ``id_prefix``, ids ``<prefix>#<id>`` (langchain-pinecone 0.2.13 ``vectorstores.py``);
* LlamaIndex: the metadata is built by llama-index-core's own ``node_to_metadata_dict(node,
  remove_text=False)`` and the id is ``<ref_doc_id>#<node_id>``, as llama-index-vector-stores-pinecone
  0.9.0 ``base.py`` ``add`` does; what vecbridge writes is read back with llama-index-core's own
  ``metadata_dict_to_node``;
* Haystack: ``content`` beside the flattened meta in namespace ``default`` (pinecone-haystack 7.0.0
  ``document_store.py`` ``_convert_documents_to_pinecone_format``).

The framework packages themselves pin ``pinecone<8`` (this adapter needs the v10 SDK), so they cannot
be installed beside it; their records are reproduced from their source (files named above), and
``docs/existing-data.md`` says how they were checked against the packages.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import pytest_asyncio
from click.testing import CliRunner
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict
from pinecone import AsyncPinecone, ServerlessSpec
from vecbridge_conformance.base import expected_ids, reference_scores, unique_name

import vecbridge as vb
from vecbridge.cli import main
from vecbridge.layout import FieldRole

API_KEY = "vecbridge-local"
DIMENSION = 4
WRITES = ("/vectors/upsert", "/vectors/delete", "/vectors/update")

#: native records: every metadata type Pinecone holds (ints are sent as ints, stored as floats)
PLAIN: list[tuple[str, dict[str, Any]]] = [
    ("a", {"color": "red", "n": 1, "flag": True, "tags": ["t1", "t2"], "price": 9.5}),
    ("b", {"color": "blue", "n": 2, "flag": False, "tags": ["t2"]}),
    ("c", {"color": "red", "n": 3, "tags": ["t3"], "bad-key": "x"}),
    ("d", {"n": 4.5, "flag": True}),
    ("e", {"color": "green", "price": 1.25}),
    ("f", {}),
]

FILTERS: list[dict[str, Any]] = [
    {"color": "red"},
    {"color": {"$ne": "red"}},
    {"tags": "t2"},
    {"tags": {"$nin": ["t1", "t3"]}},
    {"n": 3},
    {"n": {"$gte": 2}},
    {"n": {"$lt": 4}},
    {"flag": True},
    {"flag": {"$ne": True}},
    {"color": {"$in": ["red", "green"]}},
    {"price": {"$exists": False}},
    {"$or": [{"flag": True}, {"tags": {"$in": ["t3"]}}]},
    {"$not": {"color": {"$in": ["red", "blue"]}}},
    {"$and": [{"color": {"$ne": "green"}}, {"n": {"$gt": 1}}]},
]


def _fake(port: int, body: dict[str, Any] | None = None) -> dict[str, Any]:
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


@pytest_asyncio.fixture
async def store(pinecone_fake_url: str) -> AsyncIterator[vb.Store]:
    async with vb.connect(pinecone_fake_url) as connected:
        yield connected


@pytest_asyncio.fixture
async def sdk(port: int) -> AsyncIterator[AsyncPinecone]:
    async with AsyncPinecone(api_key=API_KEY, host=f"http://127.0.0.1:{port}") as client:
        yield client


@pytest_asyncio.fixture
async def names(sdk: AsyncPinecone) -> AsyncIterator[list[str]]:
    """Index names a test uses; each is deleted afterwards with the SDK."""
    chosen: list[str] = []
    yield chosen
    for name in chosen:
        with contextlib.suppress(Exception):
            await sdk.delete_index(name, timeout=-1)


def _name(names: list[str]) -> str:
    name = unique_name("vbn").replace("_", "-")
    names.append(name)
    return name


class Written:
    """An index the SDK made and wrote, and what was written, for expectations."""

    def __init__(self, sdk: AsyncPinecone, name: str) -> None:
        self.sdk, self.name = sdk, name
        self.vectors: dict[tuple[str, str], tuple[np.ndarray[Any, Any], dict[str, Any]]] = {}

    async def create(self, metric: str = "cosine") -> Written:
        await self.sdk.create_index(
            name=self.name,
            dimension=DIMENSION,
            metric=metric,
            spec=ServerlessSpec(cloud="aws", region="us-east-1"),
            timeout=-1,
        )
        return self

    async def index(self) -> Any:
        model = await self.sdk.describe_index(self.name)
        while not model.status.ready:
            await asyncio.sleep(0.01)
            model = await self.sdk.describe_index(self.name)
        return self.sdk.IndexAsyncio(host="http://" + str(model.host).split("://")[-1])

    async def write(self, namespace: str, vectors: list[tuple[str, list[float], dict[str, Any]]]) -> None:
        """Upsert with the SDK and wait, as its docs say, until a query sees the write."""
        index = await self.index()
        try:
            written = await index.upsert(vectors=vectors, namespace=namespace)
            lsn = written.response_info.lsn_committed
            probe = [1.0] + [0.0] * (DIMENSION - 1)
            while not (await index.query(top_k=1, vector=probe, namespace=namespace)).response_info.is_reconciled(lsn):
                await asyncio.sleep(0.01)
        finally:
            await index.close()
        for record_id, values, metadata in vectors:
            self.vectors[namespace, record_id] = (np.asarray(values, dtype=np.float32), metadata)

    async def raw(self, namespace: str, ids: list[str]) -> dict[str, dict[str, Any]]:
        index = await self.index()
        try:
            fetched = await index.fetch(ids=ids, namespace=namespace)
        finally:
            await index.close()
        return {key: dict(vector.metadata or {}) for key, vector in fetched.vectors.items()}


def _vectors(count: int, seed: int) -> list[list[float]]:
    rng = np.random.default_rng(seed)
    return [[float(x) for x in row] for row in rng.normal(size=(count, DIMENSION)).astype(np.float32)]


async def _plain(sdk: AsyncPinecone, names: list[str], metric: str = "cosine") -> Written:
    written = await Written(sdk, _name(names)).create(metric)
    values = _vectors(len(PLAIN) + 2, 1)
    await written.write("", [(i, values[n], md) for n, (i, md) in enumerate(PLAIN)])
    await written.write("tenant-a", [("a", values[-2], {"color": "red"}), ("z", values[-1], {"color": "blue"})])
    return written


def _as_read(metadata: dict[str, Any]) -> dict[str, Any]:
    """What a plain record's metadata reads back as: numbers are floats, unportable keys left out."""
    return {
        key: float(value) if isinstance(value, int) and not isinstance(value, bool) else value
        for key, value in metadata.items()
        if key != "bad-key"
    }


def _expected(written: Written, namespace: str) -> list[vb.Record]:
    return [
        vb.Record(id=record_id, vector=values, metadata=_as_read(metadata))
        for (ns, record_id), (values, metadata) in written.vectors.items()
        if ns == namespace
    ]


# --- plain SDK data ------------------------------------------------------------------------------


async def test_a_native_index_is_listed_with_its_facts_and_fields(
    store: vb.Store, sdk: AsyncPinecone, names: list[str]
) -> None:
    written = await _plain(sdk, names, "dotproduct")
    specs = {spec.name: spec for spec in await store.list_collections(native=True)}
    assert written.name not in {spec.name for spec in await store.list_collections()}
    spec = specs[written.name]
    assert spec.layout is not None
    assert (spec.dimension, spec.metric, spec.layout.preset, spec.layout.document) == (4, vb.Metric.DOT, "native", "")
    fields = {f.name: f for f in spec.layout.fields}
    assert fields["color"].role is FieldRole.METADATA and fields["color"].type == "str"
    assert fields["n"].type == "float"  # every number Pinecone holds is a float64
    assert fields["tags"].type == "list[str]"
    assert fields["bad-key"].role is FieldRole.UNFIT
    info = await store.describe_collection(written.name)
    assert info.count == len(PLAIN) + 2


async def test_get_query_count_and_scan_read_what_the_sdk_wrote(
    store: vb.Store, sdk: AsyncPinecone, names: list[str]
) -> None:
    written = await _plain(sdk, names)
    collection = store.collection(written.name)
    expected = {r.id: r for r in _expected(written, "")}
    got = {r.id: r for r in await collection.get(list(expected), include_vector=True)}
    assert {i: r.metadata for i, r in got.items()} == {i: r.metadata for i, r in expected.items()}
    assert all(isinstance(got[i].metadata["n"], float) for i in ("a", "b", "c"))
    for record_id, record in expected.items():
        np.testing.assert_allclose(got[record_id].vector, record.vector, rtol=1e-6)
    assert await collection.count() == len(PLAIN)
    scanned = [r.id async for page in collection.scan(page_size=4) for r in page.records]
    assert sorted(scanned) == sorted(expected)
    query = np.asarray(_vectors(1, 9)[0], dtype=np.float32)
    records = list(expected.values())
    scores = reference_scores("cosine", np.stack([r.vector for r in records]), query)
    best = sorted(zip([r.id for r in records], scores, strict=True), key=lambda pair: -pair[1])
    matches = await collection.query(query, top_k=3)
    assert [m.id for m in matches] == [i for i, _ in best[:3]]
    assert [m.score for m in matches] == pytest.approx([s for _, s in best[:3]], abs=1e-5)
    spec = await collection.spec()
    assert spec.layout is not None
    assert {key for key, _ in spec.layout.drops.counts} == {"bad-key"}  # left out, and said so


async def test_keys_declared_as_integers_read_back_as_ints(
    store: vb.Store, sdk: AsyncPinecone, names: list[str]
) -> None:
    written = await _plain(sdk, names)
    collection = store.collection(written.name, layout={"integers": ["n", "price"]})
    got = {r.id: r.metadata for r in await collection.get(["a", "d"])}
    assert (got["a"]["n"], got["a"]["price"], got["d"]["n"]) == (1, 9.5, 4.5)
    assert [type(v) for v in (got["a"]["n"], got["a"]["price"], got["d"]["n"])] == [int, float, float]
    assert {m.id for m in await collection.query(_vectors(1, 2)[0], top_k=9, filter={"n": 1})} == {"a"}


@pytest.mark.parametrize("filter_", FILTERS, ids=[json.dumps(f) for f in FILTERS])
async def test_filters_answer_as_the_reference_evaluator_on_the_values_as_read(
    store: vb.Store, sdk: AsyncPinecone, names: list[str], filter_: dict[str, Any]
) -> None:
    written = await _plain(sdk, names)
    collection = store.collection(written.name)
    records = _expected(written, "")
    wanted = set(expected_ids(records, filter_))
    query = np.asarray(_vectors(1, 5)[0], dtype=np.float32)
    assert {m.id for m in await collection.query(query, top_k=10, filter=filter_)} == wanted
    assert await collection.count(filter_) == len(wanted)
    assert {r.id async for page in collection.scan(page_size=2, filter=filter_) for r in page.records} == wanted


async def test_pinecone_namespaces_are_the_namespaces(store: vb.Store, sdk: AsyncPinecone, names: list[str]) -> None:
    written = await _plain(sdk, names)
    assert await store.list_namespaces(written.name) == ["default", "tenant-a"]
    tenant = store.collection(written.name, namespace="tenant-a")
    assert sorted([r.id async for page in tenant.scan() for r in page.records]) == ["a", "z"]
    assert [r.metadata for r in await tenant.get(["a"])] == [{"color": "red"}]
    assert await store.collection(written.name, namespace="nowhere").count() == 0


async def test_reading_never_writes(store: vb.Store, sdk: AsyncPinecone, names: list[str], port: int) -> None:
    written = await _plain(sdk, names)
    before = await sdk.describe_index(written.name)
    _fake(port, {"clear_requests": True})
    await store.list_collections(native=True)
    collection = store.collection(written.name)
    await collection.get(["a", "b"])
    await collection.query(_vectors(1, 3)[0], top_k=2, filter={"color": "red"})
    await collection.count({"n": {"$gt": 1}})
    _ = [page async for page in collection.scan(page_size=2)]
    await store.describe_collection(written.name)
    sent = [(method, path) for method, path, *_ in _fake(port)["requests"]]
    assert sent and not [s for s in sent if s[1].endswith(WRITES) or s[0] in ("PATCH", "DELETE")]
    assert not [s for s in sent if s == ("POST", "/indexes")]
    after = await sdk.describe_index(written.name)
    assert (after.tags, after.name) == (before.tags, before.name)
    assert (await written.raw("", ["a"]))["a"] == {
        "color": "red",
        "n": 1.0,
        "flag": True,
        "tags": ["t1", "t2"],
        "price": 9.5,
    }


async def test_filters_pinecone_cannot_answer_exactly_are_refused_before_any_request(
    store: vb.Store, sdk: AsyncPinecone, names: list[str], port: int
) -> None:
    written = await _plain(sdk, names)
    collection = store.collection(written.name)
    declared = store.collection(written.name, layout={"metadata": ["color"]})
    await collection.count()
    await declared.count()
    _fake(port, {"clear_requests": True})
    with pytest.raises(vb.UnsupportedFilterError, match="not \\$gt"):
        await collection.query(_vectors(1, 3)[0], top_k=2, filter={"$not": {"n": {"$gt": 1}}})
    with pytest.raises(vb.UnsupportedFilterError, match="'n'"):
        await declared.count({"n": 1})
    assert _fake(port)["requests"] == []


async def test_writes_need_opting_in_and_replace_whole_vectors_without_vecbridge_keys(
    store: vb.Store, sdk: AsyncPinecone, names: list[str]
) -> None:
    written = await _plain(sdk, names)
    record = vb.Record(id="a", vector=[1.0, 2.0, 3.0, 4.0], metadata={"color": "teal", "n": 7})
    with pytest.raises(vb.VecbridgeError, match="writable"):
        await store.collection(written.name).upsert([record])
    writable = store.collection(written.name, writable=True)
    await writable.upsert([record])
    assert (await written.raw("", ["a"]))["a"] == {"color": "teal", "n": 7.0}
    await writable.delete(filter={"color": "blue"})
    assert {r.id async for page in writable.scan() for r in page.records} == {"a", "c", "d", "e", "f"}
    with pytest.raises(vb.InvalidRecordError, match="ASCII"):
        await writable.upsert([vb.Record(id="ü", vector=[1.0, 0, 0, 0])])
    dot = await store.create_collection(_name(names), DIMENSION, "dot", layout="native")
    with pytest.raises(vb.InvalidRecordError, match="all-zero"):
        await dot.upsert([vb.Record(id="zero", vector=[0.0, 0, 0, 0])])


# --- framework layouts --------------------------------------------------------------------------


async def test_langchain_records_read_with_their_text_and_prefixed_ids(
    store: vb.Store, sdk: AsyncPinecone, names: list[str]
) -> None:
    written = await Written(sdk, _name(names)).create()
    values = _vectors(3, 2)
    # langchain-pinecone add_texts: metadata[text_key] = text; id_prefix gives "<prefix>#<id>"
    await written.write(
        "",
        [
            ("docs#1", values[0], {"source": "a.txt", "page": 1, "text": "first text"}),
            ("docs#2", values[1], {"source": "b.txt", "text": "second text"}),
            ("3f2c", values[2], {"text": "third text"}),
        ],
    )
    collection = store.collection(written.name)
    spec = await collection.spec()
    assert spec.layout is not None and (spec.layout.preset, spec.layout.document) == ("langchain", "text")
    got = {r.id: (r.document, r.metadata) for r in await collection.get(["docs#1", "docs#2", "3f2c"])}
    assert got == {
        "docs#1": ("first text", {"source": "a.txt", "page": 1.0}),
        "docs#2": ("second text", {"source": "b.txt"}),
        "3f2c": ("third text", {}),
    }
    with pytest.raises(vb.UnsupportedFilterError, match="'text'"):
        await collection.count({"text": "first text"})


async def test_a_copy_through_the_langchain_preset_is_what_langchain_pinecone_reads(
    store: vb.Store, sdk: AsyncPinecone, names: list[str]
) -> None:
    target = _name(names)
    copy = await store.create_collection(target, DIMENSION, "cosine", layout="langchain")
    await copy.upsert(
        [
            vb.Record(id="1", vector=[1.0, 0, 0, 0], metadata={"source": "a.txt"}, document="hello"),
            vb.Record(id="2", vector=[0, 1.0, 0, 0]),
        ]
    )
    raw = await Written(sdk, target).raw("", ["1", "2"])
    # langchain-pinecone's search pops metadata["text"] as page_content and skips a vector without it
    assert raw == {"1": {"source": "a.txt", "text": "hello"}, "2": {"text": ""}}
    assert (await sdk.describe_index(target)).tags is None


def _llama_nodes() -> list[TextNode]:
    return [
        TextNode(
            id_=f"node-{i}",
            text=text,
            metadata={"year": 2020 + i, "topic": topic},
            relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id="doc-1")},
        )
        for i, (text, topic) in enumerate([("alpha text", "a"), ("beta text", "b")])
    ]


async def test_llamaindex_records_read_with_the_text_from_node_content(
    store: vb.Store, sdk: AsyncPinecone, names: list[str]
) -> None:
    written = await Written(sdk, _name(names)).create()
    values = _vectors(2, 4)
    nodes = _llama_nodes()
    # llama-index-vector-stores-pinecone add(): metadata = node_to_metadata_dict(node, remove_text=False),
    # id = f"{node.ref_doc_id}#{node.node_id}"
    await written.write(
        "",
        [
            (f"{node.ref_doc_id}#{node.node_id}", values[n], node_to_metadata_dict(node, remove_text=False))
            for n, node in enumerate(nodes)
        ],
    )
    collection = store.collection(written.name)
    spec = await collection.spec()
    assert spec.layout is not None and spec.layout.preset == "llamaindex"
    records = {r.id: r for r in await collection.get(["doc-1#node-0", "doc-1#node-1"])}
    assert {i: r.document for i, r in records.items()} == {"doc-1#node-0": "alpha text", "doc-1#node-1": "beta text"}
    first = records["doc-1#node-0"].metadata
    assert (first["year"], first["topic"], first["ref_doc_id"]) == (2020, "a", "doc-1")
    assert isinstance(first["year"], int)  # an int in _node_content: the flat float reads back as that int
    assert json.loads(str(first["_node_content"]))["text"] == ""  # the text lives in the document now

    # through the preset into another index: LlamaIndex's own reader finds the nodes whole
    target = _name(names)
    copy = await store.create_collection(target, DIMENSION, "cosine", layout="llamaindex")
    await copy.upsert([*records.values(), vb.Record(id="plain", vector=[1.0, 0, 0, 0], document="solo")])
    raw = await Written(sdk, target).raw("", ["doc-1#node-0", "doc-1#node-1", "plain"])
    for node in nodes:
        rebuilt = metadata_dict_to_node(raw[f"doc-1#{node.node_id}"])
        assert (rebuilt.node_id, rebuilt.get_content(), rebuilt.metadata) == (node.node_id, node.text, node.metadata)
    solo = metadata_dict_to_node(raw["plain"])
    assert (solo.node_id, solo.get_content()) == ("plain", "solo")


async def test_haystack_records_read_with_content_and_its_int_keys(
    store: vb.Store, sdk: AsyncPinecone, names: list[str]
) -> None:
    written = await Written(sdk, _name(names)).create()
    values = _vectors(2, 6)
    # pinecone-haystack: metadata = dict(meta); metadata["content"] = content; namespace "default"
    await written.write(
        "default",
        [
            ("h1", values[0], {"file": "a.pdf", "split_id": 0, "page_number": 3, "year": 2021, "content": "one"}),
            ("h2", values[1], {"file": "a.pdf", "split_id": 1, "page_number": 3}),
        ],
    )
    collection = store.collection(written.name)
    spec = await collection.spec()
    assert spec.layout is not None and (spec.layout.preset, spec.layout.document) == ("haystack", "content")
    assert await store.list_namespaces(written.name) == ["default"]
    got = {r.id: (r.document, r.metadata) for r in await collection.get(["h1", "h2"])}
    assert got == {
        "h1": ("one", {"file": "a.pdf", "split_id": 0, "page_number": 3, "year": 2021.0}),
        "h2": (None, {"file": "a.pdf", "split_id": 1, "page_number": 3}),
    }
    assert isinstance(got["h1"][1]["split_id"], int) and isinstance(got["h1"][1]["year"], float)
    assert {m.id for m in await collection.query(values[0], top_k=5, filter={"split_id": 1})} == {"h2"}
    target = _name(names)
    copy = await store.create_collection(target, DIMENSION, "cosine", layout="haystack")
    await copy.upsert(await collection.get(["h1", "h2"], include_vector=True))
    raw = await Written(sdk, target).raw("default", ["h1", "h2"])
    assert raw["h1"] == {"file": "a.pdf", "split_id": 0.0, "page_number": 3.0, "year": 2021.0, "content": "one"}
    assert "content" not in raw["h2"]


async def test_an_unknown_preset_is_refused_naming_the_known_ones(
    store: vb.Store, sdk: AsyncPinecone, names: list[str]
) -> None:
    written = await _plain(sdk, names)
    with pytest.raises(vb.LayoutError, match="native, langchain, llamaindex, haystack"):
        await store.collection(written.name, layout="llama").count()


# --- the command line ---------------------------------------------------------------------------


def _cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_the_cli_lists_a_native_index_and_migrates_it_out_and_back_in_its_own_shape(
    pinecone_fake_url: str, port: int, tmp_path: Path
) -> None:
    source, copy = unique_name("vbn").replace("_", "-"), unique_name("vbn").replace("_", "-")

    async def setup() -> dict[str, dict[str, Any]]:
        async with AsyncPinecone(api_key=API_KEY, host=f"http://127.0.0.1:{port}") as sdk:
            written = await Written(sdk, source).create()
            values = _vectors(4, 12)
            # langchain-pinecone add_texts with id_prefix="kb", and one text in another namespace
            await written.write("", [(f"kb#{i}", values[i], {"text": f"text {i}", "page": i}) for i in range(3)])
            await written.write("tenant-a", [("t1", values[3], {"text": "tenant text", "tags": ["x"]})])
            return {
                ns: await written.raw(ns, ids) for ns, ids in (("", ["kb#0", "kb#1", "kb#2"]), ("tenant-a", ["t1"]))
            }

    async def raw_copy() -> dict[str, dict[str, Any]]:
        async with AsyncPinecone(api_key=API_KEY, host=f"http://127.0.0.1:{port}") as sdk:
            written = Written(sdk, copy)
            return {
                ns: await written.raw(ns, ids) for ns, ids in (("", ["kb#0", "kb#1", "kb#2"]), ("tenant-a", ["t1"]))
            }

    async def drop() -> None:
        async with AsyncPinecone(api_key=API_KEY, host=f"http://127.0.0.1:{port}") as sdk:
            for name in (source, copy):
                with contextlib.suppress(Exception):
                    await sdk.delete_index(name, timeout=-1)

    before = asyncio.run(setup())
    try:
        entry = {e["name"]: e for e in json.loads(_cli("info", pinecone_fake_url, "--json"))["collections"]}[source]
        assert (entry["native"], entry["preset"], entry["dimension"], entry["metric"], entry["records"]) == (
            True,
            "langchain",
            DIMENSION,
            "cosine",
            4,
        )
        assert entry["namespaces"] == ["default", "tenant-a"]
        local = f"local://{tmp_path / 'copy'}"
        common = ["--verify", "full", "--checkpoint-dir", str(tmp_path), "--no-progress"]
        out = _cli("migrate", pinecone_fake_url, local, "--collection", source, "--to-collection", "kb_docs", *common)
        assert "records 4/4 match" in out
        layout = '{"preset": "langchain", "namespace": ""}'
        back = _cli(
            "migrate",
            local,
            pinecone_fake_url,
            "--collection",
            "kb_docs",
            "--to-collection",
            copy,
            "--to-layout",
            layout,
            *common,
        )
        assert "records 4/4 match" in back
        assert asyncio.run(raw_copy()) == before  # LangChain's records, as LangChain wrote them
    finally:
        asyncio.run(drop())

"""Check the Pinecone presets against the real framework packages, both ways, on the local server.

langchain-pinecone, llama-index-vector-stores-pinecone and pinecone-haystack pin ``pinecone<8``; the
adapter needs the v10 SDK, so they live in a venv of their own::

    python -m venv /tmp/pcfw
    /tmp/pcfw/bin/pip install langchain-pinecone llama-index-vector-stores-pinecone pinecone-haystack
    python scripts/check_pinecone_frameworks.py --framework-python /tmp/pcfw/bin/python

The script (run with the repo's venv) starts the local Pinecone server (``tests/pinecone_fake``),
then:

1. each framework writes documents through its own store class into an index of its own, and says
   what its own search returns; vecbridge reads the same index through the inferred preset and must
   return the same text and metadata;
2. vecbridge writes records through each preset into fresh indexes, and each framework's own search
   must return them with the same text and metadata.

Haystack's store is handed a ready index object (its constructor's control-plane calls expect
Pinecone's own ``list_indexes`` reply); its write and read code is the package's own. Exit status 0
when every comparison holds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

API_KEY = "vecbridge-local"
DIMENSION = 4
FRAMEWORKS = ("langchain", "llamaindex", "haystack")
#: the namespace each framework writes by default
NAMESPACES = {"langchain": "", "llamaindex": "", "haystack": "default"}
LLAMAINDEX_KEYS = {"_node_content", "_node_type", "document_id", "doc_id", "ref_doc_id"}
TEXTS = {"one": "alpha text", "two": "beta text"}
QUERY = [1.0, 0.0, 0.5, 0.25]


def embed(text: str) -> list[float]:
    """A deterministic 4-d embedding of plain Python floats (the v7 SDK refuses numpy floats)."""
    return [1.0, float(len(text)), 0.5, float(text.count("e")) + 0.1]


# --- the side venv: the frameworks themselves ------------------------------------------------------


def side(role: str, port: str, hosts: dict[str, str]) -> dict[str, list[list[Any]]]:
    import os

    from pinecone import Pinecone

    pc = Pinecone(api_key=API_KEY, host=f"http://127.0.0.1:{port}")

    def index(framework: str) -> Any:
        return pc.Index(host=f"http://127.0.0.1:{port}/idx/{hosts[framework]}")

    from langchain_core.embeddings import Embeddings
    from langchain_pinecone import PineconeVectorStore

    class Embedder(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return [embed(text) for text in texts]

        def embed_query(self, text: str) -> list[float]:
            return QUERY

    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
    from llama_index.core.vector_stores.types import VectorStoreQuery
    from llama_index.vector_stores.pinecone import PineconeVectorStore as LlamaStore

    os.environ["PINECONE_API_KEY"] = API_KEY
    from haystack import Document
    from haystack_integrations.document_stores.pinecone import PineconeDocumentStore

    langchain = PineconeVectorStore(index=index("langchain"), embedding=Embedder())
    llama = LlamaStore(pinecone_index=index("llamaindex"))
    haystack = PineconeDocumentStore(index="unused", dimension=DIMENSION, namespace="default")
    haystack._index = index("haystack")  # the package's own write/read code on a ready index
    if role == "write":
        metadatas = [{"source": "a.txt", "page": 1}, {"source": "b.txt"}]
        langchain.add_texts(list(TEXTS.values()), metadatas=metadatas, ids=list(TEXTS), id_prefix="docs")
        llama.add(
            [
                TextNode(
                    id_=key,
                    text=text,
                    metadata={"year": 2020 + n, "topic": key},
                    embedding=embed(text),
                    relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id="doc-1")},
                )
                for n, (key, text) in enumerate(TEXTS.items())
            ]
        )
        haystack.write_documents(
            [
                Document(
                    id=key, content=text, meta={"split_id": n, "page_number": 3, "year": 2021}, embedding=embed(text)
                )
                for n, (key, text) in enumerate(TEXTS.items())
            ]
        )
        time.sleep(0.5)  # the local server's visibility delay
    found = {
        "langchain": [[d.id, d.page_content, d.metadata] for d in langchain.similarity_search("q", k=10)],
        "llamaindex": [
            [n.node_id, n.get_content(), n.metadata]
            for n in llama.query(VectorStoreQuery(query_embedding=QUERY, similarity_top_k=10)).nodes
        ],
        "haystack": [[d.id, d.content, d.meta] for d in haystack._embedding_retrieval(query_embedding=QUERY, top_k=10)],
    }
    return found


# --- the repo's venv: vecbridge ----------------------------------------------------------------------


def run_side(python: str, role: str, port: int, hosts: dict[str, str]) -> dict[str, list[list[Any]]]:
    done = subprocess.run(
        [python, __file__, "--side", role, str(port), json.dumps(hosts)], capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise SystemExit(f"the framework venv failed:\n{done.stderr[-4000:]}")
    result: dict[str, list[list[Any]]] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _as_framework_reads(framework: str, record: Any) -> list[Any]:
    """(id, text, metadata) of a vecbridge record, as the framework's search shows it."""
    metadata = dict(record.metadata)
    record_id = record.id
    if framework == "llamaindex":
        record_id = json.loads(metadata["_node_content"])["id_"]
        metadata = {k: v for k, v in metadata.items() if k not in LLAMAINDEX_KEYS}
    return [record_id, record.document, metadata]


def _same(label: str, got: list[list[Any]], expected: list[list[Any]]) -> bool:
    key = lambda row: str(row[0])  # noqa: E731
    ok = sorted(got, key=key) == sorted(expected, key=key)
    print(f"{'ok  ' if ok else 'DIFF'} {label}")
    if not ok:
        print(f"     framework: {sorted(expected, key=key)}\n     vecbridge: {sorted(got, key=key)}")
    return ok


async def check(python: str) -> bool:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from pinecone import AsyncPinecone, ServerlessSpec
    from servers.pinecone import start_fake, stop_fake

    import vecbridge as vb

    process, port = start_fake()
    ok = True
    try:
        url = f"pinecone://127.0.0.1:{port}?api_key={API_KEY}&tls=false"
        async with AsyncPinecone(api_key=API_KEY, host=f"http://127.0.0.1:{port}") as sdk, vb.connect(url) as store:

            async def hosts(prefix: str) -> dict[str, str]:
                found = {}
                for framework in FRAMEWORKS:
                    model = await sdk.describe_index(f"{prefix}-{framework}")
                    while not model.status.ready:
                        await asyncio.sleep(0.01)
                        model = await sdk.describe_index(f"{prefix}-{framework}")
                    found[framework] = str(model.host).split("/idx/")[-1]
                return found

            # 1. the frameworks write, vecbridge reads
            for framework in FRAMEWORKS:
                spec = ServerlessSpec(cloud="aws", region="us-east-1")
                await sdk.create_index(name=f"src-{framework}", dimension=DIMENSION, metric="cosine", spec=spec)
            theirs = run_side(python, "write", port, await hosts("src"))
            for framework in FRAMEWORKS:
                collection = store.collection(f"src-{framework}", namespace="default")
                layout = (await collection.spec()).layout
                assert layout is not None
                ok &= _same(f"{framework}: preset inferred", [[layout.preset]], [[framework]])
                records = [r async for page in collection.scan() for r in page.records]
                ok &= _same(
                    f"{framework} wrote, vecbridge reads",
                    [_as_framework_reads(framework, r) for r in records],
                    theirs[framework],
                )
                # 2. vecbridge writes through the preset, the framework reads
                copy = await store.create_collection(f"out-{framework}", DIMENSION, "cosine", layout=framework)
                await copy.upsert([vb.Record(r.id, embed(r.document or ""), r.metadata, r.document) for r in records])
            back = run_side(python, "read", port, await hosts("out"))
            for framework in FRAMEWORKS:
                ok &= _same(
                    f"vecbridge wrote ({framework} preset), {framework} reads", back[framework], theirs[framework]
                )
    finally:
        stop_fake(process)
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--framework-python", help="python of a venv with the three framework packages")
    parser.add_argument("--side", nargs=3, metavar=("ROLE", "PORT", "HOSTS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        role, port, hosts = args.side
        print(json.dumps(side(role, port, json.loads(hosts)), default=str))
        return
    if not args.framework_python:
        parser.error("--framework-python is required")
    sys.exit(0 if asyncio.run(check(args.framework_python)) else 1)


if __name__ == "__main__":
    main()

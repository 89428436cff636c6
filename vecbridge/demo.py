"""The demo dataset: help-center articles with precomputed all-MiniLM-L6-v2 embeddings.

Built by ``scripts/make_demo_data.py``; shipped as vectors, so the demo needs no model and no server.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from vecbridge.types import FloatArray, Record

EMBEDDING_MODEL = "all-MiniLM-L6-v2"
DIMENSION = 384


@dataclass(frozen=True)
class DemoQuery:
    text: str
    filter: dict[str, Any] | None
    vector: FloatArray


def _data() -> resources.abc.Traversable:
    return resources.files("vecbridge") / "demo_data"


def load_articles() -> list[Record]:
    folder = _data()
    vectors = np.load(folder.joinpath("article_vectors.npy").open("rb"))
    lines = folder.joinpath("articles.jsonl").read_text(encoding="utf-8").splitlines()
    records = []
    for line, vector in zip(lines, vectors, strict=True):
        row = json.loads(line)
        metadata = {k: row[k] for k in ("title", "category", "surface", "year", "tags")}
        records.append(Record(id=row["id"], vector=vector, metadata=metadata, document=row["text"]))
    return records


def load_queries() -> list[DemoQuery]:
    folder = _data()
    vectors = np.load(folder.joinpath("query_vectors.npy").open("rb"))
    rows = json.loads(folder.joinpath("queries.json").read_text(encoding="utf-8"))
    return [DemoQuery(row["text"], row["filter"], vector) for row, vector in zip(rows, vectors, strict=True)]

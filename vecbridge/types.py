"""The data model every backend speaks: records, matches, collection facts, pages."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeAlias

import numpy as np
import numpy.typing as npt

from vecbridge.errors import InvalidArgumentError

if TYPE_CHECKING:
    from vecbridge.layout import Layout

Scalar: TypeAlias = str | bool | int | float
MetadataValue: TypeAlias = str | bool | int | float | list[str]
Metadata: TypeAlias = dict[str, MetadataValue]
Vector: TypeAlias = Sequence[float] | npt.NDArray[np.floating]
FloatArray: TypeAlias = npt.NDArray[np.float32]

DEFAULT_NAMESPACE = "default"


class Metric(enum.StrEnum):
    """Distance metric of a collection; scores are always higher-is-better."""

    COSINE = "cosine"  # score: cosine similarity in [-1, 1]
    DOT = "dot"  # score: inner product
    EUCLIDEAN = "euclidean"  # score: minus the true (not squared) L2 distance

    @classmethod
    def parse(cls, value: str | Metric) -> Metric:
        try:
            return cls(value)
        except ValueError:
            known = ", ".join(m.value for m in cls)
            raise InvalidArgumentError(f"unknown metric {value!r}; known metrics: {known}") from None


@dataclass(frozen=True, slots=True)
class HNSW:
    """Graph index; ``m`` links per node, ``ef_construction`` build-time beam width."""

    m: int = 16
    ef_construction: int = 128
    kind: str = field(default="hnsw", init=False)


@dataclass(frozen=True, slots=True)
class IVF:
    """Inverted-file index with ``nlist`` clusters."""

    nlist: int = 1024
    kind: str = field(default="ivf", init=False)


@dataclass(frozen=True, slots=True)
class Flat:
    """No index: exact search."""

    kind: str = field(default="flat", init=False)


IndexSpec: TypeAlias = HNSW | IVF | Flat


@dataclass(frozen=True, slots=True)
class SearchParams:
    """Query-time search effort: how hard an ANN index looks, traded against latency.

    ``ef``: the HNSW candidate list (pgvector ``hnsw.ef_search``, Qdrant ``hnsw_ef``, Milvus ``ef``,
    Weaviate ``ef``, Chroma ``ef_search``); ``probes``: IVF lists searched (pgvector ``ivfflat.probes``,
    Milvus ``nprobe``); ``exact``: brute force, no index. A knob a backend lacks is refused before
    any request (``Capability.SEARCH_EF`` / ``SEARCH_PROBES`` / ``SEARCH_EXACT``).
    """

    ef: int | None = None
    probes: int | None = None
    exact: bool = False

    def __post_init__(self) -> None:
        for name in ("ef", "probes"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise InvalidArgumentError(f"search {name} must be a positive int, got {value!r}")
        if not isinstance(self.exact, bool):
            raise InvalidArgumentError(f"search exact must be a bool, got {self.exact!r}")

    def to_dict(self) -> dict[str, int | bool]:
        data: dict[str, int | bool] = {"exact": self.exact} if self.exact else {}
        if self.ef is not None:
            data["ef"] = self.ef
        if self.probes is not None:
            data["probes"] = self.probes
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> SearchParams:
        unknown = set(data) - {"ef", "probes", "exact"}
        if unknown:
            raise InvalidArgumentError(
                f"unknown search setting(s) {', '.join(sorted(unknown))}; known: ef, probes, exact"
            )
        ef, probes = data.get("ef"), data.get("probes")
        return cls(
            ef=None if ef is None else int(str(ef)),
            probes=None if probes is None else int(str(probes)),
            exact=data.get("exact") is True,
        )

    def __str__(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.to_dict().items()) or "backend default"


def index_to_dict(index: IndexSpec) -> dict[str, int | str]:
    """A JSON-able form of an index spec, for storing collection facts in a backend."""
    if isinstance(index, HNSW):
        return {"kind": "hnsw", "m": index.m, "ef_construction": index.ef_construction}
    if isinstance(index, IVF):
        return {"kind": "ivf", "nlist": index.nlist}
    return {"kind": "flat"}


def index_from_dict(data: Mapping[str, object]) -> IndexSpec:
    kind = data.get("kind")
    if kind == "hnsw":
        return HNSW(m=int(str(data.get("m", 16))), ef_construction=int(str(data.get("ef_construction", 128))))
    if kind == "ivf":
        return IVF(nlist=int(str(data.get("nlist", 1024))))
    if kind == "flat":
        return Flat()
    raise InvalidArgumentError(f"unknown index kind {kind!r}; known: hnsw, ivf, flat")


@dataclass(frozen=True, slots=True)
class CollectionSpec:
    """The facts stored with a collection, so any later connection knows them.

    ``layout`` is set for a collection vecbridge did not create (or one written in a framework's
    shape): how its native fields map onto the contract. It is never part of the stored facts.
    """

    name: str
    dimension: int
    metric: Metric = Metric.COSINE
    index: IndexSpec = field(default_factory=HNSW)
    embedding_model: str | None = None
    layout: Layout | None = None
    #: the search effort every query uses unless it sets its own (``vecbridge tune --apply``)
    search: SearchParams | None = None

    @property
    def native(self) -> bool:
        """Whether this collection is read through a layout rather than vecbridge's own storage."""
        return self.layout is not None

    def to_dict(self) -> dict[str, object]:
        """JSON-able facts: what adapters persist next to the data."""
        return {
            "name": self.name,
            "dimension": self.dimension,
            "metric": self.metric.value,
            "index": index_to_dict(self.index),
            "embedding_model": self.embedding_model,
            **({"search": self.search.to_dict()} if self.search is not None else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> CollectionSpec:
        index = data.get("index")
        model = data.get("embedding_model")
        search = data.get("search")
        return cls(
            name=str(data["name"]),
            dimension=int(str(data["dimension"])),
            metric=Metric.parse(str(data["metric"])),
            index=index_from_dict(index) if isinstance(index, Mapping) else HNSW(),
            embedding_model=None if model is None else str(model),
            search=SearchParams.from_dict(search) if isinstance(search, Mapping) else None,
        )


@dataclass(frozen=True, slots=True)
class CollectionInfo:
    """What ``describe_collection`` answers: the stored facts plus the live record count."""

    spec: CollectionSpec
    count: int

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def dimension(self) -> int:
        return self.spec.dimension

    @property
    def metric(self) -> Metric:
        return self.spec.metric

    @property
    def index(self) -> IndexSpec:
        return self.spec.index

    @property
    def embedding_model(self) -> str | None:
        return self.spec.embedding_model


@dataclass(slots=True, eq=False)
class Record:
    """One stored item. ``metadata`` is flat; a missing key means absent (``None`` is not a value)."""

    id: str
    vector: Vector
    metadata: Metadata = field(default_factory=dict)
    document: str | None = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Record):
            return NotImplemented
        return (
            self.id == other.id
            and self.metadata == other.metadata
            and self.document == other.document
            and np.array_equal(np.asarray(self.vector, dtype=np.float32), np.asarray(other.vector, dtype=np.float32))
        )

    def __repr__(self) -> str:
        dims = len(self.vector)
        return f"Record(id={self.id!r}, vector=<{dims} floats>, metadata={self.metadata!r}, document={self.document!r})"


@dataclass(slots=True)
class Match:
    """One query result, best first. ``vector`` is set only when asked for."""

    id: str
    score: float
    metadata: Metadata = field(default_factory=dict)
    document: str | None = None
    vector: FloatArray | None = None


@dataclass(slots=True)
class Page:
    """One page of a scan; ``cursor`` resumes after it, ``None`` means the scan is complete."""

    records: list[Record]
    cursor: str | None

"""Re-embedding during a copy: every record's vector is replaced by a function of its document, so a
collection moves to a new embedding model in one pass (``migrate --re-embed module:function``).

The function takes a list of documents and returns one vector per document (a 2-d array). It is
loaded by name, asked once for the new dimension, and then run on every page the copy writes: in
the single-process copy on each page, under ``--engine ray`` with Ray Data's ``map_batches``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from vecbridge.errors import InvalidArgumentError
from vecbridge.types import FloatArray, Record

#: What the function is asked once, to learn the dimension of its vectors.
DIMENSION_PROBE = "vecbridge: what dimension are your vectors?"

EmbedFunction = Callable[[list[str]], Any]


def load_function(reference: str) -> EmbedFunction:
    """``module:function`` (a dotted attribute path after the colon) as the callable it names."""
    module_name, colon, attribute = reference.partition(":")
    if not colon or not module_name or not attribute:
        raise InvalidArgumentError(f"a re-embedding function is named module:function, got {reference!r}")
    try:
        found: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise InvalidArgumentError(f"cannot import {module_name!r} for --re-embed: {exc}") from None
    for part in attribute.split("."):
        found = getattr(found, part, None)
    if not callable(found):
        raise InvalidArgumentError(f"{reference!r} is not a function")
    function: EmbedFunction = found
    return function


@dataclass(frozen=True, slots=True)
class ReEmbedding:
    """The function that makes the new vectors, its name, the model name recorded in the destination's
    facts, and the dimension of its vectors (asked of it once)."""

    function: EmbedFunction
    reference: str
    model: str
    dimension: int

    @classmethod
    def load(cls, reference: str, model: str) -> ReEmbedding:
        """Import ``reference`` (``module:function``) and learn its dimension from one call."""
        if not isinstance(model, str) or not model.strip():
            raise InvalidArgumentError("a re-embedding names its model (--embedding-model NAME)")
        function = load_function(reference)
        probe = embed(function, [DIMENSION_PROBE], None)
        return cls(function, reference, model, int(probe.shape[1]))

    def vectors(self, documents: Sequence[str]) -> FloatArray:
        """The function's vectors for ``documents``, checked: one row of this dimension per document."""
        return embed(self.function, list(documents), self.dimension)

    def records(self, records: Sequence[Record]) -> list[Record]:
        """``records`` with their vectors replaced by the function's vectors of their documents."""
        documents = []
        for record in records:
            if record.document is None:  # the plan refuses these; a source changed since would land here
                raise InvalidArgumentError(f"record {record.id!r} has no document to re-embed")
            documents.append(record.document)
        vectors = self.vectors(documents)
        return [replace(record, vector=vectors[i]) for i, record in enumerate(records)]


def embed(function: EmbedFunction, documents: list[str], dimension: int | None) -> FloatArray:
    """Call ``function`` and check its answer is a finite 2-d array with a row per document."""
    try:
        array = np.asarray(function(documents), dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"the re-embedding function did not return an array of numbers: {exc}") from None
    if array.ndim != 2 or array.shape[0] != len(documents) or array.shape[1] < 1:
        raise InvalidArgumentError(
            f"the re-embedding function returned shape {array.shape} for {len(documents)} documents; "
            "it must return one vector per document (a 2-d array)"
        )
    if dimension is not None and array.shape[1] != dimension:
        raise InvalidArgumentError(f"the re-embedding function returned {array.shape[1]}-d vectors, not {dimension}-d")
    if not np.isfinite(array).all():
        raise InvalidArgumentError("the re-embedding function returned NaN or infinite values")
    return array
